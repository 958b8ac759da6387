package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPartnersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "partners.json")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"partners": [{"name": "cert", "key_sha256": "` + KeyHash("secret key") + `", "max_tlp": "AMBER"}]}`)
	ps, err := loadPartners(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Name != "cert" || ps[0].MaxTLP != "amber" || len(ps[0].Collections) != 1 || ps[0].Collections[0] != TAXIICollection {
		t.Errorf("partners = %+v", ps)
	}
	if got := KeyHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("KeyHash(abc) = %s, want the hex SHA-256", got)
	}

	for _, c := range []struct{ file, want string }{
		{`{"partners": [{"name": "cert", "key": "in clear", "max_tlp": "amber"}]}`, `unknown field "key"`},
		{`{"partners": [{"name": "a", "key_sha256": "abc", "max_tlp": "amber"}, {"name": "b", "key_sha256": "zz", "max_tlp": "amber"}]}`, `partner 2 ("b")`},
		{`{"partners": []}`, "no partner"},
		{`not json`, "invalid character"},
	} {
		write(c.file)
		if _, err := loadPartners(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.file, err, c.want)
		}
	}
}
