package domain

import (
	"strings"
	"time"
)

// Identifier types keep a user id from being passed where a class id belongs.
type (
	SchoolID int64
	ClassID  int64
	GroupID  int64
	UserID   int64
)

// Role is what a user is to the school. It decides what they may see and do.
type Role string

const (
	RoleStudent Role = "student"
	RoleParent  Role = "parent"
	RoleTeacher Role = "teacher"
	RoleAdmin   Role = "admin" // school administration: principal, CPE, secretariat
)

// Roles lists every role, in the order pages show them.
var Roles = []Role{RoleStudent, RoleParent, RoleTeacher, RoleAdmin}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleStudent, RoleParent, RoleTeacher, RoleAdmin:
		return true
	}
	return false
}

// Staff reports whether r is school staff (teachers and administration).
func (r Role) Staff() bool { return r == RoleTeacher || r == RoleAdmin }

// School is one establishment. Everything else belongs to exactly one school.
type School struct {
	ID       SchoolID
	Name     string
	Timezone string // IANA name, e.g. Europe/Paris: "today" is computed in it
}

// Location returns the school's time zone, falling back to Europe/Paris.
func (s School) Location() *time.Location {
	if loc, err := time.LoadLocation(s.Timezone); err == nil && s.Timezone != "" {
		return loc
	}
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.UTC
	}
	return loc
}

// Class is a division ("3e B") that students belong to for the year.
type Class struct {
	ID       ClassID
	SchoolID SchoolID
	Name     string
}

// Group is a set of students that may cut across classes ("Allemand LV2").
type Group struct {
	ID       GroupID
	SchoolID SchoolID
	Name     string
}

// User is anyone who signs in. Students belong to one class and any number
// of groups; parents are linked to their children; teachers teach classes
// and groups.
type User struct {
	ID          UserID
	SchoolID    SchoolID
	Login       string
	DisplayName string
	Role        Role
	Lang        string // "fr", "en" or "" for the browser's preference
	Email       string
	Disabled    bool
	CreatedAt   time.Time
}

// NewUser is what creating a user takes. PasswordHash is an encoded
// argon2id hash (package auth), never a password.
type NewUser struct {
	SchoolID     SchoolID
	Login        string
	DisplayName  string
	Role         Role
	Lang         string
	Email        string
	PasswordHash string
}

// NormalizeLogin returns the canonical form of a login: logins compare
// case-insensitively and without surrounding spaces.
func NormalizeLogin(login string) string {
	return strings.ToLower(strings.TrimSpace(login))
}

// ValidLogin reports whether login (normalised) is acceptable: 2 to 64
// characters among letters, digits, dot, dash and underscore.
func ValidLogin(login string) bool {
	if len(login) < 2 || len(login) > 64 {
		return false
	}
	for _, c := range login {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Teaching says a teacher teaches a subject to a class or to a group.
type Teaching struct {
	TeacherID UserID
	Audience  Audience
	Subject   string
}

// Audience is who a piece of work is for: one class or one group.
// Exactly one of the two is set.
type Audience struct {
	ClassID ClassID
	GroupID GroupID
}

// Valid reports whether exactly one of class and group is set.
func (a Audience) Valid() bool { return (a.ClassID != 0) != (a.GroupID != 0) }

// Membership is everything that decides what a user may see: the classes and
// groups they study in or teach, and, for parents, their children.
// Services load it once per request from the store.
type Membership struct {
	User     User
	Classes  []ClassID // student: their class; teacher: classes taught
	Groups   []GroupID // student: their groups; teacher: groups taught
	Children []User    // parent only
}

// Sees reports whether the membership includes the audience.
func (m Membership) Sees(a Audience) bool {
	for _, c := range m.Classes {
		if a.ClassID != 0 && a.ClassID == c {
			return true
		}
	}
	for _, g := range m.Groups {
		if a.GroupID != 0 && a.GroupID == g {
			return true
		}
	}
	return false
}
