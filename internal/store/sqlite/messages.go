package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"preau/internal/domain"
)

// CreateThread creates a thread with its participants and first message.
func (db *DB) CreateThread(ctx context.Context, t domain.Thread, participants []domain.UserID, first domain.Message) (domain.Thread, domain.Message, error) {
	now := db.now()
	t.CreatedAt, t.LastAt, first.SentAt = fromMS(ms(now)), fromMS(ms(now)), fromMS(ms(now))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO threads (school_id, subject, created_by, created_at, last_at) VALUES (?, ?, ?, ?, ?)",
			t.SchoolID, t.Subject, t.CreatedBy, ms(now), ms(now))
		if err != nil {
			return mapErr(err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		t.ID = domain.ThreadID(id)
		for _, p := range participants {
			if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO thread_participants (thread_id, user_id) VALUES (?, ?)", id, p); err != nil {
				return mapErr(err)
			}
		}
		first.ThreadID = t.ID
		first, err = addMessage(ctx, tx, first)
		return err
	})
	if err != nil {
		return t, first, fmt.Errorf("sqlite: create thread %q: %w", t.Subject, err)
	}
	return t, first, nil
}

func addMessage(ctx context.Context, tx *sql.Tx, m domain.Message) (domain.Message, error) {
	res, err := tx.ExecContext(ctx, "INSERT INTO messages (thread_id, sender_id, body, sent_at) VALUES (?, ?, ?, ?)",
		m.ThreadID, m.SenderID, m.Body, ms(m.SentAt))
	if err != nil {
		return m, mapErr(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return m, err
	}
	m.ID = domain.MessageID(id)
	if err := insertAttachments(ctx, tx, "message", id, m.Attachments); err != nil {
		return m, err
	}
	// The sender has read their own message.
	if _, err := tx.ExecContext(ctx, "UPDATE thread_participants SET last_read = ? WHERE thread_id = ? AND user_id = ?", id, m.ThreadID, m.SenderID); err != nil {
		return m, err
	}
	_, err = tx.ExecContext(ctx, "UPDATE threads SET last_at = ? WHERE id = ?", ms(m.SentAt), m.ThreadID)
	return m, err
}

// AddMessage appends a message to a thread.
func (db *DB) AddMessage(ctx context.Context, m domain.Message) (domain.Message, error) {
	m.SentAt = fromMS(ms(db.now()))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = addMessage(ctx, tx, m)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("sqlite: add message to thread %d: %w", m.ThreadID, err)
	}
	return m, nil
}

const threadCols = `t.id, t.school_id, t.subject, t.created_by, t.created_at, t.last_at,
	(SELECT count(*) FROM messages m WHERE m.thread_id = t.id AND m.id > p.last_read AND m.sender_id <> p.user_id)`

func scanThread(s scanner) (domain.Thread, error) {
	var t domain.Thread
	var created, last int64
	err := s.Scan(&t.ID, &t.SchoolID, &t.Subject, &t.CreatedBy, &created, &last, &t.Unread)
	t.CreatedAt, t.LastAt = fromMS(created), fromMS(last)
	return t, err
}

// Thread loads a thread as seen by viewer (unread count); ErrNotFound if
// viewer does not take part in it.
func (db *DB) Thread(ctx context.Context, id domain.ThreadID, viewer domain.UserID) (domain.Thread, error) {
	t, err := scanThread(db.queryRow(ctx, "SELECT "+threadCols+
		" FROM threads t JOIN thread_participants p ON p.thread_id = t.id AND p.user_id = ? WHERE t.id = ?", viewer, id))
	if err != nil {
		return t, fmt.Errorf("sqlite: thread %d: %w", id, mapErr(err))
	}
	parts, err := db.participants(ctx, []domain.ThreadID{id})
	if err != nil {
		return t, err
	}
	t.Participants = parts[id]
	return t, nil
}

// Threads lists a user's threads, most recent first.
func (db *DB) Threads(ctx context.Context, user domain.UserID, limit int) ([]domain.Thread, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.query(ctx, "SELECT "+threadCols+
		" FROM threads t JOIN thread_participants p ON p.thread_id = t.id WHERE p.user_id = ? ORDER BY t.last_at DESC, t.id DESC LIMIT ?", user, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: threads of %d: %w", user, err)
	}
	defer rows.Close()
	var out []domain.Thread
	var ids []domain.ThreadID
	for rows.Next() {
		t, err := scanThread(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan thread: %w", err)
		}
		out = append(out, t)
		ids = append(ids, t.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: threads of %d: %w", user, err)
	}
	parts, err := db.participants(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Participants = parts[out[i].ID]
	}
	return out, nil
}

func (db *DB) participants(ctx context.Context, threads []domain.ThreadID) (map[domain.ThreadID][]domain.User, error) {
	out := map[domain.ThreadID][]domain.User{}
	if len(threads) == 0 {
		return out, nil
	}
	list, args := inList(threads)
	rows, err := db.query(ctx, "SELECT "+userCols+", p.thread_id FROM thread_participants p JOIN users u ON u.id = p.user_id WHERE p.thread_id IN ("+list+")", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: thread participants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid domain.ThreadID
		u, err := scanUser(rows, &tid)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan participant: %w", err)
		}
		out[tid] = append(out[tid], u)
	}
	for _, us := range out {
		sort.Slice(us, func(i, j int) bool { return us[i].DisplayName < us[j].DisplayName })
	}
	return out, rows.Err()
}

// Messages lists a thread's messages, oldest first.
func (db *DB) Messages(ctx context.Context, thread domain.ThreadID) ([]domain.Message, error) {
	rows, err := db.query(ctx, `SELECT m.id, m.thread_id, m.sender_id, u.display_name, m.body, m.sent_at
		FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.thread_id = ? ORDER BY m.id`, thread)
	if err != nil {
		return nil, fmt.Errorf("sqlite: messages of thread %d: %w", thread, err)
	}
	defer rows.Close()
	var out []domain.Message
	var ids []int64
	for rows.Next() {
		var m domain.Message
		var at int64
		if err := rows.Scan(&m.ID, &m.ThreadID, &m.SenderID, &m.SenderName, &m.Body, &at); err != nil {
			return nil, fmt.Errorf("sqlite: scan message: %w", err)
		}
		m.SentAt = fromMS(at)
		out = append(out, m)
		ids = append(ids, int64(m.ID))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: messages of thread %d: %w", thread, err)
	}
	atts, err := db.attachments(ctx, "message", ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: message attachments: %w", err)
	}
	for i := range out {
		out[i].Attachments = atts[int64(out[i].ID)]
	}
	return out, nil
}

// IsParticipant reports whether user takes part in thread.
func (db *DB) IsParticipant(ctx context.Context, thread domain.ThreadID, user domain.UserID) (bool, error) {
	var n int
	err := db.queryRow(ctx, "SELECT count(*) FROM thread_participants WHERE thread_id = ? AND user_id = ?", thread, user).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: participant %d in %d: %w", user, thread, err)
	}
	return n > 0, nil
}

// MarkRead marks every message of a thread read for user.
func (db *DB) MarkRead(ctx context.Context, thread domain.ThreadID, user domain.UserID) error {
	_, err := db.write.ExecContext(ctx, `UPDATE thread_participants SET last_read =
		(SELECT coalesce(max(id), 0) FROM messages WHERE thread_id = ?) WHERE thread_id = ? AND user_id = ?`, thread, thread, user)
	if err != nil {
		return fmt.Errorf("sqlite: mark thread %d read for %d: %w", thread, user, err)
	}
	return nil
}

// UnreadCount counts messages from others that user has not read.
func (db *DB) UnreadCount(ctx context.Context, user domain.UserID) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM thread_participants p JOIN messages m ON m.thread_id = p.thread_id
		WHERE p.user_id = ? AND m.id > p.last_read AND m.sender_id <> p.user_id`, user).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: unread count of %d: %w", user, err)
	}
	return n, nil
}
