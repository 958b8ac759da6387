package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"preau/internal/slides/slidestest"
)

// liveBrowser is Chromium for the live class: a fake camera (a moving test
// pattern) and microphone (a beep) instead of real devices, no permission
// prompt, and sound allowed to play without a click on the page.
var liveBrowser = browserOptions{
	flags: map[string]any{
		"use-fake-device-for-media-stream": true,
		"use-fake-ui-for-media-stream":     true,
		"autoplay-policy":                  "no-user-gesture-required",
	},
	// Four people with media in one browser on a small shared machine.
	timeout: 5 * time.Minute,
}

// liveDeadline bounds every wait for something to happen in a live class
// (a message to arrive, media to flow). It is generous on purpose: the
// tests wait for conditions and never assert how long they took.
const liveDeadline = 60 * time.Second

// The French texts the room shows (the tabs ask for French).
const (
	liveConnected    = "Connecté·e"
	liveReconnecting = "Connexion perdue : reconnexion…"
	liveNotPermitted = "Vous n'avez pas l'autorisation de faire cela."
)

// member is one person in a live class, in a browser context of their own.
type member struct {
	login string
	ctx   context.Context
	id    string // the participant id in the room ("u12"), once in
}

// person opens a tab for login that asks for French, and signs in through
// the login form. What the page logs to its console (errors, live.js's
// failures) goes to the test log.
func (e *env) person(t *testing.T, login string) *member {
	t.Helper()
	ctx := e.session(t)
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	err := chromedp.Listen(ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			line = "exception: " + ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				line += " " + ex.Description
			}
		default:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf("[%s] %s", login, line)
		}
	})
	if err != nil {
		t.Fatalf("%s: listening to the console: %v", login, err)
	}
	french(t, ctx)
	e.login(t, ctx, login)
	return &member{login: login, ctx: ctx}
}

// startClass has the teacher start a live class for 6e A from the form of
// /live; the form leads to the room, where the teacher waits to be in.
// It returns the class's id.
func (e *env) startClass(t *testing.T, teacher *member, title string) string {
	t.Helper()
	return e.startClassWith(t, teacher, title, false)
}

// startClassWith is startClass, with the form's waiting room box ticked
// when waiting is true.
func (e *env) startClassWith(t *testing.T, teacher *member, title string, waiting bool) string {
	t.Helper()
	e.open(t, teacher.ctx, "/live")
	value, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll('#audience option')].find((o) => o.textContent === '6e A')?.value || ''`))
	if err != nil || value == "" {
		t.Fatalf("no 6e A in the start form (%v)", err)
	}
	if err := chromedp.Do(teacher.ctx,
		chromedp.SetValue(chromedp.ID("audience"), value),
		chromedp.SendKeys(chromedp.ID("title"), title),
	); err != nil {
		t.Fatalf("filling the start form: %v", err)
	}
	if waiting {
		click(t, teacher, chromedp.ID("waiting"))
	}
	follow(t, teacher.ctx, chromedp.CSS(`form[action="/live"] button[type=submit]`))
	id := lastID(t, teacher.ctx, "/live/")
	waitIn(t, teacher)
	return id
}

// join has a student open /live, find the class and click Rejoindre, and
// waits until the student is in the room.
func (e *env) join(t *testing.T, s *member, classID string) {
	t.Helper()
	e.enter(t, s, classID)
	waitIn(t, s)
}

// enter has a student open /live, find the class and click Rejoindre,
// which leads to the room's page; where that lands (in the room, in the
// waiting room, refused) is for the caller to check.
func (e *env) enter(t *testing.T, s *member, classID string) {
	t.Helper()
	e.open(t, s.ctx, "/live")
	link := chromedp.CSS(fmt.Sprintf(`main a[href="/live/%s"]`, classID))
	contains(t, s.login+"'s /live", text(t, s.ctx, link), "Rejoindre")
	follow(t, s.ctx, link)
}

// lessonWithLea starts a browser for the live class, has the teacher
// start "Les fractions" for 6e A and Léa join it: the opening of most
// scenarios.
func lessonWithLea(t *testing.T) (e *env, teacher, lea *member, id string) {
	t.Helper()
	e = startWith(t, liveBrowser)
	teacher = e.person(t, "prof")
	id = e.startClass(t, teacher, "Les fractions")
	lea = e.person(t, "eleve")
	e.join(t, lea, id)
	return e, teacher, lea, id
}

// waitIn waits until m's room page is connected and has drawn the room,
// and notes m's participant id.
func waitIn(t *testing.T, m *member) {
	t.Helper()
	st := until(t, m, "connected to the room", `({Status: document.getElementById('status').textContent,
		You: (window.preauLive && preauLive.state.you) || '', Me: document.getElementById('live').dataset.me})`,
		func(v struct{ Status, You, Me string }) bool { return v.Status == liveConnected && v.You != "" })
	if st.You != st.Me {
		t.Fatalf("%s: the room says you are %q, the page %q", m.login, st.You, st.Me)
	}
	m.id = st.You
}

// until evaluates js in m's page (awaiting a promise) until ok holds for
// its result, which it returns. It fails the test at liveDeadline with the
// last result, so that the failure shows what the page was in.
func until[T any](t *testing.T, m *member, what, js string, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(liveDeadline)
	for {
		v, err := chromedp.Run(m.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
		if err == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s after %v: last %+v (err %v); the page says %s", m.login, what, liveDeadline, v, err, pageSays(m))
		}
		select {
		case <-m.ctx.Done():
			t.Fatalf("%s: waiting for %s: %v", m.login, what, m.ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pageSays is the room page's status and error line, for failures.
func pageSays(m *member) string {
	s, err := chromedp.Run(m.ctx, chromedp.Evaluate[string](`(() => {
		const s = document.getElementById('status'), e = document.getElementById('live-error');
		return JSON.stringify({status: s && s.textContent, error: e && !e.hidden ? e.textContent : ''});
	})()`))
	if err != nil {
		return err.Error()
	}
	return s
}

// click clicks the element sel of m's page.
func click[S chromedp.Selectable](t *testing.T, m *member, sel S) {
	t.Helper()
	if err := chromedp.Do(m.ctx, chromedp.Click(sel, chromedp.NodeVisible)); err != nil {
		t.Fatalf("%s: clicking %v: %v", m.login, sel, err)
	}
}

// row is the button labelled label in the row of participant id in the
// teacher's list of participants.
func row(id, label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//ul[@id="people"]/li[@data-participant=%q]//button[normalize-space()=%q]`, id, label))
}

// pressed waits until the button id of m's page is shown with
// aria-pressed on (true) or off (false).
func pressed(t *testing.T, m *member, id string, on bool) {
	t.Helper()
	want := fmt.Sprint(on)
	until(t, m, fmt.Sprintf("#%s aria-pressed=%s", id, want),
		fmt.Sprintf(`(() => { const b = document.getElementById(%q); return b && !b.hidden ? b.getAttribute('aria-pressed') : 'absent'; })()`, id),
		func(v string) bool { return v == want })
}

// shownJS tells whether the element %q takes room on m's page: present,
// not hidden, and not inside anything hidden (the hidden attribute alone
// is not enough: a style can show a hidden element).
const shownJS = `(() => { const el = document.getElementById(%q); return !!el && el.getClientRects().length > 0; })()`

// shows waits until the element id of m's page is shown (or not).
func shows(t *testing.T, m *member, id string, want bool) {
	t.Helper()
	what := "showing #" + id
	if !want {
		what = "hiding #" + id
	}
	until(t, m, what, fmt.Sprintf(shownJS, id), func(shown bool) bool { return shown == want })
}

// say sends a chat message through m's chat form.
func say(t *testing.T, m *member, msg string) {
	t.Helper()
	if err := chromedp.Do(m.ctx,
		chromedp.SendKeys(chromedp.ID("chat-text"), msg, chromedp.NodeEnabled),
		chromedp.Click(chromedp.ID("chat-send"), chromedp.NodeEnabled),
	); err != nil {
		t.Fatalf("%s: sending %q: %v", m.login, msg, err)
	}
}

// seesChat waits until every msg is in m's chat.
func seesChat(t *testing.T, m *member, msg ...string) {
	t.Helper()
	until(t, m, fmt.Sprintf("showing %q in #chat", msg), `document.getElementById('chat').innerText`, func(chat string) bool {
		for _, s := range msg {
			if !strings.Contains(chat, s) {
				return false
			}
		}
		return true
	})
}

// personRow is what a list of participants says of one person.
type personRow struct {
	Found bool
	Hand  bool // marked with the raised hand
	Text  string
}

// personJS reads participant %s's row in the page's #people.
const personJS = `(() => {
	const li = document.querySelector('#people li[data-participant="%s"]');
	return li ? {Found: true, Hand: li.classList.contains('hand'), Text: li.innerText} : {Found: false};
})()`

// media counts what m's subscriber connection receives.
type media struct {
	Video struct{ Reports, Bytes, Frames float64 }
	Audio struct{ Reports, Bytes float64 }
}

// inboundJS sums the inbound-rtp reports of the subscriber connection's
// getStats(), per kind (only the teacher publishes: one report of each).
const inboundJS = `(async () => {
	const out = {Video: {Reports: 0, Bytes: 0, Frames: 0}, Audio: {Reports: 0, Bytes: 0}};
	const pc = window.preauLive && preauLive.pcSub;
	if (!pc) return out;
	(await pc.getStats()).forEach((s) => {
		if (s.type !== 'inbound-rtp') return;
		const k = s.kind === 'video' ? out.Video : s.kind === 'audio' ? out.Audio : null;
		if (!k) return;
		k.Reports++;
		k.Bytes += s.bytesReceived || 0;
		if (s.kind === 'video') k.Frames += s.framesDecoded || 0;
	});
	return out;
})()`

// receivesVideoAndAudio waits until m's subscriber connection shows an
// inbound video report and an inbound audio report, then until a second
// sample shows video bytes and decoded frames and audio bytes all grown.
func receivesVideoAndAudio(t *testing.T, m *member) {
	t.Helper()
	first := until(t, m, "receiving video and audio", inboundJS, func(v media) bool {
		return v.Video.Reports > 0 && v.Video.Frames > 0 && v.Audio.Reports > 0 && v.Audio.Bytes > 0
	})
	last := until(t, m, "receiving more video frames and audio", inboundJS, func(v media) bool {
		return v.Video.Bytes > first.Video.Bytes && v.Video.Frames > first.Video.Frames && v.Audio.Bytes > first.Audio.Bytes
	})
	t.Logf("%s receives: video %.0f → %.0f bytes, %.0f → %.0f frames decoded; audio %.0f → %.0f bytes", m.login,
		first.Video.Bytes, last.Video.Bytes, first.Video.Frames, last.Video.Frames, first.Audio.Bytes, last.Audio.Bytes)
}

// TestLiveTeacherPublishesToThreeStudents: the teacher starts a class for
// 6e A from /live and turns on the camera and the microphone; three pupils
// join from /live, and each one's subscriber connection decodes the
// teacher's video and receives the sound, more and more.
func TestLiveTeacherPublishesToThreeStudents(t *testing.T) {
	t.Parallel()
	e := startWith(t, liveBrowser)
	teacher := e.person(t, "prof")
	id := e.startClass(t, teacher, "Fractions — classe virtuelle")
	click(t, teacher, chromedp.ID("camera"))
	click(t, teacher, chromedp.ID("mic"))
	pressed(t, teacher, "camera", true)
	pressed(t, teacher, "mic", true)

	var students []*member
	for _, login := range []string{"eleve", "e1.2", "e1.3"} {
		s := e.person(t, login)
		e.join(t, s, id)
		students = append(students, s)
	}
	for _, s := range students {
		receivesVideoAndAudio(t, s)
	}
	// The teacher sees the three of them, each with the state of their
	// media connection ("Vidéo et son", or lower if the ladder stepped
	// down on this busy machine), no longer "connexion…".
	for _, s := range students {
		until(t, teacher, "listing "+s.login+" with media", fmt.Sprintf(personJS, s.id), func(r personRow) bool {
			return r.Found && (strings.Contains(r.Text, "Vidéo et son") || strings.Contains(r.Text, "Son seulement") ||
				strings.Contains(r.Text, "Tableau et chat seulement"))
		})
	}
	screenshot(t, teacher.ctx, "live-teacher-1280")
	screenshot(t, students[0].ctx, "live-student-1280")
}

// TestLiveChatAndHand: a pupil writes in the chat through its form and
// raises the hand with the button; the teacher's page shows the message
// and the pupil marked with the raised hand, and the teacher lowers it.
func TestLiveChatAndHand(t *testing.T) {
	t.Parallel()
	_, teacher, lea, _ := lessonWithLea(t)

	say(t, lea, "Bonjour madame, je suis là !")
	seesChat(t, teacher, "Bonjour madame, je suis là !", studentName)
	seesChat(t, lea, "Bonjour madame, je suis là !")

	click(t, lea, chromedp.ID("hand"))
	pressed(t, lea, "hand", true)
	r := until(t, teacher, "showing Léa's raised hand", fmt.Sprintf(personJS, lea.id), func(r personRow) bool { return r.Hand })
	contains(t, "Léa's row in the teacher's list", r.Text, studentName, "✋", "main levée")

	click(t, teacher, row(lea.id, "Baisser la main"))
	until(t, teacher, "showing Léa's hand down", fmt.Sprintf(personJS, lea.id), func(r personRow) bool { return r.Found && !r.Hand })
	pressed(t, lea, "hand", false)
}

// forcePublishJS makes the page offer to publish a microphone without
// using its own controls, as a modified page would: an offer with one
// audio section from a new connection, sent as pub_offer.
const forcePublishJS = `(async () => {
	const pc = new RTCPeerConnection();
	pc.addTransceiver('audio', {direction: 'sendonly'});
	const offer = await pc.createOffer();
	preauLive.send({type: 'pub_offer', sdp: offer.sdp});
	pc.close();
	return true;
})()`

// liveError is the room page's error line.
type liveError struct {
	Shown      bool
	Code, Text string
}

const liveErrorJS = `(() => {
	const e = document.getElementById('live-error');
	return {Shown: !e.hidden, Code: e.dataset.code || '', Text: e.textContent};
})()`

// receivesFromJS tells whether m's subscriber connection has a track whose
// stream is participant %[1]s's: in the offer the node made (the msid
// names the stream) or on the page (a media element).
const receivesFromJS = `(() => {
	const pc = preauLive.pcSub;
	const sdp = pc && pc.remoteDescription ? pc.remoteDescription.sdp : '';
	return sdp.includes('a=msid:%[1]s ') || !!document.querySelector('#videos [id^="media-%[1]s-"]');
})()`

// audioFromJS measures the audio track participant %s publishes, as m's
// subscriber connection receives it.
const audioFromJS = `(async () => {
	const el = document.getElementById('media-%s-audio');
	const track = el && el.srcObject && el.srcObject.getAudioTracks()[0];
	if (!track || !preauLive.pcSub) return 0;
	let bytes = 0;
	(await preauLive.pcSub.getStats(track)).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') bytes += s.bytesReceived || 0; });
	return bytes;
})()`

// TestLiveStudentPublishesOnlyWhenGranted: a pupil's page that offers to
// publish a microphone without permission gets the server's refusal
// (not_permitted, shown on the page) and nothing of it reaches the
// teacher. Once the teacher gives the floor from the pupil's row, the
// pupil's page shows the microphone button, the pupil turns it on, and the
// teacher receives the pupil's sound.
func TestLiveStudentPublishesOnlyWhenGranted(t *testing.T) {
	t.Parallel()
	_, teacher, lea, _ := lessonWithLea(t)

	if shown, err := chromedp.Run(lea.ctx, chromedp.Evaluate[bool](fmt.Sprintf(shownJS, "mic"))); err != nil || shown {
		t.Errorf("a pupil without the floor is offered the microphone button (%v)", err)
	}
	if _, err := chromedp.Run(lea.ctx, chromedp.Evaluate[bool](forcePublishJS, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("forcing an offer: %v", err)
	}
	refusal := until(t, lea, "showing the refusal", liveErrorJS, func(v liveError) bool { return v.Shown })
	if refusal.Code != "not_permitted" || refusal.Text != liveNotPermitted {
		t.Errorf("refusal of the forced offer: code %q, shown %q; want not_permitted, %q", refusal.Code, refusal.Text, liveNotPermitted)
	}
	// A chat message sent after the offer reaches the teacher after
	// anything the offer could have started.
	say(t, lea, "J'ai essayé de parler.")
	seesChat(t, teacher, "J'ai essayé de parler.")
	if got, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[bool](fmt.Sprintf(receivesFromJS, lea.id))); err != nil || got {
		t.Errorf("the teacher receives a track of the pupil who had no permission (%v)", err)
	}

	click(t, teacher, row(lea.id, "Donner la parole"))
	shows(t, lea, "mic", true)
	click(t, lea, chromedp.ID("mic"))
	pressed(t, lea, "mic", true)
	first := until(t, teacher, "receiving Léa's sound", fmt.Sprintf(audioFromJS, lea.id), func(b float64) bool { return b > 0 })
	last := until(t, teacher, "receiving more of Léa's sound", fmt.Sprintf(audioFromJS, lea.id), func(b float64) bool { return b > first })
	t.Logf("the teacher receives Léa's sound: %.0f → %.0f bytes", first, last)
	if got, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[bool](fmt.Sprintf(receivesFromJS, lea.id))); err != nil || !got {
		t.Errorf("the check that found no track of Léa's before the grant finds none now either (%v)", err)
	}
}

// offline cuts m's tab from the network (online false: gives it back):
// requests and new connections fail and the page's navigator.onLine says
// so, as when a pupil's Wi-Fi drops. Connections already open are left
// alone by Chromium's emulation.
func offline(t *testing.T, m *member, off bool) {
	t.Helper()
	var rules []*network.Conditions
	if off {
		rules = append(rules, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	if _, err := chromedp.Call(m.ctx, network.EmulateNetworkConditionsByRule,
		network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules}); err != nil {
		t.Fatalf("%s: network conditions: %v", m.login, err)
	}
	if _, err := chromedp.Call(m.ctx, network.OverrideNetworkState,
		network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatalf("%s: network state: %v", m.login, err)
	}
}

// TestLiveReconnectionKeepsState: a pupil raises the hand and the teacher
// allows the pupil on the whiteboard; the pupil's line drops (the tab goes
// offline and its WebSocket is cut). The page says it is reconnecting;
// meanwhile the teacher writes in the chat. Back online, the page
// reconnects by itself and the pupil finds the hand still raised, the
// whiteboard tools still there and the messages sent meanwhile.
func TestLiveReconnectionKeepsState(t *testing.T) {
	t.Parallel()
	_, teacher, lea, _ := lessonWithLea(t)

	click(t, lea, chromedp.ID("hand"))
	pressed(t, lea, "hand", true)
	until(t, teacher, "showing Léa's raised hand", fmt.Sprintf(personJS, lea.id), func(r personRow) bool { return r.Hand })
	shows(t, lea, "board-tools", false)
	click(t, teacher, row(lea.id, "Autoriser au tableau"))
	shows(t, lea, "board-tools", true)

	offline(t, lea, true)
	if _, err := chromedp.Run(lea.ctx, chromedp.Evaluate[bool](`(preauLive.ws.close(), true)`)); err != nil {
		t.Fatalf("cutting the WebSocket: %v", err)
	}
	until(t, lea, "saying it reconnects", `document.getElementById('status').textContent`, func(s string) bool { return s == liveReconnecting })
	r := until(t, teacher, "showing Léa disconnected", fmt.Sprintf(personJS, lea.id), func(r personRow) bool {
		return strings.Contains(r.Text, "déconnecté·e")
	})
	if !r.Hand {
		t.Errorf("Léa's hand went down in the teacher's list as her line dropped: %q", r.Text)
	}
	say(t, teacher, "On reprend à la page 12.")
	say(t, teacher, "Léa, tu m'entends ?")
	seesChat(t, teacher, "On reprend à la page 12.", "Léa, tu m'entends ?")

	offline(t, lea, false)
	back := time.Now()
	waitIn(t, lea)
	t.Logf("Léa's page reconnected %v after the line came back", time.Since(back).Round(time.Millisecond))
	seesChat(t, lea, "On reprend à la page 12.", "Léa, tu m'entends ?")
	pressed(t, lea, "hand", true)
	shows(t, lea, "board-tools", true)
	r = until(t, teacher, "showing Léa back", fmt.Sprintf(personJS, lea.id), func(r personRow) bool {
		return r.Found && !strings.Contains(r.Text, "déconnecté·e")
	})
	if !r.Hand {
		t.Errorf("Léa's hand is down in the teacher's list after she came back: %q", r.Text)
	}
	// Each message once: the missed ones came once, in order.
	chat := text(t, lea.ctx, chromedp.ID("chat"))
	if n := strings.Count(chat, "On reprend à la page 12."); n != 1 {
		t.Errorf("the missed message shows %d times in Léa's chat:\n%s", n, chat)
	}
	if i, j := strings.Index(chat, "page 12"), strings.Index(chat, "tu m'entends"); i > j {
		t.Errorf("the missed messages are out of order in Léa's chat:\n%s", chat)
	}
}

// tabTo presses Tab until the element id has the focus (at most 40 times)
// and fails if it never gets it.
func tabTo(t *testing.T, m *member, id string) {
	t.Helper()
	for range 40 {
		press(t, m.ctx, kb.Tab)
		if f := focus(t, m.ctx); f.ID == id {
			if f.Width == 0 || f.Height == 0 || f.Left < 0 || f.Left+f.Width > f.ViewportWidth {
				t.Errorf("%s: #%s has the focus but is not on screen: %+v", m.login, id, f)
			}
			return
		}
	}
	t.Fatalf("%s: 40 Tabs never reached #%s", m.login, id)
}

// TestLiveRoomKeyboardAndPhone: on a phone's screen (390 px), the pupil's
// room page has no horizontal scroll, and the essential controls work
// from the keyboard alone: Tab to the hand button and Enter raises the
// hand; Tab to the message field, type, and Enter sends it.
func TestLiveRoomKeyboardAndPhone(t *testing.T) {
	t.Parallel()
	e := startWith(t, liveBrowser)
	teacher := e.person(t, "prof")
	id := e.startClass(t, teacher, "Les fractions")
	lea := e.person(t, "eleve")
	if err := chromedp.Do(lea.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	e.join(t, lea, id)

	width, err := chromedp.Run(lea.ctx, chromedp.Evaluate[struct{ Scroll, Client float64 }](
		`({Scroll: document.documentElement.scrollWidth, Client: document.documentElement.clientWidth})`))
	if err != nil {
		t.Fatal(err)
	}
	if width.Scroll > width.Client {
		t.Errorf("the room page scrolls sideways on a 390 px screen: %.0f px wide in %.0f", width.Scroll, width.Client)
	}
	screenshot(t, lea.ctx, "live-room-390")

	e.open(t, lea.ctx, "/live/"+id) // a fresh load: the focus starts at the top
	waitIn(t, lea)
	tabTo(t, lea, "hand")
	press(t, lea.ctx, kb.Enter)
	pressed(t, lea, "hand", true)
	until(t, teacher, "showing Léa's raised hand", fmt.Sprintf(personJS, lea.id), func(r personRow) bool { return r.Hand })

	tabTo(t, lea, "chat-text")
	if err := chromedp.Do(lea.ctx, chromedp.KeyEvent("Merci madame"), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatalf("typing a message: %v", err)
	}
	seesChat(t, teacher, "Merci madame")
	if v, err := chromedp.Run(lea.ctx, chromedp.Value(chromedp.ID("chat-text"))); err != nil || v != "" {
		t.Errorf("the message field after sending: %q (%v), want it empty", v, err)
	}
}

// More French texts of the room.
const (
	liveWaiting       = "Vous êtes en salle d'attente : l'enseignant·e va vous faire entrer."
	liveRemoved       = "Vous avez été retiré·e de la classe virtuelle."
	liveErrRemoved    = "L'enseignant·e vous a retiré·e de cette classe virtuelle."
	liveErrRoomLocked = "L'enseignant·e a verrouillé la classe virtuelle : il n'est plus possible d'y entrer."
	liveLocked        = "La classe virtuelle est verrouillée : vous n'avez pas pu entrer."
)

// status waits until m's room page says want in its status line.
func status(t *testing.T, m *member, want string) {
	t.Helper()
	until(t, m, fmt.Sprintf("saying %q", want), `document.getElementById('status').textContent`, func(s string) bool { return s == want })
}

// waitingPage is what a room page shows while its participant waits.
type waitingPage struct {
	Status, Notice string
	NoticeShown    bool
	ChatDisabled   bool
	Name           string // the participant's name, as the room knows it
}

const waitingJS = `(() => {
	const you = window.preauLive && preauLive.state.people.get(preauLive.state.you);
	const n = document.getElementById('waiting-notice');
	return {Status: document.getElementById('status').textContent, Notice: n.innerText,
		NoticeShown: n.getClientRects().length > 0, ChatDisabled: document.getElementById('chat-text').disabled,
		Name: (you && you.name) || ''};
})()`

// waits waits until m's page says m is in the waiting room, with the
// notice and its place in line shown and the chat closed to m.
func waits(t *testing.T, m *member) waitingPage {
	t.Helper()
	w := until(t, m, "waiting in the waiting room", waitingJS, func(w waitingPage) bool {
		return w.Status == liveWaiting && w.NoticeShown && w.Name != ""
	})
	contains(t, m.login+"'s waiting notice", w.Notice, liveWaiting, "Position dans la file : 1")
	if !w.ChatDisabled {
		t.Errorf("%s can write in the chat from the waiting room", m.login)
	}
	return w
}

// waitingListJS is the teacher's waiting list: shown or not, and its rows.
const waitingListJS = `(() => ({Shown: document.getElementById('waiting').getClientRects().length > 0,
	Rows: [...document.querySelectorAll('#waiting-list li')].map((li) => li.innerText)}))()`

type waitingList struct {
	Shown bool
	Rows  []string
}

// listsWaiting waits until the teacher's waiting list is exactly names.
func listsWaiting(t *testing.T, teacher *member, names ...string) {
	t.Helper()
	until(t, teacher, fmt.Sprintf("listing %q in the waiting room", names), waitingListJS, func(w waitingList) bool {
		if len(w.Rows) != len(names) || w.Shown != (len(names) > 0) {
			return false
		}
		for i, n := range names {
			if !strings.HasPrefix(w.Rows[i], n) {
				return false
			}
		}
		return true
	})
}

// admitButton is the "Faire entrer" button of name's row in the teacher's
// waiting list.
func admitButton(name string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//ul[@id="waiting-list"]/li[starts-with(normalize-space(), %q)]//button[normalize-space()="Faire entrer"]`, name))
}

// lists waits until m's list of participants has participant id (or
// has not, when want is false).
func lists(t *testing.T, m *member, id string, want bool) {
	t.Helper()
	what := "listing " + id
	if !want {
		what = "not listing " + id
	}
	until(t, m, what, fmt.Sprintf(personJS, id), func(r personRow) bool { return r.Found == want })
}

// TestLiveWaitingRoomAndLock: the teacher starts a class with a waiting
// room. A pupil who joins waits: the page says so with the place in line,
// the chat is closed, and the teacher sees the pupil in the waiting list,
// not among the participants; the teacher lets the pupil in, whose page
// connects and who can write in the chat. The teacher then locks the
// room: a second pupil who never was admitted is refused with the page's
// message and appears nowhere, while the first pupil, who leaves and
// comes back, enters directly (admitted once, neither waiting nor
// refused). Unlocked, the second pupil reloads, waits, and the teacher's
// "let everyone in" lets them in.
func TestLiveWaitingRoomAndLock(t *testing.T) {
	t.Parallel()
	e := startWith(t, liveBrowser)
	teacher := e.person(t, "prof")
	id := e.startClassWith(t, teacher, "Les fractions", true)

	lea := e.person(t, "eleve")
	e.enter(t, lea, id)
	w := waits(t, lea)
	if w.Name != studentName {
		t.Errorf("the waiting page knows Léa as %q, want %q", w.Name, studentName)
	}
	lea.id = attr(t, lea.ctx, chromedp.ID("live"), "data-me")
	listsWaiting(t, teacher, studentName)
	if r, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[personRow](fmt.Sprintf(personJS, lea.id))); err != nil || r.Found {
		t.Errorf("the teacher lists Léa among the participants while she waits: %+v (%v)", r, err)
	}

	click(t, teacher, admitButton(studentName))
	waitIn(t, lea)
	shows(t, lea, "waiting-notice", false)
	listsWaiting(t, teacher)
	lists(t, teacher, lea.id, true)
	say(t, lea, "Merci de m'avoir fait entrer.")
	seesChat(t, teacher, "Merci de m'avoir fait entrer.")

	click(t, teacher, chromedp.ID("lock"))
	pressed(t, teacher, "lock", true)
	until(t, lea, "knowing the room is locked", `!!(preauLive.state.room && preauLive.state.room.locked)`, func(b bool) bool { return b })

	hugo := e.person(t, "e1.2")
	e.enter(t, hugo, id)
	refusal := until(t, hugo, "showing the refusal", liveErrorJS, func(v liveError) bool { return v.Shown })
	if refusal.Code != "room_locked" || refusal.Text != liveErrRoomLocked {
		t.Errorf("refusal of a new pupil in the locked room: code %q, shown %q; want room_locked, %q", refusal.Code, refusal.Text, liveErrRoomLocked)
	}
	status(t, hugo, liveLocked)
	hugo.id = attr(t, hugo.ctx, chromedp.ID("live"), "data-me")
	if v, err := chromedp.Run(hugo.ctx, chromedp.Evaluate[bool](`document.getElementById('hand').disabled && document.getElementById('chat-text').disabled`)); err != nil || !v {
		t.Errorf("the refused pupil's controls are enabled (%v)", err)
	}

	// Léa leaves (the teacher sees her go) and comes back through /live:
	// admitted once, she is neither refused by the lock nor sent to wait.
	click(t, lea, chromedp.ID("leave"))
	lists(t, teacher, lea.id, false)
	e.join(t, lea, id)
	lists(t, teacher, lea.id, true)
	// Hugo was never let in: nowhere in the teacher's lists.
	listsWaiting(t, teacher)
	if r, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[personRow](fmt.Sprintf(personJS, hugo.id))); err != nil || r.Found {
		t.Errorf("the teacher lists the refused pupil: %+v (%v)", r, err)
	}

	click(t, teacher, chromedp.ID("lock"))
	pressed(t, teacher, "lock", false)
	e.open(t, hugo.ctx, "/live/"+id)
	hw := waits(t, hugo)
	listsWaiting(t, teacher, hw.Name)
	click(t, teacher, chromedp.ID("admit-all"))
	waitIn(t, hugo)
	listsWaiting(t, teacher)
	lists(t, teacher, hugo.id, true)
	lists(t, lea, hugo.id, true)
}

// micState is what a pupil's page says of its own microphone.
type micState struct {
	Granted bool // the room's permission, as the page keeps it
	Button  bool // the microphone button is shown
	Sending bool // the publishing connection sends a live track
}

const micStateJS = `(() => {
	const you = preauLive.state.people.get(preauLive.state.you) || {};
	const pc = preauLive.pcPub;
	return {Granted: !!(you.permissions && you.permissions.mic),
		Button: document.getElementById('mic').getClientRects().length > 0,
		Sending: !!pc && pc.getSenders().some((s) => s.track && s.track.readyState === 'live')};
})()`

// stillJS is true when what the expression %s (a number, maybe a promise)
// measures has not grown in 1.5 s: the flow it counts has stopped. It is a
// condition waited for, not an assertion of when it stopped.
const stillJS = `(async () => {
	const f = async () => %s;
	const a = await f();
	await new Promise((r) => setTimeout(r, 1500));
	return (await f()) <= a;
})()`

// TestLiveMuteAllAndRemoval: the teacher gives a pupil the floor and
// hears the pupil; "mute all" takes the microphone back: the pupil's page
// drops the permission, hides the button and stops sending, the teacher's
// row offers the floor again and the sound stops arriving. The teacher
// then removes a second pupil, whose page says so and whose controls are
// off; the others' lists drop the pupil, and a reload does not bring the
// pupil back: the server refuses the removed participant for the rest of
// the class.
func TestLiveMuteAllAndRemoval(t *testing.T) {
	t.Parallel()
	e, teacher, lea, id := lessonWithLea(t)
	hugo := e.person(t, "e1.2")
	e.join(t, hugo, id)

	click(t, teacher, row(lea.id, "Donner la parole"))
	shows(t, lea, "mic", true)
	click(t, lea, chromedp.ID("mic"))
	pressed(t, lea, "mic", true)
	until(t, lea, "sending the microphone", micStateJS, func(m micState) bool { return m.Granted && m.Button && m.Sending })
	first := until(t, teacher, "receiving Léa's sound", fmt.Sprintf(audioFromJS, lea.id), func(b float64) bool { return b > 0 })
	until(t, teacher, "receiving more of Léa's sound", fmt.Sprintf(audioFromJS, lea.id), func(b float64) bool { return b > first })

	click(t, teacher, chromedp.ID("mute-all"))
	until(t, lea, "muted", micStateJS, func(m micState) bool { return !m.Granted && !m.Button && !m.Sending })
	until(t, teacher, "offering Léa the floor again", fmt.Sprintf(`!!document.evaluate(%q, document, null, 9, null).singleNodeValue`,
		fmt.Sprintf(`//ul[@id="people"]/li[@data-participant=%q]//button[normalize-space()="Donner la parole"]`, lea.id)),
		func(b bool) bool { return b })
	until(t, teacher, "no longer receiving Léa's sound", fmt.Sprintf(stillJS, fmt.Sprintf(audioFromJS, lea.id)), func(b bool) bool { return b })
	if r, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[personRow](fmt.Sprintf(personJS, lea.id))); err != nil || strings.Contains(r.Text, "🎤") {
		t.Errorf("Léa's row still shows the microphone after mute all: %q (%v)", r.Text, err)
	}

	click(t, teacher, row(hugo.id, "Retirer"))
	status(t, hugo, liveRemoved)
	if v, err := chromedp.Run(hugo.ctx, chromedp.Evaluate[bool](`document.getElementById('hand').disabled && document.getElementById('chat-text').disabled`)); err != nil || !v {
		t.Errorf("the removed pupil's controls are enabled (%v)", err)
	}
	lists(t, teacher, hugo.id, false)
	lists(t, lea, hugo.id, false)

	e.open(t, hugo.ctx, "/live/"+id)
	refusal := until(t, hugo, "showing the refusal after a reload", liveErrorJS, func(v liveError) bool { return v.Shown })
	if refusal.Code != "removed" || refusal.Text != liveErrRemoved {
		t.Errorf("a removed pupil's reload: code %q, shown %q; want removed, %q", refusal.Code, refusal.Text, liveErrRemoved)
	}
	status(t, hugo, liveRemoved)
	// Léa's chat message reaches the teacher after anything Hugo's
	// reload could have started: he is still not listed.
	say(t, lea, "Hugo est parti ?")
	seesChat(t, teacher, "Hugo est parti ?")
	if r, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[personRow](fmt.Sprintf(personJS, hugo.id))); err != nil || r.Found {
		t.Errorf("the removed pupil is back in the teacher's list after a reload: %+v (%v)", r, err)
	}
}

// pollView is the poll as a page shows it.
type pollView struct {
	Question string
	Labels   []string
	Checked  []bool
	Disabled []bool
	Text     string
	Close    bool // a "Fermer le sondage" button
}

const pollJS = `(() => {
	const box = document.getElementById('poll'), lg = box.querySelector('legend');
	const radios = [...box.querySelectorAll('input[type=radio]')];
	return {Question: lg ? lg.textContent : '', Labels: [...box.querySelectorAll('label')].map((l) => l.textContent),
		Checked: radios.map((r) => r.checked), Disabled: radios.map((r) => r.disabled), Text: box.innerText,
		Close: [...box.querySelectorAll('button')].some((b) => b.textContent === 'Fermer le sondage')};
})()`

// sameStrings tells whether a and b hold the same strings in order.
func sameStrings(a, b []string) bool {
	return fmt.Sprintf("%q", a) == fmt.Sprintf("%q", b)
}

// vote clicks the label of option in m's poll (its radio) and waits until
// the server's acknowledgement checks it.
func vote(t *testing.T, m *member, option string, index int) {
	t.Helper()
	click(t, m, chromedp.Search(fmt.Sprintf(`//div[@id="poll"]//label[normalize-space()=%q]`, option)))
	until(t, m, "recording the vote for "+option, `(() => { const p = preauLive.state.polls.at(-1); return p && p.your_vote !== undefined ? p.your_vote : -1; })()`,
		func(v float64) bool { return int(v) == index })
}

// TestLivePoll: the teacher opens a poll with three answers from the
// room's form; two pupils see it and vote through its radio buttons. While
// the poll is open the teacher sees the counts as they come and the pupils
// see no count (so as not to be swayed); the teacher closes it, and then
// the pupils see the counts too, with their own choice still checked and
// the poll closed to votes.
func TestLivePoll(t *testing.T) {
	t.Parallel()
	e, teacher, lea, id := lessonWithLea(t)
	hugo := e.person(t, "e1.2")
	e.join(t, hugo, id)

	const question = "Quelle fraction est égale à 1/2 ?"
	options := []string{"2/4", "3/4", "1/3"}
	if err := chromedp.Do(teacher.ctx,
		chromedp.SendKeys(chromedp.ID("poll-q"), question, chromedp.NodeVisible),
		chromedp.SetValue(chromedp.ID("poll-o"), strings.Join(options, "\n"), chromedp.NodeVisible),
	); err != nil {
		t.Fatalf("filling the poll form: %v", err)
	}
	click(t, teacher, chromedp.CSS(`#poll-form button[type=submit]`))

	for _, s := range []*member{lea, hugo} {
		p := until(t, s, "showing the poll", pollJS, func(p pollView) bool { return p.Question == question })
		if !sameStrings(p.Labels, options) || fmt.Sprint(p.Disabled) != "[false false false]" || p.Close {
			t.Errorf("%s's open poll: %+v; want the three answers, open to votes, without counts or close button", s.login, p)
		}
	}
	vote(t, lea, "2/4", 0)
	vote(t, hugo, "2/4", 0)

	withCounts := []string{"2/4 — 2", "3/4 — 0", "1/3 — 0"}
	p := until(t, teacher, "showing the counts", pollJS, func(p pollView) bool { return sameStrings(p.Labels, withCounts) })
	contains(t, "the teacher's poll", p.Text, "2 votes")
	if !p.Close {
		t.Errorf("the teacher's open poll has no close button: %+v", p)
	}
	for _, s := range []*member{lea, hugo} {
		p := until(t, s, "showing the poll", pollJS, func(p pollView) bool { return p.Question == question })
		if !sameStrings(p.Labels, options) || strings.Contains(p.Text, "votes") {
			t.Errorf("%s sees counts of the open poll: %+v", s.login, p)
		}
	}

	click(t, teacher, chromedp.Search(`//div[@id="poll"]//button[normalize-space()="Fermer le sondage"]`))
	until(t, teacher, "closing the poll", pollJS, func(p pollView) bool { return !p.Close && sameStrings(p.Labels, withCounts) })
	for _, s := range []*member{lea, hugo} {
		p := until(t, s, "showing the results", pollJS, func(p pollView) bool { return sameStrings(p.Labels, withCounts) })
		contains(t, s.login+"'s closed poll", p.Text, "2 votes")
		if fmt.Sprint(p.Checked) != "[true false false]" || fmt.Sprint(p.Disabled) != "[true true true]" {
			t.Errorf("%s's closed poll: checked %v, disabled %v; want the own vote checked and every answer closed", s.login, p.Checked, p.Disabled)
		}
	}
}

// needSlides skips a test when poppler's pdftoppm and pdfinfo, which turn
// slides into images, are missing, or fails it with
// PREAU_REQUIRE_BROWSER=1 (scripts/test.sh installs poppler-utils).
func needSlides(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pdftoppm", "pdfinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("slides need poppler's %s (Debian: apt-get install poppler-utils): %v", tool, err)
			if os.Getenv(requireEnv) == "1" {
				t.Fatalf("%s; %s=1 requires it", msg, requireEnv)
			}
			t.Skip(msg)
		}
	}
}

// deckPDF writes a PDF of n pages, each with its number in large type.
func deckPDF(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fractions.pdf")
	if err := os.WriteFile(p, slidestest.PDF(n), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// slideView is the slide image of a room page.
type slideView struct {
	Src, Alt string
	Shown    bool
	Loaded   bool // decoded: the browser got a real image
	Width    float64
	Nav      bool // the page buttons are shown
}

const slideJS = `(() => {
	const i = document.getElementById('slide');
	return {Src: i.getAttribute('src') || '', Alt: i.alt, Shown: i.getClientRects().length > 0,
		Loaded: i.complete && i.naturalWidth > 0, Width: i.naturalWidth,
		Nav: document.getElementById('slide-nav').getClientRects().length > 0};
})()`

// showsSlide waits until m's page shows page of the deck, loaded.
func showsSlide(t *testing.T, m *member, page, pages int) slideView {
	t.Helper()
	want := fmt.Sprintf("Page %d sur %d", page, pages)
	return until(t, m, "showing "+want, slideJS, func(v slideView) bool {
		return v.Shown && v.Loaded && strings.HasSuffix(v.Src, fmt.Sprintf("/%d", page)) && v.Alt == want
	})
}

// boardStrokes is the whiteboard as a page keeps and draws it.
type boardStrokes struct {
	Count  int
	By     string
	Color  string
	Points []float64
	Inked  bool // the canvas has ink at the stroke's middle point
}

const boardJS = `(() => {
	const all = [...preauLive.state.strokes.values()];
	const s = all[all.length - 1];
	if (!s) return {Count: 0, Points: []};
	const c = document.getElementById('board');
	const mid = 2 * Math.floor(s.points.length / 4);
	const x = Math.round(s.points[mid] * c.width / 10000), y = Math.round(s.points[mid + 1] * c.height / 10000);
	const px = c.getContext('2d').getImageData(x - 2, y - 2, 5, 5).data;
	let inked = false;
	for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked = true;
	return {Count: all.length, By: s.by, Color: s.color, Points: s.points, Inked: inked};
})()`

// drawLine draws on m's whiteboard with the mouse, as a person does:
// press, a few moves, release, from 20 % to 60 % of the canvas's width at
// mid-height.
func drawLine(t *testing.T, m *member) {
	t.Helper()
	r, err := chromedp.Run(m.ctx, chromedp.Evaluate[struct{ X, Y, W, H float64 }](`(() => {
		const c = document.getElementById('board');
		c.scrollIntoView({block: 'center'});
		const r = c.getBoundingClientRect();
		return {X: r.left, Y: r.top, W: r.width, H: r.height};
	})()`))
	if err != nil || r.W == 0 || r.H == 0 {
		t.Fatalf("%s: finding the whiteboard: %+v (%v)", m.login, r, err)
	}
	y := r.Y + r.H/2
	held := func(p *input.DispatchMouseEventParams) { p.Buttons = 1 } // the left button, down
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.MouseEvent(chromedp.MouseMoved, r.X+0.2*r.W, y),
		chromedp.MouseEvent(chromedp.MousePressed, r.X+0.2*r.W, y, chromedp.ButtonLeft, held, chromedp.ClickCount(1)),
	}
	for i := 1; i <= 8; i++ {
		actions = append(actions, chromedp.MouseEvent(chromedp.MouseMoved, r.X+(0.2+0.05*float64(i))*r.W, y, chromedp.ButtonLeft, held))
	}
	actions = append(actions, chromedp.MouseEvent(chromedp.MouseReleased, r.X+0.6*r.W, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	if err := chromedp.Do(m.ctx, actions...); err != nil {
		t.Fatalf("%s: drawing on the whiteboard: %v", m.login, err)
	}
}

// TestLiveSlidesAndWhiteboard: the teacher uploads a two-page PDF through
// the room's form; the server turns it into images and both pupils' pages
// load page 1 (a decoded image, not a broken one), without the page
// buttons, which are the teacher's. The teacher turns to page 2 and the
// pupils follow. The teacher then draws a line with the mouse on the
// whiteboard over the slide: the pupils' pages receive the stroke (the
// teacher's, black, left to right at mid-height) and draw it on their
// canvas.
func TestLiveSlidesAndWhiteboard(t *testing.T) {
	needSlides(t)
	t.Parallel()
	e, teacher, lea, id := lessonWithLea(t)
	hugo := e.person(t, "e1.2")
	e.join(t, hugo, id)
	students := []*member{lea, hugo}

	if err := chromedp.Do(teacher.ctx, chromedp.SetUploadFiles(chromedp.ID("slides"), []string{deckPDF(t, 2)})); err != nil {
		t.Fatalf("choosing the PDF: %v", err)
	}
	click(t, teacher, chromedp.CSS(`#slides-form button[type=submit]`))
	until(t, teacher, "uploading the slides", `document.getElementById('slides-progress').textContent`, func(s string) bool { return s == "✓" })
	if v := showsSlide(t, teacher, 1, 2); !v.Nav {
		t.Errorf("the teacher has no page buttons: %+v", v)
	}
	var page1 []string
	for _, s := range students {
		v := showsSlide(t, s, 1, 2)
		if v.Nav {
			t.Errorf("%s is shown the page buttons: %+v", s.login, v)
		}
		page1 = append(page1, v.Src)
		t.Logf("%s shows %s, %.0f px wide", s.login, v.Src, v.Width)
	}

	click(t, teacher, chromedp.ID("next"))
	showsSlide(t, teacher, 2, 2)
	for i, s := range students {
		v := showsSlide(t, s, 2, 2)
		if v.Src == page1[i] {
			t.Errorf("%s's slide is still %s", s.login, v.Src)
		}
	}

	drawLine(t, teacher)
	mine := until(t, teacher, "drawing the stroke", boardJS, func(b boardStrokes) bool { return b.Count == 1 })
	for _, s := range students {
		b := until(t, s, "drawing the teacher's stroke", boardJS, func(b boardStrokes) bool { return b.Count == 1 && b.Inked })
		if b.By != teacher.id || b.Color != "black" || fmt.Sprint(b.Points) != fmt.Sprint(mine.Points) {
			t.Errorf("%s's stroke: by %q, %s, %v; want the teacher's %s, black, %v", s.login, b.By, b.Color, b.Points, teacher.id, mine.Points)
		}
		pts := b.Points
		if n := len(pts); n < 6 || pts[0] >= pts[n-2] || pts[1] < 4000 || pts[1] > 6000 {
			t.Errorf("%s's stroke is not a line from left to right at mid-height: %v", s.login, pts)
		}
	}
	screenshot(t, lea.ctx, "live-slides-board-1280")
}

// videoFrames is, for each inbound video report of m's subscriber
// connection (by report id), its frames decoded so far.
const videoFramesJS = `(async () => {
	const out = {};
	const pc = window.preauLive && preauLive.pcSub;
	if (!pc) return out;
	(await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') out[s.id] = s.framesDecoded || 0; });
	return out;
})()`

// decodesMore waits until one of m's inbound video reports has decoded
// more frames than it had in before (a report absent from before counts
// from 0), and returns the new counts.
func decodesMore(t *testing.T, m *member, what string, before map[string]float64) map[string]float64 {
	t.Helper()
	return until(t, m, what, videoFramesJS, func(now map[string]float64) bool {
		for id, n := range now {
			if n > before[id] {
				return true
			}
		}
		return false
	})
}

// TestLiveTeacherReconnects: the teacher publishes camera and microphone
// to a pupil; the teacher's line drops (the tab goes offline, its
// WebSocket is cut, and the page closes its connections). The pupil sees
// the teacher disconnected and the video stop; back online, the teacher's
// page reconnects by itself with the camera still on, publishes again,
// and the pupil's subscriber connection decodes new frames, more and more.
func TestLiveTeacherReconnects(t *testing.T) {
	t.Parallel()
	e := startWith(t, liveBrowser)
	teacher := e.person(t, "prof")
	id := e.startClass(t, teacher, "Les fractions")
	click(t, teacher, chromedp.ID("camera"))
	click(t, teacher, chromedp.ID("mic"))
	pressed(t, teacher, "camera", true)
	pressed(t, teacher, "mic", true)
	lea := e.person(t, "eleve")
	e.join(t, lea, id)
	receivesVideoAndAudio(t, lea)

	offline(t, teacher, true)
	if _, err := chromedp.Run(teacher.ctx, chromedp.Evaluate[bool](`(preauLive.ws.close(), true)`)); err != nil {
		t.Fatalf("cutting the WebSocket: %v", err)
	}
	status(t, teacher, liveReconnecting)
	until(t, lea, "showing the teacher disconnected", fmt.Sprintf(personJS, teacher.id), func(r personRow) bool {
		return strings.Contains(r.Text, "déconnecté·e")
	})
	until(t, lea, "no longer decoding the teacher's video", fmt.Sprintf(stillJS,
		`Object.values(await (`+videoFramesJS+`)).reduce((a, b) => a + b, 0)`), func(b bool) bool { return b })
	before, err := chromedp.Run(lea.ctx, chromedp.Evaluate[map[string]float64](videoFramesJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}

	offline(t, teacher, false)
	waitIn(t, teacher)
	pressed(t, teacher, "camera", true)
	until(t, lea, "showing the teacher back", fmt.Sprintf(personJS, teacher.id), func(r personRow) bool {
		return r.Found && !strings.Contains(r.Text, "déconnecté·e")
	})
	again := decodesMore(t, lea, "decoding the teacher's video again", before)
	last := decodesMore(t, lea, "decoding more of the teacher's video", again)
	t.Logf("Léa decodes the republished video: %v → %v → %v frames by report", before, again, last)
}
