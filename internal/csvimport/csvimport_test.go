package csvimport

import (
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"preau/internal/domain"
)

func TestTooLarge(t *testing.T) {
	for _, parse := range parsers {
		in := goodUsers
		if _, _, err := parse(strings.NewReader(in), int64(len(in))); err != nil {
			t.Errorf("exactly maxBytes: %v", err)
		}
		_, rep, err := parse(strings.NewReader(in), int64(len(in)-1))
		if !errors.Is(err, domain.ErrTooLarge) || domain.ErrorCode(err) != domain.CodeTooLarge {
			t.Errorf("one byte over: err %v, want ErrTooLarge", err)
		}
		if rep.Rows != 0 || rep.Problems != nil {
			t.Errorf("report with the error: %#v", rep)
		}
		if _, _, err := parse(strings.NewReader("x"), -1); !errors.Is(err, domain.ErrTooLarge) {
			t.Errorf("negative maxBytes: err %v, want ErrTooLarge", err)
		}
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, parse := range parsers {
		r := io.MultiReader(strings.NewReader(goodUsers), iotest.ErrReader(boom))
		if _, _, err := parse(r, big); !errors.Is(err, boom) || !strings.Contains(err.Error(), "csvimport") {
			t.Errorf("err %v, want it wrapping boom", err)
		}
		// The error comes while checking for a byte past the limit.
		r = io.MultiReader(strings.NewReader(goodUsers), iotest.ErrReader(boom))
		if _, _, err := parse(r, int64(len(goodUsers))); !errors.Is(err, boom) {
			t.Errorf("at the limit: err %v, want it wrapping boom", err)
		}
	}
}

// parsers runs both parsers, ignoring their rows.
var parsers = map[string]func(io.Reader, int64) (int, Report, error){
	"users": func(r io.Reader, n int64) (int, Report, error) {
		u, rep, err := ParseUsers(r, n)
		return len(u), rep, err
	},
	"timetable": func(r io.Reader, n int64) (int, Report, error) {
		s, rep, err := ParseTimetable(r, n)
		return len(s), rep, err
	},
}

func TestMaxRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("class;day;start;end;subject\n")
	for range maxRows {
		b.WriteString("3e;1;8h;9h;M\n")
	}
	slots, rep, err := ParseTimetable(strings.NewReader(b.String()), 1<<30)
	if err != nil || !rep.OK() || len(slots) != maxRows || rep.Rows != maxRows {
		t.Fatalf("%d rows: got %d slots, Rows %d, err %v, problems\n%s", maxRows, len(slots), rep.Rows, err, show(rep.Problems))
	}
	b.WriteString("\n3e;1;8h;9h;M\n3e;1;8h;9h;M\n")
	slots, rep, err = ParseTimetable(strings.NewReader(b.String()), 1<<30)
	want := []Problem{p(maxRows+3, "", keyTooManyRows, maxRows)}
	if err != nil || slots != nil || rep.Rows != maxRows || !reflect.DeepEqual(rep.Problems, want) {
		t.Errorf("one row more: got %d slots, Rows %d, err %v, problems\n%s", len(slots), rep.Rows, err, show(rep.Problems))
	}
}

// TestKeysCovered checks that every key in Keys is produced by some bad
// file of the tests, and that no test expects a key missing from Keys.
func TestKeysCovered(t *testing.T) {
	seen := map[string]bool{keyTooManyRows: true} // TestMaxRows
	for _, tt := range badUsers {
		for _, p := range tt.want {
			seen[p.Key] = true
		}
	}
	for _, tt := range badSlots {
		for _, p := range tt.want {
			seen[p.Key] = true
		}
	}
	for _, k := range Keys {
		if !seen[k] {
			t.Errorf("no test produces %s", k)
		}
		delete(seen, k)
	}
	for k := range seen {
		t.Errorf("%s is not in Keys", k)
	}
}

func TestDecodeWindows1252(t *testing.T) {
	in := "\x80\x81\x8c\x92\x9c\x9f\xa0\xc9\xe9\xff AZ"
	want := "€\u0081Œ’œŸ\u00a0Éé\u00ff AZ"
	if got := decodeWindows1252([]byte(in)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDelimiter(t *testing.T) {
	for in, want := range map[string]rune{
		"a;b;c\n1,2,3,4,5": ';', "a,b;c,d": ',', "\n\na,b\n;;;": ',', "a;b,c": ';', "": ';', "abc": ';',
		";;\n , \n\ta,b;c,d\n": ',', "\n\n;a;b,c\n": ';',
	} {
		if got := delimiter(in); got != want {
			t.Errorf("delimiter(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		" Rôle ": "role", "ÉLÈVE": "eleve", "Matière": "matiere", "Début": "debut", "Français": "francais", "ÂÄÀÎÏÔÖÙÛÜÇÊË": "aaaiioouuucee",
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDocExamples checks that the examples of the package documentation,
// which the README repeats, import without problems.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	lines := strings.Split(string(doc), "\n")
	for i, line := range lines {
		if !strings.HasSuffix(line, "Example:") {
			continue
		}
		var b strings.Builder
		for _, l := range lines[i+2:] {
			text, ok := strings.CutPrefix(l, "//\t")
			if !ok {
				break
			}
			b.WriteString(text + "\n")
		}
		examples = append(examples, b.String())
	}
	if len(examples) != 2 {
		t.Fatalf("found %d examples, want 2", len(examples))
	}
	users, rep, err := ParseUsers(strings.NewReader(examples[0]), big)
	if err != nil || !rep.OK() || len(users) != 4 {
		t.Errorf("users example: %d users, err %v, problems\n%s", len(users), err, show(rep.Problems))
	}
	slots, rep, err := ParseTimetable(strings.NewReader(examples[1]), big)
	if err != nil || !rep.OK() || len(slots) != 2 {
		t.Errorf("timetable example: %d slots, err %v, problems\n%s", len(slots), err, show(rep.Problems))
	}
}
