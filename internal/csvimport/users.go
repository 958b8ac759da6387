package csvimport

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"preau/internal/domain"
)

var userSchema = schema{
	aliases: map[string]string{
		"role": "role", "profil": "role", // "rôle" folds to "role"
		"login": "login", "identifiant": "login",
		"name": "name", "nom": "name",
		"class": "class", "classe": "class",
		"groups": "groups", "groupes": "groups",
		"children": "children", "enfants": "children",
		"teaches": "teaches", "enseigne": "teaches",
		"email": "email", "courriel": "email", "mail": "email",
	},
	required: []string{"role", "login", "name"},
}

// roles maps folded role names to roles.
var roles = map[string]domain.Role{
	"student": domain.RoleStudent, "eleve": domain.RoleStudent,
	"parent": domain.RoleParent, "responsable": domain.RoleParent,
	"teacher": domain.RoleTeacher, "enseignant": domain.RoleTeacher,
	"professeur": domain.RoleTeacher, "prof": domain.RoleTeacher,
	"admin": domain.RoleAdmin, "administration": domain.RoleAdmin, "personnel": domain.RoleAdmin,
}

// ParseUsers reads a users file. Returns the roster users (PasswordHash left
// empty) and the report. The users are returned only when the report is OK.
func ParseUsers(r io.Reader, maxBytes int64) ([]domain.RosterUser, Report, error) {
	var users []domain.RosterUser
	firstLine := map[string]int{} // login -> line of its first row
	rep, err := scan(r, maxBytes, userSchema, func(r row) {
		users = append(users, parseUser(r, firstLine))
	})
	if err == nil {
		resolve(users, &rep)
	}
	return finish(users, rep, err)
}

// parseUser reads one row. Children and teachings are checked by resolve,
// once every student of the file is known.
func parseUser(r row, firstLine map[string]int) domain.RosterUser {
	u := domain.RosterUser{Line: r.line}
	if v := r.text("role", true, 0); v != "" {
		var ok bool
		if u.Role, ok = roles[fold(v)]; !ok {
			r.problem("role", keyBadRole, shorten(v))
		}
	}
	if v := r.text("login", true, 0); v != "" {
		u.Login = domain.NormalizeLogin(v)
		first, dup := firstLine[u.Login]
		switch {
		case !domain.ValidLogin(u.Login):
			r.problem("login", keyBadLogin, shorten(v))
		case dup:
			r.problem("login", keyDuplicateLogin, u.Login, first)
		default:
			firstLine[u.Login] = r.line
		}
	}
	u.DisplayName = r.text("name", true, maxNameLen)
	if u.Email = r.get("email"); u.Email != "" && !validEmail(u.Email) {
		r.problem("email", keyBadEmail, shorten(u.Email))
	}

	switch u.Role {
	case domain.RoleStudent:
		if u.Class = r.text("class", false, maxWordLen); u.Class == "" {
			r.problem("class", keyClassRequired)
		}
		u.Groups = r.list("groups", maxWordLen)
	case domain.RoleParent:
		u.Children = r.list("children", 0)
		for i, c := range u.Children {
			u.Children[i] = domain.NormalizeLogin(c)
		}
		u.Children = compact(u.Children)
	case domain.RoleTeacher:
		u.Teaches = parseTeaches(r)
	}
	if u.Role != "" && u.Role != domain.RoleParent && r.get("children") != "" {
		r.problem("children", keyChildrenNotPar)
	}
	if u.Role != "" && u.Role != domain.RoleTeacher && r.get("teaches") != "" {
		r.problem("teaches", keyTeachesNotTeach)
	}
	return u
}

// parseTeaches reads the items "AUDIENCE:Subject" of the teaches column.
// The audience is left in Class until resolve knows whether it is a class
// or a group.
func parseTeaches(r row) []domain.RosterTeaching {
	var ts []domain.RosterTeaching
	for _, item := range r.list("teaches", 0) {
		audience, subject, ok := strings.Cut(item, ":")
		audience, subject = strings.TrimSpace(audience), strings.TrimSpace(subject)
		switch {
		case !ok || audience == "" || subject == "":
			r.problem("teaches", keyBadTeaching, shorten(item))
			continue
		case max(utf8.RuneCountInString(audience), utf8.RuneCountInString(subject)) > maxWordLen:
			r.problem("teaches", keyTooLong, r.titles["teaches"], maxWordLen)
		}
		ts = append(ts, domain.RosterTeaching{Class: audience, Subject: subject})
	}
	return compact(ts)
}

// resolve checks that every child is a student of the file and decides
// whether each teaching's audience is a class or a group.
func resolve(users []domain.RosterUser, rep *Report) {
	students, classes, groups := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, u := range users {
		if u.Role == domain.RoleStudent {
			students[u.Login], classes[u.Class] = true, true
			for _, g := range u.Groups {
				groups[g] = true
			}
		}
	}
	delete(classes, "")
	for i := range users {
		u := &users[i]
		for _, c := range u.Children {
			if !students[c] {
				rep.add(u.Line, "children", keyUnknownChild, shorten(c))
			}
		}
		for j, t := range u.Teaches {
			switch name := t.Class; {
			case classes[name]:
			case groups[name]:
				u.Teaches[j] = domain.RosterTeaching{Group: name, Subject: t.Subject}
			default:
				rep.add(u.Line, "teaches", keyUnknownAudience, shorten(name))
			}
		}
	}
}

// validEmail is deliberately loose: one "@" with something on each side and
// no spaces. Whether the address works is for the mail server to say.
func validEmail(s string) bool {
	local, host, ok := strings.Cut(s, "@")
	return ok && local != "" && host != "" && !strings.Contains(host, "@") &&
		!strings.ContainsFunc(s, unicode.IsSpace)
}
