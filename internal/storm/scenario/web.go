package scenario

import (
	"bytes"
	"context"
	"errors"
	"html"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"preau/internal/storm/load"
)

// The shield's headers and paths a browser meets (internal/shield and
// internal/shield/waitroom); storm reads them as any client would.
const (
	queuePositionHeader = "Preau-Queue-Position"
	queueETAHeader      = "Preau-Queue-ETA"
	challengePath       = "/_shield/challenge"
)

var (
	// The challenge page's way out for a browser without JavaScript.
	waitLink = regexp.MustCompile(`href="(/_shield/wait\?[^"]*)"`)
	// Links to the week's homework entries, and an entry's hand-in form.
	entryLink  = regexp.MustCompile(`href="/homework/(\d+)"`)
	handInForm = regexp.MustCompile(`action="(/homework/\d+/submit\?csrf=[^"]*)"`)
)

// errNoWayOut is a challenge page with no way through for a browser
// without JavaScript.
var errNoWayOut = errors.New("challenge page without a waiting-room link")

// webStep is one request of a student using a browser without JavaScript:
// a newcomer goes through the sign-in page, the challenge's no-JS way out
// and the waiting room as the shield sends them, then posts the form; a
// signed-in student reads the home page, the week's homework and its
// entries, and now and then hands in a text through the entry's form.
func (c *Crowd) webStep(ctx context.Context, rng *rand.Rand, u int) load.Outcome {
	s := &c.users[u]
	if !s.signedIn() {
		if s.posting {
			return c.webPostLogin(ctx, rng, u)
		}
		return c.webNewcomer(ctx, rng, u)
	}
	return s.cohort(c.webSignedIn(ctx, rng, u))
}

// webNewcomer asks for the page a student without a session is on.
func (c *Crowd) webNewcomer(ctx context.Context, rng *rand.Rand, u int) load.Outcome {
	s := &c.users[u]
	path := s.next
	if path == "" {
		path = "/login"
	}
	start := time.Now()
	a, err := c.webDo(ctx, u, http.MethodGet, path, nil, "")
	o := load.Outcome{Class: ClassNewcomer, Status: a.status, Err: err}
	if err != nil {
		return c.newcomerFailed(s, rng, o, a)
	}
	switch {
	case a.status == http.StatusOK && bytes.Contains(a.body, []byte(`action="/login"`)):
		// The sign-in form: out of the queue, if the student was in it.
		c.leftQueue(s, time.Now())
		s.posting, s.next = true, ""
		return o // the student types: a think time
	case isRedirect(a.status):
		s.next = localPath(a.header.Get("Location"))
		o.FollowUp = true
		return o
	case a.status == http.StatusOK && strings.HasPrefix(path, challengePath):
		m := waitLink.FindSubmatch(a.body)
		if m == nil {
			o.Err = errNoWayOut
			return c.newcomerFailed(s, rng, o, a)
		}
		s.next = html.UnescapeString(string(m[1]))
		o.FollowUp = true
		return o
	case a.status == http.StatusServiceUnavailable && a.header.Get(queuePositionHeader) != "":
		// The waiting room: a place and a wait, not an error page. The
		// page refreshes itself after Retry-After.
		return c.queued(s, o, a, start, path)
	default:
		o.Err = &StatusError{Status: a.status}
		return c.newcomerFailed(s, rng, o, a)
	}
}

// webPostLogin posts the sign-in form.
func (c *Crowd) webPostLogin(ctx context.Context, rng *rand.Rand, u int) load.Outcome {
	s := &c.users[u]
	form := url.Values{"login": {c.m.Logins(u)}, "password": {c.m.Password}, "next": {"/"}}.Encode()
	a, err := c.webDo(ctx, u, http.MethodPost, "/login", []byte(form), "application/x-www-form-urlencoded")
	o := load.Outcome{Class: ClassNewcomer, Status: a.status, Err: err}
	if err == nil && isRedirect(a.status) {
		// Signed in; or sent to the challenge or the waiting room (the
		// attack began while the form was on screen): follow, and type
		// the password again when the form comes back.
		if s.cookies[sessionCookie] != "" {
			s.token, s.steps, s.fails = s.cookies[sessionCookie], 0, 0
		}
		s.posting, s.next = false, localPath(a.header.Get("Location"))
		o.FollowUp = true
		return o
	}
	if err == nil && a.status == http.StatusServiceUnavailable && a.header.Get(queuePositionHeader) != "" {
		// The waiting room, served in place of the form's answer.
		s.posting, s.next = false, "/login"
		return c.queued(s, o, a, time.Now(), "/login")
	}
	if err == nil {
		o.Err = &StatusError{Status: a.status}
	}
	o = c.newcomerFailed(s, rng, o, a)
	s.posting = true // the form is still on screen: post it again
	return o
}

// queued records a waiting-room page: the student reloads path when the
// page says (Retry-After, as its meta refresh does).
func (c *Crowd) queued(s *student, o load.Outcome, a answer, at time.Time, path string) load.Outcome {
	o.Queued = true
	if s.queuedAt.IsZero() {
		s.queuedAt = at
	}
	// The ETA is judged from the first page that states one (the room
	// states none until it has measured its admission rate).
	if eta, err := strconv.Atoi(a.header.Get(queueETAHeader)); err == nil && !s.hasETA {
		s.etaAt, s.eta, s.hasETA = at, time.Duration(eta)*time.Second, true
	}
	s.next = path
	o.FollowUp, o.Pause = true, min(max(a.retryAfter, time.Second), time.Minute)
	return o
}

// newcomerFailed records an error page and makes the student reload after
// a backoff: the retry storm of April 2021, with jitter.
func (c *Crowd) newcomerFailed(s *student, rng *rand.Rand, o load.Outcome, a answer) load.Outcome {
	s.fails++
	s.next, s.posting = "", false
	o.FollowUp, o.Pause = true, jitter(rng, c.m.Backoff<<min(s.fails, 4), a.retryAfter)
	return o
}

// leftQueue records how long the waiting room kept the student against
// the ETA it first stated.
func (c *Crowd) leftQueue(s *student, now time.Time) {
	if s.queuedAt.IsZero() {
		return
	}
	c.queue.record(now.Sub(s.queuedAt), now.Sub(s.etaAt), s.eta, s.hasETA)
	s.queuedAt, s.hasETA = time.Time{}, false
}

// webSignedIn is a signed-in student's next page.
func (c *Crowd) webSignedIn(ctx context.Context, rng *rand.Rand, u int) load.Outcome {
	s := &c.users[u]
	s.steps++
	class, path, method := ClassHomework, "/homework", http.MethodGet
	var body []byte
	var ctype string
	switch {
	case s.next != "":
		path, s.next = s.next, ""
		if path == "/" {
			class = ClassHome
		}
	case c.m.SubmitEvery > 0 && s.steps%c.m.SubmitEvery == 0 && s.submit != "":
		class, path, method = ClassSubmit, s.submit, http.MethodPost
		body, ctype = handInBody(u, s.steps)
		s.submit = ""
	case s.steps%5 == 0:
		class, path = ClassHome, "/"
	case s.steps%2 == 0 && len(s.entries) > 0:
		path = "/homework/" + strconv.FormatInt(s.entries[rng.IntN(len(s.entries))], 10)
	}
	a, err := c.webRetry(ctx, rng, u, method, path, body, ctype)
	if err == nil && isRedirect(a.status) && strings.HasPrefix(localPath(a.header.Get("Location")), "/login") {
		// The session is gone: the student signs in again.
		s.forget()
		return load.Outcome{Class: class, Status: a.status, Err: &StatusError{Status: http.StatusUnauthorized}}
	}
	o := outcome(class, a.status, err)
	if o.Err != nil {
		return o
	}
	switch {
	case path == "/homework":
		s.entries = s.entries[:0]
		for _, m := range entryLink.FindAllSubmatch(a.body, 20) {
			if id, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil {
				s.entries = append(s.entries, id)
			}
		}
	case strings.HasPrefix(path, "/homework/") && method == http.MethodGet:
		if m := handInForm.FindSubmatch(a.body); m != nil {
			s.submit = html.UnescapeString(string(m[1]))
		}
	}
	return o
}

// webRetry is webDo with the signed-in student's retries on network
// errors, 5xx and 429 (a reload after a pause).
func (c *Crowd) webRetry(ctx context.Context, rng *rand.Rand, u int, method, path string, body []byte, ctype string) (answer, error) {
	delay := c.m.Backoff
	for attempt := 0; ; attempt++ {
		a, err := c.webDo(ctx, u, method, path, body, ctype)
		retry := err != nil || a.status >= 500 || a.status == http.StatusTooManyRequests
		if !retry || attempt >= c.m.Retries || ctx.Err() != nil {
			return a, err
		}
		if !sleep(ctx, jitter(rng, delay, a.retryAfter)) {
			return a, err
		}
		delay *= 2
	}
}

// webDo sends one browser request with the student's cookies and keeps
// the cookies the answer sets. Redirects are not followed: the student's
// next step does, so that each page is measured.
func (c *Crowd) webDo(ctx context.Context, u int, method, path string, body []byte, ctype string) (answer, error) {
	s := &c.users[u]
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9")
	req.Header.Set("User-Agent", "preau-storm-student (no JavaScript)")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range s.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.clients[u].Do(req)
	if err != nil {
		return answer{}, err
	}
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(s.cookies, ck.Name)
		} else {
			s.cookies[ck.Name] = ck.Value
		}
	}
	return readAnswer(resp)
}

func isRedirect(status int) bool {
	return status == http.StatusMovedPermanently || status == http.StatusFound ||
		status == http.StatusSeeOther || status == http.StatusTemporaryRedirect
}

// localPath is the path and query of a Location, "/" if it is not local.
func localPath(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Path == "" {
		return "/"
	}
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path
}
