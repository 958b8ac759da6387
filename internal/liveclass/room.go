package liveclass

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"preau/internal/domain"
)

// Room is one live class. All its methods are safe for concurrent use; a
// single mutex guards the state, and no method blocks on a listener or
// calls out of the package while holding it.
type Room struct {
	cfg Config

	mu         sync.Mutex
	t          time.Time // the current operation's time, set under mu
	seq        uint64
	log        eventLog
	parts      map[ParticipantID]*participant
	order      []*participant // first-join order, for stable listings
	watchers   map[*Subscription]struct{}
	locked     bool
	startedAt  time.Time
	created    uint64 // the registry's creation number, 0 outside a registry
	ended      bool
	endedAt    time.Time
	lastActive time.Time // last time someone was present; for ending idle rooms

	chat        chatLog
	chatSeq     uint64
	polls       []*poll
	pollSeq     int
	board       []Stroke
	boardPoints int
	strokeSeq   uint64
	slide       SlideState
	attendance  []AttendanceRecord
}

type participant struct {
	id       ParticipantID
	user     domain.UserID
	name     string
	role     Role
	perms    Permissions
	presence Presence
	admitted bool      // passed the waiting room once: may come back while locked
	queuedAt time.Time // place in the waiting room, kept through a short disconnection
	position int       // last waiting position told to the participant
	handAt   time.Time // zero: hand down
	media    MediaMode
	joinedAt time.Time // start of the open attendance record
	lostAt   time.Time // when the connection was lost
	record   int       // index of the open attendance record, -1 if none
	chatSeen uint64    // last chat seq the participant acknowledged
	sub      *Subscription

	chatRate, actionRate, reactionRate, strokeRate bucket
}

// New creates a room from cfg; rooms are usually made by a Registry.
// It returns ErrInvalid (joined, one per bad field) for a bad config,
// including a missing MayJoin.
func New(cfg Config) (*Room, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		cfg.ID = newRoomID()
	}
	now := utc(cfg.Now())
	return &Room{
		cfg:        cfg,
		log:        newEventLog(cfg.EventLog),
		parts:      map[ParticipantID]*participant{},
		watchers:   map[*Subscription]struct{}{},
		locked:     cfg.Locked,
		startedAt:  now,
		lastActive: now,
		chat:       newChatLog(cfg.ChatHistory),
	}, nil
}

// ID returns the room's id.
func (r *Room) ID() RoomID { return r.cfg.ID }

// Audience returns the class or group the room is for.
func (r *Room) Audience() domain.Audience { return r.cfg.Audience }

// RoomInfo is the room as listed and as shown at the top of the page.
type RoomInfo struct {
	ID          RoomID          `json:"id"`
	Title       string          `json:"title"`
	Audience    domain.Audience `json:"-"`
	Locked      bool            `json:"locked"`
	WaitingRoom bool            `json:"waiting_room"`
	StartedAt   time.Time       `json:"started_at"`
	Ended       bool            `json:"ended"`
	EndedAt     time.Time       `json:"ended_at,omitzero"`
	Present     int             `json:"present"` // admitted and connected
}

// Info returns the room's summary.
func (r *Room) Info() RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info()
}

func (r *Room) info() RoomInfo {
	n := 0
	for _, p := range r.order {
		if p.presence == PresenceIn {
			n++
		}
	}
	return RoomInfo{
		ID: r.cfg.ID, Title: r.cfg.Title, Audience: r.cfg.Audience, Locked: r.locked,
		WaitingRoom: r.cfg.WaitingRoom, StartedAt: r.startedAt, Ended: r.ended, EndedAt: r.endedAt, Present: n,
	}
}

// begin locks the room and fixes the operation's time; the caller unlocks.
func (r *Room) begin() time.Time {
	r.mu.Lock()
	r.t = utc(r.cfg.Now())
	return r.t
}

func (r *Room) fail(op string, pid ParticipantID, err error) error {
	return fmt.Errorf("liveclass: room %s: %s by %s: %w", r.cfg.ID, op, pid, err)
}

// JoinResult says where a join landed.
type JoinResult struct {
	Participant ParticipantID
	Presence    Presence // PresenceIn or PresenceWaiting
	Position    int      // in the waiting room, from 1; 0 when in
	// Resumed is true when the participant came back within the grace
	// period, or a new connection took over a live one: its raised hand,
	// permissions and chat position were kept.
	Resumed bool
}

// Join lets a user in, or into the waiting room. Hosts and guests always
// enter directly; students wait when the room has a waiting room, and are
// refused when it is locked unless a host admitted them earlier in this
// room's life. Joining again while present is a takeover by a new
// connection (the old subscription is closed when the new one subscribes).
//
// Errors: ErrInvalid (a bad identity), ErrNotEnrolled (MayJoin refused),
// ErrRoomEnded, ErrRemoved, ErrRoomLocked, ErrRoomFull.
func (r *Room) Join(id Identity) (JoinResult, error) {
	id.Name = strings.TrimSpace(id.Name)
	if err := id.validate(); err != nil {
		return JoinResult{}, fmt.Errorf("liveclass: room %s: join: %w", r.cfg.ID, err)
	}
	// Outside the lock: MayJoin may consult a store.
	if !r.cfg.MayJoin(id) {
		return JoinResult{}, fmt.Errorf("liveclass: room %s: join of user %d: %w", r.cfg.ID, id.User, ErrNotEnrolled)
	}
	now := r.begin()
	defer r.mu.Unlock()
	res, err := r.join(id, now)
	if err != nil {
		return JoinResult{}, fmt.Errorf("liveclass: room %s: join of user %d: %w", r.cfg.ID, id.User, err)
	}
	return res, nil
}

func (r *Room) join(id Identity, now time.Time) (JoinResult, error) {
	if r.ended {
		return JoinResult{}, ErrRoomEnded
	}
	pid := ParticipantIDFor(id.User)
	p := r.parts[pid]
	if p == nil {
		if len(r.parts) >= r.cfg.MaxParticipants {
			return JoinResult{}, ErrRoomFull
		}
		if id.Role == RoleStudent && r.locked {
			return JoinResult{}, ErrRoomLocked
		}
		p = &participant{id: pid, user: id.User, name: id.Name, role: id.Role, record: -1}
		r.parts[pid] = p
		r.order = append(r.order, p)
		r.enter(p)
		return p.result(false), nil
	}
	if p.presence == PresenceRemoved {
		return JoinResult{}, ErrRemoved
	}
	if p.presence == PresenceDisconnected && now.Sub(p.lostAt) >= r.cfg.Grace {
		r.expire(p) // the sweeper has not run yet: the grace is over all the same
	}
	if p.presence == PresenceLeft && p.role == RoleStudent && id.Role == RoleStudent && !p.admitted && r.locked {
		return JoinResult{}, ErrRoomLocked
	}
	p.name = id.Name
	if p.role != id.Role {
		// The caller's view of the user changed (made co-teacher, say):
		// the new role starts from its own defaults.
		p.role, p.perms = id.Role, defaultPermissions(id.Role)
		if p.role != RoleStudent {
			p.admitted = true
		}
		switch {
		case p.presence == PresenceIn:
			r.emit(KindJoined, toAll, p.view())
		case p.presence == PresenceWaiting && p.role != RoleStudent:
			r.admit(p, "", true)
			r.queueChanged()
		}
	}
	switch p.presence {
	case PresenceIn, PresenceWaiting:
		return p.result(true), nil
	case PresenceDisconnected:
		if p.record >= 0 { // it was in the room
			p.presence = PresenceIn
			p.media = MediaConnecting
			r.emit(KindPresence, toAll, PresenceChange{Participant: p.id, Presence: PresenceIn})
		} else {
			p.presence = PresenceWaiting // same place in the queue as before
			r.queueChanged()
		}
		return p.result(true), nil
	default: // PresenceLeft: a new attendance, from the role's defaults
		r.enter(p)
		return p.result(false), nil
	}
}

func (p *participant) result(resumed bool) JoinResult {
	return JoinResult{Participant: p.id, Presence: p.presence, Position: p.position, Resumed: resumed}
}

// enter starts a fresh stay: straight in, or into the waiting room.
func (r *Room) enter(p *participant) {
	p.handAt = time.Time{}
	p.perms = defaultPermissions(p.role)
	p.media = MediaConnecting
	if p.role != RoleStudent || p.admitted || !r.cfg.WaitingRoom {
		r.admit(p, "", false)
		return
	}
	p.presence = PresenceWaiting
	p.queuedAt = r.t
	r.queueChanged()
}

// admit moves p into the room and opens its attendance record. A
// participant coming from the waiting room is told, and its listener must
// fetch a snapshot: until now it saw nothing of the room.
func (r *Room) admit(p *participant, by ParticipantID, fromQueue bool) {
	p.admitted = true
	p.presence = PresenceIn
	p.position = 0
	p.joinedAt = r.t
	p.record = len(r.attendance)
	r.attendance = append(r.attendance, AttendanceRecord{
		Participant: p.id, User: p.user, Name: p.name, Role: p.role, JoinedAt: r.t,
	})
	r.lastActive = r.t
	if fromQueue {
		r.emit(KindAdmitted, toOne(p.id), Admitted{By: by})
	}
	r.emit(KindJoined, toAll, p.view())
	if fromQueue && p.sub != nil {
		p.sub.requestResync()
	}
}

// closeRecord ends p's open attendance record, if any, at the given time.
func (r *Room) closeRecord(p *participant, at time.Time, why LeaveReason) {
	if p.record < 0 {
		return
	}
	rec := &r.attendance[p.record]
	rec.LeftAt, rec.Reason = at, why
	p.record = -1
}

// Leave is a participant leaving on purpose: its attendance closes now and
// its subscription is closed with ErrLeft. Coming back later is a new
// stay (hand down, permissions reset) — without waiting again if a host
// had admitted it. Leaving twice is not an error.
//
// Errors: ErrNoSuchParticipant.
func (r *Room) Leave(pid ParticipantID) error {
	now := r.begin()
	defer r.mu.Unlock()
	p := r.parts[pid]
	if p == nil {
		return r.fail("leave", pid, ErrNoSuchParticipant)
	}
	switch p.presence {
	case PresenceIn:
		r.closeRecord(p, now, LeaveLeft)
		r.setLeft(p)
	case PresenceDisconnected:
		r.closeRecord(p, p.lostAt, LeaveLeft)
		r.setLeft(p)
	case PresenceWaiting:
		p.presence = PresenceLeft
		r.queueChanged()
	}
	if p.sub != nil {
		p.sub.end(ErrLeft)
	}
	return nil
}

// setLeft marks an admitted participant gone and tells the others.
func (r *Room) setLeft(p *participant) {
	r.lastActive = r.t
	p.presence = PresenceLeft
	p.handAt = time.Time{}
	r.emit(KindPresence, toAll, PresenceChange{Participant: p.id, Presence: PresenceLeft})
}

// Disconnect records that pid's connection was lost (the transport calls
// it, usually through Subscription.Close). The participant keeps its
// place, hand, permissions and chat position for the grace period; Tick
// turns it into a leave afterwards, dated from the disconnection.
// Disconnecting a participant who is not connected does nothing.
//
// Errors: ErrNoSuchParticipant.
func (r *Room) Disconnect(pid ParticipantID) error {
	r.begin()
	defer r.mu.Unlock()
	p := r.parts[pid]
	if p == nil {
		return r.fail("disconnect", pid, ErrNoSuchParticipant)
	}
	r.disconnect(p)
	return nil
}

func (r *Room) disconnect(p *participant) {
	switch p.presence {
	case PresenceIn:
		p.presence = PresenceDisconnected
		p.lostAt = r.t
		r.emit(KindPresence, toAll, PresenceChange{Participant: p.id, Presence: PresenceDisconnected})
	case PresenceWaiting:
		p.presence = PresenceDisconnected
		p.lostAt = r.t
		r.queueChanged()
	}
	if p.sub != nil {
		p.sub.end(ErrDisconnected)
	}
}

// Tick ends the grace period of participants disconnected for at least
// Config.Grace before now, writing their leave (at the disconnection
// time) in the attendance log. A Registry calls it periodically.
func (r *Room) Tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t = utc(now)
	for _, p := range r.order {
		if p.presence == PresenceDisconnected && r.t.Sub(p.lostAt) >= r.cfg.Grace {
			r.expire(p)
		}
		if p.presence == PresenceIn {
			r.lastActive = r.t
		}
	}
}

func (r *Room) expire(p *participant) {
	wasIn := p.record >= 0
	r.closeRecord(p, p.lostAt, LeaveDisconnected)
	if wasIn {
		r.setLeft(p)
	} else {
		p.presence = PresenceLeft
	}
}

// End ends the room for everyone: an "ended" event, every open attendance
// record closed, every listener closed with ErrRoomEnded. Only hosts end.
//
// Errors: ErrRoomEnded, ErrNoSuchParticipant, ErrNotInRoom, ErrNotPermitted.
func (r *Room) End(by ParticipantID) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("end", by, err)
	}
	r.end(by)
	return nil
}

// Close ends the room on the system's behalf (node shutdown, idle room,
// administrator); like End without a host. Closing twice does nothing.
func (r *Room) Close() {
	r.begin()
	defer r.mu.Unlock()
	r.end("")
}

func (r *Room) end(by ParticipantID) {
	if r.ended {
		return
	}
	r.emit(KindEnded, toAll, Ended{By: by})
	r.ended, r.endedAt = true, r.t
	for _, p := range r.order {
		switch p.presence {
		case PresenceIn:
			r.closeRecord(p, r.t, LeaveEnded)
			p.presence = PresenceLeft
		case PresenceDisconnected:
			r.closeRecord(p, p.lostAt, LeaveDisconnected)
			p.presence = PresenceLeft
		case PresenceWaiting:
			p.presence = PresenceLeft
		}
		p.handAt = time.Time{}
		if p.sub != nil {
			p.sub.end(ErrRoomEnded)
		}
	}
	for w := range r.watchers {
		w.end(ErrRoomEnded)
	}
}

// Ended reports whether the room has ended, and when.
func (r *Room) Ended() (bool, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended, r.endedAt
}

// idleSince is the last time anyone was in the room (Registry ends rooms
// left empty too long).
func (r *Room) idleSince() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.order {
		if p.presence == PresenceIn || p.presence == PresenceWaiting || p.presence == PresenceDisconnected {
			return time.Time{}, false
		}
	}
	return r.lastActive, true
}

// actor returns pid if it may act: present and admitted.
func (r *Room) actor(pid ParticipantID) (*participant, error) {
	if r.ended {
		return nil, ErrRoomEnded
	}
	p := r.parts[pid]
	switch {
	case p == nil:
		return nil, ErrNoSuchParticipant
	case p.presence == PresenceRemoved:
		return nil, ErrRemoved
	case p.presence != PresenceIn:
		return nil, ErrNotInRoom
	}
	return p, nil
}

// host returns pid if it may moderate.
func (r *Room) host(pid ParticipantID) (*participant, error) {
	p, err := r.actor(pid)
	if err != nil {
		return nil, err
	}
	if p.role != RoleHost {
		return nil, ErrNotPermitted
	}
	return p, nil
}

// target returns a participant a host acts on: one that is in the room or
// in its grace period (or waiting, when waiting is true).
func (r *Room) target(pid ParticipantID, waiting bool) (*participant, error) {
	p := r.parts[pid]
	if p == nil {
		return nil, ErrNoSuchParticipant
	}
	switch p.presence {
	case PresenceIn, PresenceDisconnected:
		return p, nil
	case PresenceWaiting:
		if waiting {
			return p, nil
		}
	}
	return nil, ErrNoSuchParticipant
}

// emit logs an event and fans it out.
func (r *Room) emit(kind EventKind, to Audience, data any) {
	r.seq++
	ev := Event{Seq: r.seq, Kind: kind, At: r.t, To: to, Data: data}
	r.log.add(ev)
	r.fanout(ev)
}

// emitEphemeral fans out an event that is not state: not logged, Seq 0.
func (r *Room) emitEphemeral(kind EventKind, to Audience, data any) {
	r.fanout(Event{Kind: kind, At: r.t, To: to, Data: data})
}

func (r *Room) fanout(ev Event) {
	for _, p := range r.order {
		if p.sub != nil && p.sees(ev) {
			p.sub.offer(ev)
		}
	}
	for w := range r.watchers {
		w.offer(ev)
	}
}

// sees reports whether ev is for p, as p stands now. Someone in the
// waiting room sees only what is addressed to it.
func (p *participant) sees(ev Event) bool {
	if ev.To.Scope == ScopeOne {
		return ev.To.Participant == p.id
	}
	if p.presence != PresenceIn {
		return false
	}
	return ev.To.Scope == ScopeAll || p.role.Staff()
}

func (p *participant) view() ParticipantView {
	return ParticipantView{
		ID: p.id, Name: p.name, Role: p.role, Presence: p.presence, Permissions: p.perms,
		HandRaisedAt: p.handAt, Media: p.media, JoinedAt: p.joinedAt,
	}
}

// waitingList is the queue in order: by the time each first queued.
func (r *Room) waitingList() []WaitingEntry {
	var q []*participant
	for _, p := range r.order {
		if p.presence == PresenceWaiting {
			q = append(q, p)
		}
	}
	slices.SortStableFunc(q, func(a, b *participant) int { return a.queuedAt.Compare(b.queuedAt) })
	list := make([]WaitingEntry, len(q))
	for i, p := range q {
		list[i] = WaitingEntry{ID: p.id, Name: p.name, Since: p.queuedAt, Position: i + 1}
	}
	return list
}

// queueChanged tells staff the new queue and each waiting participant whose
// place moved its new position.
func (r *Room) queueChanged() {
	list := r.waitingList()
	r.emit(KindWaiting, toStaff, WaitingList{Waiting: list})
	for _, p := range r.order {
		if p.presence != PresenceWaiting {
			p.position = 0
		}
	}
	for _, w := range list {
		p := r.parts[w.ID]
		if p.position != w.Position {
			p.position = w.Position
			r.emit(KindQueued, toOne(p.id), Queued{Position: w.Position})
		}
	}
}
