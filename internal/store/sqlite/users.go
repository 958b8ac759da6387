package sqlite

import (
	"context"
	"fmt"

	"preau/internal/domain"
)

const userCols = "u.id, u.school_id, u.login, u.display_name, u.role, u.lang, u.email, u.disabled, u.created_at"

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner, extra ...any) (domain.User, error) {
	var u domain.User
	var created int64
	dest := append([]any{&u.ID, &u.SchoolID, &u.Login, &u.DisplayName, &u.Role, &u.Lang, &u.Email, &u.Disabled, &created}, extra...)
	if err := s.Scan(dest...); err != nil {
		return u, err
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

func (db *DB) queryUsers(ctx context.Context, query string, args ...any) ([]domain.User, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CreateUser inserts an account; ErrConflict if the login is taken.
func (db *DB) CreateUser(ctx context.Context, n domain.NewUser) (domain.User, error) {
	now := db.now()
	res, err := db.write.ExecContext(ctx, `INSERT INTO users (school_id, login, display_name, role, lang, email, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, n.SchoolID, n.Login, n.DisplayName, n.Role, n.Lang, n.Email, n.PasswordHash, ms(now))
	if err != nil {
		return domain.User{}, fmt.Errorf("sqlite: create user %q: %w", n.Login, mapErr(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return domain.User{}, fmt.Errorf("sqlite: create user %q: %w", n.Login, err)
	}
	return domain.User{ID: domain.UserID(id), SchoolID: n.SchoolID, Login: n.Login, DisplayName: n.DisplayName,
		Role: n.Role, Lang: n.Lang, Email: n.Email, CreatedAt: fromMS(ms(now))}, nil
}

// User loads one account.
func (db *DB) User(ctx context.Context, id domain.UserID) (domain.User, error) {
	u, err := scanUser(db.queryRow(ctx, "SELECT "+userCols+" FROM users u WHERE u.id = ?", id))
	if err != nil {
		return u, fmt.Errorf("sqlite: user %d: %w", id, mapErr(err))
	}
	return u, nil
}

// UserByLogin loads an account and its password hash by login.
func (db *DB) UserByLogin(ctx context.Context, login string) (domain.User, string, error) {
	var hash string
	u, err := scanUser(db.queryRow(ctx, "SELECT "+userCols+", u.password_hash FROM users u WHERE u.login = ?", login), &hash)
	if err != nil {
		return u, "", fmt.Errorf("sqlite: user %q: %w", login, mapErr(err))
	}
	return u, hash, nil
}

// Users lists a school's users of one role ("" for every role).
func (db *DB) Users(ctx context.Context, school domain.SchoolID, role domain.Role) ([]domain.User, error) {
	users, err := db.queryUsers(ctx, "SELECT "+userCols+" FROM users u WHERE u.school_id = ? AND (? = '' OR u.role = ?) ORDER BY u.display_name, u.id",
		school, role, role)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users of school %d: %w", school, err)
	}
	return users, nil
}

// SetPassword replaces a user's password hash.
func (db *DB) SetPassword(ctx context.Context, id domain.UserID, hash string) error {
	res, err := db.write.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, id)
	if err != nil {
		return fmt.Errorf("sqlite: set password of %d: %w", id, err)
	}
	return mustAffect(res, fmt.Sprintf("user %d", id))
}

// SetLang stores a user's language choice.
func (db *DB) SetLang(ctx context.Context, id domain.UserID, lang string) error {
	res, err := db.write.ExecContext(ctx, "UPDATE users SET lang = ? WHERE id = ?", lang, id)
	if err != nil {
		return fmt.Errorf("sqlite: set lang of %d: %w", id, err)
	}
	return mustAffect(res, fmt.Sprintf("user %d", id))
}
