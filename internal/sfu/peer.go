package sfu

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// maxPendingCandidates bounds the candidates kept while a connection has
// no remote description yet.
const maxPendingCandidates = 64

// gatherWait bounds the wait for the node's own candidates.
const gatherWait = 2 * time.Second

// Peer is one participant of a class, with two PeerConnections: the
// publisher (the client offers what it sends) and the subscriber (the node
// offers what it forwards). Two connections, each with one offerer, never
// glare. Its methods are safe for concurrent use.
type Peer struct {
	id     string
	router *Router
	node   *Node
	cb     PeerCallbacks

	allowed atomic.Uint32 // Kind bits the peer may publish

	pubMu      sync.Mutex
	pub        *webrtc.PeerConnection
	pubKinds   map[string]Kind // mid → kind, from the last offer
	pubTracks  []*upTrack
	pubPending []webrtc.ICECandidateInit

	subMu       sync.Mutex
	sub         *webrtc.PeerConnection
	downs       map[*upTrack]*downTrack
	offering    bool // an offer awaits its answer
	renegotiate bool // the tracks changed while offering
	subPending  []webrtc.ICECandidateInit
	closed      bool

	capMode atomic.Int32 // Mode cap set by the caller
	mode    atomic.Int32 // effective Mode: min(auto, cap)
	remb    atomic.Int64 // last REMB estimate, bit/s
	rembAt  atomic.Int64 // its time, unix nano

	autoMode Mode // the ladder's choice, under subMu

	events eventQueue // callbacks, in order, on the peer's own goroutine

	healthMu   sync.Mutex // the health loop's state
	ladder     *ladder
	lastSample time.Time
}

// ID returns the peer's id.
func (p *Peer) ID() string { return p.id }

func (p *Peer) currentMode() Mode { return Mode(p.mode.Load()) }

// Mode returns the media the peer currently receives.
func (p *Peer) Mode() Mode { return p.currentMode() }

// SetAllowed sets the kinds the peer may publish, replacing the previous
// set. A track of a kind newly allowed starts being forwarded (even one
// refused earlier: the client need not renegotiate); a track of a kind no
// longer allowed stops being forwarded at once and is taken off the other
// peers' subscriber connections.
func (p *Peer) SetAllowed(kinds ...Kind) {
	var mask Kind
	for _, k := range kinds {
		mask |= k
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.allowed.Store(uint32(mask))
	for _, u := range p.pubTracks {
		want := u.kind != 0 && mask&u.kind != 0 && !u.isDone()
		switch {
		case want && !u.forwarding.Load():
			p.router.publish(u)
		case !want && u.forwarding.Load():
			p.router.unpublish(u)
		}
	}
}

// Allowed reports the kinds the peer may publish.
func (p *Peer) Allowed() []Kind {
	mask := Kind(p.allowed.Load())
	var ks []Kind
	for _, k := range []Kind{KindAudio, KindCamera, KindScreen} {
		if mask&k != 0 {
			ks = append(ks, k)
		}
	}
	return ks
}

// HandlePublisherOffer applies the client's offer for its publisher
// connection (created on the first offer) and returns the node's answer,
// which carries the node's candidates (no OnICECandidate for this
// connection).
// Tracks are told apart by the offer's media sections (see
// publisherKinds): a track of a kind the peer may not publish is refused
// (not forwarded, counted). Errors: ErrNotPermitted when the peer may
// publish nothing, ErrBadSDP (if pion refuses the offer, the publisher
// connection is closed and the next offer starts a new one), ErrClosed.
func (p *Peer) HandlePublisherOffer(offer string) (answer string, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sfu: publisher offer from %s: %w", p.id, err)
		}
	}()
	if p.allowed.Load() == 0 {
		p.node.stats.refused.Add(1)
		return "", ErrNotPermitted
	}
	sd, err := parseSDP(offer)
	if err != nil {
		p.node.stats.badSignalling.Add(1)
		return "", err
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	if p.isClosed() {
		return "", ErrClosed
	}
	if p.pub == nil {
		pc, err := p.node.pubAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return "", err
		}
		pc.OnTrack(p.onTrack)
		p.watch(pc, TargetPublisher)
		p.pub = pc
	}
	p.pubKinds = publisherKinds(sd)
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		p.node.stats.badSignalling.Add(1)
		p.dropPublisherLocked()
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	ans, err := p.pub.CreateAnswer(nil)
	if err != nil {
		p.node.stats.badSignalling.Add(1)
		p.dropPublisherLocked()
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pub)
	if err := p.pub.SetLocalDescription(ans); err != nil {
		p.dropPublisherLocked()
		return "", err
	}
	// The node gathers only the host candidates of its UDP and TCP muxes:
	// no STUN or TURN round trip, so this takes milliseconds.
	select {
	case <-gathered:
	case <-time.After(gatherWait):
		p.node.log.Warn("publisher answer before gathering completed", "peer", p.id)
	}
	for _, c := range p.pubPending {
		if err := p.pub.AddICECandidate(c); err != nil {
			p.node.log.Debug("queued candidate", "peer", p.id, "err", err)
		}
	}
	p.pubPending = nil
	return p.pub.LocalDescription().SDP, nil
}

// dropPublisherLocked closes a publisher connection that pion refused an
// offer on: pion keeps part of a refused description and the connection
// cannot negotiate again. The client's next offer makes a new one; tracks
// it had published end with it. Under p.pubMu.
func (p *Peer) dropPublisherLocked() {
	pc := p.pub
	p.pub = nil
	p.pubPending = nil
	go func() { _ = pc.Close() }()
}

// publisherPC returns the publisher connection, or nil.
func (p *Peer) publisherPC() *webrtc.PeerConnection {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	return p.pub
}

// onTrack receives a track the client publishes. Its kind comes from its
// media section; the first track of a kind is taken, any other (a second
// camera, a simulcast layer) is refused.
func (p *Peer) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	if p.pub == nil {
		return
	}
	var mid string
	for _, tr := range p.pub.GetTransceivers() {
		if tr.Receiver() == receiver {
			mid = tr.Mid()
			break
		}
	}
	kind := p.pubKinds[mid]
	for _, u := range p.pubTracks {
		if u.kind == kind && !u.isDone() {
			kind = 0
		}
	}
	if kind != 0 && remote.Codec().MimeType != codecFor(kind).MimeType {
		kind = 0
	}
	u := newUpTrack(p.node, p, kind, remote)
	p.pubTracks = append(p.pubTracks, u)
	go func() {
		u.run()
		p.trackEnded(u)
	}()
	if kind == 0 || Kind(p.allowed.Load())&kind == 0 {
		p.node.stats.refused.Add(1)
		p.node.log.Info("publication refused", "peer", p.id, "mid", mid, "kind", kind, "codec", remote.Codec().MimeType)
		return
	}
	p.router.publish(u)
}

func (u *upTrack) isDone() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

// trackEnded takes down a track whose publisher stopped sending it.
func (p *Peer) trackEnded(u *upTrack) {
	p.router.unpublish(u)
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	for i, x := range p.pubTracks {
		if x == u {
			p.pubTracks = append(p.pubTracks[:i], p.pubTracks[i+1:]...)
			break
		}
	}
	p.node.stats.retiredIn.Add(u.in.packets.Load())
	p.node.stats.retiredBytesIn.Add(u.in.bytes.Load())
	p.node.stats.retiredFwd.Add(u.inline.packets.Load())
	p.node.stats.retiredFwdB.Add(u.inline.bytes.Load())
}

// subscribe adds downtracks for the given tracks and offers them.
func (p *Peer) subscribe(ups ...*upTrack) {
	p.subMu.Lock()
	added := false
	for _, u := range ups {
		if p.closed || u.pub == p || p.downs[u] != nil {
			continue
		}
		d := newDownTrack(u, p)
		sender, err := p.sub.AddTrack(d)
		if err != nil {
			p.node.log.Warn("subscribe", "peer", p.id, "kind", u.kind, "err", err)
			continue
		}
		d.sender = sender
		if !u.attach(d) {
			_ = p.sub.RemoveTrack(sender)
			continue
		}
		p.downs[u] = d
		go d.readRTCP()
		added = true
	}
	if added {
		p.negotiateLocked()
	}
	p.subMu.Unlock()
}

// unsubscribe takes d off the subscriber connection and offers the change.
func (p *Peer) unsubscribe(d *downTrack) {
	d.up.detach(d)
	p.subMu.Lock()
	if p.downs[d.up] != d {
		p.subMu.Unlock()
		return
	}
	delete(p.downs, d.up)
	if !p.closed {
		if err := p.sub.RemoveTrack(d.sender); err != nil {
			p.node.log.Debug("unsubscribe", "peer", p.id, "err", err)
		}
		p.negotiateLocked()
	}
	p.subMu.Unlock()
}

// negotiateLocked makes a new subscriber offer and queues it for
// OnSubscriberOffer, or marks one as due if an offer is already out or the
// first one is answered but not yet connected (the offer then goes out on
// connection: a renegotiation that overtakes the start of ICE makes some
// clients restart ICE with credentials the node never learns). It returns
// the offer ("" for none). Under p.subMu.
func (p *Peer) negotiateLocked() string {
	if p.closed || p.router.closing.Load() {
		return ""
	}
	if p.offering || p.connectingLocked() {
		p.renegotiate = true
		return ""
	}
	offer, err := p.sub.CreateOffer(nil)
	if err != nil {
		p.node.log.Warn("subscriber offer", "peer", p.id, "err", err)
		return ""
	}
	if err := p.sub.SetLocalDescription(offer); err != nil {
		p.node.log.Warn("subscriber offer", "peer", p.id, "err", err)
		return ""
	}
	p.offering = true
	// The local description carries the candidates gathered so far: a
	// renegotiation repeats them, for a client that missed the trickle.
	sdp := offer.SDP
	if ld := p.sub.LocalDescription(); ld != nil {
		sdp = ld.SDP
	}
	if p.cb.OnSubscriberOffer != nil {
		p.events.push(func() { p.cb.OnSubscriberOffer(sdp) })
	}
	return sdp
}

// HandleSubscriberAnswer applies the client's answer to the node's last
// subscriber offer. A newer offer follows at once if the tracks changed
// meanwhile. Errors: ErrBadState (no offer outstanding), ErrBadSDP (a
// malformed answer, or one that does not answer the offer, leaves the
// offer outstanding; in the rare case pion itself refuses an answer that
// passed those checks, the connection is reported "failed" through
// OnState and the client must join again), ErrClosed.
func (p *Peer) HandleSubscriberAnswer(answer string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sfu: subscriber answer from %s: %w", p.id, err)
		}
	}()
	sd, err := parseSDP(answer)
	if err != nil {
		p.node.stats.badSignalling.Add(1)
		return err
	}
	p.subMu.Lock()
	if p.closed {
		p.subMu.Unlock()
		return ErrClosed
	}
	if !p.offering {
		p.subMu.Unlock()
		p.node.stats.badSignalling.Add(1)
		return ErrBadState
	}
	var offer *sdp.SessionDescription
	if ld := p.sub.PendingLocalDescription(); ld != nil {
		offer, _ = ld.Unmarshal()
	}
	if err := checkAnswer(offer, sd); err != nil {
		p.subMu.Unlock()
		p.node.stats.badSignalling.Add(1)
		return err
	}
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		p.node.stats.badSignalling.Add(1)
		// Pion keeps part of a refused answer and the connection cannot
		// negotiate again: report it failed, so that the room makes the
		// client join anew.
		p.offering = false
		if p.cb.OnState != nil {
			p.events.push(func() { p.cb.OnState(TargetSubscriber, webrtc.PeerConnectionStateFailed.String()) })
		}
		p.subMu.Unlock()
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	p.offering = false
	for _, c := range p.subPending {
		if err := p.sub.AddICECandidate(c); err != nil {
			p.node.log.Debug("queued candidate", "peer", p.id, "err", err)
		}
	}
	p.subPending = nil
	if p.renegotiate {
		p.renegotiate = false
		p.negotiateLocked()
	}
	p.subMu.Unlock()
	return nil
}

// AddICECandidate adds a client's candidate to one of its connections.
// Candidates that arrive before the connection's remote description are
// kept until it is set. Errors: ErrBadCandidate, ErrBadState (a
// publisher candidate before any publisher offer, or too many queued),
// ErrClosed.
func (p *Peer) AddICECandidate(target Target, c webrtc.ICECandidateInit) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sfu: %s candidate from %s: %w", target, p.id, err)
		}
	}()
	if err := checkCandidate(c); err != nil {
		p.node.stats.badSignalling.Add(1)
		return err
	}
	var (
		mu      *sync.Mutex
		pc      *webrtc.PeerConnection
		pending *[]webrtc.ICECandidateInit
	)
	switch target {
	case TargetPublisher:
		mu, pending = &p.pubMu, &p.pubPending
		p.pubMu.Lock()
		pc = p.pub
		p.pubMu.Unlock()
	case TargetSubscriber:
		mu, pc, pending = &p.subMu, p.sub, &p.subPending
	default:
		p.node.stats.badSignalling.Add(1)
		return ErrBadState
	}
	if p.isClosed() {
		return ErrClosed
	}
	mu.Lock()
	defer mu.Unlock()
	if pc == nil || pc.RemoteDescription() == nil {
		if len(*pending) >= maxPendingCandidates {
			p.node.stats.badSignalling.Add(1)
			return ErrBadState
		}
		*pending = append(*pending, c)
		return nil
	}
	if err := pc.AddICECandidate(c); err != nil {
		p.node.stats.badSignalling.Add(1)
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}

// watch reports pc's state, and the subscriber connection's candidates,
// through the callbacks. The publisher connection's candidates go in its
// answer instead (HandlePublisherOffer): the caller returns the answer
// itself, so a trickled candidate could overtake it.
func (p *Peer) watch(pc *webrtc.PeerConnection, target Target) {
	if target == TargetSubscriber {
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil || p.cb.OnICECandidate == nil {
				return
			}
			init := c.ToJSON()
			// Under subMu, so that a candidate is never queued before
			// the offer it belongs to (queued under subMu too).
			p.subMu.Lock()
			p.events.push(func() { p.cb.OnICECandidate(target, init) })
			p.subMu.Unlock()
		})
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if target == TargetSubscriber && s == webrtc.PeerConnectionStateConnected {
			p.onSubscriberConnected()
		}
		if p.cb.OnState != nil {
			p.events.push(func() { p.cb.OnState(target, s.String()) })
		}
	})
}

// CapMode caps the media the peer receives (a student on a weak line
// chooses "audio only"); ModeVideo lifts the cap. The ladder still works
// below the cap.
func (p *Peer) CapMode(m Mode) {
	m = max(ModeData, min(m, ModeVideo))
	p.capMode.Store(int32(m))
	p.applyMode()
}

// applyMode recomputes the effective mode and reports a change.
func (p *Peer) applyMode() {
	p.subMu.Lock() // orders concurrent CapMode and health updates
	defer p.subMu.Unlock()
	m := min(p.autoMode, Mode(p.capMode.Load()))
	if old := Mode(p.mode.Swap(int32(m))); old == m {
		return
	}
	p.node.stats.modeChanges.Add(1)
	if p.cb.OnMode != nil {
		p.events.push(func() { p.cb.OnMode(m) })
	}
}

// connectingLocked reports whether the subscriber connection has been
// negotiated once and is not yet connected. Under p.subMu.
func (p *Peer) connectingLocked() bool {
	if p.sub.CurrentRemoteDescription() == nil {
		return false
	}
	switch p.sub.ConnectionState() {
	case webrtc.PeerConnectionStateNew, webrtc.PeerConnectionStateConnecting:
		return true
	}
	return false
}

// onSubscriberConnected sends the offer held back while connecting.
func (p *Peer) onSubscriberConnected() {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if p.renegotiate && !p.offering {
		p.renegotiate = false
		p.negotiateLocked()
	}
}

func (p *Peer) isClosed() bool {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	return p.closed
}

// Close leaves the class: the peer's tracks stop being forwarded, its
// connections close. Idempotent.
func (p *Peer) Close() {
	p.subMu.Lock()
	if p.closed {
		p.subMu.Unlock()
		return
	}
	p.closed = true
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.downs = map[*upTrack]*downTrack{}
	p.subMu.Unlock()
	for _, d := range downs {
		d.up.detach(d)
	}

	p.pubMu.Lock()
	tracks := append([]*upTrack(nil), p.pubTracks...)
	pub := p.pub
	p.pubMu.Unlock()
	for _, u := range tracks {
		p.router.unpublish(u)
	}
	p.router.remove(p)
	p.events.close()
	var errs []error
	if pub != nil {
		errs = append(errs, pub.Close())
	}
	errs = append(errs, p.sub.Close())
	if err := errors.Join(errs...); err != nil {
		p.node.log.Debug("peer close", "peer", p.id, "err", err)
	}
}

type peerStats struct {
	publisher                  bool
	downTracks, forwarded      int
	packetsIn, bytesIn         uint64
	inlinePackets, inlineBytes uint64
}

func (p *Peer) stats() peerStats {
	var s peerStats
	p.pubMu.Lock()
	s.publisher = p.pub != nil
	for _, u := range p.pubTracks {
		if u.forwarding.Load() {
			s.forwarded++
		}
		s.packetsIn += u.in.packets.Load()
		s.bytesIn += u.in.bytes.Load()
		s.inlinePackets += u.inline.packets.Load()
		s.inlineBytes += u.inline.bytes.Load()
	}
	p.pubMu.Unlock()
	p.subMu.Lock()
	s.downTracks = len(p.downs)
	p.subMu.Unlock()
	return s
}
