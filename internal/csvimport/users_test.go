package csvimport

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"preau/internal/domain"
)

// file joins lines with "\n" and ends the last one.
func file(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

const big = 1 << 20

// p builds an expected problem.
func p(line int, field, key string, args ...any) Problem {
	return Problem{Line: line, Field: field, Key: key, Args: args}
}

const usersHeader = "role;login;name;class;groups;children;teaches;email"

// goodUsers is a users file using every column, and goodRoster what it gives.
var (
	goodUsers = file(
		"Rôle;Identifiant;Nom;Classe;Groupes;Enfants;Enseigne;Courriel",
		"élève;Lea.Martin;Léa Martin;3e B;Latin|Chorale|Latin;;;",
		"Eleve; tom_b ;  Tom Bernard ;4e A;;;;",
		"responsable;p.martin;Paul Martin;;;lea.martin|TOM_B|;;paul@example.org",
		"PROF;m.durand;Marie Durand;;;;3e B:Mathématiques|Latin:Latin| 4e A : Histoire ;",
		"administration;cpe;Conseiller principal d'éducation;;;;;",
	)
	goodRoster = []domain.RosterUser{
		{Line: 2, Login: "lea.martin", DisplayName: "Léa Martin", Role: domain.RoleStudent, Class: "3e B", Groups: []string{"Latin", "Chorale"}},
		{Line: 3, Login: "tom_b", DisplayName: "Tom Bernard", Role: domain.RoleStudent, Class: "4e A"},
		{Line: 4, Login: "p.martin", DisplayName: "Paul Martin", Role: domain.RoleParent, Email: "paul@example.org", Children: []string{"lea.martin", "tom_b"}},
		{Line: 5, Login: "m.durand", DisplayName: "Marie Durand", Role: domain.RoleTeacher, Teaches: []domain.RosterTeaching{
			{Class: "3e B", Subject: "Mathématiques"}, {Group: "Latin", Subject: "Latin"}, {Class: "4e A", Subject: "Histoire"},
		}},
		{Line: 6, Login: "cpe", DisplayName: "Conseiller principal d'éducation", Role: domain.RoleAdmin},
	}
)

func TestParseUsersGood(t *testing.T) {
	tests := []struct {
		name, in string
		want     []domain.RosterUser
	}{
		{"semicolons, French header", goodUsers, goodRoster},
		{"commas, English header, CRLF, quotes", strings.Join([]string{
			"ROLE , Login,NAME,class,email",
			`student,ana,"Dupont, Ana","3e ""B""",`,
			`teacher,bob,Bob,"ignored, since bob is a teacher",bob@x.fr`,
		}, "\r\n") + "\r\n", []domain.RosterUser{
			{Line: 2, Login: "ana", DisplayName: "Dupont, Ana", Role: domain.RoleStudent, Class: `3e "B"`},
			{Line: 3, Login: "bob", DisplayName: "Bob", Role: domain.RoleTeacher, Email: "bob@x.fr"},
		}},
		{"BOM, blank lines, empty trailing column", "\uFEFF" + file(
			"", "name;login;role;", "", ";;;", "Ana;ana;admin;", "  ;\t; ;",
		), []domain.RosterUser{{Line: 5, Login: "ana", DisplayName: "Ana", Role: domain.RoleAdmin}}},
		{"Windows-1252", "r\xf4le;login;nom;classe\r\n\xe9l\xe8ve;elodie;\xc9lodie C\x9cur \x80;3e\xa0B\r\n", []domain.RosterUser{
			{Line: 2, Login: "elodie", DisplayName: "Élodie Cœur €", Role: domain.RoleStudent, Class: "3e\u00a0B"},
		}},
		{"old Mac line ends", "role;login;name\rparent;pa;Pa\rpersonnel;st;St\r", []domain.RosterUser{
			{Line: 2, Login: "pa", DisplayName: "Pa", Role: domain.RoleParent},
			{Line: 3, Login: "st", DisplayName: "St", Role: domain.RoleAdmin},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep, err := ParseUsers(strings.NewReader(tt.in), big)
			if err != nil || !rep.OK() {
				t.Fatalf("err %v, problems %#v", err, rep.Problems)
			}
			if rep.Rows != len(tt.want) {
				t.Errorf("Rows = %d, want %d", rep.Rows, len(tt.want))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// badUsers are users files with problems, each with every problem expected.
var badUsers = []struct {
	name, in string
	want     []Problem
}{
	{"empty file", "", []Problem{p(1, "", keyEmpty)}},
	{"blank file", "\n \n;;\n", []Problem{p(1, "", keyEmpty)}},
	{"header only", file(usersHeader), []Problem{p(1, "", keyEmpty)}},
	{"header after blank lines, no rows", file("", "", usersHeader), []Problem{p(3, "", keyEmpty)}},
	{"quote in header", file(`role;"login;name`), []Problem{p(1, "", keyBadQuotes)}},
	{"bare quote in a row", file(usersHeader, `student;ana;Ana "la" B;3e;;;;`, "admin;bo;Bo;;;;;"),
		[]Problem{p(2, "", keyBadQuotes)}},
	{"unterminated quote", file(usersHeader, "admin;bo;Bo;;;;;", `admin;ab;"Ab;;;;;`, "admin;cd;Cd;;;;;"),
		[]Problem{p(3, "", keyBadQuotes)}},
	{"unknown and repeated columns", file("role;login;name;age;Nom;", "admin;ab;Ab;12;Ab;"), []Problem{
		p(1, "", keyUnknownColumn, "age"), p(1, "name", keyDuplicateColumn, "Nom"),
	}},
	{"missing columns stop the reading", file("login;classe", "ab;3e"), []Problem{
		p(1, "role", keyMissingColumn, "role"), p(1, "name", keyMissingColumn, "name"),
	}},
	{"field count", file("role,login,name", "admin,ab", "admin,cd,Cd,", "admin,ef,Ef"), []Problem{
		p(2, "", keyFieldCount, 2, 3), p(3, "", keyFieldCount, 4, 3),
	}},
	{"required", file("Profil;Identifiant;Nom", ";;", " ;ab; ", "admin; ;Ab"), []Problem{
		p(3, "role", keyRequired, "Profil"), p(3, "name", keyRequired, "Nom"), p(4, "login", keyRequired, "Identifiant"),
	}},
	{"too long", file(usersHeader,
		"admin;ab;"+strings.Repeat("é", 121)+";;;;;",
		"admin;cd;"+strings.Repeat("é", 120)+";;;;;",
		"student;ef;Ef;"+strings.Repeat("x", 81)+";A|"+strings.Repeat("y", 81)+";;;",
		"teacher;gh;Gh;;;;"+strings.Repeat("z", 81)+":Maths;",
	), []Problem{
		p(2, "name", keyTooLong, "name", 120),
		p(4, "class", keyTooLong, "class", 80), p(4, "groups", keyTooLong, "groups", 80),
		p(5, "teaches", keyTooLong, "teaches", 80), p(5, "teaches", keyUnknownAudience, strings.Repeat("z", 39)+"…"),
	}},
	{"control characters", file("role;login;name;extra", "admin;ab;\"A\tb\";\x01", "admin;c\x00d;Cd;", "admin;ef;\u202eEf;"), []Problem{
		p(1, "", keyUnknownColumn, "extra"),
		p(2, "name", keyControlChar, "name"),
		p(3, "login", keyControlChar, "login"), p(3, "login", keyBadLogin, "c\x00d"),
		p(4, "name", keyControlChar, "name"),
	}},
	{"roles", file("role;login;name", "pupil;ab;Ab", "élève ;cd;Cd", "Élève;ef;Ef"), []Problem{
		p(2, "role", keyBadRole, "pupil"), p(3, "class", keyClassRequired), p(4, "class", keyClassRequired),
	}},
	{"logins", file("role;login;name", "admin;a;A", "admin;élodie;E", "admin;AB;Ab", "admin;ab;Ab", "admin; Ab ;Ab", "admin;x y;X"), []Problem{
		p(2, "login", keyBadLogin, "a"), p(3, "login", keyBadLogin, "élodie"),
		p(5, "login", keyDuplicateLogin, "ab", 4), p(6, "login", keyDuplicateLogin, "ab", 4),
		p(7, "login", keyBadLogin, "x y"),
	}},
	{"emails", file("role;login;name;mail", "admin;a1;A;a@b", "admin;a2;A;ab", "admin;a3;A;a@b@c", "admin;a4;A;@b", "admin;a5;A;a@", "admin;a6;A;a b@c"), []Problem{
		p(3, "email", keyBadEmail, "ab"), p(4, "email", keyBadEmail, "a@b@c"), p(5, "email", keyBadEmail, "@b"),
		p(6, "email", keyBadEmail, "a@"), p(7, "email", keyBadEmail, "a b@c"),
	}},
	{"role columns", file(usersHeader,
		"student;s1;S;3e;G;p1;3e:Maths;",
		"parent;p1;P;3e;G;s1;;",
		"admin;a1;A;;;s1;3e:Maths;",
		"teacher;t1;T;3e;G;s1;3e:Maths|G:Chant;",
	), []Problem{
		p(2, "children", keyChildrenNotPar), p(2, "teaches", keyTeachesNotTeach),
		p(4, "children", keyChildrenNotPar), p(4, "teaches", keyTeachesNotTeach),
		p(5, "children", keyChildrenNotPar),
	}},
	{"children", file(usersHeader,
		"student;s1;S;3e;;;;",
		"teacher;t1;T;;;;;",
		"parent;p1;P;;;s1|t1|nobody|S1;;",
		"parent;p2;P;;;p1|;;",
	), []Problem{
		p(4, "children", keyUnknownChild, "t1"), p(4, "children", keyUnknownChild, "nobody"),
		p(5, "children", keyUnknownChild, "p1"),
	}},
	{"teachings", file(usersHeader,
		"teacher;t1;T;;;;3e:Maths|Latin:Latin|4e:Maths|3e|:Maths|3e:|Chorale:Chant;",
		"student;s1;S;3e;Latin;;;",
		"parent;p1;P;4e;Chorale;;;",
	), []Problem{
		p(2, "teaches", keyBadTeaching, "3e"), p(2, "teaches", keyBadTeaching, ":Maths"), p(2, "teaches", keyBadTeaching, "3e:"),
		p(2, "teaches", keyUnknownAudience, "4e"), p(2, "teaches", keyUnknownAudience, "Chorale"),
	}},
	{"problems are sorted by line, values shortened", file("role;login;name;children",
		"parent;p1;P;"+strings.Repeat("k", 50),
		"alien;"+strings.Repeat("é", 50)+";X;",
	), []Problem{
		p(2, "children", keyUnknownChild, strings.Repeat("k", 39)+"…"),
		p(3, "role", keyBadRole, "alien"), p(3, "login", keyBadLogin, strings.Repeat("é", 39)+"…"),
	}},
	{"multi-line quoted field", file("role;login;name;groups",
		`student;ana;Ana;"A|`, `B"`,
		"student;bob;Bob;",
	), []Problem{
		p(2, "groups", keyControlChar, "groups"), p(2, "class", keyClassRequired), p(4, "class", keyClassRequired),
	}},
}

func TestParseUsersBad(t *testing.T) {
	for _, tt := range badUsers {
		t.Run(tt.name, func(t *testing.T) {
			got, rep, err := ParseUsers(strings.NewReader(tt.in), big)
			if err != nil {
				t.Fatal(err)
			}
			if got != nil || rep.OK() {
				t.Errorf("got %d users, OK %v: want none when there are problems", len(got), rep.OK())
			}
			if !reflect.DeepEqual(rep.Problems, tt.want) {
				t.Errorf("problems\n%s\nwant\n%s", show(rep.Problems), show(tt.want))
			}
			checkReport(t, []byte(tt.in), rep)
		})
	}
}

// show prints problems one a line, for failure messages.
func show(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\t%d %q %s %#v\n", p.Line, p.Field, p.Key, p.Args)
	}
	return b.String()
}
