package scenario

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"preau/internal/storm/load"
)

// Target is the Préau node a scenario runs against.
type Target struct {
	URL    string       // base URL, e.g. http://127.0.0.1:8080
	Client *http.Client // the students' client (ordinary transport); nil means a default one
}

// MaxRetryAfter caps the Retry-After a student honours between retries.
const MaxRetryAfter = 10 * time.Second

// maxBody bounds what a client reads of an answer.
const maxBody = 1 << 20

// Classes of the morning's outcomes. Logged-in students' requests are
// reported per page; LoggedIn names them together.
const (
	ClassNewcomer = "newcomer" // requests of a student without a session: sign-in page, waiting room, sign-in
	ClassHome     = "home"
	ClassHomework = "homework"
	ClassSubmit   = "submit"
)

// LoggedIn lists the classes of signed-in students' requests.
var LoggedIn = []string{ClassHome, ClassHomework, ClassSubmit}

// Client kinds of a Morning.
const (
	ClientWeb = "web" // a browser without JavaScript: HTML pages, cookies, forms, the waiting room
	ClientAPI = "api" // the mobile app: the JSON API with a bearer token
)

// DemoLogins returns the logins of a demo school of perClass students per
// class (`preau demo --size CxS`, S = perClass): user i is
// e<1+i/perClass>.<1+i%perClass>, except that the demo's first student
// (e1.1) is "eleve".
func DemoLogins(perClass int) func(i int) string {
	if perClass <= 0 {
		perClass = 1
	}
	return func(i int) string {
		if i == 0 {
			return "eleve"
		}
		return fmt.Sprintf("e%d.%d", 1+i/perClass, 1+i%perClass)
	}
}

// MorningLength is the real length of a closure morning's arrivals in
// MorningCurve: three hours (7:00 to 10:00).
const MorningLength = 3 * time.Hour

// MorningCurve spreads n arrivals over ramp like a closure morning
// compressed into ramp (ramp = MorningLength / compression factor): half
// of the students in the first hour, 30 % in the second and 20 % in the
// third (the planning figure: about 50 % of enrolled students online
// within the first hour), uniformly within each hour. Student i is the
// (i+½)/n-th quantile.
func MorningCurve(n int, ramp time.Duration) func(i int) time.Duration {
	shares := []float64{0.5, 0.3, 0.2}
	return func(i int) time.Duration {
		f := (float64(i) + 0.5) / float64(max(n, 1))
		third := float64(ramp) / float64(len(shares))
		var at float64
		for _, s := range shares {
			if f <= s {
				return time.Duration(at + third*f/s)
			}
			f -= s
			at += third
		}
		return ramp
	}
}

// LinearRamp spreads n arrivals evenly over ramp: student i at ramp·i/n.
func LinearRamp(n int, ramp time.Duration) func(i int) time.Duration {
	return func(i int) time.Duration {
		return time.Duration(float64(ramp) * float64(i) / float64(max(n, 1)))
	}
}

// Morning is the lockdown-morning scenario (see the package documentation).
type Morning struct {
	Students int
	Logins   func(i int) string // login of student i; nil means DemoLogins(30)
	Password string             // "" means "demo"
	// Arrival returns when student i arrives, from the start; nil means
	// MorningCurve(Students, Ramp).
	Arrival func(i int) time.Duration
	Ramp    time.Duration
	// Duration is the length of the run.
	Duration time.Duration
	// Think returns the pause between steps; nil means 5–15 s uniform.
	Think func(*rand.Rand) time.Duration
	// SubmitEvery: one step in SubmitEvery hands in a text; 0 means never.
	SubmitEvery int
	// Retries is the number of retries of a failed signed-in request (5xx,
	// 429, network error); 0 means none. A newcomer's failed sign-in is
	// retried at its next step, after Backoff.
	Retries int
	// Backoff is the first retry's delay, doubled at each retry, with
	// jitter (a delay drawn in [d/2, d]); 0 means 500 ms. A Retry-After
	// longer than the delay is honoured, up to MaxRetryAfter.
	Backoff time.Duration
	// Client is ClientWeb (the default) or ClientAPI.
	Client string
	// Source returns student i's source address (each student on a line
	// of their own); nil means Target.Client's.
	Source func(i int) netip.Addr
	SLO    load.SLO
	// Crowd, if set, carries the students' sessions and connections from
	// one run to the next (the steps of a sweep); nil means a new crowd.
	Crowd *Crowd
	// NewcomerCohort classes every request of a student who starts the run
	// without a session as ClassNewcomer, even after they sign in: the
	// sweep's way of measuring the students signed in when the flood began
	// apart from those who arrive during it (who spend part of the step in
	// the waiting room, not reading).
	NewcomerCohort bool
}

// Crowd is the students' state between runs: sessions, cookies, the
// waiting room's measurements. Make one with NewCrowd.
type Crowd struct {
	m       Morning
	base    string
	users   []student
	clients []*http.Client
	queue   queueStats
	// appAnswers counts the answers the students got from the application
	// itself (not from a shield or a proxy), so that what the application
	// served to the attack can be told apart in its own request counter.
	appAnswers atomic.Int64
}

// AppAnswers is the number of answers the students got from the
// application itself: every answer but 429s, 503s, and the shield's pages
// and redirects (under /_shield/). A nil Crowd has none.
func (c *Crowd) AppAnswers() int64 {
	if c == nil {
		return 0
	}
	return c.appAnswers.Load()
}

// countingTransport counts the answers that came from the application.
type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil && fromApp(req, resp) {
		t.n.Add(1)
	}
	return resp, err
}

func fromApp(req *http.Request, resp *http.Response) bool {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return false
	case strings.HasPrefix(req.URL.Path, "/_shield/"), strings.HasPrefix(resp.Header.Get("Location"), "/_shield/"):
		return false
	}
	return true
}

// NewCrowd prepares m's students against t: nobody signed in yet.
func NewCrowd(m Morning, t Target) *Crowd {
	m = m.withDefaults()
	c := &Crowd{m: m, base: strings.TrimRight(t.URL, "/"), users: make([]student, m.Students), clients: make([]*http.Client, m.Students)}
	shared := t.Client
	if shared == nil {
		shared = &http.Client{Timeout: 30 * time.Second}
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	byAddr := map[netip.Addr]*http.Client{}
	base := shared.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	common := &http.Client{Transport: countingTransport{base, &c.appAnswers}, Timeout: shared.Timeout, CheckRedirect: noRedirect}
	for i := range c.clients {
		if m.Source == nil {
			c.clients[i] = common
			continue
		}
		a := m.Source(i)
		if cl := byAddr[a]; cl != nil { // students behind one address share its connections
			c.clients[i] = cl
			continue
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: a.AsSlice()}, Timeout: 5 * time.Second}
		tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 2 * time.Minute}
		cl := &http.Client{Transport: countingTransport{tr, &c.appAnswers}, Timeout: shared.Timeout, CheckRedirect: noRedirect}
		byAddr[a], c.clients[i] = cl, cl
	}
	for i := range c.users {
		c.users[i].cookies = map[string]string{}
	}
	return c
}

func (m Morning) withDefaults() Morning {
	if m.Logins == nil {
		m.Logins = DemoLogins(30)
	}
	if m.Password == "" {
		m.Password = "demo"
	}
	if m.Think == nil {
		m.Think = func(r *rand.Rand) time.Duration {
			return 5*time.Second + time.Duration(r.Int64N(int64(10*time.Second)))
		}
	}
	if m.Client == "" {
		m.Client = ClientWeb
	}
	if m.Backoff <= 0 {
		m.Backoff = 500 * time.Millisecond
	}
	return m
}

// SignIn gives the students chosen by pick a session before the run,
// `parallel` sign-ins at a time (the students who resume yesterday's
// session on the morning). It returns how many were signed in; progress, if
// not nil, is called with the count done and the total.
func (c *Crowd) SignIn(ctx context.Context, pick func(i int) bool, parallel int, progress func(done, total int)) (int, error) {
	var todo []int
	for i := range c.users {
		if pick(i) && !c.users[i].signedIn() {
			todo = append(todo, i)
		}
	}
	var (
		next, done, ok atomic.Int64
		wg             sync.WaitGroup
		errMu          sync.Mutex
		firstErr       error
	)
	stopProgress := startCount(ctx, len(todo), &done, progress)
	defer stopProgress()
	for range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(todo) {
					return
				}
				i := todo[k]
				// The API's sign-in gives the token the web's cookie holds.
				o := c.apiLogin(ctx, rng, i, c.m.Retries+5)
				done.Add(1)
				if o.Err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("sign in %s: %w", c.m.Logins(i), o.Err)
					}
					errMu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load()), firstErr
}

// SignOut forgets the sessions of the students chosen by pick, as if they
// had closed their browser: they come back as newcomers.
func (c *Crowd) SignOut(pick func(i int) bool) int {
	n := 0
	for i := range c.users {
		if pick(i) && c.users[i].signedIn() {
			c.users[i].forget()
			n++
		}
	}
	return n
}

// SignedIn counts the students who hold a session.
func (c *Crowd) SignedIn() int {
	n := 0
	for i := range c.users {
		if c.users[i].signedIn() {
			n++
		}
	}
	return n
}

// MorningResult is what a morning measured: per-class statistics and the
// waiting room's accuracy.
type MorningResult struct {
	load.ClosedResult
	Queue QueueStats
}

// QueueStats measures the waiting room as the students lived it.
type QueueStats struct {
	Queued   int             // sign-ins that went through the waiting room and got out
	Waits    *load.Histogram // how long they waited
	WithETA  int             // of which the first queue page stated an ETA
	ETAError *load.Histogram // |real wait − first ETA| of those
	// Bias is the mean of (real wait − first ETA): positive when the ETA
	// was optimistic.
	Bias time.Duration
}

type queueStats struct {
	mu      sync.Mutex
	waits   load.Histogram
	queued  int
	withETA int
	absErr  *load.Histogram
	sum     time.Duration
}

// record counts a sign-in that waited wait in the room, and judges the
// ETA stated sinceETA before it left.
func (q *queueStats) record(wait, sinceETA, eta time.Duration, hasETA bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued++
	q.waits.Record(wait)
	if !hasETA {
		return
	}
	if q.absErr == nil {
		q.absErr = load.NewHistogram()
	}
	q.withETA++
	d := sinceETA - eta
	q.sum += d
	q.absErr.Record(time.Duration(math.Abs(float64(d))))
}

func (q *queueStats) reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued, q.withETA, q.absErr, q.sum = 0, 0, nil, 0
	q.waits.Reset()
}

func (q *queueStats) snapshot() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{Queued: q.queued, WithETA: q.withETA, ETAError: load.NewHistogram(), Waits: load.NewHistogram()}
	s.Waits.Merge(&q.waits)
	if q.absErr != nil {
		s.ETAError.Merge(q.absErr)
	}
	if q.withETA > 0 {
		s.Bias = q.sum / time.Duration(q.withETA)
	}
	return s
}

// Queue returns the waiting room's measurements so far.
func (c *Crowd) Queue() QueueStats { return c.queue.snapshot() }

// Run runs the morning and returns per-class statistics (ClassNewcomer,
// ClassHome, ClassHomework, ClassSubmit) and the waiting room's. progress,
// if not nil, is called about once a second with the time elapsed and the
// run's duration, in milliseconds.
func (m Morning) Run(ctx context.Context, t Target, progress func(done, total int)) MorningResult {
	if m.Students <= 0 || m.Duration <= 0 {
		return MorningResult{ClosedResult: load.ClosedLoop{SLO: m.SLO}.Run(ctx)}
	}
	crowd := m.Crowd
	if crowd == nil {
		crowd = NewCrowd(m, t)
	}
	m = m.withDefaults()
	arrival := m.Arrival
	if arrival == nil {
		arrival = MorningCurve(m.Students, m.Ramp)
	}
	stopProgress := startProgress(ctx, m.Duration, progress)
	defer stopProgress()

	crowd.queue.reset() // each run measures its own queue
	for i := range crowd.users {
		crowd.users[i].cohortNew = m.NewcomerCohort && !crowd.users[i].signedIn()
	}
	loop := load.ClosedLoop{
		Users:    min(m.Students, len(crowd.users)),
		Duration: m.Duration,
		Think:    m.Think,
		SLO:      m.SLO,
		Seed:     uint64(time.Now().UnixNano()),
		Arrival:  arrival,
		Step: func(ctx context.Context, u int, rng *rand.Rand) load.Outcome {
			if m.Client == ClientAPI {
				return crowd.apiStep(ctx, rng, u)
			}
			return crowd.webStep(ctx, rng, u)
		},
	}
	return MorningResult{ClosedResult: loop.Run(ctx), Queue: crowd.queue.snapshot()}
}

// startCount calls progress(done, total) about once a second until the
// returned function is called, and a last time then.
func startCount(ctx context.Context, total int, done *atomic.Int64, progress func(done, total int)) func() {
	if progress == nil {
		return func() {}
	}
	return everySecond(ctx, func() { progress(int(done.Load()), total) })
}
