// standalone_test.go covers `preau shield --upstream`: the shield alone in
// front of another portal passes requests through with the client address
// in X-Forwarded-For, limits a flooding address, and in attack mode sends
// anonymous visitors to the challenge instead of the portal.
package apptest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"preau/internal/apptest"
)

func TestStandaloneShieldInFrontOfAnotherPortal(t *testing.T) {
	var hits atomic.Int64
	var lastXFF atomic.Value
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		lastXFF.Store(r.Header.Get("X-Forwarded-For"))
		io.WriteString(w, "moodle")
	}))
	defer portal.Close()

	s := apptest.Start(t, "shield", t.TempDir(), "--upstream", portal.URL, "--metrics-addr", "127.0.0.1:0")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", s.URL+"/course/view.php?id=3", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // spoofed: the peer is not a trusted proxy
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "moodle" {
		t.Fatalf("proxied answer: %d %q", resp.StatusCode, body)
	}
	if xff, _ := lastXFF.Load().(string); xff != "127.0.0.1" {
		t.Errorf("upstream saw X-Forwarded-For %q, want the real client 127.0.0.1", xff)
	}

	limited := 0
	for range 300 {
		resp, err := client.Get(s.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Error("a flood of 300 requests from one address was never limited")
	}
	if hits.Load() > 160 { // burst 100, refilling at 5/s
		t.Errorf("%d flood requests reached the portal", hits.Load())
	}
}

func TestStandaloneShieldInAttackMode(t *testing.T) {
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ent") }))
	defer portal.Close()
	s := apptest.Start(t, "shield", t.TempDir(), "--upstream", portal.URL, "--metrics-addr", "127.0.0.1:0", "--attack-mode")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/_shield/challenge") {
		t.Errorf("attack mode: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.Get(s.URL + "/_shield/challenge")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<noscript>") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("challenge page: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
