package liveclass

import (
	"slices"
)

// Snapshot is everything a participant may see of the room at Seq: what a
// client draws on (re)connection, and after falling behind.
type Snapshot struct {
	Seq  uint64          `json:"seq"`
	Room RoomInfo        `json:"room"`
	You  ParticipantView `json:"you"` // zero for a watcher

	// Position is the place in the waiting room (from 1). A participant
	// who waits sees only Seq, Room, You and Position.
	Position int `json:"position,omitempty"`

	Participants []ParticipantView `json:"participants,omitempty"` // in the room or in their grace period
	Hands        []ParticipantID   `json:"hands,omitempty"`        // raised hands, first raised first
	Waiting      []WaitingEntry    `json:"waiting,omitempty"`      // staff only
	// Chat is the last messages, at least Config.SnapshotChat of them and
	// everything after ChatSeen still in the history, so that a
	// participant coming back finds its place in the chat.
	Chat     []ChatMessage `json:"chat,omitempty"`
	ChatSeen uint64        `json:"chat_seen"`
	Polls    []PollView    `json:"polls,omitempty"` // newest last; counts per the results rule
	Strokes  []Stroke      `json:"strokes,omitempty"`
	Slide    SlideState    `json:"slide,omitzero"`
}

// Snapshot returns what pid sees now.
//
// Errors: ErrNoSuchParticipant, ErrRemoved.
func (r *Room) Snapshot(pid ParticipantID) (Snapshot, error) {
	r.begin()
	defer r.mu.Unlock()
	p := r.parts[pid]
	if p == nil {
		return Snapshot{}, r.fail("snapshot", pid, ErrNoSuchParticipant)
	}
	if p.presence == PresenceRemoved {
		return Snapshot{}, r.fail("snapshot", pid, ErrRemoved)
	}
	return r.snapshot(p), nil
}

// snapshot builds p's view; p nil is a watcher's (staff) view.
func (r *Room) snapshot(p *participant) Snapshot {
	s := Snapshot{Seq: r.seq, Room: r.info()}
	staff := p == nil || p.role.Staff()
	if p != nil {
		s.You = p.view()
		s.ChatSeen = p.chatSeen
		if p.presence == PresenceWaiting || p.presence == PresenceDisconnected && p.record < 0 {
			s.Position = p.position
			return s
		}
		if p.presence != PresenceIn && p.presence != PresenceDisconnected {
			return s // left or ended: nothing more to show
		}
	}
	var hands []*participant
	for _, q := range r.order {
		if q.presence == PresenceIn || q.presence == PresenceDisconnected {
			s.Participants = append(s.Participants, q.view())
			if !q.handAt.IsZero() {
				hands = append(hands, q)
			}
		}
	}
	slices.SortStableFunc(hands, func(a, b *participant) int { return a.handAt.Compare(b.handAt) })
	for _, q := range hands {
		s.Hands = append(s.Hands, q.id)
	}
	if staff {
		s.Waiting = r.waitingList()
	}
	s.Chat = r.chat.tail(s.ChatSeen, r.cfg.SnapshotChat)
	for _, pl := range r.polls {
		s.Polls = append(s.Polls, pl.view(p, staff))
	}
	s.Strokes = slices.Clone(r.board)
	s.Slide = r.slide
	return s
}

// Since returns the events pid missed after seq, as pid sees them now, and
// records that pid has seen everything up to seq (its chat position).
//
// Errors: ErrSnapshotNeeded when events after seq are no longer in the log
// (or seq is from the future), ErrNoSuchParticipant, ErrRemoved.
func (r *Room) Since(pid ParticipantID, seq uint64) ([]Event, error) {
	r.begin()
	defer r.mu.Unlock()
	p := r.parts[pid]
	if p == nil {
		return nil, r.fail("since", pid, ErrNoSuchParticipant)
	}
	if p.presence == PresenceRemoved {
		return nil, r.fail("since", pid, ErrRemoved)
	}
	evs, err := r.since(p, seq)
	if err != nil {
		return nil, r.fail("since", pid, err)
	}
	return evs, nil
}

func (r *Room) since(p *participant, seq uint64) ([]Event, error) {
	if seq > r.seq {
		return nil, ErrSnapshotNeeded
	}
	r.ack(p, seq)
	if seq == r.seq {
		return nil, nil
	}
	if seq+1 < r.log.oldest() {
		return nil, ErrSnapshotNeeded
	}
	var evs []Event
	r.log.after(seq, func(ev Event) {
		if p.sees(ev) {
			evs = append(evs, ev)
		}
	})
	return evs, nil
}

// Ack records that pid's client has seen every event up to seq (the
// transport calls it on pings that carry the client's last seq), so that
// a snapshot after a page reload starts the chat where the user was.
// Unknown participants and seqs from the future are ignored.
func (r *Room) Ack(pid ParticipantID, seq uint64) {
	r.begin()
	defer r.mu.Unlock()
	if p := r.parts[pid]; p != nil && seq <= r.seq {
		r.ack(p, seq)
	}
}

// ack moves p's chat position to the last message logged at or before seq.
func (r *Room) ack(p *participant, seq uint64) {
	if c := r.chat.seenAt(seq); c > p.chatSeen {
		p.chatSeen = c
	}
}

// seqNow is the room's current seq (tests).
func (r *Room) seqNow() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}
