package liveclass

import (
	"testing"
	"time"
)

func TestASlowListenerNeverBlocksTheRoomAndIsToldToResync(t *testing.T) {
	f := newRoomWith(t, 1, func(c *Config) {
		c.ListenerBuffer = 4
		c.ChatRate = Rate{Burst: 1000, Every: time.Millisecond}
	})
	slow := f.subscribe(f.students[0]) // never read during the burst
	for range 50 {
		if _, err := f.room.Chat(f.teacher, "x"); err != nil {
			t.Fatal(err)
		}
	}
	evs := drain(slow)
	if len(evs) != 5 || evs[4].Kind != KindResync {
		t.Fatalf("the slow listener holds %v, want 4 events then resync", kinds(evs))
	}
	snap, err := slow.Resync()
	f.must(err)
	if len(snap.Chat) != 50 || snap.Seq != f.room.seqNow() {
		t.Fatalf("resync snapshot: %d messages at seq %d", len(snap.Chat), snap.Seq)
	}
	_, err = f.room.Chat(f.teacher, "after")
	f.must(err)
	if evs := drain(slow); len(evs) != 1 || evs[0].Seq != snap.Seq+1 {
		t.Fatalf("after resync: %v", kinds(evs))
	}
}

func TestResyncDiscardsWhatTheSnapshotCovers(t *testing.T) {
	f := newRoomWith(t, 1, func(c *Config) {
		c.ListenerBuffer = 2
		c.ChatRate = Rate{Burst: 1000, Every: time.Millisecond}
	})
	sub := f.subscribe(f.students[0])
	for range 5 {
		_, err := f.room.Chat(f.teacher, "x")
		f.must(err)
	}
	// The listener calls Resync without reading the queue first.
	snap, err := sub.Resync()
	f.must(err)
	if evs := drain(sub); len(evs) != 0 {
		t.Fatalf("stale events after resync: %v", kinds(evs))
	}
	if snap.Seq != f.room.seqNow() {
		t.Fatal("snapshot behind")
	}
}

func TestPrivateEventsReachOnlyTheirAudience(t *testing.T) {
	f := newRoomWith(t, 2, withWaitingRoom) // the two students wait
	host, a, b := f.subscribe(f.teacher), f.subscribe(f.students[0]), f.subscribe(f.students[1])
	f.must(f.room.Admit(f.teacher, f.students[0]))
	drain(host)
	drain(a)
	_, err := a.Resync() // as told after admission
	f.must(err)
	bEvs := drain(b)
	if len(bEvs) != 1 || bEvs[0].Kind != KindQueued {
		t.Fatalf("the other waiting student saw %v", kinds(bEvs))
	}
	p, err := f.room.CreatePoll(f.teacher, "Q", []string{"a", "b"})
	f.must(err)
	f.must(f.room.Vote(f.teacher, p.ID, 1))
	if got := kinds(drain(a)); len(got) != 1 || got[0] != KindPollOpened {
		t.Fatalf("student a saw %v", got)
	}
	if got := kinds(drain(host)); len(got) != 3 || got[2] != KindPollResults {
		t.Fatalf("the host saw %v", got)
	}
	if evs := drain(b); len(evs) != 0 {
		t.Fatalf("the waiting student saw %v", kinds(evs))
	}
	// Since applies the same rule.
	evs, err := f.room.Since(f.students[0], 1)
	f.must(err)
	for _, ev := range evs {
		if ev.Kind == KindPollResults || ev.Kind == KindWaiting {
			t.Fatalf("since gave a student %s", ev.Kind)
		}
	}
}

func TestAWatcherSeesEverythingAndTheEnd(t *testing.T) {
	f := newRoomWith(t, 1)
	w, err := f.room.Watch()
	f.must(err)
	f.must(f.room.SetMediaMode(f.students[0], MediaAudio))
	f.must(f.room.SetMediaMode(f.students[0], MediaAudio)) // unchanged: no event
	f.must(f.room.End(f.teacher))
	evs := drain(w)
	if got := kinds(evs); len(got) != 2 || got[0] != KindMedia || got[1] != KindEnded {
		t.Fatalf("watcher saw %v", got)
	}
	wantErr(t, w.Err(), ErrRoomEnded)
	_, err = f.room.Watch()
	wantErr(t, err, ErrRoomEnded)
}

func TestTheEndClosesEveryoneAndTheAttendance(t *testing.T) {
	f := newRoomWith(t, 2, func(c *Config) { c.WaitingRoom = false })
	f.must(f.room.Disconnect(f.students[1]))
	lost := f.clock.Now()
	pupil := f.subscribe(f.students[0])
	f.clock.Advance(45 * time.Minute)
	wantErr(t, f.room.End(f.students[0]), ErrNotPermitted)
	f.must(f.room.End(f.teacher))

	evs := drain(pupil)
	if len(evs) != 1 || evs[0].Kind != KindEnded {
		t.Fatalf("the student got %v", kinds(evs))
	}
	wantErr(t, pupil.Err(), ErrRoomEnded)
	att := f.room.Attendance()
	if att[0].Reason != LeaveEnded || att[0].LeftAt != f.clock.Now() || att[2].Reason != LeaveDisconnected || att[2].LeftAt != lost {
		t.Fatalf("attendance %+v", att)
	}
	_, err := f.room.Join(student(0))
	wantErr(t, err, ErrRoomEnded)
	_, err = f.room.Chat(f.teacher, "encore là ?")
	wantErr(t, err, ErrRoomEnded)
	if ended, at := f.room.Ended(); !ended || at != f.clock.Now() {
		t.Fatal("not ended")
	}
}

func TestMediaModeIsShownToEveryone(t *testing.T) {
	f := newRoomWith(t, 1)
	sub := f.subscribe(f.teacher)
	f.must(f.room.SetMediaMode(f.students[0], MediaData))
	evs := drain(sub)
	if len(evs) != 1 || evs[0].Data.(MediaChange) != (MediaChange{Participant: f.students[0], Mode: MediaData}) {
		t.Fatalf("events %+v", evs)
	}
	if f.view(f.students[0]).Media != MediaData {
		t.Fatal("not in the snapshot")
	}
	wantErr(t, f.room.SetMediaMode(f.students[0], "4k"), ErrInvalid)
	wantErr(t, f.room.SetMediaMode("u12345", MediaData), ErrNoSuchParticipant)
}
