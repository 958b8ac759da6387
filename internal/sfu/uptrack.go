package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

const (
	// ringSize packets of each track are kept to answer NACKs: about 8 s
	// of a 500 kbit/s camera, well beyond any useful retransmission.
	ringSize = 512
	// pliInterval is the least time between two keyframe requests sent to
	// a publisher for one track: a keyframe costs several times a normal
	// frame, and thirty students joining at once need only one.
	pliInterval = 500 * time.Millisecond
)

// upTrack is a track a publisher sends to the node (LiveKit's "uptrack"):
// one goroutine reads it, parses each packet once, keeps it for
// retransmission and fans it out to the subscribers' downtracks.
type upTrack struct {
	node   *Node
	pub    *Peer
	kind   Kind // 0: unknown, never forwarded
	remote *webrtc.TrackRemote
	ssrc   uint32

	// forwarding gates the fan-out: off while the kind is not permitted.
	forwarding atomic.Bool

	mu        sync.Mutex // published and set changes
	published bool
	set       atomic.Pointer[fanSet]

	ringMu sync.Mutex
	ring   [ringSize]*packet

	lastPLI    atomic.Int64 // unix nano of the last keyframe request sent
	pliPending atomic.Bool  // a deferred request is scheduled

	in      flow // packets read
	inline  flow // packets written inline by the reader
	scratch rtp.Header
	done    chan struct{}
}

func newUpTrack(n *Node, pub *Peer, kind Kind, remote *webrtc.TrackRemote) *upTrack {
	u := &upTrack{node: n, pub: pub, kind: kind, remote: remote, ssrc: uint32(remote.SSRC()), done: make(chan struct{})}
	u.set.Store(&fanSet{byWorker: make([][]*downTrack, len(n.fan.workers))})
	return u
}

// run reads the track until it ends. Packets of a track not forwarding
// are still read (and dropped), so that granting the permission later
// resumes it without renegotiation.
func (u *upTrack) run() {
	defer close(u.done)
	defer u.clearRing()
	for {
		p := getPacket()
		n, _, err := u.remote.Read(p.buf[:])
		if err != nil {
			p.release()
			if !errors.Is(err, io.EOF) {
				u.node.log.Debug("track read ended", "peer", u.pub.id, "kind", u.kind, "err", err)
			}
			return
		}
		if err := p.rtp.Unmarshal(p.buf[:n]); err != nil {
			p.release()
			continue
		}
		p.size = n
		p.keyframe = u.kind.video() && isVP8Keyframe(p.rtp.Payload)
		u.in.packets.Add(1)
		u.in.bytes.Add(uint64(n))
		u.keep(p)
		if u.forwarding.Load() {
			set := u.set.Load()
			if len(set.all) <= inlineMax {
				for _, d := range set.all {
					d.forward(p, &u.scratch, &u.inline)
				}
			} else {
				u.node.fan.dispatch(p, set)
			}
		}
		p.release()
	}
}

// keep stores p in the retransmission ring, indexed by sequence number.
func (u *upTrack) keep(p *packet) {
	p.retain()
	i := p.rtp.SequenceNumber % ringSize
	u.ringMu.Lock()
	old := u.ring[i]
	u.ring[i] = p
	u.ringMu.Unlock()
	if old != nil {
		old.release()
	}
}

// lookup returns the kept packet with sequence number seq, retained, or
// nil.
func (u *upTrack) lookup(seq uint16) *packet {
	u.ringMu.Lock()
	defer u.ringMu.Unlock()
	p := u.ring[seq%ringSize]
	if p == nil || p.rtp.SequenceNumber != seq {
		return nil
	}
	p.retain()
	return p
}

func (u *upTrack) clearRing() {
	u.ringMu.Lock()
	defer u.ringMu.Unlock()
	for i, p := range u.ring {
		if p != nil {
			p.release()
			u.ring[i] = nil
		}
	}
}

// requestKeyframe asks the publisher for a keyframe, at most once per
// pliInterval. A request inside the interval is not lost: one deferred
// request goes out when the interval ends (trailing edge), so a
// subscriber that joined just after a keyframe still gets one soon.
func (u *upTrack) requestKeyframe() {
	if !u.kind.video() {
		return
	}
	now := u.node.cfg.Now().UnixNano()
	last := u.lastPLI.Load()
	if wait := last + int64(pliInterval) - now; wait > 0 {
		u.node.stats.pliSuppressed.Add(1)
		if u.pliPending.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				u.pliPending.Store(false)
				u.lastPLI.Store(u.node.cfg.Now().UnixNano())
				u.sendPLI()
			})
		}
		return
	}
	if !u.lastPLI.CompareAndSwap(last, now) {
		u.node.stats.pliSuppressed.Add(1)
		return
	}
	u.sendPLI()
}

func (u *upTrack) sendPLI() {
	select {
	case <-u.done:
		return
	default:
	}
	pc := u.pub.publisherPC()
	if pc == nil {
		return
	}
	if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: u.ssrc}}); err != nil {
		u.node.log.Debug("keyframe request", "peer", u.pub.id, "err", err)
		return
	}
	u.node.stats.pliForwarded.Add(1)
}

// attach adds d to the fan-out if the track is published; it reports
// whether it did.
func (u *upTrack) attach(d *downTrack) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.published {
		return false
	}
	u.set.Store(u.set.Load().with(d, len(u.node.fan.workers)))
	return true
}

// detach removes d from the fan-out.
func (u *upTrack) detach(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.set.Store(u.set.Load().without(d))
}

// setPublished turns forwarding on or off. Turning it off stops the
// fan-out at once and returns the downtracks to take down.
func (u *upTrack) setPublished(on bool) []*downTrack {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.published = on
	u.forwarding.Store(on)
	if on {
		return nil
	}
	old := u.set.Load()
	u.set.Store(&fanSet{byWorker: make([][]*downTrack, len(u.node.fan.workers))})
	return old.all
}
