package detect

import (
	"net/netip"
	"slices"
	"time"
)

// Episode is one attack (or surge) episode.
type Episode struct {
	ID          string    // "ep-<start, UTC>-<n>"
	Start       time.Time // start of the first hot window
	End         time.Time // start of the first of the cold windows that ended it; zero while open
	PeakRate    float64   // highest window rate, requests per second
	Requests    uint64    // requests from Start to End
	TopSources  []Talker  // addresses
	TopPrefixes []Talker  // /24 or /56
	TopNets     []Talker  // /16 or /48
	TopPaths    []Talker
	TopAgents   []Talker
	MaxLevel    Level   // highest effective level during the episode
	Baseline    float64 // the (frozen) baseline, requests per second
}

// Talker is a heavy hitter: Count is the Space-Saving estimate and Count-Err
// a guaranteed lower bound of its requests.
type Talker struct {
	Key   string
	Count uint64
	Err   uint64
}

// Rates are requests per second by outcome over one window.
type Rates struct {
	Total, Admitted, Shed, Challenged, Queued, Blocked, Limited, Other float64
}

// ClassRates are requests per second by class over one window.
type ClassRates struct {
	Staff, Member, Pass, Allowlisted, Anonymous, Other float64
}

// Snapshot is the detector's state for the admin page and metrics.
type Snapshot struct {
	Time           time.Time // end of the last closed window (zero before the first)
	Window         time.Duration
	Level          Level // effective
	AutoLevel      Level
	Manual         bool
	ManualLevel    Level
	Rates          Rates // last closed window
	Classes        ClassRates
	Baseline       float64
	EnterThreshold float64 // rate above which a window is hot
	ExitThreshold  float64 // rate below which a window is cold
	BaselineFrozen bool    // an episode (or a candidate) is open
	// Top talkers of the last closed window, largest first (at most TopK).
	TopAddrs    []Talker
	TopPrefixes []Talker // /24 or /56
	TopNets     []Talker // /16 or /48
	TopPaths    []Talker
	TopAgents   []Talker
	Episode     *Episode       // the open episode, nil if none
	LastEpisode *Episode       // the last ended one
	Episodes    uint64         // episodes started so far
	Blocked     []netip.Prefix // BlockedPrefixes
	History     []Point        // last History windows, oldest first
}

// Snapshot copies the detector's state.
func (d *Detector) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &d.cfg
	secs := c.Window.Seconds()
	st := &d.prevStats
	B := max(d.baseline, c.MinRate/c.EnterFactor)
	s := Snapshot{
		Time:        d.prevEnd,
		Window:      c.Window,
		Level:       d.effective,
		AutoLevel:   d.auto,
		Manual:      d.manualOn,
		ManualLevel: d.manual,
		Rates: Rates{
			Total:      float64(st.total) / secs,
			Admitted:   float64(st.outcomes[oAdmitted]) / secs,
			Shed:       float64(st.outcomes[oShed]) / secs,
			Challenged: float64(st.outcomes[oChallenged]) / secs,
			Queued:     float64(st.outcomes[oQueued]) / secs,
			Blocked:    float64(st.outcomes[oBlocked]) / secs,
			Limited:    float64(st.outcomes[oLimited]) / secs,
			Other:      float64(st.outcomes[oOther]) / secs,
		},
		Classes: ClassRates{
			Staff:       float64(st.classes[cStaff]) / secs,
			Member:      float64(st.classes[cMember]) / secs,
			Pass:        float64(st.classes[cPass]) / secs,
			Allowlisted: float64(st.classes[cAllowlisted]) / secs,
			Anonymous:   float64(st.classes[cAnonymous]) / secs,
			Other:       float64(st.classes[cOther]) / secs,
		},
		Baseline:       d.baseline,
		EnterThreshold: c.EnterFactor * B,
		ExitThreshold:  c.ExitFactor * B,
		BaselineFrozen: d.ep != nil,
		TopAddrs:       talkers(d.prev.addr, c.TopK, fmtAddr),
		TopPrefixes:    talkers(d.prev.prefix, c.TopK, fmtPrefix),
		TopNets:        talkers(d.prev.net, c.TopK, fmtPrefix),
		TopPaths:       talkers(d.prev.path, c.TopK, fmtStr),
		TopAgents:      talkers(d.prev.agent, c.TopK, fmtStr),
		Episodes:       d.episodes,
		Blocked:        slices.Clone(*d.blockedP.Load()),
		History:        make([]Point, 0, d.histLen),
	}
	if d.ep != nil && d.ep.active {
		s.Episode = d.episodeCopy()
	}
	if d.lastEp != nil {
		e := *d.lastEp
		s.LastEpisode = &e
	}
	for i := range d.histLen {
		s.History = append(s.History, d.hist[(d.histPos-d.histLen+i+len(d.hist))%len(d.hist)])
	}
	return s
}

func talkers[K comparable](r []ranked[K], n int, f func(*K) string) []Talker {
	n = min(n, len(r))
	t := make([]Talker, n)
	for i := range n {
		t[i] = Talker{Key: f(&r[i].key), Count: r[i].count, Err: r[i].err}
	}
	return t
}

func fmtAddr(a *netip.Addr) string     { return a.String() }
func fmtPrefix(p *netip.Prefix) string { return p.String() }
func fmtStr(k *strKey) string {
	if k.n == 0 {
		return "(empty)"
	}
	return k.String()
}
