package browsertest

import (
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// homeBudget is the most the pupil's home page may weigh on the wire, HTML
// and CSS together: the page is meant for old phones on poor connections.
const homeBudget = 60_000 // bytes

// timing is what the Resource Timing API says about one download.
type timing struct {
	Name            string  `json:"name"`
	InitiatorType   string  `json:"initiatorType"`
	TransferSize    float64 `json:"transferSize"`
	EncodedBodySize float64 `json:"encodedBodySize"`
}

// bytes is the size on the wire, or the body size when the browser reports
// no transfer (a cache hit).
func (r timing) bytes() float64 {
	if r.TransferSize > 0 {
		return r.TransferSize
	}
	return r.EncodedBodySize
}

// TestHomePageWeight loads the pupil's home page with an empty cache on a
// 412 px phone screen, measures what it downloads with the Performance API,
// checks that every request stays on the site (no font, script or tracker
// from elsewhere), and saves a screenshot.
func TestHomePageWeight(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := e.session(t)
	french(t, ctx)
	e.login(t, ctx, "eleve")

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(412, 915, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var requested []string
	var wire float64
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requested = append(requested, ev.Request.URL)
		case *network.EventLoadingFinished:
			wire += ev.EncodedDataLength
		}
	}); err != nil {
		t.Fatal(err)
	}
	e.open(t, ctx, "/")

	perf, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Origin     string   `json:"origin"`
		Navigation timing   `json:"navigation"`
		Resources  []timing `json:"resources"`
	}](`({
		origin: location.origin,
		navigation: performance.getEntriesByType("navigation")[0].toJSON(),
		resources: performance.getEntriesByType("resource").map(e => e.toJSON()),
	})`))
	if err != nil {
		t.Fatalf("reading the Performance API: %v", err)
	}

	total := perf.Navigation.bytes()
	if total == 0 {
		t.Errorf("the navigation entry reports no bytes: %+v", perf.Navigation)
	}
	t.Logf("%6.0f B  %s (HTML)", perf.Navigation.bytes(), perf.Navigation.Name)
	css := false
	for _, r := range perf.Resources {
		total += r.bytes()
		t.Logf("%6.0f B  %s (%s)", r.bytes(), r.Name, r.InitiatorType)
		css = css || strings.Contains(r.Name, ".css")
		if !sameOrigin(r.Name, perf.Origin) {
			t.Errorf("third-party resource: %s", r.Name)
		}
	}
	if !css {
		t.Errorf("no stylesheet among the resources: %+v", perf.Resources)
	}
	mu.Lock()
	t.Logf("home page: %.0f bytes by the Performance API, %.0f bytes on the wire by DevTools, %d requests", total, wire, len(requested))
	for _, u := range requested {
		if !sameOrigin(u, perf.Origin) && !strings.HasPrefix(u, "data:") {
			t.Errorf("request to another site: %s", u)
		}
	}
	mu.Unlock()
	if total >= homeBudget {
		t.Errorf("the home page weighs %.0f bytes, over the %d-byte budget", total, homeBudget)
	}

	screenshot(t, ctx, "home-412")
}

// sameOrigin reports whether the address u is on origin (scheme://host:port).
func sameOrigin(u, origin string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme+"://"+p.Host == origin
}
