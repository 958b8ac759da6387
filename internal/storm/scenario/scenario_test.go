package scenario_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"preau/internal/apptest"
	"preau/internal/storm/load"
	"preau/internal/storm/scenario"
)

func target(s *apptest.Server) scenario.Target {
	return scenario.Target{URL: s.URL, Client: &http.Client{Timeout: 10 * time.Second}}
}

func shortThink(r *rand.Rand) time.Duration {
	return 100*time.Millisecond + time.Duration(r.Int64N(int64(200*time.Millisecond)))
}

func TestMorning(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5", "--allowlist", "127.0.0.0/8")
	m := scenario.Morning{
		Students:    10,
		Logins:      scenario.DemoLogins(5),
		Ramp:        time.Second,
		Duration:    3 * time.Second,
		Think:       shortThink,
		SubmitEvery: 3,
		Retries:     2,
		Backoff:     100 * time.Millisecond,
	}
	calls := 0
	res := m.Run(context.Background(), target(srv), func(done, total int) { calls++ })
	for _, n := range res.ClassNames() {
		c := res.Classes[n]
		t.Logf("%s: %d requests, %d ok, %d errors, %v, p99 %v", n, c.Requests, c.Success, c.Errors, c.ByStatus, c.Latency.Quantile(0.99))
	}
	login := res.Classes["login"]
	if login == nil || login.Requests != 10 || login.Success != 10 {
		t.Fatalf("login: %+v, want 10 successful sign-ins", login)
	}
	hw := res.Classes["homework"]
	if hw == nil || hw.Requests == 0 || hw.SuccessRate() != 1 {
		t.Fatalf("homework: %+v, want success rate 1", hw)
	}
	if c := res.Classes["home"]; c == nil || c.SuccessRate() != 1 {
		t.Errorf("home: %+v", c)
	}
	if c := res.Classes["submit"]; c != nil && c.Errors > 0 {
		t.Errorf("submit: %+v", c)
	}
	if calls == 0 {
		t.Error("progress never called")
	}
}

func logFlood(t *testing.T, r load.Result) {
	t.Helper()
	t.Logf("sent %d, completed %d, errors %d, dropped %d, statuses %v, p50 %v p99 %v (service p99 %v)",
		r.Sent, r.Completed, r.Errors, r.Dropped, r.ByStatus, r.Latency.Quantile(0.5), r.Latency.Quantile(0.99), r.ServiceTime.Quantile(0.99))
}

func TestFloodFew(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	f := scenario.Flood{Rate: 200, Duration: time.Second, Paths: []string{"/", "/login"}, Sources: scenario.SourcesFew, MaxInFlight: 100}
	r := f.Run(context.Background(), target(srv))
	logFlood(t, r)
	if r.Sent+r.Dropped != 200 {
		t.Errorf("sent %d + dropped %d, want 200 scheduled", r.Sent, r.Dropped)
	}
	if r.Completed == 0 || r.ByStatus[http.StatusTooManyRequests] == 0 {
		t.Errorf("want some 429s, got %v", r.ByStatus)
	}
}

func TestLoginFlood(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	f := scenario.Flood{Rate: 50, Duration: time.Second, Sources: scenario.SourcesFew, LoginFlood: true, Logins: scenario.DemoLogins(5), MaxInFlight: 100}
	r := f.Run(context.Background(), target(srv))
	logFlood(t, r)
	if r.Errors != 0 || r.Dropped != 0 || r.Completed != 50 {
		t.Errorf("want all 50 answered")
	}
	for st, n := range r.ByStatus {
		switch st {
		case http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		default:
			t.Errorf("%d answers with status %d", n, st)
		}
	}
}

func TestSlowloris(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5", "--read-header-timeout", "1s")
	s := scenario.Slow{Conns: 5, Duration: 6 * time.Second, Kind: scenario.SlowLoris}
	start := time.Now()
	r := s.Run(context.Background(), target(srv))
	t.Logf("%+v in %v", r, time.Since(start))
	if r.Opened != 5 || r.ClosedByServer != 5 || r.StillOpen != 0 {
		t.Errorf("got %+v, want 5 opened and closed by the server", r)
	}
}

func TestSlowPostBounded(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	s := scenario.Slow{Conns: 3, Duration: 2 * time.Second, Kind: scenario.SlowPost}
	r := s.Run(context.Background(), target(srv))
	t.Logf("%+v", r)
	if r.Opened != 3 || r.ClosedByServer+r.StillOpen != 3 {
		t.Errorf("got %+v", r)
	}
}

func TestMixed(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	m := scenario.Morning{Students: 5, Logins: scenario.DemoLogins(5), Ramp: 500 * time.Millisecond, Duration: 2 * time.Second,
		Think: shortThink, SubmitEvery: 4, Retries: 1, Backoff: 100 * time.Millisecond}
	f := scenario.Flood{Rate: 50, Duration: 2 * time.Second, Paths: []string{"/"}, Sources: scenario.SourcesRotating, MaxInFlight: 50}
	mr, fr := scenario.Mixed(context.Background(), target(srv), m, f)
	logFlood(t, fr)
	for _, n := range mr.ClassNames() {
		c := mr.Classes[n]
		t.Logf("%s: %d requests, %d ok, %d errors, %v", n, c.Requests, c.Success, c.Errors, c.ByStatus)
	}
	if tot := mr.Total(); tot.Requests == 0 {
		t.Error("no student request")
	}
	if fr.Sent+fr.Dropped != 100 || fr.Completed == 0 {
		t.Errorf("flood: sent %d dropped %d completed %d", fr.Sent, fr.Dropped, fr.Completed)
	}
}

func TestFloodMixSources(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5", "--trusted-proxies", "127.0.0.1/32", "--proxy-protocol")
	f := scenario.Flood{Rate: 50, Duration: time.Second, Paths: []string{"/login"}, Sources: scenario.SourcesMix, MaxInFlight: 50}
	r := f.Run(context.Background(), target(srv))
	logFlood(t, r)
	if r.Completed == 0 || r.Errors != 0 {
		t.Errorf("want all requests answered through PROXY v2")
	}
}

func TestFloodBadSources(t *testing.T) {
	r := scenario.Flood{Rate: 10, Duration: time.Second, Sources: "bogus"}.Run(context.Background(), scenario.Target{URL: "http://127.0.0.1:1"})
	if r.Sent != 0 {
		t.Errorf("sent %d with an unknown source mode", r.Sent)
	}
	if _, err := (scenario.Flood{Sources: "bogus"}).Transport(); err == nil {
		t.Error("no error for an unknown source mode")
	}
}

func TestFloodOne16(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	f := scenario.Flood{Rate: 50, Duration: time.Second, Paths: []string{"/login"}, Sources: scenario.SourcesOne16, MaxInFlight: 20}
	r := f.Run(context.Background(), target(srv))
	logFlood(t, r)
	if r.Completed == 0 || r.Sent+r.Dropped != 50 {
		t.Errorf("want the 50 requests scheduled and answered")
	}
}
