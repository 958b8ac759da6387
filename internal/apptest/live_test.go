// live_test.go covers the live class through the real program, with Go
// WebSocket clients speaking the signalling protocol: who may join (the
// class's pupils and teachers, never another class's pupil nor a parent,
// and never by link alone), chat and raised hands round-trip, a pupil
// cannot publish until the teacher grants the microphone, malformed frames
// are refused while the room keeps running, a pupil who loses the
// connection comes back to the same state and gets what was said meanwhile,
// the register and the chat export are the teachers', ending the class ends
// it for all, and a chat message the room showed survives a kill -9.
package apptest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"preau/internal/app"
	"preau/internal/apptest"
	"preau/internal/domain"
)

// wsClient is one participant's WebSocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	seq  uint64
}

type frame struct {
	Type     string          `json:"type"`
	Seq      uint64          `json:"seq"`
	Kind     string          `json:"kind"`
	Data     json.RawMessage `json:"data"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	You      string          `json:"you"`
	Snapshot json.RawMessage `json:"snapshot"`
	SDP      string          `json:"sdp"`
}

// dialLive opens b's WebSocket to class id; it returns the HTTP status
// when the upgrade is refused.
func dialLive(t *testing.T, s *apptest.Server, b *apptest.Browser, id string) (*wsClient, int) {
	t.Helper()
	u, _ := url.Parse(s.URL)
	h := http.Header{}
	for _, c := range b.Client.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, strings.Replace(s.URL, "http://", "ws://", 1)+"/live/"+id+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode
		}
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	return c, http.StatusSwitchingProtocols
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame matching ok, skipping others, within 10 s.
func (c *wsClient) next(what string, ok func(frame) bool) frame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			c.t.Fatalf("frame %s: %v", b, err)
		}
		if f.Seq > c.seq && f.Type == "event" {
			c.seq = f.Seq
		}
		if ok(f) {
			return f
		}
	}
}

func (c *wsClient) event(kind string) frame {
	c.t.Helper()
	return c.next("event "+kind, func(f frame) bool { return f.Type == "event" && f.Kind == kind })
}

func (c *wsClient) errorFrame() frame {
	c.t.Helper()
	return c.next("an error", func(f frame) bool { return f.Type == "error" })
}

// hello sends hello and returns the welcome.
func (c *wsClient) hello(lastSeq uint64, resume bool) frame {
	c.t.Helper()
	m := map[string]any{"type": "hello"}
	if lastSeq > 0 {
		m["last_seq"] = lastSeq
	}
	if resume {
		m["resume"] = true
	}
	c.send(m)
	w := c.next("welcome", func(f frame) bool { return f.Type == "welcome" || f.Type == "error" })
	if w.Type != "welcome" {
		c.t.Fatalf("hello answered %s: %s", w.Code, w.Message)
	}
	if w.Seq > c.seq {
		c.seq = w.Seq
	}
	return w
}

var audienceRE = regexp.MustCompile(`<option value="(class:\d+)"[^>]*>6e A</option>`)

// startClass has the maths teacher start a live class for 6e A (Léa's
// class) and returns its id.
func startClass(t *testing.T, prof *apptest.Browser, title string) string {
	t.Helper()
	code, page := prof.Get("/live")
	m := audienceRE.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("live page: %d, no 6e A in the start form", code)
	}
	code, body, hdr := prof.Post("/live", url.Values{"audience": {m[1]}, "title": {title}})
	loc := hdr.Get("Location")
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/live/") {
		t.Fatalf("start: %d %q %.300s", code, loc, body)
	}
	return strings.TrimPrefix(loc, "/live/")
}

// publisherOffer is a real browser-like offer with one audio section (a
// microphone), made by pion.
func publisherOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

func TestLiveClassJoinChatHandsPermissionsResume(t *testing.T) {
	s, a := apptest.StartApp(t, t.TempDir())
	prof := s.LoginHTML(t, "prof", "demo")
	id := startClass(t, prof, "Fractions — classe virtuelle")

	// The timetable offers to start one from a lesson.
	if code, page := prof.Get("/timetable"); code != http.StatusOK || !strings.Contains(page, `href="/live?audience=class:`) {
		t.Errorf("teacher's timetable without the live class link: %d", code)
	}

	// Who sees it, who may join; the home page says it runs.
	eleve := s.LoginHTML(t, "eleve", "demo")
	if code, page := eleve.Get("/"); code != http.StatusOK || !strings.Contains(page, `<a class="button primary" href="/live/`+id+`">Classe virtuelle en cours`) {
		t.Errorf("Léa's home page does not announce the class: %d", code)
	}
	if code, page := eleve.Get("/live"); code != http.StatusOK || !strings.Contains(page, `href="/live/`+id+`"`) {
		t.Fatalf("Léa's live page: %d, no link to the class", code)
	}
	if code, page := eleve.Get("/live/" + id); code != http.StatusOK || !strings.Contains(page, "live.js") || !strings.Contains(page, "<noscript>") {
		t.Fatalf("room page: %d", code)
	}
	other := s.LoginHTML(t, "e2.1", "demo") // a pupil of 5e A
	if code, page := other.Get("/live"); code != http.StatusOK || strings.Contains(page, "/live/"+id) {
		t.Errorf("another class's pupil sees the class: %d", code)
	}
	parent := s.LoginHTML(t, "parent", "demo")
	for who, b := range map[string]*apptest.Browser{"another class's pupil": other, "a parent": parent} {
		if code, _ := b.Get("/live/" + id); code != http.StatusNotFound {
			t.Errorf("%s opens the room: %d", who, code)
		}
		if _, code := dialLive(t, s, b, id); code != http.StatusNotFound {
			t.Errorf("%s opens the room's WebSocket: %d", who, code)
		}
	}
	// No session, no room: a copied link is not enough.
	if _, code := dialLive(t, s, &apptest.Browser{Client: &http.Client{Jar: emptyJar{}}}, id); code == http.StatusSwitchingProtocols {
		t.Error("an anonymous visitor opened the room's WebSocket")
	}

	teacher, _ := dialLive(t, s, prof, id)
	w := teacher.hello(0, false)
	if w.You != "u"+userID(t, a, "prof") || !strings.Contains(string(w.Snapshot), `"role":"host"`) {
		t.Fatalf("teacher's welcome: you %q snapshot %.200s", w.You, w.Snapshot)
	}
	lea, _ := dialLive(t, s, eleve, id)
	lw := lea.hello(0, false)
	if !strings.Contains(string(lw.Snapshot), `"role":"student"`) || !strings.Contains(string(lw.Snapshot), `"mic":false`) {
		t.Fatalf("Léa's welcome: %.300s", lw.Snapshot)
	}
	teacher.event("joined")

	// Chat and hands round-trip.
	lea.send(map[string]any{"type": "chat", "text": "Bonjour madame !"})
	for _, c := range []*wsClient{teacher, lea} {
		if f := c.event("chat"); !strings.Contains(string(f.Data), "Bonjour madame !") {
			t.Errorf("chat: %s", f.Data)
		}
	}
	lea.send(map[string]any{"type": "hand", "raised": true})
	if f := teacher.event("hand"); !strings.Contains(string(f.Data), `"raised":true`) {
		t.Errorf("hand: %s", f.Data)
	}

	// Léa may not publish, nor moderate; bad frames are refused and counted;
	// the room goes on.
	lea.send(map[string]any{"type": "pub_offer", "sdp": publisherOffer(t)})
	if f := lea.errorFrame(); f.Code != "not_permitted" {
		t.Errorf("pupil's offer: %s %s", f.Code, f.Message)
	}
	lea.send(map[string]any{"type": "mute_all"})
	if f := lea.errorFrame(); f.Code != "not_permitted" || !strings.Contains(f.Message, "autorisation") {
		t.Errorf("pupil's mute_all: %s %q", f.Code, f.Message)
	}
	for _, bad := range []string{`{"type":"teleport"}`, `not json`, `{"type":"chat","text":"x","extra":1}`,
		`{"type":"pub_offer","sdp":"<script>"}`, `{"type":"ice","target":"pub","candidate":{"candidate":"evil"}}`,
		`{"type":"stroke","color":"black","width":4,"points":[1,2,3]}`} {
		lea.sendRaw([]byte(bad))
		if f := lea.errorFrame(); f.Code == "" || f.Code == "internal" {
			t.Errorf("%s: error %q", bad, f.Code)
		}
	}
	lea.sendRaw([]byte(`{"type":"chat","text":"` + strings.Repeat("a", 70_000) + `"}`)) // over the frame limit
	lea, _ = dialLive(t, s, eleve, id)                                                  // the oversized frame may have closed it
	lea.hello(0, false)
	teacher.send(map[string]any{"type": "chat", "text": "Toujours là ?"})
	lea.event("chat")

	// The teacher grants the microphone: now Léa's offer is answered.
	teacher.send(map[string]any{"type": "grant", "participant": "u" + userID(t, a, "eleve"), "mic": true})
	lea.event("permissions")
	lea.send(map[string]any{"type": "pub_offer", "sdp": publisherOffer(t)})
	if f := lea.next("pub_answer", func(f frame) bool { return f.Type == "pub_answer" || f.Type == "error" }); f.Type != "pub_answer" ||
		!strings.HasPrefix(f.SDP, "v=0") {
		t.Errorf("granted pupil's offer: %s %s %s", f.Type, f.Code, f.Message)
	}

	// Léa loses the connection; meanwhile the teacher speaks. She comes
	// back with her last seq and gets exactly that, her hand still up.
	last := lea.seq
	lea.conn.CloseNow()
	teacher.event("presence") // disconnected
	teacher.send(map[string]any{"type": "chat", "text": "On reprend à la page 12."})
	teacher.event("chat")
	lea, _ = dialLive(t, s, eleve, id)
	lea.seq = last
	w = lea.hello(last, true)
	if w.Snapshot != nil && string(w.Snapshot) != "null" {
		t.Errorf("resume from %d sent a snapshot", last)
	}
	if f := lea.event("chat"); !strings.Contains(string(f.Data), "page 12") {
		t.Errorf("missed message: %s", f.Data)
	}
	again, _ := dialLive(t, s, eleve, id) // a reload: the whole state
	w = again.hello(0, false)
	if !strings.Contains(string(w.Snapshot), `"hand_raised_at"`) || !strings.Contains(string(w.Snapshot), `"mic":true`) {
		t.Errorf("after reconnecting, hand and microphone lost: %.400s", w.Snapshot)
	}

	// The register is the teachers'.
	if code, _ := eleve.Get("/live/" + id + "/attendance.csv"); code != http.StatusNotFound {
		t.Errorf("pupil reads the register: %d", code)
	}
	code, csv := prof.Get("/live/" + id + "/attendance.csv")
	if code != http.StatusOK || !strings.Contains(csv, "Léa Moreau,student,") || !strings.Contains(csv, "name,role,joined_at") {
		t.Errorf("register: %d\n%s", code, csv)
	}

	// So is the chat, kept as it was said.
	if code, _ := eleve.Get("/live/" + id + "/chat.csv"); code != http.StatusNotFound {
		t.Errorf("pupil reads the chat export: %d", code)
	}
	code, csv = prof.Get("/live/" + id + "/chat.csv")
	if code != http.StatusOK || !strings.Contains(csv, "seq,at,name,role,text") || !strings.Contains(csv, ",Léa Moreau,student,Bonjour madame !") ||
		!strings.Contains(csv, "On reprend à la page 12.") {
		t.Errorf("chat export: %d\n%s", code, csv)
	}

	// Ending it ends it for everyone; it is then listed as ended, with its
	// register kept in the store.
	code, _, hdr := prof.Post("/live/"+id+"/end", url.Values{})
	if code != http.StatusSeeOther {
		t.Fatalf("end: %d %v", code, hdr)
	}
	again.event("ended")
	if code, page := eleve.Get("/live"); code != http.StatusOK || strings.Contains(page, `href="/live/`+id+`"`) {
		t.Errorf("ended class still offered to Léa: %d", code)
	}
	var lc domain.LiveClassID
	fmt.Sscan(id, &lc)
	evs, err := a.Store.Attendance(t.Context(), lc)
	if err != nil || len(evs) < 4 {
		t.Fatalf("stored register: %v %+v", err, evs)
	}
	code, csv = prof.Get("/live/" + id + "/attendance.csv")
	if code != http.StatusOK || !strings.Contains(csv, "Léa Moreau,student,") || !strings.Contains(csv, ",ended") {
		t.Errorf("register after the end: %d\n%s", code, csv)
	}
	if chat, err := a.Store.LiveChat(t.Context(), lc); err != nil || len(chat) < 3 || chat[0].Text != "Bonjour madame !" {
		t.Errorf("stored chat: %v %+v", err, chat)
	}
	if code, csv = prof.Get("/live/" + id + "/chat.csv"); code != http.StatusOK || !strings.Contains(csv, "Toujours là ?") {
		t.Errorf("chat export after the end: %d\n%s", code, csv)
	}
}

// userID is a demo account's id, as text.
func userID(t *testing.T, a *app.App, login string) string {
	t.Helper()
	u, _, err := a.Store.UserByLogin(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(int64(u.ID))
}

// emptyJar is a cookie jar with no cookies: a visitor without a session.
type emptyJar struct{}

func (emptyJar) SetCookies(*url.URL, []*http.Cookie) {}
func (emptyJar) Cookies(*url.URL) []*http.Cookie     { return nil }

// Without live classes (--live=false) no media port is opened and every
// live page is the ordinary 404.
func TestLiveClassesOff(t *testing.T) {
	s, a := apptest.StartApp(t, t.TempDir(), "--live=false")
	if a.Live != nil {
		t.Fatal("live classes running with --live=false")
	}
	prof := s.LoginHTML(t, "prof", "demo")
	for _, path := range []string{"/live", "/live/1", "/live/1/ws", "/live/1/attendance.csv", "/live/1/chat.csv"} {
		if code, _ := prof.Get(path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, code)
		}
	}
	if code, _, _ := prof.Post("/live/1/end", url.Values{}); code != http.StatusNotFound {
		t.Errorf("POST end: %d", code)
	}
}

// A chat message the room showed survives a kill -9 of the node: it was
// on disk before anyone saw it. After a restart the class is ended (its
// room is gone) and the teacher downloads the whole chat.
func TestLiveChatSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	p := startPreau(t, "demo", "--addr", "127.0.0.1:0", "--data", dir)
	s := p.server(dir)
	prof := s.LoginHTML(t, "prof", "demo")
	id := startClass(t, prof, "Avant la panne")
	teacher, _ := dialLive(t, s, prof, id)
	teacher.hello(0, false)
	lea, _ := dialLive(t, s, s.LoginHTML(t, "eleve", "demo"), id)
	lea.hello(0, false)
	said := []string{"Bonjour madame !", "=SOMME(A1:A9) n'est pas une formule ici"}
	for _, text := range said {
		lea.send(map[string]any{"type": "chat", "text": text})
		if f := teacher.event("chat"); !strings.Contains(string(f.Data), strings.ReplaceAll(text, "'", `\u0027`)) && !strings.Contains(string(f.Data), text) {
			t.Fatalf("chat: %s", f.Data)
		}
	}
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL, right after the teacher saw it
		t.Fatal(err)
	}
	if err := p.wait(t); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("after kill -9: %v", err)
	}

	p = startPreau(t, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	s = p.server(dir)
	prof = s.LoginHTML(t, "prof", "demo")
	code, csv := prof.Get("/live/" + id + "/chat.csv")
	if code != http.StatusOK || !strings.Contains(csv, ",Léa Moreau,student,Bonjour madame !") ||
		!strings.Contains(csv, ",'=SOMME(A1:A9) n'est pas une formule ici") {
		t.Errorf("chat after the crash: %d\n%s", code, csv)
	}
	p.stop(t)
}
