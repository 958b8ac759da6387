// Package live runs Préau's live virtual classes: it starts a class for a
// class or group of the school, decides who may join it and as what, and
// connects each participant's WebSocket to the class's room (the lesson's
// shared state, package liveclass) and to the media node (package sfu).
//
// The layers follow LiveKit's: sfu knows only pion, liveclass knows
// neither HTTP nor media, and this package composes them with the store
// (what must outlast the room: that the class took place, the attendance
// register, the slides) and the blob store (slides as page images). The
// HTML pages are in package web, which calls the Service.
//
// Nobody joins through a link alone: the participant is the signed-in
// user of the session that opens the WebSocket, and the room is the one
// live class of that user's class or group (see roleFor). The room checks
// again (liveclass.Config.MayJoin).
package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"preau/internal/blob"
	"preau/internal/domain"
	"preau/internal/liveclass"
	"preau/internal/sfu"
	"preau/internal/slides"
)

// Config configures a Service.
type Config struct {
	Store domain.Store
	Blobs *blob.Store
	// Node is the media node; nil runs the classes with data only (chat,
	// hands, polls, slides, whiteboard), no audio or video.
	Node *sfu.Node
	Log  *slog.Logger
	Now  func() time.Time
	// Translate renders an i18n key in a language, for error frames.
	Translate func(lang, key string, args ...any) string
	// MaxRooms bounds the classes running at once on this node (200).
	MaxRooms int
	// MaxSlideBytes bounds an uploaded PDF (the web layer's upload limit
	// applies first).
	MaxSlideBytes int64
	// Slides bounds the rendering of a PDF (pages, time, bytes).
	Slides slides.Options
}

// Service runs the live classes of this node. Its methods are safe for
// concurrent use.
type Service struct {
	cfg   Config
	store domain.Store
	log   *slog.Logger
	now   func() time.Time
	rooms *liveclass.Registry

	mu      sync.Mutex
	running map[domain.LiveClassID]*running
	stats   counters
}

// running is a class in progress on this node.
type running struct {
	class   domain.LiveClass
	room    *liveclass.Room
	invited map[domain.UserID]bool // staff the host invited
	router  *sfu.Router            // nil without a media node
	done    chan struct{}          // closed when the attendance writer stopped
}

// New returns a Service. Call Run to tick the rooms and Close at the end.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Blobs == nil {
		return nil, errors.New("live: a store and a blob store are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Translate == nil {
		cfg.Translate = func(_, key string, _ ...any) string { return key }
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = 200
	}
	if cfg.MaxSlideBytes <= 0 {
		cfg.MaxSlideBytes = 50 << 20
	}
	s := &Service{cfg: cfg, store: cfg.Store, log: cfg.Log.With("component", "live"), now: cfg.Now,
		running: make(map[domain.LiveClassID]*running)}
	s.rooms = liveclass.NewRegistry(liveclass.RegistryConfig{MaxRooms: cfg.MaxRooms, Now: cfg.Now})
	return s, nil
}

// Recover ends the classes a previous run of the node left running: their
// rooms were in memory. Call it once at start-up, before serving.
func (s *Service) Recover(ctx context.Context) error {
	n, err := s.store.EndRunningLiveClasses(ctx, s.now())
	if err != nil {
		return fmt.Errorf("live: recover: %w", err)
	}
	if n > 0 {
		s.log.Warn("live classes left running by the previous run were ended", "classes", n)
	}
	return nil
}

// Run ticks the rooms (grace periods, idle rooms) until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.rooms.Tick(s.now())
			s.reap(ctx)
		}
	}
}

// reap records the end of the classes whose room ended by itself (idle).
func (s *Service) reap(ctx context.Context) {
	s.mu.Lock()
	var ended []*running
	for id, rc := range s.running {
		if done, _ := rc.room.Ended(); done {
			ended = append(ended, rc)
			delete(s.running, id)
		}
	}
	s.mu.Unlock()
	for _, rc := range ended {
		s.finish(ctx, rc)
	}
}

// finish records a class's end and releases its media router.
func (s *Service) finish(ctx context.Context, rc *running) {
	_, at := rc.room.Ended()
	if at.IsZero() {
		at = s.now()
	}
	<-rc.done // the register is complete
	if err := s.store.EndLiveClass(ctx, rc.class.ID, at); err != nil {
		s.log.Error("record the end of a live class", "class", rc.class.ID, "err", err)
	}
	if rc.router != nil {
		rc.router.Close()
	}
}

// Close ends every class on this node (the server stops) and records
// their ends.
func (s *Service) Close(ctx context.Context) {
	s.mu.Lock()
	all := make([]*running, 0, len(s.running))
	for id, rc := range s.running {
		all = append(all, rc)
		delete(s.running, id)
	}
	s.mu.Unlock()
	for _, rc := range all {
		rc.room.Close()
		s.finish(ctx, rc)
	}
	s.rooms.Close()
}

// StartRequest is what a teacher fills in to start a class.
type StartRequest struct {
	Audience    domain.Audience
	Title       string
	EntryID     domain.EntryID // the diary entry it is started from, if any
	WaitingRoom bool           // students wait until admitted
	// Invite lists the logins of staff invited as guests, besides the
	// audience's teachers and the school's admins (who are hosts).
	Invite []string
}

// Start starts a live class for a class or group v teaches (admins: any of
// their school). A class or group has at most one running class: starting
// a second returns the first with ErrAlreadyRunning.
func (s *Service) Start(ctx context.Context, v domain.Membership, req StartRequest) (domain.LiveClass, error) {
	if !canHost(v, req.Audience) {
		return domain.LiveClass{}, fmt.Errorf("live: %d starting a class for %+v: %w", v.User.ID, req.Audience, domain.Invalid("audience", "err.audience"))
	}
	if err := s.audienceInSchool(ctx, v.User.SchoolID, req.Audience); err != nil {
		return domain.LiveClass{}, err
	}
	title := strings.TrimSpace(req.Title)
	if title == "" || len([]rune(title)) > 120 || strings.ContainsFunc(title, isControl) {
		return domain.LiveClass{}, fmt.Errorf("live: start: %w", domain.Invalid("title", "live.err.title"))
	}
	var invited []domain.UserID
	for _, login := range req.Invite {
		u, _, err := s.store.UserByLogin(ctx, strings.ToLower(strings.TrimSpace(login)))
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return domain.LiveClass{}, fmt.Errorf("live: invite %q: %w", login, err)
		}
		if err != nil || u.SchoolID != v.User.SchoolID || !u.Role.Staff() {
			return domain.LiveClass{}, fmt.Errorf("live: invite %q: %w", login, domain.Invalid("invite", "live.invite_unknown", login))
		}
		invited = append(invited, u.ID)
	}
	if rc := s.runningFor(v.User.SchoolID, req.Audience); rc != nil {
		return rc.class, fmt.Errorf("live: start for %+v: %w", req.Audience, ErrAlreadyRunning)
	}
	c, err := s.store.CreateLiveClass(ctx, domain.LiveClass{SchoolID: v.User.SchoolID, Audience: req.Audience,
		TeacherID: v.User.ID, Title: title, EntryID: req.EntryID, StartedAt: s.now()})
	if err != nil {
		return c, fmt.Errorf("live: start: %w", err)
	}
	rc := &running{class: c, invited: map[domain.UserID]bool{}, done: make(chan struct{})}
	for _, u := range invited {
		rc.invited[u] = true
	}
	room, err := s.rooms.Create(liveclass.Config{
		ID: roomID(c.ID), Title: title, School: c.SchoolID, Audience: c.Audience, CreatedBy: v.User.ID,
		WaitingRoom: req.WaitingRoom, Now: s.now,
		// The room's own check, independent of the session's: the
		// identity must be a member of this class in the store.
		MayJoin: func(id liveclass.Identity) bool { return s.mayJoin(context.Background(), rc, id) },
		// Said is kept: a message is shown once it is on disk.
		KeepChat: func(m liveclass.ChatMessage) error { return s.keepChat(c.ID, m) },
	})
	if err != nil {
		if endErr := s.store.EndLiveClass(ctx, c.ID, s.now()); endErr != nil {
			s.log.Error("end a live class that could not open", "class", c.ID, "err", endErr)
		}
		if errors.Is(err, liveclass.ErrRoomExists) {
			return c, fmt.Errorf("live: start for %+v: %w", req.Audience, ErrAlreadyRunning)
		}
		return c, fmt.Errorf("live: start: %w", err)
	}
	rc.room = room
	if s.cfg.Node != nil {
		rc.router = s.cfg.Node.Router(string(room.ID()))
	}
	if err := s.recordAttendance(rc); err != nil {
		room.Close()
		close(rc.done)
		return c, err
	}
	s.mu.Lock()
	s.running[c.ID] = rc
	s.mu.Unlock()
	s.stats.started.Add(1)
	s.log.Info("live class started", "class", c.ID, "audience", c.AudienceName, "teacher", v.User.ID)
	return c, nil
}

// ErrAlreadyRunning: the class or group already has a running class.
var ErrAlreadyRunning = errors.New("live: a class is already running for this audience")

func roomID(id domain.LiveClassID) liveclass.RoomID {
	return liveclass.RoomID(strconv.FormatInt(int64(id), 10))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (s *Service) runningFor(school domain.SchoolID, a domain.Audience) *running {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rc := range s.running {
		if rc.class.SchoolID == school && rc.class.Audience == a {
			if done, _ := rc.room.Ended(); !done {
				return rc
			}
		}
	}
	return nil
}

func (s *Service) get(id domain.LiveClassID) *running {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[id]
}

func (s *Service) audienceInSchool(ctx context.Context, school domain.SchoolID, a domain.Audience) error {
	var owner domain.SchoolID
	switch {
	case a.ClassID != 0:
		c, err := s.store.Class(ctx, a.ClassID)
		if err != nil {
			return fmt.Errorf("live: class %d: %w", a.ClassID, err)
		}
		owner = c.SchoolID
	case a.GroupID != 0:
		g, err := s.store.Group(ctx, a.GroupID)
		if err != nil {
			return fmt.Errorf("live: group %d: %w", a.GroupID, err)
		}
		owner = g.SchoolID
	default:
		return fmt.Errorf("live: start: %w", domain.Invalid("audience", "err.audience"))
	}
	if owner != school {
		return fmt.Errorf("live: audience of school %d: %w", owner, domain.ErrNotFound)
	}
	return nil
}

// canHost reports whether v may start or run a class for a: the teachers
// of that class or group, and the school's administration.
func canHost(v domain.Membership, a domain.Audience) bool {
	switch v.User.Role {
	case domain.RoleAdmin:
		return true
	case domain.RoleTeacher:
		return v.Sees(a)
	}
	return false
}

// roleFor decides what v is in a running class, or false when v may not
// join: hosts are the teacher who started it, the class or group's other
// teachers and the school's admins; guests are the staff the host
// invited; students are those of the class or group. Parents never join.
func roleFor(v domain.Membership, rc *running) (liveclass.Role, bool) {
	c := rc.class
	if v.User.SchoolID != c.SchoolID || v.User.Disabled {
		return "", false
	}
	switch v.User.Role {
	case domain.RoleAdmin:
		return liveclass.RoleHost, true
	case domain.RoleTeacher:
		if v.User.ID == c.TeacherID || v.Sees(c.Audience) {
			return liveclass.RoleHost, true
		}
		if rc.invited[v.User.ID] {
			return liveclass.RoleGuest, true
		}
	case domain.RoleStudent:
		if v.Sees(c.Audience) {
			return liveclass.RoleStudent, true
		}
	}
	return "", false
}

// mayJoin is the room's own check: it reloads the identity's membership
// from the store.
func (s *Service) mayJoin(ctx context.Context, rc *running, id liveclass.Identity) bool {
	m, err := s.store.Membership(ctx, id.User)
	if err != nil {
		s.log.Error("live: membership for the room's check", "user", id.User, "err", err)
		return false
	}
	role, ok := roleFor(m, rc)
	return ok && role == id.Role
}

// Class returns a class and what v is in it, or an error wrapping
// domain.ErrNotFound when v may not see it (as for any resource v may not
// see). An ended class is visible to its hosts (the register) only.
func (s *Service) Class(ctx context.Context, v domain.Membership, id domain.LiveClassID) (domain.LiveClass, liveclass.Role, error) {
	// A class running here is in memory: every pupil's slide requests
	// come through here, and need no query.
	rc := s.get(id)
	if rc == nil {
		c, err := s.store.LiveClass(ctx, id)
		if err != nil {
			return c, "", fmt.Errorf("live: class %d: %w", id, err)
		}
		if c.Running() {
			return c, "", fmt.Errorf("live: class %d is not on this node: %w", id, domain.ErrNotFound)
		}
		// Ended: hosts of its audience see its register.
		rc = &running{class: c}
	}
	c := rc.class
	role, ok := roleFor(v, rc)
	if !ok || (!c.Running() && role != liveclass.RoleHost) {
		return c, "", fmt.Errorf("live: class %d for user %d: %w", id, v.User.ID, domain.ErrNotFound)
	}
	return c, role, nil
}

// Info is a class as a page lists it.
type Info struct {
	domain.LiveClass
	Role    liveclass.Role
	Present int // participants connected now
}

// Current lists the classes v may join now, and as a host the ones that
// ended today (for their registers), running first.
func (s *Service) Current(ctx context.Context, v domain.Membership) ([]Info, error) {
	since := s.now().Add(-12 * time.Hour)
	all, err := s.store.LiveClasses(ctx, v.User.SchoolID, since)
	if err != nil {
		return nil, fmt.Errorf("live: current classes: %w", err)
	}
	var out []Info
	for _, c := range all {
		rc := s.get(c.ID)
		if c.Running() && rc == nil {
			continue // ended with the previous run; Recover records it
		}
		probe := rc
		if probe == nil {
			probe = &running{class: c}
		}
		role, ok := roleFor(v, probe)
		if !ok || (!c.Running() && role != liveclass.RoleHost) {
			continue
		}
		in := Info{LiveClass: c, Role: role}
		if rc != nil {
			in.Present = rc.room.Info().Present
		}
		out = append(out, in)
	}
	return out, nil
}

// Running lists the classes running on this node that v may join, from
// memory only: the home page shows them to every pupil at 8:00 and must
// not query the database for it.
func (s *Service) Running(v domain.Membership) []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Info
	for _, rc := range s.running {
		if done, _ := rc.room.Ended(); done {
			continue
		}
		if role, ok := roleFor(v, rc); ok {
			out = append(out, Info{LiveClass: rc.class, Role: role})
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return b.StartedAt.Compare(a.StartedAt) })
	return out
}

// End ends a class; only its hosts may.
func (s *Service) End(ctx context.Context, v domain.Membership, id domain.LiveClassID) error {
	_, role, err := s.Class(ctx, v, id)
	if err != nil {
		return err
	}
	if role != liveclass.RoleHost {
		return fmt.Errorf("live: end class %d: %w", id, domain.ErrForbidden)
	}
	s.mu.Lock()
	rc := s.running[id]
	delete(s.running, id)
	s.mu.Unlock()
	if rc == nil {
		return nil // already ended
	}
	if err := rc.room.End(liveclass.ParticipantIDFor(v.User.ID)); err != nil {
		rc.room.Close() // the host is not in the room: end it on the system's behalf
	}
	s.finish(ctx, rc)
	s.log.Info("live class ended", "class", id, "by", v.User.ID)
	return nil
}

// hostClass returns a class for one of its hosts; for anyone else it does
// not exist (ErrNotFound), as the class's exports are the hosts' alone.
func (s *Service) hostClass(ctx context.Context, v domain.Membership, id domain.LiveClassID, what string) (domain.LiveClass, error) {
	c, role, err := s.Class(ctx, v, id)
	if err != nil {
		return c, err
	}
	if role != liveclass.RoleHost {
		return domain.LiveClass{}, fmt.Errorf("live: %s of class %d: %w", what, id, domain.ErrNotFound)
	}
	return c, nil
}

// AttendanceCSV writes a class's register (hosts only): the room's own
// while it runs, the stored one once it ended. It returns the class, for
// the download's name.
func (s *Service) AttendanceCSV(ctx context.Context, v domain.Membership, id domain.LiveClassID, w io.Writer) (domain.LiveClass, error) {
	c, err := s.hostClass(ctx, v, id, "attendance")
	if err != nil {
		return c, err
	}
	if rc := s.get(id); rc != nil {
		return c, liveclass.WriteAttendanceCSV(w, rc.room.Attendance(), s.now())
	}
	evs, err := s.store.Attendance(ctx, id)
	if err != nil {
		return c, fmt.Errorf("live: attendance of class %d: %w", id, err)
	}
	return c, liveclass.WriteAttendanceCSV(w, staysOf(evs), s.now())
}

// keepChat writes one chat message of a class to the store.
func (s *Service) keepChat(id domain.LiveClassID, m liveclass.ChatMessage) error {
	user, ok := m.From.User()
	if !ok {
		return fmt.Errorf("live: chat %d of class %d: participant %q is no user", m.Seq, id, m.From)
	}
	err := s.store.AddLiveChat(context.Background(), domain.LiveChatMessage{LiveClassID: id, Seq: m.Seq, UserID: user,
		Name: m.Name, Role: string(m.Role), Text: m.Text, At: m.At})
	if err != nil {
		s.log.Error("live: keep a chat message", "class", id, "seq", m.Seq, "err", err)
		return fmt.Errorf("live: chat %d of class %d: %w", m.Seq, id, err)
	}
	return nil
}

// ChatCSV writes what was said in a class's chat (hosts only), from the
// store: every message shown was kept there first, so it is the whole chat
// while the class runs and after it ended, even after a crash of the node.
// It returns the class, for the download's name.
func (s *Service) ChatCSV(ctx context.Context, v domain.Membership, id domain.LiveClassID, w io.Writer) (domain.LiveClass, error) {
	c, err := s.hostClass(ctx, v, id, "chat")
	if err != nil {
		return c, err
	}
	stored, err := s.store.LiveChat(ctx, id)
	if err != nil {
		return c, fmt.Errorf("live: chat of class %d: %w", id, err)
	}
	msgs := make([]liveclass.ChatMessage, len(stored))
	for i, m := range stored {
		msgs[i] = liveclass.ChatMessage{Seq: m.Seq, From: liveclass.ParticipantIDFor(m.UserID), Name: m.Name,
			Role: liveclass.Role(m.Role), Text: m.Text, At: m.At}
	}
	return c, liveclass.WriteChatCSV(w, msgs)
}

// staysOf pairs stored arrivals and departures into stays.
func staysOf(evs []domain.AttendanceEvent) []liveclass.AttendanceRecord {
	var out []liveclass.AttendanceRecord
	open := map[domain.UserID]int{}
	for _, e := range evs {
		switch e.Kind {
		case domain.AttendanceJoin:
			open[e.UserID] = len(out)
			out = append(out, liveclass.AttendanceRecord{Participant: liveclass.ParticipantIDFor(e.UserID), User: e.UserID,
				Name: e.Name, Role: liveclass.Role(e.Role), JoinedAt: e.At})
		case domain.AttendanceLeave:
			if i, ok := open[e.UserID]; ok {
				out[i].LeftAt, out[i].Reason = e.At, liveclass.LeaveReason(e.Reason)
				delete(open, e.UserID)
			}
		}
	}
	return out
}

// AddSlides renders a PDF as page images, stores them and shows the deck
// in the class (its first page). Only hosts may. The PDF is at path (the
// web layer staged the upload); name is the file's name as uploaded.
func (s *Service) AddSlides(ctx context.Context, v domain.Membership, id domain.LiveClassID, path, name string) (domain.SlideDeck, error) {
	_, role, err := s.Class(ctx, v, id)
	if err != nil {
		return domain.SlideDeck{}, err
	}
	rc := s.get(id)
	if role != liveclass.RoleHost || rc == nil {
		return domain.SlideDeck{}, fmt.Errorf("live: slides for class %d: %w", id, domain.ErrNotFound)
	}
	if st, err := os.Stat(path); err != nil {
		return domain.SlideDeck{}, fmt.Errorf("live: slides: %w", err)
	} else if st.Size() > s.cfg.MaxSlideBytes {
		return domain.SlideDeck{}, fmt.Errorf("live: slides of %d bytes: %w", st.Size(), domain.ErrTooLarge)
	}
	pages, err := slides.Render(ctx, path, s.cfg.Slides)
	switch {
	case errors.Is(err, slides.ErrTooManyPages):
		return domain.SlideDeck{}, fmt.Errorf("live: slides: %w: %w", err, domain.Invalid("file", "live.err.slides_too_many"))
	case errors.Is(err, slides.ErrUnreadable), errors.Is(err, slides.ErrTooSlow):
		return domain.SlideDeck{}, fmt.Errorf("live: slides: %w: %w", err, domain.Invalid("file", "live.err.slides_unreadable"))
	case err != nil:
		return domain.SlideDeck{}, fmt.Errorf("live: slides: %w", err)
	}
	sums := make([]string, len(pages))
	for i, p := range pages {
		if sums[i], _, err = s.cfg.Blobs.Put(bytes.NewReader(p), int64(len(p))); err != nil {
			return domain.SlideDeck{}, fmt.Errorf("live: slides: page %d: %w", i+1, err)
		}
	}
	deck, err := s.store.CreateSlideDeck(ctx, domain.SlideDeck{LiveClassID: id, Name: name, Pages: sums})
	if err != nil {
		return deck, fmt.Errorf("live: slides: %w", err)
	}
	if err := rc.room.SetDeck(liveclass.ParticipantIDFor(v.User.ID), strconv.FormatInt(deck.ID, 10), len(sums)); err != nil {
		// A host who is not connected to the room still shows the deck.
		if err := rc.room.SetDeck("", strconv.FormatInt(deck.ID, 10), len(sums)); err != nil {
			return deck, fmt.Errorf("live: show slides: %w", err)
		}
	}
	return deck, nil
}

// SlidePage returns the blob sum of a deck's page (from 1) for anyone who
// may see the class.
func (s *Service) SlidePage(ctx context.Context, v domain.Membership, id domain.LiveClassID, deckID int64, page int) (string, error) {
	if _, _, err := s.Class(ctx, v, id); err != nil {
		return "", err
	}
	deck, err := s.store.SlideDeck(ctx, deckID)
	if err != nil {
		return "", fmt.Errorf("live: slides: %w", err)
	}
	if deck.LiveClassID != id || page < 1 || page > len(deck.Pages) {
		return "", fmt.Errorf("live: slide %d of deck %d: %w", page, deckID, domain.ErrNotFound)
	}
	return deck.Pages[page-1], nil
}

// Audiences lists the classes and groups v may start a class for.
func (s *Service) Audiences(ctx context.Context, v domain.Membership) ([]domain.Audience, error) {
	var out []domain.Audience
	switch v.User.Role {
	case domain.RoleAdmin:
		classes, err := s.store.Classes(ctx, v.User.SchoolID)
		if err != nil {
			return nil, fmt.Errorf("live: audiences: %w", err)
		}
		for _, c := range classes {
			out = append(out, domain.Audience{ClassID: c.ID})
		}
		groups, err := s.store.Groups(ctx, v.User.SchoolID)
		if err != nil {
			return nil, fmt.Errorf("live: audiences: %w", err)
		}
		for _, g := range groups {
			out = append(out, domain.Audience{GroupID: g.ID})
		}
	case domain.RoleTeacher:
		for _, c := range v.Classes {
			out = append(out, domain.Audience{ClassID: c})
		}
		for _, g := range v.Groups {
			out = append(out, domain.Audience{GroupID: g})
		}
	}
	return slices.Clip(out), nil
}
