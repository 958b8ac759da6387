package journal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestKeyFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evidence")
	j := mustOpen(t, dir)
	vkey := j.VerifierKey()
	for name, want := range map[string]os.FileMode{"": 0o700, "signing.key": 0o600, "signing.pub": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", filepath.Join(dir, name), got, want)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "signing.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(pub)) != vkey {
		t.Fatalf("signing.pub = %q, want %q", pub, vkey)
	}
	j.Close()

	j = mustOpen(t, dir)
	if j.VerifierKey() != vkey {
		t.Fatal("reopening generated a new key")
	}
	j.Close()

	if err := os.Chmod(filepath.Join(dir, "signing.key"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, testOptions())
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Open with a group-readable key = %v, want a refusal", err)
	}
}

func TestKeyMissingWhileDataExists(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	mustAppendN(t, j, 1)
	j.Close()
	if err := os.Remove(filepath.Join(dir, "signing.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, testOptions()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Open without its key = %v, want a refusal", err)
	}
}

func TestOrigin(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions()
	opt.Origin = ""
	j, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if want := "preau.evidence/" + host; j.Origin() != want {
		t.Fatalf("default origin %q, want %q", j.Origin(), want)
	}
	j.Close()

	opt.Origin = "renamed.example/log"
	if _, err := Open(dir, opt); err == nil {
		t.Fatal("Open with another origin than the key's succeeded")
	}
	opt.Origin = "has space"
	if _, err := Open(t.TempDir(), opt); err == nil {
		t.Fatal("Open with an origin containing a space succeeded")
	}
}

// TestKeyForms checks that the note verifier key, PublicKey, the PEM export
// and Sign are all the same Ed25519 key.
func TestKeyForms(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	block, rest := pem.Decode(j.PublicKeyPEM())
	if block == nil || block.Type != "PUBLIC KEY" || len(rest) != 0 {
		t.Fatalf("PublicKeyPEM = %q", j.PublicKeyPEM())
	}
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, ok := parsed.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("PEM holds a %T", parsed)
	}
	if !pemKey.Equal(j.PublicKey()) {
		t.Fatal("PEM key and PublicKey differ")
	}

	msg := []byte("MANIFEST\nrecords.jsonl sha256 0123\n")
	sig := j.Sign(msg)
	if !ed25519.Verify(pemKey, msg, sig) {
		t.Fatal("Sign's signature does not verify with the PEM key")
	}
	if ed25519.Verify(pemKey, append(msg, 'x'), sig) {
		t.Fatal("signature verifies for another message")
	}

	vkey, err := note.NewEd25519VerifierKey(j.Origin(), pemKey)
	if err != nil {
		t.Fatal(err)
	}
	if vkey != j.VerifierKey() {
		t.Fatalf("verifier key from the PEM key %q, journal says %q", vkey, j.VerifierKey())
	}
	cp, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCheckpoint(cp.Signed, vkey); err != nil {
		t.Fatalf("checkpoint does not verify with the PEM key: %v", err)
	}
}

// TestSignWithOpenSSL runs the check the package documentation promises
// investigators.
func TestSignWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	j := mustOpen(t, t.TempDir())
	dir := t.TempDir()
	msg := []byte("MANIFEST for export 42\n")
	files := map[string][]byte{"pub.pem": j.PublicKeyPEM(), "msg": msg, "sig": j.Sign(msg), "other": []byte("forged\n")}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(in string) error {
		cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", in, "-sigfile", "sig")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("openssl: %s", bytes.TrimSpace(out))
		}
		return err
	}
	if err := verify("msg"); err != nil {
		t.Fatalf("openssl rejects the signature: %v", err)
	}
	if err := verify("other"); err == nil {
		t.Fatal("openssl accepts the signature for another message")
	}
}

// TestParseKeyWithPlus uses a seed whose base64 is full of '+', which once
// confused the key parser.
func TestParseKeyWithPlus(t *testing.T) {
	// The key is base64(0x01 || seed): seed bytes 2..31 form whole base64
	// groups, and fb ef be encodes as "++++".
	seed := bytes.NewReader(append([]byte{0, 0}, bytes.Repeat([]byte{0xfb, 0xef, 0xbe}, 10)...))
	skey, vkey, err := note.GenerateKey(seed, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(skey, "+") <= 4 {
		t.Fatalf("test key %q has no '+' in its base64", skey)
	}
	id, err := parseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if id.vkey != vkey {
		t.Fatalf("derived verifier key %q, want %q", id.vkey, vkey)
	}
}
