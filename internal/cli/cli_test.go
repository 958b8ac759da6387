package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the command line in-process and returns exit code and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, nil)
	return code, out.String(), errb.String()
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := run(t, "", "version"); code != 0 || !strings.HasPrefix(out, "preau ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := run(t, "", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, "", "serve", "--addr", "nope", "--max-upload", "huge"); code != 2 ||
		!strings.Contains(errOut, "--addr") || !strings.Contains(errOut, "--max-upload") {
		t.Errorf("bad config: %d %q", code, errOut)
	}
}

// fast argon2 parameters keep these tests quick; the parameters are real
// flags, so this also checks they are honoured.
var fast = []string{"--argon2-memory", "64", "--argon2-time", "1", "--log-level", "error"}

func TestAdminCommandsBuildASchool(t *testing.T) {
	data := t.TempDir()
	flags := append([]string{"--data", data}, fast...)
	if code, _, errOut := run(t, "", append([]string{"user", "add", "--login", "xy", "--name", "X", "--role", "admin"}, flags...)...); code != 2 || !strings.Contains(errOut, "no school") {
		t.Errorf("user add without a school: %d %q", code, errOut)
	}
	if code, out, errOut := run(t, "", append([]string{"school", "add", "--name", "Collège Test"}, flags...)...); code != 0 || !strings.Contains(out, "school 1") {
		t.Fatalf("school add: %d %q %q", code, out, errOut)
	}
	code, out, errOut := run(t, "motdepasse-solide\n", append([]string{"user", "add", "--login", "Direction", "--name", "La direction", "--role", "admin"}, flags...)...)
	if code != 0 || !strings.Contains(out, "direction (admin)") || strings.Contains(out, "initial password") {
		t.Fatalf("user add: %d %q %q", code, out, errOut)
	}
	if code, _, _ := run(t, "", append([]string{"user", "add", "--login", "direction", "--name", "Again", "--role", "admin"}, flags...)...); code != 1 {
		t.Errorf("duplicate login: exit %d, want 1", code)
	}
	users := filepath.Join(t.TempDir(), "users.csv")
	os.WriteFile(users, []byte("rôle;identifiant;nom;classe;groupes;enfants;enseigne\n"+
		"élève;lea;Léa Martin;3e B;Latin;;\n"+
		"responsable;p.lea;Paul Martin;;;lea;\n"+
		"prof;durand;Marie Durand;;;;3e B:Maths|Latin:Latin\n"), 0o600)
	code, out, errOut = run(t, "", append([]string{"import", "users", users}, flags...)...)
	if code != 0 || !strings.Contains(out, "3 row(s), no problem") {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	code, out, errOut = run(t, "", append([]string{"import", "users", users, "--apply"}, flags...)...)
	if code != 0 || !strings.Contains(out, "3 account(s) created") || strings.Count(out, "\n") < 5 {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	tt := filepath.Join(t.TempDir(), "tt.csv")
	os.WriteFile(tt, []byte("classe;jour;début;fin;matière;enseignant\n3e B;lundi;8h;9h;Maths;durand\n3e B;mardi;9h;8h;Maths;nobody\n"), 0o600)
	code, out, _ = run(t, "", append([]string{"import", "timetable", tt, "--apply"}, flags...)...)
	if code != 1 || !strings.Contains(out, "line 3") || !strings.Contains(out, "nothing imported") {
		t.Errorf("bad timetable: %d %q", code, out)
	}
}
