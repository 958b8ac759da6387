package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focused describes the element that has the keyboard focus.
type focused struct {
	Tag, ID, Class, Text, Href string
	InMain                     bool    // inside <main>
	Left, Top, Width, Height   float64 // bounding box, CSS pixels
	ViewportWidth              float64
	Hash                       string // location.hash
}

func focus(t *testing.T, ctx context.Context) focused {
	t.Helper()
	f, err := chromedp.Run(ctx, chromedp.Evaluate[focused](`(() => {
		const el = document.activeElement, r = el.getBoundingClientRect();
		return {Tag: el.tagName.toLowerCase(), ID: el.id, Class: el.className, Text: el.textContent.trim(),
			Href: el.getAttribute("href") || "", InMain: !!el.closest("main"),
			Left: r.left, Top: r.top, Width: r.width, Height: r.height,
			ViewportWidth: innerWidth, Hash: location.hash};
	})()`))
	if err != nil {
		t.Fatalf("reading the focus: %v", err)
	}
	return f
}

// press sends one key to the page, as the keyboard does.
func press(t *testing.T, ctx context.Context, key string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(key)); err != nil {
		t.Fatalf("pressing %q: %v", key, err)
	}
}

// TestKeyboardSkipLink: on the home page, the first Tab reaches the skip
// link, which shows on screen; Enter moves the focus to the main content,
// and the next Tab continues from there, past the menu.
func TestKeyboardSkipLink(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := e.session(t)
	french(t, ctx)
	e.login(t, ctx, "eleve")
	e.open(t, ctx, "/") // a fresh load: the focus starts at the top

	press(t, ctx, kb.Tab)
	f := focus(t, ctx)
	if f.Tag != "a" || f.Class != "skip" || f.Text != "Aller au contenu" || f.Href != "#main" {
		t.Fatalf("first Tab focuses <%s class=%q href=%q> %q, want the skip link \"Aller au contenu\"", f.Tag, f.Class, f.Href, f.Text)
	}
	if f.Left < 0 || f.Top < 0 || f.Width == 0 || f.Height == 0 || f.Left+f.Width > f.ViewportWidth {
		t.Errorf("the focused skip link is not on screen: %+v", f)
	}

	press(t, ctx, kb.Enter)
	f = focus(t, ctx)
	if f.Tag != "main" || f.ID != "main" {
		t.Fatalf("after Enter on the skip link the focus is on <%s id=%q>, want <main id=main>", f.Tag, f.ID)
	}
	if f.Hash != "#main" {
		t.Errorf("location.hash %q, want #main", f.Hash)
	}

	press(t, ctx, kb.Tab)
	if f = focus(t, ctx); !f.InMain {
		t.Errorf("Tab after the skip link goes to <%s> %q, outside <main>", f.Tag, f.Text)
	}
}
