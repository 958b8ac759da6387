package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"preau/internal/storm/load"
)

// sessionCookie is the web application's session cookie; it holds the same
// token as the API's bearer (internal/web.SessionCookie).
const sessionCookie = "preau_session"

// StatusError is the error of a step whose final answer was an error page.
type StatusError struct{ Status int }

func (e *StatusError) Error() string { return "HTTP " + strconv.Itoa(e.Status) }

// student is one simulated student's state. Only its own goroutine touches
// it during a run; SignIn and SignOut run between runs.
type student struct {
	token   string            // session token (API bearer, web cookie)
	cookies map[string]string // web: the shield's ticket and pass, the session
	steps   int               // steps since the last sign-in
	fails   int               // consecutive failed sign-in steps, for the backoff
	// cohortNew: started the run without a session, and the run reports
	// all its requests as a newcomer's (Morning.NewcomerCohort).
	cohortNew bool

	// api
	handIn int64 // id of a homework accepting hand-ins, 0 if none known

	// web
	next     string        // page to ask for next ("" = the step's own choice)
	posting  bool          // at the sign-in form: the next step posts it
	queuedAt time.Time     // first waiting-room page of this sign-in, zero if none
	etaAt    time.Time     // first waiting-room page that stated an ETA
	eta      time.Duration // the ETA that page stated
	hasETA   bool
	entries  []int64 // homework ids of the week's list
	submit   string  // action of a hand-in form seen on an entry page
}

func (s *student) signedIn() bool { return s.token != "" }

// forget drops the session (a 401, an expired cookie, a closed browser).
func (s *student) forget() {
	s.token, s.steps, s.next, s.posting, s.submit = "", 0, "", false, ""
	delete(s.cookies, sessionCookie)
}

func (c *Crowd) retry(u int) retryClient {
	return retryClient{c: c.clients[u], retries: c.m.Retries, backoff: c.m.Backoff}
}

// apiStep is one step of a student using the mobile app (JSON API).
func (c *Crowd) apiStep(ctx context.Context, rng *rand.Rand, u int) load.Outcome {
	s := &c.users[u]
	if !s.signedIn() {
		o := c.apiLogin(ctx, rng, u, c.m.Retries)
		if o.Err != nil {
			s.fails++
			o.FollowUp, o.Pause = true, jitter(rng, c.m.Backoff<<min(s.fails, 4), 0)
		}
		return o
	}
	s.steps++
	var o load.Outcome
	switch {
	case s.steps == 1:
		o = c.apiGet(ctx, rng, u, ClassHome, "/api/v1/me", nil)
	case c.m.SubmitEvery > 0 && s.steps%c.m.SubmitEvery == 0 && s.handIn != 0:
		o = c.apiSubmit(ctx, rng, u)
	default:
		o = c.apiGet(ctx, rng, u, ClassHomework, "/api/v1/homework", s.readHomework)
	}
	return s.cohort(o)
}

// cohort reclasses a signed-in request of a student of the newcomer
// cohort.
func (s *student) cohort(o load.Outcome) load.Outcome {
	if s.cohortNew {
		o.Class = ClassNewcomer
	}
	return o
}

// apiLogin signs student u in through the API (with up to retries
// retries); the token serves the web too, as its session cookie.
func (c *Crowd) apiLogin(ctx context.Context, rng *rand.Rand, u, retries int) load.Outcome {
	s := &c.users[u]
	body, _ := json.Marshal(map[string]string{"login": c.m.Logins(u), "password": c.m.Password})
	rc := c.retry(u)
	rc.retries = retries
	a, err := rc.do(ctx, rng, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/login", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	o := outcome(ClassNewcomer, a.status, err)
	if o.Err == nil {
		var out struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(a.body, &out) != nil || out.Token == "" {
			o.Err = errors.New("login: no token in the answer")
		} else {
			s.token, s.steps, s.fails = out.Token, 0, 0
			s.cookies[sessionCookie] = out.Token
		}
	}
	return o
}

func (c *Crowd) apiGet(ctx context.Context, rng *rand.Rand, u int, class, path string, read func([]byte)) load.Outcome {
	s := &c.users[u]
	a, err := c.retry(u).do(ctx, rng, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		return req, err
	})
	s.expired(a.status)
	o := outcome(class, a.status, err)
	if o.Err == nil && read != nil {
		read(a.body)
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

func (c *Crowd) apiSubmit(ctx context.Context, rng *rand.Rand, u int) load.Outcome {
	s := &c.users[u]
	body, ctype := handInBody(u, s.steps)
	url := c.base + "/api/v1/homework/" + strconv.FormatInt(s.handIn, 10) + "/submissions"
	a, err := c.retry(u).do(ctx, rng, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.token)
			req.Header.Set("Content-Type", ctype)
		}
		return req, err
	})
	s.expired(a.status)
	if a.status == http.StatusNotFound {
		s.handIn = 0
	}
	return outcome(ClassSubmit, a.status, err)
}

// handInBody is a multipart form with a short text answer.
func handInBody(u, step int) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("text", fmt.Sprintf("Réponse de l'élève %d, étape %d : 3/4 + 1/4 = 1.", u, step))
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// expired forgets the session after a 401, so the next step signs in.
func (s *student) expired(status int) {
	if status == http.StatusUnauthorized {
		s.forget()
	}
}

func outcome(class string, status int, err error) load.Outcome {
	o := load.Outcome{Class: class, Status: status, Err: err}
	if err == nil && status >= 400 {
		o.Err = &StatusError{Status: status}
	}
	return o
}
