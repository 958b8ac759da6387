package sfu_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

// Garbage from a client is refused with a clear error, counted, and the
// class goes on.
func TestMalformedSignallingIsRefusedAndTheNodeKeepsServing(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)

	_, bad := mustJoin(t, r, "mallory", sfutest.Options{})
	bad.SetAllowed(sfu.KindAudio)
	offers := []string{
		"",
		"not an sdp",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", // no ICE or DTLS
		strings.Repeat("v=0\r\n", 20000),
	}
	for _, o := range offers {
		if _, err := bad.HandlePublisherOffer(o); !errors.Is(err, sfu.ErrBadSDP) {
			t.Errorf("offer %.40q: %v, want ErrBadSDP", o, err)
		}
	}
	if err := bad.HandleSubscriberAnswer("v=0\r\n"); !errors.Is(err, sfu.ErrBadSDP) {
		t.Errorf("bad answer: %v, want ErrBadSDP", err)
	}
	for _, c := range []string{"candidate:junk", "candidate:1 1 udp 1 999.1.1.1 1 typ host", strings.Repeat("c", 4096)} {
		if err := bad.AddICECandidate(sfu.TargetSubscriber, webrtc.ICECandidateInit{Candidate: c}); !errors.Is(err, sfu.ErrBadCandidate) {
			t.Errorf("candidate %.40q: %v, want ErrBadCandidate", c, err)
		}
	}
	if err := bad.AddICECandidate(sfu.Target(9), webrtc.ICECandidateInit{}); !errors.Is(err, sfu.ErrBadState) {
		t.Errorf("unknown target: %v, want ErrBadState", err)
	}
	if got := n.Stats().BadSignalling; got < uint64(len(offers)+4) {
		t.Errorf("BadSignalling = %d", got)
	}

	// The class goes on: a student joining now receives the teacher.
	student, _ := mustJoin(t, r, "student", sfutest.Options{})
	waitFor(t, "a new student receiving", 20*time.Second, func() bool {
		return student.Received("teacher", "camera").Packets >= 30
	})
}

// A wrong answer is refused and leaves the offer outstanding: the client
// can still answer it.
func TestBadSubscriberAnswerIsRefusedAndTheClientRecovers(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio)

	offers := make(chan string, 4)
	c, err := sfutest.NewClient("student", sfutest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cb := c.Callbacks()
	answer := cb.OnSubscriberOffer
	cb.OnSubscriberOffer = func(sdp string) { offers <- sdp }
	p, err := r.Join("student", cb)
	if err != nil {
		t.Fatal(err)
	}
	c.Attach(p)
	offer := <-offers
	// The offer sent back: well formed, but the wrong DTLS role.
	if err := p.HandleSubscriberAnswer(offer); !errors.Is(err, sfu.ErrBadSDP) {
		t.Fatalf("offer as answer: %v, want ErrBadSDP", err)
	}
	// An answer for other media sections.
	wrong := strings.ReplaceAll(strings.ReplaceAll(offer, "a=setup:actpass", "a=setup:active"), "a=mid:0", "a=mid:7")
	if err := p.HandleSubscriberAnswer(wrong); !errors.Is(err, sfu.ErrBadSDP) {
		t.Fatalf("answer with an unknown mid: %v, want ErrBadSDP", err)
	}
	// An answer without ICE credentials.
	var kept []string
	for _, l := range strings.Split(strings.ReplaceAll(offer, "a=setup:actpass", "a=setup:active"), "\r\n") {
		if !strings.HasPrefix(l, "a=ice-ufrag") && !strings.HasPrefix(l, "a=ice-pwd") {
			kept = append(kept, l)
		}
	}
	if err := p.HandleSubscriberAnswer(strings.Join(kept, "\r\n")); !errors.Is(err, sfu.ErrBadSDP) {
		t.Fatalf("answer without ICE credentials: %v, want ErrBadSDP", err)
	}
	// The offer is still outstanding: the client answers it.
	answer(offer)
	waitFor(t, "receiving after recovery", 20*time.Second, func() bool {
		return c.Received("teacher", "audio").Packets >= 30
	})
	if err := p.HandleSubscriberAnswer(strings.ReplaceAll(offer, "a=setup:actpass", "a=setup:active")); !errors.Is(err, sfu.ErrBadState) {
		t.Errorf("answer with no offer outstanding: %v, want ErrBadState", err)
	}
}

func TestJoinTwiceAndAfterClose(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	_, p := mustJoin(t, r, "a", sfutest.Options{})
	if _, err := r.Join("a", sfu.PeerCallbacks{}); !errors.Is(err, sfu.ErrPeerExists) {
		t.Errorf("second join: %v, want ErrPeerExists", err)
	}
	p.Close()
	p.Close()
	if _, err := p.HandlePublisherOffer("v=0"); err == nil {
		t.Error("offer on a closed peer accepted")
	}
	r.Close()
	if _, err := r.Join("b", sfu.PeerCallbacks{}); !errors.Is(err, sfu.ErrClosed) {
		t.Errorf("join a closed router: %v, want ErrClosed", err)
	}
	if r2 := n.Router("class-1"); r2 == r {
		t.Error("a closed router was handed out again")
	}
	_ = n.Close()
	if n.Router("class-2") != nil {
		t.Error("a closed node made a router")
	}
	if _, err := n.Admit(t.Context(), nil); !errors.Is(err, sfu.ErrClosed) {
		t.Errorf("admit on a closed node: %v", err)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := sfu.New(sfu.Config{
		ICEUDPAddr:  "nonsense",
		PublicIPs:   []string{"not-an-ip"},
		TURNTCPAddr: "127.0.0.1:0",
		TURNKey:     []byte("short"),
	})
	if !errors.Is(err, sfu.ErrConfig) {
		t.Fatalf("err %v, want ErrConfig", err)
	}
	for _, want := range []string{"ICEUDPAddr", "PublicIPs", "TURNKey"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
