package shield

import (
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func entry(indicator, prefix string, expires time.Time) BlockEntry {
	p := netip.MustParsePrefix(prefix)
	return BlockEntry{ID: BlockEntryID(indicator, p), Prefix: p, Expires: expires, Partner: "CERT test",
		File: "bundle.json", Indicator: indicator, Confidence: 80}
}

func TestBlocklistBlocksUntilExpiryAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocklist.json")
	b, err := OpenBlocklist(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if b.Blocks(netip.MustParseAddr("203.0.113.7"), now) {
		t.Fatal("an empty list blocks")
	}
	err = b.Add([]BlockEntry{
		entry("indicator--a", "203.0.113.0/24", now.Add(time.Hour)),
		entry("indicator--b", "2001:db8::/32", now.Add(2*time.Hour)),
		entry("indicator--c", "198.51.100.7/32", now.Add(-time.Minute)), // already expired
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"203.0.113.7": true, "::ffff:203.0.113.200": true, "203.0.114.1": false,
		"2001:db8:1::5": true, "2001:db9::1": false, "198.51.100.7": false,
	} {
		if got := b.Blocks(netip.MustParseAddr(addr), now); got != want {
			t.Errorf("Blocks(%s) = %v, want %v", addr, got, want)
		}
	}
	if b.Blocks(netip.MustParseAddr("203.0.113.7"), now.Add(time.Hour)) {
		t.Error("an entry still blocks at its expiry")
	}
	if !b.Blocks(netip.MustParseAddr("2001:db8::1"), now.Add(time.Hour)) {
		t.Error("the other entry stopped blocking")
	}
	if got := b.Entries(now.Add(90 * time.Minute)); len(got) != 1 || got[0].Indicator != "indicator--b" {
		t.Errorf("entries after the first expiry: %+v", got)
	}

	// Importing the same indicator again replaces its entry.
	if err := b.Add([]BlockEntry{entry("indicator--a", "203.0.113.0/24", now.Add(24*time.Hour))}, now); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Entries(now)); n != 2 {
		t.Errorf("%d entries after re-importing one, want 2", n)
	}

	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("list file: %v %v", st, err)
	}
	again, err := OpenBlocklist(path)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Blocks(netip.MustParseAddr("203.0.113.7"), now.Add(2*time.Hour)) {
		t.Error("the list read back from disk lost an entry or its new expiry")
	}

	id := BlockEntryID("indicator--a", netip.MustParsePrefix("203.0.113.0/24"))
	if removed, err := again.Remove(id); err != nil || removed.Prefix.String() != "203.0.113.0/24" {
		t.Fatalf("Remove = %+v, %v", removed, err)
	}
	if _, err := again.Remove(id); !errors.Is(err, ErrBlockNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	third, err := OpenBlocklist(path)
	if err != nil {
		t.Fatal(err)
	}
	if third.Blocks(netip.MustParseAddr("203.0.113.7"), now) {
		t.Error("a removed entry came back from disk")
	}
}

func TestBlocklistFileErrorsAreReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocklist.json")
	os.WriteFile(path, []byte(`{"entries": [{"id": "x", "prefix": "not a prefix"}]}`), 0o600)
	if _, err := OpenBlocklist(path); err == nil {
		t.Error("a damaged list was accepted")
	}
}

// The partners' list refuses anonymous visitors and pass holders; a
// signed-in user and an allowlisted network behind a listed address are
// served (a school's NAT may be in a partner's list).
func TestShieldBlocklistSparesSignedInUsers(t *testing.T) {
	bl, err := OpenBlocklist(filepath.Join(t.TempDir(), "blocklist.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bl.Add([]BlockEntry{entry("indicator--a", "127.0.0.0/8", time.Now().Add(time.Hour))}, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, back, srv := newShield(t, Config{Blocklist: bl})
	get := func(cookie string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "preau_session", Value: cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != http.StatusForbidden {
		t.Errorf("anonymous visitor from a listed network: %d, want 403", code)
	}
	if code := get("forged-token"); code != http.StatusForbidden {
		t.Errorf("forged session token from a listed network: %d, want 403", code)
	}
	if code := get("student-token"); code != http.StatusOK {
		t.Errorf("signed-in student from a listed network: %d, want 200", code)
	}
	if back.hits.Load() != 1 {
		t.Errorf("%d requests reached the application, want 1", back.hits.Load())
	}

	_, _, allowed := newShield(t, Config{Blocklist: bl, Allowlist: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	resp, err := http.Get(allowed.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("allowlisted network in a partner's list: %d, want 200", resp.StatusCode)
	}
}
