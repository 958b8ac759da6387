package liveclass

import (
	"fmt"
)

// Subscription is one listener's bounded queue of events: a participant's
// connection, or a watcher (the media layer, a logger) that sees every
// event whatever its audience.
//
// The room never waits for a listener. When a listener's buffer is full,
// the room stops queueing for it and puts a KindResync marker last in the
// channel (a slot is kept for it): the listener, on reading it, calls
// Resync for a snapshot and receives events again from there. Nothing is
// dropped silently. A participant admitted from the waiting room gets the
// same marker after its "admitted" event, since it saw nothing before.
//
// Events must be read by one goroutine, which is also the one that calls
// Resync. Close and Err are safe from any goroutine.
type Subscription struct {
	room   *Room
	p      *participant // nil for a watcher
	ch     chan Event
	max    int
	lagged bool  // guarded by room.mu
	closed bool  // guarded by room.mu
	err    error // guarded by room.mu
}

// Catchup is what a new subscription must send before its live events:
// the missed events when the client's last seq is still in the log (none
// at all when it missed nothing: both fields are then empty), or a
// snapshot otherwise.
type Catchup struct {
	Events   []Event
	Snapshot *Snapshot
}

// Subscribe attaches a listener for pid, which must be in the room or in
// its waiting room (Join first). resumeFrom is the last Seq the client
// saw, 0 for none. The catch-up and the subscription are taken atomically:
// the channel carries exactly the events after the catch-up. A previous
// subscription of pid is closed with ErrReplaced (the user opened a
// second tab, or reconnected before the old socket timed out).
//
// Errors: ErrRoomEnded, ErrNoSuchParticipant, ErrRemoved, ErrNotInRoom
// (left or disconnected: Join first).
func (r *Room) Subscribe(pid ParticipantID, resumeFrom uint64) (*Subscription, Catchup, error) {
	r.begin()
	defer r.mu.Unlock()
	if r.ended {
		return nil, Catchup{}, r.fail("subscribe", pid, ErrRoomEnded)
	}
	p := r.parts[pid]
	switch {
	case p == nil:
		return nil, Catchup{}, r.fail("subscribe", pid, ErrNoSuchParticipant)
	case p.presence == PresenceRemoved:
		return nil, Catchup{}, r.fail("subscribe", pid, ErrRemoved)
	case p.presence != PresenceIn && p.presence != PresenceWaiting:
		return nil, Catchup{}, r.fail("subscribe", pid, ErrNotInRoom)
	}
	if p.sub != nil {
		p.sub.end(ErrReplaced)
	}
	s := r.newSubscription(p)
	p.sub = s
	var c Catchup
	if resumeFrom > 0 {
		if evs, err := r.since(p, resumeFrom); err == nil {
			c.Events = evs
			return s, c, nil
		}
	}
	snap := r.snapshot(p)
	c.Snapshot = &snap
	return s, c, nil
}

// Watch attaches a listener to every event of the room, whatever its
// audience: for the media layer (permission changes, removals, mute all,
// the end) and for logging. Its Resync returns a staff snapshot.
//
// Errors: ErrRoomEnded.
func (r *Room) Watch() (*Subscription, error) {
	r.begin()
	defer r.mu.Unlock()
	if r.ended {
		return nil, fmt.Errorf("liveclass: room %s: watch: %w", r.cfg.ID, ErrRoomEnded)
	}
	s := r.newSubscription(nil)
	r.watchers[s] = struct{}{}
	return s, nil
}

func (r *Room) newSubscription(p *participant) *Subscription {
	n := r.cfg.ListenerBuffer
	return &Subscription{room: r, p: p, ch: make(chan Event, n+1), max: n}
}

// Events is the listener's channel. It is closed when the subscription
// ends; Err then says why.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Err is nil while the subscription runs, then why it ended: ErrReplaced,
// ErrRemoved, ErrRoomEnded, ErrLeft, ErrDisconnected (Close or Disconnect).
func (s *Subscription) Err() error {
	s.room.mu.Lock()
	defer s.room.mu.Unlock()
	return s.err
}

// Resync returns a snapshot of what the listener may see and resumes
// delivery just after it, discarding the events still queued (the
// snapshot includes their effect). Call it on reading KindResync.
//
// Errors: the reason the subscription ended, if it has.
func (s *Subscription) Resync() (Snapshot, error) {
	r := s.room
	r.begin()
	defer r.mu.Unlock()
	if s.closed {
		return Snapshot{}, fmt.Errorf("liveclass: room %s: resync: %w", r.cfg.ID, s.err)
	}
	for len(s.ch) > 0 {
		<-s.ch // only this goroutine reads, and the room sends under mu
	}
	s.lagged = false
	if s.p == nil {
		return r.snapshot(nil), nil
	}
	return r.snapshot(s.p), nil
}

// Close ends the subscription. If it is still its participant's current
// one, the participant is disconnected (its grace period starts): the
// transport calls Close when the socket goes away, and a late Close from a
// connection that was already replaced leaves the new one alone.
func (s *Subscription) Close() {
	r := s.room
	r.begin()
	defer r.mu.Unlock()
	if s.closed {
		return
	}
	if s.p != nil && s.p.sub == s {
		r.disconnect(s.p) // ends s
	}
	s.end(ErrDisconnected)
}

// offer queues ev without ever blocking. Called with room.mu held.
func (s *Subscription) offer(ev Event) {
	if s.closed || s.lagged {
		return
	}
	if len(s.ch) < s.max {
		s.ch <- ev
		return
	}
	s.requestResync()
}

// requestResync stops delivery and queues the marker in the kept slot.
func (s *Subscription) requestResync() {
	if s.closed || s.lagged {
		return
	}
	s.lagged = true
	select {
	case s.ch <- Event{Kind: KindResync, At: s.room.t}:
	default: // cannot happen: a slot is kept for the marker
	}
}

// end closes the channel once, recording why. Called with room.mu held.
func (s *Subscription) end(err error) {
	if s.closed {
		return
	}
	s.closed, s.err = true, err
	close(s.ch)
	if s.p != nil && s.p.sub == s {
		s.p.sub = nil
	}
	delete(s.room.watchers, s)
}
