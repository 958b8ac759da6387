package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, finish := Flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, finish()
}

func TestDefaults(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.BaseURL != "http://127.0.0.1:8080" || c.MaxUploadBytes != 20<<20 {
		t.Errorf("defaults = %+v", c)
	}
	if c.Argon2.Memory != 19456 || c.Argon2.Time != 2 || c.Argon2.Threads != 1 {
		t.Errorf("argon2 defaults = %+v, want OWASP m=19456 t=2 p=1", c.Argon2)
	}
}

func TestEnvironmentFillsFlagsNotGiven(t *testing.T) {
	t.Setenv("PREAU_ADDR", "127.0.0.1:9999")
	t.Setenv("PREAU_MAX_UPLOAD", "5MiB")
	t.Setenv("PREAU_TIMEZONE", "America/Cayenne")
	c, err := parse(t, "--addr", "127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" {
		t.Errorf("flag should win over env: %s", c.Addr)
	}
	if c.MaxUploadBytes != 5<<20 || c.Timezone != "America/Cayenne" {
		t.Errorf("env not applied: %+v", c)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := parse(t, "--addr", "nope", "--max-upload", "lots", "--timezone", "Mars/Olympus", "--log-level", "loud", "--argon2-time", "0", "--size", "3x")
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"--addr", "--max-upload", "--timezone", "--log-level", "argon2", "--size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"20MiB": 20 << 20, "512KiB": 512 << 10, "1GB": 1e9, "100": 100, " 2 MiB ": 2 << 20} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "abc", "1TiB", "99999999999GiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
}

func TestConfigFileUnderEnvironmentAndFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "preau.conf")
	os.WriteFile(file, []byte(`# lockdown morning settings
addr = 127.0.0.1:9000
max-upload = 8MiB
allowlist = "192.0.2.0/24, 198.51.100.7"
close-profiles = parent=07:30-17:30
timezone = Indian/Reunion
`), 0o600)
	t.Setenv("PREAU_TIMEZONE", "Europe/Paris")
	c, err := parse(t, "--config", file, "--max-upload", "1MiB")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.CloseProfiles != "parent=07:30-17:30" || len(c.Allowlist) != 2 {
		t.Errorf("file not applied: %+v", c)
	}
	if c.MaxUploadBytes != 1<<20 {
		t.Errorf("flag should win over the file: %d", c.MaxUploadBytes)
	}
	if c.Timezone != "Europe/Paris" {
		t.Errorf("environment should win over the file: %s", c.Timezone)
	}
	os.WriteFile(file, []byte("nonsense\nmax-uplaod = 3MiB\nmax-files = many\n"), 0o600)
	_, err = parse(t, "--config", file)
	for _, want := range []string{":1: want name = value", `:2: unknown setting "max-uplaod"`, ":3: max-files"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

func TestEvidenceSettings(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Evidence || c.EvidenceDir != "" || c.EvidenceSampleEvery != 20 || len(c.EvidenceRetention) != 0 ||
		c.TAXIITLP != "amber" || c.BlocklistTTL != 7*24*time.Hour || c.Operators != nil {
		t.Errorf("evidence defaults = %+v", c)
	}
	c, err = parse(t, "--evidence-retention", "requests=30d, events=8760h", "--operators", "direction, cpe ,",
		"--taxii-tlp", "GREEN", "--evidence-sample-every", "5")
	if err != nil {
		t.Fatal(err)
	}
	if c.EvidenceRetention["requests"] != 30*24*time.Hour || c.EvidenceRetention["events"] != 8760*time.Hour || len(c.EvidenceRetention) != 2 {
		t.Errorf("retention = %v", c.EvidenceRetention)
	}
	if len(c.Operators) != 2 || c.Operators[0] != "direction" || c.Operators[1] != "cpe" || c.TAXIITLP != "green" || c.EvidenceSampleEvery != 5 {
		t.Errorf("settings = %+v", c)
	}
	_, err = parse(t, "--evidence-retention", "logs=30d,requests=-2d,sources=soon", "--taxii-tlp", "purple",
		"--evidence-sample-every", "0", "--blocklist-ttl", "0s", "--taxii-partners", "p.json", "--evidence=false")
	for _, want := range []string{`"logs=30d"`, "requests:", "sources:", "--taxii-tlp", "--evidence-sample-every", "--blocklist-ttl", "--taxii-partners needs --evidence"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
