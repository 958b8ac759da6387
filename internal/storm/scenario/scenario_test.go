package scenario_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
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

func logClasses(t *testing.T, res scenario.MorningResult) {
	t.Helper()
	for _, n := range res.ClassNames() {
		c := res.Classes[n]
		t.Logf("%s: %d requests, %d ok, %d errors, %d queued, %v, p99 %v", n, c.Requests, c.Success, c.Errors, c.Queued, c.ByStatus, c.Latency.Quantile(0.99))
	}
	t.Logf("queue: %d queued, %d with an ETA, bias %v", res.Queue.Queued, res.Queue.WithETA, res.Queue.Bias)
}

// morning is a short morning of 10 students of a 2x5 demo, each from an
// address of its own.
func morning(client string) scenario.Morning {
	return scenario.Morning{
		Students:    10,
		Logins:      scenario.DemoLogins(5),
		Ramp:        time.Second,
		Duration:    3 * time.Second,
		Think:       shortThink,
		SubmitEvery: 3,
		Retries:     2,
		Backoff:     100 * time.Millisecond,
		Client:      client,
		Source:      func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 100, 0, byte(1 + i)}) },
	}
}

func TestMorningWeb(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	calls := 0
	res := morning(scenario.ClientWeb).Run(context.Background(), target(srv), func(done, total int) { calls++ })
	logClasses(t, res)
	// Each newcomer: GET /login (the form) then POST /login (303 home).
	nc := res.Classes[scenario.ClassNewcomer]
	if nc == nil || nc.Requests != 20 || nc.Success != 20 || nc.ByStatus[http.StatusOK] != 10 || nc.ByStatus[http.StatusSeeOther] != 10 {
		t.Fatalf("newcomer: %+v, want 10 forms and 10 sign-ins", nc)
	}
	if c := res.Classes[scenario.ClassHome]; c == nil || c.Requests < 10 || c.SuccessRate() != 1 {
		t.Errorf("home: %+v, want every student's home page", c)
	}
	if c := res.Classes[scenario.ClassHomework]; c == nil || c.Requests == 0 || c.SuccessRate() != 1 {
		t.Errorf("homework: %+v", c)
	}
	if c := res.Classes[scenario.ClassSubmit]; c != nil && c.Errors > 0 {
		t.Errorf("submit: %+v", c)
	}
	if calls == 0 {
		t.Error("progress never called")
	}
}

func TestMorningAPI(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	res := morning(scenario.ClientAPI).Run(context.Background(), target(srv), nil)
	logClasses(t, res)
	nc := res.Classes[scenario.ClassNewcomer]
	if nc == nil || nc.Requests != 10 || nc.Success != 10 {
		t.Fatalf("newcomer: %+v, want 10 successful sign-ins", nc)
	}
	if c := res.Classes[scenario.ClassHomework]; c == nil || c.Requests == 0 || c.SuccessRate() != 1 {
		t.Fatalf("homework: %+v, want success rate 1", c)
	}
	if c := res.Classes[scenario.ClassHome]; c == nil || c.SuccessRate() != 1 {
		t.Errorf("home: %+v", c)
	}
}

// In attack mode every anonymous page goes to the challenge; a browser
// without JavaScript takes its link to the waiting room, queues, and signs
// in with the pass — no error page on the way.
func TestMorningThroughTheWaitingRoom(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5", "--attack-mode")
	m := morning(scenario.ClientWeb)
	m.Duration = 25 * time.Second // the room's page refreshes itself after 8–12 s while it has no ETA
	crowd := scenario.NewCrowd(m, target(srv))
	m.Crowd = crowd
	res := m.Run(context.Background(), target(srv), nil)
	logClasses(t, res)
	nc := res.Classes[scenario.ClassNewcomer]
	if nc == nil || nc.Errors != 0 || nc.SuccessRate() != 1 {
		t.Fatalf("newcomer: %+v, want no error page", nc)
	}
	if nc.ByStatus[http.StatusSeeOther] < 20 { // to the challenge, out of the waiting room, after signing in
		t.Errorf("newcomer statuses %v: want the challenge's and the waiting room's redirects", nc.ByStatus)
	}
	if q := res.Queue; q.Queued != 10 {
		t.Errorf("queue %+v, want the 10 students' waits measured", q)
	}
	if got := crowd.SignedIn(); got != 10 {
		t.Errorf("%d students signed in, want 10", got)
	}
	if c := res.Classes[scenario.ClassHome]; c == nil || c.SuccessRate() != 1 {
		t.Errorf("home: %+v", c)
	}
}

func TestCrowdSignInAndOut(t *testing.T) {
	srv := apptest.StartDemo(t, "--size", "2x5")
	m := morning(scenario.ClientWeb)
	crowd := scenario.NewCrowd(m, target(srv))
	n, err := crowd.SignIn(context.Background(), func(i int) bool { return i%2 == 0 }, 3, nil)
	if err != nil || n != 5 || crowd.SignedIn() != 5 {
		t.Fatalf("signed in %d (%v), %d hold a session; want 5", n, err, crowd.SignedIn())
	}
	// Resumed sessions serve the web pages at once: no sign-in page.
	m.Crowd = crowd
	m.Students, m.Duration = 10, 2*time.Second
	res := m.Run(context.Background(), target(srv), nil)
	logClasses(t, res)
	if nc := res.Classes[scenario.ClassNewcomer]; nc == nil || nc.Requests != 10 {
		t.Errorf("newcomer: %+v, want the 5 others' 10 requests", nc)
	}
	if out := crowd.SignOut(func(int) bool { return true }); out != 10 {
		t.Errorf("signed out %d, want 10", out)
	}
	if crowd.AppAnswers() == 0 {
		t.Error("no answer counted as the application's")
	}
}

func TestArrivalCurves(t *testing.T) {
	const n = 1000
	ramp := 30 * time.Minute
	at := scenario.MorningCurve(n, ramp)
	first := 0
	for i := range n {
		d := at(i)
		if d < 0 || d > ramp {
			t.Fatalf("student %d arrives at %v, outside the ramp", i, d)
		}
		if i > 0 && d < at(i-1) {
			t.Fatalf("arrivals not in order at %d", i)
		}
		if d < ramp/3 {
			first++
		}
	}
	if first != n/2 {
		t.Errorf("%d of %d arrive in the first third (the first hour of the morning), want half", first, n)
	}
	lin := scenario.LinearRamp(n, ramp)
	if lin(0) != 0 || lin(n/2) != ramp/2 {
		t.Errorf("linear ramp: %v, %v", lin(0), lin(n/2))
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

// A forwarded flood carries a new source address in X-Forwarded-For on
// every request, over a few keep-alive connections from 127.0.0.1.
func TestFloodForwardedRotatesXFF(t *testing.T) {
	var mu sync.Mutex
	peers, xff := map[string]bool{}, map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		peers[host] = true
		xff[r.Header.Get("X-Forwarded-For")]++
		mu.Unlock()
	}))
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	f := scenario.Flood{Rate: 400, Duration: time.Second, Sources: scenario.SourcesForwarded, MaxInFlight: 8}
	r := f.Run(context.Background(), scenario.Target{URL: srv.URL})
	logFlood(t, r)
	mu.Lock()
	defer mu.Unlock()
	if r.Completed != 400 || len(xff) != 400 || !peers["127.0.0.1"] || len(peers) != 1 {
		t.Errorf("completed %d, %d distinct X-Forwarded-For, peers %v", r.Completed, len(xff), peers)
	}
	for a := range xff {
		if p, err := netip.ParseAddr(a); err != nil || !netip.MustParsePrefix("127.0.0.0/8").Contains(p) {
			t.Errorf("X-Forwarded-For %q", a)
		}
	}
	if n := conns.Load(); n > 8 {
		t.Errorf("%d connections for 400 requests: keep-alive not used", n)
	}
}
