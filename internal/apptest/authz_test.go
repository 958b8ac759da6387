// Authorization matrix: every role (student, classmate, parent, another
// child's parent, the class's teacher, a teacher of another class, the Latin
// teacher, admin) against every kind of resource, over the JSON API and the
// HTML pages: another class's homework and its files, submissions list and
// zip; a homework scheduled for later; a pupil's submission, its receipt and
// files; feedback; a thread one is not part of and replying to it; the admin
// pages; publishing for a class one does not teach; ticking done; what a
// parent sees of their child and of another child. A resource a user may
// not see must answer 404 (never 403), exactly like one that does not exist.
// Every id is found by logging in as someone who may see it.
package apptest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// viewers are the logins every read is tried as (see newSchool for the
// 6x3 demo): eleve and e1.2 are pupils of 6e A, parent is eleve's,
// p.e1.2 is e1.2's; prof teaches maths to 6e A, martin.2 maths to 4e B
// only, latin the Latin group (which eleve is in); admin runs the school.
var viewers = []string{"eleve", "e1.2", "parent", "p.e1.2", "prof", "martin.2", "latin", "admin"}

// probe is one request tried as several users.
type probe struct {
	api    bool
	method string
	path   string
	body   any // API: JSON value; HTML POST: url.Values
}

func (p probe) String() string {
	if p.api {
		return "API " + p.method + " " + p.path
	}
	return "HTML " + p.method + " " + p.path
}

func apiGet(path string) probe  { return probe{api: true, method: "GET", path: path} }
func htmlGet(path string) probe { return probe{method: "GET", path: path} }

// try sends p as login and returns the status and body.
func (s *school) try(t *testing.T, login string, p probe) (int, string) {
	t.Helper()
	if p.api {
		var raw json.RawMessage
		code := s.api(t, login).Do(p.method, p.path, p.body, &raw)
		return code, string(raw)
	}
	b := s.html(t, login)
	if p.method == "GET" {
		return b.Get(p.path)
	}
	form := url.Values{}
	if v, ok := p.body.(url.Values); ok {
		for k, vs := range v {
			form[k] = slices.Clone(vs) // Post adds this user's CSRF token
		}
	}
	code, body, _ := b.Post(p.path, form)
	return code, body
}

// expectNotFound checks a 404 is the ordinary "not found" answer, never a
// hint that the resource exists.
func expectNotFound(t *testing.T, who string, p probe, code int, body string) {
	t.Helper()
	if code != http.StatusNotFound {
		t.Errorf("%s: %s = %d, want 404", who, p, code)
		return
	}
	if p.api {
		var ae apiError
		if err := json.Unmarshal([]byte(body), &ae); err != nil || ae.Error.Code != "not_found" {
			t.Errorf("%s: %s: 404 body %q, want code not_found", who, p, body)
		}
	} else if !strings.Contains(body, "ne vous est pas accessible") {
		t.Errorf("%s: %s: 404 page without the not-found message", who, p)
	}
}

// authzFixture holds the resources of the matrix.
type authzFixture struct {
	classA, classB int64  // 6e A (eleve's class), 4e B (martin.2's only maths class)
	maths          int64  // prof's "Devoir maison n° 3" for 6e A, with hand-in
	scheduled      int64  // prof's homework for 6e A published tomorrow at 7:00
	other          int64  // martin.2's homework for 4e B, with an attachment
	otherFile      string // its attachment's sha256
	lesson         int64  // prof's lesson record for 6e A
	mine           int64  // eleve's submission on maths
	mineFile       string
	otherSub       int64 // e6.1's submission on other
	otherSubFile   string
	thread         int64 // prof ↔ e1.2
}

func setupAuthz(t *testing.T, s *school) authzFixture {
	t.Helper()
	var f authzFixture
	f.classA, f.classB = s.classID(t, "6e A"), s.classID(t, "4e B")

	// martin.2 publishes homework with a handout for 4e B through the HTML form.
	handout := pdf("polycopié 4e B", 3000)
	due := time.Now().In(paris(t)).AddDate(0, 0, 2).Format("2006-01-02")
	ct, body := multipartBody(t, map[string]string{"audience": "class:" + id(f.classB), "kind": "homework",
		"subject": "Mathématiques", "title": "Problème 4e B", "description": "Voir le polycopié.",
		"due": due, "due_time": "08:00", "handin": "1"}, upload{"polycopie.pdf", "application/pdf", handout})
	if code, _, hdr := s.html(t, "martin.2").PostMultipart("/homework", ct, strings.NewReader(string(body))); code != http.StatusSeeOther {
		t.Fatalf("martin.2 publishes: %d %v", code, hdr)
	}
	other := findHomework(t, s.api(t, "martin.2"), "Problème 4e B")
	if len(other.Files) != 1 || other.Files[0].SHA256 != sha(handout) {
		t.Fatalf("martin.2's homework files: %+v", other.Files)
	}
	f.other, f.otherFile = other.ID, other.Files[0].SHA256

	// A pupil of 4e B hands in.
	work := pdf("copie e6.1", 2000)
	code, sub, ae := submit(t, s.Server, s.api(t, "e6.1"), f.other, "Ma copie.", upload{"copie.pdf", "application/pdf", work})
	if code != http.StatusCreated {
		t.Fatalf("e6.1 submits: %d %+v", code, ae)
	}
	f.otherSub, f.otherSubFile = sub.ID, sub.Files[0].SHA256

	// eleve hands in prof's maths homework.
	f.maths = findHomework(t, s.api(t, "eleve"), "Devoir maison n° 3 : fractions").ID
	work = pdf("copie eleve", 2500)
	code, sub, ae = submit(t, s.Server, s.api(t, "eleve"), f.maths, "Exercice 1 : 7/8.", upload{"devoir.pdf", "application/pdf", work})
	if code != http.StatusCreated {
		t.Fatalf("eleve submits: %d %+v", code, ae)
	}
	f.mine, f.mineFile = sub.ID, sub.Files[0].SHA256

	// The scheduled homework the demo seeds, as its author sees it.
	f.scheduled = findHomework(t, s.api(t, "prof"), "Contrôle surprise (publication programmée)").ID

	// A lesson record (not homework: nothing to tick).
	var lesson entryJSON
	if code := s.api(t, "prof").Do("POST", "/api/v1/homework", map[string]any{"kind": "lesson", "class_id": f.classA,
		"subject": "Mathématiques", "title": "Séance : fractions", "lesson_date": time.Now().Add(-time.Hour)}, &lesson); code != http.StatusCreated {
		t.Fatalf("prof publishes a lesson: %d", code)
	}
	f.lesson = lesson.ID

	// A private conversation between prof and e1.2.
	code, f.thread, ae = startThread(t, s.api(t, "prof"), []int64{s.userID(t, "e1.2")}, "Ton exposé", "Peux-tu passer me voir ?")
	if code != http.StatusCreated {
		t.Fatalf("prof writes to e1.2: %d %+v", code, ae)
	}
	return f
}

func TestAuthorizationMatrix(t *testing.T) {
	s := newSchool(t, "--size", "6x3")
	f := setupAuthz(t, s)
	ok := func(logins ...string) map[string]int {
		m := map[string]int{}
		for _, l := range logins {
			m[l] = http.StatusOK
		}
		return m
	}

	reads := []struct {
		name   string
		probes []probe
		ok     map[string]int // everyone else: 404
	}{
		{"own class homework", []probe{
			apiGet("/api/v1/homework/" + id(f.maths)), htmlGet("/homework/" + id(f.maths)),
		}, ok("eleve", "e1.2", "parent", "p.e1.2", "prof", "admin")},
		{"another class's homework, its files, hand-ins and zip", []probe{
			apiGet("/api/v1/homework/" + id(f.other)), apiGet("/api/v1/homework/" + id(f.other) + "/submissions"),
			htmlGet("/homework/" + id(f.other)), htmlGet("/homework/" + id(f.other) + "/files/" + f.otherFile),
			htmlGet("/homework/" + id(f.other) + "/submissions"), htmlGet("/homework/" + id(f.other) + "/submissions.zip"),
		}, ok("martin.2", "admin")},
		{"homework scheduled for tomorrow", []probe{
			apiGet("/api/v1/homework/" + id(f.scheduled)), apiGet("/api/v1/homework/" + id(f.scheduled) + "/submissions"),
			htmlGet("/homework/" + id(f.scheduled)),
		}, ok("prof", "admin")},
		{"hand-in review pages of a class's homework", []probe{
			htmlGet("/homework/" + id(f.maths) + "/submissions"), htmlGet("/homework/" + id(f.maths) + "/submissions.zip"),
		}, ok("prof", "admin")},
		{"a pupil's submission, receipt and files", []probe{
			apiGet("/api/v1/submissions/" + id(f.mine)), htmlGet("/submissions/" + id(f.mine)),
			htmlGet("/submissions/" + id(f.mine) + "/receipt.txt"), htmlGet("/submissions/" + id(f.mine) + "/files/" + f.mineFile),
		}, ok("eleve", "parent", "prof", "admin")},
		{"a submission in another class", []probe{
			apiGet("/api/v1/submissions/" + id(f.otherSub)), htmlGet("/submissions/" + id(f.otherSub)),
			htmlGet("/submissions/" + id(f.otherSub) + "/receipt.txt"), htmlGet("/submissions/" + id(f.otherSub) + "/files/" + f.otherSubFile),
		}, ok("martin.2", "admin")},
		{"a thread between two other people", []probe{
			apiGet("/api/v1/messages/" + id(f.thread)), htmlGet("/messages/" + id(f.thread)),
		}, ok("prof", "e1.2")},
		{"admin pages", []probe{
			htmlGet("/admin"), htmlGet("/admin/users"), htmlGet("/admin/import"), htmlGet("/admin/messaging"),
		}, ok("admin")},
	}
	for _, c := range reads {
		t.Run(c.name, func(t *testing.T) {
			for _, login := range viewers {
				for _, p := range c.probes {
					code, body := s.try(t, login, p)
					if want, allowed := c.ok[login]; allowed {
						if code != want {
							t.Errorf("%s: %s = %d, want %d", login, p, code, want)
						}
						continue
					}
					expectNotFound(t, login, p, code, body)
				}
			}
		})
	}

	permissive := url.Values{}
	for _, from := range []string{"student", "parent", "teacher", "admin"} {
		for _, to := range []string{"student", "parent", "teacher", "admin"} {
			permissive.Set(from+"-"+to, "school")
		}
	}
	writes := []struct {
		name   string
		probes []probe
		who    []string // each must get 404
	}{
		{"feedback on a submission by someone who may not review it", []probe{
			{api: true, method: "PUT", path: "/api/v1/submissions/" + id(f.mine) + "/feedback", body: map[string]any{"text": "Intrus", "mark": 3}},
			{method: "POST", path: "/submissions/" + id(f.mine) + "/feedback", body: url.Values{"feedback": {"Intrus"}, "mark": {"3"}}},
		}, []string{"eleve", "e1.2", "parent", "p.e1.2", "martin.2", "latin"}},
		{"feedback on another class's submission", []probe{
			{api: true, method: "PUT", path: "/api/v1/submissions/" + id(f.otherSub) + "/feedback", body: map[string]any{"text": "Intrus", "mark": 3}},
			{method: "POST", path: "/submissions/" + id(f.otherSub) + "/feedback", body: url.Values{"feedback": {"Intrus"}, "mark": {"3"}}},
		}, []string{"eleve", "e1.2", "parent", "p.e1.2", "prof", "latin"}},
		{"replying to a thread one is not part of", []probe{
			{api: true, method: "POST", path: "/api/v1/messages/" + id(f.thread) + "/replies", body: map[string]any{"body": "Intrus"}},
			{method: "POST", path: "/messages/" + id(f.thread) + "/reply", body: url.Values{"body": {"Intrus"}}},
		}, []string{"eleve", "parent", "p.e1.2", "martin.2", "latin", "admin"}},
		{"changing the messaging rules without being admin", []probe{
			{method: "POST", path: "/admin/messaging", body: permissive},
		}, []string{"eleve", "parent", "prof", "martin.2", "latin"}},
		{"a pupil ticking a lesson, a hidden homework, a scheduled one", []probe{
			{api: true, method: "PUT", path: "/api/v1/homework/" + id(f.lesson) + "/done"},
			{api: true, method: "DELETE", path: "/api/v1/homework/" + id(f.lesson) + "/done"},
			{api: true, method: "PUT", path: "/api/v1/homework/" + id(f.other) + "/done"},
			{api: true, method: "PUT", path: "/api/v1/homework/" + id(f.scheduled) + "/done"},
			{method: "POST", path: "/homework/" + id(f.lesson) + "/done", body: url.Values{"done": {"1"}}},
			{method: "POST", path: "/homework/" + id(f.other) + "/done", body: url.Values{"done": {"1"}}},
		}, []string{"eleve", "e1.2"}},
		{"ticking done without being a pupil", []probe{
			{api: true, method: "PUT", path: "/api/v1/homework/" + id(f.maths) + "/done"},
			{method: "POST", path: "/homework/" + id(f.maths) + "/done", body: url.Values{"done": {"1"}}},
		}, []string{"parent", "prof", "martin.2", "admin"}},
		{"publishing through the HTML form without being staff", []probe{
			htmlGet("/homework/new"),
			{method: "POST", path: "/homework", body: url.Values{"audience": {"class:" + id(f.classA)}, "kind": {"homework"}}},
		}, []string{"eleve", "parent"}},
	}
	for _, c := range writes {
		t.Run(c.name, func(t *testing.T) {
			for _, login := range c.who {
				for _, p := range c.probes {
					code, body := s.try(t, login, p)
					expectNotFound(t, login, p, code, body)
				}
			}
		})
	}

	t.Run("refused writes changed nothing", func(t *testing.T) {
		if code, sub := getSubmission(t, s.api(t, "eleve"), f.mine); code != http.StatusOK || sub.Feedback != nil {
			t.Errorf("eleve's submission after refused feedback: %d %+v", code, sub.Feedback)
		}
		if code, sub := getSubmission(t, s.api(t, "e6.1"), f.otherSub); code != http.StatusOK || sub.Feedback != nil {
			t.Errorf("e6.1's submission after refused feedback: %d %+v", code, sub.Feedback)
		}
		var th struct {
			Messages []struct {
				Body string `json:"body"`
			} `json:"messages"`
		}
		if code := s.api(t, "prof").Do("GET", "/api/v1/messages/"+id(f.thread), nil, &th); code != http.StatusOK || len(th.Messages) != 1 {
			t.Errorf("thread after refused replies: %d %+v", code, th.Messages)
		}
		if code, _, ae := startThread(t, s.api(t, "eleve"), []int64{s.userID(t, "e1.2")}, "Salut", "Coucou"); code != http.StatusUnprocessableEntity || ae.Error.Fields["to"] == "" {
			t.Errorf("student to student after refused policy changes: %d %+v (policy changed?)", code, ae)
		}
		var e entryJSON
		if code := s.api(t, "eleve").Do("GET", "/api/v1/homework/"+id(f.maths), nil, &e); code != http.StatusOK || e.Status == nil || e.Status.Done {
			t.Errorf("maths homework after refused ticks: %d %+v", code, e.Status)
		}
	})

	t.Run("a pupil ticks their own homework", func(t *testing.T) {
		a := s.api(t, "eleve")
		if code := a.Do("PUT", "/api/v1/homework/"+id(f.maths)+"/done", nil, nil); code != http.StatusNoContent {
			t.Fatalf("tick: %d", code)
		}
		var e entryJSON
		if code := a.Do("GET", "/api/v1/homework/"+id(f.maths), nil, &e); code != http.StatusOK || e.Status == nil || !e.Status.Done {
			t.Errorf("after tick: %d %+v", code, e.Status)
		}
		if code := a.Do("DELETE", "/api/v1/homework/"+id(f.maths)+"/done", nil, nil); code != http.StatusNoContent {
			t.Errorf("untick: %d", code)
		}
	})

	t.Run("hand-ins to homework one may not hand in", func(t *testing.T) {
		cases := []struct {
			login string
			entry int64
		}{
			{"eleve", f.other}, {"eleve", f.scheduled}, {"eleve", f.lesson},
			{"parent", f.maths}, {"prof", f.maths}, {"admin", f.maths}, {"martin.2", f.maths},
		}
		for _, c := range cases {
			code, _, ae := submit(t, s.Server, s.api(t, c.login), c.entry, "Intrus", upload{"x.txt", "text/plain", []byte("x")})
			if code != http.StatusNotFound || ae.Error.Code != "not_found" {
				t.Errorf("%s submits to %d: %d %+v, want 404", c.login, c.entry, code, ae)
			}
		}
	})

	t.Run("publishing for a class one does not teach", func(t *testing.T) {
		now := time.Now()
		cases := []struct {
			login string
			class int64
			want  int
		}{
			{"prof", f.classB, http.StatusUnprocessableEntity},
			{"martin.2", f.classA, http.StatusUnprocessableEntity},
			{"latin", f.classA, http.StatusUnprocessableEntity},
			{"eleve", f.classA, http.StatusUnprocessableEntity},
			{"parent", f.classA, http.StatusUnprocessableEntity},
			{"prof", f.classA, http.StatusCreated},
			{"admin", f.classB, http.StatusCreated},
		}
		for _, c := range cases {
			code, e, ae := publishJSON(t, s.api(t, c.login), homework(c.class, "Essai de "+c.login, now, now.Add(48*time.Hour)))
			if code != c.want {
				t.Errorf("%s publishes for class %d: %d %+v, want %d", c.login, c.class, code, ae, c.want)
				continue
			}
			if code == http.StatusUnprocessableEntity && ae.Error.Fields["audience"] == "" {
				t.Errorf("%s publishes for class %d: fields %v, want an audience error", c.login, c.class, ae.Error.Fields)
			}
			if code == http.StatusCreated && e.ClassID != c.class {
				t.Errorf("%s published %+v", c.login, e)
			}
		}
	})

	t.Run("lists show only what one may see", func(t *testing.T) {
		for _, c := range []struct {
			login      string
			maths      bool
			other      bool
			scheduled  bool
			forStudent int64 // parents: whose homework
		}{
			{"eleve", true, false, false, 0},
			{"parent", true, false, false, s.userID(t, "eleve")},
			{"prof", true, false, true, 0},
			{"martin.2", false, true, false, 0},
			{"admin", true, true, true, 0},
		} {
			list := listHomework(t, s.api(t, c.login))
			for _, x := range []struct {
				name string
				id   int64
				want bool
			}{{"maths", f.maths, c.maths}, {"other class", f.other, c.other}, {"scheduled", f.scheduled, c.scheduled}} {
				if got := containsEntry(list, x.id); got != x.want {
					t.Errorf("%s's homework list has %s: %t, want %t", c.login, x.name, got, x.want)
				}
			}
			if c.forStudent != 0 {
				for _, e := range list {
					if e.StudentID != c.forStudent {
						t.Errorf("parent's list has homework %d for student %d", e.ID, e.StudentID)
					}
				}
			}
		}
	})

	t.Run("submission lists are filtered", func(t *testing.T) {
		byStudent := func(login string) []int64 {
			var out struct {
				Submissions []submissionJSON `json:"submissions"`
			}
			if code := s.api(t, login).Do("GET", "/api/v1/homework/"+id(f.maths)+"/submissions", nil, &out); code != http.StatusOK {
				t.Fatalf("%s lists submissions: %d", login, code)
			}
			var ids []int64
			for _, sub := range out.Submissions {
				ids = append(ids, sub.StudentID)
			}
			return ids
		}
		eleve, classmate := s.userID(t, "eleve"), s.userID(t, "e1.2")
		for _, c := range []struct {
			login string
			only  int64
		}{{"eleve", eleve}, {"parent", eleve}, {"e1.2", classmate}, {"p.e1.2", classmate}} {
			got := byStudent(c.login)
			for _, st := range got {
				if st != c.only {
					t.Errorf("%s sees a submission of student %d (want only %d)", c.login, st, c.only)
				}
			}
		}
		if got := byStudent("eleve"); len(got) != 1 {
			t.Errorf("eleve sees %d submissions, want her one", len(got))
		}
		if got := byStudent("prof"); len(got) < 3 || !slices.Contains(got, eleve) {
			t.Errorf("prof sees %v, want eleve's and the two seeded ones", got)
		}
	})

	t.Run("a parent sees their child's timetable but not another's", func(t *testing.T) {
		a := s.api(t, "parent")
		var tt struct {
			Slots []json.RawMessage `json:"slots"`
		}
		if code := a.Do("GET", "/api/v1/timetable?student="+id(s.userID(t, "eleve")), nil, &tt); code != http.StatusOK || len(tt.Slots) == 0 {
			t.Errorf("child's timetable: %d, %d slots", code, len(tt.Slots))
		}
		var raw json.RawMessage
		code := a.Do("GET", "/api/v1/timetable?student="+id(s.userID(t, "e1.2")), nil, &raw)
		expectNotFound(t, "parent", apiGet("/api/v1/timetable?student=e1.2"), code, string(raw))
	})

	t.Run("hidden and missing resources answer alike", func(t *testing.T) {
		missing := f.otherSub + 1_000_000
		for _, pair := range [][2]probe{
			{apiGet("/api/v1/homework/" + id(f.other)), apiGet("/api/v1/homework/" + id(missing))},
			{apiGet("/api/v1/submissions/" + id(f.otherSub)), apiGet("/api/v1/submissions/" + id(missing))},
			{apiGet("/api/v1/messages/" + id(f.thread)), apiGet("/api/v1/messages/" + id(missing))},
			{htmlGet("/homework/" + id(f.other)), htmlGet("/homework/" + id(missing))},
			{htmlGet("/submissions/" + id(f.otherSub)), htmlGet("/submissions/" + id(missing))},
		} {
			c1, b1 := s.try(t, "eleve", pair[0])
			c2, b2 := s.try(t, "eleve", pair[1])
			if !pair[0].api { // the page's main content
				b1, b2 = mainContent(b1), mainContent(b2)
			}
			if c1 != c2 || b1 != b2 {
				t.Errorf("%s (hidden) = %d %q\n%s (missing) = %d %q", pair[0], c1, b1, pair[1], c2, b2)
			}
		}
	})

	t.Run("files only through a resource that lists them", func(t *testing.T) {
		// prof sends e1.2 a file through the HTML form.
		note := pdf("mot pour e1.2", 4000)
		ct, body := multipartBody(t, map[string]string{"to": id(s.userID(t, "e1.2")), "subject": "Ta copie", "body": "Voici la correction."},
			upload{"correction.pdf", "application/pdf", note})
		code, _, hdr := s.html(t, "prof").PostMultipart("/messages", ct, strings.NewReader(string(body)))
		if code != http.StatusSeeOther {
			t.Fatalf("prof's message with a file: %d", code)
		}
		thread := strings.TrimPrefix(strings.SplitN(hdr.Get("Location"), "?", 2)[0], "/messages/")
		for _, login := range []string{"e1.2", "prof"} {
			if code, got := s.html(t, login).Get("/messages/" + thread + "/files/" + sha(note)); code != http.StatusOK || got != string(note) {
				t.Errorf("%s downloads the attachment: %d, %d bytes", login, code, len(got))
			}
		}
		// Knowing a file's digest opens nothing else.
		for _, c := range []struct{ login, path string }{
			{"eleve", "/messages/" + thread + "/files/" + sha(note)},
			{"admin", "/messages/" + thread + "/files/" + sha(note)},
			{"e1.2", "/homework/" + id(f.maths) + "/files/" + sha(note)},
			{"e1.2", "/homework/" + id(f.other) + "/files/" + f.otherFile},
			{"eleve", "/submissions/" + id(f.mine) + "/files/" + sha(note)},
			{"eleve", "/submissions/" + id(f.mine) + "/files/" + f.otherSubFile},
			{"martin.2", "/submissions/" + id(f.otherSub) + "/files/" + f.mineFile},
			{"eleve", "/messages/" + thread + "/files/" + f.mineFile},
		} {
			code, body := s.try(t, c.login, htmlGet(c.path))
			expectNotFound(t, c.login, htmlGet(c.path), code, body)
		}
		// A pupil of 4e B gets the handout of her homework.
		if code, got := s.html(t, "e6.1").Get("/homework/" + id(f.other) + "/files/" + f.otherFile); code != http.StatusOK || sha([]byte(got)) != f.otherFile {
			t.Errorf("e6.1 downloads her handout: %d", code)
		}
	})

	t.Run("timetables show a pupil's groups only", func(t *testing.T) {
		subjects := func(login, query string) map[string]bool {
			var tt struct {
				Slots []struct {
					Subject string `json:"subject"`
				} `json:"slots"`
			}
			if code := s.api(t, login).Do("GET", "/api/v1/timetable"+query, nil, &tt); code != http.StatusOK || len(tt.Slots) == 0 {
				t.Fatalf("%s's timetable: %d, %d slots", login, code, len(tt.Slots))
			}
			out := map[string]bool{}
			for _, sl := range tt.Slots {
				out[sl.Subject] = true
			}
			return out
		}
		if !subjects("eleve", "")["Latin"] {
			t.Error("eleve (in the Latin group) has no Latin lesson")
		}
		if subjects("e1.2", "")["Latin"] {
			t.Error("e1.2 (not in the Latin group) has a Latin lesson")
		}
		if subjects("p.e1.2", "?student="+id(s.userID(t, "e1.2")))["Latin"] {
			t.Error("e1.2's parent sees a Latin lesson")
		}
	})

	t.Run("scheduled homework appears at its publication time", func(t *testing.T) {
		publishAt := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
		code, e, ae := publishJSON(t, s.api(t, "prof"), homework(f.classA, "Publication à l'heure", publishAt, publishAt.Add(24*time.Hour)))
		if code != http.StatusCreated {
			t.Fatalf("publish: %d %+v", code, ae)
		}
		p := apiGet("/api/v1/homework/" + id(e.ID))
		for _, login := range []string{"eleve", "parent"} {
			if code, body := s.try(t, login, p); time.Now().Before(publishAt) {
				expectNotFound(t, login+" before publication", p, code, body)
			}
		}
		time.Sleep(time.Until(publishAt))
		deadline := time.Now().Add(30 * time.Second)
		for _, login := range []string{"eleve", "parent"} {
			for {
				code, _ := s.try(t, login, p)
				if code == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: still %d after publication", login, code)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		if !containsEntry(listHomework(t, s.api(t, "eleve")), e.ID) {
			t.Error("published homework missing from eleve's list")
		}
	})
}

// mainContent is the <main> element of a page.
func mainContent(page string) string {
	if i := strings.Index(page, "<main"); i >= 0 {
		page = page[i:]
	}
	if i := strings.Index(page, "</main>"); i >= 0 {
		page = page[:i]
	}
	return page
}
