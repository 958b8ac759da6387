package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"preau/internal/domain"
)

const entryCols = `e.id, e.school_id, e.teacher_id, t.display_name, coalesce(e.class_id, 0), coalesce(e.group_id, 0),
	coalesce(c.name, g.name, ''), e.kind, e.subject, e.title, e.description, e.lesson_date, coalesce(e.due_at, 0),
	e.publish_at, e.created_at, e.hand_in`

const entryFrom = ` FROM entries e JOIN users t ON t.id = e.teacher_id
	LEFT JOIN classes c ON c.id = e.class_id LEFT JOIN student_groups g ON g.id = e.group_id`

func scanEntry(s scanner) (domain.Entry, error) {
	var e domain.Entry
	var lesson, due, publish, created int64
	err := s.Scan(&e.ID, &e.SchoolID, &e.TeacherID, &e.TeacherName, &e.Audience.ClassID, &e.Audience.GroupID,
		&e.AudienceName, &e.Kind, &e.Subject, &e.Title, &e.Description, &lesson, &due, &publish, &created, &e.HandIn)
	e.LessonDate, e.DueAt, e.PublishAt, e.CreatedAt = fromMS(lesson), fromMS(due), fromMS(publish), fromMS(created)
	return e, err
}

// CreateEntry inserts a diary entry and its attachments.
func (db *DB) CreateEntry(ctx context.Context, n domain.NewEntry) (domain.Entry, error) {
	now := db.now()
	if n.PublishAt.IsZero() {
		n.PublishAt = now
	}
	if n.LessonDate.IsZero() {
		n.LessonDate = now
	}
	var id int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO entries (school_id, teacher_id, class_id, group_id, kind, subject, title,
			description, lesson_date, due_at, publish_at, created_at, hand_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.SchoolID, n.TeacherID, nullID(n.Audience.ClassID), nullID(n.Audience.GroupID), n.Kind, n.Subject, n.Title,
			n.Description, ms(n.LessonDate), nullMS(n.DueAt), ms(n.PublishAt), ms(now), n.HandIn)
		if err != nil {
			return mapErr(err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return insertAttachments(ctx, tx, "entry", id, n.Attachments)
	})
	if err != nil {
		return domain.Entry{}, fmt.Errorf("sqlite: create entry %q: %w", n.Title, err)
	}
	return db.Entry(ctx, domain.EntryID(id))
}

// Entry loads one diary entry with its attachments.
func (db *DB) Entry(ctx context.Context, id domain.EntryID) (domain.Entry, error) {
	e, err := scanEntry(db.queryRow(ctx, "SELECT "+entryCols+entryFrom+" WHERE e.id = ?", id))
	if err != nil {
		return e, fmt.Errorf("sqlite: entry %d: %w", id, mapErr(err))
	}
	atts, err := db.attachments(ctx, "entry", []int64{int64(id)})
	if err != nil {
		return e, fmt.Errorf("sqlite: attachments of entry %d: %w", id, err)
	}
	e.Attachments = atts[int64(id)]
	return e, nil
}

// Entries lists diary entries matching f.
func (db *DB) Entries(ctx context.Context, f domain.EntryFilter) ([]domain.Entry, error) {
	var where []string
	var args []any
	if f.TeacherID != 0 {
		where = append(where, "e.teacher_id = ?")
		args = append(args, f.TeacherID)
	}
	if f.TeacherID == 0 || len(f.Classes)+len(f.Groups) > 0 {
		cl, cargs := inList(f.Classes)
		gl, gargs := inList(f.Groups)
		where = append(where, "(e.class_id IN ("+cl+") OR e.group_id IN ("+gl+"))")
		args = append(append(args, cargs...), gargs...)
	}
	if f.Kind != "" {
		where = append(where, "e.kind = ?")
		args = append(args, f.Kind)
	}
	day := "coalesce(e.due_at, e.lesson_date)"
	if !f.From.IsZero() {
		where = append(where, day+" >= ?")
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, day+" < ?")
		args = append(args, ms(f.To))
	}
	if !f.PublishedAt.IsZero() {
		where = append(where, "e.publish_at <= ?")
		args = append(args, ms(f.PublishedAt))
	}
	q := "SELECT " + entryCols + entryFrom + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + day + ", e.id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: entries: %w", err)
	}
	defer rows.Close()
	var out []domain.Entry
	var ids []int64
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan entry: %w", err)
		}
		out = append(out, e)
		ids = append(ids, int64(e.ID))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: entries: %w", err)
	}
	atts, err := db.attachments(ctx, "entry", ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: entry attachments: %w", err)
	}
	for i := range out {
		out[i].Attachments = atts[int64(out[i].ID)]
	}
	return out, nil
}

// SetDone ticks or unticks a homework for a student.
func (db *DB) SetDone(ctx context.Context, entry domain.EntryID, student domain.UserID, done bool) error {
	var err error
	if done {
		_, err = db.write.ExecContext(ctx, "INSERT OR IGNORE INTO homework_done (entry_id, student_id, done_at) VALUES (?, ?, ?)",
			entry, student, ms(db.now()))
	} else {
		_, err = db.write.ExecContext(ctx, "DELETE FROM homework_done WHERE entry_id = ? AND student_id = ?", entry, student)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set done %d for %d: %w", entry, student, mapErr(err))
	}
	return nil
}

// EntryStatuses returns a student's done ticks and submission counts.
func (db *DB) EntryStatuses(ctx context.Context, student domain.UserID, entries []domain.EntryID) (map[domain.EntryID]domain.EntryStatus, error) {
	out := make(map[domain.EntryID]domain.EntryStatus, len(entries))
	if len(entries) == 0 {
		return out, nil
	}
	list, args := inList(entries)
	rows, err := db.query(ctx, `SELECT e.id,
			EXISTS (SELECT 1 FROM homework_done d WHERE d.entry_id = e.id AND d.student_id = ?),
			(SELECT count(*) FROM submissions s WHERE s.entry_id = e.id AND s.student_id = ?)
		FROM entries e WHERE e.id IN (`+list+`)`, append([]any{student, student}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: statuses for %d: %w", student, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id domain.EntryID
		var st domain.EntryStatus
		if err := rows.Scan(&id, &st.Done, &st.Submissions); err != nil {
			return nil, fmt.Errorf("sqlite: scan status: %w", err)
		}
		out[id] = st
	}
	return out, rows.Err()
}

// StudentStatuses returns every status a student has.
func (db *DB) StudentStatuses(ctx context.Context, student domain.UserID) (map[domain.EntryID]domain.EntryStatus, error) {
	out := map[domain.EntryID]domain.EntryStatus{}
	rows, err := db.query(ctx, `SELECT entry_id, 1, 0 FROM homework_done WHERE student_id = ?
		UNION ALL SELECT entry_id, 0, count(*) FROM submissions WHERE student_id = ? GROUP BY entry_id`, student, student)
	if err != nil {
		return nil, fmt.Errorf("sqlite: statuses of %d: %w", student, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id domain.EntryID
		var done bool
		var subs int
		if err := rows.Scan(&id, &done, &subs); err != nil {
			return nil, fmt.Errorf("sqlite: scan status: %w", err)
		}
		st := out[id]
		st.Done = st.Done || done
		st.Submissions += subs
		out[id] = st
	}
	return out, rows.Err()
}

// Completions counts, per homework, the audience's students, those who
// ticked it done and those who handed something in.
func (db *DB) Completions(ctx context.Context, entries []domain.EntryID) (map[domain.EntryID]domain.Completion, error) {
	out := make(map[domain.EntryID]domain.Completion, len(entries))
	if len(entries) == 0 {
		return out, nil
	}
	list, args := inList(entries)
	rows, err := db.query(ctx, `SELECT e.id,
			CASE WHEN e.class_id IS NOT NULL
				THEN (SELECT count(*) FROM enrollments x WHERE x.class_id = e.class_id)
				ELSE (SELECT count(*) FROM group_members x WHERE x.group_id = e.group_id) END,
			(SELECT count(*) FROM homework_done d WHERE d.entry_id = e.id),
			(SELECT count(DISTINCT s.student_id) FROM submissions s WHERE s.entry_id = e.id)
		FROM entries e WHERE e.id IN (`+list+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: completions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id domain.EntryID
		var c domain.Completion
		if err := rows.Scan(&id, &c.Students, &c.Done, &c.Submitted); err != nil {
			return nil, fmt.Errorf("sqlite: scan completion: %w", err)
		}
		out[id] = c
	}
	return out, rows.Err()
}

func insertAttachments(ctx context.Context, tx *sql.Tx, kind string, owner int64, atts []domain.Attachment) error {
	for _, a := range atts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (owner_kind, owner_id, name, content_type, size, sha256)
			VALUES (?, ?, ?, ?, ?, ?)`, kind, owner, a.Name, a.ContentType, a.Size, a.SHA256); err != nil {
			return fmt.Errorf("attachment %q: %w", a.Name, err)
		}
	}
	return nil
}

// attachments loads the attachments of many owners of one kind in one query.
func (db *DB) attachments(ctx context.Context, kind string, owners []int64) (map[int64][]domain.Attachment, error) {
	out := map[int64][]domain.Attachment{}
	if len(owners) == 0 {
		return out, nil
	}
	list, args := inList(owners)
	rows, err := db.query(ctx, `SELECT owner_id, name, content_type, size, sha256 FROM attachments
		WHERE owner_kind = ? AND owner_id IN (`+list+`) ORDER BY owner_id, id`, append([]any{kind}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var owner int64
		var a domain.Attachment
		if err := rows.Scan(&owner, &a.Name, &a.ContentType, &a.Size, &a.SHA256); err != nil {
			return nil, err
		}
		out[owner] = append(out[owner], a)
	}
	return out, rows.Err()
}
