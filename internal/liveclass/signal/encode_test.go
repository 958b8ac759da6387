package signal

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"preau/internal/liveclass"
)

func TestAnEventFrameCarriesSeqKindAndData(t *testing.T) {
	at := time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC)
	b, err := EncodeEvent(liveclass.Event{
		Seq: 7, Kind: liveclass.KindStroke, At: at,
		Data: liveclass.Stroke{ID: "s1", By: "u1", Color: "red", Width: 2, Points: liveclass.Points{{X: 1, Y: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"event","seq":7,"kind":"stroke","at":"2021-04-06T08:00:00Z","data":{"id":"s1","by":"u1","color":"red","width":2,"points":[1,2]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	f, err := ParseServer(b)
	if err != nil {
		t.Fatal(err)
	}
	var s liveclass.Stroke
	if err := f.DecodeData(&s); err != nil || f.Seq != 7 || s.Points[0] != (liveclass.Point{X: 1, Y: 2}) {
		t.Fatalf("%+v %+v %v", f, s, err)
	}
	if _, err := EncodeEvent(liveclass.Event{Kind: liveclass.KindResync}); err == nil {
		t.Fatal("the resync marker was encoded")
	}
}

func TestAnEphemeralEventHasNoSeq(t *testing.T) {
	b, _ := EncodeEvent(liveclass.Event{Kind: liveclass.KindReaction, Data: liveclass.Reaction{Participant: "u1", Reaction: "clap"}})
	if strings.Contains(string(b), `"seq"`) {
		t.Fatal(string(b))
	}
}

func TestWelcomeAndSnapshotFramesRoundTrip(t *testing.T) {
	snap := liveclass.Snapshot{
		Seq: 12, Room: liveclass.RoomInfo{ID: "r1", Title: "Maths"},
		You:     liveclass.ParticipantView{ID: "u1", Role: liveclass.RoleHost},
		Strokes: []liveclass.Stroke{{ID: "s1", Points: liveclass.Points{{X: 3, Y: 4}}}},
		Chat:    []liveclass.ChatMessage{{Seq: 1, Text: "<salut>"}},
	}
	b, err := EncodeWelcome(Welcome{You: "u1", Seq: 12, Snapshot: &snap, ICEServers: []ICEServer{{URLs: []string{"turn:preau.example:3478?transport=tcp"}, Username: "u", Credential: "c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"text":"<salut>"`) {
		t.Fatalf("HTML-escaped: %s", b)
	}
	f, err := ParseServer(b)
	if err != nil || f.Type != TypeWelcome || f.Snapshot.Strokes[0].Points[0].Y != 4 || f.ICEServers[0].Username != "u" {
		t.Fatalf("%+v %v", f, err)
	}
	b, _ = EncodeSnapshot(snap)
	f, err = ParseServer(b)
	if err != nil || f.Type != TypeSnapshot || f.Seq != 12 || f.Snapshot.Room.Title != "Maths" {
		t.Fatalf("%s: %+v %v", b, f, err)
	}
}

func TestErrorFramesTranslateAndHideInternalDetail(t *testing.T) {
	tr := func(key string, args ...any) string { return "T(" + key + fmt.Sprint(args...) + ")" }
	err := fmt.Errorf("liveclass: room r1: chat by u1: %w", liveclass.ErrRateLimited)
	f, _ := ParseServer(EncodeError(err, "9", tr))
	if f.Code != "rate_limited" || f.Message != "T(live.err.rate_limited)" || f.Ref != "9" {
		t.Fatalf("%+v", f)
	}
	f, _ = ParseServer(EncodeError(errors.New("sqlite: disk I/O error at /var/lib/preau"), "bad ref!", tr))
	if f.Code != "internal" || strings.Contains(f.Message, "sqlite") || f.Ref != "" {
		t.Fatalf("%+v", f)
	}
}

func TestMediaFrames(t *testing.T) {
	for _, c := range []struct {
		b    func() ([]byte, error)
		want string
	}{
		{func() ([]byte, error) { return EncodePubAnswer("v=0\r\n") }, `{"type":"pub_answer","sdp":"v=0\r\n"}`},
		{func() ([]byte, error) { return EncodeSubOffer("v=0\r\n") }, `{"type":"sub_offer","sdp":"v=0\r\n"}`},
		{func() ([]byte, error) { return EncodeICE(TargetSub, Candidate{Candidate: "candidate:1"}) }, `{"type":"ice","target":"sub","candidate":{"candidate":"candidate:1"}}`},
		{func() ([]byte, error) { return EncodeQueued(3) }, `{"type":"queued","position":3}`},
		{func() ([]byte, error) { return EncodePong(5) }, `{"type":"pong","seq":5}`},
	} {
		b, err := c.b()
		if err != nil || string(b) != c.want {
			t.Errorf("got %s (%v), want %s", b, err, c.want)
		}
	}
}
