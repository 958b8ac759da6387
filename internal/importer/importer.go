// Package importer applies CSV imports (package csvimport) to a school:
// a dry run that reports every row problem, then an all-or-nothing apply
// that creates accounts with generated initial passwords.
//
// It is shared by the admin page and the `preau import` command so both
// behave the same way.
package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	"preau/internal/csvimport"
	"preau/internal/domain"
	"preau/internal/i18n"
	"preau/internal/password"
)

// Kind of file.
type Kind string

const (
	Users     Kind = "users"
	Timetable Kind = "timetable"
)

// Credential is a created account's initial password, shown once to the
// admin who imported it.
type Credential struct {
	Login, Name, Password string
}

// Result is what an import did, or would do.
type Result struct {
	Report      csvimport.Report
	Rows        int
	Applied     bool
	Counts      domain.ImportResult
	Credentials []Credential
}

// Progress is told how many of the new accounts' passwords are hashed: the
// slow part of a large import (about 10 ms of CPU each).
type Progress func(done, total int)

// Run parses data as a file of kind; when apply is set and the report is
// clean, it applies it in one transaction. A file with any problem
// imports nothing. progress may be nil.
func Run(ctx context.Context, store domain.Store, hasher *password.Hasher, school domain.SchoolID, kind Kind, data []byte, maxBytes int64, apply bool, progress Progress) (Result, error) {
	var res Result
	var roster domain.Roster
	var err error
	switch kind {
	case Users:
		roster.Users, res.Report, err = csvimport.ParseUsers(bytes.NewReader(data), maxBytes)
	case Timetable:
		roster.Timetable, res.Report, err = csvimport.ParseTimetable(bytes.NewReader(data), maxBytes)
	default:
		return res, domain.Invalid("kind", "err.import_kind")
	}
	if err != nil {
		return res, fmt.Errorf("importer: parse %s: %w", kind, err)
	}
	res.Rows = res.Report.Rows
	if !res.Report.OK() {
		return res, nil
	}
	existing, err := store.Users(ctx, school, "")
	if err != nil {
		return res, fmt.Errorf("importer: existing users: %w", err)
	}
	known := map[string]bool{}
	for _, u := range existing {
		known[u.Login] = true
	}
	if kind == Timetable {
		// Teachers named in the timetable must exist already.
		for _, s := range roster.Timetable {
			if s.TeacherLogin != "" && !known[s.TeacherLogin] {
				res.Report.Problems = append(res.Report.Problems, csvimport.Problem{Line: s.Line, Field: "teacher", Key: "import.unknown_teacher", Args: []any{s.TeacherLogin}})
			}
		}
		slices.SortStableFunc(res.Report.Problems, func(a, b csvimport.Problem) int { return a.Line - b.Line })
		if !res.Report.OK() {
			return res, nil
		}
	}
	if !apply {
		return res, nil
	}
	creds, err := setPasswords(ctx, hasher, roster.Users, known, progress)
	if err != nil {
		return res, err
	}
	counts, err := store.ImportRoster(ctx, school, roster)
	if err != nil {
		return res, fmt.Errorf("importer: apply %s: %w", kind, err)
	}
	res.Applied, res.Counts, res.Credentials = true, counts, creds
	return res, nil
}

// setPasswords gives each new account a random password and its hash,
// hashing in parallel (the hasher bounds the concurrency).
func setPasswords(ctx context.Context, hasher *password.Hasher, users []domain.RosterUser, known map[string]bool, progress Progress) ([]Credential, error) {
	var creds []Credential
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	total, done := 0, 0
	for i := range users {
		if !known[users[i].Login] {
			total++
		}
	}
	if progress != nil {
		progress(0, total)
	}
	for i := range users {
		if known[users[i].Login] {
			continue
		}
		pw := NewPassword()
		creds = append(creds, Credential{Login: users[i].Login, Name: users[i].DisplayName, Password: pw})
		wg.Add(1)
		go func(u *domain.RosterUser) {
			defer wg.Done()
			h, err := hasher.Hash(ctx, pw)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("importer: hash password of %q: %w", u.Login, err)
			}
			u.PasswordHash = h
			done++
			if progress != nil {
				progress(done, total)
			}
		}(&users[i])
	}
	wg.Wait()
	return creds, firstErr
}

// passwordAlphabet avoids characters that are confused when read aloud or
// copied from paper (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewPassword returns a random 12-character password (about 70 bits).
func NewPassword() string {
	b := make([]byte, 12)
	for i := range b {
		b[i] = passwordAlphabet[randIndex(len(passwordAlphabet))]
	}
	return string(b)
}

func randIndex(n int) int {
	// Rejection sampling keeps the distribution uniform.
	limit := 256 - 256%n
	var buf [1]byte
	for {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(fmt.Sprintf("importer: crypto/rand failed: %v", err))
		}
		if int(buf[0]) < limit {
			return int(buf[0]) % n
		}
	}
}

// Describe renders a problem in English for the command line.
func Describe(p csvimport.Problem) string { return i18n.T("en", p.Key, p.Args...) }
