package sfutest

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// offerWithTrack is the part of a node's offer the counter reads: the
// transport-wide-cc extension's id and the msid of an SSRC.
const offerWithTrack = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n" +
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" +
	"a=ssrc:4242 msid:teacher camera\r\n"

func packet(t *testing.T, seq, transportSeq uint16) []byte {
	t.Helper()
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 4242}
	if err := h.SetExtension(3, []byte{byte(transportSeq >> 8), byte(transportSeq)}); err != nil {
		t.Fatal(err)
	}
	b, err := (&rtp.Packet{Header: h, Payload: make([]byte, 900)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTheSocketCounterCountsAndSendsAReceiversFeedback(t *testing.T) {
	c := &Client{received: map[string]*TrackStats{}}
	s, err := newSocketCounter(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.learnOffer(offerWithTrack); err != nil {
		t.Fatal(err)
	}
	if !isRTP(packet(t, 1, 1)) || isRTP([]byte{0x80, 200, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8}) || isRTP([]byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatal("isRTP does not tell RTP from RTCP and DTLS")
	}
	now := time.Unix(1000, 0)
	// 10, 11, 12, then 15: 13 and 14 are missing.
	for i, seq := range []uint16{10, 11, 12, 15} {
		s.count(packet(t, seq, uint16(100+i)), now.Add(time.Duration(i)*10*time.Millisecond))
	}
	got := c.Received("teacher", "camera")
	if got.Packets != 4 || got.Missing != 2 || got.MaxJump != 3 {
		t.Fatalf("counted %+v", got)
	}
	if c.JoinLatency() != 0 { // not attached: no latency, but a first packet
		t.Fatal("latency without a join")
	}
	if c.first.Load() == 0 {
		t.Fatal("the first packet's time was not kept")
	}

	pkts := s.pending(true)
	var fb *rtcp.TransportLayerCC
	var nack *rtcp.TransportLayerNack
	var rr *rtcp.ReceiverReport
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.TransportLayerCC:
			fb = p
		case *rtcp.TransportLayerNack:
			nack = p
		case *rtcp.ReceiverReport:
			rr = p
		}
	}
	if fb == nil || fb.PacketStatusCount != 4 || len(fb.RecvDeltas) != 4 || fb.BaseSequenceNumber != 100 {
		t.Fatalf("TWCC feedback %+v", fb)
	}
	if nack == nil || nack.MediaSSRC != 4242 {
		t.Fatalf("NACK %+v", nack)
	}
	lost := map[uint16]bool{}
	for _, p := range nack.Nacks {
		for _, q := range p.PacketList() {
			lost[q] = true
		}
	}
	if len(lost) != 2 || !lost[13] || !lost[14] {
		t.Fatalf("NACKed %v, want 13 and 14", lost)
	}
	if rr == nil || len(rr.Reports) != 1 || rr.Reports[0].TotalLost != 2 || rr.Reports[0].FractionLost == 0 || rr.Reports[0].LastSequenceNumber != 15 {
		t.Fatalf("receiver report %+v", rr)
	}

	// 13 arrives late: only 14 is NACKed again.
	s.count(packet(t, 13, 104), now.Add(50*time.Millisecond))
	lost = map[uint16]bool{}
	for _, p := range s.pending(false) {
		if n, ok := p.(*rtcp.TransportLayerNack); ok {
			for _, pair := range n.Nacks {
				for _, q := range pair.PacketList() {
					lost[q] = true
				}
			}
		}
		if _, ok := p.(*rtcp.ReceiverReport); ok {
			t.Fatal("a receiver report when none is due")
		}
	}
	if len(lost) != 1 || !lost[14] {
		t.Fatalf("NACKed %v after 13 came, want 14", lost)
	}
	// 14 is given up on after nackTries NACKs.
	for range nackTries {
		s.pending(false)
	}
	for _, p := range s.pending(false) {
		if _, ok := p.(*rtcp.TransportLayerNack); ok {
			t.Fatalf("still NACKing after %d tries: %+v", nackTries, p)
		}
	}
	// A packet of an SSRC the offer did not announce is not counted.
	b := packet(t, 1, 200)
	b[8], b[9], b[10], b[11] = 0, 0, 0, 7
	s.count(b, now)
	if got := c.Received("teacher", "camera"); got.Packets != 5 {
		t.Fatalf("packets %d", got.Packets)
	}
}
