package i18n

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"preau/internal/csvimport"
)

func TestEveryKeyInEveryLanguage(t *testing.T) {
	for _, a := range Languages {
		for _, b := range Languages {
			for _, k := range Keys(a) {
				if _, ok := catalogs[b][k]; !ok {
					t.Errorf("key %q is in %s but not in %s", k, a, b)
				}
			}
		}
	}
}

func TestPlaceholdersMatchAcrossLanguages(t *testing.T) {
	verbs := regexp.MustCompile(`%[dvsf]`)
	for _, k := range Keys(Default) {
		want := verbs.FindAllString(catalogs[Default][k], -1)
		for _, lang := range Languages {
			got := verbs.FindAllString(catalogs[lang][k], -1)
			if strings.Join(got, "") != strings.Join(want, "") {
				t.Errorf("%s %q has placeholders %v, %s has %v", lang, k, got, Default, want)
			}
		}
	}
}

// TestKeysUsedAreDefined reads the templates and Go sources for keys, so a
// typo in a template shows up here and not as a raw key on a page.
func TestKeysUsedAreDefined(t *testing.T) {
	root := filepath.Join("..")
	tmplRE := regexp.MustCompile(`\{\{t "([a-z_.]+)"|\(t "([a-z_.]+)"`)
	goRE := regexp.MustCompile(`"((?:err|flash|live\.err)\.[a-z_]+)"`)
	used := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// The shield's pages carry their own small catalogs (they must
		// render under a flood without the application), tested there.
		if d.IsDir() && d.Name() == "shield" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".html"):
			for _, m := range tmplRE.FindAllStringSubmatch(string(b), -1) {
				used[m[1]+m[2]] = path
			}
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			for _, m := range goRE.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range csvimport.Keys {
		used[k] = "csvimport.Keys"
	}
	for _, r := range []string{"student", "parent", "teacher", "admin"} {
		used["role."+r] = "roles"
	}
	var missing []string
	for k, where := range used {
		if _, ok := catalogs[Default][k]; !ok {
			missing = append(missing, k+" (used in "+where+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Error("undefined key:", m)
	}
	if len(used) < 100 {
		t.Errorf("found only %d keys in use: the scan is broken", len(used))
	}
}

func TestMatchHonoursQValues(t *testing.T) {
	for header, want := range map[string]string{
		"":                        "fr",
		"en-US,en;q=0.9":          "en",
		"fr-FR,fr;q=0.9,en;q=0.8": "fr",
		"de-DE,en;q=0.5,fr;q=0.7": "fr",
		"de, en;q=0.1":            "en",
		"xx;q=abc, en;q=0.3":      "en",
		"EN":                      "en",
	} {
		if got := Match(header); got != want {
			t.Errorf("Match(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestDates(t *testing.T) {
	d := time.Date(2026, 11, 26, 8, 5, 0, 0, time.UTC)
	if got := DateTime("fr", d); got != "jeudi 26 novembre à 08:05" {
		t.Errorf("fr = %q", got)
	}
	if got := DateTime("en", d); got != "Thursday 26 November at 08:05" {
		t.Errorf("en = %q", got)
	}
	if got := T("xx", "nav.home"); got != "Accueil" {
		t.Errorf("unknown language should fall back to French, got %q", got)
	}
}

func TestPlurals(t *testing.T) {
	for _, c := range []struct {
		lang string
		n    int
		want string
	}{
		{"fr", 0, "0 message non lu"}, {"fr", 1, "1 message non lu"}, {"fr", 2, "2 messages non lus"},
		{"en", 0, "0 unread messages"}, {"en", 1, "1 unread message"}, {"en", 3, "3 unread messages"},
	} {
		if got := T(c.lang, "home.unread", c.n); got != c.want {
			t.Errorf("T(%s, home.unread, %d) = %q, want %q", c.lang, c.n, got, c.want)
		}
	}
}
