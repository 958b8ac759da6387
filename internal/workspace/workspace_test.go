package workspace_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"preau/internal/blob"
	"preau/internal/domain"
	"preau/internal/store/sqlite"
	"preau/internal/workspace"
)

// school is a small fixture: two classes, a group, a teacher per class,
// a student in each class, a parent of the first student and an admin.
type school struct {
	svc                *workspace.Service
	store              domain.Store
	blobs              *blob.Store
	now                time.Time
	classA, classB     domain.ClassID
	latin              domain.GroupID
	teacherA, teacherB domain.Membership
	alice, claire      domain.Membership
	parent, admin      domain.Membership
}

func newSchool(t *testing.T) *school {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blob.Open(filepath.Join(t.TempDir(), "files"))
	if err != nil {
		t.Fatal(err)
	}
	s := &school{store: db, blobs: blobs, svc: workspace.New(db, blobs), now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	s.svc.SetClock(func() time.Time { return s.now })
	sc, _ := db.CreateSchool(ctx, domain.School{Name: "S"})
	_, err = db.ImportRoster(ctx, sc.ID, domain.Roster{Users: []domain.RosterUser{
		{Line: 2, Login: "alice", DisplayName: "Alice", Role: domain.RoleStudent, Class: "A", Groups: []string{"Latin"}, PasswordHash: "x"},
		{Line: 3, Login: "claire", DisplayName: "Claire", Role: domain.RoleStudent, Class: "B", PasswordHash: "x"},
		{Line: 4, Login: "parent", DisplayName: "Parent", Role: domain.RoleParent, Children: []string{"alice"}, PasswordHash: "x"},
		{Line: 5, Login: "ta", DisplayName: "Teacher A", Role: domain.RoleTeacher, Teaches: []domain.RosterTeaching{{Class: "A", Subject: "Maths"}, {Group: "Latin", Subject: "Latin"}}, PasswordHash: "x"},
		{Line: 6, Login: "tb", DisplayName: "Teacher B", Role: domain.RoleTeacher, Teaches: []domain.RosterTeaching{{Class: "B", Subject: "Histoire"}}, PasswordHash: "x"},
		{Line: 7, Login: "admin", DisplayName: "Admin", Role: domain.RoleAdmin, PasswordHash: "x"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	member := func(login string) domain.Membership {
		u, _, err := db.UserByLogin(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		m, err := db.Membership(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	s.alice, s.claire, s.parent = member("alice"), member("claire"), member("parent")
	s.teacherA, s.teacherB, s.admin = member("ta"), member("tb"), member("admin")
	s.classA, s.classB, s.latin = s.alice.Classes[0], s.claire.Classes[0], s.alice.Groups[0]
	return s
}

func (s *school) homework(t *testing.T, by domain.Membership, a domain.Audience, due, publish time.Time) domain.Entry {
	t.Helper()
	e, err := s.svc.Publish(t.Context(), by, domain.NewEntry{Audience: a, Kind: domain.KindHomework, Subject: "Maths",
		Title: "Ex. 1", DueAt: due, PublishAt: publish, HandIn: true}, domain.NoFiles)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestTeachersPublishOnlyForTheirAudiences(t *testing.T) {
	s := newSchool(t)
	_, err := s.svc.Publish(t.Context(), s.teacherA, domain.NewEntry{Audience: domain.Audience{ClassID: s.classB}, Kind: domain.KindHomework,
		Subject: "Maths", Title: "x", DueAt: s.now.Add(time.Hour)}, domain.NoFiles)
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || ve.Fields[0].Field != "audience" {
		t.Errorf("teacher A publishing for class B: %v", err)
	}
	if _, err := s.svc.Publish(t.Context(), s.alice, domain.NewEntry{Audience: domain.Audience{ClassID: s.classA}, Kind: domain.KindHomework,
		Subject: "Maths", Title: "x", DueAt: s.now.Add(time.Hour)}, domain.NoFiles); err == nil {
		t.Error("a student published homework")
	}
	s.homework(t, s.admin, domain.Audience{ClassID: s.classB}, s.now.Add(time.Hour), time.Time{})
}

func TestVisibilityByRole(t *testing.T) {
	s := newSchool(t)
	ctx := t.Context()
	forA := s.homework(t, s.teacherA, domain.Audience{ClassID: s.classA}, s.now.Add(24*time.Hour), time.Time{})
	forLatin := s.homework(t, s.teacherA, domain.Audience{GroupID: s.latin}, s.now.Add(24*time.Hour), time.Time{})
	later := s.homework(t, s.teacherA, domain.Audience{ClassID: s.classA}, s.now.Add(48*time.Hour), s.now.Add(time.Hour))
	cases := []struct {
		who  string
		v    domain.Membership
		e    domain.Entry
		sees bool
	}{
		{"alice/class", s.alice, forA, true}, {"alice/group", s.alice, forLatin, true}, {"alice/scheduled", s.alice, later, false},
		{"claire/class A", s.claire, forA, false}, {"claire/group", s.claire, forLatin, false},
		{"parent/child's", s.parent, forA, true}, {"parent/scheduled", s.parent, later, false},
		{"teacherA/own scheduled", s.teacherA, later, true}, {"teacherB/A's", s.teacherB, forA, false},
		{"admin", s.admin, later, true},
	}
	for _, c := range cases {
		_, err := s.svc.Entry(ctx, c.v, c.e.ID)
		if c.sees && err != nil {
			t.Errorf("%s: got %v, want visible", c.who, err)
		}
		if !c.sees && !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", c.who, err)
		}
	}
	items, err := s.svc.Homework(ctx, s.alice, s.now.Add(-time.Hour), s.now.Add(72*time.Hour))
	if err != nil || len(items) != 2 {
		t.Errorf("alice's list = %d items, %v; want 2 (scheduled one hidden)", len(items), err)
	}
	s.now = s.now.Add(2 * time.Hour)
	items, _ = s.svc.Homework(ctx, s.alice, s.now.Add(-3*time.Hour), s.now.Add(72*time.Hour))
	if len(items) != 3 {
		t.Errorf("after publish time alice sees %d items, want 3", len(items))
	}
	kids, err := s.svc.ChildrenHomework(ctx, s.parent, s.now.Add(-3*time.Hour), s.now.Add(72*time.Hour))
	if err != nil || len(kids) != 1 || len(kids[0].Items) != 3 {
		t.Errorf("parent sees %+v, %v", kids, err)
	}
}

func TestSubmissionsAreLateAfterTheDueDateAndPrivate(t *testing.T) {
	s := newSchool(t)
	ctx := t.Context()
	e := s.homework(t, s.teacherA, domain.Audience{ClassID: s.classA}, s.now.Add(time.Hour), time.Time{})
	sum, size, err := s.blobs.Put(strings.NewReader("ma copie"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	onTime, err := s.svc.Submit(ctx, s.alice, e.ID, "", stored{{Name: "copie.txt", Size: size, SHA256: sum, ContentType: "text/plain"}})
	if err != nil || onTime.Late {
		t.Fatalf("on time: %+v %v", onTime, err)
	}
	s.now = s.now.Add(2 * time.Hour)
	late, err := s.svc.Submit(ctx, s.alice, e.ID, "retard", domain.NoFiles)
	if err != nil || !late.Late {
		t.Fatalf("late: %+v %v", late, err)
	}
	if _, err := s.svc.Submit(ctx, s.alice, e.ID, "  ", domain.NoFiles); err == nil {
		t.Error("empty submission accepted")
	}
	if _, err := s.svc.Submit(ctx, s.claire, e.ID, "x", domain.NoFiles); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("claire submitting to class A: %v", err)
	}
	for who, v := range map[string]domain.Membership{"claire": s.claire, "teacherB": s.teacherB} {
		if _, _, err := s.svc.Submission(ctx, v, onTime.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s sees alice's submission: %v", who, err)
		}
	}
	for who, v := range map[string]domain.Membership{"alice": s.alice, "parent": s.parent, "teacherA": s.teacherA, "admin": s.admin} {
		if _, _, err := s.svc.Submission(ctx, v, onTime.ID); err != nil {
			t.Errorf("%s cannot see alice's submission: %v", who, err)
		}
	}
	mark := 21.0
	if _, err := s.svc.ReturnFeedback(ctx, s.teacherA, onTime.ID, domain.Feedback{Mark: &mark, OutOf: 20}); err == nil {
		t.Error("mark above the scale accepted")
	}
	mark = 17
	if _, err := s.svc.ReturnFeedback(ctx, s.teacherB, onTime.ID, domain.Feedback{Mark: &mark, OutOf: 20}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("teacher B marking class A: %v", err)
	}
	if _, err := s.svc.ReturnFeedback(ctx, s.teacherA, onTime.ID, domain.Feedback{Text: "Bien", Mark: &mark}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.svc.Submission(ctx, s.parent, onTime.ID)
	if got.Feedback == nil || *got.Feedback.Mark != 17 || got.Feedback.OutOf != 20 {
		t.Errorf("parent sees feedback %+v", got.Feedback)
	}
}

func TestReceiptMACDetectsTampering(t *testing.T) {
	sub := domain.Submission{ID: 7, EntryID: 3, StudentName: "Alice", SubmittedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		Files: []domain.Attachment{{Name: "a.pdf", Size: 3, SHA256: strings.Repeat("ab", 32)}}}
	r := workspace.NewReceipt(sub, domain.Entry{ID: 3, Subject: "Maths", Title: "DM"}, "alice", []byte("key"))
	if !r.Verify([]byte("key")) {
		t.Fatal("fresh receipt does not verify")
	}
	if r.Verify([]byte("other")) {
		t.Error("receipt verifies under another key")
	}
	r.SubmittedAt = r.SubmittedAt.Add(-time.Hour)
	if r.Verify([]byte("key")) {
		t.Error("backdated receipt verifies")
	}
}

func TestMessagingFollowsThePolicy(t *testing.T) {
	s := newSchool(t)
	ctx := t.Context()
	names := func(v domain.Membership) string {
		us, err := s.svc.Recipients(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.Login)
		}
		return strings.Join(out, ",")
	}
	// Users() orders by display name: Admin, Alice, Claire, Parent, Teacher A, Teacher B.
	for _, c := range []struct {
		who  string
		v    domain.Membership
		want string
	}{
		{"alice", s.alice, "admin,ta"},
		{"parent", s.parent, "admin,ta"},
		{"claire", s.claire, "admin,tb"},
		{"teacherA", s.teacherA, "admin,alice,claire,parent,tb"},
	} {
		if got := names(c.v); got != c.want {
			t.Errorf("%s may write to %s, want %s", c.who, got, c.want)
		}
	}
	if _, err := s.svc.StartThread(ctx, s.alice, workspace.NewThread{To: []domain.UserID{s.claire.User.ID}, Subject: "s", Body: "b"}); err == nil {
		t.Error("a student wrote to another student")
	}
	th, err := s.svc.StartThread(ctx, s.teacherA, workspace.NewThread{To: []domain.UserID{s.claire.User.ID}, Subject: "s", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// Claire may reply although she could not have started the thread.
	if _, err := s.svc.Reply(ctx, s.claire, th.ID, "merci", domain.NoFiles); err != nil {
		t.Errorf("reply: %v", err)
	}
	if _, err := s.svc.Reply(ctx, s.alice, th.ID, "intrusion", domain.NoFiles); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("non-participant reply: %v", err)
	}
}

func TestWeekBoundsStartOnMonday(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Paris")
	from, to := workspace.WeekBounds(time.Date(2026, 11, 29, 23, 30, 0, 0, loc), loc) // a Sunday
	if from.Weekday() != time.Monday || from.Day() != 23 || to.Sub(from) != 7*24*time.Hour {
		t.Errorf("week = %v – %v", from, to)
	}
}

// stored is Files already in the blob store.
type stored []domain.Attachment

func (f stored) Attachments() []domain.Attachment { return f }
func (stored) Keep() error                        { return nil }

func TestColleaguesReadButDoNotMark(t *testing.T) {
	s := newSchool(t)
	ctx := t.Context()
	// Teacher B also teaches class A (history): a colleague of teacher A.
	if err := s.store.AddTeaching(ctx, domain.Teaching{TeacherID: s.teacherB.User.ID, Audience: domain.Audience{ClassID: s.classA}, Subject: "Histoire"}); err != nil {
		t.Fatal(err)
	}
	colleague, err := s.store.Membership(ctx, s.teacherB.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := s.homework(t, s.teacherA, domain.Audience{ClassID: s.classA}, s.now.Add(time.Hour), time.Time{})
	sub, err := s.svc.Submit(ctx, s.alice, e.ID, "copie", domain.NoFiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.svc.Submission(ctx, colleague, sub.ID); err != nil {
		t.Errorf("colleague cannot read the submission: %v", err)
	}
	mark := 3.0
	if _, err := s.svc.ReturnFeedback(ctx, colleague, sub.ID, domain.Feedback{Mark: &mark}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("colleague overwrote the mark: %v", err)
	}
	if _, err := s.svc.ReturnFeedback(ctx, s.admin, sub.ID, domain.Feedback{Text: "vu"}); err != nil {
		t.Errorf("staff cannot return feedback: %v", err)
	}
}
