// Bad input, over the API and the HTML front end, on a server started with
// --max-upload 64KiB: uploads over the limit (announced or chunked) answer
// 413 with a JSON too_large error and leave no blob behind; malformed JSON,
// unknown fields and trailing data answer 400, a wrong content type 415;
// bad ids 404 JSON; missing or invalid bearer tokens 401 with
// WWW-Authenticate; an empty submission, an out-of-range mark and a bad
// date 422 with field errors. In HTML, a POST without a valid CSRF token
// answers 403 and changes nothing, as does a cross-origin POST even with a
// valid token; a wrong password answers 401 with the French (or, with
// Accept-Language: en, English) message, and after five wrong passwords the
// next attempt is refused with 429 and Retry-After even with the right one.
package apptest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const uploadLimit = 64 << 10

// sendRaw sends a raw API request with a's token and returns the status,
// headers and body.
func sendRaw(t *testing.T, s *school, token, method, path, contentType string, body io.Reader, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	for k, v := range hdr {
		h[k] = v
	}
	resp, b := fetch(t, nil, method, s.URL+path, h, body)
	return resp.StatusCode, resp.Header, b
}

// wantAPIError checks a JSON error answer.
func wantAPIError(t *testing.T, what string, code int, hdr http.Header, body []byte, wantStatus int, wantCode string, fields ...string) apiError {
	t.Helper()
	var ae apiError
	if code != wantStatus {
		t.Errorf("%s: %d %s, want %d", what, code, body, wantStatus)
		return ae
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
	}
	if err := json.Unmarshal(body, &ae); err != nil || ae.Error.Code != wantCode || ae.Error.Message == "" {
		t.Errorf("%s: body %s, want code %q with a message", what, body, wantCode)
	}
	for _, f := range fields {
		if ae.Error.Fields[f] == "" {
			t.Errorf("%s: fields %v, want one for %q", what, ae.Error.Fields, f)
		}
	}
	return ae
}

// bigFiles lists the regular files over the upload limit under dir.
func bigFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > uploadLimit {
			out = append(out, path+" ("+strconv.FormatInt(info.Size(), 10)+" bytes)")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBadInput(t *testing.T) {
	s := newSchool(t, "--max-upload", "64KiB")
	eleve := s.api(t, "eleve")
	maths := findHomework(t, eleve, "Devoir maison n° 3 : fractions")
	submitPath := "/api/v1/homework/" + id(maths.ID) + "/submissions"

	t.Run("uploads over the limit", func(t *testing.T) {
		huge := pdf("trop gros", 200<<10)
		ct, body := multipartBody(t, map[string]string{"text": "Mon exposé"}, upload{"expose.pdf", "application/pdf", huge})
		code, hdr, b := sendRaw(t, s, eleve.Token, "POST", submitPath, ct, bytes.NewReader(body), nil)
		wantAPIError(t, "announced length", code, hdr, b, http.StatusRequestEntityTooLarge, "too_large")

		// Chunked: no Content-Length, so the limit must cut the stream.
		req, err := http.NewRequest("POST", s.URL+submitPath, io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+eleve.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("chunked upload: %v", err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		wantAPIError(t, "chunked", resp.StatusCode, resp.Header, b, http.StatusRequestEntityTooLarge, "too_large")

		if big := bigFiles(t, filepath.Join(s.Data, "files")); len(big) > 0 {
			t.Errorf("files over the limit were kept: %v", big)
		}
		blob := filepath.Join(s.Data, "files", "sha256", sha(huge)[:2], sha(huge)[2:])
		if _, err := os.Stat(blob); err == nil {
			t.Errorf("the refused file was stored as %s", blob)
		}
		var e entryJSON
		if eleve.Do("GET", "/api/v1/homework/"+id(maths.ID), nil, &e); e.Status == nil || e.Status.Submissions != 0 {
			t.Errorf("a refused upload counted as a submission: %+v", e.Status)
		}
		// The server still takes a hand-in under the limit.
		if code, _, ae := submit(t, s.Server, eleve, maths.ID, "Petit fichier", upload{"ok.pdf", "application/pdf", pdf("ok", 10<<10)}); code != http.StatusCreated {
			t.Errorf("small upload after refused ones: %d %+v", code, ae)
		}
	})

	t.Run("empty submission", func(t *testing.T) {
		code, _, ae := submit(t, s.Server, eleve, maths.ID, "   ")
		if code != http.StatusUnprocessableEntity || ae.Error.Code != "invalid" || ae.Error.Fields["files"] == "" {
			t.Errorf("blank text, no file: %d %+v", code, ae)
		}
		// A file input left empty by the browser is no file.
		code, _, ae = submit(t, s.Server, eleve, maths.ID, "", upload{"", "application/octet-stream", nil})
		if code != http.StatusUnprocessableEntity || ae.Error.Fields["files"] == "" {
			t.Errorf("empty file part: %d %+v", code, ae)
		}
		code, hdr, b := sendRaw(t, s, eleve.Token, "POST", submitPath, "application/json", strings.NewReader(`{"text":"x"}`), nil)
		wantAPIError(t, "JSON instead of multipart", code, hdr, b, http.StatusUnprocessableEntity, "invalid", "files")
	})

	t.Run("too many files", func(t *testing.T) {
		var files []upload
		for i := range 11 { // --max-files defaults to 10
			files = append(files, upload{"page" + strconv.Itoa(i) + ".jpg", "image/jpeg", pdf("page "+strconv.Itoa(i), 100)})
		}
		code, _, ae := submit(t, s.Server, eleve, maths.ID, "Onze pages", files...)
		if code != http.StatusUnprocessableEntity || ae.Error.Code != "invalid" || ae.Error.Fields["files"] == "" {
			t.Errorf("11 files: %d %+v, want 422 on files", code, ae)
		}
		if code, sub, ae := submit(t, s.Server, eleve, maths.ID, "Dix pages", files[:10]...); code != http.StatusCreated || len(sub.Files) != 10 {
			t.Errorf("10 files: %d %+v", code, ae)
		}
	})

	t.Run("malformed JSON bodies", func(t *testing.T) {
		to := `[` + id(s.userID(t, "prof")) + `]`
		for _, c := range []struct {
			name, ct, body string
			status         int
		}{
			{"truncated", "application/json", `{"to":` + to + `,`, http.StatusBadRequest},
			{"not JSON", "application/json", `to=1&subject=x`, http.StatusBadRequest},
			{"unknown field", "application/json", `{"to":` + to + `,"subject":"x","body":"y","cc":[1]}`, http.StatusBadRequest},
			{"trailing data", "application/json", `{"to":` + to + `,"subject":"x","body":"y"}{}`, http.StatusBadRequest},
			{"wrong type", "application/json", `{"to":"prof","subject":"x","body":"y"}`, http.StatusBadRequest},
			{"wrong content type", "text/plain", `{"to":` + to + `,"subject":"x","body":"y"}`, http.StatusUnsupportedMediaType},
			{"form content type", "application/x-www-form-urlencoded", `to=1`, http.StatusUnsupportedMediaType},
		} {
			code, hdr, b := sendRaw(t, s, eleve.Token, "POST", "/api/v1/messages", c.ct, strings.NewReader(c.body), nil)
			wantAPIError(t, c.name, code, hdr, b, c.status, "invalid")
		}
		code, hdr, b := sendRaw(t, s, "", "POST", "/api/v1/login", "application/json", strings.NewReader(`{"login":"eleve","password":"demo","remember":true}`), nil)
		wantAPIError(t, "login with an unknown field", code, hdr, b, http.StatusBadRequest, "invalid")
		code, hdr, b = sendRaw(t, s, "", "POST", "/api/v1/login", "application/json", strings.NewReader(`{"login":"eleve"}`), nil)
		wantAPIError(t, "login without password", code, hdr, b, http.StatusUnprocessableEntity, "invalid")
	})

	t.Run("bad ids", func(t *testing.T) {
		for _, p := range []string{
			"/api/v1/homework/abc", "/api/v1/homework/0", "/api/v1/homework/-1", "/api/v1/homework/1.5",
			"/api/v1/homework/99999999999999999999", "/api/v1/homework/987654321",
			"/api/v1/homework/abc/submissions", "/api/v1/submissions/abc", "/api/v1/submissions/0",
			"/api/v1/messages/-7", "/api/v1/nothing-here", "/api/v2/homework",
		} {
			code, hdr, b := sendRaw(t, s, eleve.Token, "GET", p, "", nil, nil)
			wantAPIError(t, p, code, hdr, b, http.StatusNotFound, "not_found")
		}
		code, hdr, b := sendRaw(t, s, eleve.Token, "PUT", "/api/v1/homework/abc/done", "", nil, nil)
		wantAPIError(t, "PUT done on abc", code, hdr, b, http.StatusNotFound, "not_found")
	})

	t.Run("missing or invalid bearer", func(t *testing.T) {
		code, hdr, b := sendRaw(t, s, "", "GET", "/api/v1/me", "", nil, nil)
		wantAPIError(t, "no token", code, hdr, b, http.StatusUnauthorized, "unauthorized")
		if got := hdr.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("no token: WWW-Authenticate %q", got)
		}
		for _, auth := range []string{"Bearer nope", "Bearer " + strings.Repeat("A", 43), "Bearer " + strings.Repeat("A", 65), "Basic ZWxldmU6ZGVtbw==", "bearer " + eleve.Token, eleve.Token} {
			code, hdr, b := sendRaw(t, s, "", "GET", "/api/v1/homework", "", nil, map[string]string{"Authorization": auth})
			wantAPIError(t, "Authorization: "+auth, code, hdr, b, http.StatusUnauthorized, "unauthorized")
			if got := hdr.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("%q: WWW-Authenticate %q", auth, got)
			}
		}
		_, hdr, _ = sendRaw(t, s, "", "GET", "/api/v1/me", "", nil, map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 43)})
		if got := hdr.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("unknown token: WWW-Authenticate %q, want error=\"invalid_token\"", got)
		}
		// The session cookie is no credential for the API.
		b2 := s.html(t, "eleve")
		resp, _ := fetch(t, b2.Client, "GET", s.URL+"/api/v1/me", nil, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("API with the session cookie only: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("feedback out of range", func(t *testing.T) {
		var list struct {
			Submissions []submissionJSON `json:"submissions"`
		}
		prof := s.api(t, "prof")
		if code := prof.Do("GET", "/api/v1/homework/"+id(maths.ID)+"/submissions", nil, &list); code != http.StatusOK || len(list.Submissions) == 0 {
			t.Fatalf("list: %d %d", code, len(list.Submissions))
		}
		sub := list.Submissions[0].ID
		for _, c := range []struct {
			body  string
			field string
		}{
			{`{"text":"Bien","mark":25,"out_of":20}`, "mark"},
			{`{"text":"Bien","mark":-1}`, "mark"},
			{`{"text":"Bien","mark":5,"out_of":-20}`, "out_of"},
			{`{"text":"Bien","mark":5,"out_of":5000}`, "out_of"},
			{`{"text":"   "}`, "feedback"},
		} {
			code, hdr, b := sendRaw(t, s, prof.Token, "PUT", "/api/v1/submissions/"+id(sub)+"/feedback", "application/json", strings.NewReader(c.body), nil)
			wantAPIError(t, c.body, code, hdr, b, http.StatusUnprocessableEntity, "invalid", c.field)
		}
		if _, got := getSubmission(t, prof, sub); got.Feedback != nil {
			t.Errorf("refused feedback was stored: %+v", got.Feedback)
		}
	})

	t.Run("bad dates", func(t *testing.T) {
		for _, c := range []struct{ query, field string }{
			{"?from=notadate", "from"},
			{"?to=2024-13-45", "to"},
			{"?from=2025-01-10&to=2025-01-01", "to"},
			{"?from=2020-01-01&to=2025-01-01", "to"},
		} {
			code, hdr, b := sendRaw(t, s, eleve.Token, "GET", "/api/v1/homework"+c.query, "", nil, nil)
			wantAPIError(t, c.query, code, hdr, b, http.StatusUnprocessableEntity, "invalid", c.field)
		}
		code, hdr, b := sendRaw(t, s, s.api(t, "prof").Token, "POST", "/api/v1/homework", "application/json",
			strings.NewReader(`{"kind":"homework","class_id":`+id(maths.ClassID)+`,"subject":"Maths","title":"x","due_at":"demain"}`), nil)
		wantAPIError(t, "due_at not a date", code, hdr, b, http.StatusBadRequest, "invalid")
		code, hdr, b = sendRaw(t, s, s.api(t, "prof").Token, "POST", "/api/v1/homework", "application/json",
			strings.NewReader(`{"kind":"homework","class_id":`+id(maths.ClassID)+`,"subject":"Maths","title":"x"}`), nil)
		wantAPIError(t, "homework without due date", code, hdr, b, http.StatusUnprocessableEntity, "invalid", "due")
	})

	t.Run("English error messages", func(t *testing.T) {
		_, _, fr := sendRaw(t, s, eleve.Token, "GET", "/api/v1/homework/abc", "", nil, nil)
		code, hdr, en := sendRaw(t, s, eleve.Token, "GET", "/api/v1/homework/abc", "", nil, map[string]string{"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
		ae := wantAPIError(t, "English 404", code, hdr, en, http.StatusNotFound, "not_found")
		if ae.Error.Message != "This page does not exist or is not available to you." || bytes.Equal(fr, en) {
			t.Errorf("English message %q (French: %s)", ae.Error.Message, fr)
		}
		code, hdr, b := sendRaw(t, s, "", "GET", "/api/v1/homework?from=x", "", nil, map[string]string{"Accept-Language": "en"})
		wantAPIError(t, "English 401", code, hdr, b, http.StatusUnauthorized, "unauthorized")
	})
}

func TestHTMLFormProtection(t *testing.T) {
	s := newSchool(t)
	b := s.html(t, "eleve")
	maths := findHomework(t, s.api(t, "eleve"), "Devoir maison n° 3 : fractions")
	path := "/homework/" + id(maths.ID) + "/done"
	isDone := func() bool {
		var e entryJSON
		if code := s.api(t, "eleve").Do("GET", "/api/v1/homework/"+id(maths.ID), nil, &e); code != http.StatusOK || e.Status == nil {
			t.Fatalf("status: %d", code)
		}
		return e.Status.Done
	}
	if isDone() {
		t.Fatal("maths homework already done")
	}
	post := func(query string, form url.Values, hdr map[string]string) (int, string) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range hdr {
			h[k] = v
		}
		resp, body := fetch(t, b.Client, "POST", s.URL+path+query, h, strings.NewReader(form.Encode()))
		return resp.StatusCode, string(body)
	}
	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	for _, c := range []struct {
		name  string
		query string
		form  url.Values
		hdr   map[string]string
	}{
		{"no token", "", url.Values{"done": {"1"}}, same},
		{"wrong token", "", url.Values{"done": {"1"}, "csrf": {"forged"}}, same},
		{"wrong token in the query", "?csrf=" + url.QueryEscape(b.CSRF+"x"), url.Values{"done": {"1"}}, same},
		{"another session's token", "", url.Values{"done": {"1"}, "csrf": {s.html(t, "e1.2").CSRF}}, same},
		{"cross-site with a valid token", "", url.Values{"done": {"1"}, "csrf": {b.CSRF}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site with a valid token", "", url.Values{"done": {"1"}, "csrf": {b.CSRF}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"foreign Origin with a valid token", "", url.Values{"done": {"1"}, "csrf": {b.CSRF}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		code, body := post(c.query, c.form, c.hdr)
		if code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", c.name, code)
		}
		if c.hdr["Sec-Fetch-Site"] == "same-origin" && !strings.Contains(body, "Le formulaire a expiré") {
			t.Errorf("%s: 403 page without the CSRF message", c.name)
		}
		if isDone() {
			t.Fatalf("%s: the homework was ticked", c.name)
		}
	}
	// Cross-origin login (login CSRF) is refused too.
	resp, _ := fetch(t, nil, "POST", s.URL+"/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"},
		strings.NewReader(url.Values{"login": {"eleve"}, "password": {demoPassword}}.Encode()))
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	// The same form, same-origin with its token, works.
	if code, _, hdr := b.Post(path, url.Values{"done": {"1"}}); code != http.StatusSeeOther || !isDone() {
		t.Errorf("valid tick: %d %v", code, hdr)
	}
}

func TestLoginFailures(t *testing.T) {
	s := newSchool(t)
	login := func(user, pw string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
		for k, v := range hdr {
			h[k] = v
		}
		resp, body := fetch(t, nil, "POST", s.URL+"/login", h, strings.NewReader(url.Values{"login": {user}, "password": {pw}}.Encode()))
		return resp, string(body)
	}

	t.Run("wrong password, in French and English", func(t *testing.T) {
		resp, body := login("eleve", "mauvais", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Identifiant ou mot de passe incorrect.") || len(resp.Cookies()) != 0 {
			t.Errorf("French: %d, message found %t, cookies %v", resp.StatusCode, strings.Contains(body, "Identifiant ou mot de passe incorrect."), resp.Cookies())
		}
		resp, body = login("eleve", "wrong", map[string]string{"Accept-Language": "en-US,en;q=0.8"})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong login or password.") {
			t.Errorf("English: %d, message found %t", resp.StatusCode, strings.Contains(body, "Wrong login or password."))
		}
		resp, body = login("personne", "demo", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Identifiant ou mot de passe incorrect.") {
			t.Errorf("unknown login: %d", resp.StatusCode)
		}
		var ae apiError
		code := (&apiClient{s: s}).post(t, "/api/v1/login", `{"login":"eleve","password":"nope"}`, map[string]string{"Accept-Language": "en"}, &ae)
		if code != http.StatusUnauthorized || ae.Error.Code != "unauthorized" || ae.Error.Message != "Wrong login or password." {
			t.Errorf("API wrong password: %d %+v", code, ae)
		}
	})

	t.Run("five wrong passwords, then refused even with the right one", func(t *testing.T) {
		// The first delay after five failures is short (a second, then
		// doubling), so a machine slow enough to spend it between the fifth
		// failure and the sixth attempt would let that attempt through: then
		// the run proves nothing and is redone on another account.
		for _, victim := range []string{"e1.5", "e1.7", "e1.9"} {
			var fifth time.Time
			for i := range 5 {
				fifth = time.Now()
				if resp, _ := login(victim, "devine"+strconv.Itoa(i), nil); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s: wrong password %d: %d, want 401", victim, i+1, resp.StatusCode)
				}
			}
			resp, body := login(victim, demoPassword, nil)
			if resp.StatusCode != http.StatusTooManyRequests && time.Since(fifth) >= time.Second {
				t.Logf("%s: the sixth attempt came %v after the fifth failure, past the first delay; trying another account", victim, time.Since(fifth))
				continue
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("6th attempt with the right password: %d, want 429 (after 5 failures)", resp.StatusCode)
			}
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if !strings.Contains(body, "Trop de tentatives") || len(resp.Cookies()) != 0 {
				t.Errorf("429 page: message found %t, cookies %v", strings.Contains(body, "Trop de tentatives"), resp.Cookies())
			}
			// The API shares the limit (while it lasts).
			var ae apiError
			start := time.Now()
			code := (&apiClient{s: s}).post(t, "/api/v1/login", `{"login":"`+victim+`","password":"demo"}`, nil, &ae)
			if code != http.StatusTooManyRequests && time.Since(fifth) < time.Second {
				t.Errorf("API login while blocked: %d %+v", code, ae)
			}
			if code == http.StatusTooManyRequests && (ae.Error.Code != "rate_limited" || ae.Error.Message == "") {
				t.Errorf("API 429 body: %+v (sent at %v)", ae, start)
			}
			// Other accounts are not affected.
			s.LoginAPI(t, "e1.6", demoPassword)
			return
		}
		t.Fatal("every attempt was too slow to observe the backoff")
	})
}

// apiClient posts raw JSON without a token.
type apiClient struct{ s *school }

func (c *apiClient) post(t *testing.T, path, body string, hdr map[string]string, out any) int {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		h[k] = v
	}
	resp, b := fetch(t, nil, "POST", c.s.URL+path, h, strings.NewReader(body))
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
	return resp.StatusCode
}

// storedBlob reports whether the blob store under dataDir holds content.
func storedBlob(dataDir string, content []byte) bool {
	sum := sha(content)
	_, err := os.Stat(filepath.Join(dataDir, "files", "sha256", sum[:2], sum[2:]))
	return err == nil
}

// TestRefusedHandInsKeepNoFiles checks that a hand-in the server refuses
// (by someone who may see the homework but not hand it in, or failing
// validation) leaves no file in the blob store: otherwise any signed-in
// user can fill the disk with files nothing refers to, which no process
// ever removes.
func TestRefusedHandInsKeepNoFiles(t *testing.T) {
	s := newSchool(t)
	eleve := s.api(t, "eleve")
	maths := findHomework(t, eleve, "Devoir maison n° 3 : fractions")
	var noHandIn entryJSON
	for _, e := range listHomework(t, eleve) {
		if !e.HandIn {
			noHandIn = e
		}
	}
	if noHandIn.ID == 0 {
		t.Fatal("eleve has no homework without hand-in")
	}
	var lesson entryJSON
	if code := s.api(t, "prof").Do("POST", "/api/v1/homework", map[string]any{"kind": "lesson", "class_id": maths.ClassID,
		"subject": "Mathématiques", "title": "Séance", "lesson_date": time.Now()}, &lesson); code != http.StatusCreated {
		t.Fatalf("lesson: %d", code)
	}
	for _, c := range []struct {
		name   string
		login  string
		entry  int64
		text   string
		status int
	}{
		{"parent on her child's homework", "parent", maths.ID, "", http.StatusNotFound},
		{"teacher on his own homework", "prof", maths.ID, "", http.StatusNotFound},
		{"admin", "admin", maths.ID, "", http.StatusNotFound},
		{"pupil on a lesson", "eleve", lesson.ID, "", http.StatusNotFound},
		{"pupil on homework without hand-in", "eleve", noHandIn.ID, "", http.StatusNotFound},
		{"pupil with a text over the limit", "eleve", maths.ID, strings.Repeat("a", 100_001), http.StatusUnprocessableEntity},
	} {
		file := pdf("refusé: "+c.name, 50_000)
		code, _, ae := submit(t, s.Server, s.api(t, c.login), c.entry, c.text, upload{"gros.pdf", "application/pdf", file})
		if code != c.status {
			t.Errorf("%s: %d %+v, want %d", c.name, code, ae, c.status)
		}
		if storedBlob(s.Data, file) {
			t.Errorf("%s: refused with %d, but the file was kept in the blob store", c.name, code)
		}
	}
	// The same through the HTML forms: a parent's hand-in, a message to
	// someone the rules forbid.
	file := pdf("refusé: formulaire", 50_000)
	ct, body := multipartBody(t, map[string]string{"text": "x"}, upload{"gros.pdf", "application/pdf", file})
	if code, _, _ := s.html(t, "parent").PostMultipart("/homework/"+id(maths.ID)+"/submit", ct, bytes.NewReader(body)); code != http.StatusNotFound {
		t.Errorf("parent's HTML hand-in: %d, want 404", code)
	}
	if storedBlob(s.Data, file) {
		t.Error("parent's HTML hand-in: refused, but the file was kept in the blob store")
	}
	file = pdf("refusé: message", 50_000)
	ct, body = multipartBody(t, map[string]string{"to": id(s.userID(t, "e1.2")), "subject": "Salut", "body": "Regarde"}, upload{"gros.pdf", "application/pdf", file})
	if code, _, _ := s.html(t, "eleve").PostMultipart("/messages", ct, bytes.NewReader(body)); code != http.StatusUnprocessableEntity {
		t.Errorf("message to a classmate: %d, want 422", code)
	}
	if storedBlob(s.Data, file) {
		t.Error("message to a classmate: refused, but the attachment was kept in the blob store")
	}
}
