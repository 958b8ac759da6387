package liveclass

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryErrorKeyIsListed keeps i18n_keys.md, which the i18n catalogues
// are filled from, in step with the keys the code uses, and checks that
// each listed text uses as many verbs as its key is given arguments.
func TestEveryErrorKeyIsListed(t *testing.T) {
	doc, err := os.ReadFile("i18n_keys.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for line := range strings.Lines(string(doc)) {
		if cells := strings.Split(line, "|"); len(cells) == 7 && strings.HasPrefix(strings.TrimSpace(cells[1]), "live.err.") {
			listed[strings.TrimSpace(cells[1])] = line
		}
	}
	if len(listed) < 40 {
		t.Fatalf("only %d keys read from i18n_keys.md: is the table's layout changed?", len(listed))
	}
	key := regexp.MustCompile(`"(live\.err\.[a-z_]+)"`)
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("signal/*.go")
	for _, name := range append(files, more...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(src), -1) {
			if _, ok := listed[m[1]]; !ok {
				t.Errorf("%s: key %s is not in i18n_keys.md", name, m[1])
			}
		}
	}
	for k, line := range listed {
		cells := strings.Split(line, "|")
		args := strings.Count(cells[3], "%d")
		if fr, en := strings.Count(cells[4], "%"), strings.Count(cells[5], "%"); fr != args || en != args {
			t.Errorf("%s: %d arguments, %d verbs in French, %d in English", k, args, fr, en)
		}
	}
}
