package journal

import (
	"bytes"
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// referenceRoot is RFC 6962's MTH, section 2.1, written from the RFC with
// another library's hasher, so that it shares no code with tlog.
func referenceRoot(leaves [][]byte) []byte {
	h := rfc6962.DefaultHasher
	switch len(leaves) {
	case 0:
		return h.EmptyRoot()
	case 1:
		return h.HashLeaf(leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return h.HashChildren(referenceRoot(leaves[:k]), referenceRoot(leaves[k:]))
}

func proofBytes(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = bytes.Clone(h[:])
	}
	return out
}

// TestProofs checks the journal's checkpoints and proofs for every tree
// size from 0 to 70 with tlog and, independently, with
// github.com/transparency-dev/merkle.
func TestProofs(t *testing.T) {
	const maxSize = 70
	j := mustOpen(t, t.TempDir())
	hasher := rfc6962.DefaultHasher

	var recs [][]byte
	cps := make([]Checkpoint, 0, maxSize+1)
	for size := 0; size <= maxSize; size++ {
		if size > 0 {
			r := record(size - 1)
			if _, err := j.Append(r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		cp, err := j.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		if cp.Tree.N != int64(size) {
			t.Fatalf("checkpoint size %d, want %d", cp.Tree.N, size)
		}
		if want := referenceRoot(recs); !bytes.Equal(cp.Tree.Hash[:], want) {
			t.Fatalf("size %d: root %x, RFC 6962 says %x", size, cp.Tree.Hash, want)
		}
		cps = append(cps, cp)
	}

	for size := int64(1); size <= maxSize; size++ {
		cp := cps[size]
		for i := range size {
			p, err := j.InclusionProof(i, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
			}
			if err := VerifyInclusion(cp, i, recs[i], p); err != nil {
				t.Fatalf("VerifyInclusion(%d in %d): %v", i, size, err)
			}
			leaf := hasher.HashLeaf(recs[i])
			if rh := tlog.RecordHash(recs[i]); !bytes.Equal(leaf, rh[:]) {
				t.Fatalf("tlog and rfc6962 leaf hashes differ for record %d", i)
			}
			if err := proof.VerifyInclusion(hasher, uint64(i), uint64(size), leaf, proofBytes(p), cp.Tree.Hash[:]); err != nil {
				t.Fatalf("merkle rejects inclusion proof of %d in %d: %v", i, size, err)
			}
			// The same proof must not vouch for another record.
			if err := VerifyInclusion(cp, i, append(bytes.Clone(recs[i]), '!'), p); !errors.Is(err, ErrBadProof) {
				t.Fatalf("VerifyInclusion accepted a modified record %d in %d: %v", i, size, err)
			}
		}
	}

	for older := int64(0); older <= maxSize; older++ {
		for newer := older; newer <= maxSize; newer++ {
			p, err := j.ConsistencyProof(older, newer)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", older, newer, err)
			}
			if err := VerifyConsistency(cps[older], cps[newer], p); err != nil {
				t.Fatalf("VerifyConsistency(%d, %d): %v", older, newer, err)
			}
			if older == 0 {
				continue // merkle has no notion of proving the empty tree
			}
			if err := proof.VerifyConsistency(hasher, uint64(older), uint64(newer), proofBytes(p), cps[older].Tree.Hash[:], cps[newer].Tree.Hash[:]); err != nil {
				t.Fatalf("merkle rejects consistency proof %d → %d: %v", older, newer, err)
			}
		}
	}
}

func TestProofRejections(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	recs := mustAppendN(t, j, 13)
	cp13, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	mustAppendN2 := func(from, n int) {
		for i := from; i < from+n; i++ {
			if _, err := j.Append(record(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustAppendN2(13, 8)
	cp21, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}

	incl, err := j.InclusionProof(6, 13)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(cp13, 6, recs[6], incl); err != nil {
		t.Fatalf("valid inclusion proof rejected: %v", err)
	}
	flipped := append(tlog.RecordProof(nil), incl...)
	flipped[1][0] ^= 1
	wrongRoot := cp13
	wrongRoot.Tree.Hash[0] ^= 1
	for name, check := range map[string]func() error{
		"wrong index":     func() error { return VerifyInclusion(cp13, 7, recs[6], incl) },
		"wrong record":    func() error { return VerifyInclusion(cp13, 6, recs[5], incl) },
		"wrong tree":      func() error { return VerifyInclusion(cp21, 6, recs[6], incl) },
		"altered proof":   func() error { return VerifyInclusion(cp13, 6, recs[6], flipped) },
		"altered root":    func() error { return VerifyInclusion(wrongRoot, 6, recs[6], incl) },
		"truncated proof": func() error { return VerifyInclusion(cp13, 6, recs[6], incl[:len(incl)-1]) },
		"index past size": func() error { return VerifyInclusion(cp13, 13, recs[6], incl) },
	} {
		if err := check(); !errors.Is(err, ErrBadProof) {
			t.Errorf("%s: err = %v, want ErrBadProof", name, err)
		}
	}

	cons, err := j.ConsistencyProof(13, 21)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(cp13, cp21, cons); err != nil {
		t.Fatalf("valid consistency proof rejected: %v", err)
	}
	alteredCons := append(tlog.TreeProof(nil), cons...)
	alteredCons[0][31] ^= 1
	forked := cp21
	forked.Tree.Hash[5] ^= 1
	otherLog := cp13
	otherLog.Origin = "elsewhere.example/log"
	for name, check := range map[string]func() error{
		"altered proof":   func() error { return VerifyConsistency(cp13, cp21, alteredCons) },
		"forked tree":     func() error { return VerifyConsistency(cp13, forked, cons) },
		"swapped":         func() error { return VerifyConsistency(cp21, cp13, cons) },
		"other origin":    func() error { return VerifyConsistency(otherLog, cp21, cons) },
		"same size, fork": func() error { return VerifyConsistency(cp21, forked, nil) },
	} {
		if err := check(); !errors.Is(err, ErrBadProof) {
			t.Errorf("%s: err = %v, want ErrBadProof", name, err)
		}
	}
}
