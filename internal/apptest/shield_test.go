// shield_test.go covers the shield inside `preau demo`: the operator page
// (admins only) with its chart and switches; attack mode sending anonymous
// visitors to the challenge while signed-in pupils carry on; closing a
// profile by hand; and a slowloris client dropped by the header timeout.
package apptest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"preau/internal/apptest"
)

func TestOperatorPageAndAttackMode(t *testing.T) {
	s := apptest.StartDemo(t)
	admin := s.LoginHTML(t, "admin", "demo")
	eleve := s.LoginHTML(t, "eleve", "demo")
	if code, _ := eleve.Get("/admin/shield"); code != http.StatusNotFound {
		t.Errorf("pupil sees the shield page: %d", code)
	}
	code, page := admin.Get("/admin/shield")
	if code != http.StatusOK || !strings.Contains(page, "Bouclier") || !strings.Contains(page, `http-equiv="refresh"`) {
		t.Fatalf("operator page: %d", code)
	}
	if code, _, _ := admin.Post("/admin/shield", url.Values{"attack": {"on"}}); code != http.StatusSeeOther {
		t.Fatalf("switch on: %d", code)
	}
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := anon.Get(s.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/_shield/challenge") {
		t.Errorf("anonymous visitor in attack mode: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := eleve.Get("/"); code != http.StatusOK {
		t.Errorf("signed-in pupil in attack mode: %d", code)
	}
	_, page = admin.Get("/admin/shield")
	if !strings.Contains(page, "Désactiver le mode attaque") {
		t.Error("page does not show attack mode on")
	}
	admin.Post("/admin/shield", url.Values{"attack": {"off"}})
	if resp, _ := anon.Get(s.URL + "/login"); resp == nil || resp.StatusCode != http.StatusOK {
		t.Errorf("anonymous visitor after attack mode: %v", resp)
	}
	// Closing parents by hand: a signed-in parent is turned away.
	parent := s.LoginHTML(t, "parent", "demo")
	admin.Post("/admin/shield", url.Values{"role": {"parent"}, "close": {"1"}})
	if code, _ := parent.Get("/"); code != http.StatusServiceUnavailable {
		t.Errorf("parent while closed: %d", code)
	}
	admin.Post("/admin/shield", url.Values{"role": {"parent"}, "close": {"0"}})
	if code, _ := parent.Get("/"); code != http.StatusOK {
		t.Errorf("parent after reopening: %d", code)
	}
}

func TestSlowlorisIsDropped(t *testing.T) {
	s := apptest.StartDemo(t, "--read-header-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	// The server gives up on the headers: it closes, or answers 408 first.
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a slowloris connection open for 30 s")
	}
	if err == nil && !strings.Contains(line, "408") {
		t.Errorf("answer to incomplete headers: %q", line)
	}
	conn.Close()
	// Counted: the connection never delivered a request.
	var metrics string
	for range 100 {
		resp, err := http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if metrics = string(b); strings.Contains(metrics, `preau_shield_connections_refused_total{reason="no_request"}`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("slowloris connection not counted in /metrics")
}

func TestOversizedHeadersAreRefusedAndCounted(t *testing.T) {
	s := apptest.StartDemo(t, "--max-header-bytes", "4096")
	req, _ := http.NewRequest("GET", s.URL+"/", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: %d, want 431", resp.StatusCode)
	}
	// A signed-in pupil is not affected.
	if code, _ := s.LoginHTML(t, "eleve", "demo").Get("/"); code != http.StatusOK {
		t.Errorf("pupil after the oversized request: %d", code)
	}
	for range 100 {
		resp, err := http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `preau_shield_connections_refused_total{reason="no_request"}`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("oversized request not counted")
}

func TestSlowPostIsCut(t *testing.T) {
	s := apptest.StartDemo(t, "--min-body-rate", "100KiB")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{")
	// Trickle a byte every 100 ms (10 B/s, far under 100 KiB/s): after the
	// 20 s grace the server must give up with 408.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to a slow POST: %v", err)
	}
	if !strings.Contains(line, "408") {
		t.Errorf("slow POST answered %q, want 408", line)
	}
}
