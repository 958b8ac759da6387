package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"preau/internal/domain"
)

const liveCols = `l.id, l.school_id, coalesce(l.class_id, 0), coalesce(l.group_id, 0), coalesce(c.name, g.name, ''),
	l.teacher_id, t.display_name, l.title, coalesce(l.entry_id, 0), l.started_at, coalesce(l.ended_at, 0)`

const liveFrom = ` FROM live_classes l JOIN users t ON t.id = l.teacher_id
	LEFT JOIN classes c ON c.id = l.class_id LEFT JOIN student_groups g ON g.id = l.group_id`

func scanLive(s scanner) (domain.LiveClass, error) {
	var c domain.LiveClass
	var started, ended int64
	err := s.Scan(&c.ID, &c.SchoolID, &c.Audience.ClassID, &c.Audience.GroupID, &c.AudienceName, &c.TeacherID, &c.TeacherName,
		&c.Title, &c.EntryID, &started, &ended)
	c.StartedAt, c.EndedAt = fromMS(started), fromMS(ended)
	return c, err
}

// CreateLiveClass records the start of a live class.
func (db *DB) CreateLiveClass(ctx context.Context, c domain.LiveClass) (domain.LiveClass, error) {
	if c.StartedAt.IsZero() {
		c.StartedAt = db.now()
	}
	var id int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO live_classes (school_id, class_id, group_id, teacher_id, title, entry_id, started_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.SchoolID, nullID(c.Audience.ClassID), nullID(c.Audience.GroupID), c.TeacherID, c.Title,
			nullID(c.EntryID), ms(c.StartedAt))
		if err != nil {
			return mapErr(err)
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return domain.LiveClass{}, fmt.Errorf("sqlite: create live class %q: %w", c.Title, err)
	}
	return db.LiveClass(ctx, domain.LiveClassID(id))
}

// LiveClass loads one live class.
func (db *DB) LiveClass(ctx context.Context, id domain.LiveClassID) (domain.LiveClass, error) {
	c, err := scanLive(db.queryRow(ctx, "SELECT "+liveCols+liveFrom+" WHERE l.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlite: live class %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("sqlite: live class %d: %w", id, err)
	}
	return c, nil
}

// EndLiveClass records a class's end, once.
func (db *DB) EndLiveClass(ctx context.Context, id domain.LiveClassID, at time.Time) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE live_classes SET ended_at = coalesce(ended_at, ?) WHERE id = ?", ms(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, domain.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: end live class %d: %w", id, err)
	}
	return nil
}

// LiveClasses lists a school's recent classes, running ones first.
func (db *DB) LiveClasses(ctx context.Context, school domain.SchoolID, since time.Time) ([]domain.LiveClass, error) {
	rows, err := db.query(ctx, "SELECT "+liveCols+liveFrom+` WHERE l.school_id = ? AND l.started_at >= ?
		ORDER BY l.ended_at IS NOT NULL, l.started_at DESC, l.id DESC`, school, ms(since))
	if err != nil {
		return nil, fmt.Errorf("sqlite: live classes of school %d: %w", school, err)
	}
	defer rows.Close()
	var out []domain.LiveClass
	for rows.Next() {
		c, err := scanLive(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: live classes of school %d: %w", school, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: live classes of school %d: %w", school, err)
	}
	return out, nil
}

// EndRunningLiveClasses ends the classes a previous run left running.
func (db *DB) EndRunningLiveClasses(ctx context.Context, at time.Time) (int, error) {
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE live_classes SET ended_at = ? WHERE ended_at IS NULL", ms(at))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: end running live classes: %w", err)
	}
	return int(n), nil
}

// AddAttendance appends one arrival or departure; it is durable when it
// returns.
func (db *DB) AddAttendance(ctx context.Context, e domain.AttendanceEvent) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO live_attendance (live_class_id, user_id, name, role, kind, reason, at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, e.LiveClassID, e.UserID, e.Name, e.Role, e.Kind, e.Reason, ms(e.At))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: attendance of live class %d: %w", e.LiveClassID, err)
	}
	return nil
}

// Attendance lists a class's arrivals and departures in order.
func (db *DB) Attendance(ctx context.Context, id domain.LiveClassID) ([]domain.AttendanceEvent, error) {
	rows, err := db.query(ctx, `SELECT live_class_id, user_id, name, role, kind, reason, at FROM live_attendance
		WHERE live_class_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: attendance of live class %d: %w", id, err)
	}
	defer rows.Close()
	var out []domain.AttendanceEvent
	for rows.Next() {
		var e domain.AttendanceEvent
		var at int64
		if err := rows.Scan(&e.LiveClassID, &e.UserID, &e.Name, &e.Role, &e.Kind, &e.Reason, &at); err != nil {
			return nil, fmt.Errorf("sqlite: attendance of live class %d: %w", id, err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: attendance of live class %d: %w", id, err)
	}
	return out, nil
}

// AddLiveChat keeps one chat message; it is durable when it returns.
func (db *DB) AddLiveChat(ctx context.Context, m domain.LiveChatMessage) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO live_chat (live_class_id, seq, user_id, name, role, text, at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, m.LiveClassID, int64(m.Seq), m.UserID, m.Name, m.Role, m.Text, ms(m.At))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: chat %d of live class %d: %w", m.Seq, m.LiveClassID, err)
	}
	return nil
}

// LiveChat lists a class's chat in order.
func (db *DB) LiveChat(ctx context.Context, id domain.LiveClassID) ([]domain.LiveChatMessage, error) {
	rows, err := db.query(ctx, `SELECT live_class_id, seq, user_id, name, role, text, at FROM live_chat
		WHERE live_class_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: chat of live class %d: %w", id, err)
	}
	defer rows.Close()
	var out []domain.LiveChatMessage
	for rows.Next() {
		var m domain.LiveChatMessage
		var seq, at int64
		if err := rows.Scan(&m.LiveClassID, &seq, &m.UserID, &m.Name, &m.Role, &m.Text, &at); err != nil {
			return nil, fmt.Errorf("sqlite: chat of live class %d: %w", id, err)
		}
		m.Seq, m.At = uint64(seq), fromMS(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: chat of live class %d: %w", id, err)
	}
	return out, nil
}

// CreateSlideDeck records a deck whose page images are in the blob store.
func (db *DB) CreateSlideDeck(ctx context.Context, d domain.SlideDeck) (domain.SlideDeck, error) {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = db.now()
	}
	d.CreatedAt = fromMS(ms(d.CreatedAt))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO slide_decks (live_class_id, name, pages, created_at) VALUES (?, ?, ?, ?)",
			d.LiveClassID, d.Name, strings.Join(d.Pages, " "), ms(d.CreatedAt))
		if err != nil {
			return mapErr(err)
		}
		d.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return domain.SlideDeck{}, fmt.Errorf("sqlite: create slide deck %q: %w", d.Name, err)
	}
	return d, nil
}

// SlideDeck loads one deck.
func (db *DB) SlideDeck(ctx context.Context, id int64) (domain.SlideDeck, error) {
	var d domain.SlideDeck
	var pages string
	var created int64
	err := db.queryRow(ctx, "SELECT id, live_class_id, name, pages, created_at FROM slide_decks WHERE id = ?", id).
		Scan(&d.ID, &d.LiveClassID, &d.Name, &pages, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("sqlite: slide deck %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("sqlite: slide deck %d: %w", id, err)
	}
	d.Pages, d.CreatedAt = strings.Fields(pages), fromMS(created)
	return d, nil
}
