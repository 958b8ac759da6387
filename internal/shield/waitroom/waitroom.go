// Package waitroom is the shield's fair waiting room: when the backend is at
// capacity, newcomers queue in arrival order, see their position and an
// estimated wait on a page that refreshes itself, and are let in as capacity
// frees. There is never a "come back later" wall: a wall makes everyone
// retry at once (the retry storm that took ENTs down in April 2021), while a
// queue that keeps each visitor's place lets them wait calmly.
//
// # Stateless tickets
//
// A visitor's place is a signed ticket (HMAC-SHA256, key from the caller)
// kept in the TicketCookie. It carries the arrival time, which is the FIFO
// order key and never changes; the time of the last refresh; a random id;
// and a version. Each visit of the queue page re-signs the ticket with a new
// last-refresh time. A place is kept for Config.Grace (default 2 minutes)
// after the last refresh: an older ticket is refused as expired and its
// holder starts again at the back. The room stores nothing per ticket.
//
// # Order, positions and ETAs
//
// The room keeps a "now serving" watermark: a point in arrival time. A
// ticket is admitted when its arrival time is before the watermark, so
// admission is FIFO by construction: no ticket is ever let in before one
// that arrived earlier. Admit(n) moves the watermark over the next n waiting
// arrivals; SetAdmitRate moves it continuously at a rate. The shield's
// admission controller calls either as slots free up; both are cheap and
// safe for concurrent use.
//
// To know how far to move the watermark and how many people are ahead of a
// ticket, the room counts live tickets per arrival time in a histogram of
// fixed size: one bucket per Config.Bucket (100 ms) over Config.Window
// (1 hour), grouped in blocks for fast range sums. A ticket is counted in
// its arrival bucket the first time it comes back (its first refresh), and
// each bucket splits its count by the epoch (a third of the grace period) of
// each ticket's last refresh, so tickets whose holders stopped refreshing
// drop out of the counts between 1 and 4/3 grace periods later. Two effects
// follow. Cookie-less floods, which never come back with their ticket, are
// never counted and so never slow the queue. And abandoned places stop
// costing admission slots soon after their grace period ends.
//
// A ticket's position is the number of live arrivals between the watermark
// and its arrival time (within a bucket, arrivals are assumed evenly spread,
// so positions are estimates at 100 ms granularity, but order is exact).
// Its ETA is (position+1) divided by the measured admission rate, an
// exponentially weighted moving average (time constant 20 s) of arrivals
// the watermark moved over per second; before any admission is measured the
// rate set by SetAdmitRate is used, or the ETA is unknown (negative). When
// the watermark passes every counted arrival, it jumps to the present: all
// tickets issued until then are admitted at their next refresh.
//
// # Restarts
//
// Tickets and passes depend only on the key: after a restart (a new Room
// with the same key) every ticket still parses and keeps its arrival time.
// The histogram starts empty and the watermark starts at the beginning of
// the window, so nobody is admitted by the restart itself. Each ticket
// whose last refresh predates the new room is counted again at its
// next visit, in its original arrival bucket, so order is rebuilt as holders
// refresh (within about 30 s, the longest refresh interval). For a warm-up
// period of WarmUp after the restart the watermark only moves over counted
// arrivals and never jumps to the present, so tickets not yet seen again
// cannot all be let in at once. Someone admitted just before the restart but
// not yet holding a pass is at the head of the queue again; passes already
// issued remain valid. Changing the key invalidates every ticket and pass:
// everyone queues again, in the order they come back.
//
// # Replay
//
// A stateless ticket can be copied. A copy shares its original's place, so
// copying cannot jump the queue, but many copies of one early ticket could
// each be admitted. ServeHTTP therefore issues at most
// Config.MaxPassesPerTicket passes per ticket id in a pass lifetime (a
// bounded map, two generations of at most 65,536 ids each); beyond that the
// copy gets a new ticket at the back. Passes can be copied too: the shield
// rate-limits pass holders by Pass.ID.
//
// # Memory bound
//
// The histogram has Window/Bucket buckets (rounded up to a whole number of
// blocks) of 20 bytes each: 36,099 buckets and 722 KB with the defaults, at
// most 1<<20 buckets (21 MB) whatever the configuration. The replay map
// holds at most 131,072 ids (2.3 MB per full generation measured on amd64,
// under 5 MB). A default room thus stays under 6 MB whatever the traffic.
// Tickets arriving earlier than the window are treated as admitted: Window
// is also the longest wait the room can order.
//
// # Use from the shield
//
// When the admission controller has no slot for a new or anonymous visitor,
// or Stats(now).Waiting > 0 (so that newcomers do not overtake people
// already queuing), the shield calls ServeHTTP instead of the upstream
// handler. Each time k slots free up it calls Admit(k), or it sets
// SetAdmitRate to the spare throughput it measures. Holders of a valid pass
// (ParsePass on the PassCookie) go through as the pass-holder class, with
// their own rate limit keyed by Pass.ID. Stats and Check cost about a
// microsecond; the room's single lock is held for no longer, except once
// per refresh epoch (Grace/3) when retiring an epoch walks the histogram
// (36,099 buckets, tens of microseconds).
package waitroom

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultGrace              = 2 * time.Minute
	DefaultWindow             = time.Hour
	DefaultBucket             = 100 * time.Millisecond
	DefaultPassTTL            = 15 * time.Minute
	DefaultMaxPassesPerTicket = 3
)

// WarmUp is how long after its creation a Room only moves its watermark
// over counted arrivals (see Restarts in the package documentation). It
// exceeds the longest refresh interval the queue page asks for (30 s).
const WarmUp = 45 * time.Second

const (
	nSlots       = 4 // refresh epochs tracked per bucket; an epoch is Grace/3
	maxBuckets   = 1 << 20
	rateTauMs    = 20000 // EWMA time constant of the admission rate
	redeemCap    = 1 << 16
	minGrace     = 30 * time.Second
	minKeyLength = 16
)

// Config tunes a Room. Zero fields take the defaults above.
type Config struct {
	Grace              time.Duration // place kept after the last refresh; ≥ 30 s
	Window             time.Duration // span of arrival times the queue orders (longest wait)
	Bucket             time.Duration // histogram resolution; a whole number of milliseconds
	PassTTL            time.Duration // lifetime of an admission pass
	MaxPassesPerTicket int           // passes ServeHTTP issues per ticket id (copies beyond go to the back)
	Secure             bool          // set Secure on cookies (HTTPS)
	Stylesheet         string        // URL of the stylesheet the page links to ("" for none), e.g. "/static/preau.css"
	Now                func() time.Time
}

// Room is a waiting room. All methods are safe for concurrent use.
type Room struct {
	cfg                Config
	ticketMAC, passMAC *signer
	startMs            int64
	graceMs, bucketMs  int64
	epochMs            int64
	n, blk             int64 // buckets in the ring; buckets per block (divides n)
	warmUntilMs        int64
	redeem             redeemSet
	stats              counters
	mu                 sync.Mutex
	live               []int32         // live count per bucket (sum of slots)
	slots              [][nSlots]int32 // live count per bucket and refresh epoch
	blocks             []int64         // sum of live per block
	head               int64           // newest absolute bucket (ms / bucketMs) in the ring
	epoch              int64           // current refresh epoch (ms / epochMs)
	lastMs             int64           // latest time seen; time never goes back for the room
	wb                 int64           // watermark bucket (absolute)
	wf                 float64         // fraction of bucket wb's time span behind the watermark
	rate               float64         // set by SetAdmitRate
	hint               float64         // set by SetETAHint
	ewma               float64         // measured admissions per second
	ewmaOK             bool            // ewma holds a measurement
	sampleMs           int64           // start of the current rate sample
	consumed           float64         // arrivals admitted in the current sample
}

type counters struct {
	issued, refreshed, admitted          atomic.Uint64
	malformed, badMAC, expired, replayed atomic.Uint64
}

// New makes a room whose tickets and passes are signed with key (at least
// 16 bytes; 32 random bytes recommended, kept across restarts).
func New(key []byte, cfg Config) (*Room, error) {
	if len(key) < minKeyLength {
		return nil, fmt.Errorf("waitroom: key of %d bytes, need at least %d", len(key), minKeyLength)
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Bucket == 0 {
		cfg.Bucket = DefaultBucket
	}
	if cfg.PassTTL == 0 {
		cfg.PassTTL = DefaultPassTTL
	}
	if cfg.MaxPassesPerTicket == 0 {
		cfg.MaxPassesPerTicket = DefaultMaxPassesPerTicket
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var errs []error
	if cfg.Grace < minGrace {
		errs = append(errs, fmt.Errorf("grace %v < %v", cfg.Grace, minGrace))
	}
	if cfg.Bucket < time.Millisecond || cfg.Bucket%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("bucket %v is not a whole number of milliseconds", cfg.Bucket))
	} else if cfg.Window < 64*cfg.Bucket || cfg.Window/cfg.Bucket > maxBuckets {
		errs = append(errs, fmt.Errorf("window %v must hold between 64 and %d buckets of %v", cfg.Window, maxBuckets, cfg.Bucket))
	}
	if cfg.PassTTL < 0 || cfg.MaxPassesPerTicket < 0 {
		errs = append(errs, errors.New("negative pass lifetime or pass count"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("waitroom: %w", err)
	}

	r := &Room{
		cfg:       cfg,
		ticketMAC: newSigner(key, "preau/shield/waitroom/ticket/v1"),
		passMAC:   newSigner(key, "preau/shield/waitroom/pass/v1"),
		graceMs:   cfg.Grace.Milliseconds(),
		bucketMs:  cfg.Bucket.Milliseconds(),
	}
	r.epochMs = max(r.graceMs/3, 1)
	want := int64(cfg.Window / cfg.Bucket)
	r.blk = max(int64(math.Sqrt(float64(want))), 8)
	r.n = (want + r.blk - 1) / r.blk * r.blk
	r.live = make([]int32, r.n)
	r.slots = make([][nSlots]int32, r.n)
	r.blocks = make([]int64, r.n/r.blk)

	now := cfg.Now().UnixMilli()
	r.startMs = now
	r.warmUntilMs = now + WarmUp.Milliseconds()
	r.lastMs = now
	r.head = now / r.bucketMs
	r.epoch = now / r.epochMs
	r.wb = r.head - r.n + 1
	r.sampleMs = now
	r.redeem = redeemSet{period: max(cfg.PassTTL.Milliseconds(), 1), rotated: now}
	return r, nil
}

func (r *Room) now() time.Time { return r.cfg.Now() }

func (r *Room) idx(b int64) int64 { return b % r.n }

func (r *Room) blockOf(b int64) int64 { return (b % r.n) / r.blk }

// add changes the live count of bucket b, epoch slot s, by d (never below 0).
func (r *Room) add(b int64, s int, d int32) {
	i := r.idx(b)
	v := r.slots[i][s] + d
	if v < 0 {
		d -= v
		v = 0
	}
	r.slots[i][s] = v
	r.live[i] += d
	r.blocks[i/r.blk] += int64(d)
}

// advance moves the room's clock to now: slides the window, retires refresh
// epochs older than the grace period, pays rate-mode admissions and samples
// the admission rate. Time never goes back: an older now changes nothing.
func (r *Room) advance(now int64) {
	if now <= r.lastMs {
		return
	}
	if h := now / r.bucketMs; h > r.head {
		if h-r.head >= r.n {
			clear(r.live)
			clear(r.slots)
			clear(r.blocks)
		} else {
			for b := r.head + 1; b <= h; b++ {
				i := r.idx(b)
				r.blocks[i/r.blk] -= int64(r.live[i])
				r.live[i] = 0
				r.slots[i] = [nSlots]int32{}
			}
		}
		r.head = h
		if ws := h - r.n + 1; r.wb < ws {
			r.wb, r.wf = ws, 0
		}
	}
	if e := now / r.epochMs; e > r.epoch {
		// Slot e%nSlots held epoch e-nSlots, whose tickets are now at least
		// (nSlots-1) epochs = one grace period old: expired.
		for x := max(r.epoch+1, e-nSlots+1); x <= e; x++ {
			s := int(x % nSlots)
			for i := range r.slots {
				if v := r.slots[i][s]; v != 0 {
					r.slots[i][s] = 0
					r.live[i] -= v
					r.blocks[int64(i)/r.blk] -= int64(v)
				}
			}
		}
		r.epoch = e
	}
	if r.rate > 0 {
		r.consume(r.rate*float64(now-r.lastMs)/1000, r.lastMs, now)
	}
	r.lastMs = now
	if dt := now - r.sampleMs; dt >= 1000 {
		if r.consumed > 0 {
			inst := r.consumed * 1000 / float64(dt)
			if !r.ewmaOK {
				r.ewma, r.ewmaOK = inst, true
			} else {
				r.ewma += (1 - math.Exp(-float64(dt)/rateTauMs)) * (inst - r.ewma)
			}
		} else if r.ewmaOK && r.waiting() > 0 {
			// Admissions stalled while people wait: the rate decays.
			r.ewma -= (1 - math.Exp(-float64(dt)/rateTauMs)) * r.ewma
		}
		r.consumed = 0
		r.sampleMs = now
	}
}

// sum returns the live arrivals in absolute buckets lo..hi (at most one
// ring's worth): a partial block, whole blocks, a partial block.
func (r *Room) sum(lo, hi int64) float64 {
	cnt := hi - lo + 1
	if cnt <= 0 {
		return 0
	}
	cnt = min(cnt, r.n)
	i := lo % r.n
	var s int64
	if off := i % r.blk; off != 0 {
		k := min(r.blk-off, cnt)
		for _, v := range r.live[i : i+k] {
			s += int64(v)
		}
		i, cnt = (i+k)%r.n, cnt-k
	}
	nb := int64(len(r.blocks))
	bi := i / r.blk
	for range cnt / r.blk {
		s += r.blocks[bi]
		if bi++; bi == nb {
			bi = 0
		}
	}
	i, cnt = bi*r.blk, cnt%r.blk
	for _, v := range r.live[i : i+cnt] {
		s += int64(v)
	}
	return float64(s)
}

// waiting returns the live arrivals after the watermark.
func (r *Room) waiting() float64 {
	return float64(r.live[r.idx(r.wb)])*(1-r.wf) + r.sum(r.wb+1, r.head)
}

// consume moves the watermark over credit live arrivals, the admissions of
// the time from..now.
func (r *Room) consume(credit float64, from, now int64) {
	if !r.ewmaOK && r.consumed == 0 {
		// The first measured sample starts with the first admissions, not
		// with the idle time before them.
		defer func() {
			if r.consumed > 0 {
				r.sampleMs = from
			}
		}()
	}
	markB, markF := r.wb, r.wf // just after the last arrival moved over
	for credit > 0 && r.wb <= r.head {
		if r.wf == 0 && r.wb%r.blk == 0 && r.wb+r.blk-1 <= r.head {
			if bs := float64(r.blocks[r.blockOf(r.wb)]); bs <= credit {
				credit -= bs
				r.consumed += bs
				r.wb += r.blk
				if bs > 0 {
					markB, markF = r.wb, 0
				}
				continue
			}
		}
		c := float64(r.live[r.idx(r.wb)])
		if rem := c * (1 - r.wf); rem <= credit {
			credit -= rem
			r.consumed += rem
			r.wb, r.wf = r.wb+1, 0
			if rem > 0 {
				markB, markF = r.wb, 0
			}
			continue
		}
		r.wf += credit / c
		r.consumed += credit
		credit = 0
		markB, markF = r.wb, r.wf
	}
	if r.wb > r.head {
		if now < r.warmUntilMs {
			// Tickets from before a restart may not have been counted again
			// yet: stop right after the last counted arrival.
			r.wb, r.wf = markB, markF
			if r.wb > r.head {
				r.wb, r.wf = r.head, 1
			}
		} else {
			// Nobody counted is waiting: serve everyone who arrived until
			// now, inclusive.
			r.wb = r.head
			r.wf = min(float64(now+1-r.head*r.bucketMs)/float64(r.bucketMs), 1)
		}
	}
}

// Admit lets the next n waiting arrivals in, in arrival order, by moving the
// watermark over them. The shield's admission controller calls it when n
// slots free up; if fewer than n are waiting, everyone waiting is admitted
// and the rest of n is not banked. Admitted visitors get their pass at their
// next refresh of the queue page (within 5 to 30 s).
func (r *Room) Admit(n int) {
	if n <= 0 {
		return
	}
	now := r.now().UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(now)
	now = max(now, r.lastMs)
	r.consume(float64(n), now, now)
}

// SetETAHint gives the admission rate the controller intends (visitors
// per second), used for the ETA only while the room has measured none:
// the first visitors of a flood, queued before anyone was admitted, would
// otherwise be told "being calculated" and never see an estimate if they
// are let in at their first refresh. It moves nothing.
func (r *Room) SetETAHint(perSecond float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		perSecond = 0
	}
	r.hint = perSecond
}

// SetAdmitRate makes the watermark advance continuously by perSecond
// arrivals per second (in addition to Admit), paid whenever the room is
// used. Zero, negative or NaN stops it. The controller can call it as often
// as it re-estimates the backend's spare throughput.
func (r *Room) SetAdmitRate(perSecond float64) {
	now := r.now().UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(now)
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		perSecond = 0
	}
	r.rate = perSecond
}

// Refresh re-signs t with now as its last refresh (same arrival time and
// id) and records that its holder is still there: the ticket is counted in
// its arrival bucket under the current refresh epoch. A ticket last
// refreshed before this Room existed (a restart) is counted again. t must
// come from Parse (or Issue); ServeHTTP calls Refresh on every visit.
func (r *Room) Refresh(t Ticket, now time.Time) Ticket {
	nowMs := now.UnixMilli()
	r.mu.Lock()
	r.advance(nowMs)
	nowMs = max(nowMs, r.lastMs)
	b := min(t.Arrival.UnixMilli()/r.bucketMs, r.head)
	if b > r.head-r.n {
		last := t.LastRefresh.UnixMilli()
		if t.counted && last >= r.startMs {
			if e := last / r.epochMs; e > r.epoch-nSlots && e <= r.epoch {
				r.add(b, int(e%nSlots), -1)
			}
		}
		r.add(b, int(r.epoch%nSlots), 1)
	}
	r.mu.Unlock()
	t.LastRefresh = time.UnixMilli(nowMs)
	t.counted = true
	r.sealTicket(&t)
	r.stats.refreshed.Add(1)
	return t
}

// Check tells whether t is admitted and, if not, the number of live
// arrivals ahead of it and the estimated wait (negative when no admission
// rate is known yet). It does not refresh t.
func (r *Room) Check(t Ticket, now time.Time) (admitted bool, position int, eta time.Duration) {
	a := t.Arrival.UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(now.UnixMilli())
	b := a / r.bucketMs
	f := float64(a-b*r.bucketMs) / float64(r.bucketMs)
	if b <= r.head-r.n || b < r.wb || (b == r.wb && f < r.wf) {
		return true, 0, 0
	}
	if b > r.head {
		b, f = r.head, 1
	}
	var pos float64
	if b == r.wb {
		pos = float64(r.live[r.idx(b)]) * (f - r.wf)
	} else {
		pos = float64(r.live[r.idx(r.wb)])*(1-r.wf) + r.sum(r.wb+1, b-1) + float64(r.live[r.idx(b)])*f
	}
	position = max(int(pos), 0)
	return false, position, r.eta(position)
}

// eta estimates the wait of a ticket with position arrivals ahead.
func (r *Room) eta(position int) time.Duration {
	rate := r.ewma
	if !r.ewmaOK || rate < 1e-3 {
		rate = r.rate
	}
	if rate < 1e-3 {
		rate = r.hint
	}
	if rate < 1e-3 {
		return -1
	}
	s := float64(position+1) / rate
	if s > 24*3600 {
		s = 24 * 3600
	}
	return time.Duration(s * float64(time.Second))
}

// Stats is a snapshot for metrics and the admin page.
type Stats struct {
	Waiting   int       // live arrivals behind the watermark's front (the queue length)
	AdmitRate float64   // measured admissions per second (EWMA)
	SetRate   float64   // rate given to SetAdmitRate
	Watermark time.Time // arrivals before this are admitted

	Issued, Refreshed, Admitted uint64 // tickets issued, refreshes, passes issued
	Malformed, BadMAC, Expired  uint64 // tickets refused by ServeHTTP
	Replayed                    uint64 // tickets refused a further pass (copies)
}

// Stats returns the room's state at now.
func (r *Room) Stats(now time.Time) Stats {
	r.mu.Lock()
	r.advance(now.UnixMilli())
	s := Stats{
		Waiting:   int(r.waiting()),
		AdmitRate: r.ewma,
		SetRate:   r.rate,
		Watermark: time.UnixMilli(r.wb*r.bucketMs + int64(r.wf*float64(r.bucketMs))),
	}
	r.mu.Unlock()
	s.Issued = r.stats.issued.Load()
	s.Refreshed = r.stats.refreshed.Load()
	s.Admitted = r.stats.admitted.Load()
	s.Malformed = r.stats.malformed.Load()
	s.BadMAC = r.stats.badMAC.Load()
	s.Expired = r.stats.expired.Load()
	s.Replayed = r.stats.replayed.Load()
	return s
}

// redeemSet counts passes issued per ticket id over the last one to two
// pass lifetimes, in two generations of at most redeemCap ids each. When a
// generation is full, new ids are not tracked (fail open: a flood of fresh
// tickets must not lock out genuine ones).
type redeemSet struct {
	mu        sync.Mutex
	cur, prev map[uint64]uint8
	rotated   int64
	period    int64
}

// take records one more pass for id and reports whether it is within max.
func (s *redeemSet) take(id uint64, now int64, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now-s.rotated >= s.period {
		if now-s.rotated >= 2*s.period {
			s.prev = nil
		} else {
			s.prev = s.cur
		}
		s.cur = nil
		s.rotated = now
	}
	if s.cur == nil {
		s.cur = make(map[uint64]uint8)
	}
	c, seen := s.cur[id]
	if int(c)+int(s.prev[id]) >= limit {
		return false
	}
	if !seen && len(s.cur) >= redeemCap {
		return true
	}
	s.cur[id] = c + 1
	return true
}
