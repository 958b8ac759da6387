package liveclass

import "time"

// Event is one change of the room's state. Seq increases by one for every
// logged event of the room, whoever its audience, so a listener sees gaps
// where events were for others; Seq is 0 for ephemeral events (reactions)
// and for the resync marker, which are delivered live but never replayed.
//
// Data is one of the payload types listed with the kinds below; its JSON
// form (the tags on the payload types) is what clients receive as the
// event's "data". Data is shared between listeners and never modified.
type Event struct {
	Seq  uint64
	Kind EventKind
	At   time.Time
	To   Audience
	Data any
}

// EventKind names what changed.
type EventKind string

// Event kinds, with their audience and payload type.
const (
	KindJoined       EventKind = "joined"        // all: ParticipantView — admitted, or back after leaving
	KindPresence     EventKind = "presence"      // all: PresenceChange — disconnected, back within the grace, left
	KindRemoved      EventKind = "removed"       // all: Removal
	KindWaiting      EventKind = "waiting"       // staff: WaitingList — the whole queue, on every change
	KindQueued       EventKind = "queued"        // one waiting participant: Queued — its position changed
	KindAdmitted     EventKind = "admitted"      // one: Admitted — then a resync marker: fetch the snapshot
	KindHand         EventKind = "hand"          // all: HandChange
	KindHandsLowered EventKind = "hands_lowered" // all: HandsLowered
	KindPermissions  EventKind = "permissions"   // all: PermissionChange
	KindMutedAll     EventKind = "muted_all"     // all: MutedAll — the media layer stops these microphones
	KindLock         EventKind = "lock"          // all: LockChange
	KindChat         EventKind = "chat"          // all: ChatMessage
	KindReaction     EventKind = "reaction"      // all, ephemeral (Seq 0): Reaction
	KindPollOpened   EventKind = "poll_opened"   // all: PollView without counts
	KindPollVote     EventKind = "poll_vote"     // one (the voter): PollVote
	KindPollResults  EventKind = "poll_results"  // staff: PollResults — live counts
	KindPollClosed   EventKind = "poll_closed"   // all: PollView with counts
	KindStroke       EventKind = "stroke"        // all: Stroke
	KindStrokeUndone EventKind = "stroke_undone" // all: StrokeUndone
	KindBoardCleared EventKind = "board_cleared" // all: BoardCleared
	KindSlide        EventKind = "slide"         // all: SlideState
	KindMedia        EventKind = "media"         // all: MediaChange
	KindEnded        EventKind = "ended"         // all: Ended — then every listener is closed
	// KindResync is not a change but a marker on a listener's channel: the
	// listener fell behind (or was just admitted) and must call
	// Subscription.Resync for a snapshot; events in between were skipped.
	KindResync EventKind = "resync"
)

// Scope is who may see an event.
type Scope uint8

const (
	ScopeAll   Scope = iota // every admitted participant (not those waiting)
	ScopeStaff              // hosts and guests
	ScopeOne                // Audience.Participant only
)

// Audience is an event's recipients.
type Audience struct {
	Scope       Scope
	Participant ParticipantID // ScopeOne only
}

var (
	toAll   = Audience{Scope: ScopeAll}
	toStaff = Audience{Scope: ScopeStaff}
)

func toOne(p ParticipantID) Audience { return Audience{Scope: ScopeOne, Participant: p} }

// Payloads. Their JSON tags are the wire format of event data.
type (
	// ParticipantView is a participant as others see it.
	ParticipantView struct {
		ID           ParticipantID `json:"id"`
		Name         string        `json:"name"`
		Role         Role          `json:"role"`
		Presence     Presence      `json:"presence"`
		Permissions  Permissions   `json:"permissions"`
		HandRaisedAt time.Time     `json:"hand_raised_at,omitzero"` // zero: hand down
		Media        MediaMode     `json:"media"`
		JoinedAt     time.Time     `json:"joined_at,omitzero"` // start of the current attendance
	}

	PresenceChange struct {
		Participant ParticipantID `json:"participant"`
		Presence    Presence      `json:"presence"`
	}

	Removal struct {
		Participant ParticipantID `json:"participant"`
		By          ParticipantID `json:"by"`
	}

	WaitingEntry struct {
		ID       ParticipantID `json:"id"`
		Name     string        `json:"name"`
		Since    time.Time     `json:"since"`
		Position int           `json:"position"` // 1 for the first in line
	}

	WaitingList struct {
		Waiting []WaitingEntry `json:"waiting"`
	}

	Queued struct {
		Position int `json:"position"`
	}

	Admitted struct {
		By ParticipantID `json:"by,omitempty"` // empty when the room let the participant in by itself
	}

	HandChange struct {
		Participant ParticipantID `json:"participant"`
		Raised      bool          `json:"raised"`
		At          time.Time     `json:"at,omitzero"`  // when raised
		By          ParticipantID `json:"by,omitempty"` // the host who lowered it
	}

	HandsLowered struct {
		By ParticipantID `json:"by"`
	}

	PermissionChange struct {
		Participant ParticipantID `json:"participant"`
		Permissions Permissions   `json:"permissions"`
		By          ParticipantID `json:"by"`
	}

	MutedAll struct {
		Participants []ParticipantID `json:"participants"` // whose microphone grant was revoked
		By           ParticipantID   `json:"by"`
	}

	LockChange struct {
		Locked bool          `json:"locked"`
		By     ParticipantID `json:"by"`
	}

	ChatMessage struct {
		Seq  uint64        `json:"seq"` // room-wide chat sequence number, from 1
		From ParticipantID `json:"from"`
		Name string        `json:"name"`
		Role Role          `json:"role"`
		Text string        `json:"text"`
		At   time.Time     `json:"at"`
	}

	Reaction struct {
		Participant ParticipantID `json:"participant"`
		Reaction    string        `json:"reaction"`
	}

	PollVote struct {
		Poll   PollID `json:"poll"`
		Option int    `json:"option"`
	}

	PollResults struct {
		Poll   PollID `json:"poll"`
		Counts []int  `json:"counts"`
		Voters int    `json:"voters"`
	}

	StrokeUndone struct {
		Stroke StrokeID      `json:"stroke"`
		By     ParticipantID `json:"by"`
	}

	BoardCleared struct {
		By ParticipantID `json:"by"`
	}

	MediaChange struct {
		Participant ParticipantID `json:"participant"`
		Mode        MediaMode     `json:"mode"`
	}

	Ended struct {
		By ParticipantID `json:"by,omitempty"` // empty when the system ended it
	}
)

// eventLog keeps the last events for resumption, oldest first, in a ring.
type eventLog struct {
	buf   []Event
	start int // index of the oldest
	n     int
}

func newEventLog(size int) eventLog { return eventLog{buf: make([]Event, size)} }

func (l *eventLog) add(ev Event) {
	if l.n < len(l.buf) {
		l.buf[(l.start+l.n)%len(l.buf)] = ev
		l.n++
		return
	}
	l.buf[l.start] = ev
	l.start = (l.start + 1) % len(l.buf)
}

// oldest is the Seq of the oldest kept event, 0 when empty.
func (l *eventLog) oldest() uint64 {
	if l.n == 0 {
		return 0
	}
	return l.buf[l.start].Seq
}

// after calls f on every kept event with Seq > seq, in order.
func (l *eventLog) after(seq uint64, f func(Event)) {
	for i := range l.n {
		ev := l.buf[(l.start+i)%len(l.buf)]
		if ev.Seq > seq {
			f(ev)
		}
	}
}
