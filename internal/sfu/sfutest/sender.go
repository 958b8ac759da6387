package sfutest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
)

// Synthetic media: a 360p-like VP8 camera at about 500 kbit/s and 30
// frames per second (two packets a frame, a keyframe of ten packets every
// three seconds or on request), and Opus-like audio, one 80-byte packet
// every 20 ms.
const (
	VideoBitrate   = 500_000
	FPS            = 30
	keyframeEvery  = 3 * FPS
	maxPayload     = 1100
	keyframeFactor = 5
	audioPayload   = 80
)

// Sender generates a client's published media.
type Sender struct {
	tracks  map[sfu.Kind]*webrtc.TrackLocalStaticRTP
	senders map[sfu.Kind]*webrtc.RTPSender

	plis     atomic.Int64 // keyframe requests received
	forceKey atomic.Bool
	packets  atomic.Int64

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// Publish opens the client's publisher connection with a track of each
// kind, in the order package sfu tells kinds apart by (audio, camera,
// screen; a screen without a camera gets an empty camera section first),
// and negotiates it. Start the media with Sender.Start.
func (c *Client) Publish(kinds ...sfu.Kind) (*Sender, error) {
	pc, err := c.api.NewPeerConnection(c.cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pub = pc
	c.mu.Unlock()
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			init := cand.ToJSON()
			c.do(func() { c.signal(func(p Signaller) error { return p.AddICECandidate(sfu.TargetPublisher, init) }) })
		}
	})
	s := &Sender{tracks: map[sfu.Kind]*webrtc.TrackLocalStaticRTP{}, senders: map[sfu.Kind]*webrtc.RTPSender{}, stop: make(chan struct{})}
	want := map[sfu.Kind]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	if want[sfu.KindScreen] && !want[sfu.KindCamera] {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return nil, err
		}
	}
	for _, k := range []sfu.Kind{sfu.KindAudio, sfu.KindCamera, sfu.KindScreen} {
		if !want[k] {
			continue
		}
		codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		if k == sfu.KindAudio {
			codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		}
		t, err := webrtc.NewTrackLocalStaticRTP(codec, k.String()+"-"+c.ID, c.ID)
		if err != nil {
			return nil, err
		}
		sender, err := pc.AddTrack(t)
		if err != nil {
			return nil, err
		}
		s.tracks[k], s.senders[k] = t, sender
		s.wg.Add(1)
		go s.readRTCP(sender)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	p := c.signaller()
	if p == nil {
		return nil, fmt.Errorf("sfutest: publish before Attach")
	}
	answer, err := p.HandlePublisherOffer(offer.SDP)
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.sender = s
	c.mu.Unlock()
	return s, nil
}

// PublisherConnected reports whether the publisher connection is
// connected.
func (c *Client) PublisherConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pub != nil && c.pub.ConnectionState() == webrtc.PeerConnectionStateConnected
}

func (s *Sender) readRTCP(sender *webrtc.RTPSender) {
	defer s.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.plis.Add(1)
				s.forceKey.Store(true)
			}
		}
	}
}

// PLIs returns the number of keyframe requests the publisher received.
func (s *Sender) PLIs() int64 { return s.plis.Load() }

// Packets returns the number of RTP packets sent.
func (s *Sender) Packets() int64 { return s.packets.Load() }

// Start sends media on every track until Stop.
func (s *Sender) Start() {
	s.wg.Add(1)
	go s.run()
}

// Stop stops the media and waits for the sender's goroutines.
func (s *Sender) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
}

func (s *Sender) run() {
	defer s.wg.Done()
	video := time.NewTicker(time.Second / FPS)
	defer video.Stop()
	audio := time.NewTicker(20 * time.Millisecond)
	defer audio.Stop()
	vseq := map[sfu.Kind]uint16{}
	var aseq uint16
	var vts, ats uint32
	frame := 0
	payload := make([]byte, maxPayload)
	for {
		select {
		case <-s.stop:
			return
		case <-video.C:
			key := frame%keyframeEvery == 0 || s.forceKey.Swap(false)
			frame++
			size := VideoBitrate / 8 / FPS
			if key {
				size *= keyframeFactor
			}
			for _, k := range []sfu.Kind{sfu.KindCamera, sfu.KindScreen} {
				t := s.tracks[k]
				if t == nil {
					continue
				}
				seq := vseq[k]
				for off := 0; off < size; off += maxPayload {
					n := min(maxPayload, size-off)
					b := payload[:n]
					clear(b)
					if off == 0 {
						b[0] = 0x10 // VP8 descriptor: S bit, partition 0
						if !key {
							b[1] = 0x01 // VP8 header: P bit (interframe)
						}
					}
					pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: vts, Marker: off+n >= size}, Payload: b}
					seq++
					if err := t.WriteRTP(&pkt); err == nil {
						s.packets.Add(1)
					}
				}
				vseq[k] = seq
			}
			vts += 90000 / FPS
		case <-audio.C:
			t := s.tracks[sfu.KindAudio]
			if t == nil {
				continue
			}
			b := payload[:audioPayload]
			clear(b)
			b[0] = 0xfc
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ats}, Payload: b}
			aseq++
			ats += 960
			if err := t.WriteRTP(&pkt); err == nil {
				s.packets.Add(1)
			}
		}
	}
}

// IsKeyframe reports whether a VP8 payload starts a keyframe (the same
// test as the node's, for the generated payloads: descriptor without
// extensions).
func IsKeyframe(payload []byte) bool {
	return len(payload) >= 2 && payload[0]&0x10 != 0 && payload[0]&0x0f == 0 && payload[0]&0x80 == 0 && payload[1]&0x01 == 0
}
