package detect

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is what the shield observes per request (cheap to fill).
type Request struct {
	Time      time.Time
	Addr      netip.Addr
	Prefix    netip.Prefix // the client's /24 or /56; computed from Addr when invalid
	Path      string       // route or cleaned path, truncated (longer than 127 bytes is cut)
	UserAgent string       // truncated like Path
	Class     string       // "staff", "member", "pass", "allowlisted", "anonymous"
	Outcome   string       // "admitted", "shed", "challenged", "queued", "blocked", "limited"
}

// Level is a step of the escalation ladder.
type Level int

// The escalation ladder, lowest first.
const (
	Normal Level = iota
	TightenBuckets
	Challenge
	WaitingRoom
	BlockTopPrefixes
)

var levelNames = [...]string{"normal", "tighten_buckets", "challenge", "waiting_room", "block_top_prefixes"}

// String is the level's name: "normal", "tighten_buckets", "challenge",
// "waiting_room", "block_top_prefixes".
func (l Level) String() string {
	if l >= Normal && l <= BlockTopPrefixes {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText writes the level's name, for JSON and slog.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Config tunes a Detector; zero fields take the defaults shown.
type Config struct {
	TopK             int           // Space-Saving counters per dimension (64)
	Window           time.Duration // detection window (1s)
	BaselineHalfLife time.Duration // EWMA half-life of the baseline (5m)
	// Hysteresis: a window is hot when its rate > EnterFactor×B, cold when
	// < ExitFactor×B, with B = max(baseline, MinRate/EnterFactor).
	EnterFactor float64       // (3)
	ExitFactor  float64       // (1.5; at most EnterFactor)
	MinRate     float64       // requests per second below which nothing is an attack (50)
	EnterAfter  time.Duration // hot this long starts an episode; also the dwell per ladder step up (5s)
	ExitAfter   time.Duration // cold this long ends an episode (30s)
	CoolDown    time.Duration // cold time at a ladder level before stepping down (60s)
	Sink        Sink          // where events go (nil: dropped)

	SurgeFactor  float64          // rate ≥ SurgeFactor×B climbs one level per window (3×EnterFactor)
	Warmup       time.Duration    // no episode before this much time has been observed (30s)
	History      int              // windows kept for the live chart (600)
	TopN         int              // talkers per dimension in episodes and events (10)
	BlockShare   float64          // suspect share of a window's traffic that gets a prefix blocked (0.05)
	MaxBlocked   int              // most prefixes blocked at once (32)
	SummaryEvery time.Duration    // decision_summary period when calm (1m; every window in an episode)
	Shards       int              // summary shards, rounded up to a power of two (≥ GOMAXPROCS)
	Now          func() time.Time // clock for SetManual's events (time.Now)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	deff := func(f *float64, v float64) {
		if *f <= 0 || math.IsNaN(*f) {
			*f = v
		}
	}
	defi := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	defi(&c.TopK, 64)
	def(&c.Window, time.Second)
	def(&c.BaselineHalfLife, 5*time.Minute)
	deff(&c.EnterFactor, 3)
	deff(&c.ExitFactor, 1.5)
	if c.ExitFactor > c.EnterFactor {
		c.ExitFactor = c.EnterFactor
	}
	deff(&c.MinRate, 50)
	def(&c.EnterAfter, 5*time.Second)
	def(&c.ExitAfter, 30*time.Second)
	def(&c.CoolDown, time.Minute)
	deff(&c.SurgeFactor, 3*c.EnterFactor)
	def(&c.Warmup, 30*time.Second)
	defi(&c.History, 600)
	defi(&c.TopN, 10)
	deff(&c.BlockShare, 0.05)
	defi(&c.MaxBlocked, 32)
	def(&c.SummaryEvery, time.Minute)
	defi(&c.Shards, runtime.GOMAXPROCS(0))
	n := 1
	for n < c.Shards && n < 256 {
		n <<= 1
	}
	c.Shards = n
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Outcomes and classes are counted in fixed arrays.
const (
	oAdmitted = iota
	oShed
	oChallenged
	oQueued
	oBlocked
	oLimited
	oOther
	numOutcomes
)

const (
	cStaff = iota
	cMember
	cPass
	cAllowlisted
	cAnonymous
	cOther
	numClasses
)

var (
	outcomeNames = [numOutcomes]string{"admitted", "shed", "challenged", "queued", "blocked", "limited", "other"}
	classNames   = [numClasses]string{"staff", "member", "pass", "allowlisted", "anonymous", "other"}
)

func outcomeIndex(s string) int {
	switch s {
	case "admitted":
		return oAdmitted
	case "shed":
		return oShed
	case "challenged":
		return oChallenged
	case "queued":
		return oQueued
	case "blocked":
		return oBlocked
	case "limited":
		return oLimited
	}
	return oOther
}

func classIndex(s string) int {
	switch s {
	case "staff":
		return cStaff
	case "member":
		return cMember
	case "pass":
		return cPass
	case "allowlisted":
		return cAllowlisted
	case "anonymous":
		return cAnonymous
	}
	return cOther
}

// suspect reports whether a class's requests may get a prefix blocked: not
// signed-in users, not allowlisted networks.
func suspect(c int) bool { return c == cPass || c == cAnonymous || c == cOther }

type windowStats struct {
	total    uint64
	outcomes [numOutcomes]uint64
	classes  [numClasses]uint64
}

// suspect counts the window's requests from classes that carry no
// credential: anonymous visitors, pass holders and unknown classes.
func (s *windowStats) suspect() uint64 {
	var n uint64
	for c, k := range s.classes {
		if suspect(c) {
			n += k
		}
	}
	return n
}

func (s *windowStats) add(o *windowStats) {
	s.total += o.total
	for i := range s.outcomes {
		s.outcomes[i] += o.outcomes[i]
	}
	for i := range s.classes {
		s.classes[i] += o.classes[i]
	}
}

// dims is one Space-Saving summary per dimension.
type dims struct {
	addr   *spaceSaving[netip.Addr]
	prefix *spaceSaving[netip.Prefix]
	net    *spaceSaving[netip.Prefix]
	path   *spaceSaving[strKey]
	agent  *spaceSaving[strKey]
}

func newDims(k int) dims {
	return dims{
		addr:   newSpaceSaving[netip.Addr](k),
		prefix: newSpaceSaving[netip.Prefix](k),
		net:    newSpaceSaving[netip.Prefix](k),
		path:   newSpaceSaving[strKey](k),
		agent:  newSpaceSaving[strKey](k),
	}
}

func (d *dims) reset() {
	d.addr.reset()
	d.prefix.reset()
	d.net.reset()
	d.path.reset()
	d.agent.reset()
}

func mergeInto[K comparable](dst, src *spaceSaving[K]) {
	for i := range src.entries {
		e := &src.entries[i]
		dst.addErr(e.key, e.hash, e.count, e.err, e.aux)
	}
}

func (d *dims) merge(o *dims) {
	mergeInto(d.addr, o.addr)
	mergeInto(d.prefix, o.prefix)
	mergeInto(d.net, o.net)
	mergeInto(d.path, o.path)
	mergeInto(d.agent, o.agent)
}

type window struct {
	dims
	stats windowStats
}

type shard struct {
	mu    sync.Mutex
	w     *window
	spare *window
	idx   int
	_     [32]byte // keep hot mutexes on separate cache lines
}

// tops is the previous window's top talkers, merged over the shards.
type tops struct {
	addr   []ranked[netip.Addr]
	prefix []ranked[netip.Prefix]
	net    []ranked[netip.Prefix]
	path   []ranked[strKey]
	agent  []ranked[strKey]
}

func (t *tops) clear() {
	t.addr, t.prefix, t.net, t.path, t.agent = t.addr[:0], t.prefix[:0], t.net[:0], t.path[:0], t.agent[:0]
}

// Point is one window of the history ring, rates in requests per second.
type Point struct {
	Time     time.Time // window start
	Total    float64
	Admitted float64
	Shed     float64
	Blocked  float64
	Level    Level
}

type episodeState struct {
	ep     Episode // scalar fields; talker lists are filled on copy
	active bool    // false while a candidate (hot, waiting for EnterAfter)
	tail   uint64  // requests of the trailing cold windows, not part of the episode if it ends
	dims           // 2·TopK counters fed with each hot window's top talkers
}

type blockEntry struct {
	last  time.Time // window end when last above BlockShare
	count uint64    // suspect requests then
}

// Detector watches the request stream. It is safe for concurrent use.
type Detector struct {
	cfg    Config
	h      hasher
	shards []shard
	smask  uint64
	pool   sync.Pool // *shard, for P affinity
	rr     atomic.Uint64

	windowEnd atomic.Int64 // unix ns; Observe calls Tick at or past it
	level     atomic.Int32 // effective level
	blockedP  atomic.Pointer[[]netip.Prefix]

	mu        sync.Mutex // everything below
	started   bool
	origin    time.Time // start of the first window
	wStart    time.Time // start of the current window
	alpha     float64
	learned   uint64
	baseline  float64
	hotSince  time.Time
	coldSince time.Time

	auto       Level
	levelSince time.Time
	manualOn   bool
	manual     Level
	effective  Level

	ep       *episodeState // current or candidate episode; nil when calm
	epStore  *episodeState // reused
	lastEp   *Episode
	episodes uint64
	seq      uint64

	merge     dims
	prev      tops
	prevStats windowStats
	prevEnd   time.Time
	rate      float64 // last window's rate

	hist    []Point
	histPos int
	histLen int

	blocked map[netip.Prefix]blockEntry

	sum      windowStats
	sumStart time.Time
}

// New returns a detector; see Config for the defaults.
func New(c Config) *Detector {
	c = c.withDefaults()
	d := &Detector{
		cfg:     c,
		shards:  make([]shard, c.Shards),
		smask:   uint64(c.Shards - 1),
		merge:   newDims(c.TopK * c.Shards),
		hist:    make([]Point, c.History),
		blocked: make(map[netip.Prefix]blockEntry),
		alpha:   1 - math.Exp2(-c.Window.Seconds()/c.BaselineHalfLife.Seconds()),
	}
	d.h.seed = maphashSeed()
	d.h.k0, d.h.k1, d.h.k2 = randUint64()|1, randUint64()|1, randUint64()
	d.pool.New = func() any { return &d.shards[d.rr.Add(1)&d.smask] }
	for i := range d.shards {
		d.shards[i].idx = i
		d.shards[i].w = &window{dims: newDims(c.TopK)}
		d.shards[i].spare = &window{dims: newDims(c.TopK)}
	}
	d.epStore = &episodeState{dims: newDims(2 * c.TopK)}
	d.windowEnd.Store(math.MinInt64)
	empty := []netip.Prefix{}
	d.blockedP.Store(&empty)
	return d
}

func prefixOf(a netip.Addr) netip.Prefix {
	if a.Is4() {
		p, _ := a.Prefix(24)
		return p
	}
	p, _ := a.Prefix(56)
	return p
}

func netOf(a netip.Addr) netip.Prefix {
	if a.Is4() {
		p, _ := a.Prefix(16)
		return p
	}
	p, _ := a.Prefix(48)
	return p
}

// Observe counts one request, whatever its outcome. It allocates nothing in
// steady state and calls Tick first when r.Time is past the current window
// (a zero Time is counted in the current window).
func (d *Detector) Observe(r Request) {
	if !r.Time.IsZero() && r.Time.UnixNano() >= d.windowEnd.Load() {
		d.Tick(r.Time)
	}
	oi, ci := outcomeIndex(r.Outcome), classIndex(r.Class)
	var sus uint64
	if suspect(ci) {
		sus = 1
	}
	path, agent := truncate(r.Path), truncate(r.UserAgent)
	hp, hu := d.h.str(path), d.h.str(agent)
	pk, uk := makeStrKey(path), makeStrKey(agent)

	addr := r.Addr.Unmap()
	ok := addr.IsValid()
	var ha, hpx, hn uint64
	var pfx, nw netip.Prefix
	if ok {
		addr = addr.WithZone("")
		ha = d.h.addr(addr)
		if pfx = r.Prefix; pfx.IsValid() {
			pfx = pfx.Masked()
		} else {
			pfx = prefixOf(addr)
		}
		nw = netOf(addr)
		hpx, hn = d.h.prefix(pfx), d.h.prefix(nw)
	}

	s := d.lockShard()
	w := s.w
	w.stats.total++
	w.stats.outcomes[oi]++
	w.stats.classes[ci]++
	if ok {
		w.addr.add(addr, ha, 1, sus)
		w.prefix.add(pfx, hpx, 1, sus)
		w.net.add(nw, hn, 1, sus)
	}
	w.path.add(pk, hp, 1, sus)
	w.agent.add(uk, hu, 1, sus)
	s.mu.Unlock()
	d.pool.Put(s)
}

// lockShard locks the shard this P used last (sync.Pool keeps a per-P
// cache, so each core keeps writing to its own summaries instead of
// bouncing cache lines), or the next free one when it is busy, or waits
// for it when all are.
func (d *Detector) lockShard() *shard {
	s := d.pool.Get().(*shard)
	if s.mu.TryLock() {
		return s
	}
	i := uint64(s.idx)
	for j := uint64(1); j <= d.smask; j++ {
		s2 := &d.shards[(i+j)&d.smask]
		if s2.mu.TryLock() {
			return s2 // Observe puts s2 back: this P moves to it
		}
	}
	s.mu.Lock()
	return s
}

// Level is the current effective level: the automatic ladder's, raised to
// the manual floor when one is set.
func (d *Detector) Level() Level { return Level(d.level.Load()) }

// SetManual sets (on) or clears (off) the operator's floor: while it is on,
// the effective level is at least l.
func (d *Detector) SetManual(l Level, on bool) {
	l = min(max(l, Normal), BlockTopPrefixes)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.manualOn, d.manual = on, l
	reason := "manual_off"
	if on {
		reason = "manual_on"
	}
	d.applyLevel(d.cfg.Now(), reason, true)
}

// BlockedPrefixes lists the prefixes to block while the level is
// BlockTopPrefixes (empty otherwise): at most MaxBlocked, most active first.
// From TightenBuckets up the same list names the suspect prefixes
// (IsSuspect), which the shield challenges before it would block them.
func (d *Detector) BlockedPrefixes() []netip.Prefix {
	if d.Level() < BlockTopPrefixes {
		return []netip.Prefix{}
	}
	return slices.Clone(*d.blockedP.Load())
}

// IsBlocked reports whether a is in one of the BlockedPrefixes, without
// allocating.
func (d *Detector) IsBlocked(a netip.Addr) bool {
	return d.Level() >= BlockTopPrefixes && d.IsSuspect(a)
}

// BlockingPrefix returns the blocked prefix that contains a, at the top
// level only (IsBlocked with the prefix). It does not allocate.
func (d *Detector) BlockingPrefix(a netip.Addr) (netip.Prefix, bool) {
	if d.Level() < BlockTopPrefixes {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	for _, p := range *d.blockedP.Load() {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// IsSuspect reports, during an episode (TightenBuckets and up), whether a is
// in one of the prefixes carrying the attack: the list BlockedPrefixes
// would block at the top level. It does not allocate.
func (d *Detector) IsSuspect(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range *d.blockedP.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxCatchUp bounds the empty windows Tick replays after a gap; beyond it
// the detector jumps to the present.
func (d *Detector) maxCatchUp() int {
	n := d.cfg.History
	if m := int((d.cfg.ExitAfter + 5*d.cfg.CoolDown + d.cfg.Warmup) / d.cfg.Window); m > n {
		n = m
	}
	return n + 1
}

// Tick closes every window that ends at or before now: it merges the shards'
// summaries into the top talkers, updates the baseline, starts or ends
// episodes, moves the ladder and emits the events. The shield calls it once
// per window; Observe calls it too when a request's time is past the window.
func (d *Detector) Tick(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	win := d.cfg.Window
	if !d.started {
		d.started = true
		d.wStart = now.Truncate(win)
		d.origin, d.sumStart, d.levelSince = d.wStart, d.wStart, d.wStart
		d.windowEnd.Store(d.wStart.Add(win).UnixNano())
		return
	}
	end := d.wStart.Add(win)
	if now.Before(end) {
		return
	}
	var st windowStats
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		s.w, s.spare = s.spare, s.w
		s.mu.Unlock()
		st.add(&s.spare.stats)
		d.merge.merge(&s.spare.dims)
		s.spare.stats = windowStats{}
		s.spare.reset()
	}
	k := d.cfg.TopK
	d.prev.addr = d.merge.addr.top(d.prev.addr, k, cmpAddr)
	d.prev.prefix = d.merge.prefix.top(d.prev.prefix, k, cmpPrefix)
	d.prev.net = d.merge.net.top(d.prev.net, k, cmpPrefix)
	d.prev.path = d.merge.path.top(d.prev.path, k, cmpStrKey)
	d.prev.agent = d.merge.agent.top(d.prev.agent, k, cmpStrKey)
	d.merge.reset()

	for first := true; ; first = false {
		d.closeWindow(d.wStart, end, &st)
		d.wStart, end = end, end.Add(win)
		if now.Before(end) {
			break
		}
		if first {
			// The windows after a gap are empty; replay at most maxCatchUp
			// of them (all cold), the last ones.
			st = windowStats{}
			d.prev.clear()
			if skip := int(now.Sub(d.wStart)/win) - d.maxCatchUp(); skip > 0 {
				if d.coldSince.IsZero() {
					d.coldSince = d.wStart
				}
				d.hotSince = time.Time{}
				d.wStart = d.wStart.Add(time.Duration(skip) * win)
				end = d.wStart.Add(win)
			}
		}
	}
	d.windowEnd.Store(end.UnixNano())
}

func (d *Detector) closeWindow(start, end time.Time, st *windowStats) {
	c := &d.cfg
	secs := c.Window.Seconds()
	// The ladder watches suspect traffic only (anonymous visitors and pass
	// holders): signed-in students reading homework at full speed are the
	// load the platform exists for, and a baseline learnt from them would
	// hide a flood of anonymous requests under it (seen in the storm sweep,
	// where a capacity test taught the detector 10,000 req/s).
	r := float64(st.suspect()) / secs
	d.rate, d.prevStats, d.prevEnd = r, *st, end

	B := max(d.baseline, c.MinRate/c.EnterFactor)
	warm := end.Sub(d.origin) >= c.Warmup
	hot := warm && r > c.EnterFactor*B
	cold := r < c.ExitFactor*B
	if hot {
		if d.hotSince.IsZero() {
			d.hotSince = start
		}
	} else {
		d.hotSince = time.Time{}
	}
	if cold {
		if d.coldSince.IsZero() {
			d.coldSince = start
		}
	} else {
		d.coldSince = time.Time{}
	}

	// Episodes.
	started := false
	if hot && d.ep == nil {
		d.ep = d.epStore
		d.ep.dims.reset()
		d.ep.ep = Episode{Start: start, Baseline: d.baseline}
		d.ep.active, d.ep.tail = false, 0
	}
	if e := d.ep; e != nil {
		if !e.active && !hot {
			d.ep = nil // a burst shorter than EnterAfter
		} else {
			sus := st.suspect()
			e.ep.Requests += sus
			e.ep.PeakRate = max(e.ep.PeakRate, r)
			if cold {
				e.tail += sus
			} else {
				e.tail = 0
				e.merge(&d.prev)
			}
			// A surge far above the baseline needs no EnterAfter of
			// confirmation: waiting five seconds lets a 10× flood through
			// for five seconds.
			surge := hot && r >= c.SurgeFactor*B
			if !e.active && (surge || end.Sub(d.hotSince) >= c.EnterAfter) {
				e.active, started = true, true
				d.episodes++
				e.ep.ID = fmt.Sprintf("ep-%s-%d", e.ep.Start.UTC().Format("20060102T150405Z"), d.episodes)
				e.ep.MaxLevel = d.effective
				d.emit(Event{Time: end, Kind: "episode_start", Episode: d.episodeCopy(), Reason: "rate_above_baseline",
					Fields: map[string]any{"rate": r, "baseline": d.baseline, "threshold": c.EnterFactor * B}})
			}
		}
	}

	// The ladder.
	switch {
	case d.ep != nil && d.ep.active && hot:
		switch {
		case d.auto == Normal && r >= c.SurgeFactor*B:
			// Straight to the challenge: nothing anonymous reaches the
			// application until a visitor proves work or queues.
			d.setAuto(end, Challenge, "surge", r, B)
		case d.auto == Normal:
			d.setAuto(end, TightenBuckets, "episode_start", r, B)
		case d.auto < BlockTopPrefixes && r >= c.SurgeFactor*B:
			d.setAuto(end, d.auto+1, "surge", r, B)
		case d.auto < BlockTopPrefixes && end.Sub(d.levelSince) >= c.EnterAfter:
			d.setAuto(end, d.auto+1, "sustained", r, B)
		}
	case cold && d.auto > Normal:
		if end.Sub(later(d.levelSince, d.coldSince)) >= c.CoolDown {
			d.setAuto(end, d.auto-1, "cool_down", r, B)
		}
	}

	// Episode end.
	if e := d.ep; e != nil && e.active && !started && cold && end.Sub(d.coldSince) >= c.ExitAfter {
		e.ep.End = d.coldSince
		e.ep.Requests -= e.tail
		ep := d.episodeCopy()
		d.lastEp = ep
		d.ep = nil
		d.emit(Event{Time: end, Kind: "episode_end", Episode: ep, Reason: "rate_back_to_baseline",
			Fields: map[string]any{"rate": r, "baseline": d.baseline, "threshold": c.ExitFactor * B}})
	}

	// Learn from calm windows only.
	if d.ep == nil && !hot {
		d.learned++
		a := max(d.alpha, 1/float64(d.learned))
		d.baseline += a * (r - d.baseline)
	}

	d.updateBlocked(end, st.total, hot)

	d.hist[d.histPos] = Point{Time: start, Total: float64(st.total) / secs,
		Admitted: float64(st.outcomes[oAdmitted]) / secs, Shed: float64(st.outcomes[oShed]) / secs,
		Blocked: float64(st.outcomes[oBlocked]) / secs, Level: d.effective}
	d.histPos = (d.histPos + 1) % len(d.hist)
	d.histLen = min(d.histLen+1, len(d.hist))

	d.sum.add(st)
	inEpisode := d.ep != nil && d.ep.active
	if inEpisode || d.effective > Normal || end.Sub(d.sumStart) >= c.SummaryEvery {
		if d.sum.total > 0 || inEpisode || d.effective > Normal {
			d.emitSummary(end, r, inEpisode)
		}
		d.sum, d.sumStart = windowStats{}, end
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (e *episodeState) merge(t *tops) {
	for _, x := range t.addr {
		e.addr.addErr(x.key, x.hash, x.count, x.err, x.aux)
	}
	for _, x := range t.prefix {
		e.prefix.addErr(x.key, x.hash, x.count, x.err, x.aux)
	}
	for _, x := range t.net {
		e.net.addErr(x.key, x.hash, x.count, x.err, x.aux)
	}
	for _, x := range t.path {
		e.path.addErr(x.key, x.hash, x.count, x.err, x.aux)
	}
	for _, x := range t.agent {
		e.agent.addErr(x.key, x.hash, x.count, x.err, x.aux)
	}
}

func (d *Detector) setAuto(t time.Time, l Level, reason string, r, b float64) {
	d.auto = l
	d.levelSince = t
	d.applyLevel(t, reason, true, "rate", r, "baseline", b)
}

// applyLevel recomputes the effective level and emits a level_change when it
// changed, or always when force (the automatic level changed, or the
// operator used the switch).
func (d *Detector) applyLevel(t time.Time, reason string, force bool, kv ...any) {
	eff := d.auto
	if d.manualOn {
		eff = max(eff, d.manual)
	}
	if eff == d.effective && !force {
		return
	}
	from := d.effective
	d.effective = eff
	d.level.Store(int32(eff))
	if d.ep != nil && d.ep.active {
		d.ep.ep.MaxLevel = max(d.ep.ep.MaxLevel, eff)
	}
	f := map[string]any{"from": from, "to": eff, "auto": d.auto, "manual": d.manualOn}
	if d.manualOn {
		f["manual_level"] = d.manual
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i].(string)] = kv[i+1]
	}
	ev := Event{Time: t, Kind: "level_change", Level: eff, Reason: reason, Fields: f}
	if d.ep != nil && d.ep.active {
		ev.Episode = d.episodeCopy()
	}
	d.emit(ev)
	if eff < TightenBuckets {
		d.clearBlocked()
	}
}

func (d *Detector) clearBlocked() {
	if len(d.blocked) > 0 || len(*d.blockedP.Load()) > 0 {
		clear(d.blocked)
		empty := []netip.Prefix{}
		d.blockedP.Store(&empty)
	}
}

// updateBlocked refreshes the block list from the window just closed.
// Only a hot window adds prefixes: once the flood has stopped, while the
// ladder cools down, the few networks still sending anonymous requests
// are the ones coming back to sign in (a school's NAT after the attack),
// and in a quiet window they are easily 5 % of the traffic.
func (d *Detector) updateBlocked(end time.Time, total uint64, hot bool) {
	if d.effective < TightenBuckets {
		d.clearBlocked()
		return
	}
	c := &d.cfg
	thr := max(uint64(math.Ceil(c.BlockShare*float64(total))), 1)
	if !hot {
		thr = math.MaxUint64 // keep, refresh nothing, expire after CoolDown
	}
	// Networks first: a /16 is blocked whole unless a few of its /24s above
	// the threshold carry half of its suspect traffic.
	for _, n := range d.prev.net {
		if n.aux < thr {
			continue
		}
		var inside uint64
		for _, p := range d.prev.prefix {
			if p.aux >= thr && n.key.Contains(p.key.Addr()) {
				inside += p.aux
			}
		}
		if 2*inside >= n.aux {
			continue // its /24s below
		}
		d.blocked[n.key] = blockEntry{last: end, count: n.aux}
	}
	for _, p := range d.prev.prefix {
		if p.aux < thr {
			continue
		}
		covered := false
		for q := range d.blocked {
			if q.Bits() < p.key.Bits() && q.Contains(p.key.Addr()) {
				covered = true
				break
			}
		}
		if !covered {
			d.blocked[p.key] = blockEntry{last: end, count: p.aux}
		}
	}
	for p, e := range d.blocked {
		if end.Sub(e.last) > c.CoolDown {
			delete(d.blocked, p)
		}
	}
	list := make([]netip.Prefix, 0, len(d.blocked))
	for p := range d.blocked {
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b netip.Prefix) int {
		ea, eb := d.blocked[a], d.blocked[b]
		if c := eb.last.Compare(ea.last); c != 0 {
			return c
		}
		if ea.count != eb.count {
			if ea.count > eb.count {
				return -1
			}
			return 1
		}
		return a.Compare(b)
	})
	if len(list) > c.MaxBlocked {
		for _, p := range list[c.MaxBlocked:] {
			delete(d.blocked, p)
		}
		list = list[:c.MaxBlocked]
	}
	d.blockedP.Store(&list)
}

func (d *Detector) emit(e Event) {
	d.seq++
	e.Seq = d.seq
	e.Level = d.effective
	if d.cfg.Sink != nil {
		d.cfg.Sink.Emit(e)
	}
}

func (d *Detector) emitSummary(end time.Time, r float64, inEpisode bool) {
	outcomes := make(map[string]uint64, numOutcomes)
	for i, n := range d.sum.outcomes {
		if n > 0 {
			outcomes[outcomeNames[i]] = n
		}
	}
	classes := make(map[string]uint64, numClasses)
	for i, n := range d.sum.classes {
		if n > 0 {
			classes[classNames[i]] = n
		}
	}
	f := map[string]any{
		"since":    d.sumStart,
		"until":    end,
		"requests": d.sum.total,
		"rate":     r,
		"baseline": d.baseline,
		"auto":     d.auto,
		"outcomes": outcomes,
		"classes":  classes,
	}
	if bl := *d.blockedP.Load(); len(bl) > 0 {
		f["blocked_prefixes"] = slices.Clone(bl)
	}
	ev := Event{Time: end, Kind: "decision_summary", Level: d.effective, Fields: f}
	if inEpisode {
		n := d.cfg.TopN
		f["episode_id"] = d.ep.ep.ID
		f["top_sources"] = talkers(d.prev.addr, n, fmtAddr)
		f["top_prefixes"] = talkers(d.prev.prefix, n, fmtPrefix)
		f["top_paths"] = talkers(d.prev.path, n, fmtStr)
	}
	d.emit(ev)
}

func (d *Detector) episodeCopy() *Episode {
	e := d.ep
	c := e.ep
	n := d.cfg.TopN
	var buf tops
	c.TopSources = talkers(e.addr.top(buf.addr, n, cmpAddr), n, fmtAddr)
	c.TopPrefixes = talkers(e.prefix.top(buf.prefix, n, cmpPrefix), n, fmtPrefix)
	c.TopNets = talkers(e.net.top(buf.net, n, cmpPrefix), n, fmtPrefix)
	c.TopPaths = talkers(e.path.top(buf.path, n, cmpStrKey), n, fmtStr)
	c.TopAgents = talkers(e.agent.top(buf.agent, n, cmpStrKey), n, fmtStr)
	return &c
}
