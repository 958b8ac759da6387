package sfu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

var testTURNKey = []byte("0123456789abcdef0123456789abcdef")

// onlyTransport keeps the TURN URLs of one transport ("udp" or "tcp").
func onlyTransport(servers []webrtc.ICEServer, transport string) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, s := range servers {
		var urls []string
		for _, u := range s.URLs {
			if strings.HasSuffix(u, "?transport="+transport) {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			s.URLs = urls
			out = append(out, s)
		}
	}
	return out
}

// A student on a network that blocks UDP reaches the node only through
// TURN over TCP, and still receives the lesson.
func TestStudentBehindAUDPBlockReceivesThroughTURNOverTCP(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) {
		c.TURNUDPAddr = "127.0.0.1:0"
		c.TURNTCPAddr = "127.0.0.1:0"
		c.TURNKey = testTURNKey
	})
	servers := n.ICEServers("student")
	if len(servers) != 1 || len(servers[0].URLs) != 2 {
		t.Fatalf("ICE servers %+v, want TURN over UDP and TCP", servers)
	}
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)
	student, _ := mustJoin(t, r, "student", sfutest.Options{ICEServers: onlyTransport(servers, "tcp"), RelayOnly: true})
	waitFor(t, "media through the relay", 30*time.Second, func() bool {
		return student.Received("teacher", "camera").Packets >= 60 && student.Received("teacher", "audio").Packets >= 30
	})
	if got := n.Stats().TURNAllocations; got == 0 {
		t.Errorf("no TURN allocation: the media did not go through the relay")
	}
}

func TestTURNRefusesBadCredentials(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) {
		c.TURNTCPAddr = "127.0.0.1:0"
		c.TURNKey = testTURNKey
	})
	servers := n.ICEServers("student")
	servers[0].Credential = "wrong"
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio)
	student, _ := mustJoin(t, r, "student", sfutest.Options{ICEServers: servers, RelayOnly: true})
	// Give the relay attempt time to fail: wait until the teacher's
	// audio has gone on for a while, then check nothing arrived.
	waitFor(t, "the node forwarding to nobody for a while", 20*time.Second, func() bool {
		return n.Stats().PacketsIn >= 150
	})
	if got := student.Received("teacher", "audio").Packets; got != 0 {
		t.Errorf("received %d packets with a wrong TURN password", got)
	}
	if got := n.Stats().TURNAllocations; got != 0 {
		t.Errorf("%d allocations with a wrong password", got)
	}
}

// ICE over TCP: the fallback when UDP is dropped but TCP to the node
// passes, without TURN.
func TestStudentOverICETCP(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) { c.ICETCPAddr = "127.0.0.1:0" })
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)
	student, _ := mustJoin(t, r, "student", sfutest.Options{TCPOnly: true})
	waitFor(t, "media over ICE-TCP", 30*time.Second, func() bool {
		return student.Received("teacher", "camera").Packets >= 60
	})
}

func TestOneUDPPortForAllPeers(t *testing.T) {
	n := mustNode(t)
	udp, tcp, _, _ := n.Addrs()
	if udp == nil || tcp != nil {
		t.Fatalf("addrs %v %v", udp, tcp)
	}
	port := udp.String()[strings.LastIndex(udp.String(), ":")+1:]
	r := n.Router("class-1")
	type seen struct {
		c     *sfutest.Client
		cands chan string
	}
	var peers []seen
	for _, id := range []string{"a", "b"} {
		c, err := sfutest.NewClient(id, sfutest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		cb := c.Callbacks()
		inner := cb.OnICECandidate
		cands := make(chan string, 64)
		cb.OnICECandidate = func(tg sfu.Target, ci webrtc.ICECandidateInit) {
			select {
			case cands <- ci.Candidate:
			default:
			}
			inner(tg, ci)
		}
		p, err := r.Join(id, cb)
		if err != nil {
			t.Fatal(err)
		}
		c.Attach(p)
		mustPublish(t, c, p, sfu.KindAudio)
		peers = append(peers, seen{c, cands})
	}
	waitFor(t, "audio both ways", 20*time.Second, func() bool {
		return peers[0].c.Received("b", "audio").Packets > 20 && peers[1].c.Received("a", "audio").Packets > 20
	})
	for _, p := range peers {
		select {
		case cand := <-p.cands:
			if !strings.Contains(cand, " "+port+" typ host") {
				t.Errorf("%s: candidate %q is not on the node's UDP port %s", p.c.ID, cand, port)
			}
		default:
			t.Errorf("%s: no candidate trickled for the subscriber connection", p.c.ID)
		}
	}
}
