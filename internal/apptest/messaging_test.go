// Messaging rules over the JSON API, under the default policy and after the
// admin changes it on /admin/messaging (HTML form with its CSRF token):
// who may start a thread with whom (422 with a "to" field error when the
// rules forbid it), replies inside an existing thread always allowed, and
// unread counts (GET /api/v1/messages and /api/v1/me) going up with new
// messages and back to 0 once read.
package apptest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// canWrite tries to start a thread and checks the outcome: 201, or 422
// with a field error on "to".
func canWrite(t *testing.T, s *school, from, to string, want bool) {
	t.Helper()
	code, tid, ae := startThread(t, s.api(t, from), []int64{s.userID(t, to)}, "De "+from+" à "+to, "Bonjour.")
	switch {
	case want && (code != http.StatusCreated || tid == 0):
		t.Errorf("%s → %s: %d %+v, want 201", from, to, code, ae)
	case !want && (code != http.StatusUnprocessableEntity || ae.Error.Code != "invalid" || ae.Error.Fields["to"] == ""):
		t.Errorf("%s → %s: %d %+v, want 422 with a \"to\" error", from, to, code, ae)
	}
}

func TestMessagingRules(t *testing.T) {
	s := newSchool(t, "--size", "6x3")

	t.Run("default policy", func(t *testing.T) {
		for _, c := range []struct {
			from, to string
			want     bool
		}{
			{"eleve", "e1.2", false},     // student → student: never
			{"eleve", "p.e1.2", false},   // student → parent: never
			{"eleve", "parent", false},   // not even their own
			{"eleve", "martin.2", false}, // a teacher who does not teach them
			{"eleve", "prof", true},      // their maths teacher
			{"eleve", "latin", true},     // their Latin group's teacher
			{"eleve", "admin", true},     // school staff
			{"parent", "prof", true},     // their child's teacher
			{"parent", "martin.2", false},
			{"parent", "e1.2", false},
			{"parent", "p.e1.2", false},
			{"parent", "admin", true},
			{"prof", "e6.1", true}, // teachers write to anyone in the school
			{"prof", "p.e6.1", true},
			{"prof", "martin.2", true},
			{"prof", "admin", true},
			{"martin.2", "eleve", true},
			{"admin", "e1.2", true},
		} {
			canWrite(t, s, c.from, c.to, c.want)
		}
	})

	t.Run("replies in an existing thread always work", func(t *testing.T) {
		code, tid, ae := startThread(t, s.api(t, "prof"), []int64{s.userID(t, "eleve"), s.userID(t, "e1.2")}, "Travail en binôme", "Vous travaillerez ensemble.")
		if code != http.StatusCreated {
			t.Fatalf("prof starts a group thread: %d %+v", code, ae)
		}
		for _, login := range []string{"eleve", "e1.2", "prof"} {
			if code := s.api(t, login).Do("POST", "/api/v1/messages/"+id(tid)+"/replies", map[string]string{"body": "Réponse de " + login}, nil); code != http.StatusCreated {
				t.Errorf("%s replies: %d", login, code)
			}
		}
		var th struct {
			Messages []struct {
				Body string `json:"body"`
			} `json:"messages"`
		}
		if code := s.api(t, "eleve").Do("GET", "/api/v1/messages/"+id(tid), nil, &th); code != http.StatusOK || len(th.Messages) != 4 {
			t.Errorf("thread as eleve: %d, %d messages, want 4", code, len(th.Messages))
		}
		// A parent replying in the seeded thread with prof.
		var list struct {
			Threads []threadJSON `json:"threads"`
		}
		s.api(t, "parent").Do("GET", "/api/v1/messages", nil, &list)
		replied := false
		for _, th := range list.Threads {
			if th.Subject == "Absence de Léa mardi" {
				if code := s.api(t, "parent").Do("POST", "/api/v1/messages/"+id(th.ID)+"/replies", map[string]string{"body": "Merci."}, nil); code != http.StatusCreated {
					t.Errorf("parent replies: %d", code)
				}
				replied = true
			}
		}
		if !replied {
			t.Error("seeded thread \"Absence de Léa mardi\" not found for parent")
		}
		// An empty reply is refused.
		var ae2 apiError
		if code := s.api(t, "eleve").Do("POST", "/api/v1/messages/"+id(tid)+"/replies", map[string]string{"body": "  "}, &ae2); code != http.StatusUnprocessableEntity || ae2.Error.Fields["body"] == "" {
			t.Errorf("empty reply: %d %+v", code, ae2)
		}
	})

	t.Run("unread counts", func(t *testing.T) {
		a := s.api(t, "eleve")
		unread := func() (list, me int) {
			t.Helper()
			var l struct {
				Unread  int          `json:"unread"`
				Threads []threadJSON `json:"threads"`
			}
			if code := a.Do("GET", "/api/v1/messages", nil, &l); code != http.StatusOK {
				t.Fatalf("list: %d", code)
			}
			var m struct {
				Unread int `json:"unread"`
			}
			if code := a.Do("GET", "/api/v1/me", nil, &m); code != http.StatusOK {
				t.Fatalf("me: %d", code)
			}
			return l.Unread, m.Unread
		}
		readAll := func() {
			t.Helper()
			var l struct {
				Threads []threadJSON `json:"threads"`
			}
			a.Do("GET", "/api/v1/messages", nil, &l)
			for _, th := range l.Threads {
				if th.Unread > 0 {
					if code := a.Do("GET", "/api/v1/messages/"+id(th.ID), nil, nil); code != http.StatusOK {
						t.Fatalf("read thread %d: %d", th.ID, code)
					}
				}
			}
		}
		u0, m0 := unread()
		if u0 < 1 || m0 != u0 {
			t.Errorf("eleve starts with %d unread (me: %d); the demo seeds a message from prof", u0, m0)
		}
		code, tid, _ := startThread(t, s.api(t, "prof"), []int64{s.userID(t, "eleve")}, "Rappel", "N'oublie pas ta calculatrice.")
		if code != http.StatusCreated {
			t.Fatalf("prof writes: %d", code)
		}
		if u, m := unread(); u != u0+1 || m != u0+1 {
			t.Errorf("after a new message: %d unread (me: %d), want %d", u, m, u0+1)
		}
		readAll()
		if u, m := unread(); u != 0 || m != 0 {
			t.Errorf("after reading everything: %d unread (me: %d), want 0", u, m)
		}
		for range 2 {
			s.api(t, "prof").Do("POST", "/api/v1/messages/"+id(tid)+"/replies", map[string]string{"body": "Et ta règle."}, nil)
		}
		if u, _ := unread(); u != 2 {
			t.Errorf("after two replies: %d unread, want 2", u)
		}
		// One's own messages are never unread.
		a.Do("POST", "/api/v1/messages/"+id(tid)+"/replies", map[string]string{"body": "D'accord."}, nil)
		readAll()
		if u, m := unread(); u != 0 || m != 0 {
			t.Errorf("after reading the replies: %d unread (me: %d), want 0", u, m)
		}
		var p struct {
			Unread int `json:"unread"`
		}
		s.api(t, "prof").Do("GET", "/api/v1/messages", nil, &p)
		if p.Unread < 1 {
			t.Errorf("prof has %d unread after eleve's reply", p.Unread)
		}
	})

	t.Run("admin opens student-to-student messaging", func(t *testing.T) {
		b := s.html(t, "admin")
		code, page := b.Get("/admin/messaging")
		if code != http.StatusOK {
			t.Fatalf("policy page: %d", code)
		}
		form := currentPolicy(t, page)
		if form.Get("student-student") != "none" || form.Get("teacher-student") != "school" {
			t.Fatalf("policy form does not show the defaults: %v", form)
		}
		form.Set("student-student", "school")
		if code, _, hdr := b.Post("/admin/messaging", form); code != http.StatusSeeOther || hdr.Get("Location") != "/admin/messaging?ok=policy" {
			t.Fatalf("save policy: %d %q", code, hdr.Get("Location"))
		}
		_, page = b.Get("/admin/messaging")
		if got := currentPolicy(t, page).Get("student-student"); got != "school" {
			t.Errorf("policy page after saving shows student-student=%q", got)
		}
		canWrite(t, s, "eleve", "e1.2", true)
		canWrite(t, s, "eleve", "e6.2", true) // "school": any pupil of the school
		canWrite(t, s, "eleve", "p.e1.2", false)
		canWrite(t, s, "parent", "e1.2", false)

		// A form with a value that is not a reach is refused and changes nothing.
		bad := currentPolicy(t, page)
		bad.Set("student-parent", "everyone")
		if code, _, _ := b.Post("/admin/messaging", bad); code != http.StatusUnprocessableEntity {
			t.Errorf("invalid policy: %d, want 422", code)
		}
		canWrite(t, s, "eleve", "p.e1.2", false)
	})
}

var policySelectRE = regexp.MustCompile(`(?s)<select id="[a-z]+-[a-z]+" name="([a-z]+-[a-z]+)">(.*?)</select>`)
var selectedRE = regexp.MustCompile(`<option value="([a-z]+)" selected>`)

// currentPolicy reads the policy form's selected values.
func currentPolicy(t *testing.T, page string) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range policySelectRE.FindAllStringSubmatch(page, -1) {
		if sel := selectedRE.FindStringSubmatch(m[2]); sel != nil {
			form.Set(m[1], sel[1])
		}
	}
	if len(form) != 16 {
		t.Fatalf("policy form has %d selects, want 16 (4 roles × 4 roles)", len(form))
	}
	return form
}

// TestRelatedReachFromTeachers sets the teacher rows of the policy to
// "related" and checks they reach who the rule says: "the teachers of a
// student's classes and groups … a teacher's students and their parents"
// (workspace.relatedFunc), i.e. the same links students and parents use
// to write to their teachers, seen from the other side.
func TestRelatedReachFromTeachers(t *testing.T) {
	s := newSchool(t, "--size", "6x3")
	b := s.html(t, "admin")
	_, page := b.Get("/admin/messaging")
	form := currentPolicy(t, page)
	form.Set("teacher-student", "related")
	form.Set("teacher-parent", "related")
	if code, _, _ := b.Post("/admin/messaging", form); code != http.StatusSeeOther {
		t.Fatalf("save policy: %d", code)
	}
	canWrite(t, s, "prof", "e1.2", true)     // a pupil of a class he teaches
	canWrite(t, s, "prof", "e6.1", false)    // 4e B: not his
	canWrite(t, s, "martin.2", "e6.1", true) // 4e B: his
	canWrite(t, s, "prof", "p.e6.1", false)  // a parent of a pupil not his
	canWrite(t, s, "eleve", "latin", true)   // the pupil reaches her Latin teacher…
	canWrite(t, s, "parent", "latin", true)  // …and so does her parent
	t.Run("teachers reach their groups' pupils and their pupils' parents", func(t *testing.T) {
		canWrite(t, s, "latin", "eleve", true)  // …but the Latin teacher cannot answer with a new thread
		canWrite(t, s, "prof", "parent", true)  // the parent of a pupil he teaches
		canWrite(t, s, "latin", "parent", true) // the parent of a pupil of his group
	})
}
