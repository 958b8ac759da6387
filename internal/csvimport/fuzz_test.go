package csvimport

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"preau/internal/domain"
)

// fuzzMax is the size limit of fuzzed files: small, to also reach the limit.
const fuzzMax = 4096

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte(goodUsers))
	for _, tt := range badUsers {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, rep, err := ParseUsers(bytes.NewReader(data), fuzzMax)
		if tooLarge(t, data, err) {
			return
		}
		checkReport(t, data, rep)
		if !rep.OK() {
			if users != nil {
				t.Fatalf("%d users returned with problems", len(users))
			}
			return
		}
		if len(users) != rep.Rows {
			t.Fatalf("%d users for %d rows", len(users), rep.Rows)
		}
		logins := map[string]bool{}
		for _, u := range users {
			student := u.Role == domain.RoleStudent
			if !domain.ValidLogin(u.Login) || logins[u.Login] || !u.Role.Valid() ||
				u.DisplayName == "" || utf8.RuneCountInString(u.DisplayName) > maxNameLen ||
				student == (u.Class == "") || !student && u.Groups != nil ||
				u.Role != domain.RoleParent && u.Children != nil ||
				u.Role != domain.RoleTeacher && u.Teaches != nil {
				t.Fatalf("bad user %#v", u)
			}
			logins[u.Login] = true
			for _, tc := range u.Teaches {
				if (tc.Class == "") == (tc.Group == "") || tc.Subject == "" {
					t.Fatalf("bad teaching %#v", tc)
				}
			}
		}
		for _, u := range users {
			for _, c := range u.Children {
				if !logins[c] {
					t.Fatalf("child %q of %q is not in the file", c, u.Login)
				}
			}
		}
	})
}

func FuzzParseTimetable(f *testing.F) {
	f.Add([]byte(goodSlots))
	for _, tt := range badSlots {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		slots, rep, err := ParseTimetable(bytes.NewReader(data), fuzzMax)
		if tooLarge(t, data, err) {
			return
		}
		checkReport(t, data, rep)
		if !rep.OK() {
			if slots != nil {
				t.Fatalf("%d slots returned with problems", len(slots))
			}
			return
		}
		if len(slots) != rep.Rows {
			t.Fatalf("%d slots for %d rows", len(slots), rep.Rows)
		}
		for _, s := range slots {
			if _, ok := parseClock(s.Start); !ok || s.End <= s.Start || len(s.End) != 5 ||
				s.Weekday < 0 || s.Weekday > 6 || s.Class == "" || s.Subject == "" ||
				s.TeacherLogin != "" && !domain.ValidLogin(s.TeacherLogin) {
				t.Fatalf("bad slot %#v", s)
			}
		}
	})
}

// tooLarge checks that err is nil, or ErrTooLarge for data over the limit,
// and reports whether it was the latter.
func tooLarge(t *testing.T, data []byte, err error) bool {
	t.Helper()
	over := len(data) > fuzzMax
	if over != errors.Is(err, domain.ErrTooLarge) || (err != nil && !over) {
		t.Fatalf("%d bytes: err %v", len(data), err)
	}
	return over
}

// checkReport checks what holds for any report of the file data: problems
// are on lines of the file, in order, with known keys, and no more rows were
// read than the file has lines.
//
// A problem's line is at most the file's number of lines, not Rows+1: empty
// lines are skipped without counting as rows, and a quoted field may span
// several lines.
func checkReport(t *testing.T, data []byte, rep Report) {
	t.Helper()
	n := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n")) + 1
	if rep.Rows < 0 || rep.Rows > max(n-1, 0) || rep.Rows > maxRows {
		t.Fatalf("Rows = %d for %d lines", rep.Rows, n)
	}
	if rep.OK() != (len(rep.Problems) == 0) {
		t.Fatal("OK disagrees with Problems")
	}
	for i, p := range rep.Problems {
		if p.Line < 1 || p.Line > n {
			t.Fatalf("problem %#v outside lines 1–%d", p, n)
		}
		if i > 0 && p.Line < rep.Problems[i-1].Line {
			t.Fatalf("problems out of order: %#v", rep.Problems)
		}
		if !slices.Contains(Keys, p.Key) {
			t.Fatalf("unknown key in %#v", p)
		}
		if p.Field != "" && !isColumn(p.Field) {
			t.Fatalf("field %q is not a column name", p.Field)
		}
	}
}

func isColumn(name string) bool {
	for _, s := range []schema{userSchema, slotSchema} {
		for _, col := range s.aliases {
			if col == name {
				return true
			}
		}
	}
	return false
}
