package shield

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/shield/admission"
)

// tokens is a SessionClassifier that knows a few tokens.
type tokens map[string]domain.Role

func (t tokens) Classify(tok string) (auth.TokenClaims, bool) {
	r, ok := t[tok]
	return auth.TokenClaims{UserID: 1, Role: r}, ok
}

var testTokens = tokens{"student-token": domain.RoleStudent, "teacher-token": domain.RoleTeacher}

// backend counts what reaches it; it blocks while hold is set.
type backend struct {
	hits atomic.Int64
	mu   sync.Mutex
	hold chan struct{}
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	b.mu.Lock()
	hold := b.hold
	b.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}
	io.WriteString(w, "ok")
}

func newShield(t *testing.T, cfg Config) (*Shield, *backend, *httptest.Server) {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = []byte(strings.Repeat("k", 32))
	}
	cfg.Sessions = testTokens
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	srv := httptest.NewServer(s.Handler(b))
	t.Cleanup(srv.Close)
	return s, b, srv
}

// clientFrom returns an HTTP client whose connections come from src, an
// address of 127.0.0.0/8 (Linux accepts any of them on loopback).
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, url, token string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestFloodFromOneAddressIsLimitedWhileStudentsAreServed(t *testing.T) {
	_, b, srv := newShield(t, Config{AddrRate: 1, AddrBurst: 10})
	flooder := clientFrom("127.0.0.2")
	limited := 0
	for range 200 {
		resp := get(t, flooder, srv.URL+"/", "")
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		case http.StatusOK:
		default:
			t.Fatalf("flood answer %d", resp.StatusCode)
		}
		// A student behind the same address is never limited.
		if resp := get(t, flooder, srv.URL+"/api/v1/homework", "student-token"); resp.StatusCode != http.StatusOK {
			t.Fatalf("student got %d during the flood", resp.StatusCode)
		}
	}
	if limited < 150 {
		t.Errorf("only %d of 200 flood requests limited", limited)
	}
	if hits := b.hits.Load(); hits > 250 {
		t.Errorf("%d requests reached the backend", hits)
	}
}

func TestRotatingAddressesInOnePrefixAreLimitedByPrefix(t *testing.T) {
	// 127.0.0.1 is a trusted proxy sending X-Forwarded-For: 10,000 distinct
	// addresses of 10.1.0.0/16, each sending once (rotating per request),
	// each well under its own limit.
	_, _, srv := newShield(t, Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		AddrRate: 1, AddrBurst: 5, PrefixRate: 1, PrefixBurst: 5})
	proxy := clientFrom("127.0.0.1")
	limited := 0
	for i := range 10_000 {
		addr := fmt.Sprintf("10.1.%d.%d", i%40, 1+i/40)
		if get(t, proxy, srv.URL+"/", "", "X-Forwarded-For", addr).StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	// 40 /24s of 250 addresses: each /24 gets its burst of 5 (plus a
	// trickle at 1/s); nearly everything else is refused.
	if limited < 9000 {
		t.Errorf("only %d of 10,000 rotating requests limited by prefix", limited)
	}
	// An untrusted peer cannot choose its address with the header.
	other := clientFrom("127.0.0.3")
	if got := get(t, other, srv.URL+"/", "", "X-Forwarded-For", "192.0.2.1").StatusCode; got != http.StatusOK {
		t.Errorf("untrusted peer's first request: %d", got)
	}
}

func TestAttackModeChallengesAnonymousVisitorsOnly(t *testing.T) {
	s, _, srv := newShield(t, Config{})
	s.SetManual(true)
	s.det.Tick(time.Now()) // apply the manual level
	c := clientFrom("127.0.0.4")
	resp := get(t, c, srv.URL+"/homework", "")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), ChallengePath) {
		t.Errorf("anonymous page in attack mode: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get(t, c, srv.URL+"/api/v1/homework", ""); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("anonymous API call in attack mode: %d", resp.StatusCode)
	}
	for _, tok := range []string{"student-token", "teacher-token"} {
		if resp := get(t, c, srv.URL+"/homework", tok); resp.StatusCode != http.StatusOK {
			t.Errorf("%s challenged: %d", tok, resp.StatusCode)
		}
	}
	if resp := get(t, c, srv.URL+ChallengePath, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("challenge page: %d", resp.StatusCode)
	}
	// The sign-in form, opened before the attack and posted during it, is
	// sent to the challenge as a page (not answered with JSON); the same
	// post from an app gets the JSON refusal.
	post := func(ctype, accept string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader("login=a&password=b"))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept", accept)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("application/x-www-form-urlencoded", "text/html"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), ChallengePath) {
		t.Errorf("form post in attack mode: %d %q, want a 303 to the challenge", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := post("application/json", "application/json"); resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("JSON post in attack mode: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestAllowlistedSchoolNetworksAreNeitherLimitedNorChallenged(t *testing.T) {
	s, _, srv := newShield(t, Config{Allowlist: []netip.Prefix{netip.MustParsePrefix("127.0.0.5/32")}, AddrRate: 1, AddrBurst: 2})
	s.SetManual(true)
	s.det.Tick(time.Now())
	school := clientFrom("127.0.0.5")
	for i := range 20 {
		if resp := get(t, school, srv.URL+"/", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d from the school's NAT: %d", i, resp.StatusCode)
		}
	}
}

func TestWhenFullNewcomersQueueAndStudentsKeepTheirReserve(t *testing.T) {
	s, b, srv := newShield(t, Config{Admission: admission.Config{InitialLimit: 4, MinLimit: 4, MaxLimit: 4,
		QueueLen: [admission.NumPriorities]int{-1, -1, -1, -1}}})
	_ = s
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		close(b.hold)
		b.hold = nil
		b.mu.Unlock()
	}()
	// Anonymous visitors take every slot they may borrow.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
			resp, err := clientFrom(fmt.Sprintf("127.0.1.%d", i+1)).Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	for b.hits.Load() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	// Once the anonymous share is used, a newcomer gets the waiting room at
	// the address asked for (503 with a ticket and Retry-After).
	queued := false
	for range 500 {
		resp := get(t, clientFrom("127.0.2.1"), srv.URL+"/page", "")
		if resp.StatusCode == http.StatusServiceUnavailable {
			hasTicket := false
			for _, c := range resp.Cookies() {
				hasTicket = hasTicket || c.Name == "preau_wait"
			}
			if !hasTicket || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("shed newcomer got a 503 without a waiting-room ticket")
			}
			queued = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !queued {
		t.Fatal("a newcomer was never queued while anonymous visitors held every slot")
	}
	// A student still gets in (the backend answers once released).
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL+"/homework", nil)
		req.Header.Set("Authorization", "Bearer student-token")
		resp, err := clientFrom("127.0.3.1").Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	before := b.hits.Load()
	for b.hits.Load() == before {
		time.Sleep(10 * time.Millisecond)
	}
	b.mu.Lock()
	close(b.hold)
	b.hold = nil
	b.mu.Unlock()
	if code := <-done; code != http.StatusOK {
		t.Errorf("student during the anonymous flood: %d", code)
	}
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
	cancel()
	wg.Wait()
}

func TestLoginFloodDoesNotStarveStudents(t *testing.T) {
	_, b, srv := newShield(t, Config{LoginRoutes: []string{"POST /login"}, LoginSlots: 1, LoginQueue: 2, LoginWait: 100 * time.Millisecond,
		AddrRate: 1000, AddrBurst: 1000, PrefixRate: 1000, PrefixBurst: 1000})
	// Password checks are slow: each holds the backend until released.
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
	var wg sync.WaitGroup
	var shed, admitted atomic.Int64
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := clientFrom(fmt.Sprintf("127.0.5.%d", i+1)).Post(srv.URL+"/login", "application/x-www-form-urlencoded", strings.NewReader("login=x&password=y"))
			if err != nil {
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusServiceUnavailable:
				shed.Add(1)
			case http.StatusOK:
				admitted.Add(1)
			}
		}()
	}
	// While the login budget is saturated, students reading homework are
	// served (their requests do not wait for password checks).
	for b.hits.Load() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan int, 1)
	go func() {
		resp := get(t, clientFrom("127.0.6.1"), srv.URL+"/api/v1/homework", "student-token")
		done <- resp.StatusCode
	}()
	// The student's request reaches the backend although logins hold the
	// login budget: release everything once it has arrived.
	for b.hits.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	b.mu.Lock()
	close(b.hold)
	b.hold = nil
	b.mu.Unlock()
	if code := <-done; code != http.StatusOK {
		t.Errorf("student during the login flood: %d", code)
	}
	wg.Wait()
	if shed.Load() == 0 {
		t.Errorf("no login shed: %d admitted of 40 with one slot and a queue of two", admitted.Load())
	}
}

func TestMetricsCountDecisionsAndRefusedTickets(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens, AddrRate: 1, AddrBurst: 1}, NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(okHandler)
	for range 3 {
		req := httptest.NewRequest("GET", "/", nil)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	req := httptest.NewRequest("GET", WaitPath, nil)
	req.AddCookie(&http.Cookie{Name: "preau_wait", Value: "forged"})
	h.ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.9:1"
	req.Header.Set("Authorization", "Bearer forged-token")
	req.AddCookie(&http.Cookie{Name: "preau_pass", Value: "forged"})
	h.ServeHTTP(httptest.NewRecorder(), req)
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got["preau_shield_decisions_total,class=anonymous,outcome=admitted"] != 2 || got["preau_shield_decisions_total,class=anonymous,outcome=limited"] != 2 {
		t.Errorf("decisions: %v", got)
	}
	if got["preau_shield_waiting_room_tickets_refused_total,reason=malformed"] != 1 {
		t.Errorf("refused tickets: %v", got)
	}
	if got["preau_shield_credentials_refused_total,kind=session_token"] != 1 || got["preau_shield_credentials_refused_total,kind=challenge_pass"] != 1 {
		t.Errorf("forged credentials: %v", got)
	}
}

// During an episode, anonymous visitors from the prefixes carrying the
// flood are challenged while the rest of the world is not.
func TestSuspectPrefixesAreChallengedDuringAnEpisode(t *testing.T) {
	now := time.Date(2021, 4, 6, 14, 0, 0, 0, time.UTC)
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(okHandler)
	hit := func(addr string) int {
		req := httptest.NewRequest("GET", "/homework", nil)
		req.RemoteAddr = addr + ":1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	// Forty calm seconds at 60 requests/s from all over.
	for sec := range 40 {
		for i := range 60 {
			hit(fmt.Sprintf("10.%d.%d.%d", sec, i, 1+i%200))
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
	}
	// Then a flood from 192.0.2.0/24, five times that: an episode opens
	// (the first rung of the ladder) without reaching attack mode.
	for sec := range 7 {
		for i := range 300 {
			hit(fmt.Sprintf("192.0.2.%d", 1+i%250))
		}
		for i := range 60 {
			hit(fmt.Sprintf("10.%d.%d.%d", 100+sec, i, 1+i%200))
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
	}
	if s.det.Level() < 1 || s.det.Level() > 1 || !s.det.IsSuspect(netip.MustParseAddr("192.0.2.77")) {
		t.Fatalf("after the flood: level %v, 192.0.2.77 suspect %v", s.det.Level(), s.det.IsSuspect(netip.MustParseAddr("192.0.2.77")))
	}
	now = now.Add(30 * time.Second) // buckets refill; no tick, the episode is still open
	if code := hit("192.0.2.77"); code != http.StatusSeeOther {
		t.Errorf("visitor from the flooding prefix: %d, want the challenge", code)
	}
	if code := hit("198.51.100.7"); code != http.StatusNoContent {
		t.Errorf("visitor from elsewhere: %d", code)
	}
}

// While password checks shed, newcomers are stopped at the door: the
// sign-in page is the waiting room (a place and an ETA), a form posted
// beyond the budget gets the room too instead of an error page, an app's
// post still gets its JSON refusal, and a signed-in student is served.
func TestLoginDoorWhileLoginsAreCongested(t *testing.T) {
	s, b, srv := newShield(t, Config{LoginRoutes: []string{"POST /login", "POST /api/v1/login"}, LoginSlots: 1, LoginQueue: 2,
		LoginWait: 50 * time.Millisecond, AddrRate: 1000, AddrBurst: 1000, PrefixRate: 1000, PrefixBurst: 1000})
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		close(b.hold)
		b.hold = nil
		b.mu.Unlock()
	}()
	post := func(i int, ctype, accept string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader("login=x&password=y"))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept", accept)
		resp, err := clientFrom(fmt.Sprintf("127.0.7.%d", i)).Do(req)
		if err != nil {
			t.Error(err)
			return &http.Response{}
		}
		resp.Body.Close()
		return resp
	}
	// One check holds the slot, two wait: the next form post is beyond
	// the budget.
	for i := range 3 {
		go post(10+i, "application/x-www-form-urlencoded", "text/html")
	}
	for s.logins.Stats().Queued < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	if resp := post(20, "application/x-www-form-urlencoded", "text/html"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Preau-Queue-Position") == "" {
		t.Errorf("form post beyond the budget: %d %v, want the waiting room", resp.StatusCode, resp.Header)
	}
	if resp := post(21, "application/json", "application/json"); resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("app post beyond the budget: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	for !s.loginsCongested.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	if resp := get(t, clientFrom("127.0.7.30"), srv.URL+"/login", "", "Accept", "text/html"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Preau-Queue-Position") == "" {
		t.Errorf("sign-in page while logins are congested: %d, want the waiting room", resp.StatusCode)
	}
	done := make(chan int, 1)
	go func() { done <- get(t, clientFrom("127.0.7.31"), srv.URL+"/homework", "student-token").StatusCode }()
	for b.hits.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	b.mu.Lock()
	close(b.hold)
	b.hold = nil
	b.mu.Unlock()
	if code := <-done; code != http.StatusOK {
		t.Errorf("signed-in student while logins are congested: %d", code)
	}
	b.mu.Lock()
	b.hold = make(chan struct{}) // for the deferred close
	b.mu.Unlock()
}
