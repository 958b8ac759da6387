package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
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

// Morning is the lockdown-morning scenario (see the package documentation).
type Morning struct {
	Students int
	Logins   func(i int) string // login of student i; nil means DemoLogins(30)
	Password string             // "" means "demo"
	// Ramp spreads arrivals: student i arrives at Ramp·i/Students.
	Ramp     time.Duration
	Duration time.Duration
	// Think returns the pause between steps; nil means 1–3 s uniform.
	Think func(*rand.Rand) time.Duration
	// SubmitEvery: one step in SubmitEvery hands in a text; 0 means never.
	SubmitEvery int
	// Retries is the number of retries of a failed request (5xx, 429,
	// network error); 0 means none.
	Retries int
	// Backoff is the first retry's delay, doubled at each retry, with
	// jitter (a delay drawn in [d/2, d]); 0 means 500 ms. A Retry-After
	// longer than the delay is honoured, up to MaxRetryAfter.
	Backoff time.Duration
	SLO     load.SLO
}

// StatusError is the error of a step whose final answer was an error page.
type StatusError struct{ Status int }

func (e *StatusError) Error() string { return "HTTP " + strconv.Itoa(e.Status) }

type student struct {
	token  string
	handIn int64 // id of a homework accepting hand-ins, 0 if none known
	steps  int   // steps since the last sign-in
}

// Run runs the morning and returns per-class statistics ("login", "home",
// "homework", "submit"). progress, if not nil, is called about once a
// second with the time elapsed and the run's duration, in milliseconds.
func (m Morning) Run(ctx context.Context, t Target, progress func(done, total int)) load.ClosedResult {
	if m.Students <= 0 || m.Duration <= 0 {
		return load.ClosedLoop{SLO: m.SLO}.Run(ctx)
	}
	client := t.Client
	if client == nil {
		client = &http.Client{}
	}
	logins := m.Logins
	if logins == nil {
		logins = DemoLogins(30)
	}
	password := m.Password
	if password == "" {
		password = "demo"
	}
	think := m.Think
	if think == nil {
		think = func(r *rand.Rand) time.Duration { return time.Second + time.Duration(r.Int64N(int64(2*time.Second))) }
	}
	base := strings.TrimRight(t.URL, "/")
	users := make([]student, m.Students)
	rc := retryClient{c: client, retries: m.Retries, backoff: m.Backoff}

	stopProgress := startProgress(ctx, m.Duration, progress)
	defer stopProgress()

	loop := load.ClosedLoop{
		Users:    m.Students,
		Duration: m.Duration,
		Think:    think,
		SLO:      m.SLO,
		Seed:     uint64(time.Now().UnixNano()),
		Arrival: func(u int) time.Duration {
			return time.Duration(float64(m.Ramp) * float64(u) / float64(m.Students))
		},
		Step: func(ctx context.Context, u int, rng *rand.Rand) load.Outcome {
			s := &users[u]
			if s.token == "" {
				return m.login(ctx, rc, rng, base, s, logins(u), password)
			}
			s.steps++
			switch {
			case s.steps == 1:
				return s.get(ctx, rc, rng, base, "home", "/api/v1/me", nil)
			case m.SubmitEvery > 0 && s.steps%m.SubmitEvery == 0 && s.handIn != 0:
				return s.submit(ctx, rc, rng, base, u)
			default:
				return s.get(ctx, rc, rng, base, "homework", "/api/v1/homework", s.readHomework)
			}
		},
	}
	return loop.Run(ctx)
}

func (m Morning) login(ctx context.Context, rc retryClient, rng *rand.Rand, base string, s *student, login, password string) load.Outcome {
	body, _ := json.Marshal(map[string]string{"login": login, "password": password})
	status, data, err := rc.do(ctx, rng, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/login", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	o := outcome("login", status, err)
	if o.Err == nil {
		var out struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(data, &out) != nil || out.Token == "" {
			o.Err = errors.New("login: no token in the answer")
		} else {
			s.token, s.steps = out.Token, 0
		}
	}
	return o
}

func (s *student) get(ctx context.Context, rc retryClient, rng *rand.Rand, base, class, path string, read func([]byte)) load.Outcome {
	status, data, err := rc.do(ctx, rng, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		return req, err
	})
	s.expired(status)
	o := outcome(class, status, err)
	if o.Err == nil && read != nil {
		read(data)
	}
	return o
}

func (s *student) readHomework(data []byte) {
	var out struct {
		Homework []struct {
			ID     int64 `json:"id"`
			HandIn bool  `json:"hand_in"`
		} `json:"homework"`
	}
	if json.Unmarshal(data, &out) != nil {
		return
	}
	s.handIn = 0
	for _, h := range out.Homework {
		if h.HandIn {
			s.handIn = h.ID
			return
		}
	}
}

func (s *student) submit(ctx context.Context, rc retryClient, rng *rand.Rand, base string, u int) load.Outcome {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("text", fmt.Sprintf("Réponse de l'élève %d, étape %d : 3/4 + 1/4 = 1.", u, s.steps))
	_ = mw.Close()
	body, ctype := buf.Bytes(), mw.FormDataContentType()
	url := base + "/api/v1/homework/" + strconv.FormatInt(s.handIn, 10) + "/submissions"
	status, _, err := rc.do(ctx, rng, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.token)
			req.Header.Set("Content-Type", ctype)
		}
		return req, err
	})
	s.expired(status)
	if status == http.StatusNotFound {
		s.handIn = 0
	}
	return outcome("submit", status, err)
}

// expired forgets the session after a 401, so the next step signs in.
func (s *student) expired(status int) {
	if status == http.StatusUnauthorized {
		s.token = ""
	}
}

func outcome(class string, status int, err error) load.Outcome {
	o := load.Outcome{Class: class, Status: status, Err: err}
	if err == nil && status >= 400 {
		o.Err = &StatusError{Status: status}
	}
	return o
}

// retryClient sends a request, retrying on network errors, 5xx and 429.
type retryClient struct {
	c       *http.Client
	retries int
	backoff time.Duration
}

// do sends the request build makes (anew for each attempt) and returns the
// final status and body.
func (rc retryClient) do(ctx context.Context, rng *rand.Rand, build func() (*http.Request, error)) (int, []byte, error) {
	delay := rc.backoff
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return 0, nil, err
		}
		status, data, retryAfter, err := send(rc.c, req)
		retry := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if !retry || attempt >= rc.retries || ctx.Err() != nil {
			return status, data, err
		}
		wait := delay/2 + time.Duration(rng.Int64N(int64(delay/2)+1))
		if retryAfter > wait {
			wait = min(retryAfter, MaxRetryAfter)
		}
		if !sleep(ctx, wait) {
			return status, data, err
		}
		delay *= 2
	}
}

// send does one request and reads (a bounded part of) its answer.
func send(c *http.Client, req *http.Request) (status int, body []byte, retryAfter time.Duration, err error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, 0, err
	}
	if n, e := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); e == nil && n > 0 {
		retryAfter = time.Duration(n) * time.Second
	}
	return resp.StatusCode, body, retryAfter, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// startProgress calls progress(elapsed ms, total ms) about once a second
// until the returned function is called; it calls it a last time then.
func startProgress(ctx context.Context, total time.Duration, progress func(done, total int)) func() {
	if progress == nil {
		return func() {}
	}
	t0 := time.Now()
	ms := func() int { return int(min(time.Since(t0), total) / time.Millisecond) }
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-tick.C:
				progress(ms(), int(total/time.Millisecond))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		progress(ms(), int(total/time.Millisecond))
	}
}
