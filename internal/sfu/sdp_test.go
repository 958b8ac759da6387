package sfu

import (
	"errors"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// browserOffer is a publisher offer as a browser makes it: microphone,
// camera and screen transceivers in that order, bundled.
const browserOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1 2\r\n" +
	"a=msid-semantic: WMS\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n" +
	"a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=sendonly\r\n" +
	"a=msid:- 7d2c\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=ssrc:1001 cname:x\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=sendonly\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 nack pli\r\n" +
	"a=ssrc:1002 cname:x\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:2\r\n" +
	"a=sendonly\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=ssrc:1003 cname:x\r\n"

func TestPublisherKindsFollowTheSectionOrder(t *testing.T) {
	sd, err := parseSDP(browserOffer)
	if err != nil {
		t.Fatal(err)
	}
	got := publisherKinds(sd)
	want := map[string]Kind{"0": KindAudio, "1": KindCamera, "2": KindScreen}
	for mid, k := range want {
		if got[mid] != k {
			t.Errorf("mid %s: %s, want %s", mid, got[mid], k)
		}
	}
	// A fourth section (a second camera) is of no known kind.
	extra := browserOffer + strings.ReplaceAll(browserOffer[strings.LastIndex(browserOffer, "m=video"):], "a=mid:2", "a=mid:3")
	sd, err = parseSDP(strings.Replace(extra, "BUNDLE 0 1 2", "BUNDLE 0 1 2 3", 1))
	if err != nil {
		t.Fatal(err)
	}
	if k := publisherKinds(sd)["3"]; k != 0 {
		t.Errorf("third video section: %s, want unknown", k)
	}
}

func TestParseSDPRefusesMalformedInput(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "",
		"garbage":       "hello",
		"no media":      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
		"oversized":     browserOffer + strings.Repeat("a=x:y\r\n", maxSDPSize/7),
		"missing mid":   strings.Replace(browserOffer, "a=mid:1\r\n", "", 1),
		"duplicate mid": strings.Replace(browserOffer, "a=mid:2", "a=mid:1", 1),
		"too many sections": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
			strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x\r\n", maxMediaSections+1),
	} {
		if _, err := parseSDP(in); !errors.Is(err, ErrBadSDP) {
			t.Errorf("%s: %v, want ErrBadSDP", name, err)
		}
	}
}

func TestCheckCandidate(t *testing.T) {
	mid := "0"
	good := []string{
		"",
		"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
		"candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
		"candidate:3 1 udp 41885439 203.0.113.7 3478 typ relay raddr 0.0.0.0 rport 0",
	}
	for _, c := range good {
		if err := checkCandidate(webrtc.ICECandidateInit{Candidate: c, SDPMid: &mid}); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
	long := strings.Repeat("x", maxMidSize+1)
	bad := []webrtc.ICECandidateInit{
		{Candidate: "candidate:garbage"},
		{Candidate: "candidate:1 1 udp 2130706431 example.com 50000 typ host"},
		{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 99999999 typ host"},
		{Candidate: strings.Repeat("a", maxCandidateSize+1)},
		{Candidate: good[1], SDPMid: &long},
	}
	for _, c := range bad {
		if err := checkCandidate(c); !errors.Is(err, ErrBadCandidate) {
			t.Errorf("%.60q: %v, want ErrBadCandidate", c.Candidate, err)
		}
	}
}

func TestKeyframeDetection(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		want    bool
	}{
		{[]byte{0x10, 0x00}, true},                   // S, PID 0, P=0
		{[]byte{0x10, 0x01}, false},                  // interframe
		{[]byte{0x00, 0x00}, false},                  // not the start of a partition
		{[]byte{0x90, 0x80, 0x81, 0x23, 0x00}, true}, // X, I with a 15-bit picture id
		{[]byte{0x90, 0xc0, 0x05, 0x01, 0x00}, true}, // X, I, L (7-bit id, TL0PICIDX)
		{[]byte{0x90, 0x80}, false},                  // truncated
		{nil, false},
	} {
		if got := isVP8Keyframe(tc.payload); got != tc.want {
			t.Errorf("% x: %v, want %v", tc.payload, got, tc.want)
		}
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add(browserOffer)
	f.Add("v=0\r\n")
	f.Add(strings.Replace(browserOffer, "m=video", "m=application", 1))
	f.Fuzz(func(t *testing.T, in string) {
		sd, err := parseSDP(in)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error not wrapping ErrBadSDP: %v", err)
			}
			return
		}
		kinds := publisherKinds(sd)
		if len(kinds) > 3 {
			t.Fatalf("%d kinds from one offer", len(kinds))
		}
	})
}

func FuzzCheckCandidate(f *testing.F) {
	f.Add("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host")
	f.Add("candidate:3 1 udp 41885439 203.0.113.7 3478 typ relay raddr 0.0.0.0 rport 0")
	f.Add("candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active")
	f.Fuzz(func(t *testing.T, in string) {
		if err := checkCandidate(webrtc.ICECandidateInit{Candidate: in}); err != nil && !errors.Is(err, ErrBadCandidate) {
			t.Fatalf("error not wrapping ErrBadCandidate: %v", err)
		}
	})
}

func FuzzKeyframe(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x05, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) { isVP8Keyframe(b) })
}
