package shield

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"preau/internal/httpx"
	"preau/internal/shield/admission"
	"preau/internal/shield/challenge"
	"preau/internal/shield/detect"
	"preau/internal/shield/netguard"
	"preau/internal/shield/ratelimit"
	"preau/internal/shield/waitroom"
)

// Paths the shield serves itself, before any other check.
const (
	ChallengePath = "/_shield/challenge"
	WaitPath      = "/_shield/wait"
)

// Config is the shield's configuration. Zero values take the defaults
// noted.
type Config struct {
	// Key is the shield's secret (at least 32 bytes); challenge and
	// waiting-room keys are derived from it.
	Key []byte
	// Sessions verifies session tokens; nil when the shield fronts another
	// portal whose sessions it cannot read.
	Sessions      SessionClassifier
	SessionCookie string // "preau_session"

	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed
	Allowlist      []netip.Prefix // school networks: never challenged nor rate limited
	// Blocklist holds partners' indicators (nil: none); it refuses
	// anonymous visitors and pass holders only (see blocklist.go).
	Blocklist *Blocklist

	AddrRate, AddrBurst     float64 // anonymous requests per address (5/s, burst 100)
	PrefixRate, PrefixBurst float64 // per /24 or /56 (50/s, burst 500)
	RateKeys                int     // buckets kept per limiter (1<<18: 8 MiB each)

	Admission admission.Config
	// LoginRoutes are the requests that hash a password ("POST /login").
	LoginRoutes []string
	LoginSlots  int           // concurrent password checks (number of CPUs)
	LoginQueue  int           // waiting password checks (64×slots)
	LoginWait   time.Duration // longest wait for a password check (10s)

	Gates         *ProfileGates
	Stylesheet    string
	SecureCookies bool
	Sink          detect.Sink // events for the evidence log
	// DetectWarmup and DetectExitAfter tune the detector (30 s each): how
	// long it learns the normal traffic before it may open an episode, and
	// how long the traffic must stay calm before an episode ends.
	DetectWarmup, DetectExitAfter time.Duration
	Log                           *slog.Logger
	Now                           func() time.Time
}

// Shield is the request-level defence. It is safe for concurrent use.
type Shield struct {
	cfg      Config
	refusals refusalBodies
	cls      classifier
	limits   ratelimit.Pair
	adm      *admission.Limiter
	logins   *admission.Budget
	room     *waitroom.Room
	chal     *challenge.Challenger
	det      *detect.Detector
	metrics  *Metrics
	logRE    map[string]bool
	// logPages are the paths of the sign-in forms (the paths of the login
	// routes), whose page is the door the waiting room guards while the
	// password checks are congested.
	logPages map[string]bool
	// loginsCongested is set by Run while the login budget sheds or its
	// queue is more than half full, and for a while after.
	loginsCongested atomic.Bool
	// explain lets a few connections a second from each blocked network
	// through ShedConnection, to be told why they are blocked.
	explain explainBudget
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("preau/shield/" + label))
	return m.Sum(nil)
}

// New builds a shield.
func New(cfg Config, metrics *Metrics) (*Shield, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("shield: key must be at least 32 bytes")
	}
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	// Generous enough for a class logging in behind one school NAT
	// (operators should still allowlist school networks); the adaptive
	// limit, not these buckets, is what protects the backend.
	def(&cfg.AddrRate, 5)
	def(&cfg.AddrBurst, 100)
	def(&cfg.PrefixRate, 50)
	def(&cfg.PrefixBurst, 500)
	if cfg.RateKeys <= 0 {
		cfg.RateKeys = 1 << 18
	}
	if cfg.SessionCookie == "" {
		cfg.SessionCookie = "preau_session"
	}
	if cfg.LoginSlots <= 0 {
		cfg.LoginSlots = 2
	}
	// A class (or a school) logs in within the same minute at 8:00: a deep
	// queue with a deadline serves them in turn, where a shallow one would
	// answer 503 and start a retry storm. The first storm sweep had 300
	// simultaneous logins overflow a queue of 8.
	if cfg.LoginQueue <= 0 {
		cfg.LoginQueue = 64 * cfg.LoginSlots
	}
	if cfg.LoginWait <= 0 {
		cfg.LoginWait = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Shield{cfg: cfg, metrics: metrics, logRE: map[string]bool{}}
	s.cls = classifier{sessions: cfg.Sessions, cookie: cfg.SessionCookie, allowlist: cfg.Allowlist}
	s.limits = ratelimit.Pair{
		Addr:   ratelimit.New(ratelimit.Config{Rate: cfg.AddrRate, Burst: cfg.AddrBurst, MaxKeys: cfg.RateKeys}),
		Prefix: ratelimit.New(ratelimit.Config{Rate: cfg.PrefixRate, Burst: cfg.PrefixBurst, MaxKeys: cfg.RateKeys}),
	}
	ac := cfg.Admission
	if ac.Now == nil {
		ac.Now = cfg.Now
	}
	s.adm = admission.New(ac)
	s.logins = admission.NewBudget(cfg.LoginSlots, cfg.LoginQueue, cfg.LoginWait)
	s.logPages = map[string]bool{}
	for _, r := range cfg.LoginRoutes {
		s.logRE[r] = true
		if _, path, ok := strings.Cut(r, " "); ok && !strings.HasPrefix(path, "/api/") {
			s.logPages[path] = true
		}
	}
	var err error
	s.room, err = waitroom.New(derive(cfg.Key, "waitroom"), waitroom.Config{Secure: cfg.SecureCookies, Stylesheet: cfg.Stylesheet, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("shield: waiting room: %w", err)
	}
	s.chal, err = challenge.New(challenge.Config{Key: derive(cfg.Key, "challenge"), BasePath: ChallengePath, WaitingRoomURL: WaitPath,
		StylesheetURL: cfg.Stylesheet, ClientAddr: s.clientAddr, DifficultyFor: s.difficulty, SecureCookie: cfg.SecureCookies, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("shield: challenge: %w", err)
	}
	if s.refusals, err = renderRefusals(cfg.Stylesheet); err != nil {
		return nil, err
	}
	s.det = detect.New(detect.Config{Sink: cfg.Sink, Now: cfg.Now, Warmup: cfg.DetectWarmup, ExitAfter: cfg.DetectExitAfter})
	if metrics != nil {
		metrics.watch(s)
	}
	return s, nil
}

// clientAddr is the request's client: the connection's (PROXY protocol
// already applied by netguard), or X-Forwarded-For from a trusted proxy.
func (s *Shield) clientAddr(r *http.Request) netip.Addr {
	peer := netip.IPv4Unspecified()
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr().Unmap()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			peer = a.Unmap()
		}
	}
	if len(s.cfg.TrustedProxies) == 0 {
		return peer
	}
	return netguard.ForwardedFor(r, peer, s.cfg.TrustedProxies)
}

// difficulty raises the work for sources the detector suspects and with load.
func (s *Shield) difficulty(r *http.Request) int {
	suspicion := 0.3
	if s.det.IsSuspect(s.clientAddr(r)) {
		suspicion = 1
	}
	st := s.adm.Stats()
	inflight := 0
	for _, n := range st.InFlight {
		inflight += n
	}
	load := 0.0
	if st.Limit > 0 {
		load = float64(inflight) / float64(st.Limit)
	}
	return challenge.Difficulty(suspicion, load)
}

var priorities = [numClasses]admission.Priority{Staff: admission.Staff, Member: admission.Member,
	PassHolder: admission.PassHolder, Allowlisted: admission.PassHolder, Anonymous: admission.Anonymous}

// Handler wraps next with the shield.
func (s *Shield) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, next)
	})
}

func (s *Shield) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	Served(r)
	now := s.cfg.Now()
	client := s.clientAddr(r)
	obs := detect.Request{Time: now, Addr: client, Path: routeKey(r), UserAgent: r.UserAgent()}
	finish := func(class Class, outcome string) {
		obs.Class, obs.Outcome = class.String(), outcome
		s.det.Observe(obs)
		s.metrics.decision(class, outcome)
		noteDecision(w, client, class, outcome)
	}

	switch {
	case r.URL.Path == ChallengePath || strings.HasPrefix(r.URL.Path, ChallengePath+"/"):
		s.chal.ServeHTTP(w, r)
		finish(Anonymous, "challenged")
		return
	case r.URL.Path == WaitPath:
		// The no-JavaScript way out of the challenge: queue for ?next=.
		s.room.ServeHTTP(w, withTarget(r, r.URL.Query().Get("next")))
		finish(Anonymous, "queued")
		return
	}

	level := s.det.Level()
	hasPass, passLimited := s.passOf(r, now)
	class, role, forged := s.cls.classify(r, client, hasPass)
	if forged {
		// An expired, revoked-and-aged or forged token: the visitor is
		// anonymous to the shield (the application answers 401 or the
		// login page); counted because a spike is a signal.
		s.metrics.refused("session_token")
	}
	if passLimited {
		s.refuse(w, r, http.StatusTooManyRequests, "limited", s.adm.RetryAfter())
		finish(class, "limited")
		return
	}
	suspect := class == Anonymous || class == PassHolder

	if suspect && level >= detect.BlockTopPrefixes && s.det.IsBlocked(client) {
		s.refuse(w, r, http.StatusForbidden, "blocked", 0)
		finish(class, "blocked")
		return
	}
	if suspect && s.cfg.Blocklist.Blocks(client, now) {
		s.refuse(w, r, http.StatusForbidden, "blocked", 0)
		finish(class, "blocked")
		return
	}
	if closed, until := s.cfg.Gates.Closed(role, now); closed {
		wait := time.Hour
		if !until.IsZero() {
			wait = until.Sub(now)
		}
		s.refuse(w, r, http.StatusServiceUnavailable, "closed", wait)
		finish(class, "blocked")
		return
	}
	if class == Anonymous && !s.limits.Allow(client, now) {
		s.refuse(w, r, http.StatusTooManyRequests, "limited", time.Duration(2+rand.IntN(8))*time.Second)
		finish(class, "limited")
		return
	}
	// The challenge is for attack mode, and earlier for the prefixes the
	// detector names as carrying an attack; never for signed-in users.
	if class == Anonymous && (level >= detect.Challenge || (level >= detect.TightenBuckets && s.det.IsSuspect(client))) {
		s.sendToChallenge(w, r)
		finish(class, "challenged")
		return
	}
	if suspect && level >= detect.WaitingRoom && !s.admittedByRoom(r) {
		s.sendToRoom(w, r)
		finish(class, "queued")
		return
	}
	// The door: while password checks are congested (a closure morning's
	// first hour), newcomers wait in the room before they type their
	// password, and the room lets them in at the pace logins complete,
	// instead of every form post beyond the budget getting an error page
	// and a retry storm.
	if suspect && s.loginsCongested.Load() && isPageRequest(r) && s.logPages[r.URL.Path] && !s.admittedByRoom(r) {
		s.sendToRoom(w, r)
		finish(class, "queued")
		return
	}
	if s.logRE[r.Method+" "+r.URL.Path] {
		// Password checks have their own budget and skip the adaptive
		// limit: their 20–200 ms would read as a slow backend and shrink
		// the limit for everyone reading homework.
		release, err := s.logins.Acquire(r.Context())
		if err != nil {
			if suspect && isPageRequest(r) {
				s.sendToRoom(w, r) // a place in the queue, not an error page
				finish(class, "queued")
				return
			}
			s.refuse(w, r, http.StatusServiceUnavailable, "busy", s.logins.RetryAfter())
			finish(class, "shed")
			return
		}
		defer release()
		next.ServeHTTP(w, r)
		finish(class, "admitted")
		return
	}
	ticket, err := s.adm.Acquire(r.Context(), priorities[class])
	if err != nil {
		if suspect && isPageRequest(r) {
			s.sendToRoom(w, r)
			finish(class, "queued")
			return
		}
		s.refuse(w, r, http.StatusServiceUnavailable, "busy", s.adm.RetryAfter())
		finish(class, "shed")
		return
	}
	sw := &admittedWriter{StatusWriter: httpx.StatusWriter{ResponseWriter: w}, ticket: ticket}
	start := time.Now()
	defer func() {
		lat := time.Since(start)
		if r.Context().Err() != nil {
			ticket.Ignore() // the client left: says nothing about the backend
		} else {
			ticket.Release(lat, sw.Status() >= 500) // nothing if Detach released it
		}
		finish(class, "admitted")
	}()
	next.ServeHTTP(sw, r)
}

// admittedWriter carries an admitted request's admission ticket, for
// Detach.
type admittedWriter struct {
	httpx.StatusWriter
	ticket *admission.Ticket
}

func (w *admittedWriter) Unwrap() http.ResponseWriter { return &w.StatusWriter }

// Detach gives back the admission slot of the request answered through w
// (found through the writers' Unwrap chain), for a handler that turns the
// request into a long-lived connection: a live class's WebSocket is
// admitted like any request when it opens, then must not hold a slot of
// the adaptive limit for the hour the class lasts. The latency of such a
// request says nothing about the backend and is not fed to the limit. It
// reports whether w went through the shield's admission.
func Detach(w http.ResponseWriter) bool {
	for w != nil {
		switch t := w.(type) {
		case *admittedWriter:
			t.ticket.Ignore()
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
	return false
}

// passOf reports a valid challenge pass (and whether it is over its own
// rate limit) or a waiting-room admission.
func (s *Shield) passOf(r *http.Request, now time.Time) (has, limited bool) {
	p, err := s.chal.PassFrom(r, now)
	if err == nil {
		return true, !s.chal.AllowPass(p, now)
	}
	if !errors.Is(err, challenge.ErrNoPass) {
		s.metrics.refused("challenge_pass")
	}
	return s.admittedByRoom(r), false
}

func (s *Shield) admittedByRoom(r *http.Request) bool {
	c, err := r.Cookie(waitroom.PassCookie)
	if err != nil {
		return false
	}
	if _, err = s.room.ParsePass(c.Value); err != nil {
		s.metrics.refused("waiting_room_pass")
		return false
	}
	return true
}

// isPageRequest tells a browser's page request — a navigation, or a form
// posted from a page — (which can be answered with a page, sent to the
// waiting room or to the challenge) from an API call.
func isPageRequest(r *http.Request) bool {
	// JSON clients, "+json" media types included (TAXII partners ask for
	// application/taxii+json), get answers they can parse, not pages.
	if accept := r.Header.Get("Accept"); strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(accept, "application/json") || strings.Contains(accept, "+json") {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
	}
	return false
}

// sendToRoom serves the waiting room at the address the visitor asked for:
// the page refreshes itself there and, once admitted, the same address
// loads with the pass.
func (s *Shield) sendToRoom(w http.ResponseWriter, r *http.Request) {
	if !isPageRequest(r) {
		s.refuse(w, r, http.StatusServiceUnavailable, "busy", s.adm.RetryAfter())
		return
	}
	s.room.ServeHTTP(w, r)
}

// withTarget returns r aimed at the local path next ("/" if next is not a
// safe local path), for the waiting room to send the visitor on to.
func withTarget(r *http.Request, next string) *http.Request {
	u, err := url.Parse(httpx.SafeNext(next))
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	r2.RequestURI = r2.URL.RequestURI()
	return r2
}

func (s *Shield) sendToChallenge(w http.ResponseWriter, r *http.Request) {
	if !isPageRequest(r) {
		s.refuse(w, r, http.StatusServiceUnavailable, "challenge", s.adm.RetryAfter())
		return
	}
	// A form posted when the challenge began (a student who opened the
	// sign-in page a minute earlier) is sent to it too: 303 makes the
	// browser come back with a GET, and the form shows again afterwards.
	http.Redirect(w, r, s.chal.URL(r.URL.RequestURI()), http.StatusSeeOther)
}

// routeKey is a bounded description of the path for the detector: the
// first two segments, so /homework/123 and /homework/456 count together.
func routeKey(r *http.Request) string {
	p := r.URL.Path
	if len(p) > 64 {
		p = p[:64]
	}
	if i := strings.IndexByte(p[min(1, len(p)):], '/'); i >= 0 {
		if j := strings.IndexByte(p[i+2:], '/'); j >= 0 {
			p = p[:i+2+j]
		}
	}
	return r.Method + " " + p
}

// Run ticks the detector every second, adjusts the buckets to the
// escalation level and paces the waiting room, until ctx ends.
func (s *Shield) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := detect.Normal
	prevLogins := s.logins.Stats()
	var congestedUntil time.Time
	var loginRate float64 // logins completed per second while the budget was busy
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.cfg.Now()
			s.det.Tick(now)
			s.adm.Expire()
			level := s.det.Level()
			if level != last {
				s.tighten(level >= detect.TightenBuckets)
				s.cfg.Log.Warn("shield level", "from", last, "to", level)
				last = level
			}
			// Let as many newcomers in as there are free slots; while the
			// password checks are the bottleneck, as many as logins
			// completed in the last second, less the backlog beyond two
			// per slot.
			st := s.adm.Stats()
			inflight := 0
			for _, n := range st.InFlight {
				inflight += n
			}
			free := st.Limit - inflight
			ls := s.logins.Stats()
			if ls.Shed > prevLogins.Shed || 2*ls.Queued > s.cfg.LoginQueue {
				congestedUntil = now.Add(30 * time.Second)
			}
			congested := now.Before(congestedUntil)
			s.loginsCongested.Store(congested)
			done := float64(ls.Admitted - prevLogins.Admitted)
			switch {
			case ls.Queued > 0 || ls.InFlight >= ls.Slots:
				// Busy: what completed is the budget's throughput.
				loginRate = 0.7*loginRate + 0.3*done
			case congested:
				// The door is shut and the budget idle: it can take more
				// (probe upwards, or the rate would never recover from a
				// low estimate).
				loginRate = 1.25*loginRate + float64(ls.Slots)
			}
			if congested {
				// Admit at the measured throughput, not at last second's
				// completions: admitted visitors come back only when their
				// page refreshes, and pacing by completions would starve
				// the budget between waves and spiral down. The backlog
				// beyond two per slot is taken off.
				free = min(free, int(math.Round(max(loginRate, 1)))-max(0, ls.Queued-2*ls.Slots))
			}
			prevLogins = ls
			if free > 0 {
				s.room.Admit(free)
			}
			// What this loop admits each second is the room's ETA until it
			// has measured its own admissions.
			s.room.SetETAHint(float64(max(free, 1)))
		}
	}
}

// tighten halves anonymous buckets under attack and restores them after.
func (s *Shield) tighten(on bool) {
	f := 1.0
	if on {
		f = 0.5
	}
	s.limits.Addr.SetRate(s.cfg.AddrRate*f, s.cfg.AddrBurst*f)
	s.limits.Prefix.SetRate(s.cfg.PrefixRate*f, s.cfg.PrefixBurst*f)
}

// SetManual switches attack mode by hand: at least the challenge level.
func (s *Shield) SetManual(on bool) { s.det.SetManual(detect.Challenge, on) }

// Detector exposes the detector for the operator page.
func (s *Shield) Detector() *detect.Detector { return s.det }

// Admission exposes the admission limiter's statistics.
func (s *Shield) Admission() *admission.Limiter { return s.adm }

// Room exposes the waiting room.
func (s *Shield) Room() *waitroom.Room { return s.room }

func retryAfter(w http.ResponseWriter, d time.Duration) {
	if d <= 0 {
		return
	}
	secs := int(d.Seconds() + 0.999)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}
