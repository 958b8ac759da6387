package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// noScript turns JavaScript off in the tab, and checks that it is off: a
// page whose only script retitles it keeps its title. The check matters
// because DevTools' own evaluation (which chromedp uses to read the page)
// still works with page scripts off.
func noScript(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disabling JavaScript: %v", err)
	}
	probe := `data:text/html,<title>off</title><script>document.title="on"</script>`
	if err := chromedp.Do(ctx, chromedp.Navigate(probe)); err != nil {
		t.Fatalf("JavaScript probe: %v", err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "off" {
		t.Fatalf("JavaScript still runs: probe page titled %q (%v)", title, err)
	}
}

// TestHandInWithoutJavaScript logs in, hands in a file and returns a mark
// with page scripts disabled: every page is a plain HTML form. Fields are
// filled with key events and DevTools calls, never with page script.
func TestHandInWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e := start(t)
	file := newHandIn(t, "copie.txt", "Exercice 1 : 7/8\n")
	var subID string

	ok := t.Run("pupil", func(t *testing.T) {
		ctx := e.session(t)
		noScript(t, ctx)
		french(t, ctx)
		e.login(t, ctx, "eleve")
		follow(t, ctx, dmOnHome)
		if err := chromedp.Do(ctx,
			chromedp.SetUploadFiles(chromedp.ID("files"), []string{file.Path}),
			chromedp.SendKeys(chromedp.ID("text"), "Sans JavaScript."),
		); err != nil {
			t.Fatalf("filling the hand-in form: %v", err)
		}
		follow(t, ctx, chromedp.Search(`//section[@aria-labelledby="handin-h"]//button[@type="submit"]`))
		subID = lastID(t, ctx, "/submissions/")
		contains(t, "receipt", text(t, ctx, chromedp.CSS("main")),
			"Votre travail a bien été reçu et enregistré.", file.Name, file.SHA256, "Sans JavaScript.", "Télécharger le reçu")
	})
	if !ok {
		return
	}

	t.Run("teacher", func(t *testing.T) {
		ctx := e.session(t)
		noScript(t, ctx)
		french(t, ctx)
		e.login(t, ctx, "prof")
		follow(t, ctx, dmOnHome)
		follow(t, ctx, chromedp.Search(`//a[normalize-space()="Voir les rendus"]`))
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("fb-"+subID), "Bien."),
			chromedp.SendKeys(chromedp.ID("mark-"+subID), "15"),
		); err != nil {
			t.Fatalf("filling the feedback form: %v", err)
		}
		follow(t, ctx, chromedp.CSS("#sub-"+subID+" form.feedback button[type=submit]"))
		contains(t, "confirmation", text(t, ctx, chromedp.CSS("main .flash")), "Retour enregistré.")

		follow(t, ctx, chromedp.CSS(`#sub-`+subID+` a[href="/submissions/`+subID+`"]`))
		if got := text(t, ctx, chromedp.CSS("#fb-h + p .mark")); got != "15 / 20" {
			t.Errorf("mark %q, want %q", got, "15 / 20")
		}
	})
}
