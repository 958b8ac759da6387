package shield

import (
	"net/netip"
	"sync"
	"time"

	"preau/internal/shield/detect"
)

// Connection shedding: the last rung of the ladder, moved below HTTP.
//
// Refusing a flood request in the handler costs the whole connection: an
// accept, a goroutine, buffers, a header parse, a 403 page and a close —
// about 100 µs of CPU on the storm machine, a quarter of a page's cost. A
// flood from 10,000 rotating addresses opens a new connection for every
// request, so at ten times the backend's capacity refusing it in HTTP alone
// takes the core the students need (bench/RESULTS.md, constrained target).
// While the detector blocks a network, the listener asks ShedConnection
// about every new connection and resets the ones it names before Go's HTTP
// server sees them.
//
// A few connections a second per blocked network still reach HTTP, so that a
// person behind it gets the page explaining the block (and a signed-in
// student whose network was caught gets served, as the block applies only to
// anonymous traffic): only the flood beyond that is reset.

// Explanation budget per blocked network: connections a second that still
// get an HTTP answer, and the burst.
const (
	explainRate  = 5.0
	explainBurst = 20.0
)

// explainBudget is a token bucket per blocked prefix. The detector blocks a
// bounded number of prefixes, so the map stays small; it is cleared when it
// outgrows that bound (a list that changed many times).
type explainBudget struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*explainTokens
}

type explainTokens struct {
	tokens float64
	last   time.Time
}

const maxExplainBuckets = 4096

func (b *explainBudget) allow(p netip.Prefix, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.buckets[p]
	if t == nil {
		if b.buckets == nil || len(b.buckets) >= maxExplainBuckets {
			b.buckets = make(map[netip.Prefix]*explainTokens)
		}
		t = &explainTokens{tokens: explainBurst, last: now}
		b.buckets[p] = t
	}
	if d := now.Sub(t.last).Seconds(); d > 0 {
		t.tokens = min(explainBurst, t.tokens+d*explainRate)
		t.last = now
	}
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// ShedConnection reports whether a new connection from client should be
// reset before it is served: the detector blocks its network (level
// block_top_prefixes), it is not allowlisted, and its network has used its
// explanation budget. It is meant for netguard.Config.Shed. Outside the
// top level it costs one atomic load.
//
// A shed connection is observed by the detector as a blocked request, so
// the episode it belongs to still sees the flood: otherwise the attack
// would seem to stop the moment it is shed, the ladder would cool down and
// unblock the network, and the flood would come back in.
func (s *Shield) ShedConnection(client netip.Addr) bool {
	if s.det.Level() < detect.BlockTopPrefixes {
		return false
	}
	client = client.Unmap()
	for _, p := range s.cls.allowlist {
		if p.Contains(client) {
			return false
		}
	}
	p, ok := s.det.BlockingPrefix(client)
	if !ok {
		return false
	}
	now := s.cfg.Now()
	if s.explain.allow(p, now) {
		return false
	}
	s.det.Observe(detect.Request{Time: now, Addr: client, Path: shedPath, Class: Anonymous.String(), Outcome: "blocked"})
	s.metrics.decision(Anonymous, "blocked")
	return true
}

// shedPath names shed connections among the detector's top paths: they
// never sent one.
const shedPath = "(connection reset)"
