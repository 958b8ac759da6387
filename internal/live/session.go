package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"preau/internal/domain"
	"preau/internal/liveclass"
	"preau/internal/liveclass/signal"
	"preau/internal/sfu"
)

// Limits of a participant's WebSocket.
const (
	maxFrame     = 64 << 10         // what signal.Parse accepts, plus nothing
	helloWait    = 15 * time.Second // the first frame must be hello
	idleTimeout  = 60 * time.Second // the client pings every 20 s
	writeTimeout = 10 * time.Second // a client that reads nothing this long is dropped
	outQueue     = 512              // frames queued for a client
	maxBadFrames = 50               // refused frames before the connection is closed
)

// Errors of the media layer as the client sees them.
var (
	errMediaUnavailable = &liveclass.Error{Code: "media_unavailable", Key: "live.err.media_unavailable", Generic: domain.CodeUnavailable}
	errMediaFull        = &liveclass.Error{Code: "media_full", Key: "live.err.media_full", Generic: domain.CodeUnavailable}
	errBadSDP           = &liveclass.Error{Code: "bad_sdp", Key: "live.err.bad_sdp", Generic: domain.CodeInvalid}
	errBadCandidate     = &liveclass.Error{Code: "bad_candidate", Key: "live.err.bad_candidate", Generic: domain.CodeInvalid}
	errHelloFirst       = &liveclass.Error{Code: "hello_first", Key: "live.err.hello_first", Generic: domain.CodeInvalid}
)

// mediaError maps an sfu error to one a client can act on.
func mediaError(err error) error {
	switch {
	case errors.Is(err, sfu.ErrNotPermitted):
		return fmt.Errorf("%w: %w", err, liveclass.ErrNotPermitted)
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, sfu.ErrBadState):
		return fmt.Errorf("%w: %w", err, errBadSDP)
	case errors.Is(err, sfu.ErrBadCandidate):
		return fmt.Errorf("%w: %w", err, errBadCandidate)
	case errors.Is(err, sfu.ErrOverBudget):
		return fmt.Errorf("%w: %w", err, errMediaFull)
	}
	return fmt.Errorf("%w: %w", err, errMediaUnavailable)
}

// ServeWS runs v's session in a running class over a WebSocket: the
// signalling of package signal. It answers 404 before upgrading when v may
// not join the class (or it does not run on this node).
func (s *Service) ServeWS(w http.ResponseWriter, r *http.Request, v domain.Membership, lang string, id domain.LiveClassID) {
	rc := s.get(id)
	var role liveclass.Role
	ok := false
	if rc != nil {
		role, ok = roleFor(v, rc)
	}
	if !ok {
		s.stats.refused.Add(1)
		http.NotFound(w, r)
		return
	}
	// Same-origin only (the default): a page elsewhere cannot open a
	// session with the user's cookie.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		s.log.Debug("live: websocket upgrade refused", "err", err)
		return
	}
	conn.SetReadLimit(maxFrame + 1024)
	s.stats.sessions.Add(1)
	s.stats.connected.Add(1)
	defer s.stats.connected.Add(-1)
	ss := &session{s: s, rc: rc, conn: conn, v: v, role: role, lang: lang, pid: liveclass.ParticipantIDFor(v.User.ID),
		out: make(chan []byte, outQueue)}
	ss.run(r.Context())
}

// session is one participant's WebSocket.
type session struct {
	s    *Service
	rc   *running
	conn *websocket.Conn
	v    domain.Membership
	role liveclass.Role
	lang string
	pid  liveclass.ParticipantID

	parent context.Context // the request's: reads end with it
	ctx    context.Context // the session's: cancelled to end it
	cancel context.CancelFunc
	out    chan []byte // never closed: senders may outlive the session
	sub    *liveclass.Subscription
	left   atomic.Bool // Leave, removal or end: no Disconnect at the end
	bad    int

	mediaMu sync.Mutex
	peer    *sfu.Peer
	release func()
	parked  []signal.Message // media messages that came before the peer
	started bool             // media start was requested
}

func (ss *session) translate(key string, args ...any) string {
	return ss.s.cfg.Translate(ss.lang, key, args...)
}

func (ss *session) run(parent context.Context) {
	ss.parent = parent
	ss.ctx, ss.cancel = context.WithCancel(parent)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		ss.writer()
	}()
	defer func() {
		ss.cancel()
		<-writerDone
	}()
	defer ss.closeMedia()

	hello, err := ss.readHello()
	if err != nil {
		ss.s.log.Debug("live: no hello", "user", ss.v.User.ID, "err", err)
		return
	}
	if !ss.join(hello) {
		return
	}
	defer func() {
		// A newer connection of the same user (a reload, another tab)
		// replaced this one: the participant is still there.
		replaced := errors.Is(ss.sub.Err(), liveclass.ErrReplaced)
		ss.sub.Close()
		if !ss.left.Load() && !replaced {
			if err := ss.rc.room.Disconnect(ss.pid); err != nil && !errors.Is(err, liveclass.ErrRoomEnded) {
				ss.s.log.Debug("live: disconnect", "user", ss.v.User.ID, "err", err)
			}
		}
	}()
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		ss.pump()
	}()
	defer func() {
		ss.cancel()
		<-pumpDone
	}()
	ss.readLoop()
}

// send queues a frame; a client too slow to take its frames is dropped
// (it reconnects and resumes).
func (ss *session) send(b []byte) {
	if b == nil {
		return
	}
	select {
	case ss.out <- b:
	case <-ss.ctx.Done():
	default:
		ss.s.log.Warn("live: client too slow, closing its connection", "user", ss.v.User.ID)
		ss.cancel()
	}
}

func (ss *session) sendErr(err error, ref string) {
	if liveclass.ErrorOf(err) == liveclass.ErrInternal {
		ss.s.log.Error("live: session", "user", ss.v.User.ID, "err", err)
	}
	ss.send(signal.EncodeError(err, ref, ss.translate))
}

// writer writes the queued frames; once the session ends it flushes what
// is left (the "ended" event, an error) for a moment, then closes the
// connection, which ends a read in progress.
func (ss *session) writer() {
	write := func(b []byte, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return ss.conn.Write(ctx, websocket.MessageText, b)
	}
	for {
		select {
		case b := <-ss.out:
			if err := write(b, writeTimeout); err != nil {
				ss.cancel()
				ss.conn.CloseNow()
				return
			}
		case <-ss.ctx.Done():
			deadline := time.Now().Add(2 * time.Second)
			for {
				select {
				case b := <-ss.out:
					if left := time.Until(deadline); left > 0 && write(b, left) == nil {
						continue
					}
					ss.conn.CloseNow()
					return
				default:
				}
				break
			}
			ss.conn.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

func (ss *session) read(timeout time.Duration) ([]byte, error) {
	// Not the session's context: cancelling a read closes the connection
	// at once, and the writer must first flush the last frames.
	ctx, cancel := context.WithTimeout(ss.parent, timeout)
	defer cancel()
	typ, b, err := ss.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("live: binary frame: %w", liveclass.ErrInvalid)
	}
	return b, nil
}

func (ss *session) readHello() (*signal.Hello, error) {
	b, err := ss.read(helloWait)
	if err != nil {
		return nil, err
	}
	m, err := signal.Parse(b)
	if err != nil {
		ss.s.stats.badFrames.Add(1)
		ss.sendErr(err, "")
		return nil, err
	}
	h, ok := m.(*signal.Hello)
	if !ok {
		ss.s.stats.badFrames.Add(1)
		ss.sendErr(errHelloFirst, m.RefID())
		return nil, errHelloFirst
	}
	return h, nil
}

// join enters the room, subscribes and sends the welcome and the
// catch-up. It reports false when the session cannot go on.
func (ss *session) join(h *signal.Hello) bool {
	room := ss.rc.room
	res, err := room.Join(liveclass.Identity{User: ss.v.User.ID, Name: ss.v.User.DisplayName, Role: ss.role})
	if err != nil {
		ss.s.stats.refused.Add(1)
		ss.sendErr(err, h.Ref)
		return false
	}
	from := uint64(0)
	if h.Resume {
		from = h.LastSeq
	} else if h.LastSeq > 0 {
		room.Ack(ss.pid, h.LastSeq) // a reload: the chat resumes where the user was
	}
	sub, catchup, err := room.Subscribe(ss.pid, from)
	if errors.Is(err, liveclass.ErrNotInRoom) {
		// The connection this one replaces went away between the join and
		// the subscription, and took the participant with it: once more.
		if res, err = room.Join(liveclass.Identity{User: ss.v.User.ID, Name: ss.v.User.DisplayName, Role: ss.role}); err == nil {
			sub, catchup, err = room.Subscribe(ss.pid, from)
		}
	}
	if err != nil {
		ss.sendErr(err, h.Ref)
		return false
	}
	ss.sub = sub
	w := signal.Welcome{You: ss.pid, Seq: from, Snapshot: catchup.Snapshot}
	if catchup.Snapshot != nil {
		w.Seq = catchup.Snapshot.Seq
	}
	if n := len(catchup.Events); n > 0 {
		w.Seq = catchup.Events[n-1].Seq
	}
	if w.Snapshot == nil && len(catchup.Events) == 0 && from == 0 {
		snap, err := room.Snapshot(ss.pid)
		if err != nil {
			ss.sendErr(err, h.Ref)
			return false
		}
		w.Snapshot, w.Seq = &snap, snap.Seq
	}
	if node := ss.s.cfg.Node; node != nil {
		for _, is := range node.ICEServers(string(ss.pid)) {
			w.ICEServers = append(w.ICEServers, iceServer(is))
		}
	}
	b, err := signal.EncodeWelcome(w)
	if err != nil {
		ss.sendErr(err, h.Ref)
		return false
	}
	ss.send(b)
	for _, ev := range catchup.Events {
		ss.event(ev)
	}
	if res.Presence == liveclass.PresenceIn {
		ss.startMedia()
	}
	return true
}

func iceServer(is webrtc.ICEServer) signal.ICEServer {
	out := signal.ICEServer{URLs: is.URLs, Username: is.Username}
	if c, ok := is.Credential.(string); ok {
		out.Credential = c
	}
	return out
}

// pump sends the room's events to the client and follows those that
// concern this participant's media.
func (ss *session) pump() {
	for {
		select {
		case <-ss.ctx.Done():
			return
		case ev, ok := <-ss.sub.Events():
			if !ok {
				if err := ss.sub.Err(); err != nil {
					ss.sendErr(err, "")
				}
				ss.cancel()
				return
			}
			ss.event(ev)
		}
	}
}

// event sends one event (or, for a resync marker, a snapshot) and applies
// what it means for the media.
func (ss *session) event(ev liveclass.Event) {
	if ev.Kind == liveclass.KindResync {
		snap, err := ss.sub.Resync()
		if err != nil {
			ss.sendErr(err, "")
			ss.cancel()
			return
		}
		b, err := signal.EncodeSnapshot(snap)
		if err != nil {
			ss.sendErr(err, "")
			return
		}
		ss.send(b)
		if snap.You.Presence == liveclass.PresenceIn {
			ss.startMedia()
		}
		ss.updateAllowed()
		return
	}
	// The media layer first: a client granted the microphone answers the
	// event with an offer, which must find the permission in place.
	switch ev.Kind {
	case liveclass.KindPermissions:
		if pc, ok := ev.Data.(liveclass.PermissionChange); ok && pc.Participant == ss.pid {
			ss.updateAllowed()
		}
	case liveclass.KindMutedAll:
		ss.updateAllowed()
	}
	b, err := signal.EncodeEvent(ev)
	if err != nil {
		ss.sendErr(err, "")
		return
	}
	ss.send(b)
	switch ev.Kind {
	case liveclass.KindEnded:
		ss.left.Store(true)
		ss.cancel()
	case liveclass.KindRemoved:
		if rm, ok := ev.Data.(liveclass.Removal); ok && rm.Participant == ss.pid {
			ss.left.Store(true)
			ss.cancel()
		}
	}
}

// startMedia admits the participant to the media node (waiting in line
// when the node is at its budget, told its position) and joins the class's
// router. The room keeps working meanwhile: chat, slides and the board do
// not wait for media.
func (ss *session) startMedia() {
	node := ss.s.cfg.Node
	ss.mediaMu.Lock()
	if node == nil || ss.rc.router == nil || ss.started {
		ss.mediaMu.Unlock()
		return
	}
	ss.started = true
	ss.mediaMu.Unlock()
	go func() {
		release, err := node.Admit(ss.ctx, func(position int) {
			if b, err := signal.EncodeQueued(position); err == nil {
				ss.send(b)
			}
		})
		if err != nil {
			if ss.ctx.Err() == nil {
				ss.sendErr(mediaError(err), "")
				_ = ss.rc.room.SetMediaMode(ss.pid, liveclass.MediaLost)
			}
			return
		}
		// A connection this one replaced may still hold the peer.
		if old := ss.rc.router.Peer(string(ss.pid)); old != nil {
			old.Close()
		}
		peer, err := ss.rc.router.Join(string(ss.pid), sfu.PeerCallbacks{
			OnICECandidate: func(t sfu.Target, c webrtc.ICECandidateInit) {
				target := signal.TargetSub
				if t == sfu.TargetPublisher {
					target = signal.TargetPub
				}
				if b, err := signal.EncodeICE(target, candidateOf(c)); err == nil {
					ss.send(b)
				}
			},
			OnSubscriberOffer: func(sdp string) {
				if b, err := signal.EncodeSubOffer(sdp); err == nil {
					ss.send(b)
				}
			},
			OnMode: func(m sfu.Mode) { _ = ss.rc.room.SetMediaMode(ss.pid, liveclass.MediaMode(m.String())) },
			OnState: func(t sfu.Target, state string) {
				if t != sfu.TargetSubscriber {
					return
				}
				switch state {
				case "failed", "disconnected":
					_ = ss.rc.room.SetMediaMode(ss.pid, liveclass.MediaLost)
				case "connected":
					ss.reportMode() // back from "lost"
				}
			},
		})
		if err != nil {
			release()
			if ss.ctx.Err() == nil {
				ss.sendErr(mediaError(err), "")
			}
			return
		}
		ss.mediaMu.Lock()
		if ss.ctx.Err() != nil {
			ss.mediaMu.Unlock()
			peer.Close()
			release()
			return
		}
		ss.peer, ss.release = peer, release
		parked := ss.parked
		ss.parked = nil
		ss.mediaMu.Unlock()
		// The room shows "connecting" from the join until told otherwise,
		// and OnMode reports only changes: say what the peer receives
		// now (a class where nobody publishes yet never negotiates, and
		// would show everyone connecting for good).
		ss.reportMode()
		ss.updateAllowed()
		for _, m := range parked {
			ss.media(m)
		}
	}()
}

// reportMode tells the room the mode the peer receives now.
func (ss *session) reportMode() {
	ss.mediaMu.Lock()
	peer := ss.peer
	ss.mediaMu.Unlock()
	if peer != nil {
		_ = ss.rc.room.SetMediaMode(ss.pid, liveclass.MediaMode(peer.Mode().String()))
	}
}

// updateAllowed gives the media layer what the room lets this participant
// publish now.
func (ss *session) updateAllowed() {
	ss.mediaMu.Lock()
	peer := ss.peer
	ss.mediaMu.Unlock()
	if peer == nil {
		return
	}
	var kinds []sfu.Kind
	for _, k := range []struct {
		room liveclass.MediaKind
		sfu  sfu.Kind
	}{{liveclass.KindAudio, sfu.KindAudio}, {liveclass.KindCamera, sfu.KindCamera}, {liveclass.KindScreen, sfu.KindScreen}} {
		if ss.rc.room.MayPublish(ss.pid, k.room) == nil {
			kinds = append(kinds, k.sfu)
		}
	}
	peer.SetAllowed(kinds...)
}

func (ss *session) closeMedia() {
	ss.mediaMu.Lock()
	peer, release := ss.peer, ss.release
	ss.peer, ss.release = nil, nil
	ss.mediaMu.Unlock()
	if peer != nil {
		peer.Close()
	}
	if release != nil {
		release()
	}
}

func candidateOf(c webrtc.ICECandidateInit) signal.Candidate {
	return signal.Candidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

func (ss *session) readLoop() {
	for {
		b, err := ss.read(idleTimeout)
		if err != nil {
			if ss.ctx.Err() == nil && websocket.CloseStatus(err) == -1 {
				ss.s.log.Debug("live: read", "user", ss.v.User.ID, "err", err)
			}
			return
		}
		m, err := signal.Parse(b)
		if err != nil {
			if !ss.refused(err, "") {
				return
			}
			continue
		}
		if err := ss.dispatch(m); err != nil {
			if !ss.refused(err, m.RefID()) {
				return
			}
		}
		if ss.ctx.Err() != nil {
			return
		}
	}
}

// refused answers a refused frame and reports whether the session goes
// on: a client that keeps sending what is refused is disconnected.
func (ss *session) refused(err error, ref string) bool {
	ss.s.stats.badFrames.Add(1)
	ss.sendErr(err, ref)
	ss.bad++
	return ss.bad < maxBadFrames
}

// dispatch applies one client message.
func (ss *session) dispatch(m signal.Message) error {
	room, me := ss.rc.room, ss.pid
	switch m := m.(type) {
	case *signal.Hello:
		return fmt.Errorf("live: second hello: %w", liveclass.ErrInvalid)
	case *signal.Ping:
		if m.LastSeq > 0 {
			room.Ack(me, m.LastSeq)
		}
		b, err := signal.EncodePong(m.LastSeq)
		if err == nil {
			ss.send(b)
		}
		return err
	case *signal.Chat:
		_, err := room.Chat(me, m.Text)
		return err
	case *signal.Hand:
		return room.RaiseHand(me, m.Raised)
	case *signal.React:
		return room.React(me, m.Reaction)
	case *signal.PollCreate:
		_, err := room.CreatePoll(me, m.Question, m.Options)
		return err
	case *signal.PollVote:
		return room.Vote(me, m.PollID, m.Option)
	case *signal.PollClose:
		_, err := room.ClosePoll(me, m.PollID)
		return err
	case *signal.Stroke:
		_, err := room.Draw(me, liveclass.StrokeInput{Color: m.Color, Width: m.Width, Points: m.Points})
		return err
	case *signal.StrokeUndo:
		_, err := room.UndoStroke(me)
		return err
	case *signal.BoardClear:
		return room.ClearBoard(me)
	case *signal.Slide:
		return room.SetSlide(me, m.Page)
	case *signal.MuteAll:
		_, err := room.MuteAll(me)
		return err
	case *signal.Remove:
		return room.Remove(me, m.Participant)
	case *signal.Grant:
		if m.Mic != nil {
			if err := room.Grant(me, m.Participant, liveclass.PermMic, *m.Mic); err != nil {
				return err
			}
		}
		if m.Whiteboard != nil {
			return room.Grant(me, m.Participant, liveclass.PermWhiteboard, *m.Whiteboard)
		}
		return nil
	case *signal.LowerHand:
		return room.LowerHand(me, m.Participant)
	case *signal.LowerAll:
		return room.LowerAllHands(me)
	case *signal.Lock:
		return room.SetLock(me, m.Locked)
	case *signal.Admit:
		if m.All {
			_, err := room.AdmitAll(me)
			return err
		}
		return room.Admit(me, m.Participant)
	case *signal.End:
		if ss.role != liveclass.RoleHost {
			return fmt.Errorf("live: end by %s: %w", me, liveclass.ErrNotPermitted)
		}
		return ss.s.End(ss.ctx, ss.v, ss.rc.class.ID)
	case *signal.Leave:
		ss.left.Store(true)
		err := room.Leave(me)
		ss.cancel()
		return err
	case *signal.MediaMode, *signal.PubOffer, *signal.SubAnswer, *signal.ICE:
		return ss.media(m)
	}
	return fmt.Errorf("live: unexpected %T: %w", m, liveclass.ErrInvalid)
}

// media applies a media message, or parks it until the peer exists.
func (ss *session) media(m signal.Message) error {
	ss.mediaMu.Lock()
	peer := ss.peer
	if peer == nil {
		if !ss.started || ss.s.cfg.Node == nil {
			ss.mediaMu.Unlock()
			return fmt.Errorf("live: %s before media: %w", m.Type(), errMediaUnavailable)
		}
		if len(ss.parked) >= 64 {
			ss.mediaMu.Unlock()
			return fmt.Errorf("live: too many media messages before media: %w", liveclass.ErrRateLimited)
		}
		ss.parked = append(ss.parked, m)
		ss.mediaMu.Unlock()
		return nil
	}
	ss.mediaMu.Unlock()
	var err error
	switch m := m.(type) {
	case *signal.MediaMode:
		mode, perr := sfu.ParseMode(string(m.Mode))
		if perr != nil {
			return fmt.Errorf("live: %w: %w", perr, liveclass.ErrInvalid)
		}
		peer.CapMode(mode)
		return nil
	case *signal.PubOffer:
		var answer string
		if answer, err = peer.HandlePublisherOffer(m.SDP); err == nil {
			var b []byte
			if b, err = signal.EncodePubAnswer(answer); err == nil {
				ss.send(b)
			}
		}
	case *signal.SubAnswer:
		err = peer.HandleSubscriberAnswer(m.SDP)
	case *signal.ICE:
		t := sfu.TargetSubscriber
		if m.Target == signal.TargetPub {
			t = sfu.TargetPublisher
		}
		err = peer.AddICECandidate(t, webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
			SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment})
	}
	if err != nil {
		return mediaError(err)
	}
	return nil
}
