package sfu

import "sync/atomic"

// Stats is a snapshot of a node's counters, ready to export as Prometheus
// metrics: gauges first, then counters that only grow.
type Stats struct {
	// Gauges.
	Routers         int  // live classes with a router
	Peers           int  // participants joined
	Publishers      int  // participants with a publisher connection
	Subscribers     int  // participants receiving at least one track
	Tracks          int  // published tracks being forwarded
	DownTracks      int  // outgoing tracks (one per subscriber per forwarded track)
	Admitted        int  // admission slots in use
	Waiting         int  // joins waiting in the admission line
	AdmissionHeld   bool // the node dropped packets lately: joins wait whatever the budget
	TURNAllocations int  // relays allocated on the embedded TURN server

	// Counters.
	PacketsIn           uint64 // RTP packets received from publishers
	BytesIn             uint64
	PacketsForwarded    uint64 // RTP packets written to subscribers
	BytesForwarded      uint64
	PacketsDropped      uint64 // packets not written: a fan-out worker's queue full (slow subscribers) or a write refused
	NACKs               uint64 // packets subscribers asked to resend
	Retransmitted       uint64 // of those, resent from the track buffer
	PLIsForwarded       uint64 // keyframe requests sent to publishers
	PLIsSuppressed      uint64 // keyframe requests held back by the rate limit
	PublicationsRefused uint64 // tracks or offers refused (not permitted, unknown kind)
	ModeChanges         uint64 // subscriber mode changes (degradation ladder and caps)
	AdmissionAdmitted   uint64
	AdmissionQueued     uint64 // joins that had to wait
	AdmissionRefused    uint64 // joins refused (line full or wait over)
	BadSignalling       uint64 // malformed SDP or ICE candidates from clients
	TURNRefused         uint64 // TURN permissions refused (a peer that is not this node)
}

// counters are the node-wide counters. The per-packet ones live in the
// fan-out workers and tracks instead, so that writers on different cores
// never share a cache line; Stats adds them up.
type counters struct {
	dropped        atomic.Uint64
	overflowed     atomic.Uint64 // of dropped, those of a fan-out worker's full queue: the node's CPUs are short
	nacks          atomic.Uint64
	retransmitted  atomic.Uint64
	pliForwarded   atomic.Uint64
	pliSuppressed  atomic.Uint64
	refused        atomic.Uint64
	modeChanges    atomic.Uint64
	badSignalling  atomic.Uint64
	turnRefused    atomic.Uint64
	retiredIn      atomic.Uint64 // packets in of tracks that ended
	retiredBytesIn atomic.Uint64
	retiredFwd     atomic.Uint64 // packets forwarded inline by tracks that ended
	retiredFwdB    atomic.Uint64
}

// flow counts packets and bytes written by one goroutine.
type flow struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
	_       [48]byte // keep neighbouring flows off this cache line
}

// Stats returns a snapshot of the node's counters. Safe for concurrent
// use.
func (n *Node) Stats() Stats {
	var s Stats
	c := &n.stats
	s.PacketsDropped = c.dropped.Load()
	s.NACKs = c.nacks.Load()
	s.Retransmitted = c.retransmitted.Load()
	s.PLIsForwarded = c.pliForwarded.Load()
	s.PLIsSuppressed = c.pliSuppressed.Load()
	s.PublicationsRefused = c.refused.Load()
	s.ModeChanges = c.modeChanges.Load()
	s.BadSignalling = c.badSignalling.Load()
	s.TURNRefused = c.turnRefused.Load()
	s.PacketsIn = c.retiredIn.Load()
	s.BytesIn = c.retiredBytesIn.Load()
	s.PacketsForwarded = c.retiredFwd.Load()
	s.BytesForwarded = c.retiredFwdB.Load()
	for _, w := range n.fan.workers {
		s.PacketsForwarded += w.out.packets.Load()
		s.BytesForwarded += w.out.bytes.Load()
	}
	s.AdmissionAdmitted = n.adm.admitted.Load()
	s.AdmissionQueued = n.adm.queued.Load()
	s.AdmissionRefused = n.adm.refused.Load()
	s.Admitted, s.Waiting, s.AdmissionHeld = n.adm.snapshot()
	if n.turn != nil {
		s.TURNAllocations = n.turn.AllocationCount()
	}

	for _, r := range n.routerList() {
		s.Routers++
		for _, p := range r.peerList() {
			s.Peers++
			ps := p.stats()
			if ps.publisher {
				s.Publishers++
			}
			if ps.downTracks > 0 {
				s.Subscribers++
			}
			s.DownTracks += ps.downTracks
			s.Tracks += ps.forwarded
			s.PacketsIn += ps.packetsIn
			s.BytesIn += ps.bytesIn
			s.PacketsForwarded += ps.inlinePackets
			s.BytesForwarded += ps.inlineBytes
		}
	}
	return s
}
