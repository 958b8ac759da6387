package export

import (
	"errors"
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// A run is a range [first, first+count) of consecutive exported leaves of
// one segment.
type run struct{ first, count int64 }

// runs accumulates exported leaf indexes, ascending, as runs: memory grows
// with the number of gaps, not of leaves.
type runs []run

func (rs *runs) add(i int64) {
	if n := len(*rs); n > 0 {
		last := &(*rs)[n-1]
		if last.first+last.count == i {
			last.count++
			return
		}
	}
	*rs = append(*rs, run{i, 1})
}

// split returns k, the largest power of two smaller than n (n > 1): RFC 6962
// splits a tree of n leaves into the first k and the remaining n-k.
func split(n int64) int64 { return 1 << (bits.Len64(uint64(n-1)) - 1) }

// subtree is the range of leaves [lo, hi) of a subtree of the RFC 6962 tree.
type subtree struct{ lo, hi int64 }

// siblings maps the subtrees of an RFC 6962 audit path (the inclusion proof
// of leaf m in the tree of n leaves) to their hashes. The proof lists them
// from the leaf up; the walk below finds them from the root down.
func siblings(m, n int64, proof tlog.RecordProof, into map[subtree]tlog.Hash) error {
	if m < 0 || m >= n {
		return fmt.Errorf("leaf %d outside tree of %d", m, n)
	}
	var path []subtree
	lo, hi := int64(0), n
	for hi-lo > 1 {
		k := split(hi - lo)
		if m < lo+k {
			path = append(path, subtree{lo + k, hi})
			hi = lo + k
		} else {
			path = append(path, subtree{lo, lo + k})
			lo += k
		}
	}
	if len(path) != len(proof) {
		return fmt.Errorf("proof of leaf %d in tree of %d has %d hashes, want %d", m, n, len(proof), len(path))
	}
	for d, st := range path {
		into[st] = proof[len(proof)-1-d]
	}
	return nil
}

var errShortRun = errors.New("fewer leaves than the run claims")

// runRoot recomputes the root of the tree of n leaves from the hashes of the
// run's leaves, in order, and the subtree hashes of the audit paths of the
// run's first and last leaves. next returns the next leaf hash.
func runRoot(n int64, r run, known map[subtree]tlog.Hash, next func() (tlog.Hash, error)) (tlog.Hash, error) {
	a, b := r.first, r.first+r.count
	if r.count < 1 || a < 0 || b > n {
		return tlog.Hash{}, fmt.Errorf("run [%d, %d) outside tree of %d", a, b, n)
	}
	var rec func(lo, hi int64) (tlog.Hash, error)
	rec = func(lo, hi int64) (tlog.Hash, error) {
		if hi <= a || lo >= b {
			h, ok := known[subtree{lo, hi}]
			if !ok {
				return tlog.Hash{}, fmt.Errorf("proofs lack the hash of leaves [%d, %d)", lo, hi)
			}
			return h, nil
		}
		if hi-lo == 1 {
			return next()
		}
		k := split(hi - lo)
		l, err := rec(lo, lo+k)
		if err != nil {
			return tlog.Hash{}, err
		}
		rt, err := rec(lo+k, hi)
		if err != nil {
			return tlog.Hash{}, err
		}
		return tlog.NodeHash(l, rt), nil
	}
	return rec(0, n)
}
