package sfu

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// downTrack is one forwarded track for one subscriber (LiveKit's
// "downtrack"): a webrtc.TrackLocal of its own, so each subscriber gets
// its own SSRC, payload type and sequence numbers. Its state is written by
// one fan-out goroutine at a time and by its RTCP reader.
type downTrack struct {
	up     *upTrack
	sub    *Peer
	kind   Kind
	worker int // fan-out worker it is pinned to

	bound  atomic.Pointer[binding]
	sender *webrtc.RTPSender

	// Sequence number rewriting. Packets the subscriber does not get
	// (mode, waiting for a keyframe) leave no gap: on resuming, offset is
	// set so that its sequence numbers carry on from the last one sent,
	// and a paused video resumes only on a keyframe. Each resumption
	// starts an epoch; packets from before it are not forwarded, and a
	// NACK maps back to the publisher's number only within it.
	mu         sync.Mutex
	started    bool
	paused     bool
	waitingKey bool
	offset     uint16
	epochStart uint16 // publisher's number of the epoch's first packet
	lastIn     uint16 // highest publisher number forwarded
	rtxHeader  rtp.Header

	// Health counters for the current interval, swapped out by the health
	// loop.
	ivPackets   atomic.Uint64
	ivBytes     atomic.Uint64
	ivNacked    atomic.Uint64
	ivLost      atomic.Uint32 // worst RTCP fraction lost (/256)
	ivTWCCTotal atomic.Uint64
	ivTWCCLost  atomic.Uint64
}

type binding struct {
	ssrc uint32
	pt   uint8
	ws   webrtc.TrackLocalWriter
}

func newDownTrack(u *upTrack, sub *Peer) *downTrack {
	return &downTrack{up: u, sub: sub, kind: u.kind}
}

// Bind implements webrtc.TrackLocal: pion calls it once the subscriber's
// answer is applied, with the negotiated SSRC and payload type.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := codecFor(d.kind)
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, want.MimeType) {
			d.bound.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), ws: ctx.WriteStream()})
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber %s does not accept %s: %w", d.sub.id, want.MimeType, webrtc.ErrUnsupportedCodec)
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal: the kind, "audio", "camera" or
// "screen", is what the subscriber's page reads to place the track.
func (d *downTrack) ID() string { return d.kind.String() }

// RID implements webrtc.TrackLocal (no simulcast).
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: the publisher's peer id.
func (d *downTrack) StreamID() string { return d.up.pub.id }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType {
	if d.kind.video() {
		return webrtc.RTPCodecTypeVideo
	}
	return webrtc.RTPCodecTypeAudio
}

// forward writes p to the subscriber if its mode carries this track,
// rewriting SSRC, payload type and sequence number into scratch, the
// calling goroutine's reusable header.
func (d *downTrack) forward(p *packet, scratch *rtp.Header, out *flow) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	seq := p.rtp.SequenceNumber
	d.mu.Lock()
	if !d.sub.currentMode().carries(d.kind) {
		d.paused = true
		d.mu.Unlock()
		return
	}
	if !d.started || d.paused {
		if d.kind.video() && !p.keyframe {
			ask := !d.waitingKey
			d.waitingKey = true
			d.mu.Unlock()
			if ask {
				d.up.requestKeyframe()
			}
			return
		}
		if d.started {
			d.offset = seq - (d.lastIn - d.offset + 1)
		}
		d.started, d.paused, d.waitingKey = true, false, false
		d.epochStart, d.lastIn = seq, seq
	} else if !d.inEpoch(seq) {
		d.mu.Unlock()
		return
	}
	if int16(seq-d.lastIn) > 0 {
		d.lastIn = seq
	}
	outSeq := seq - d.offset
	d.mu.Unlock()

	ext := scratch.Extensions[:0]
	*scratch = p.rtp.Header
	scratch.Extension, scratch.ExtensionProfile, scratch.Extensions = false, 0, ext
	scratch.SSRC, scratch.PayloadType, scratch.SequenceNumber = b.ssrc, b.pt, outSeq
	if _, err := b.ws.WriteRTP(scratch, p.rtp.Payload); err != nil {
		d.up.node.stats.dropped.Add(1)
		return
	}
	out.packets.Add(1)
	out.bytes.Add(uint64(p.size))
	d.ivPackets.Add(1)
	d.ivBytes.Add(uint64(p.size))
}

// inEpoch reports whether publisher number seq belongs to the current
// epoch and is recent enough to forward. Under d.mu.
func (d *downTrack) inEpoch(seq uint16) bool {
	if int16(seq-d.lastIn) < -ringSize {
		return false // far older than anything kept
	}
	// Until the epoch is a quarter of the number space old, a packet from
	// before its start can still arrive; after that it cannot.
	return d.lastIn-d.epochStart >= 0x4000 || int16(seq-d.epochStart) >= 0
}

// waiting reports whether d waits for a keyframe.
func (d *downTrack) waiting() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waitingKey
}

// retransmit resends the packet the subscriber knows as outSeq, from the
// track's buffer, if it is still there.
func (d *downTrack) retransmit(outSeq uint16) bool {
	b := d.bound.Load()
	if b == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started {
		return false
	}
	seq := outSeq + d.offset
	if !d.inEpoch(seq) || int16(seq-d.lastIn) > 0 {
		return false
	}
	p := d.up.lookup(seq)
	if p == nil {
		return false
	}
	defer p.release()
	ext := d.rtxHeader.Extensions[:0]
	d.rtxHeader = p.rtp.Header
	d.rtxHeader.Extension, d.rtxHeader.ExtensionProfile, d.rtxHeader.Extensions = false, 0, ext
	d.rtxHeader.SSRC, d.rtxHeader.PayloadType, d.rtxHeader.SequenceNumber = b.ssrc, b.pt, outSeq
	_, err := b.ws.WriteRTP(&d.rtxHeader, p.rtp.Payload)
	return err == nil
}

// readRTCP handles the subscriber's feedback on this track until the
// sender closes: NACKs are answered from the buffer, keyframe requests go
// to the publisher (rate limited), and receiver reports, TWCC feedback and
// REMB feed the subscriber's health.
func (d *downTrack) readRTCP() {
	buf := make([]byte, packetBufSize)
	stats := &d.up.node.stats
	for {
		n, _, err := d.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		b := d.bound.Load()
		if b == nil {
			continue
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.TransportLayerNack:
				if pkt.MediaSSRC != b.ssrc {
					continue
				}
				for _, pair := range pkt.Nacks {
					for _, seq := range pair.PacketList() {
						d.ivNacked.Add(1)
						stats.nacks.Add(1)
						if d.retransmit(seq) {
							stats.retransmitted.Add(1)
						}
					}
				}
			case *rtcp.PictureLossIndication:
				if pkt.MediaSSRC == b.ssrc {
					d.up.requestKeyframe()
				}
			case *rtcp.FullIntraRequest:
				if pkt.MediaSSRC == b.ssrc {
					d.up.requestKeyframe()
				}
			case *rtcp.ReceiverReport:
				for _, r := range pkt.Reports {
					if r.SSRC == b.ssrc {
						storeMax(&d.ivLost, uint32(r.FractionLost))
					}
				}
			case *rtcp.TransportLayerCC:
				if pkt.MediaSSRC == b.ssrc {
					total := uint64(pkt.PacketStatusCount)
					got := uint64(len(pkt.RecvDeltas))
					d.ivTWCCTotal.Add(total)
					if total > got {
						d.ivTWCCLost.Add(total - got)
					}
				}
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				d.sub.remb.Store(int64(pkt.Bitrate))
				d.sub.rembAt.Store(d.up.node.cfg.Now().UnixNano())
			}
		}
	}
}

func storeMax(a *atomic.Uint32, v uint32) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}
