// Shared helpers for the integration tests of this package: a seeded demo
// school with cached logins, the JSON shapes of the API as clients see
// them, multipart bodies, raw requests with chosen headers, and look-ups of
// ids (homework by title, classes by name, users by login) done by logging
// in as someone who may see them — tests never hard-code an id.
package apptest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // the demo school is in Europe/Paris

	"preau/internal/apptest"
)

// demoPassword is every demo account's password.
const demoPassword = "demo"

// school is a running demo with one API client and one browser per login,
// made on first use (each login costs an argon2id verification).
type school struct {
	*apptest.Server
	apis     map[string]*apptest.API
	browsers map[string]*apptest.Browser
	ids      map[string]int64
}

// newSchool starts `preau demo` with flags. "--size 6x3" gives six classes
// (6e A, 6e B, 5e A, 5e B, 4e A, 4e B) of three pupils: "prof" teaches maths
// to the first five and "martin.2" to 4e B only, so some teachers do not
// teach eleve's class (in the default 3-class demo every teacher does).
func newSchool(t *testing.T, flags ...string) *school {
	t.Helper()
	return &school{Server: apptest.StartDemo(t, flags...), apis: map[string]*apptest.API{},
		browsers: map[string]*apptest.Browser{}, ids: map[string]int64{}}
}

// api returns login's API client, reporting to t.
func (s *school) api(t testing.TB, login string) *apptest.API {
	t.Helper()
	a, ok := s.apis[login]
	if !ok {
		a = s.LoginAPI(t, login, demoPassword)
		s.apis[login] = a
	}
	return a.For(t)
}

// html returns login's browser, reporting to t.
func (s *school) html(t testing.TB, login string) *apptest.Browser {
	t.Helper()
	b, ok := s.browsers[login]
	if !ok {
		b = s.LoginHTML(t, login, demoPassword)
		s.browsers[login] = b
	}
	return b.For(t)
}

// userID is a login's user id, as GET /api/v1/me tells its owner.
func (s *school) userID(t testing.TB, login string) int64 {
	t.Helper()
	if id, ok := s.ids[login]; ok {
		return id
	}
	var me struct {
		ID int64 `json:"id"`
	}
	if code := s.api(t, login).Do("GET", "/api/v1/me", nil, &me); code != http.StatusOK || me.ID == 0 {
		t.Fatalf("%s /me: %d %+v", login, code, me)
	}
	s.ids[login] = me.ID
	return me.ID
}

// classID finds a class's id in the admin's view of the homework diary
// (every demo class has homework around today).
func (s *school) classID(t testing.TB, name string) int64 {
	t.Helper()
	for _, e := range listHomework(t, s.api(t, "admin")) {
		if e.Audience == name && e.ClassID != 0 {
			return e.ClassID
		}
	}
	t.Fatalf("class %q not found in the admin's homework", name)
	return 0
}

// JSON shapes of the API, as a client decodes them.

type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

type fileJSON struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

type entryJSON struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Subject   string     `json:"subject"`
	Title     string     `json:"title"`
	ClassID   int64      `json:"class_id"`
	GroupID   int64      `json:"group_id"`
	Audience  string     `json:"audience"`
	DueAt     *time.Time `json:"due_at"`
	PublishAt time.Time  `json:"publish_at"`
	HandIn    bool       `json:"hand_in"`
	Files     []fileJSON `json:"files"`
	Status    *struct {
		Done        bool `json:"done"`
		Submissions int  `json:"submissions"`
		Late        bool `json:"late"`
	} `json:"status"`
	Completion *struct {
		Students  int `json:"students"`
		Done      int `json:"done"`
		Submitted int `json:"submitted"`
	} `json:"completion"`
	StudentID int64 `json:"student_id"`
}

type feedbackJSON struct {
	Text       string    `json:"text"`
	Mark       *float64  `json:"mark"`
	OutOf      float64   `json:"out_of"`
	ReturnedAt time.Time `json:"returned_at"`
}

type submissionJSON struct {
	ID          int64         `json:"id"`
	HomeworkID  int64         `json:"homework_id"`
	StudentID   int64         `json:"student_id"`
	Student     string        `json:"student"`
	SubmittedAt time.Time     `json:"submitted_at"`
	Late        bool          `json:"late"`
	Text        string        `json:"text"`
	Files       []fileJSON    `json:"files"`
	Feedback    *feedbackJSON `json:"feedback"`
	Receipt     *struct {
		Canonical string `json:"canonical"`
		MAC       string `json:"mac"`
	} `json:"receipt"`
}

type threadJSON struct {
	ID           int64  `json:"id"`
	Subject      string `json:"subject"`
	Unread       int    `json:"unread"`
	Participants []struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
	} `json:"participants"`
}

// window is a query string covering a month around now, wide enough for
// every seeded homework and every homework the tests publish.
func window() string {
	now := time.Now().UTC()
	return "?from=" + url.QueryEscape(now.AddDate(0, 0, -14).Format(time.RFC3339)) +
		"&to=" + url.QueryEscape(now.AddDate(0, 0, 21).Format(time.RFC3339))
}

// listHomework is GET /api/v1/homework over window().
func listHomework(t testing.TB, a *apptest.API) []entryJSON {
	t.Helper()
	var out struct {
		Homework []entryJSON `json:"homework"`
	}
	if code := a.Do("GET", "/api/v1/homework"+window(), nil, &out); code != http.StatusOK {
		t.Fatalf("list homework: %d", code)
	}
	return out.Homework
}

// findHomework finds a homework by title in a's list.
func findHomework(t testing.TB, a *apptest.API, title string) entryJSON {
	t.Helper()
	for _, e := range listHomework(t, a) {
		if e.Title == title {
			return e
		}
	}
	t.Fatalf("homework %q not in the list", title)
	return entryJSON{}
}

func containsEntry(list []entryJSON, id int64) bool {
	for _, e := range list {
		if e.ID == id {
			return true
		}
	}
	return false
}

// publishJSON is POST /api/v1/homework; it returns the status, the entry
// on success and the error body otherwise.
func publishJSON(t testing.TB, a *apptest.API, body map[string]any) (int, entryJSON, apiError) {
	t.Helper()
	var raw json.RawMessage
	code := a.Do("POST", "/api/v1/homework", body, &raw)
	var e entryJSON
	var ae apiError
	decodeAs(t, code, http.StatusCreated, raw, &e, &ae)
	return code, e, ae
}

// homework is a hand-in homework body for publishJSON.
func homework(classID int64, title string, publish, due time.Time) map[string]any {
	return map[string]any{"kind": "homework", "class_id": classID, "subject": "Mathématiques", "title": title,
		"description": "Consignes de test.", "publish_at": publish, "due_at": due, "hand_in": true}
}

// decodeAs decodes raw into ok when code is okCode, else into ae.
func decodeAs(t testing.TB, code, okCode int, raw []byte, ok any, ae *apiError) {
	t.Helper()
	if len(raw) == 0 {
		return
	}
	var err error
	if code == okCode {
		err = json.Unmarshal(raw, ok)
	} else {
		err = json.Unmarshal(raw, ae)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// upload is one file of a multipart body.
type upload struct {
	name, contentType string
	data              []byte
}

// multipartBody builds a multipart/form-data body with text fields and
// files under "files".
func multipartBody(t testing.TB, fields map[string]string, files ...upload) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="files"; filename="`+f.name+`"`)
		h.Set("Content-Type", f.contentType)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// submit hands in text and files through POST /api/v1/homework/{id}/submissions.
func submit(t testing.TB, s *apptest.Server, a *apptest.API, entry int64, text string, files ...upload) (int, submissionJSON, apiError) {
	t.Helper()
	ct, body := multipartBody(t, map[string]string{"text": text}, files...)
	req, err := http.NewRequest("POST", s.URL+"/api/v1/homework/"+strconv.FormatInt(entry, 10)+"/submissions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	var raw json.RawMessage
	code := a.Send(req, &raw)
	var sub submissionJSON
	var ae apiError
	decodeAs(t, code, http.StatusCreated, raw, &sub, &ae)
	return code, sub, ae
}

// getSubmission is GET /api/v1/submissions/{id}.
func getSubmission(t testing.TB, a *apptest.API, id int64) (int, submissionJSON) {
	t.Helper()
	var raw json.RawMessage
	code := a.Do("GET", "/api/v1/submissions/"+strconv.FormatInt(id, 10), nil, &raw)
	var sub submissionJSON
	var ae apiError
	decodeAs(t, code, http.StatusOK, raw, &sub, &ae)
	return code, sub
}

// startThread is POST /api/v1/messages; it returns the status, the new
// thread's id and the error body.
func startThread(t testing.TB, a *apptest.API, to []int64, subject, body string) (int, int64, apiError) {
	t.Helper()
	var raw json.RawMessage
	code := a.Do("POST", "/api/v1/messages", map[string]any{"to": to, "subject": subject, "body": body}, &raw)
	var out struct {
		ID int64 `json:"id"`
	}
	var ae apiError
	decodeAs(t, code, http.StatusCreated, raw, &out, &ae)
	return code, out.ID, ae
}

// pdf returns n bytes that look like a PDF, distinct for each seed.
func pdf(seed string, n int) []byte {
	b := []byte("%PDF-1.4\n% " + seed + "\n")
	for i := 0; len(b) < n; i++ {
		sum := sha256.Sum256([]byte(seed + strconv.Itoa(i)))
		b = append(b, sum[:]...)
	}
	return b[:n]
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// fetch sends a request with the given client (nil: no cookies) and
// headers, and returns the response (body already read) and its body.
func fetch(t testing.TB, c *http.Client, method, rawURL string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// paris is the demo school's time zone.
func paris(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
