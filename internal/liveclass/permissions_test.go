package liveclass

import (
	"errors"
	"testing"
	"time"
)

func TestAStudentCannotModerateDrawPresentOrEnd(t *testing.T) {
	f := newRoomWith(t, 2)
	pupil, other := f.students[0], f.students[1]
	poll, err := f.room.CreatePoll(f.teacher, "2+2 ?", []string{"4", "5"})
	f.must(err)
	f.must(f.room.SetDeck(f.teacher, "deck1", 10))
	f.must(f.room.RaiseHand(other, true))

	for name, act := range map[string]func() error{
		"grant the mic":    func() error { return f.room.Grant(pupil, other, PermMic, true) },
		"mute all":         func() error { _, err := f.room.MuteAll(pupil); return err },
		"remove":           func() error { return f.room.Remove(pupil, other) },
		"draw":             func() error { _, err := f.room.Draw(pupil, dot()); return err },
		"undo":             func() error { _, err := f.room.UndoStroke(pupil); return err },
		"clear the board":  func() error { return f.room.ClearBoard(pupil) },
		"turn the slide":   func() error { return f.room.SetSlide(pupil, 2) },
		"set a deck":       func() error { return f.room.SetDeck(pupil, "mine", 3) },
		"create a poll":    func() error { _, err := f.room.CreatePoll(pupil, "?", []string{"a", "b"}); return err },
		"close a poll":     func() error { _, err := f.room.ClosePoll(pupil, poll.ID); return err },
		"end the class":    func() error { return f.room.End(pupil) },
		"lock":             func() error { return f.room.SetLock(pupil, true) },
		"admit":            func() error { return f.room.Admit(pupil, other) },
		"admit all":        func() error { _, err := f.room.AdmitAll(pupil); return err },
		"lower a hand":     func() error { return f.room.LowerHand(pupil, other) },
		"lower all hands":  func() error { return f.room.LowerAllHands(pupil) },
		"publish audio":    func() error { return f.room.MayPublish(pupil, KindAudio) },
		"publish a camera": func() error { return f.room.MayPublish(pupil, KindCamera) },
		"share the screen": func() error { return f.room.MayPublish(pupil, KindScreen) },
	} {
		if err := act(); !errors.Is(err, ErrNotPermitted) {
			t.Errorf("a student could %s: err = %v", name, err)
		}
	}
}

func TestAGuestSeesAndTalksWhenGrantedButDoesNotModerate(t *testing.T) {
	f := newRoomWith(t, 1)
	g := f.join(guest)
	wantErr(t, f.room.Grant(g, f.students[0], PermMic, true), ErrNotPermitted)
	wantErr(t, f.room.Remove(g, f.students[0]), ErrNotPermitted)
	wantErr(t, f.room.End(g), ErrNotPermitted)
	wantErr(t, f.room.MayPublish(g, KindAudio), ErrNotPermitted)

	f.must(f.room.Grant(f.teacher, g, PermMic, true))
	f.must(f.room.MayPublish(g, KindAudio))
	wantErr(t, f.room.MayPublish(g, KindCamera), ErrNotPermitted)
	snap, err := f.room.Snapshot(g)
	f.must(err)
	if snap.Waiting == nil && len(snap.Participants) != 3 {
		t.Fatalf("guest snapshot: %+v", snap)
	}
}

func TestTheTeacherPublishesEverything(t *testing.T) {
	f := newRoomWith(t, 0)
	for _, k := range []MediaKind{KindAudio, KindCamera, KindScreen} {
		f.must(f.room.MayPublish(f.teacher, k))
	}
	wantErr(t, f.room.MayPublish(f.teacher, "hologram"), ErrInvalid)
}

func TestAStudentOfAnotherClassIsRefusedByMayJoin(t *testing.T) {
	f := newRoomWith(t, 1)
	_, err := f.room.Join(stranger)
	wantErr(t, err, ErrNotEnrolled)
	if got := ErrorOf(err).Code; got != "not_enrolled" {
		t.Fatalf("code %q", got)
	}
	snap, _ := f.room.Snapshot(f.teacher)
	if len(snap.Participants) != 2 {
		t.Fatalf("the stranger shows up: %+v", snap.Participants)
	}
}

func TestARoomWithoutAnAllowListCannotBeCreated(t *testing.T) {
	_, err := New(Config{ID: "open"})
	wantErr(t, err, ErrInvalid)
	if ErrorOf(err).Field != "may_join" {
		t.Fatalf("field %q", ErrorOf(err).Field)
	}
}

func TestAnIdentityWithoutUserOrNameIsRefused(t *testing.T) {
	f := newRoomWith(t, 0)
	for _, id := range []Identity{
		{User: 0, Name: "x", Role: RoleStudent},
		{User: 101, Name: "  ", Role: RoleStudent},
		{User: 101, Name: "x", Role: "teacher"},
		{User: 101, Name: "a\x00b", Role: RoleStudent},
	} {
		_, err := f.room.Join(id)
		wantErr(t, err, ErrInvalid)
	}
}

func TestARemovedStudentCannotComeBack(t *testing.T) {
	f := newRoomWith(t, 2)
	pupil := f.students[0]
	sub := f.subscribe(pupil)
	f.must(f.room.Remove(f.teacher, pupil))

	evs := drain(sub)
	if !hasKind(evs, KindRemoved) {
		t.Fatalf("the removed student was not told: %v", kinds(evs))
	}
	wantErr(t, sub.Err(), ErrRemoved)
	_, err := f.room.Join(student(0))
	wantErr(t, err, ErrRemoved)
	_, err = f.room.Chat(pupil, "coucou")
	wantErr(t, err, ErrRemoved)
	att := f.room.Attendance()
	if att[1].Participant != pupil || att[1].Reason != LeaveRemoved {
		t.Fatalf("attendance: %+v", att[1])
	}
}

func TestAHostCannotBeRemovedNorRemoveItself(t *testing.T) {
	f := newRoomWith(t, 0)
	co := f.join(Identity{User: 2, Name: "M. Dupont", Role: RoleHost})
	wantErr(t, f.room.Remove(f.teacher, co), ErrNotPermitted)
	wantErr(t, f.room.Remove(f.teacher, f.teacher), ErrInvalid)
}

func TestALockedRoomRefusesNewStudentsButLetsAnAdmittedOneBack(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	f.must(f.room.Disconnect(pupil))
	f.must(f.room.SetLock(f.teacher, true))

	_, err := f.room.Join(student(1))
	wantErr(t, err, ErrRoomLocked)
	if ErrorOf(err).Key != "live.err.room_locked" {
		t.Fatalf("key %q", ErrorOf(err).Key)
	}
	res, err := f.room.Join(student(0))
	f.must(err)
	if res.Presence != PresenceIn || !res.Resumed {
		t.Fatalf("the admitted student is not back: %+v", res)
	}
	// Even after leaving for good, an admitted student may return.
	f.must(f.room.Leave(pupil))
	_, err = f.room.Join(student(0))
	f.must(err)
	// Hosts and guests always enter.
	f.join(guest)
	f.join(Identity{User: 2, Name: "M. Dupont", Role: RoleHost})
}

func TestGrantingTheMicLetsAStudentPublishAudioOnlyUntilRevoked(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	watch, err := f.room.Watch()
	f.must(err)

	f.must(f.room.Grant(f.teacher, pupil, PermMic, true))
	f.must(f.room.MayPublish(pupil, KindAudio))
	wantErr(t, f.room.MayPublish(pupil, KindCamera), ErrNotPermitted)
	f.must(f.room.Grant(f.teacher, pupil, PermMic, false))
	wantErr(t, f.room.MayPublish(pupil, KindAudio), ErrNotPermitted)

	evs := drain(watch)
	if len(evs) != 2 || evs[0].Kind != KindPermissions || !evs[0].Data.(PermissionChange).Permissions.Mic ||
		evs[1].Data.(PermissionChange).Permissions.Mic {
		t.Fatalf("the media layer saw %v", kinds(evs))
	}
	wantErr(t, f.room.Grant(f.teacher, f.teacher, PermMic, true), ErrInvalid)
	wantErr(t, f.room.Grant(f.teacher, pupil, "camera", true), ErrInvalid)
}

func TestMuteAllRevokesEveryStudentsMicAndTellsTheMediaLayer(t *testing.T) {
	f := newRoomWith(t, 3)
	f.must(f.room.Grant(f.teacher, f.students[0], PermMic, true))
	f.must(f.room.Grant(f.teacher, f.students[2], PermMic, true))
	watch, err := f.room.Watch()
	f.must(err)

	muted, err := f.room.MuteAll(f.teacher)
	f.must(err)
	if len(muted) != 2 || muted[0] != f.students[0] || muted[1] != f.students[2] {
		t.Fatalf("muted %v", muted)
	}
	for _, s := range f.students {
		wantErr(t, f.room.MayPublish(s, KindAudio), ErrNotPermitted)
	}
	f.must(f.room.MayPublish(f.teacher, KindAudio))
	evs := drain(watch)
	if len(evs) != 1 || evs[0].Kind != KindMutedAll {
		t.Fatalf("events %v", kinds(evs))
	}
}

func TestOnlyTheHostLowersOthersHands(t *testing.T) {
	f := newRoomWith(t, 2)
	a, b := f.students[0], f.students[1]
	f.must(f.room.RaiseHand(a, true))
	f.clock.Advance(time.Second)
	f.must(f.room.RaiseHand(b, true))
	f.clock.Advance(time.Second)
	f.must(f.room.RaiseHand(a, true)) // raising again keeps a's place

	snap, _ := f.room.Snapshot(f.teacher)
	if len(snap.Hands) != 2 || snap.Hands[0] != a || snap.Hands[1] != b {
		t.Fatalf("hands %v, want a then b", snap.Hands)
	}
	f.must(f.room.LowerHand(b, b)) // anyone lowers their own
	f.must(f.room.LowerHand(f.teacher, a))
	snap, _ = f.room.Snapshot(f.teacher)
	if len(snap.Hands) != 0 {
		t.Fatalf("hands %v", snap.Hands)
	}
	f.must(f.room.RaiseHand(a, true))
	f.must(f.room.LowerAllHands(f.teacher))
	if f.view(a).HandRaisedAt != (time.Time{}) {
		t.Fatal("hand still raised")
	}
}
