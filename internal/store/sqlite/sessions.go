package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"preau/internal/domain"
)

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s domain.Session) error {
	_, err := db.write.ExecContext(ctx, "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, user_agent) VALUES (?, ?, ?, ?, ?)",
		s.IDHash[:], s.UserID, ms(s.CreatedAt), ms(s.ExpiresAt), s.UserAgent)
	if err != nil {
		return fmt.Errorf("sqlite: create session for %d: %w", s.UserID, mapErr(err))
	}
	return nil
}

// Session loads a session by the hash of its token.
func (db *DB) Session(ctx context.Context, idHash [32]byte) (domain.Session, error) {
	s := domain.Session{IDHash: idHash}
	var created, expires int64
	err := db.queryRow(ctx, "SELECT user_id, created_at, expires_at, user_agent FROM sessions WHERE id_hash = ?", idHash[:]).
		Scan(&s.UserID, &created, &expires, &s.UserAgent)
	if err != nil {
		return s, fmt.Errorf("sqlite: session: %w", mapErr(err))
	}
	s.CreatedAt, s.ExpiresAt = fromMS(created), fromMS(expires)
	return s, nil
}

// TouchSessions extends sessions' expiry in one transaction. Sessions deleted
// meanwhile are skipped.
func (db *DB) TouchSessions(ctx context.Context, touches []domain.SessionTouch) error {
	if len(touches) == 0 {
		return nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, "UPDATE sessions SET expires_at = max(expires_at, ?) WHERE id_hash = ?")
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, t := range touches {
			if _, err := stmt.ExecContext(ctx, ms(t.ExpiresAt), t.IDHash[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: touch %d sessions: %w", len(touches), err)
	}
	return nil
}

// DeleteSession ends one session; deleting a missing session is not an error.
func (db *DB) DeleteSession(ctx context.Context, idHash [32]byte) error {
	if _, err := db.write.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash[:]); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user.
func (db *DB) DeleteUserSessions(ctx context.Context, user domain.UserID) ([][32]byte, error) {
	var out [][32]byte
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "DELETE FROM sessions WHERE user_id = ? RETURNING id_hash", user)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			var h [32]byte
			copy(h[:], b)
			out = append(out, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete sessions of %d: %w", user, err)
	}
	return out, nil
}

// DeleteExpiredSessions removes sessions that expired before now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := db.write.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", ms(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
