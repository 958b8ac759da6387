package signal

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"preau/internal/liveclass"
)

const sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"

func ptr[T any](v T) *T { return &v }

// good lists frames a browser sends, with what Parse makes of them.
var good = []struct {
	frame string
	want  Message
}{
	{`{"type":"hello"}`, &Hello{}},
	{`{"type":"hello","last_seq":42,"resume":true,"ref":"1"}`, &Hello{Common{"1"}, 42, true}},
	{`{"type":"chat","text":"Bonjour <b>madame</b> 👋"}`, &Chat{Text: "Bonjour <b>madame</b> 👋"}},
	{`{"type":"chat","text":""}`, &Chat{}}, // empty is for the room to refuse
	{`{"type":"hand","raised":false}`, &Hand{}},
	{`{"type":"react","reaction":"thumbs_up"}`, &React{Reaction: "thumbs_up"}},
	{`{"type":"poll_create","question":"7×8 ?","options":["54","56"]}`, &PollCreate{Question: "7×8 ?", Options: []string{"54", "56"}}},
	{`{"type":"poll_vote","poll_id":"p1","option":0}`, &PollVote{PollID: "p1"}},
	{`{"type":"poll_close","poll_id":"p1"}`, &PollClose{PollID: "p1"}},
	{`{"type":"stroke","color":"red","width":4,"points":[0,0,10000,10000]}`,
		&Stroke{Color: "red", Width: 4, Points: liveclass.Points{{X: 0, Y: 0}, {X: 10000, Y: 10000}}}},
	{`{"type":"stroke_undo"}`, &StrokeUndo{}},
	{`{"type":"board_clear","ref":"a.b:c-9"}`, &BoardClear{Common{"a.b:c-9"}}},
	{`{"type":"slide","page":3}`, &Slide{Page: 3}},
	{`{"type":"mute_all"}`, &MuteAll{}},
	{`{"type":"remove","participant":"u42"}`, &Remove{Participant: "u42"}},
	{`{"type":"grant","participant":"u42","mic":true}`, &Grant{Participant: "u42", Mic: ptr(true)}},
	{`{"type":"grant","participant":"u42","whiteboard":false,"mic":false}`, &Grant{Participant: "u42", Mic: ptr(false), Whiteboard: ptr(false)}},
	{`{"type":"lower_hand","participant":"u42"}`, &LowerHand{Participant: "u42"}},
	{`{"type":"lower_all"}`, &LowerAll{}},
	{`{"type":"lock","locked":true}`, &Lock{Locked: true}},
	{`{"type":"admit","participant":"u42"}`, &Admit{Participant: "u42"}},
	{`{"type":"admit","all":true}`, &Admit{All: true}},
	{`{"type":"end"}`, &End{}},
	{`{"type":"leave"}`, &Leave{}},
	{`{"type":"media_mode","mode":"audio"}`, &MediaMode{Mode: liveclass.MediaAudio}},
	{`{"type":"pub_offer","sdp":"` + jsonEscape(sdp) + `"}`, &PubOffer{SDP: sdp}},
	{`{"type":"sub_answer","sdp":"v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\n"}`, &SubAnswer{SDP: "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\n"}},
	{`{"type":"ice","target":"pub","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
		&ICE{Target: "pub", Candidate: Candidate{"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", ptr("0"), ptr(uint16(0)), ptr("abcd")}}},
	{`{"type":"ice","target":"sub","candidate":{"candidate":"","sdpMid":null,"sdpMLineIndex":null}}`,
		&ICE{Target: "sub", Candidate: Candidate{}}},
	{`{"type":"ping"}`, &Ping{}},
	{` { "type" : "ping" , "last_seq" : 7 } `, &Ping{LastSeq: 7}},
}

func jsonEscape(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// bad lists frames Parse refuses, with the code (and field) it answers.
var bad = []struct {
	name, frame, code, field string
}{
	{"not json", `hello`, "bad_frame", ""},
	{"an array", `[{"type":"ping"}]`, "bad_frame", ""},
	{"trailing data", `{"type":"ping"}{"type":"ping"}`, "bad_frame", ""},
	{"duplicate member", `{"type":"chat","text":"a","text":"b"}`, "bad_frame", ""},
	{"duplicate type", `{"type":"ping","type":"end"}`, "bad_frame", ""},
	{"invalid utf-8", "{\"type\":\"chat\",\"text\":\"\xff\"}", "bad_frame", ""},
	{"too large", `{"type":"chat","text":"` + strings.Repeat("a", MaxFrame) + `"}`, "too_large", ""},
	{"no type", `{"text":"a"}`, "invalid", "type"},
	{"type not a string", `{"type":1}`, "invalid", "type"},
	{"unknown type", `{"type":"sudo"}`, "unknown_type", ""},
	{"server type from a client", `{"type":"welcome"}`, "unknown_type", ""},
	{"unknown member", `{"type":"chat","text":"a","admin":true}`, "unknown_field", "admin"},
	{"member of another case", `{"type":"chat","TEXT":"a"}`, "unknown_field", "TEXT"},
	{"member of another type", `{"type":"hand","raised":true,"text":"a"}`, "unknown_field", "text"},
	{"missing member", `{"type":"chat"}`, "invalid", "text"},
	{"null member", `{"type":"chat","text":null}`, "invalid", "text"},
	{"wrong member type", `{"type":"hand","raised":"yes"}`, "invalid", "raised"},
	{"negative seq", `{"type":"hello","last_seq":-1}`, "invalid", "last_seq"},
	{"fractional page", `{"type":"slide","page":1.5}`, "invalid", "page"},
	{"bad ref", `{"type":"ping","ref":"<script>"}`, "invalid", "ref"},
	{"long ref", `{"type":"ping","ref":"` + strings.Repeat("a", 65) + `"}`, "invalid", "ref"},
	{"long chat", `{"type":"chat","text":"` + strings.Repeat("a", MaxText+1) + `"}`, "too_large", "text"},
	{"odd points", `{"type":"stroke","color":"red","width":4,"points":[1,2,3]}`, "invalid", "points"},
	{"no points", `{"type":"stroke","color":"red","width":4,"points":[]}`, "invalid", "points"},
	{"too many points", `{"type":"stroke","color":"red","width":4,"points":[` + strings.Repeat("1,", 4000) + `1]}`, "too_large", "points"},
	{"coordinate overflow", `{"type":"stroke","color":"red","width":4,"points":[70000,1]}`, "invalid", "points"},
	{"colour code", `{"type":"stroke","color":"#f00","width":4,"points":[1,1]}`, "invalid", "color"},
	{"too many options", `{"type":"poll_create","question":"q","options":["1","2","3","4","5","6","7","8","9"]}`, "too_large", "options"},
	{"vote out of range", `{"type":"poll_vote","poll_id":"p1","option":99}`, "invalid", "option"},
	{"bad participant id", `{"type":"remove","participant":"u1\" OR 1=1"}`, "invalid", "participant"},
	{"grant nothing", `{"type":"grant","participant":"u1"}`, "invalid", "mic"},
	{"admit both", `{"type":"admit","participant":"u1","all":true}`, "invalid", "participant"},
	{"admit neither", `{"type":"admit"}`, "invalid", "participant"},
	{"unknown mode", `{"type":"media_mode","mode":"4k"}`, "invalid", "mode"},
	{"connecting is not the client's", `{"type":"media_mode","mode":"lost"}`, "invalid", "mode"},
	{"sdp without version", `{"type":"pub_offer","sdp":"o=- 1 2 IN IP4 0.0.0.0\r\n"}`, "bad_sdp", "sdp"},
	{"sdp with a nul", `{"type":"pub_offer","sdp":"v=0\r\n\u0000"}`, "bad_sdp", "sdp"},
	{"sdp with non-ascii", `{"type":"sub_answer","sdp":"v=0\r\ns=é\r\n"}`, "bad_sdp", "sdp"},
	{"sdp too large", `{"type":"pub_offer","sdp":"v=0\r\n` + strings.Repeat("a", MaxSDP) + `"}`, "too_large", "sdp"},
	{"candidate prefix", `{"type":"ice","target":"pub","candidate":{"candidate":"a=candidate:1"}}`, "bad_candidate", "candidate.candidate"},
	{"candidate smuggling a line", `{"type":"ice","target":"pub","candidate":{"candidate":"candidate:1\r\na=evil"}}`, "bad_candidate", "candidate.candidate"},
	{"candidate too long", `{"type":"ice","target":"pub","candidate":{"candidate":"candidate:` + strings.Repeat("1", MaxCandidate) + `"}}`, "too_large", "candidate.candidate"},
	{"candidate unknown member", `{"type":"ice","target":"pub","candidate":{"candidate":"","port":1}}`, "unknown_field", "candidate.port"},
	{"candidate member case", `{"type":"ice","target":"pub","candidate":{"Candidate":""}}`, "unknown_field", "candidate.Candidate"},
	{"candidate missing", `{"type":"ice","target":"pub","candidate":{"sdpMid":"0"}}`, "invalid", "candidate.candidate"},
	{"candidate null", `{"type":"ice","target":"pub","candidate":{"candidate":null}}`, "bad_candidate", "candidate"},
	{"candidate not an object", `{"type":"ice","target":"pub","candidate":"candidate:1"}`, "bad_candidate", "candidate"},
	{"unknown target", `{"type":"ice","target":"both","candidate":{"candidate":""}}`, "invalid", "target"},
}

func TestParseAcceptsWhatBrowsersSend(t *testing.T) {
	for _, g := range good {
		m, err := Parse([]byte(g.frame))
		if err != nil {
			t.Errorf("%s: %v", g.frame, err)
			continue
		}
		if !reflect.DeepEqual(m, g.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", g.frame, m, g.want)
		}
		if m.Type() != g.want.Type() {
			t.Errorf("%s: type %s", g.frame, m.Type())
		}
	}
}

func TestParseRefusesMalformedFramesWithACode(t *testing.T) {
	for _, b := range bad {
		_, err := Parse([]byte(b.frame))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: accepted (err %v)", b.name, err)
			continue
		}
		if e := liveclass.ErrorOf(err); e.Code != b.code || e.Field != b.field {
			t.Errorf("%s: code %q field %q, want %q %q", b.name, e.Code, e.Field, b.code, b.field)
		}
	}
}

func TestAParseErrorCarriesTheMessagesRef(t *testing.T) {
	_, err := Parse([]byte(`{"type":"chat","ref":"42","text":"a","x":1}`))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Ref != "42" || pe.Type != TypeChat {
		t.Fatalf("%#v", err)
	}
	frame, _ := ParseServer(EncodeError(err, "", nil))
	if frame.Type != TypeError || frame.Code != "unknown_field" || frame.Field != "x" || frame.Ref != "42" {
		t.Fatalf("error frame %+v", frame)
	}
}

func TestEveryAcceptedMessageReencodesToItself(t *testing.T) {
	for _, g := range good {
		m, err := Parse([]byte(g.frame))
		if err != nil {
			continue
		}
		checkRoundTrip(t, []byte(g.frame), m)
	}
}

func checkRoundTrip(t *testing.T, frame []byte, m Message) {
	t.Helper()
	b, err := Encode(m)
	if err != nil {
		t.Fatalf("%q: encode: %v", frame, err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatalf("%q re-encoded as %q, which fails: %v", frame, b, err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("%q re-encoded as %q, which parses as %#v, not %#v", frame, b, back, m)
	}
}

func TestEveryTypeHasASpecAndAType(t *testing.T) {
	for typ, sp := range specs {
		if m := sp.make(); m.Type() != typ {
			t.Errorf("spec %s makes a %s", typ, m.Type())
		}
		for _, r := range sp.required {
			if !contains(sp.fields, r) {
				t.Errorf("%s requires %s, which it does not allow", typ, r)
			}
		}
	}
}
