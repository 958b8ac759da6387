package record

import (
	"cmp"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of one aggregate, so that an attacker rotating paths or user agents
// cannot grow it.
const (
	aggPaths    = 32 // distinct paths counted exactly; more go to otherKey
	aggAgents   = 4  // distinct user agents considered for the most frequent
	aggOutcomes = 8  // distinct outcomes; more go to otherKey
	topPaths    = 5  // paths written per record
)

// otherKey names what exceeded a bound: the aggregate of the sources beyond
// MaxSources, and the paths or outcomes beyond an aggregate's bounds.
const otherKey = "other"

// episodeState aggregates the requests of one open episode. Request reaches
// it through Recorder.active; once the episode ends, the writer takes what
// is left and closes the shards.
type episodeState struct {
	id         string
	every      uint64 // sample 1 request in every (per shard)
	maxSources int64
	seed       uint64
	mask       uint64
	shards     []shard

	// distinct counts the addresses tracked one by one per minute, across
	// shards, so that MaxSources is a global bound; indexed by minute&1 like
	// the shards' slots.
	distinctMu sync.Mutex
	distinct   [2]struct {
		minute atomic.Int64
		n      atomic.Int64
	}
	overflow *atomic.Uint64 // adds up the shards' overflow when they are taken
	names    *names
}

// shard is one lock's worth of aggregates. Each shard keeps two minutes
// (slot minute&1): the current one, and the previous one until the writer
// takes it a few seconds after it ended. A request for a minute whose slot
// still holds an older, untaken minute moves that one to ready; a request
// two minutes or more behind its slot is dropped.
type shard struct {
	mu       sync.Mutex
	slots    [2]slot
	ready    []slot
	n        uint64 // requests seen, for sampling
	overflow uint64 // requests counted in an "other" aggregate, not yet taken
	closed   bool
	_        [64]byte // keep the hot mutexes on separate cache lines
}

type slot struct {
	minute int64 // Unix minute
	// idx maps a source address (As16) to its aggregate in aggs. Keys and
	// values hold no pointers, nor do the aggregates: the garbage
	// collector does not scan the tens of thousands of sources a rotating
	// flood leaves in a minute, which it did when each was a pointer to
	// an aggregate with a map of paths.
	idx   map[[16]byte]int32
	aggs  []agg
	other agg // the sources beyond MaxSources
}

func (s *slot) empty() bool { return len(s.aggs) == 0 && s.other.requests == 0 }

// agg is one source's (or the overflow's) requests in one minute. Paths,
// user agents and outcomes are names interned per episode (see names).
type agg struct {
	requests    uint64
	first, last int64 // Unix nanoseconds
	outcomes    [aggOutcomes]counter
	paths       [aggPaths + 1]counter // the last counts otherKey
	agents      [aggAgents]counter
}

// counter counts one interned name; n == 0 marks a free counter.
type counter struct {
	name uint32
	n    uint32
}

// names interns the paths, user agents and outcomes of an episode, so
// that aggregates hold small numbers instead of strings. It is bounded:
// past maxNames distinct names, new ones count as otherKey (an attacker
// rotating user agents cannot grow it). Lookups of known names take no
// lock.
type names struct {
	ids  sync.Map // string → uint32
	mu   sync.Mutex
	list []string // guarded by mu; list[0] is otherKey
}

// maxNames bounds the distinct names of an episode (about 6 MB of user
// agents at most).
const maxNames = 1 << 16

func newNames() *names { return &names{list: []string{otherKey}} }

// id returns the number of s, interning a copy of it if it is new.
func (n *names) id(s string) uint32 {
	if v, ok := n.ids.Load(s); ok {
		return v.(uint32)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if v, ok := n.ids.Load(s); ok {
		return v.(uint32)
	}
	if len(n.list) >= maxNames {
		return 0
	}
	s = strings.Clone(s) // the caller's string may share memory with the whole request
	id := uint32(len(n.list))
	n.list = append(n.list, s)
	n.ids.Store(s, id)
	return id
}

// name returns the string of an id.
func (n *names) name(id uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if int(id) < len(n.list) {
		return n.list[id]
	}
	return otherKey
}

func newEpisodeState(id string, every, maxSources int, overflow *atomic.Uint64) *episodeState {
	n := 1 << bits.Len(uint(max(4*runtime.GOMAXPROCS(0), 8)-1))
	n = min(n, 256)
	return &episodeState{
		id:         id,
		every:      uint64(every),
		maxSources: int64(maxSources),
		seed:       rand.Uint64(),
		mask:       uint64(n - 1),
		shards:     make([]shard, n),
		overflow:   overflow,
		names:      newNames(),
	}
}

func unixMinute(t time.Time) int64 {
	s := t.Unix()
	m := s / 60
	if s < 0 && s%60 != 0 {
		m--
	}
	return m
}

// shardOf hashes the address with a random seed, so that an attacker cannot
// aim all its addresses at one shard's lock.
func (e *episodeState) shardOf(a netip.Addr) *shard {
	b := a.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	h := (hi ^ bits.RotateLeft64(lo, 29) ^ e.seed) * 0x9e3779b97f4a7c15
	h ^= h >> 32
	return &e.shards[h&e.mask]
}

// observe counts one request. It reports whether the request is sampled,
// and false with dropped set when it could not be counted (the episode's
// aggregates were already written, or the request is minutes late).
func (e *episodeState) observe(s *RequestSample) (sampled, dropped bool) {
	m := unixMinute(s.Time)
	sh := e.shardOf(s.Addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return false, true
	}
	sl := &sh.slots[m&1]
	if sl.minute != m {
		if sl.minute > m {
			return false, true
		}
		if !sl.empty() {
			sh.ready = append(sh.ready, *sl)
		}
		*sl = slot{minute: m}
	}
	key := s.Addr.As16()
	var a *agg
	if i, ok := sl.idx[key]; ok {
		a = &sl.aggs[i]
	} else if e.admit(m) {
		if sl.idx == nil {
			sl.idx = make(map[[16]byte]int32)
		}
		sl.idx[key] = int32(len(sl.aggs))
		sl.aggs = append(sl.aggs, agg{})
		a = &sl.aggs[len(sl.aggs)-1]
	} else {
		a = &sl.other
		sh.overflow++
	}
	a.add(s, e.names)
	sh.n++
	return e.every > 0 && sh.n%e.every == 0, false
}

// admit reserves one of minute m's MaxSources places for a new address.
func (e *episodeState) admit(m int64) bool {
	d := &e.distinct[m&1]
	if cur := d.minute.Load(); cur != m {
		if cur > m {
			// Very late: its minute's count is gone; do not let it grow
			// the current minute's.
			return false
		}
		e.distinctMu.Lock()
		if d.minute.Load() < m {
			d.n.Store(0)
			d.minute.Store(m)
		}
		e.distinctMu.Unlock()
	}
	if d.n.Add(1) > e.maxSources {
		d.n.Add(-1)
		return false
	}
	return true
}

func (a *agg) add(s *RequestSample, ns *names) {
	t := s.Time.UnixNano()
	if a.requests == 0 || t < a.first {
		a.first = t
	}
	if a.requests == 0 || t > a.last {
		a.last = t
	}
	a.requests++
	bump(a.outcomes[:], ns.id(s.Outcome), 1, true)
	bump(a.paths[:], ns.id(cleanPath(s.Path)), 1, true)
	if s.Agent != "" {
		bump(a.agents[:], ns.id(truncate(s.Agent, maxAgent)), 1, false)
	}
}

// bump adds n to name's counter. A new name takes a free counter; when
// there is none, with overflow the last counter, reserved for it, counts
// the name as otherKey (outcomes and paths: exact counts, and "other" says
// what is unnamed); without overflow the name replaces the smallest
// counter and inherits its count (Space-Saving, for the most frequent
// user agent: a heavy agent arriving late still wins, with a count that
// may overestimate).
func bump(cs []counter, name uint32, n uint32, overflow bool) {
	named := cs
	if overflow {
		named = cs[:len(cs)-1]
	}
	for i := range named {
		switch {
		case cs[i].n == 0:
			cs[i] = counter{name: name, n: n}
			return
		case cs[i].name == name:
			cs[i].n += n
			return
		}
	}
	if overflow {
		last := &cs[len(cs)-1]
		last.name = 0 // otherKey
		last.n += n
		return
	}
	low := &cs[0]
	for i := range cs {
		if cs[i].n < low.n {
			low = &cs[i]
		}
	}
	low.name = name
	low.n += n
}

func (a *agg) merge(b *agg) {
	if b.requests == 0 {
		return
	}
	if a.requests == 0 || b.first < a.first {
		a.first = b.first
	}
	if a.requests == 0 || b.last > a.last {
		a.last = b.last
	}
	a.requests += b.requests
	for _, c := range b.outcomes {
		if c.n > 0 {
			bump(a.outcomes[:], c.name, c.n, true)
		}
	}
	for _, c := range b.paths {
		if c.n > 0 {
			bump(a.paths[:], c.name, c.n, true)
		}
	}
	for _, c := range b.agents {
		if c.n > 0 {
			bump(a.agents[:], c.name, c.n, false)
		}
	}
}

// take removes the slots of minutes before cutoff, or all of them when all
// (the episode ended or the recorder closes), after which the shards refuse
// further requests.
func (e *episodeState) take(cutoff int64, all bool) []slot {
	var out []slot
	var overflow uint64
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		overflow += sh.overflow
		sh.overflow = 0
		out = append(out, sh.ready...)
		sh.ready = nil
		for j := range sh.slots {
			sl := &sh.slots[j]
			if !sl.empty() && (all || sl.minute < cutoff) {
				out = append(out, *sl)
				// Keep the minute so that a request minutes late is
				// still recognised as such.
				*sl = slot{minute: sl.minute}
			}
		}
		if all {
			sh.closed = true
		}
		sh.mu.Unlock()
	}
	e.overflow.Add(overflow)
	return out
}

// records turns taken slots into source_minute records, by minute, then
// address, then the "other" aggregate.
func (e *episodeState) records(slots []slot, now time.Time) []sourceMinuteRecord {
	type key struct {
		minute int64
		addr   netip.Addr
		other  bool
	}
	merged := make(map[key]*agg)
	put := func(k key, a *agg) {
		if m, ok := merged[k]; ok {
			m.merge(a)
		} else {
			merged[k] = a
		}
	}
	for _, sl := range slots {
		for addr, i := range sl.idx {
			put(key{minute: sl.minute, addr: netip.AddrFrom16(addr).Unmap()}, &sl.aggs[i])
		}
		if sl.other.requests > 0 {
			put(key{minute: sl.minute, other: true}, &sl.other)
		}
	}
	keys := make([]key, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.minute, b.minute); c != 0 {
			return c
		}
		if a.other != b.other {
			if a.other {
				return 1
			}
			return -1
		}
		return a.addr.Compare(b.addr)
	})
	out := make([]sourceMinuteRecord, 0, len(keys))
	for _, k := range keys {
		a := merged[k]
		addr := otherKey
		if !k.other {
			addr = k.addr.String()
		}
		out = append(out, sourceMinuteRecord{
			header:   newHeader("source_minute", now),
			Minute:   fmtTime(time.Unix(k.minute*60, 0)),
			Episode:  e.id,
			Addr:     addr,
			Requests: a.requests,
			Outcomes: a.outcomeMap(e.names),
			Paths:    a.topPaths(e.names),
			Agent:    a.agent(e.names),
			First:    fmtTime(time.Unix(0, a.first)),
			Last:     fmtTime(time.Unix(0, a.last)),
		})
	}
	return out
}

func (a *agg) outcomeMap(ns *names) map[string]uint64 {
	m := make(map[string]uint64)
	for _, c := range a.outcomes {
		if c.n > 0 {
			m[ns.name(c.name)] += uint64(c.n)
		}
	}
	return m
}

func (a *agg) topPaths(ns *names) map[string]uint64 {
	type pc struct {
		p string
		n uint64
	}
	all := make([]pc, 0, len(a.paths))
	for _, c := range a.paths {
		if c.n > 0 {
			all = append(all, pc{ns.name(c.name), uint64(c.n)})
		}
	}
	slices.SortFunc(all, func(x, y pc) int {
		if c := cmp.Compare(y.n, x.n); c != 0 {
			return c
		}
		return strings.Compare(x.p, y.p)
	})
	m := make(map[string]uint64, topPaths)
	for _, x := range all[:min(len(all), topPaths)] {
		m[x.p] += x.n
	}
	return m
}

// agent is the most frequent user agent; ties go to the one seen first.
func (a *agg) agent(ns *names) string {
	var best counter
	for _, c := range a.agents {
		if c.n > best.n {
			best = c
		}
	}
	if best.n == 0 {
		return ""
	}
	return ns.name(best.name)
}
