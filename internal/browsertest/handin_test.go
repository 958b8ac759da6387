package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// dmOnHome is the maths DM's link in the home page's "Pour aujourd'hui" list
// (the list right after its heading, not the "Les prochains jours" one).
var dmOnHome = chromedp.Search(fmt.Sprintf(`//h2[@id="hw-h"]/following-sibling::*[1][self::ul]//a[contains(., %q)]`, dmTitle))

// TestHandInJourney is the hand-in story end to end, each person in a
// browser context of their own: the pupil hands in a file and keeps the
// receipt, the teacher returns a mark, the parent reads it.
func TestHandInJourney(t *testing.T) {
	t.Parallel()
	e := start(t)
	file := newHandIn(t, "copie-dm3-léa.txt", "Exercice 1 : 3/4 + 1/8 = 7/8\nExercice 2 : 2/3 × 3/5 = 2/5\n")
	const feedback = "Très bon travail, Léa. Pense à simplifier le résultat de l'exercice 2."
	var entryID, subID string

	ok := t.Run("pupil hands in", func(t *testing.T) {
		ctx := e.session(t)
		french(t, ctx)
		e.login(t, ctx, "eleve")

		if got := text(t, ctx, chromedp.ID("hw-h")); got != "Pour aujourd'hui" {
			t.Errorf("home: homework heading %q, want %q", got, "Pour aujourd'hui")
		}
		today := text(t, ctx, chromedp.Search(`//h2[@id="hw-h"]/following-sibling::*[1]`))
		contains(t, "home, due today", today, dmTitle)
		later := text(t, ctx, chromedp.Search(`//section[@aria-labelledby="hw-h"]/h3`))
		if later != "Les prochains jours" {
			t.Errorf("home: second list %q, want %q", later, "Les prochains jours")
		}

		follow(t, ctx, dmOnHome)
		entryID = lastID(t, ctx, "/homework/")
		contains(t, "homework page", text(t, ctx, chromedp.CSS("h1")), dmTitle)
		contains(t, "homework page", text(t, ctx, chromedp.ID("handin-h")), "Rendre mon travail")

		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("files"), []string{file.Path})); err != nil {
			t.Fatalf("choosing the file: %v", err)
		}
		follow(t, ctx, chromedp.Search(`//section[@aria-labelledby="handin-h"]//button[@type="submit"]`))

		subID = lastID(t, ctx, "/submissions/")
		if p := path(t, ctx); !strings.HasSuffix(p, "?new=1") {
			t.Errorf("receipt at %s, want ?new=1", p)
		}
		contains(t, "receipt", text(t, ctx, chromedp.CSS("main .flash")), "Votre travail a bien été reçu et enregistré.")
		contains(t, "receipt", text(t, ctx, chromedp.ID("receipt-h")), "Reçu n° "+subID)
		contains(t, "receipt", text(t, ctx, chromedp.CSS(".receipt .meta")), studentName, dmTitle)
		files := text(t, ctx, chromedp.CSS(".receipt table.files"))
		contains(t, "receipt files", files, file.Name, file.SHA256)
		if got := text(t, ctx, chromedp.CSS(".receipt table.files code.hash")); got != file.SHA256 {
			t.Errorf("receipt: SHA-256 %q, want %q", got, file.SHA256)
		}

		link := chromedp.Search(`//a[normalize-space()="Télécharger le reçu"]`)
		href := attr(t, ctx, link, "href")
		if want := "/submissions/" + subID + "/receipt.txt"; href != want {
			t.Errorf("receipt link to %q, want %q", href, want)
		}
		contains(t, "downloaded receipt", fetchText(t, ctx, href),
			fmt.Sprintf("file: %s %d %s\n", file.SHA256, len(file.Content), file.Name))

		screenshot(t, ctx, "receipt-1280")
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(412, 915, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "receipt-412")
	})
	if !ok {
		return
	}

	ok = t.Run("teacher returns a mark", func(t *testing.T) {
		ctx := e.session(t)
		french(t, ctx)
		e.login(t, ctx, "prof")

		follow(t, ctx, dmOnHome)
		if got := lastID(t, ctx, "/homework/"); got != entryID {
			t.Fatalf("teacher's home links to homework %s, the pupil's to %s", got, entryID)
		}
		follow(t, ctx, chromedp.Search(`//a[normalize-space()="Voir les rendus"]`))
		if p, want := path(t, ctx), "/homework/"+entryID+"/submissions"; p != want {
			t.Fatalf("at %s, want %s", p, want)
		}

		sub := fmt.Sprintf("#sub-%s", subID)
		if got := text(t, ctx, chromedp.CSS(sub+" h2")); got != studentName {
			t.Errorf("hand-in %s is by %q, want %q", subID, got, studentName)
		}
		contains(t, "teacher's view of the hand-in", text(t, ctx, chromedp.CSS(sub)), file.Name, "Reçu n° "+subID)
		fileLink := attr(t, ctx, chromedp.CSS(sub+" ul.files a"), "href")
		if want := "/submissions/" + subID + "/files/" + file.SHA256; fileLink != want {
			t.Errorf("file link %q, want %q", fileLink, want)
		}
		if got := fetchText(t, ctx, fileLink); got != file.Content {
			t.Errorf("the teacher downloads %q, the pupil sent %q", got, file.Content)
		}

		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("fb-"+subID), feedback),
			chromedp.SendKeys(chromedp.ID("mark-"+subID), "16"),
			chromedp.Clear(chromedp.ID("outof-"+subID)),
			chromedp.SendKeys(chromedp.ID("outof-"+subID), "20"),
		); err != nil {
			t.Fatalf("filling the feedback form: %v", err)
		}
		follow(t, ctx, chromedp.CSS(sub+" form.feedback button[type=submit]"))

		if p, want := path(t, ctx), "/homework/"+entryID+"/submissions?ok=feedback"; p != want {
			t.Errorf("after sending the feedback: at %s, want %s", p, want)
		}
		contains(t, "confirmation", text(t, ctx, chromedp.CSS("main .flash")), "Retour enregistré.")
		if got, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("fb-"+subID))); err != nil || got != feedback {
			t.Errorf("feedback shown back: %q, %v; want %q", got, err, feedback)
		}
		if got, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("mark-"+subID))); err != nil || got != "16" {
			t.Errorf("mark shown back: %q, %v; want 16", got, err)
		}
	})
	if !ok {
		return
	}

	t.Run("parent reads the mark", func(t *testing.T) {
		ctx := e.session(t)
		french(t, ctx)
		e.login(t, ctx, "parent")

		child := fmt.Sprintf(`//section[h2[normalize-space()=%q]]`, studentName)
		contains(t, "parent's home", text(t, ctx, chromedp.Search(child)), "Travail des prochains jours", dmTitle)
		follow(t, ctx, chromedp.Search(fmt.Sprintf(`%s//a[contains(., %q)]`, child, dmTitle)))
		if got := lastID(t, ctx, "/homework/"); got != entryID {
			t.Fatalf("parent's home links to homework %s, want %s", got, entryID)
		}
		mine := text(t, ctx, chromedp.CSS(`section[aria-labelledby="subs-h"]`))
		contains(t, "parent's hand-in list", mine, "Reçu n° "+subID, "Corrigé", "16 / 20")
		if n := count(t, ctx, "#files"); n != 0 {
			t.Errorf("the parent is offered the hand-in form")
		}

		follow(t, ctx, chromedp.CSS(fmt.Sprintf(`section[aria-labelledby="subs-h"] a[href="/submissions/%s"]`, subID)))
		if got := text(t, ctx, chromedp.CSS("#fb-h + p .mark")); got != "16 / 20" {
			t.Errorf("mark %q, want %q", got, "16 / 20")
		}
		contains(t, "feedback", text(t, ctx, chromedp.CSS(`section[aria-labelledby="fb-h"]`)), feedback, "Rendu le ")
		contains(t, "parent's receipt", text(t, ctx, chromedp.CSS(".receipt")), file.Name, file.SHA256)
		if n := count(t, ctx, "form.feedback"); n != 0 {
			t.Errorf("the parent is offered the teacher's feedback form")
		}
	})
}

// count is the number of elements matching a CSS selector.
func count(t *testing.T, ctx context.Context, css string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, css)))
	if err != nil {
		t.Fatalf("counting %s: %v", css, err)
	}
	return n
}
