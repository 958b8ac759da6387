// Package demo seeds a fictional school for `preau demo` and for load tests:
// classes, groups, teachers, students with parents, a weekly timetable, a
// week of homework around today, hand-ins and messages.
//
// Every demo account has the password "demo". It is used only by the demo
// command: `preau serve` never seeds.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"preau/internal/domain"
	"preau/internal/password"
)

// Password is every demo account's password.
const Password = "demo"

// Size is how large a school to seed.
type Size struct {
	Classes  int
	Students int // per class
}

// Small is the default demo: three classes.
var Small = Size{Classes: 3, Students: 12}

// Account is a demo login to print.
type Account struct {
	Login, Role, Name string
}

// Accounts are the well-known demo logins.
var Accounts = []Account{
	{"admin", "admin", "Mme Nadia Benali (principale)"},
	{"prof", "teacher", "M. Julien Martin (mathématiques)"},
	{"eleve", "student", "Léa Moreau"},
	{"parent", "parent", "Sophie Moreau"},
}

var subjects = []struct{ Name, Teacher string }{
	{"Mathématiques", "Martin"}, {"Français", "Durand"}, {"Histoire-géographie", "Bernard"}, {"Anglais", "Petit"},
	{"SVT", "Roux"}, {"Physique-chimie", "Fournier"}, {"EPS", "Girard"}, {"Arts plastiques", "Lambert"},
}

var firstNames = strings.Fields("Léa Hugo Emma Louis Jade Gabriel Louise Raphaël Alice Arthur Chloé Jules Inès Adam Manon Lucas Camille Nathan Zoé Ethan Sarah Noah Lina Paul Rose Sacha Anna Tom Mila Yanis Lou Maël Nina Liam Eva Théo Ambre Enzo Julia Mohamed Clara Aaron Léna Nolan Romane Timéo Agathe Ayoub Iris Malo")
var lastNames = strings.Fields("Moreau Laurent Simon Michel Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller Lefèvre Faure André Mercier Blanc Guerin Boyer Garnier Chevalier François Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer")

// className names class i of n: levels 6e to 3e, letters A, B, C…
func className(i, n int) string {
	levels := []string{"6e", "5e", "4e", "3e"}
	perLevel := (n + len(levels) - 1) / len(levels)
	return fmt.Sprintf("%s %c", levels[i/perLevel], 'A'+rune(i%perLevel))
}

// Seed fills an empty store with a demo school of the given size, relative
// to now, and returns the school.
func Seed(ctx context.Context, store domain.Store, hasher *password.Hasher, size Size, now time.Time, loc *time.Location) (domain.School, error) {
	school, err := store.CreateSchool(ctx, domain.School{Name: "Collège Lucie-Aubrac", Timezone: loc.String()})
	if err != nil {
		return school, fmt.Errorf("demo: school: %w", err)
	}
	// One hash for every account: the demo password is public anyway, and
	// hashing thousands of accounts would make the demo slow to start.
	hash, err := hasher.Hash(ctx, Password)
	if err != nil {
		return school, fmt.Errorf("demo: hash: %w", err)
	}
	rng := rand.New(rand.NewPCG(42, uint64(size.Classes*1000+size.Students)))
	r := roster(size, hash, rng)
	if _, err := store.ImportRoster(ctx, school.ID, r); err != nil {
		return school, fmt.Errorf("demo: roster: %w", err)
	}
	if err := seedWork(ctx, store, school, size, now, loc); err != nil {
		return school, err
	}
	return school, nil
}

// teacherLogin is the teacher of subject s for class c: one teacher per
// subject for every five classes; "prof" teaches maths to the first five.
func teacherLogin(s, c int) string {
	if s == 0 && c < 5 {
		return "prof"
	}
	return fmt.Sprintf("%s.%d", strings.ToLower(strings.NewReplacer("é", "e", "è", "e").Replace(subjects[s].Teacher)), c/5+1)
}

func roster(size Size, hash string, rng *rand.Rand) domain.Roster {
	var r domain.Roster
	line := 1
	add := func(u domain.RosterUser) {
		line++
		u.Line, u.PasswordHash = line, hash
		r.Users = append(r.Users, u)
	}
	add(domain.RosterUser{Login: "admin", DisplayName: Accounts[0].Name, Role: domain.RoleAdmin, Email: "principale@college-demo.fr"})
	add(domain.RosterUser{Login: "cpe", DisplayName: "M. Karim Haddad (CPE)", Role: domain.RoleAdmin})
	// Students first, so teachers' teachings can name their classes and groups.
	for c := range size.Classes {
		cn := className(c, size.Classes)
		for i := range size.Students {
			login := fmt.Sprintf("e%d.%d", c+1, i+1)
			first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
			var groups []string
			if c == 0 && i == 0 {
				login, first, last = "eleve", "Léa", "Moreau"
			}
			if i%3 == 0 {
				groups = []string{"Latin"}
			}
			add(domain.RosterUser{Login: login, DisplayName: first + " " + last, Role: domain.RoleStudent, Class: cn, Groups: groups})
			plogin := "p." + login
			pname := firstNames[rng.IntN(len(firstNames))] + " " + last
			if login == "eleve" {
				plogin, pname = "parent", "Sophie Moreau"
			}
			add(domain.RosterUser{Login: plogin, DisplayName: pname, Role: domain.RoleParent, Children: []string{login}})
		}
	}
	seen := map[string]int{}
	for c := range size.Classes {
		cn := className(c, size.Classes)
		for s := range subjects {
			login := teacherLogin(s, c)
			idx, ok := seen[login]
			if !ok {
				name := fmt.Sprintf("%s %s (%s)", []string{"M.", "Mme"}[(s+c/5)%2], subjects[s].Teacher, strings.ToLower(subjects[s].Name))
				if login == "prof" {
					name = Accounts[1].Name
				}
				add(domain.RosterUser{Login: login, DisplayName: name, Role: domain.RoleTeacher})
				idx = len(r.Users) - 1
				seen[login] = idx
			}
			r.Users[idx].Teaches = append(r.Users[idx].Teaches, domain.RosterTeaching{Class: cn, Subject: subjects[s].Name})
		}
	}
	add(domain.RosterUser{Login: "latin", DisplayName: "Mme Claire Dubois (latin)", Role: domain.RoleTeacher,
		Teaches: []domain.RosterTeaching{{Group: "Latin", Subject: "Latin"}}})
	r.Timetable = timetable(size)
	return r
}

// timetable gives each class 6 lessons a day (4 on Wednesday), rotating subjects.
func timetable(size Size) []domain.RosterSlot {
	starts := []string{"08:00", "09:00", "10:15", "11:15", "13:30", "14:30", "15:45"}
	var slots []domain.RosterSlot
	line := 1
	for c := range size.Classes {
		cn := className(c, size.Classes)
		k := c
		for _, day := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday} {
			n := 6
			if day == time.Wednesday {
				n = 4
			}
			for i := range n {
				start := starts[i]
				if i >= 4 {
					start = starts[i+1]
				}
				end := addHour(start)
				s := k % len(subjects)
				k++
				line++
				slot := domain.RosterSlot{Line: line, Class: cn, Weekday: day, Start: start, End: end, Subject: subjects[s].Name,
					TeacherLogin: teacherLogin(s, c), Room: fmt.Sprintf("%c%d", 'A'+rune(c%4), 10+s)}
				if day == time.Thursday && i == 3 {
					slot.Subject, slot.TeacherLogin, slot.Group, slot.Room = "Latin", "latin", "Latin", "CDI"
				}
				slots = append(slots, slot)
			}
		}
	}
	return slots
}

// schoolDay moves a weekend day to the next Monday.
func schoolDay(t time.Time) time.Time {
	switch t.Weekday() {
	case time.Saturday:
		return t.AddDate(0, 0, 2)
	case time.Sunday:
		return t.AddDate(0, 0, 1)
	}
	return t
}

func addHour(hm string) string {
	t, _ := time.Parse("15:04", hm)
	return t.Add(time.Hour).Format("15:04")
}

var homework = []struct{ Title, Desc string }{
	{"Exercices 12 à 15 p. 84", "Rédiger les solutions sur une copie double. Justifier chaque étape."},
	{"Apprendre la leçon", "Savoir refaire les exemples du cours sans regarder."},
	{"Rédaction", "Sujet : racontez une journée de classe à distance. 20 lignes minimum."},
	{"Fiche de révision", "Préparer une fiche d'une page sur le chapitre en cours."},
	{"Exposé", "Préparer 3 minutes de présentation orale, support au choix."},
	{"Lecture", "Lire le chapitre 3 et noter trois questions."},
}

// seedWork publishes homework for the week around now, a few hand-ins and messages.
func seedWork(ctx context.Context, store domain.Store, school domain.School, size Size, now time.Time, loc *time.Location) error {
	classes, err := store.Classes(ctx, school.ID)
	if err != nil {
		return fmt.Errorf("demo: classes: %w", err)
	}
	byName := map[string]domain.Class{}
	for _, c := range classes {
		byName[c.Name] = c
	}
	users, err := store.Users(ctx, school.ID, "")
	if err != nil {
		return fmt.Errorf("demo: users: %w", err)
	}
	byLogin := map[string]domain.User{}
	for _, u := range users {
		byLogin[u.Login] = u
	}
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	var eleveEntries []domain.Entry
	for c := range size.Classes {
		class := byName[className(c, size.Classes)]
		// From three days ago to a week ahead: due today, tomorrow and later.
		for d := -3; d <= 7; d++ {
			if d%2 != 0 && d != 1 {
				continue
			}
			s := (c + d + 8) % len(subjects)
			teacher := byLogin[teacherLogin(s, c)]
			hw := homework[(c+d+6)%len(homework)]
			day := schoolDay(today.AddDate(0, 0, d))
			due := day.Add(8 * time.Hour)
			e, err := store.CreateEntry(ctx, domain.NewEntry{SchoolID: school.ID, TeacherID: teacher.ID, Audience: domain.Audience{ClassID: class.ID},
				Kind: domain.KindHomework, Subject: subjects[s].Name, Title: hw.Title, Description: hw.Desc, LessonDate: day.AddDate(0, 0, -3),
				DueAt: due, PublishAt: day.AddDate(0, 0, -5), HandIn: d%4 == 0 || d == 1})
			if err != nil {
				return fmt.Errorf("demo: homework: %w", err)
			}
			if c == 0 {
				eleveEntries = append(eleveEntries, e)
			}
			if d < 0 {
				if _, err := store.CreateEntry(ctx, domain.NewEntry{SchoolID: school.ID, TeacherID: teacher.ID, Audience: domain.Audience{ClassID: class.ID},
					Kind: domain.KindLesson, Subject: subjects[s].Name, Title: "Séance : " + strings.ToLower(hw.Title), Description: "Correction et reprise des notions.",
					LessonDate: day.Add(10 * time.Hour), PublishAt: day}); err != nil {
					return fmt.Errorf("demo: lesson: %w", err)
				}
			}
		}
	}
	// Prof's maths homework due tomorrow morning for the first class, with a hand-in.
	prof, eleve, parent, admin := byLogin["prof"], byLogin["eleve"], byLogin["parent"], byLogin["admin"]
	first := byName[className(0, size.Classes)]
	maths, err := store.CreateEntry(ctx, domain.NewEntry{SchoolID: school.ID, TeacherID: prof.ID, Audience: domain.Audience{ClassID: first.ID},
		Kind: domain.KindHomework, Subject: "Mathématiques", Title: "Devoir maison n° 3 : fractions", HandIn: true,
		Description: "Faire les exercices 1 à 4 page 52 et rendre une photo ou un PDF de votre copie.",
		LessonDate:  today.AddDate(0, 0, -2), DueAt: today.Add(18 * time.Hour), PublishAt: today.AddDate(0, 0, -2)})
	if err != nil {
		return fmt.Errorf("demo: maths homework: %w", err)
	}
	if _, err := store.CreateEntry(ctx, domain.NewEntry{SchoolID: school.ID, TeacherID: prof.ID, Audience: domain.Audience{ClassID: first.ID},
		Kind: domain.KindHomework, Subject: "Mathématiques", Title: "Contrôle surprise (publication programmée)", Description: "Visible à partir de demain 7 h.",
		DueAt: today.AddDate(0, 0, 3).Add(8 * time.Hour), PublishAt: today.AddDate(0, 0, 1).Add(7 * time.Hour)}); err != nil {
		return fmt.Errorf("demo: scheduled homework: %w", err)
	}
	// Two classmates already handed in.
	classmates, err := store.AudienceStudents(ctx, domain.Audience{ClassID: first.ID})
	if err != nil {
		return fmt.Errorf("demo: classmates: %w", err)
	}
	handed := 0
	for _, st := range classmates {
		if st.ID == eleve.ID || handed == 2 {
			continue
		}
		handed++
		if _, err := store.CreateSubmission(ctx, domain.Submission{EntryID: maths.ID, StudentID: st.ID, SubmittedAt: now.Add(-time.Duration(handed) * time.Hour).UTC(),
			Text: "Exercice 1 : 3/4 + 1/8 = 7/8. Exercice 2 : …"}); err != nil {
			return fmt.Errorf("demo: submission: %w", err)
		}
		if err := store.SetDone(ctx, maths.ID, st.ID, true); err != nil {
			return fmt.Errorf("demo: done: %w", err)
		}
	}
	if len(eleveEntries) > 0 {
		if err := store.SetDone(ctx, eleveEntries[0].ID, eleve.ID, true); err != nil {
			return fmt.Errorf("demo: done: %w", err)
		}
	}
	threads := []struct {
		from, to domain.User
		subject  string
		body     string
		reply    string
	}{
		{prof, eleve, "Devoir maison n° 3", "Bonjour Léa, pense à rendre ton devoir maison dans le casier avant ce soir. Bon courage !", ""},
		{parent, prof, "Absence de Léa mardi", "Bonjour Monsieur, Léa sera absente mardi matin pour un rendez-vous médical. Pourriez-vous lui indiquer le travail à rattraper ? Cordialement, S. Moreau", "Bonjour Madame, c'est noté : tout est dans le cahier de textes. Bien cordialement."},
		{admin, parent, "Réunion parents-professeurs", "Madame, Monsieur, la réunion parents-professeurs aura lieu jeudi à 17 h 30 en visioconférence. Le lien sera envoyé par la messagerie.", ""},
	}
	for _, th := range threads {
		t, _, err := store.CreateThread(ctx, domain.Thread{SchoolID: school.ID, Subject: th.subject, CreatedBy: th.from.ID},
			[]domain.UserID{th.from.ID, th.to.ID}, domain.Message{SenderID: th.from.ID, Body: th.body})
		if err != nil {
			return fmt.Errorf("demo: thread: %w", err)
		}
		if th.reply != "" {
			if _, err := store.AddMessage(ctx, domain.Message{ThreadID: t.ID, SenderID: th.to.ID, Body: th.reply}); err != nil {
				return fmt.Errorf("demo: reply: %w", err)
			}
		}
	}
	return nil
}
