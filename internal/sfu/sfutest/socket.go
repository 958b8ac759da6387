package sfutest

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// A client in socket-counting mode (Options.CountAtSocket) receives media
// the way a load generator must when it shares a small machine with the
// node under test: it counts each media packet from its RTP header, which
// SRTP leaves in clear, as the packet comes off the socket, and drops it
// there. Decrypting every packet the node encrypted would cost the clients
// more CPU than the node spends forwarding, and the measurement would be of
// the clients. What the node sees of such a client is what it sees of a
// browser: the DTLS handshake, and the feedback a receiver sends — TWCC
// feedback every 100 ms built from the packets' transport-wide sequence
// numbers and arrival times, NACKs for missing packets, and a receiver
// report every second.
//
// Such a client declines header extension encryption (RFC 9335, "cryptex",
// which pion negotiates when both ends offer it): the transport-wide
// sequence numbers must be readable without the keys. Browsers that do not
// offer cryptex get the same clear extensions.
//
// The payload is not decrypted, so keyframes are not recognised in this
// mode (TrackStats.Keyframes stays 0).

// feedbackInterval is how often a counting client sends TWCC feedback and
// NACKs, as pion's and browsers' receivers do.
const feedbackInterval = 100 * time.Millisecond

// nackTries is how many times a missing packet is NACKed before the client
// gives up on it.
const nackTries = 3

// socketCounter is the counting side of a client: the socket reader's
// packets go to it, and its feedback loop writes RTCP through the
// subscriber connection.
type socketCounter struct {
	c    *Client
	conn *net.UDPConn
	mux  *ice.UDPMuxDefault

	twccID atomic.Int32 // the transport-wide-cc header extension's id in the node's offer; 0 when absent
	sent   atomic.Int64 // RTCP packets of feedback written

	mu      sync.Mutex
	tracks  map[uint32]*countedTrack // by SSRC
	names   map[uint32][2]string     // SSRC → publisher, kind, from the node's offer
	twcc    *twcc.Recorder
	gotTWCC bool
	ssrc    uint32 // this receiver's SSRC in its feedback
}

type countedTrack struct {
	stats   *TrackStats
	missing map[uint16]int // sequence number → NACKs sent for it
}

// newSocketCounter opens the client's UDP socket on loopback and returns a
// counter whose mux the client's setting engine uses for ICE.
func newSocketCounter(c *Client) (*socketCounter, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("sfutest: counting socket: %w", err)
	}
	// Room for a burst at 1,000 clients per process: the default buffer
	// drops packets the node sent in time whenever this process is late.
	_ = conn.SetReadBuffer(1 << 20)
	s := &socketCounter{
		c:      c,
		conn:   conn,
		tracks: map[uint32]*countedTrack{},
		names:  map[uint32][2]string{},
		ssrc:   uint32(time.Now().UnixNano()) | 1,
	}
	s.twcc = twcc.NewRecorder(s.ssrc)
	s.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: &countingConn{UDPConn: conn, s: s}, Logger: quiet{}.NewLogger("ice")})
	return s, nil
}

// countingConn is the socket as the ICE mux sees it: media packets never
// reach the mux; STUN, DTLS and RTCP do.
type countingConn struct {
	*net.UDPConn
	s *socketCounter
}

func (k *countingConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := k.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil || !isRTP(b[:n]) {
			return n, from, err
		}
		k.s.count(b[:n], time.Now())
	}
}

func (k *countingConn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	return k.UDPConn.WriteToUDPAddrPort(b, to)
}

func (k *countingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := k.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// isRTP tells RTP from what else shares the port (RFC 7983: STUN 0–3, DTLS
// 20–63, RTP and RTCP 128–191; RTCP's packet types 192–223 in the second
// byte).
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0] >= 128 && b[0] <= 191 && (b[1] < 192 || b[1] > 223)
}

// count records one media packet from its clear header.
func (s *socketCounter) count(b []byte, now time.Time) {
	var h rtp.Header
	if _, err := h.Unmarshal(b); err != nil {
		return
	}
	s.c.first.CompareAndSwap(0, now.UnixNano())
	id := s.twccID.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != 0 {
		if ext := h.GetExtension(uint8(id)); len(ext) >= 2 {
			s.twcc.Record(h.SSRC, uint16(ext[0])<<8|uint16(ext[1]), now.UnixMicro())
			s.gotTWCC = true
		}
	}
	t := s.tracks[h.SSRC]
	if t == nil {
		name, ok := s.names[h.SSRC]
		if !ok {
			return // not a track of the node's offer
		}
		t = &countedTrack{missing: map[uint16]int{}}
		s.c.mu.Lock()
		t.stats = s.c.received[name[0]+"/"+name[1]]
		if t.stats == nil {
			t.stats = &TrackStats{Publisher: name[0], Kind: name[1]}
			s.c.received[name[0]+"/"+name[1]] = t.stats
		}
		s.c.mu.Unlock()
		s.tracks[h.SSRC] = t
	}
	s.c.mu.Lock()
	st := t.stats
	before := st.highest
	started := st.started
	st.add(&h, nil, len(b), now)
	after := st.highest
	s.c.mu.Unlock()
	delete(t.missing, h.SequenceNumber)
	if started {
		// The numbers skipped by a jump forward are missing until they come.
		for q := before + 1; q != after && int16(after-before) > 0; q++ {
			if len(t.missing) < 512 {
				t.missing[q] = 0
			}
		}
	}
}

// learnOffer notes, from an offer of the node, which SSRC is which
// publisher's track (the msid of each a=ssrc line) and the id of the
// transport-wide-cc header extension.
func (s *socketCounter) learnOffer(offer string) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return fmt.Errorf("sfutest: counting client: parse offer: %w", err)
	}
	names := map[uint32][2]string{}
	for _, m := range d.MediaDescriptions {
		for _, a := range m.Attributes {
			switch a.Key {
			case "extmap":
				id, uri, ok := strings.Cut(a.Value, " ")
				if ok && strings.TrimSpace(uri) == sdp.TransportCCURI {
					if n, err := strconv.Atoi(strings.Split(id, "/")[0]); err == nil {
						s.twccID.Store(int32(n))
					}
				}
			case "ssrc":
				// "1234 msid:<stream> <track>"
				f := strings.Fields(a.Value)
				if len(f) == 3 && strings.HasPrefix(f[1], "msid:") {
					if n, err := strconv.ParseUint(f[0], 10, 32); err == nil {
						names[uint32(n)] = [2]string{strings.TrimPrefix(f[1], "msid:"), f[2]}
					}
				}
			}
		}
	}
	s.mu.Lock()
	s.names = names
	s.mu.Unlock()
	return nil
}

// feedback sends, until the client closes, what a receiver sends: TWCC
// feedback and NACKs every feedbackInterval, a receiver report every
// second.
func (s *socketCounter) feedback(pc *webrtc.PeerConnection, done <-chan struct{}) {
	tick := time.NewTicker(feedbackInterval)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			pkts := s.pending(now.Sub(lastReport) >= time.Second)
			if len(pkts) == 0 {
				continue
			}
			if _, ok := pkts[len(pkts)-1].(*rtcp.ReceiverReport); ok {
				lastReport = now
			}
			if err := pc.WriteRTCP(pkts); err != nil {
				if pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
					s.c.fail(fmt.Errorf("counting client feedback: %w", err))
				}
				continue
			}
			s.sent.Add(int64(len(pkts)))
		}
	}
}

// pending builds the feedback due now; the receiver report, when asked
// for, comes last.
func (s *socketCounter) pending(report bool) []rtcp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pkts []rtcp.Packet
	if s.gotTWCC {
		pkts = append(pkts, s.twcc.BuildFeedbackPacket()...)
		s.gotTWCC = false
	}
	var rr *rtcp.ReceiverReport
	if report {
		rr = &rtcp.ReceiverReport{SSRC: s.ssrc}
	}
	for ssrc, t := range s.tracks {
		var lost []uint16
		for q, tries := range t.missing {
			if tries >= nackTries {
				delete(t.missing, q)
				continue
			}
			t.missing[q] = tries + 1
			lost = append(lost, q)
		}
		if len(lost) > 0 {
			pkts = append(pkts, &rtcp.TransportLayerNack{SenderSSRC: s.ssrc, MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(lost)})
		}
		if rr != nil {
			s.c.mu.Lock()
			missing := max(t.stats.Missing, 0)
			expected := t.stats.Packets + missing
			highest := t.stats.highest
			s.c.mu.Unlock()
			var fraction uint8
			if expected > 0 {
				fraction = uint8(min(255, missing*256/expected))
			}
			rr.Reports = append(rr.Reports, rtcp.ReceptionReport{SSRC: ssrc, FractionLost: fraction, TotalLost: uint32(missing), LastSequenceNumber: uint32(highest)})
		}
	}
	if rr != nil {
		pkts = append(pkts, rr)
	}
	return pkts
}

// FeedbackSent is the number of RTCP packets (TWCC feedback, NACKs,
// receiver reports) a client in CountAtSocket mode has written; 0 in the
// other mode, where pion's interceptors send them.
func (c *Client) FeedbackSent() int64 {
	if c.counter == nil {
		return 0
	}
	return c.counter.sent.Load()
}

func (s *socketCounter) close() {
	_ = s.mux.Close()
	_ = s.conn.Close()
}
