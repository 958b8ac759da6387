package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"preau/internal/domain"
)

// CreateSchool inserts a school.
func (db *DB) CreateSchool(ctx context.Context, s domain.School) (domain.School, error) {
	if s.Timezone == "" {
		s.Timezone = "Europe/Paris"
	}
	res, err := db.write.ExecContext(ctx, "INSERT INTO schools (name, timezone) VALUES (?, ?)", s.Name, s.Timezone)
	if err != nil {
		return s, fmt.Errorf("sqlite: create school %q: %w", s.Name, mapErr(err))
	}
	id, err := res.LastInsertId()
	s.ID = domain.SchoolID(id)
	return s, err
}

// School loads one school.
func (db *DB) School(ctx context.Context, id domain.SchoolID) (domain.School, error) {
	s := domain.School{ID: id}
	err := db.queryRow(ctx, "SELECT name, timezone FROM schools WHERE id = ?", id).Scan(&s.Name, &s.Timezone)
	if err != nil {
		return s, fmt.Errorf("sqlite: school %d: %w", id, mapErr(err))
	}
	return s, nil
}

// Schools lists every school.
func (db *DB) Schools(ctx context.Context) ([]domain.School, error) {
	rows, err := db.query(ctx, "SELECT id, name, timezone FROM schools ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: schools: %w", err)
	}
	defer rows.Close()
	var out []domain.School
	for rows.Next() {
		var s domain.School
		if err := rows.Scan(&s.ID, &s.Name, &s.Timezone); err != nil {
			return nil, fmt.Errorf("sqlite: scan school: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CreateClass inserts a class; ErrConflict if the name is taken in the school.
func (db *DB) CreateClass(ctx context.Context, c domain.Class) (domain.Class, error) {
	res, err := db.write.ExecContext(ctx, "INSERT INTO classes (school_id, name) VALUES (?, ?)", c.SchoolID, c.Name)
	if err != nil {
		return c, fmt.Errorf("sqlite: create class %q: %w", c.Name, mapErr(err))
	}
	id, err := res.LastInsertId()
	c.ID = domain.ClassID(id)
	return c, err
}

// Class loads one class.
func (db *DB) Class(ctx context.Context, id domain.ClassID) (domain.Class, error) {
	c := domain.Class{ID: id}
	err := db.queryRow(ctx, "SELECT school_id, name FROM classes WHERE id = ?", id).Scan(&c.SchoolID, &c.Name)
	if err != nil {
		return c, fmt.Errorf("sqlite: class %d: %w", id, mapErr(err))
	}
	return c, nil
}

// Classes lists a school's classes by name.
func (db *DB) Classes(ctx context.Context, school domain.SchoolID) ([]domain.Class, error) {
	rows, err := db.query(ctx, "SELECT id, school_id, name FROM classes WHERE school_id = ? ORDER BY name", school)
	if err != nil {
		return nil, fmt.Errorf("sqlite: classes of school %d: %w", school, err)
	}
	defer rows.Close()
	var out []domain.Class
	for rows.Next() {
		var c domain.Class
		if err := rows.Scan(&c.ID, &c.SchoolID, &c.Name); err != nil {
			return nil, fmt.Errorf("sqlite: scan class: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CreateGroup inserts a group; ErrConflict if the name is taken in the school.
func (db *DB) CreateGroup(ctx context.Context, g domain.Group) (domain.Group, error) {
	res, err := db.write.ExecContext(ctx, "INSERT INTO student_groups (school_id, name) VALUES (?, ?)", g.SchoolID, g.Name)
	if err != nil {
		return g, fmt.Errorf("sqlite: create group %q: %w", g.Name, mapErr(err))
	}
	id, err := res.LastInsertId()
	g.ID = domain.GroupID(id)
	return g, err
}

// Group loads one group.
func (db *DB) Group(ctx context.Context, id domain.GroupID) (domain.Group, error) {
	g := domain.Group{ID: id}
	err := db.queryRow(ctx, "SELECT school_id, name FROM student_groups WHERE id = ?", id).Scan(&g.SchoolID, &g.Name)
	if err != nil {
		return g, fmt.Errorf("sqlite: group %d: %w", id, mapErr(err))
	}
	return g, nil
}

// Groups lists a school's groups by name.
func (db *DB) Groups(ctx context.Context, school domain.SchoolID) ([]domain.Group, error) {
	rows, err := db.query(ctx, "SELECT id, school_id, name FROM student_groups WHERE school_id = ? ORDER BY name", school)
	if err != nil {
		return nil, fmt.Errorf("sqlite: groups of school %d: %w", school, err)
	}
	defer rows.Close()
	var out []domain.Group
	for rows.Next() {
		var g domain.Group
		if err := rows.Scan(&g.ID, &g.SchoolID, &g.Name); err != nil {
			return nil, fmt.Errorf("sqlite: scan group: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Enroll sets a student's class.
func (db *DB) Enroll(ctx context.Context, student domain.UserID, class domain.ClassID) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO enrollments (student_id, class_id) VALUES (?, ?)
		ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id`, student, class)
	if err != nil {
		return fmt.Errorf("sqlite: enroll %d in class %d: %w", student, class, mapErr(err))
	}
	return nil
}

// AddToGroup adds a student to a group (idempotent).
func (db *DB) AddToGroup(ctx context.Context, student domain.UserID, group domain.GroupID) error {
	_, err := db.write.ExecContext(ctx, "INSERT OR IGNORE INTO group_members (group_id, student_id) VALUES (?, ?)", group, student)
	if err != nil {
		return fmt.Errorf("sqlite: add %d to group %d: %w", student, group, mapErr(err))
	}
	return nil
}

// LinkParent links a parent to a child (idempotent).
func (db *DB) LinkParent(ctx context.Context, parent, child domain.UserID) error {
	_, err := db.write.ExecContext(ctx, "INSERT OR IGNORE INTO parent_links (parent_id, child_id) VALUES (?, ?)", parent, child)
	if err != nil {
		return fmt.Errorf("sqlite: link parent %d to %d: %w", parent, child, mapErr(err))
	}
	return nil
}

// ParentsOf lists the parents of the given students.
func (db *DB) ParentsOf(ctx context.Context, children []domain.UserID) ([]domain.UserID, error) {
	if len(children) == 0 {
		return nil, nil
	}
	list, args := inList(children)
	ids, err := queryIDs[domain.UserID](ctx, reader{db}, "SELECT DISTINCT parent_id FROM parent_links WHERE child_id IN ("+list+") ORDER BY parent_id", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: parents of %d students: %w", len(children), err)
	}
	return ids, nil
}

// AddTeaching records that a teacher teaches a subject to an audience (idempotent).
func (db *DB) AddTeaching(ctx context.Context, t domain.Teaching) error {
	return addTeaching(ctx, db.write, t)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func addTeaching(ctx context.Context, ex execer, t domain.Teaching) error {
	if !t.Audience.Valid() {
		return fmt.Errorf("sqlite: add teaching: %w", domain.Invalid("audience", "err.audience"))
	}
	_, err := ex.ExecContext(ctx, `INSERT OR IGNORE INTO teachings (teacher_id, class_id, group_id, subject) VALUES (?, ?, ?, ?)`,
		t.TeacherID, nullID(t.Audience.ClassID), nullID(t.Audience.GroupID), t.Subject)
	if err != nil {
		return fmt.Errorf("sqlite: add teaching for %d: %w", t.TeacherID, mapErr(err))
	}
	return nil
}

// Teachings lists every teaching assignment of a school.
func (db *DB) Teachings(ctx context.Context, school domain.SchoolID) ([]domain.Teaching, error) {
	rows, err := db.query(ctx, `SELECT t.teacher_id, coalesce(t.class_id, 0), coalesce(t.group_id, 0), t.subject
		FROM teachings t JOIN users u ON u.id = t.teacher_id WHERE u.school_id = ? ORDER BY t.id`, school)
	if err != nil {
		return nil, fmt.Errorf("sqlite: teachings of school %d: %w", school, err)
	}
	defer rows.Close()
	var out []domain.Teaching
	for rows.Next() {
		var t domain.Teaching
		if err := rows.Scan(&t.TeacherID, &t.Audience.ClassID, &t.Audience.GroupID, &t.Subject); err != nil {
			return nil, fmt.Errorf("sqlite: scan teaching: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Membership loads a user with the classes, groups and children that decide
// what they see.
func (db *DB) Membership(ctx context.Context, id domain.UserID) (domain.Membership, error) {
	u, err := db.User(ctx, id)
	if err != nil {
		return domain.Membership{}, err
	}
	m := domain.Membership{User: u}
	var classQ, groupQ string
	switch u.Role {
	case domain.RoleStudent:
		classQ = "SELECT class_id FROM enrollments WHERE student_id = ?"
		groupQ = "SELECT group_id FROM group_members WHERE student_id = ? ORDER BY group_id"
	case domain.RoleTeacher:
		classQ = "SELECT DISTINCT class_id FROM teachings WHERE teacher_id = ? AND class_id IS NOT NULL ORDER BY class_id"
		groupQ = "SELECT DISTINCT group_id FROM teachings WHERE teacher_id = ? AND group_id IS NOT NULL ORDER BY group_id"
	case domain.RoleParent:
		m.Children, err = db.queryUsers(ctx, `SELECT `+userCols+` FROM users u JOIN parent_links p ON p.child_id = u.id
			WHERE p.parent_id = ? ORDER BY u.display_name, u.id`, id)
		if err != nil {
			return m, fmt.Errorf("sqlite: children of %d: %w", id, err)
		}
		return m, nil
	default:
		return m, nil
	}
	if m.Classes, err = queryIDs[domain.ClassID](ctx, reader{db}, classQ, id); err != nil {
		return m, fmt.Errorf("sqlite: classes of %d: %w", id, err)
	}
	if m.Groups, err = queryIDs[domain.GroupID](ctx, reader{db}, groupQ, id); err != nil {
		return m, fmt.Errorf("sqlite: groups of %d: %w", id, err)
	}
	return m, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryIDs[T ~int64](ctx context.Context, q querier, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var id T
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// AudienceStudents lists the students of a class or group.
func (db *DB) AudienceStudents(ctx context.Context, a domain.Audience) ([]domain.User, error) {
	var q string
	var arg any
	switch {
	case a.ClassID != 0:
		q, arg = `SELECT `+userCols+` FROM users u JOIN enrollments e ON e.student_id = u.id WHERE e.class_id = ? ORDER BY u.display_name, u.id`, a.ClassID
	case a.GroupID != 0:
		q, arg = `SELECT `+userCols+` FROM users u JOIN group_members g ON g.student_id = u.id WHERE g.group_id = ? ORDER BY u.display_name, u.id`, a.GroupID
	default:
		return nil, fmt.Errorf("sqlite: audience students: %w", domain.Invalid("audience", "err.audience"))
	}
	users, err := db.queryUsers(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: students of %+v: %w", a, err)
	}
	return users, nil
}

// MessagingPolicy returns the school's rules, or the defaults if never set.
func (db *DB) MessagingPolicy(ctx context.Context, school domain.SchoolID) (domain.MessagingPolicy, error) {
	var raw string
	if err := db.queryRow(ctx, "SELECT messaging_policy FROM schools WHERE id = ?", school).Scan(&raw); err != nil {
		return nil, fmt.Errorf("sqlite: messaging policy of %d: %w", school, mapErr(err))
	}
	if raw == "" {
		return domain.DefaultMessagingPolicy(), nil
	}
	var p domain.MessagingPolicy
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("sqlite: decode messaging policy of %d: %w", school, err)
	}
	return p, nil
}

// SetMessagingPolicy stores the school's rules.
func (db *DB) SetMessagingPolicy(ctx context.Context, school domain.SchoolID, p domain.MessagingPolicy) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("sqlite: encode messaging policy: %w", err)
	}
	res, err := db.write.ExecContext(ctx, "UPDATE schools SET messaging_policy = ? WHERE id = ?", string(raw), school)
	if err != nil {
		return fmt.Errorf("sqlite: set messaging policy of %d: %w", school, err)
	}
	return mustAffect(res, fmt.Sprintf("school %d", school))
}

func mustAffect(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: rows affected for %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", what, domain.ErrNotFound)
	}
	return nil
}

// ImportRoster applies a roster in one transaction.
func (db *DB) ImportRoster(ctx context.Context, school domain.SchoolID, r domain.Roster) (domain.ImportResult, error) {
	var res domain.ImportResult
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		im := rosterImport{ctx: ctx, tx: tx, school: school, res: &res, now: db.now(),
			classes: map[string]domain.ClassID{}, groups: map[string]domain.GroupID{}, users: map[string]domain.UserID{}}
		return im.apply(r)
	})
	if err != nil {
		return domain.ImportResult{}, fmt.Errorf("sqlite: import roster into school %d: %w", school, err)
	}
	return res, nil
}

type rosterImport struct {
	ctx     context.Context
	tx      *sql.Tx
	school  domain.SchoolID
	res     *domain.ImportResult
	now     interface{ UnixMilli() int64 }
	classes map[string]domain.ClassID
	groups  map[string]domain.GroupID
	users   map[string]domain.UserID
}

func (im *rosterImport) apply(r domain.Roster) error {
	// Users first, then the links that refer to them by login.
	for _, u := range r.Users {
		if err := im.user(u); err != nil {
			return fmt.Errorf("line %d: %w", u.Line, err)
		}
	}
	for _, u := range r.Users {
		if err := im.links(u); err != nil {
			return fmt.Errorf("line %d: %w", u.Line, err)
		}
	}
	replaced := map[domain.ClassID]bool{}
	for _, s := range r.Timetable {
		class, err := im.class(s.Class)
		if err != nil {
			return fmt.Errorf("line %d: %w", s.Line, err)
		}
		if !replaced[class] {
			if _, err := im.tx.ExecContext(im.ctx, "DELETE FROM timetable_slots WHERE class_id = ?", class); err != nil {
				return fmt.Errorf("line %d: clear timetable: %w", s.Line, err)
			}
			replaced[class] = true
		}
		slot := domain.Slot{ClassID: class, Weekday: s.Weekday, Start: s.Start, End: s.End, Subject: s.Subject, Room: s.Room}
		if s.TeacherLogin != "" {
			if slot.TeacherID, err = im.userID(s.TeacherLogin); err != nil {
				return fmt.Errorf("line %d: %w", s.Line, err)
			}
		}
		if s.Group != "" {
			if slot.GroupID, err = im.group(s.Group); err != nil {
				return fmt.Errorf("line %d: %w", s.Line, err)
			}
		}
		if err := insertSlot(im.ctx, im.tx, slot); err != nil {
			return fmt.Errorf("line %d: %w", s.Line, err)
		}
		im.res.SlotsReplaced++
	}
	return nil
}

func (im *rosterImport) user(u domain.RosterUser) error {
	var id domain.UserID
	var role domain.Role
	err := im.tx.QueryRowContext(im.ctx, "SELECT id, role FROM users WHERE login = ? AND school_id = ?", u.Login, im.school).Scan(&id, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := im.tx.ExecContext(im.ctx, `INSERT INTO users (school_id, login, display_name, role, email, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, im.school, u.Login, u.DisplayName, u.Role, u.Email, u.PasswordHash, im.now.UnixMilli())
		if err != nil {
			return fmt.Errorf("create user %q: %w", u.Login, mapErr(err))
		}
		n, err := res.LastInsertId()
		if err != nil {
			return err
		}
		id = domain.UserID(n)
		im.res.UsersCreated++
		im.res.Created = append(im.res.Created, u.Login)
	case err != nil:
		return fmt.Errorf("find user %q: %w", u.Login, err)
	case role != u.Role:
		return fmt.Errorf("user %q is a %s, not a %s: %w", u.Login, role, u.Role, domain.ErrConflict)
	default:
		if _, err := im.tx.ExecContext(im.ctx, "UPDATE users SET display_name = ?, email = ? WHERE id = ?", u.DisplayName, u.Email, id); err != nil {
			return fmt.Errorf("update user %q: %w", u.Login, err)
		}
		im.res.UsersUpdated++
	}
	im.users[u.Login] = id
	return nil
}

func (im *rosterImport) links(u domain.RosterUser) error {
	id := im.users[u.Login]
	if u.Class != "" {
		class, err := im.class(u.Class)
		if err != nil {
			return err
		}
		if _, err := im.tx.ExecContext(im.ctx, `INSERT INTO enrollments (student_id, class_id) VALUES (?, ?)
			ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id`, id, class); err != nil {
			return fmt.Errorf("enroll %q: %w", u.Login, err)
		}
	}
	if u.Role == domain.RoleStudent {
		for _, name := range u.Groups {
			g, err := im.group(name)
			if err != nil {
				return err
			}
			if _, err := im.tx.ExecContext(im.ctx, "INSERT OR IGNORE INTO group_members (group_id, student_id) VALUES (?, ?)", g, id); err != nil {
				return fmt.Errorf("add %q to group %q: %w", u.Login, name, err)
			}
		}
	}
	for _, child := range u.Children {
		cid, err := im.userID(child)
		if err != nil {
			return err
		}
		if _, err := im.tx.ExecContext(im.ctx, "INSERT OR IGNORE INTO parent_links (parent_id, child_id) VALUES (?, ?)", id, cid); err != nil {
			return fmt.Errorf("link %q to %q: %w", u.Login, child, err)
		}
	}
	for _, t := range u.Teaches {
		var a domain.Audience
		var err error
		if t.Class != "" {
			a.ClassID, err = im.class(t.Class)
		} else {
			a.GroupID, err = im.group(t.Group)
		}
		if err != nil {
			return err
		}
		if err := addTeaching(im.ctx, im.tx, domain.Teaching{TeacherID: id, Audience: a, Subject: t.Subject}); err != nil {
			return err
		}
	}
	return nil
}

func (im *rosterImport) userID(login string) (domain.UserID, error) {
	if id, ok := im.users[login]; ok {
		return id, nil
	}
	var id domain.UserID
	if err := im.tx.QueryRowContext(im.ctx, "SELECT id FROM users WHERE login = ? AND school_id = ?", login, im.school).Scan(&id); err != nil {
		return 0, fmt.Errorf("user %q: %w", login, mapErr(err))
	}
	im.users[login] = id
	return id, nil
}

func (im *rosterImport) class(name string) (domain.ClassID, error) {
	if id, ok := im.classes[name]; ok {
		return id, nil
	}
	id, created, err := getOrCreate[domain.ClassID](im.ctx, im.tx, "classes", im.school, name)
	if err != nil {
		return 0, fmt.Errorf("class %q: %w", name, err)
	}
	if created {
		im.res.ClassesCreated++
	}
	im.classes[name] = id
	return id, nil
}

func (im *rosterImport) group(name string) (domain.GroupID, error) {
	if id, ok := im.groups[name]; ok {
		return id, nil
	}
	id, created, err := getOrCreate[domain.GroupID](im.ctx, im.tx, "student_groups", im.school, name)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", name, err)
	}
	if created {
		im.res.GroupsCreated++
	}
	im.groups[name] = id
	return id, nil
}

// getOrCreate finds a class or group by name, creating it if missing. table
// is one of two constants, never user input.
func getOrCreate[T ~int64](ctx context.Context, tx *sql.Tx, table string, school domain.SchoolID, name string) (T, bool, error) {
	var id T
	err := tx.QueryRowContext(ctx, "SELECT id FROM "+table+" WHERE school_id = ? AND name = ?", school, name).Scan(&id)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (school_id, name) VALUES (?, ?)", school, name)
	if err != nil {
		return 0, false, mapErr(err)
	}
	n, err := res.LastInsertId()
	return T(n), true, err
}
