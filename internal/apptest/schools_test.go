// Isolation between two schools on one server: a second school is created
// with the real admin commands (preau school add / import users / user add,
// run in-process on the running server's data directory) with a class and a
// group named like the demo's ("6e A", "Latin"). Its pupil, parent, teacher
// and admin must see nothing of the demo school — homework, submissions,
// threads, users — and may neither publish for its classes nor write to its
// people, and the other way round.
package apptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"preau/internal/cli"
)

// runCLI runs a preau admin command in-process and returns its output.
func runCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, nil); code != 0 {
		t.Fatalf("preau %v: exit %d\n%s%s", args, code, out.String(), errb.String())
	}
	return out.String()
}

var credentialRE = regexp.MustCompile(`(?m)^([a-z0-9._-]+),"[^"]*",(\S+)$`)

func TestSchoolsAreIsolated(t *testing.T) {
	s := newSchool(t)
	data := []string{"--data", s.Data, "--log-level", "error"}
	out := runCLI(t, "", append([]string{"school", "add", "--name", "Collège Voisin"}, data...)...)
	m := regexp.MustCompile(`school (\d+):`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("school add: %q", out)
	}
	other := m[1]
	csv := filepath.Join(t.TempDir(), "voisin.csv")
	if err := os.WriteFile(csv, []byte("rôle;identifiant;nom;classe;groupes;enfants;enseigne\n"+
		"élève;voisin.eleve;Lou Voisin;6e A;Latin;;\n"+
		"responsable;voisin.parent;Max Voisin;;;voisin.eleve;\n"+
		"prof;voisin.prof;Inès Voisin;;;;6e A:Mathématiques|Latin:Latin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = runCLI(t, "", append([]string{"import", "users", csv, "--apply", "--school", other}, data...)...)
	passwords := map[string]string{}
	for _, m := range credentialRE.FindAllStringSubmatch(out, -1) {
		passwords[m[1]] = m[2]
	}
	if len(passwords) != 3 {
		t.Fatalf("import: %q", out)
	}
	runCLI(t, "direction-voisine\n", append([]string{"user", "add", "--login", "voisin.admin", "--name", "Direction voisine", "--role", "admin", "--school", other}, data...)...)
	passwords["voisin.admin"] = "direction-voisine"
	for login, pw := range passwords {
		s.apis[login] = s.LoginAPI(t, login, pw)
		s.browsers[login] = s.LoginHTML(t, login, pw)
	}

	// The demo school's resources, found by their owners.
	maths := findHomework(t, s.api(t, "eleve"), "Devoir maison n° 3 : fractions")
	scheduled := findHomework(t, s.api(t, "prof"), "Contrôle surprise (publication programmée)")
	var subs struct {
		Submissions []submissionJSON `json:"submissions"`
	}
	if code := s.api(t, "prof").Do("GET", "/api/v1/homework/"+id(maths.ID)+"/submissions", nil, &subs); code != http.StatusOK || len(subs.Submissions) == 0 {
		t.Fatalf("prof's submissions: %d", code)
	}
	sub := subs.Submissions[0]
	var threads struct {
		Threads []threadJSON `json:"threads"`
	}
	if code := s.api(t, "admin").Do("GET", "/api/v1/messages", nil, &threads); code != http.StatusOK || len(threads.Threads) == 0 {
		t.Fatalf("admin's threads: %d", code)
	}
	thread := threads.Threads[0].ID

	// The other school's homework, for its 6e A, whose id voisin.prof
	// finds in the audience list of the publishing form.
	for _, e := range listHomework(t, s.api(t, "voisin.admin")) {
		t.Fatalf("the new school already lists homework %+v", e)
	}
	now := time.Now()
	code, page := s.html(t, "voisin.prof").Get("/homework/new")
	m = regexp.MustCompile(`value="class:(\d+)"`).FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("voisin.prof's publishing form: %d, no class", code)
	}
	voisinClass, _ := strconv.ParseInt(m[1], 10, 64)
	code, voisinHW, ae := publishJSON(t, s.api(t, "voisin.prof"), homework(voisinClass, "Devoir du collège voisin", now.Add(-time.Minute), now.Add(48*time.Hour)))
	if code != http.StatusCreated {
		t.Fatalf("voisin.prof publishes: %d %+v", code, ae)
	}

	outsiders := []string{"voisin.eleve", "voisin.parent", "voisin.prof", "voisin.admin"}
	t.Run("nothing of the demo school is visible from the other", func(t *testing.T) {
		probes := []probe{
			apiGet("/api/v1/homework/" + id(maths.ID)), apiGet("/api/v1/homework/" + id(scheduled.ID)),
			apiGet("/api/v1/homework/" + id(maths.ID) + "/submissions"),
			apiGet("/api/v1/submissions/" + id(sub.ID)), apiGet("/api/v1/messages/" + id(thread)),
			htmlGet("/homework/" + id(maths.ID)), htmlGet("/homework/" + id(maths.ID) + "/submissions.zip"),
			htmlGet("/submissions/" + id(sub.ID)), htmlGet("/submissions/" + id(sub.ID) + "/receipt.txt"),
			htmlGet("/messages/" + id(thread)),
			{api: true, method: "PUT", path: "/api/v1/submissions/" + id(sub.ID) + "/feedback", body: map[string]any{"text": "Intrus"}},
			{api: true, method: "PUT", path: "/api/v1/homework/" + id(maths.ID) + "/done"},
			{api: true, method: "POST", path: "/api/v1/messages/" + id(thread) + "/replies", body: map[string]any{"body": "Intrus"}},
		}
		for _, login := range outsiders {
			for _, p := range probes {
				code, body := s.try(t, login, p)
				expectNotFound(t, login, p, code, body)
			}
			for _, e := range listHomework(t, s.api(t, login)) {
				if e.ID != voisinHW.ID {
					t.Errorf("%s lists homework %d %q of another school", login, e.ID, e.Title)
				}
			}
		}
		for _, login := range []string{"eleve", "parent", "prof", "admin"} {
			code, body := s.try(t, login, apiGet("/api/v1/homework/"+id(voisinHW.ID)))
			expectNotFound(t, login, apiGet("/api/v1/homework/"+id(voisinHW.ID)), code, body)
			if containsEntry(listHomework(t, s.api(t, login)), voisinHW.ID) {
				t.Errorf("%s lists the other school's homework", login)
			}
		}
	})

	t.Run("the pupil of the other school's 6e A hands in there only", func(t *testing.T) {
		if code, _, ae := submit(t, s.Server, s.api(t, "voisin.eleve"), voisinHW.ID, "Ma copie"); code != http.StatusCreated {
			t.Errorf("voisin.eleve submits to her homework: %d %+v", code, ae)
		}
		if code, _, ae := submit(t, s.Server, s.api(t, "voisin.eleve"), maths.ID, "Intrus"); code != http.StatusNotFound {
			t.Errorf("voisin.eleve submits to the demo's 6e A: %d %+v", code, ae)
		}
	})

	t.Run("no publishing for another school's class", func(t *testing.T) {
		for _, login := range []string{"voisin.admin", "voisin.prof"} {
			code, _, ae := publishJSON(t, s.api(t, login), homework(maths.ClassID, "Intrus", now, now.Add(time.Hour)))
			if code != http.StatusUnprocessableEntity || ae.Error.Fields["audience"] == "" {
				t.Errorf("%s publishes for the demo's 6e A: %d %+v", login, code, ae)
			}
		}
		code, _, ae := publishJSON(t, s.api(t, "admin"), homework(voisinClass, "Intrus", now, now.Add(time.Hour)))
		if code != http.StatusUnprocessableEntity || ae.Error.Fields["audience"] == "" {
			t.Errorf("the demo's admin publishes for the other school's class: %d %+v", code, ae)
		}
	})

	t.Run("no messages across schools", func(t *testing.T) {
		for _, c := range [][2]string{
			{"voisin.admin", "eleve"}, {"voisin.prof", "prof"}, {"voisin.admin", "admin"},
			{"admin", "voisin.admin"}, {"prof", "voisin.eleve"}, {"eleve", "voisin.prof"},
		} {
			canWrite(t, s, c[0], c[1], false)
		}
		canWrite(t, s, "voisin.eleve", "voisin.prof", true)
		code, page := s.html(t, "voisin.admin").Get("/admin/users")
		if code != http.StatusOK {
			t.Fatalf("users page: %d", code)
		}
		for _, name := range []string{"Léa Moreau", "Julien Martin", "Nadia Benali"} {
			if strings.Contains(page, name) {
				t.Errorf("the other school's admin sees %s", name)
			}
		}
		if !strings.Contains(page, "Lou Voisin") {
			t.Error("the other school's admin does not see her own pupil")
		}
		var me struct {
			Children []json.RawMessage `json:"children"`
		}
		s.api(t, "voisin.parent").Do("GET", "/api/v1/me", nil, &me)
		if len(me.Children) != 1 {
			t.Errorf("voisin.parent has %d children", len(me.Children))
		}
	})
}
