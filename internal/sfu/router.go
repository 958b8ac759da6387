package sfu

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Router forwards the tracks of one live class between its peers: every
// forwarded track of a peer goes to every other peer. Its methods are
// safe for concurrent use.
type Router struct {
	id   string
	node *Node

	mu     sync.Mutex
	peers  map[string]*Peer
	tracks map[*upTrack]struct{} // forwarded tracks
	closed bool

	closing atomic.Bool // set before the peers close: no renegotiation then
}

// PeerCallbacks tell the caller (the room's signalling) what to send a
// participant. A peer's callbacks are called one at a time, in order, from
// a goroutine of the peer's own, never with a node lock held: they may
// call into the node. A slow callback delays only its own peer's later
// callbacks; none is called after Peer.Close.
type PeerCallbacks struct {
	// OnICECandidate: a node candidate for the client's connection target.
	OnICECandidate func(target Target, c webrtc.ICECandidateInit)
	// OnSubscriberOffer: a new offer for the client's subscriber
	// connection, to answer with Peer.HandleSubscriberAnswer. The node
	// sends one whenever the set of tracks the peer receives changes, and
	// never a second before the first is answered.
	OnSubscriberOffer func(sdp string)
	// OnMode: the media the peer receives changed (its connection state
	// as the room shows it: video, audio or data only).
	OnMode func(Mode)
	// OnState: a connection's state changed ("connected", "failed", ...:
	// webrtc.PeerConnectionState's strings).
	OnState func(target Target, state string)
}

// Join adds a participant to the class and creates its subscriber
// connection; the tracks already published are offered at once (through
// OnSubscriberOffer). The peer may publish nothing until SetAllowed.
// Errors: ErrPeerExists, ErrClosed. Call Node.Admit first to respect the
// node's budget.
func (r *Router) Join(id string, cb PeerCallbacks) (*Peer, error) {
	p := &Peer{id: id, router: r, node: r.node, cb: cb, downs: make(map[*upTrack]*downTrack)}
	p.events.init()
	p.autoMode = ModeVideo
	p.capMode.Store(int32(ModeVideo))
	p.mode.Store(int32(ModeVideo))
	p.ladder = newLadder(ladderConfig{}, ModeVideo)
	pc, err := r.node.subAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: join %s: subscriber connection: %w", id, err)
	}
	p.sub = pc
	p.watch(pc, TargetSubscriber)

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = pc.Close()
		return nil, fmt.Errorf("sfu: join %s: router %s: %w", id, r.id, ErrClosed)
	}
	if _, ok := r.peers[id]; ok {
		r.mu.Unlock()
		_ = pc.Close()
		return nil, fmt.Errorf("sfu: join %s: %w", id, ErrPeerExists)
	}
	r.peers[id] = p
	tracks := make([]*upTrack, 0, len(r.tracks))
	for u := range r.tracks {
		tracks = append(tracks, u)
	}
	r.mu.Unlock()

	p.subscribe(tracks...)
	return p, nil
}

// publish starts forwarding u to every peer but its publisher.
func (r *Router) publish(u *upTrack) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	u.setPublished(true)
	r.tracks[u] = struct{}{}
	peers := r.peerListLocked()
	r.mu.Unlock()
	for _, p := range peers {
		if p != u.pub {
			p.subscribe(u)
		}
	}
}

// unpublish stops forwarding u at once and takes its downtracks down.
func (r *Router) unpublish(u *upTrack) {
	r.mu.Lock()
	delete(r.tracks, u)
	r.mu.Unlock()
	for _, d := range u.setPublished(false) {
		d.sub.unsubscribe(d)
	}
}

func (r *Router) remove(p *Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[p.id] == p {
		delete(r.peers, p.id)
	}
}

func (r *Router) peerList() []*Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peerListLocked()
}

func (r *Router) peerListLocked() []*Peer {
	ps := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		ps = append(ps, p)
	}
	return ps
}

// Peer returns the peer joined with id, or nil.
func (r *Router) Peer(id string) *Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers[id]
}

// Close ends the class: it closes every peer and removes the router from
// the node (a later Node.Router with the same id makes a new one).
// Idempotent.
func (r *Router) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.closing.Store(true)
	peers := r.peerListLocked()
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	r.node.removeRouter(r)
}
