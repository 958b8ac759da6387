package web

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"preau/internal/i18n"
)

// TestLiveStringsCoverLiveJS: every message key the room's script names
// (t('…'), setStatus('…'), end('…')) is among the strings the page hands
// it, and every one of those is in every language. A key missing from
// liveStrings shows as the raw key on the page (it happened to nobody
// yet; the refusal of a locked room added one). A key ending in '.' is a
// family completed at run time (role., media., reaction.): some key of
// the family must be there.
func TestLiveStringsCoverLiveJS(t *testing.T) {
	js, err := staticFiles.ReadFile("static/live.js")
	if err != nil {
		t.Fatal(err)
	}
	handed := map[string]bool{}
	for _, k := range liveStrings {
		handed[strings.TrimPrefix(k, "live.")] = true
		for _, lang := range i18n.Languages {
			if !slices.Contains(i18n.Keys(lang), k) {
				t.Errorf("%s is handed to live.js but has no %s text", k, lang)
			}
		}
	}
	re := regexp.MustCompile(`\b(?:t|setStatus|end)\('([a-z_.]+)'`)
	found := 0
	for _, m := range re.FindAllStringSubmatch(string(js), -1) {
		key := m[1]
		found++
		if strings.HasSuffix(key, ".") {
			family := false
			for k := range handed {
				family = family || strings.HasPrefix(k, key)
			}
			if !family {
				t.Errorf("live.js completes keys of %q at run time, but the page hands it none", "live."+key)
			}
			continue
		}
		if !handed[key] {
			t.Errorf("live.js shows %q, which the page does not hand it (add it to liveStrings)", "live."+key)
		}
	}
	if found < 20 {
		t.Fatalf("found only %d message keys in live.js: has the script's t() changed?", found)
	}
	if !handed["status.locked"] {
		t.Error("the status of a pupil refused by a locked room is not handed to live.js")
	}
}
