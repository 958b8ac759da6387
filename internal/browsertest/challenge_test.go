package browsertest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestChallengeInAttackMode: in attack mode an anonymous visitor opening
// the login page is sent to the shield's challenge; the browser solves the
// proof of work by itself (Web Workers, no inline script under the CSP) and
// lands on the login page with a pass; a signed-in pupil is never
// challenged.
func TestChallengeInAttackMode(t *testing.T) {
	t.Parallel()
	e := start(t, "--attack-mode")
	ctx := e.session(t)
	french(t, ctx)
	if _, err := chromedp.Run(ctx, chromedp.Navigate(e.url("/login"))); err != nil {
		t.Fatalf("opening /login: %v", err)
	}
	// The challenge page solves itself and submits; the login form follows.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("login"))); err != nil {
		t.Fatalf("the challenge did not lead to the login form: %v", err)
	}
	if got := path(t, ctx); got != "/login" {
		t.Errorf("after the challenge the browser is on %q, want /login", got)
	}
	e.login(t, ctx, "eleve")
	e.open(t, ctx, "/homework")
}
