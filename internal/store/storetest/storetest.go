// Package storetest is the conformance suite every domain.Store
// implementation must pass. A backend's test is one line:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newStore) }
//
// The suite checks behaviour callers rely on (ordering, sentinel errors,
// write-once submissions, transactional imports), not SQL, so the SQLite
// store and a later PostgreSQL store are held to the same contract.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"preau/internal/domain"
)

// Factory returns a fresh, empty store; it registers its own cleanup.
type Factory func(t *testing.T) domain.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s domain.Store)
	}{
		{"SchoolsClassesGroups", testStructure},
		{"UsersAndLogins", testUsers},
		{"Membership", testMembership},
		{"Sessions", testSessions},
		{"EntriesVisibility", testEntries},
		{"DoneAndCompletion", testDone},
		{"SubmissionsWriteOnce", testSubmissions},
		{"Messaging", testMessaging},
		{"Timetable", testTimetable},
		{"ImportRosterAtomic", testImport},
		{"MessagingPolicy", testPolicy},
		{"LiveClasses", testLive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// world is a small school built by the fixtures below.
type world struct {
	school             domain.School
	classA, classB     domain.Class
	group              domain.Group
	teacher, teacher2  domain.User
	alice, bob, claire domain.User // alice and bob in A (alice in group), claire in B
	parent, admin      domain.User
}

// must returns v, or stops the test run when err is set. It panics rather
// than calling t.Fatal so that it can wrap a two-value call directly.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("storetest: unexpected error: %v", err))
	}
	return v
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newWorld(t *testing.T, s domain.Store) world {
	t.Helper()
	ctx := t.Context()
	var w world
	w.school = must(s.CreateSchool(ctx, domain.School{Name: "Collège Jean Moulin", Timezone: "Europe/Paris"}))
	w.classA = must(s.CreateClass(ctx, domain.Class{SchoolID: w.school.ID, Name: "3e A"}))
	w.classB = must(s.CreateClass(ctx, domain.Class{SchoolID: w.school.ID, Name: "3e B"}))
	w.group = must(s.CreateGroup(ctx, domain.Group{SchoolID: w.school.ID, Name: "Allemand LV2"}))
	user := func(login, name string, role domain.Role) domain.User {
		return must(s.CreateUser(ctx, domain.NewUser{SchoolID: w.school.ID, Login: login, DisplayName: name, Role: role, PasswordHash: "x"}))
	}
	w.teacher = user("prof", "M. Martin", domain.RoleTeacher)
	w.teacher2 = user("prof2", "Mme Durand", domain.RoleTeacher)
	w.alice = user("alice", "Alice Petit", domain.RoleStudent)
	w.bob = user("bob", "Bob Leroy", domain.RoleStudent)
	w.claire = user("claire", "Claire Moreau", domain.RoleStudent)
	w.parent = user("parent", "Mme Petit", domain.RoleParent)
	w.admin = user("admin", "M. le Principal", domain.RoleAdmin)
	check(t, s.Enroll(ctx, w.alice.ID, w.classA.ID))
	check(t, s.Enroll(ctx, w.bob.ID, w.classA.ID))
	check(t, s.Enroll(ctx, w.claire.ID, w.classB.ID))
	check(t, s.AddToGroup(ctx, w.alice.ID, w.group.ID))
	check(t, s.LinkParent(ctx, w.parent.ID, w.alice.ID))
	check(t, s.AddTeaching(ctx, domain.Teaching{TeacherID: w.teacher.ID, Audience: domain.Audience{ClassID: w.classA.ID}, Subject: "Mathématiques"}))
	check(t, s.AddTeaching(ctx, domain.Teaching{TeacherID: w.teacher.ID, Audience: domain.Audience{GroupID: w.group.ID}, Subject: "Allemand"}))
	check(t, s.AddTeaching(ctx, domain.Teaching{TeacherID: w.teacher2.ID, Audience: domain.Audience{ClassID: w.classB.ID}, Subject: "Histoire"}))
	return w
}

func testStructure(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	if _, err := s.CreateClass(ctx, domain.Class{SchoolID: w.school.ID, Name: "3e A"}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate class: got %v, want ErrConflict", err)
	}
	classes := must(s.Classes(ctx, w.school.ID))
	if len(classes) != 2 || classes[0].Name != "3e A" || classes[1].Name != "3e B" {
		t.Errorf("classes = %+v", classes)
	}
	if _, err := s.Class(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing class: got %v, want ErrNotFound", err)
	}
	if _, err := s.School(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing school: got %v, want ErrNotFound", err)
	}
	got := must(s.Group(ctx, w.group.ID))
	if got.Name != "Allemand LV2" {
		t.Errorf("group = %+v", got)
	}
	students := must(s.AudienceStudents(ctx, domain.Audience{ClassID: w.classA.ID}))
	if len(students) != 2 || students[0].Login != "alice" || students[1].Login != "bob" {
		t.Errorf("class A students = %+v", students)
	}
	gs := must(s.AudienceStudents(ctx, domain.Audience{GroupID: w.group.ID}))
	if len(gs) != 1 || gs[0].ID != w.alice.ID {
		t.Errorf("group students = %+v", gs)
	}
	// Re-enrolling moves the student.
	check(t, s.Enroll(ctx, w.bob.ID, w.classB.ID))
	if b := must(s.AudienceStudents(ctx, domain.Audience{ClassID: w.classB.ID})); len(b) != 2 {
		t.Errorf("after move, class B has %d students, want 2", len(b))
	}
	teachings := must(s.Teachings(ctx, w.school.ID))
	if len(teachings) != 3 {
		t.Errorf("teachings = %d, want 3", len(teachings))
	}
	// Adding the same teaching twice is idempotent.
	check(t, s.AddTeaching(ctx, domain.Teaching{TeacherID: w.teacher.ID, Audience: domain.Audience{ClassID: w.classA.ID}, Subject: "Mathématiques"}))
	if n := len(must(s.Teachings(ctx, w.school.ID))); n != 3 {
		t.Errorf("teachings after duplicate = %d, want 3", n)
	}
}

func testUsers(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	_, err := s.CreateUser(ctx, domain.NewUser{SchoolID: w.school.ID, Login: "alice", DisplayName: "Other", Role: domain.RoleStudent, PasswordHash: "x"})
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate login: got %v, want ErrConflict", err)
	}
	u, hash, err := s.UserByLogin(ctx, "alice")
	check(t, err)
	if u.ID != w.alice.ID || hash != "x" || u.Role != domain.RoleStudent {
		t.Errorf("UserByLogin = %+v, %q", u, hash)
	}
	if _, _, err := s.UserByLogin(ctx, "nobody"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown login: got %v, want ErrNotFound", err)
	}
	check(t, s.SetPassword(ctx, w.alice.ID, "y"))
	if _, hash, _ := s.UserByLogin(ctx, "alice"); hash != "y" {
		t.Errorf("hash after SetPassword = %q", hash)
	}
	if err := s.SetPassword(ctx, 9999, "z"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("SetPassword on missing user: got %v", err)
	}
	check(t, s.SetLang(ctx, w.alice.ID, "en"))
	if u := must(s.User(ctx, w.alice.ID)); u.Lang != "en" {
		t.Errorf("lang = %q", u.Lang)
	}
	students := must(s.Users(ctx, w.school.ID, domain.RoleStudent))
	if len(students) != 3 {
		t.Errorf("students = %d, want 3", len(students))
	}
	all := must(s.Users(ctx, w.school.ID, ""))
	if len(all) != 7 {
		t.Errorf("all users = %d, want 7", len(all))
	}
}

func testMembership(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	m := must(s.Membership(ctx, w.alice.ID))
	if len(m.Classes) != 1 || m.Classes[0] != w.classA.ID || len(m.Groups) != 1 || m.Groups[0] != w.group.ID {
		t.Errorf("alice membership = %+v", m)
	}
	m = must(s.Membership(ctx, w.teacher.ID))
	if !m.Sees(domain.Audience{ClassID: w.classA.ID}) || !m.Sees(domain.Audience{GroupID: w.group.ID}) || m.Sees(domain.Audience{ClassID: w.classB.ID}) {
		t.Errorf("teacher membership = %+v", m)
	}
	m = must(s.Membership(ctx, w.parent.ID))
	if len(m.Children) != 1 || m.Children[0].ID != w.alice.ID {
		t.Errorf("parent children = %+v", m.Children)
	}
	if ps := must(s.ParentsOf(ctx, []domain.UserID{w.alice.ID, w.bob.ID, w.alice.ID})); len(ps) != 1 || ps[0] != w.parent.ID {
		t.Errorf("parents of alice and bob = %v", ps)
	}
	if ps := must(s.ParentsOf(ctx, nil)); len(ps) != 0 {
		t.Errorf("parents of nobody = %v", ps)
	}
	if _, err := s.Membership(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing user membership: got %v", err)
	}
}

func testSessions(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := domain.Session{IDHash: [32]byte{1}, UserID: w.alice.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), UserAgent: "test"}
	b := domain.Session{IDHash: [32]byte{2}, UserID: w.alice.ID, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	c := domain.Session{IDHash: [32]byte{3}, UserID: w.bob.ID, CreatedAt: now, ExpiresAt: now.Add(-time.Minute)}
	for _, x := range []domain.Session{a, b, c} {
		check(t, s.CreateSession(ctx, x))
	}
	got := must(s.Session(ctx, a.IDHash))
	if got.UserID != w.alice.ID || !got.ExpiresAt.Equal(a.ExpiresAt) || got.UserAgent != "test" {
		t.Errorf("session = %+v", got)
	}
	if _, err := s.Session(ctx, [32]byte{9}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing session: got %v", err)
	}
	later := now.Add(2 * time.Hour)
	check(t, s.TouchSessions(ctx, []domain.SessionTouch{{IDHash: b.IDHash, ExpiresAt: later}, {IDHash: [32]byte{8}, ExpiresAt: later}}))
	if got := must(s.Session(ctx, b.IDHash)); !got.ExpiresAt.Equal(later) {
		t.Errorf("touched expiry = %v, want %v", got.ExpiresAt, later)
	}
	// A touch never shortens a session.
	check(t, s.TouchSessions(ctx, []domain.SessionTouch{{IDHash: b.IDHash, ExpiresAt: now}}))
	if got := must(s.Session(ctx, b.IDHash)); !got.ExpiresAt.Equal(later) {
		t.Errorf("expiry shortened to %v", got.ExpiresAt)
	}
	if n := must(s.DeleteExpiredSessions(ctx, now)); n != 1 {
		t.Errorf("expired deleted = %d, want 1", n)
	}
	hashes := must(s.DeleteUserSessions(ctx, w.alice.ID))
	if len(hashes) != 2 {
		t.Errorf("deleted alice sessions = %d, want 2", len(hashes))
	}
	if _, err := s.Session(ctx, a.IDHash); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("session after logout everywhere: got %v", err)
	}
	check(t, s.DeleteSession(ctx, a.IDHash)) // deleting twice is fine
}

func day(d int, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }

func testEntries(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	hw := func(a domain.Audience, title string, due, publish time.Time) domain.Entry {
		return must(s.CreateEntry(ctx, domain.NewEntry{SchoolID: w.school.ID, TeacherID: w.teacher.ID, Audience: a,
			Kind: domain.KindHomework, Subject: "Maths", Title: title, DueAt: due, PublishAt: publish, HandIn: true,
			Attachments: []domain.Attachment{{Name: title + ".pdf", ContentType: "application/pdf", Size: 3, SHA256: "ab"}}}))
	}
	a := domain.Audience{ClassID: w.classA.ID}
	e2 := hw(a, "second", day(26, 8), day(1, 0))
	e1 := hw(a, "first", day(25, 8), day(1, 0))
	hidden := hw(a, "future", day(27, 8), day(24, 18))
	grp := hw(domain.Audience{GroupID: w.group.ID}, "group", day(25, 10), day(1, 0))
	other := hw(domain.Audience{ClassID: w.classB.ID}, "other", day(25, 8), day(1, 0))
	lesson := must(s.CreateEntry(ctx, domain.NewEntry{SchoolID: w.school.ID, TeacherID: w.teacher.ID, Audience: a,
		Kind: domain.KindLesson, Subject: "Maths", Title: "Théorème de Pythagore", LessonDate: day(24, 9), PublishAt: day(1, 0)}))

	got := must(s.Entry(ctx, e1.ID))
	if got.Title != "first" || got.TeacherName != "M. Martin" || got.AudienceName != "3e A" || len(got.Attachments) != 1 || !got.HandIn {
		t.Errorf("entry = %+v", got)
	}
	if _, err := s.Entry(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing entry: %v", err)
	}
	// Alice sees her class and group homework, published, in due order.
	list := must(s.Entries(ctx, domain.EntryFilter{Classes: []domain.ClassID{w.classA.ID}, Groups: []domain.GroupID{w.group.ID},
		Kind: domain.KindHomework, From: day(24, 0), To: day(30, 0), PublishedAt: day(24, 12)}))
	titles := entryTitles(list)
	if want := []string{"first", "group", "second"}; !equal(titles, want) {
		t.Errorf("alice homework = %v, want %v", titles, want)
	}
	if len(list[0].Attachments) != 1 || list[0].Attachments[0].Name != "first.pdf" {
		t.Errorf("attachments not loaded: %+v", list[0].Attachments)
	}
	// After publish time the hidden one appears.
	list = must(s.Entries(ctx, domain.EntryFilter{Classes: []domain.ClassID{w.classA.ID}, Kind: domain.KindHomework, PublishedAt: day(24, 18)}))
	if want := []string{"first", "second", "future"}; !equal(entryTitles(list), want) {
		t.Errorf("class A after publish = %v, want %v", entryTitles(list), want)
	}
	// The window is half-open on the due date.
	list = must(s.Entries(ctx, domain.EntryFilter{Classes: []domain.ClassID{w.classA.ID}, Kind: domain.KindHomework, From: day(25, 8), To: day(26, 8)}))
	if want := []string{"first"}; !equal(entryTitles(list), want) {
		t.Errorf("window = %v, want %v", entryTitles(list), want)
	}
	// No audience means nothing, never everything.
	if list := must(s.Entries(ctx, domain.EntryFilter{Kind: domain.KindHomework})); len(list) != 0 {
		t.Errorf("empty audience returned %d entries", len(list))
	}
	// A teacher's own entries.
	list = must(s.Entries(ctx, domain.EntryFilter{TeacherID: w.teacher.ID}))
	if len(list) != 6 {
		t.Errorf("teacher entries = %d, want 6", len(list))
	}
	lessons := must(s.Entries(ctx, domain.EntryFilter{Classes: []domain.ClassID{w.classA.ID}, Kind: domain.KindLesson}))
	if len(lessons) != 1 || lessons[0].ID != lesson.ID || !lessons[0].DueAt.IsZero() {
		t.Errorf("lessons = %+v", lessons)
	}
	_, _, _ = e2, hidden, grp
	_ = other
}

func entryTitles(es []domain.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Title)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func newHomework(t *testing.T, s domain.Store, w world, a domain.Audience) domain.Entry {
	t.Helper()
	return must(s.CreateEntry(t.Context(), domain.NewEntry{SchoolID: w.school.ID, TeacherID: w.teacher.ID, Audience: a,
		Kind: domain.KindHomework, Subject: "Maths", Title: "Exercices p. 42", DueAt: day(26, 8), HandIn: true}))
}

func testDone(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	e := newHomework(t, s, w, domain.Audience{ClassID: w.classA.ID})
	check(t, s.SetDone(ctx, e.ID, w.alice.ID, true))
	check(t, s.SetDone(ctx, e.ID, w.alice.ID, true)) // idempotent
	st := must(s.EntryStatuses(ctx, w.alice.ID, []domain.EntryID{e.ID}))
	if !st[e.ID].Done {
		t.Errorf("alice status = %+v", st[e.ID])
	}
	if st := must(s.EntryStatuses(ctx, w.bob.ID, []domain.EntryID{e.ID})); st[e.ID].Done {
		t.Errorf("bob done without ticking")
	}
	must(s.CreateSubmission(ctx, domain.Submission{EntryID: e.ID, StudentID: w.bob.ID, SubmittedAt: day(25, 9), Text: "fait"}))
	c := must(s.Completions(ctx, []domain.EntryID{e.ID}))[e.ID]
	if c != (domain.Completion{Students: 2, Done: 1, Submitted: 1}) {
		t.Errorf("completion = %+v", c)
	}
	all := must(s.StudentStatuses(ctx, w.bob.ID))
	if len(all) != 1 || all[e.ID] != (domain.EntryStatus{Submissions: 1}) {
		t.Errorf("bob's statuses = %+v", all)
	}
	if all := must(s.StudentStatuses(ctx, w.alice.ID)); len(all) != 1 || !all[e.ID].Done {
		t.Errorf("alice's statuses = %+v", all)
	}
	if all := must(s.StudentStatuses(ctx, w.claire.ID)); len(all) != 0 {
		t.Errorf("claire's statuses = %+v", all)
	}
	check(t, s.SetDone(ctx, e.ID, w.alice.ID, false))
	if st := must(s.EntryStatuses(ctx, w.alice.ID, []domain.EntryID{e.ID})); st[e.ID].Done {
		t.Errorf("untick did not stick")
	}
	if st := must(s.EntryStatuses(ctx, w.bob.ID, []domain.EntryID{e.ID})); st[e.ID].Submissions != 1 {
		t.Errorf("bob submissions = %d", st[e.ID].Submissions)
	}
}

func testSubmissions(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	e := newHomework(t, s, w, domain.Audience{ClassID: w.classA.ID})
	at := day(26, 9)
	sub := must(s.CreateSubmission(ctx, domain.Submission{EntryID: e.ID, StudentID: w.alice.ID, SubmittedAt: at, Text: "Ma copie", Late: true,
		Files: []domain.Attachment{{Name: "copie.pdf", ContentType: "application/pdf", Size: 10, SHA256: "cafe"}}}))
	if sub.ID == 0 {
		t.Fatal("no id")
	}
	got := must(s.Submission(ctx, sub.ID))
	if !got.SubmittedAt.Equal(at) || !got.Late || got.Text != "Ma copie" || len(got.Files) != 1 || got.Files[0].SHA256 != "cafe" || got.StudentName != "Alice Petit" || got.Feedback != nil {
		t.Errorf("submission = %+v", got)
	}
	must(s.CreateSubmission(ctx, domain.Submission{EntryID: e.ID, StudentID: w.bob.ID, SubmittedAt: at.Add(time.Minute)}))
	if all := must(s.Submissions(ctx, e.ID, 0)); len(all) != 2 || all[0].StudentID != w.alice.ID {
		t.Errorf("all submissions = %+v", all)
	}
	if mine := must(s.Submissions(ctx, e.ID, w.bob.ID)); len(mine) != 1 || mine[0].StudentID != w.bob.ID {
		t.Errorf("bob submissions = %+v", mine)
	}
	mark := 15.5
	check(t, s.SetFeedback(ctx, domain.Feedback{SubmissionID: sub.ID, TeacherID: w.teacher.ID, Text: "Bien", Mark: &mark, OutOf: 20, ReturnedAt: at.Add(time.Hour)}))
	got = must(s.Submission(ctx, sub.ID))
	if got.Feedback == nil || got.Feedback.Text != "Bien" || got.Feedback.Mark == nil || *got.Feedback.Mark != 15.5 {
		t.Errorf("feedback = %+v", got.Feedback)
	}
	// Feedback can be corrected; the submission itself cannot.
	check(t, s.SetFeedback(ctx, domain.Feedback{SubmissionID: sub.ID, TeacherID: w.teacher.ID, Text: "Très bien", OutOf: 20, ReturnedAt: at.Add(2 * time.Hour)}))
	if got := must(s.Submission(ctx, sub.ID)); got.Feedback.Text != "Très bien" || got.Feedback.Mark != nil || got.Text != "Ma copie" {
		t.Errorf("corrected feedback = %+v", got.Feedback)
	}
	if err := s.SetFeedback(ctx, domain.Feedback{SubmissionID: 9999, TeacherID: w.teacher.ID, Text: "x", OutOf: 20, ReturnedAt: at}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("feedback on missing submission: %v", err)
	}
	if _, err := s.Submission(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing submission: %v", err)
	}
	if _, err := s.CreateSubmission(ctx, domain.Submission{EntryID: 9999, StudentID: w.alice.ID, SubmittedAt: at}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("submission to missing entry: %v", err)
	}
}

func testMessaging(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	th, first := must2(s.CreateThread(ctx, domain.Thread{SchoolID: w.school.ID, Subject: "Question", CreatedBy: w.alice.ID},
		[]domain.UserID{w.alice.ID, w.teacher.ID}, domain.Message{SenderID: w.alice.ID, Body: "Bonjour",
			Attachments: []domain.Attachment{{Name: "q.png", ContentType: "image/png", Size: 4, SHA256: "beef"}}}))
	if th.ID == 0 || first.ID == 0 || first.ThreadID != th.ID {
		t.Fatalf("thread %+v first %+v", th, first)
	}
	if n := must(s.UnreadCount(ctx, w.teacher.ID)); n != 1 {
		t.Errorf("teacher unread = %d, want 1", n)
	}
	if n := must(s.UnreadCount(ctx, w.alice.ID)); n != 0 {
		t.Errorf("sender unread = %d, want 0", n)
	}
	ths := must(s.Threads(ctx, w.teacher.ID, 0))
	if len(ths) != 1 || ths[0].Unread != 1 || len(ths[0].Participants) != 2 {
		t.Errorf("teacher threads = %+v", ths)
	}
	check(t, s.MarkRead(ctx, th.ID, w.teacher.ID))
	if n := must(s.UnreadCount(ctx, w.teacher.ID)); n != 0 {
		t.Errorf("after read, unread = %d", n)
	}
	must(s.AddMessage(ctx, domain.Message{ThreadID: th.ID, SenderID: w.teacher.ID, Body: "Oui ?"}))
	if n := must(s.UnreadCount(ctx, w.alice.ID)); n != 1 {
		t.Errorf("alice unread after reply = %d", n)
	}
	msgs := must(s.Messages(ctx, th.ID))
	if len(msgs) != 2 || msgs[0].Body != "Bonjour" || msgs[1].SenderName != "M. Martin" || len(msgs[0].Attachments) != 1 {
		t.Errorf("messages = %+v", msgs)
	}
	if ok := must(s.IsParticipant(ctx, th.ID, w.bob.ID)); ok {
		t.Error("bob is not a participant")
	}
	if _, err := s.Thread(ctx, th.ID, w.bob.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("non-participant thread: %v", err)
	}
	if got := must(s.Thread(ctx, th.ID, w.alice.ID)); got.Unread != 1 || got.Subject != "Question" {
		t.Errorf("alice thread = %+v", got)
	}
	if ths := must(s.Threads(ctx, w.bob.ID, 0)); len(ths) != 0 {
		t.Errorf("bob threads = %d", len(ths))
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(fmt.Sprintf("storetest: unexpected error: %v", err))
	}
	return a, b
}

func testTimetable(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	slots := []domain.Slot{
		{Weekday: time.Monday, Start: "10:00", End: "11:00", Subject: "Histoire", Room: "B12"},
		{Weekday: time.Monday, Start: "08:00", End: "09:00", Subject: "Maths", TeacherID: w.teacher.ID, Room: "A1"},
		{Weekday: time.Tuesday, Start: "08:00", End: "09:00", Subject: "Allemand", TeacherID: w.teacher.ID, GroupID: w.group.ID},
	}
	check(t, s.ReplaceTimetable(ctx, w.classA.ID, slots))
	got := must(s.Timetable(ctx, []domain.ClassID{w.classA.ID}))
	if len(got) != 3 || got[0].Subject != "Maths" || got[0].Teacher != "M. Martin" || got[2].GroupID != w.group.ID {
		t.Errorf("timetable = %+v", got)
	}
	check(t, s.ReplaceTimetable(ctx, w.classA.ID, slots[:1]))
	if got := must(s.Timetable(ctx, []domain.ClassID{w.classA.ID})); len(got) != 1 {
		t.Errorf("after replace = %d slots", len(got))
	}
	check(t, s.ReplaceTimetable(ctx, w.classB.ID, slots[1:2]))
	if got := must(s.TeacherTimetable(ctx, w.teacher.ID)); len(got) != 1 || got[0].ClassID != w.classB.ID {
		t.Errorf("teacher timetable = %+v", got)
	}
}

func testImport(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	r := domain.Roster{
		Users: []domain.RosterUser{
			{Line: 2, Login: "dan", DisplayName: "Dan Roux", Role: domain.RoleStudent, Class: "4e C", Groups: []string{"Latin"}, PasswordHash: "h"},
			{Line: 3, Login: "pdan", DisplayName: "M. Roux", Role: domain.RoleParent, Children: []string{"dan", "alice"}, PasswordHash: "h"},
			{Line: 4, Login: "prof", DisplayName: "M. Martin (maths)", Role: domain.RoleTeacher, Teaches: []domain.RosterTeaching{{Class: "4e C", Subject: "Maths"}, {Group: "Latin", Subject: "Latin"}}},
		},
		Timetable: []domain.RosterSlot{
			{Line: 2, Class: "4e C", Weekday: time.Monday, Start: "08:00", End: "09:00", Subject: "Maths", TeacherLogin: "prof", Room: "S1"},
			{Line: 3, Class: "4e C", Weekday: time.Friday, Start: "14:00", End: "15:00", Subject: "Latin", TeacherLogin: "prof", Group: "Latin"},
		},
	}
	res := must(s.ImportRoster(ctx, w.school.ID, r))
	if res.UsersCreated != 2 || res.UsersUpdated != 1 || res.ClassesCreated != 1 || res.GroupsCreated != 1 || res.SlotsReplaced != 2 {
		t.Errorf("import result = %+v", res)
	}
	dan, _, err := s.UserByLogin(ctx, "dan")
	check(t, err)
	m := must(s.Membership(ctx, dan.ID))
	if len(m.Classes) != 1 || len(m.Groups) != 1 {
		t.Errorf("dan membership = %+v", m)
	}
	pdan, _, _ := s.UserByLogin(ctx, "pdan")
	if m := must(s.Membership(ctx, pdan.ID)); len(m.Children) != 2 {
		t.Errorf("pdan children = %+v", m.Children)
	}
	if u := must(s.User(ctx, w.teacher.ID)); u.DisplayName != "M. Martin (maths)" {
		t.Errorf("teacher not updated: %q", u.DisplayName)
	}
	if slots := must(s.Timetable(ctx, m.Classes)); len(slots) != 2 {
		t.Errorf("imported slots = %d", len(slots))
	}
	// A failing row rolls the whole import back.
	bad := domain.Roster{Users: []domain.RosterUser{
		{Line: 2, Login: "eve", DisplayName: "Eve", Role: domain.RoleStudent, Class: "5e Z", PasswordHash: "h"},
		{Line: 3, Login: "alice", DisplayName: "Alice", Role: domain.RoleTeacher}, // alice is a student
	}}
	if _, err := s.ImportRoster(ctx, w.school.ID, bad); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("conflicting import: got %v, want ErrConflict", err)
	}
	if _, _, err := s.UserByLogin(ctx, "eve"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("eve exists after a failed import: %v", err)
	}
	for _, c := range must(s.Classes(ctx, w.school.ID)) {
		if c.Name == "5e Z" {
			t.Error("class 5e Z exists after a failed import")
		}
	}
}

func testPolicy(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	p := must(s.MessagingPolicy(ctx, w.school.ID))
	if p.Reach(domain.RoleStudent, domain.RoleStudent) != domain.ReachNone || p.Reach(domain.RoleTeacher, domain.RoleStudent) != domain.ReachSchool {
		t.Errorf("default policy = %+v", p)
	}
	p[domain.RoleStudent][domain.RoleStudent] = domain.ReachRelated
	check(t, s.SetMessagingPolicy(ctx, w.school.ID, p))
	if got := must(s.MessagingPolicy(ctx, w.school.ID)); got.Reach(domain.RoleStudent, domain.RoleStudent) != domain.ReachRelated {
		t.Errorf("stored policy = %+v", got)
	}
	if err := s.SetMessagingPolicy(ctx, 9999, p); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("policy of missing school: %v", err)
	}
	var _ context.Context = ctx
}

func testLive(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := newWorld(t, s)
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	maths := must(s.CreateLiveClass(ctx, domain.LiveClass{SchoolID: w.school.ID, Audience: domain.Audience{ClassID: w.classA.ID},
		TeacherID: w.teacher.ID, Title: "Fractions", StartedAt: start}))
	german := must(s.CreateLiveClass(ctx, domain.LiveClass{SchoolID: w.school.ID, Audience: domain.Audience{GroupID: w.group.ID},
		TeacherID: w.teacher.ID, Title: "Deutsch", StartedAt: start.Add(time.Hour)}))
	if maths.AudienceName != "3e A" || maths.TeacherName != "M. Martin" || !maths.Running() || !maths.StartedAt.Equal(start) ||
		german.AudienceName != "Allemand LV2" {
		t.Errorf("created %+v %+v", maths, german)
	}
	if _, err := s.LiveClass(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown live class: %v", err)
	}
	check(t, s.EndLiveClass(ctx, maths.ID, start.Add(50*time.Minute)))
	check(t, s.EndLiveClass(ctx, maths.ID, start.Add(70*time.Minute))) // the first end stays
	if got := must(s.LiveClass(ctx, maths.ID)); !got.EndedAt.Equal(start.Add(50 * time.Minute)) {
		t.Errorf("ended at %v", got.EndedAt)
	}
	if err := s.EndLiveClass(ctx, 9999, start); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("end of an unknown class: %v", err)
	}
	list := must(s.LiveClasses(ctx, w.school.ID, start.Add(-time.Hour)))
	if len(list) != 2 || list[0].ID != german.ID || list[1].ID != maths.ID {
		t.Errorf("running first: %+v", list)
	}
	if list := must(s.LiveClasses(ctx, w.school.ID, start.Add(30*time.Minute))); len(list) != 1 {
		t.Errorf("since: %+v", list)
	}

	for i, e := range []domain.AttendanceEvent{
		{UserID: w.teacher.ID, Name: "M. Martin", Role: "host", Kind: domain.AttendanceJoin, At: start},
		{UserID: w.alice.ID, Name: "Alice Petit", Role: "student", Kind: domain.AttendanceJoin, At: start.Add(time.Minute)},
		{UserID: w.alice.ID, Name: "Alice Petit", Role: "student", Kind: domain.AttendanceLeave, Reason: "disconnected", At: start.Add(9 * time.Minute)},
	} {
		e.LiveClassID = maths.ID
		if err := s.AddAttendance(ctx, e); err != nil {
			t.Fatalf("attendance %d: %v", i, err)
		}
	}
	att := must(s.Attendance(ctx, maths.ID))
	if len(att) != 3 || att[2].Kind != domain.AttendanceLeave || att[2].Reason != "disconnected" || !att[1].At.Equal(start.Add(time.Minute)) {
		t.Errorf("attendance %+v", att)
	}
	if att := must(s.Attendance(ctx, german.ID)); len(att) != 0 {
		t.Errorf("german attendance %+v", att)
	}

	for _, m := range []domain.LiveChatMessage{
		{Seq: 1, UserID: w.teacher.ID, Name: "M. Martin", Role: "host", Text: "Bonjour à tous", At: start.Add(time.Minute)},
		{Seq: 2, UserID: w.alice.ID, Name: "Alice Petit", Role: "student", Text: "Bonjour ! 😀 <b>", At: start.Add(2 * time.Minute)},
	} {
		m.LiveClassID = maths.ID
		check(t, s.AddLiveChat(ctx, m))
	}
	if err := s.AddLiveChat(ctx, domain.LiveChatMessage{LiveClassID: maths.ID, Seq: 2, UserID: w.alice.ID, Name: "Alice Petit", Role: "student", Text: "again", At: start}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("a second message 2: %v", err)
	}
	chat := must(s.LiveChat(ctx, maths.ID))
	if len(chat) != 2 || chat[1].Seq != 2 || chat[1].Text != "Bonjour ! 😀 <b>" || chat[1].UserID != w.alice.ID || chat[1].Role != "student" ||
		!chat[1].At.Equal(start.Add(2*time.Minute)) || chat[0].Name != "M. Martin" {
		t.Errorf("chat %+v", chat)
	}
	if chat := must(s.LiveChat(ctx, german.ID)); len(chat) != 0 {
		t.Errorf("german chat %+v", chat)
	}

	if n := must(s.EndRunningLiveClasses(ctx, start.Add(2*time.Hour))); n != 1 {
		t.Errorf("ended %d running classes, want 1", n)
	}
	if got := must(s.LiveClass(ctx, german.ID)); got.Running() {
		t.Error("german still running")
	}

	deck := must(s.CreateSlideDeck(ctx, domain.SlideDeck{LiveClassID: maths.ID, Name: "fractions.pdf", Pages: []string{"aa", "bb"}}))
	got := must(s.SlideDeck(ctx, deck.ID))
	if got.Name != "fractions.pdf" || len(got.Pages) != 2 || got.Pages[1] != "bb" || got.LiveClassID != maths.ID {
		t.Errorf("deck %+v", got)
	}
	if _, err := s.SlideDeck(ctx, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown deck: %v", err)
	}
}
