// The hand-in flow end to end: a pupil submits files and text over the API
// (multipart) and gets a 201 receipt whose file digests match the bytes
// sent and whose MAC verifies with the server's key; a second submission is
// a new, separate receipt and the first stays unchanged; a hand-in after the
// due date is flagged late; the teacher lists the hand-ins, downloads them
// as a zip (HTML) with the exact bytes, and returns feedback marked 15.5/20,
// which the pupil and the parent then see in the API and the HTML pages.
package apptest_test

import (
	"archive/zip"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// receiptKey derives the receipt key from the node's secret as the server
// does (HMAC-SHA256(secret, "preau/receipt")).
func receiptKey(t *testing.T, dataDir string) []byte {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(dataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("preau/receipt"))
	return m.Sum(nil)
}

// checkReceipt checks a submission's receipt against what was sent.
func checkReceipt(t *testing.T, key []byte, sub submissionJSON, login, text string, files []upload) {
	t.Helper()
	if sub.Receipt == nil || sub.Receipt.MAC == "" || sub.Receipt.Canonical == "" {
		t.Fatalf("submission %d has no receipt: %+v", sub.ID, sub.Receipt)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sub.Receipt.Canonical))
	if got := hex.EncodeToString(m.Sum(nil)); got != sub.Receipt.MAC {
		t.Errorf("receipt MAC %s does not verify (want %s)", sub.Receipt.MAC, got)
	}
	c := sub.Receipt.Canonical
	textSum := sha256.Sum256([]byte(text))
	for _, line := range []string{
		"preau-receipt-v1\n", "submission: " + id(sub.ID) + "\n", "entry: " + id(sub.HomeworkID) + "\n",
		"student: " + login + "\n", "submitted_at: " + sub.SubmittedAt.UTC().Format(time.RFC3339Nano) + "\n",
		"text_sha256: " + hex.EncodeToString(textSum[:]) + "\n",
	} {
		if !strings.Contains(c, line) {
			t.Errorf("receipt lacks %q:\n%s", line, c)
		}
	}
	if len(sub.Files) != len(files) {
		t.Fatalf("receipt has %d files, sent %d", len(sub.Files), len(files))
	}
	for i, f := range files {
		got := sub.Files[i]
		if got.SHA256 != sha(f.data) || got.Size != int64(len(f.data)) || got.Name != f.name {
			t.Errorf("file %d: %+v, sent %s (%d bytes, sha256 %s)", i, got, f.name, len(f.data), sha(f.data))
		}
		if line := "file: " + sha(f.data) + " " + id(int64(len(f.data))) + " " + f.name + "\n"; !strings.Contains(c, line) {
			t.Errorf("receipt lacks %q", line)
		}
	}
}

func TestHandInFlow(t *testing.T) {
	s := newSchool(t)
	key := receiptKey(t, s.Data)
	eleve, prof := s.api(t, "eleve"), s.api(t, "prof")
	class := findHomework(t, eleve, "Devoir maison n° 3 : fractions").ClassID
	now := time.Now()
	code, open, ae := publishJSON(t, prof, homework(class, "DM 4 : géométrie", now.Add(-time.Hour), now.Add(48*time.Hour)))
	if code != http.StatusCreated {
		t.Fatalf("publish open homework: %d %+v", code, ae)
	}
	code, overdue, ae := publishJSON(t, prof, homework(class, "DM 2 : proportionnalité", now.Add(-72*time.Hour), now.Add(-time.Hour)))
	if code != http.StatusCreated {
		t.Fatalf("publish overdue homework: %d %+v", code, ae)
	}

	files := []upload{
		{"copie page 1.pdf", "application/pdf", pdf("page 1", 150_000)},
		{"schéma.jpg", "image/jpeg", append([]byte{0xff, 0xd8, 0xff, 0xe0}, pdf("photo", 40_000)...)},
	}
	text := "Exercice 1 : voir la copie.\nExercice 2 : 42."
	code, first, ae := submit(t, s.Server, eleve, open.ID, text, files...)
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %+v", code, ae)
	}
	if first.ID == 0 || first.SubmittedAt.IsZero() || first.HomeworkID != open.ID || first.Late {
		t.Errorf("first receipt: %+v", first)
	}
	if d := time.Since(first.SubmittedAt); d < -time.Minute || d > time.Minute {
		t.Errorf("submitted_at %v is not the server's now", first.SubmittedAt)
	}
	checkReceipt(t, key, first, "eleve", text, files)

	second := []upload{{"copie corrigée.pdf", "application/pdf", pdf("page 1 bis", 20_000)}}
	code, again, ae := submit(t, s.Server, eleve, open.ID, "Version corrigée.", second...)
	if code != http.StatusCreated {
		t.Fatalf("second submit: %d %+v", code, ae)
	}
	if again.ID == first.ID {
		t.Fatalf("second submission reused id %d", again.ID)
	}
	checkReceipt(t, key, again, "eleve", "Version corrigée.", second)

	t.Run("the first submission is unchanged", func(t *testing.T) {
		code, got := getSubmission(t, eleve, first.ID)
		if code != http.StatusOK || !got.SubmittedAt.Equal(first.SubmittedAt) || got.Text != text || len(got.Files) != 2 ||
			got.Files[0].SHA256 != first.Files[0].SHA256 || got.Receipt == nil || got.Receipt.MAC != first.Receipt.MAC {
			t.Errorf("first submission now: %d %+v", code, got)
		}
	})

	t.Run("a hand-in after the due date is late", func(t *testing.T) {
		var e entryJSON
		if code := eleve.Do("GET", "/api/v1/homework/"+id(overdue.ID), nil, &e); code != http.StatusOK || e.Status == nil || !e.Status.Late {
			t.Errorf("overdue homework before hand-in: %d %+v, want late", code, e.Status)
		}
		code, sub, ae := submit(t, s.Server, eleve, overdue.ID, "En retard, désolée.")
		if code != http.StatusCreated || !sub.Late {
			t.Errorf("late submit: %d late=%t %+v", code, sub.Late, ae)
		}
		if !strings.Contains(sub.Receipt.Canonical, "late: true\n") {
			t.Errorf("late receipt: %s", sub.Receipt.Canonical)
		}
		if code := eleve.Do("GET", "/api/v1/homework/"+id(overdue.ID), nil, &e); code != http.StatusOK || e.Status.Late || e.Status.Submissions != 1 {
			t.Errorf("overdue homework after hand-in: %+v, want handed in", e.Status)
		}
		if !strings.Contains(first.Receipt.Canonical, "late: false\n") {
			t.Errorf("on-time receipt: %s", first.Receipt.Canonical)
		}
	})

	t.Run("the teacher lists the hand-ins", func(t *testing.T) {
		var out struct {
			Submissions []submissionJSON `json:"submissions"`
		}
		if code := prof.Do("GET", "/api/v1/homework/"+id(open.ID)+"/submissions", nil, &out); code != http.StatusOK || len(out.Submissions) != 2 {
			t.Fatalf("list: %d %d submissions", code, len(out.Submissions))
		}
		for _, sub := range out.Submissions {
			if sub.Student != "Léa Moreau" || sub.StudentID != s.userID(t, "eleve") {
				t.Errorf("listed submission %+v", sub)
			}
		}
		var e entryJSON
		if code := prof.Do("GET", "/api/v1/homework/"+id(open.ID), nil, &e); code != http.StatusOK || e.Completion == nil || e.Completion.Submitted != 1 || e.Completion.Students != 12 {
			t.Errorf("completion: %d %+v, want 1 of 12 handed in", code, e.Completion)
		}
	})

	t.Run("the teacher downloads the zip", func(t *testing.T) {
		code, body := s.html(t, "prof").Get("/homework/" + id(open.ID) + "/submissions.zip")
		if code != http.StatusOK {
			t.Fatalf("zip: %d", code)
		}
		zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("open zip: %v", err)
		}
		got := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read %s: %v", f.Name, err)
			}
			got[f.Name] = b
		}
		want := map[string][]byte{
			"Léa Moreau-" + id(first.ID) + "/texte.txt":            []byte(text),
			"Léa Moreau-" + id(first.ID) + "/1-copie page 1.pdf":   files[0].data,
			"Léa Moreau-" + id(first.ID) + "/2-schéma.jpg":         files[1].data,
			"Léa Moreau-" + id(again.ID) + "/texte.txt":            []byte("Version corrigée."),
			"Léa Moreau-" + id(again.ID) + "/1-copie corrigée.pdf": second[0].data,
		}
		for name, data := range want {
			if !bytes.Equal(got[name], data) {
				t.Errorf("zip entry %q: %d bytes, want %d (entries: %v)", name, len(got[name]), len(data), keys(got))
			}
		}
		for _, sub := range []submissionJSON{first, again} {
			r := got["Léa Moreau-"+id(sub.ID)+"/recu.txt"]
			if !bytes.Contains(r, []byte(sub.Receipt.Canonical)) || !bytes.Contains(r, []byte("mac: "+sub.Receipt.MAC)) {
				t.Errorf("receipt in zip for %d: %q", sub.ID, r)
			}
		}
	})

	t.Run("the pupil downloads her file and receipt", func(t *testing.T) {
		b := s.html(t, "eleve")
		code, body := b.Get("/submissions/" + id(first.ID) + "/files/" + first.Files[0].SHA256)
		if code != http.StatusOK || body != string(files[0].data) {
			t.Errorf("file download: %d, %d bytes", code, len(body))
		}
		code, body = b.Get("/submissions/" + id(first.ID) + "/receipt.txt")
		if code != http.StatusOK || !strings.Contains(body, first.Receipt.Canonical) || !strings.Contains(body, "mac: "+first.Receipt.MAC) {
			t.Errorf("receipt.txt: %d %q", code, body)
		}
	})

	t.Run("feedback reaches the pupil and the parent", func(t *testing.T) {
		var fb submissionJSON
		code := prof.Do("PUT", "/api/v1/submissions/"+id(first.ID)+"/feedback", map[string]any{"text": "Très bon travail, attention aux unités.", "mark": 15.5, "out_of": 20}, &fb)
		if code != http.StatusOK || fb.Feedback == nil || fb.Feedback.Mark == nil || *fb.Feedback.Mark != 15.5 {
			t.Fatalf("feedback: %d %+v", code, fb.Feedback)
		}
		for _, login := range []string{"eleve", "parent"} {
			code, sub := getSubmission(t, s.api(t, login), first.ID)
			if code != http.StatusOK || sub.Feedback == nil || sub.Feedback.Mark == nil || *sub.Feedback.Mark != 15.5 ||
				sub.Feedback.OutOf != 20 || sub.Feedback.Text != "Très bon travail, attention aux unités." || sub.Feedback.ReturnedAt.IsZero() {
				t.Errorf("%s sees feedback %d %+v", login, code, sub.Feedback)
			}
			code, page := s.html(t, login).Get("/submissions/" + id(first.ID))
			if code != http.StatusOK || !strings.Contains(page, "15,5 / 20") || !strings.Contains(page, "Très bon travail, attention aux unités.") {
				t.Errorf("%s's receipt page: %d, mark or text missing", login, code)
			}
		}
		if code, sub := getSubmission(t, eleve, again.ID); code != http.StatusOK || sub.Feedback != nil {
			t.Errorf("the other submission got feedback: %+v", sub.Feedback)
		}
		// Feedback through the HTML form (decimal comma) replaces it.
		form := map[string][]string{"feedback": {"Revu en classe."}, "mark": {"17,5"}, "out_of": {"20"}}
		if code, _, hdr := s.html(t, "prof").Post("/submissions/"+id(first.ID)+"/feedback", form); code != http.StatusSeeOther {
			t.Fatalf("HTML feedback: %d %v", code, hdr)
		}
		if _, sub := getSubmission(t, s.api(t, "parent"), first.ID); sub.Feedback == nil || sub.Feedback.Mark == nil || *sub.Feedback.Mark != 17.5 {
			t.Errorf("after HTML feedback the parent sees %+v", sub.Feedback)
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
