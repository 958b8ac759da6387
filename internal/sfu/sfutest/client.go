// Package sfutest provides synthetic WebRTC clients for testing and
// load-testing package sfu without a browser: pion PeerConnections that
// publish generated VP8-like video and Opus-like audio, or subscribe and
// check what they receive (packets, sequence continuity, keyframes, time to
// first packet). Signalling is in-process: a client calls the *sfu.Peer
// directly, and the peer's callbacks are queued to the client's own
// goroutine, as a WebSocket would deliver them.
package sfutest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
)

// Signaller is the node side of a client's signalling: *sfu.Peer.
type Signaller interface {
	HandlePublisherOffer(sdp string) (string, error)
	HandleSubscriberAnswer(sdp string) error
	AddICECandidate(target sfu.Target, c webrtc.ICECandidateInit) error
}

// Options configures a client.
type Options struct {
	// ICEServers, with RelayOnly, makes the client reach the node only
	// through TURN (ICETransportPolicy relay).
	ICEServers []webrtc.ICEServer
	RelayOnly  bool
	// TCPOnly restricts the client to ICE over TCP (the node's ICE-TCP
	// port), as on a network that drops UDP.
	TCPOnly bool
	// CountAtSocket makes a listen-only client that counts media packets
	// from their headers at its socket instead of decrypting them, for
	// load tests that share a machine with the node (socket.go). It has
	// no pion interceptors: it sends a receiver's feedback itself.
	CountAtSocket bool
}

// Client is one synthetic participant.
type Client struct {
	ID  string
	api *webrtc.API
	cfg webrtc.Configuration

	sub *webrtc.PeerConnection

	mu       sync.Mutex
	peer     Signaller
	pub      *webrtc.PeerConnection
	received map[string]*TrackStats // by "<publisher>/<kind>"
	modes    []sfu.Mode
	states   []string
	errs     []error

	queue    chan func()
	attached chan struct{}
	done     chan struct{}
	closing  sync.Once

	joined time.Time
	first  atomic.Int64 // unix nano of the first media packet received

	sender  *Sender
	counter *socketCounter // in CountAtSocket mode
}

// quiet keeps pion's logs out of test output.
type quiet struct{}

func (quiet) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, nil)
}

// NewClient makes a client whose connections use loopback only.
func NewClient(id string, opts Options) (*Client, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	se := webrtc.SettingEngine{LoggerFactory: quiet{}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	c := &Client{ID: id}
	switch {
	case opts.CountAtSocket:
		// The transport-wide-cc extension, so that the node stamps its
		// packets and reads this client's TWCC feedback as a browser's.
		for _, typ := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, typ); err != nil {
				return nil, err
			}
			m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, typ)
		}
		counter, err := newSocketCounter(c)
		if err != nil {
			return nil, err
		}
		c.counter = counter
		se.SetICEUDPMux(counter.mux)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	default:
		// Pion's interceptors log through their own loggers unless told: a
		// closing client's TWCC feedback logged "closed pipe" errors.
		if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir, webrtc.WithInterceptorLoggerFactory(quiet{})); err != nil {
			return nil, err
		}
		if opts.TCPOnly {
			se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
		} else {
			se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
		}
	}
	c.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	c.cfg = webrtc.Configuration{ICEServers: opts.ICEServers}
	c.received = make(map[string]*TrackStats)
	c.queue = make(chan func(), 1024)
	c.attached = make(chan struct{})
	c.done = make(chan struct{})
	if c.counter != nil {
		c.cfg.RTPHeaderEncryptionPolicy = webrtc.RTPHeaderEncryptionPolicyDisable
	}
	if opts.RelayOnly {
		c.cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	sub, err := c.api.NewPeerConnection(c.cfg)
	if err != nil {
		if c.counter != nil {
			c.counter.close()
		}
		return nil, err
	}
	c.sub = sub
	sub.OnTrack(c.onTrack)
	if c.counter != nil {
		go c.counter.feedback(sub, c.done)
	}
	sub.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			init := cand.ToJSON()
			c.do(func() { c.signal(func(p Signaller) error { return p.AddICECandidate(sfu.TargetSubscriber, init) }) })
		}
	})
	go c.loop()
	return c, nil
}

// Callbacks returns the callbacks to give Router.Join: they queue work to
// the client's goroutine.
func (c *Client) Callbacks() sfu.PeerCallbacks {
	return sfu.PeerCallbacks{
		OnICECandidate: func(t sfu.Target, cand webrtc.ICECandidateInit) {
			c.do(func() { c.addRemoteCandidate(t, cand) })
		},
		OnSubscriberOffer: func(sdp string) { c.do(func() { c.answer(sdp) }) },
		OnMode: func(m sfu.Mode) {
			c.mu.Lock()
			c.modes = append(c.modes, m)
			c.mu.Unlock()
		},
		OnState: func(t sfu.Target, s string) {
			c.mu.Lock()
			c.states = append(c.states, t.String()+":"+s)
			c.mu.Unlock()
		},
	}
}

// Attach connects the client to its node-side peer (after Join) and starts
// processing the peer's callbacks.
func (c *Client) Attach(p Signaller) {
	c.mu.Lock()
	c.peer = p
	c.joined = time.Now()
	c.mu.Unlock()
	close(c.attached)
}

func (c *Client) do(f func()) {
	select {
	case c.queue <- f:
	case <-c.done:
	}
}

func (c *Client) loop() {
	// The peer is attached right after Join returns; its first callbacks
	// may come before, and wait here.
	select {
	case <-c.attached:
	case <-c.done:
		return
	}
	for {
		select {
		case f := <-c.queue:
			f()
		case <-c.done:
			return
		}
	}
}

func (c *Client) signaller() Signaller {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer
}

func (c *Client) signal(f func(Signaller) error) {
	if err := f(c.signaller()); err != nil {
		c.fail(err)
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// Errors returns the signalling errors the client met.
func (c *Client) Errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

// Modes returns the modes reported by OnMode, in order.
func (c *Client) Modes() []sfu.Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sfu.Mode(nil), c.modes...)
}

func (c *Client) addRemoteCandidate(t sfu.Target, cand webrtc.ICECandidateInit) {
	pc := c.sub
	if t == sfu.TargetPublisher {
		c.mu.Lock()
		pc = c.pub
		c.mu.Unlock()
	}
	if pc == nil {
		c.fail(fmt.Errorf("candidate for %s before it exists", t))
		return
	}
	if err := pc.AddICECandidate(cand); err != nil {
		c.fail(fmt.Errorf("add %s candidate: %w", t, err))
	}
}

func (c *Client) answer(offer string) {
	if c.counter != nil {
		if err := c.counter.learnOffer(offer); err != nil {
			c.fail(err)
			return
		}
	}
	if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		c.fail(fmt.Errorf("subscriber offer: %w", err))
		return
	}
	ans, err := c.sub.CreateAnswer(nil)
	if err != nil {
		c.fail(fmt.Errorf("subscriber answer: %w", err))
		return
	}
	if err := c.sub.SetLocalDescription(ans); err != nil {
		c.fail(fmt.Errorf("subscriber answer: %w", err))
		return
	}
	c.signal(func(p Signaller) error { return p.HandleSubscriberAnswer(ans.SDP) })
}

// Close closes the client's connections.
func (c *Client) Close() {
	c.closing.Do(func() {
		close(c.done)
		c.mu.Lock()
		pub, s := c.pub, c.sender
		c.mu.Unlock()
		if s != nil {
			s.Stop()
		}
		if pub != nil {
			_ = pub.Close()
		}
		_ = c.sub.Close()
		if c.counter != nil {
			c.counter.close()
		}
	})
}

// TrackStats is what a client received of one track.
type TrackStats struct {
	Publisher, Kind string
	Packets         int
	Bytes           int
	Keyframes       int
	Missing         int    // sequence numbers skipped and never received
	MaxJump         uint16 // largest step between consecutive new sequence numbers
	FirstKeyframe   bool   // the first packet began a keyframe (video)
	First, Last     time.Time

	started bool
	highest uint16
	seen    map[uint16]bool // recent numbers, to tell a late packet from a duplicate
}

func (s *TrackStats) add(h *rtp.Header, payload []byte, size int, now time.Time) {
	s.Packets++
	s.Bytes += size
	key := IsKeyframe(payload)
	if key {
		s.Keyframes++
	}
	if !s.started {
		s.started, s.highest, s.First = true, h.SequenceNumber, now
		s.FirstKeyframe = key
		s.seen = map[uint16]bool{h.SequenceNumber: true}
		s.Last = now
		return
	}
	s.Last = now
	seq := h.SequenceNumber
	if s.seen[seq] {
		return
	}
	s.seen[seq] = true
	d := seq - s.highest
	if int16(d) > 0 {
		s.MaxJump = max(s.MaxJump, d)
		s.Missing += int(d) - 1
		s.highest = seq
	} else {
		s.Missing-- // a late packet fills a gap
	}
	if len(s.seen) > 4096 {
		for k := range s.seen {
			if int16(s.highest-k) > 2048 {
				delete(s.seen, k)
			}
		}
	}
}

func (c *Client) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	key := t.StreamID() + "/" + t.ID()
	c.mu.Lock()
	st, ok := c.received[key]
	if !ok {
		st = &TrackStats{Publisher: t.StreamID(), Kind: t.ID()}
		c.received[key] = st
	}
	c.mu.Unlock()
	go func() {
		buf := make([]byte, 1500)
		var h rtp.Header
		for {
			n, _, err := t.Read(buf)
			if err != nil {
				return
			}
			hn, err := h.Unmarshal(buf[:n])
			if err != nil {
				continue
			}
			now := time.Now()
			c.first.CompareAndSwap(0, now.UnixNano())
			c.mu.Lock()
			st.add(&h, buf[hn:n], n, now)
			c.mu.Unlock()
		}
	}()
}

// Received returns a copy of what the client received of the track of
// kind ("audio", "camera", "screen") from publisher.
func (c *Client) Received(publisher, kind string) TrackStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.received[publisher+"/"+kind]
	if !ok {
		return TrackStats{Publisher: publisher, Kind: kind}
	}
	cp := *st
	cp.seen = nil
	return cp
}

// JoinLatency is the time from Attach to the first media packet, or 0.
func (c *Client) JoinLatency() time.Duration {
	f := c.first.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if f == 0 || c.joined.IsZero() {
		return 0
	}
	return time.Unix(0, f).Sub(c.joined)
}

// SendPLI sends a keyframe request for the track of kind from publisher,
// as a browser does when its decoder needs one.
func (c *Client) SendPLI(publisher, kind string) error {
	for _, tr := range c.sub.GetTransceivers() {
		r := tr.Receiver()
		if r == nil || r.Track() == nil {
			continue
		}
		t := r.Track()
		if t.StreamID() == publisher && t.ID() == kind {
			return c.sub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}})
		}
	}
	return errors.New("sfutest: no such track")
}

// Connected reports whether the subscriber connection is connected.
func (c *Client) Connected() bool {
	return c.sub.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// States returns the node's connection state reports, "target:state".
func (c *Client) States() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.states...)
}

// Debug describes the client's subscriber connection.
func (c *Client) Debug() string {
	return fmt.Sprintf("ice %s gathering %s signaling %s conn %s remote-set %v",
		c.sub.ICEConnectionState(), c.sub.ICEGatheringState(), c.sub.SignalingState(), c.sub.ConnectionState(), c.sub.RemoteDescription() != nil)
}
