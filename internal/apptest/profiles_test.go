// profiles_test.go covers the per-profile switch: with parent logins closed
// for the day, a parent's correct password is refused with a message saying
// when access reopens, and pupils still log in.
package apptest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"preau/internal/apptest"
)

func TestParentLoginsCanBeClosed(t *testing.T) {
	s := apptest.StartDemo(t, "--close-profiles", "parent=00:00-24:00")
	code, _, _ := s.TryLoginAPI(t, "parent", "demo")
	if code != http.StatusServiceUnavailable {
		t.Errorf("parent API login: %d, want 503", code)
	}
	s.LoginAPI(t, "eleve", "demo")
	resp, err := http.PostForm(s.URL+"/login", url.Values{"login": {"parent"}, "password": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), "fermé jusqu&#39;à 00:00") {
		t.Errorf("parent HTML login: %d %q", resp.StatusCode, body.String())
	}
}
