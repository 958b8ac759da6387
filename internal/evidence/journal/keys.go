package journal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// identity is the journal's signing key in the forms the package needs.
type identity struct {
	name   string // key name, which is the checkpoint origin
	signer note.Signer
	vkey   string
	priv   ed25519.PrivateKey
	pem    []byte
}

// validOrigin reports whether s can be a note key name and a checkpoint
// origin line, with the rules note applies to key names.
func validOrigin(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsSpace) && !strings.Contains(s, "+")
}

// loadOrCreateKey returns the identity stored in dir, creating it on first
// use when mayCreate. origin, when non-empty, must match the stored key name:
// the origin is the log's identity and must not change under a signed
// history.
func loadOrCreateKey(dir, origin string, mayCreate bool) (*identity, error) {
	keyPath := filepath.Join(dir, keyName)
	if _, err := os.Lstat(keyPath); errors.Is(err, fs.ErrNotExist) {
		if !mayCreate {
			return nil, fmt.Errorf("journal: signing key %s is missing but the journal holds data; refusing to create a new identity", keyPath)
		}
		return createKey(dir, origin)
	}
	return loadKey(dir, origin, true)
}

// loadKey reads the identity stored in dir. A missing signing.pub is
// rewritten from the key when writePub, and otherwise only derived: a
// read-only open writes nothing.
func loadKey(dir, origin string, writePub bool) (*identity, error) {
	keyPath := filepath.Join(dir, keyName)
	info, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("journal: signing key: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("journal: signing key %s has mode %04o, readable by group or others; run chmod 600 on it", keyPath, perm)
	}
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("journal: signing key: %w", err)
	}
	id, err := parseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("journal: signing key %s: %w", keyPath, err)
	}
	if origin != "" && origin != id.name {
		return nil, fmt.Errorf("journal: origin %q differs from the origin %q the journal's key was made for", origin, id.name)
	}

	// signing.pub is derived data, but a mismatch means someone replaced one
	// of the two files: investigators would be handed the wrong key.
	pubPath := filepath.Join(dir, pubName)
	pub, err := os.ReadFile(pubPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !writePub {
			break
		}
		if err := writeFileAtomic(dir, pubName, []byte(id.vkey+"\n"), 0o644); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("journal: verifier key: %w", err)
	case strings.TrimSpace(string(pub)) != id.vkey:
		return nil, fmt.Errorf("journal: verifier key %s does not match signing key %s", pubPath, keyPath)
	}
	return id, nil
}

func createKey(dir, origin string) (*identity, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("journal: generate signing key: %w", err)
	}
	id, err := parseKey(skey)
	if err != nil {
		return nil, err
	}
	if id.vkey != vkey {
		return nil, errors.New("journal: generated verifier key does not match the derived key")
	}
	// The private key first: a crash between the two writes leaves a key
	// whose public half is recreated on the next Open.
	if err := writeFileAtomic(dir, keyName, []byte(skey+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(dir, pubName, []byte(vkey+"\n"), 0o644); err != nil {
		return nil, err
	}
	return id, nil
}

// parseKey decodes a note signer key, "PRIVATE+KEY+<name>+<hash>+<base64(0x01
// || seed)>", into the note signer and the raw Ed25519 key used for Sign and
// the PEM export.
func parseKey(skey string) (*identity, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("journal: parse signing key: %w", err)
	}
	// The name and hash cannot contain "+", but base64 can.
	fields := strings.SplitN(skey, "+", 5)
	if len(fields) != 5 {
		return nil, errors.New("journal: parse signing key: want 5 '+'-separated fields")
	}
	raw, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil {
		return nil, fmt.Errorf("journal: parse signing key: %w", err)
	}
	const algEd25519 = 1
	if len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("journal: parse signing key: not an Ed25519 key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	pub := priv.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("journal: verifier key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("journal: marshal public key: %w", err)
	}
	return &identity{
		name:   signer.Name(),
		signer: signer,
		vkey:   vkey,
		priv:   priv,
		pem:    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}, nil
}

// writeFileAtomic replaces dir/name with data so that readers and crashes
// see either the old or the new content, never a mix.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// Chmod explicitly: CreateTemp uses 0600 and the umask could not widen
	// it to perm anyway.
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	return syncDir(dir)
}

// syncDir makes directory entry changes (creations, renames) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync directory %s: %w", dir, err)
	}
	return nil
}
