package liveclass

import "time"

// Admit lets a waiting participant in; hosts only.
//
// Errors: ErrNotPermitted, ErrNoSuchParticipant, ErrNotWaiting, actor errors.
func (r *Room) Admit(by, pid ParticipantID) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("admit", by, err)
	}
	p := r.parts[pid]
	if p == nil {
		return r.fail("admit", by, ErrNoSuchParticipant)
	}
	if p.presence != PresenceWaiting {
		return r.fail("admit", by, ErrNotWaiting)
	}
	r.admit(p, by, true)
	r.queueChanged()
	return nil
}

// AdmitAll lets everyone waiting in, in queue order, and returns who.
//
// Errors: ErrNotPermitted, actor errors.
func (r *Room) AdmitAll(by ParticipantID) ([]ParticipantID, error) {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return nil, r.fail("admit all", by, err)
	}
	var ids []ParticipantID
	for _, w := range r.waitingList() {
		r.admit(r.parts[w.ID], by, true)
		ids = append(ids, w.ID)
	}
	if ids != nil {
		r.queueChanged()
	}
	return ids, nil
}

// SetLock locks or unlocks the room; hosts only. A locked room refuses
// students who were never admitted (they get ErrRoomLocked); those
// admitted earlier may still come back, and those already waiting stay in
// the queue for a host to decide.
//
// Errors: ErrNotPermitted, actor errors.
func (r *Room) SetLock(by ParticipantID, locked bool) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("lock", by, err)
	}
	if r.locked != locked {
		r.locked = locked
		r.emit(KindLock, toAll, LockChange{Locked: locked, By: by})
	}
	return nil
}

// MuteAll revokes the microphone of every guest and student who has it,
// and returns who: the media layer, watching the muted_all event, stops
// forwarding their audio. Hosts keep theirs. Hosts only.
//
// Errors: ErrNotPermitted, actor errors.
func (r *Room) MuteAll(by ParticipantID) ([]ParticipantID, error) {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return nil, r.fail("mute all", by, err)
	}
	muted := []ParticipantID{}
	for _, p := range r.order {
		if p.role != RoleHost && p.perms.Mic {
			p.perms.Mic = false
			muted = append(muted, p.id)
		}
	}
	r.emit(KindMutedAll, toAll, MutedAll{Participants: muted, By: by})
	return muted, nil
}

// Remove takes a guest or student out of the room for the rest of its
// life (a waiting one is refused entry): its attendance closes with
// reason "removed", its subscription is closed with ErrRemoved, and it
// cannot join again. Hosts remove; a host cannot be removed.
//
// Errors: ErrNotPermitted, ErrNoSuchParticipant, ErrInvalid (field
// "participant": removing oneself), actor errors.
func (r *Room) Remove(by, pid ParticipantID) error {
	now := r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("remove", by, err)
	}
	if pid == by {
		return r.fail("remove", by, invalid("participant", "live.err.remove_self"))
	}
	p, err := r.target(pid, true)
	if err != nil {
		return r.fail("remove", by, err)
	}
	if p.role == RoleHost {
		return r.fail("remove", by, ErrNotPermitted)
	}
	wasIn := p.record >= 0 // admitted, in or within its grace
	switch p.presence {
	case PresenceIn:
		r.closeRecord(p, now, LeaveRemoved)
	case PresenceDisconnected:
		r.closeRecord(p, p.lostAt, LeaveRemoved)
	}
	if wasIn { // before the change of presence, so that it hears of it too
		r.emit(KindRemoved, toAll, Removal{Participant: pid, By: by})
	}
	p.presence = PresenceRemoved
	p.handAt, p.perms = time.Time{}, Permissions{}
	if !wasIn {
		r.queueChanged() // refused at the door: only staff hear of it
	}
	if p.sub != nil {
		p.sub.end(ErrRemoved)
	}
	return nil
}

// Grant gives (allowed true) or takes back a guest's or student's
// microphone or whiteboard; hosts only. Hosts always have both; camera and
// screen stay with hosts. Granting what is already granted does nothing.
//
// Errors: ErrNotPermitted, ErrNoSuchParticipant, ErrInvalid (fields
// "permission", "participant": a host), actor errors.
func (r *Room) Grant(by, pid ParticipantID, perm Permission, allowed bool) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("grant", by, err)
	}
	p, err := r.target(pid, false)
	if err != nil {
		return r.fail("grant", by, err)
	}
	if p.role == RoleHost {
		return r.fail("grant", by, invalid("participant", "live.err.grant_host"))
	}
	var field *bool
	switch perm {
	case PermMic:
		field = &p.perms.Mic
	case PermWhiteboard:
		field = &p.perms.Whiteboard
	default:
		return r.fail("grant", by, invalid("permission", "live.err.permission"))
	}
	if *field == allowed {
		return nil
	}
	*field = allowed
	r.emit(KindPermissions, toAll, PermissionChange{Participant: pid, Permissions: p.perms, By: by})
	return nil
}

// RaiseHand raises or lowers pid's own hand. Raising a raised hand keeps
// its original time, so the queue of hands stays fair.
//
// Errors: ErrRateLimited, actor errors.
func (r *Room) RaiseHand(pid ParticipantID, raised bool) error {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return r.fail("hand", pid, err)
	}
	if raised == !p.handAt.IsZero() {
		return nil
	}
	if !p.actionRate.allow(now, r.cfg.ActionRate) {
		return r.fail("hand", pid, ErrRateLimited)
	}
	if raised {
		p.handAt = now
	} else {
		p.handAt = time.Time{}
	}
	r.emit(KindHand, toAll, HandChange{Participant: pid, Raised: raised, At: p.handAt})
	return nil
}

// LowerHand lowers pid's hand; a host lowers anyone's, and anyone their
// own. Lowering a lowered hand does nothing.
//
// Errors: ErrNotPermitted, ErrNoSuchParticipant, actor errors.
func (r *Room) LowerHand(by, pid ParticipantID) error {
	if by == pid {
		return r.RaiseHand(pid, false)
	}
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("lower hand", by, err)
	}
	p, err := r.target(pid, false)
	if err != nil {
		return r.fail("lower hand", by, err)
	}
	if !p.handAt.IsZero() {
		p.handAt = time.Time{}
		r.emit(KindHand, toAll, HandChange{Participant: pid, Raised: false, By: by})
	}
	return nil
}

// LowerAllHands lowers every hand; hosts only.
//
// Errors: ErrNotPermitted, actor errors.
func (r *Room) LowerAllHands(by ParticipantID) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("lower all hands", by, err)
	}
	for _, p := range r.order {
		p.handAt = time.Time{}
	}
	r.emit(KindHandsLowered, toAll, HandsLowered{By: by})
	return nil
}

// MayPublish tells the media layer whether pid may publish kind now: hosts
// publish audio, camera and screen; guests and students audio only, once
// a host granted them the microphone. The media layer asks on every
// publish offer and stops forwarding when a permission event revokes it.
//
// Errors: ErrNotPermitted, ErrInvalid (field "kind"), actor errors.
func (r *Room) MayPublish(pid ParticipantID, kind MediaKind) error {
	r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return r.fail("publish "+string(kind), pid, err)
	}
	var ok bool
	switch kind {
	case KindAudio:
		ok = p.perms.Mic
	case KindCamera:
		ok = p.perms.Camera
	case KindScreen:
		ok = p.perms.Screen
	default:
		return r.fail("publish", pid, invalid("kind", "live.err.media_kind"))
	}
	if !ok {
		return r.fail("publish "+string(kind), pid, ErrNotPermitted)
	}
	return nil
}

// SetMediaMode records pid's media connection state as the media layer
// sees it (video, audio, data only, connecting, lost), for everyone to see
// next to its name. Reporting the current mode again does nothing.
//
// Errors: ErrInvalid (field "mode"), ErrNoSuchParticipant, ErrNotInRoom
// (the participant left, was removed, or is waiting).
func (r *Room) SetMediaMode(pid ParticipantID, mode MediaMode) error {
	r.begin()
	defer r.mu.Unlock()
	if !mode.Valid() {
		return r.fail("media mode", pid, invalid("mode", "live.err.media_mode"))
	}
	p := r.parts[pid]
	switch {
	case p == nil:
		return r.fail("media mode", pid, ErrNoSuchParticipant)
	case p.presence != PresenceIn && p.presence != PresenceDisconnected:
		return r.fail("media mode", pid, ErrNotInRoom)
	case p.media == mode:
		return nil
	}
	p.media = mode
	r.emit(KindMedia, toAll, MediaChange{Participant: pid, Mode: mode})
	return nil
}
