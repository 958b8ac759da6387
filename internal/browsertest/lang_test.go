package browsertest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestEnglishInterface: a browser that asks for English gets the English
// pages, before and after logging in; the language menu of the login page
// switches to French without JavaScript-only widgets.
func TestEnglishInterface(t *testing.T) {
	t.Parallel()
	e := start(t)

	t.Run("Accept-Language en", func(t *testing.T) {
		ctx := e.session(t)
		setHeaders(t, ctx, map[string]any{"Accept-Language": "en-GB,en;q=0.9"})
		e.open(t, ctx, "/login")
		if got := attr(t, ctx, chromedp.CSS("html"), "lang"); got != "en" {
			t.Errorf(`<html lang=%q>, want "en"`, got)
		}
		if got := text(t, ctx, chromedp.CSS("h1")); got != "Log in" {
			t.Errorf("heading %q, want %q", got, "Log in")
		}
		if got := text(t, ctx, chromedp.CSS(`form[action="/login"] button[type=submit]`)); got != "Log in" {
			t.Errorf("button %q, want %q", got, "Log in")
		}
		contains(t, "login form", text(t, ctx, chromedp.CSS(`form[action="/login"]`)), "Login", "Password")
		if got, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("a.skip"))); err != nil || got != "Skip to content" {
			t.Errorf("skip link %q (%v), want %q", got, err, "Skip to content")
		}

		e.login(t, ctx, "eleve")
		if got := text(t, ctx, chromedp.CSS("h1")); got != "Today" {
			t.Errorf("home heading %q, want %q", got, "Today")
		}
		if got := text(t, ctx, chromedp.ID("hw-h")); got != "Due today" {
			t.Errorf("homework heading %q, want %q", got, "Due today")
		}
	})

	t.Run("Accept-Language fr", func(t *testing.T) {
		ctx := e.session(t)
		french(t, ctx)
		e.open(t, ctx, "/login")
		if got := text(t, ctx, chromedp.CSS("h1")); got != "Connexion" {
			t.Errorf("heading %q, want %q", got, "Connexion")
		}
	})

	t.Run("language menu", func(t *testing.T) {
		ctx := e.session(t)
		setHeaders(t, ctx, map[string]any{"Accept-Language": "en"})
		e.open(t, ctx, "/login")
		// Choose "Français" with the keyboard, as a person would.
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("lang-switch")), chromedp.KeyEvent("F")); err != nil {
			t.Fatalf("choosing French: %v", err)
		}
		if got, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("lang-switch"))); err != nil || got != "fr" {
			t.Fatalf("language menu on %q (%v), want fr", got, err)
		}
		follow(t, ctx, chromedp.CSS(`form[action="/lang"] button[type=submit]`))
		if p := path(t, ctx); p != "/login" {
			t.Errorf("after choosing the language: at %s, want /login", p)
		}
		if got := text(t, ctx, chromedp.CSS("h1")); got != "Connexion" {
			t.Errorf("heading %q after choosing French, want %q", got, "Connexion")
		}
	})
}
