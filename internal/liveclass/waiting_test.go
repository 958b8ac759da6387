package liveclass

import (
	"testing"
	"time"
)

func TestTheWaitingRoomQueuesStudentsInOrderAndTheHostAdmitsThem(t *testing.T) {
	f := newRoomWith(t, 0, withWaitingRoom)
	host := f.subscribe(f.teacher)
	var waiting []ParticipantID
	for i := range 3 {
		res, err := f.room.Join(student(i))
		f.must(err)
		if res.Presence != PresenceWaiting || res.Position != i+1 {
			t.Fatalf("student %d: %+v", i, res)
		}
		waiting = append(waiting, res.Participant)
		f.clock.Advance(time.Second)
	}
	snap, _ := f.room.Snapshot(f.teacher)
	if len(snap.Waiting) != 3 || snap.Waiting[0].ID != waiting[0] || snap.Waiting[2].Position != 3 {
		t.Fatalf("waiting list %+v", snap.Waiting)
	}
	if len(snap.Participants) != 1 {
		t.Fatalf("waiting students are listed as in: %+v", snap.Participants)
	}

	third := f.subscribe(waiting[2])
	f.must(f.room.Admit(f.teacher, waiting[0]))
	evs := drain(third)
	if len(evs) != 1 || evs[0].Kind != KindQueued || evs[0].Data.(Queued).Position != 2 {
		t.Fatalf("the third student saw %v", kinds(evs))
	}
	if !hasKind(drain(host), KindWaiting) {
		t.Fatal("the host was not shown the new queue")
	}
	wantErr(t, f.room.Admit(f.teacher, waiting[0]), ErrNotWaiting)

	admitted, err := f.room.AdmitAll(f.teacher)
	f.must(err)
	if len(admitted) != 2 || admitted[0] != waiting[1] || admitted[1] != waiting[2] {
		t.Fatalf("admitted %v", admitted)
	}
	snap, _ = f.room.Snapshot(f.teacher)
	if len(snap.Waiting) != 0 || len(snap.Participants) != 4 {
		t.Fatalf("after admit all: %+v", snap)
	}
}

func TestAWaitingStudentSeesNothingOfTheClassUntilAdmitted(t *testing.T) {
	f := newRoomWith(t, 1, withWaitingRoom) // the first student waits too
	pupil := f.students[0]
	sub, catchup, err := f.room.Subscribe(pupil, 0)
	f.must(err)
	if catchup.Snapshot == nil || catchup.Snapshot.Position != 1 || catchup.Snapshot.Participants != nil {
		t.Fatalf("a waiting student's snapshot shows the class: %+v", catchup.Snapshot)
	}
	_, err = f.room.Chat(f.teacher, "Bonjour à tous")
	f.must(err)
	_, err = f.room.Chat(pupil, "je peux entrer ?")
	wantErr(t, err, ErrNotInRoom)
	if evs := drain(sub); len(evs) != 0 {
		t.Fatalf("the waiting student saw %v", kinds(evs))
	}

	f.must(f.room.Admit(f.teacher, pupil))
	evs := drain(sub)
	if got := kinds(evs); len(got) != 3 || got[0] != KindAdmitted || got[1] != KindJoined || got[2] != KindResync {
		t.Fatalf("on admission the student got %v, want admitted, joined, resync", got)
	}
	snap, err := sub.Resync()
	f.must(err)
	if len(snap.Chat) != 1 || snap.Chat[0].Text != "Bonjour à tous" || snap.You.Presence != PresenceIn {
		t.Fatalf("the snapshot after admission: %+v", snap)
	}
	_, err = f.room.Chat(f.teacher, "Bienvenue")
	f.must(err)
	if evs := drain(sub); len(evs) != 1 || evs[0].Kind != KindChat {
		t.Fatalf("after resync: %v", kinds(evs))
	}
}

func TestAWaitingStudentWhoLosesTheConnectionKeepsItsPlace(t *testing.T) {
	f := newRoomWith(t, 0, withWaitingRoom)
	first := f.join(student(0))
	f.clock.Advance(time.Second)
	f.join(student(1))
	f.must(f.room.Disconnect(first))
	snap, _ := f.room.Snapshot(f.teacher)
	if len(snap.Waiting) != 1 {
		t.Fatalf("a disconnected student can be admitted: %+v", snap.Waiting)
	}
	f.clock.Advance(30 * time.Second)
	res, err := f.room.Join(student(0))
	f.must(err)
	if res.Position != 1 || !res.Resumed {
		t.Fatalf("back in the queue at %+v, want first", res)
	}
}

func TestAHostRefusesAnIntruderAtTheDoor(t *testing.T) {
	f := newRoomWith(t, 0, withWaitingRoom)
	pupil := f.join(student(0))
	other := f.join(student(1)) // admitted later: must not hear of the refusal
	f.must(f.room.Admit(f.teacher, other))
	sub := f.subscribe(other)
	f.must(f.room.Remove(f.teacher, pupil))
	if evs := drain(sub); len(evs) != 0 {
		t.Fatalf("students saw %v", kinds(evs))
	}
	_, err := f.room.Join(student(0))
	wantErr(t, err, ErrRemoved)
	if len(f.room.Attendance()) != 2 {
		t.Fatalf("a student refused at the door is in the attendance: %+v", f.room.Attendance())
	}
}

func TestWithoutAWaitingRoomStudentsEnterDirectly(t *testing.T) {
	f := newRoomWith(t, 2)
	snap, _ := f.room.Snapshot(f.students[0])
	if snap.You.Presence != PresenceIn || len(snap.Participants) != 3 || snap.Waiting != nil {
		t.Fatalf("snapshot %+v", snap)
	}
}
