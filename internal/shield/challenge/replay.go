package challenge

import "sync"

// replaySet remembers the nonces of solved challenges until they expire, in
// at most max entries. Entries leave in insertion order: when the set is
// full the oldest one is forgotten (see the package comment for why that is
// safe). Expired entries at the front are dropped on every insertion.
type replaySet struct {
	mu   sync.Mutex
	max  int
	seen map[[16]byte]int64 // nonce → expiry (Unix s)
	fifo []replayEntry      // insertion order; fifo[head:] are live
	head int
}

type replayEntry struct {
	nonce   [16]byte
	expires int64
}

func newReplaySet(max int) *replaySet {
	return &replaySet{max: max, seen: make(map[[16]byte]int64)}
}

// add records nonce until expires and reports whether it was new (or
// expired) at now.
func (s *replaySet) add(nonce [16]byte, expires, now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.head < len(s.fifo) && s.fifo[s.head].expires <= now {
		s.pop()
	}
	if e, ok := s.seen[nonce]; ok && e > now {
		return false
	}
	for len(s.seen) >= s.max && s.head < len(s.fifo) {
		s.pop()
	}
	s.seen[nonce] = expires
	if s.head > 0 && s.head >= len(s.fifo)/2 && len(s.fifo) == cap(s.fifo) {
		n := copy(s.fifo, s.fifo[s.head:])
		clear(s.fifo[n:])
		s.fifo = s.fifo[:n]
		s.head = 0
	}
	s.fifo = append(s.fifo, replayEntry{nonce, expires})
	return true
}

func (s *replaySet) pop() {
	e := s.fifo[s.head]
	if s.seen[e.nonce] == e.expires {
		delete(s.seen, e.nonce)
	}
	s.fifo[s.head] = replayEntry{}
	s.head++
	if s.head == len(s.fifo) {
		s.fifo = s.fifo[:0]
		s.head = 0
	}
}

func (s *replaySet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}
