// import_test.go covers the staff CSV import through the HTML pages: the
// dry run lists every problem with its line and imports nothing; a clean
// file is confirmed, runs as a background job whose page refreshes itself,
// and ends with initial passwords that work.
package apptest_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"preau/internal/apptest"
)

func csvUpload(t *testing.T, kind, content string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("kind", kind)
	fw, err := mw.CreateFormFile("file", "eleves.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestStaffImportsAccountsWithADryRunFirst(t *testing.T) {
	s := apptest.StartDemo(t)
	admin := s.LoginHTML(t, "admin", "demo")

	bad := "rôle;identifiant;nom;classe\nélève;Zoé Bad;Zoé;6e A\nélève;zoe2;Zoé Deux;\n"
	ct, body := csvUpload(t, "users", bad)
	code, page, _ := admin.PostMultipart("/admin/import", ct, body)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "Rien n&#39;a été importé") {
		t.Fatalf("bad file: status %d", code)
	}
	for _, want := range []string{"<td>2</td>", "<td>3</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks line %s", want)
		}
	}

	good := "rôle;identifiant;nom;classe\nélève;nouvelle.eleve;Nouvelle Élève;6e A\n"
	ct, body = csvUpload(t, "users", good)
	code, page, _ = admin.PostMultipart("/admin/import", ct, body)
	if code != http.StatusOK || !strings.Contains(page, "1 ligne prête à importer") {
		t.Fatalf("dry run: status %d", code)
	}
	// Nothing is imported by the dry run.
	if code, _, _ := s.TryLoginAPI(t, "nouvelle.eleve", "x"); code != http.StatusUnauthorized {
		t.Errorf("account exists after a dry run? login answered %d", code)
	}
	sum := regexp.MustCompile(`name="confirm" value="([0-9a-f]{64})"`).FindStringSubmatch(page)
	if sum == nil {
		t.Fatal("no confirm form")
	}
	var confirm bytes.Buffer
	mw := multipart.NewWriter(&confirm)
	mw.WriteField("kind", "users")
	mw.WriteField("confirm", sum[1])
	mw.Close()
	code, _, hdr := admin.PostMultipart("/admin/import", mw.FormDataContentType(), &confirm)
	job := hdr.Get("Location")
	if code != http.StatusSeeOther || !strings.HasPrefix(job, "/admin/import/jobs/") {
		t.Fatalf("confirm: %d %q", code, job)
	}
	var result string
	for range 600 {
		code, result = admin.Get(job)
		if code != http.StatusOK {
			t.Fatalf("job page: %d", code)
		}
		if !strings.Contains(result, `http-equiv="refresh"`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	pw := regexp.MustCompile(`<td>nouvelle\.eleve</td><td><code>([A-Za-z0-9]{12})</code>`).FindStringSubmatch(result)
	if pw == nil {
		t.Fatalf("no initial password on the result page")
	}
	s.LoginAPI(t, "nouvelle.eleve", pw[1])
	// Another admin session cannot see the job's passwords.
	other := s.LoginHTML(t, "cpe", "demo")
	if code, _ := other.Get(job); code != http.StatusNotFound {
		t.Errorf("another admin sees the job: %d", code)
	}
}
