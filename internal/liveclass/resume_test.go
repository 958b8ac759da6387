package liveclass

import (
	"testing"
	"time"
)

func TestAStudentBackWithinTheGraceKeepsHandPermissionsAndGetsExactlyTheMissedChat(t *testing.T) {
	f := newRoomWith(t, 2)
	pupil := f.students[0]
	_, err := f.room.Chat(f.teacher, "avant")
	f.must(err)
	f.must(f.room.RaiseHand(pupil, true))
	f.must(f.room.Grant(f.teacher, pupil, PermMic, true))
	f.must(f.room.Grant(f.teacher, pupil, PermWhiteboard, true))
	sub := f.subscribe(pupil)
	snap, _ := f.room.Snapshot(pupil)
	lastSeen := snap.Seq

	sub.Close() // the socket died
	if f.view(pupil).Presence != PresenceDisconnected {
		t.Fatal("not shown as disconnected")
	}
	f.clock.Advance(time.Minute)
	var missed []string
	for _, text := range []string{"pendant 1", "pendant 2"} {
		m, err := f.room.Chat(f.students[1], text)
		f.must(err)
		missed = append(missed, m.Text)
	}
	f.must(f.room.SetMediaMode(f.teacher, MediaVideo))

	res, err := f.room.Join(student(0))
	f.must(err)
	if !res.Resumed || res.Presence != PresenceIn {
		t.Fatalf("join result %+v", res)
	}
	sub2, catchup, err := f.room.Subscribe(pupil, lastSeen)
	f.must(err)
	if catchup.Snapshot != nil {
		t.Fatal("a snapshot instead of the missed events")
	}
	var got []string
	for _, ev := range catchup.Events {
		if ev.Kind == KindChat {
			got = append(got, ev.Data.(ChatMessage).Text)
		}
	}
	if len(got) != 2 || got[0] != missed[0] || got[1] != missed[1] {
		t.Fatalf("missed chat %q, want %q", got, missed)
	}
	v := f.view(pupil)
	if v.HandRaisedAt.IsZero() || !v.Permissions.Mic || !v.Permissions.Whiteboard {
		t.Fatalf("state after resuming: %+v", v)
	}
	f.must(f.room.MayPublish(pupil, KindAudio))
	if att := f.room.Attendance(); len(att) != 3 || !att[1].LeftAt.IsZero() {
		t.Fatalf("a short disconnection split the attendance: %+v", att)
	}
	// Nothing is delivered twice: the live channel starts after the catch-up.
	_, err = f.room.Chat(f.teacher, "après")
	f.must(err)
	if evs := drain(sub2); len(evs) != 1 || evs[0].Data.(ChatMessage).Text != "après" {
		t.Fatalf("live events %v", kinds(evs))
	}
}

func TestResumingAfterTheEventLogRolledOverNeedsASnapshot(t *testing.T) {
	f := newRoomWith(t, 1, func(c *Config) {
		c.EventLog = 8
		c.ChatRate = Rate{Burst: 100, Every: time.Millisecond}
	})
	pupil := f.students[0]
	snap, _ := f.room.Snapshot(pupil)
	f.must(f.room.Disconnect(pupil))
	for range 20 {
		_, err := f.room.Chat(f.teacher, "x")
		f.must(err)
	}
	_, err := f.room.Since(pupil, snap.Seq)
	wantErr(t, err, ErrSnapshotNeeded)

	f.join(student(0))
	_, catchup, err := f.room.Subscribe(pupil, snap.Seq)
	f.must(err)
	if catchup.Snapshot == nil || catchup.Events != nil {
		t.Fatalf("catch-up %+v, want a snapshot", catchup)
	}
	// The snapshot resumes the chat where the student was, not just the
	// last few messages.
	if n := len(catchup.Snapshot.Chat); n != 20 {
		t.Fatalf("snapshot chat has %d messages, want the 20 missed", n)
	}
	_, err = f.room.Since(pupil, catchup.Snapshot.Seq+1)
	wantErr(t, err, ErrSnapshotNeeded) // a seq from the future
}

func TestASnapshotAfterAPageReloadStartsTheChatAtTheAcknowledgedPosition(t *testing.T) {
	f := newRoomWith(t, 1, func(c *Config) {
		c.SnapshotChat = 3
		c.ChatRate = Rate{Burst: 100, Every: time.Millisecond}
	})
	pupil := f.students[0]
	for range 10 {
		_, err := f.room.Chat(f.teacher, "x")
		f.must(err)
	}
	s, _ := f.room.Snapshot(pupil)
	f.room.Ack(pupil, s.Seq) // a ping: has seen chat 1..10
	for range 5 {
		_, err := f.room.Chat(f.teacher, "y")
		f.must(err)
	}
	s, _ = f.room.Snapshot(pupil) // the page was reloaded: no last seq
	if s.ChatSeen != 10 || len(s.Chat) != 5 || s.Chat[0].Seq != 11 {
		t.Fatalf("chat from %d (%d messages), seen %d", s.Chat[0].Seq, len(s.Chat), s.ChatSeen)
	}
	f.room.Ack(pupil, s.Seq)
	s, _ = f.room.Snapshot(pupil)
	if len(s.Chat) != 3 {
		t.Fatalf("up to date: %d messages, want the last 3 for context", len(s.Chat))
	}
}

func TestWhenTheGraceRunsOutTheLeaveIsWrittenAtTheDisconnection(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	f.must(f.room.RaiseHand(pupil, true))
	f.clock.Advance(10 * time.Minute)
	lost := f.clock.Now()
	f.must(f.room.Disconnect(pupil))

	f.room.Tick(lost.Add(DefaultGrace - time.Second))
	if att := f.room.Attendance(); !att[1].LeftAt.IsZero() {
		t.Fatalf("left before the grace ran out: %+v", att[1])
	}
	f.room.Tick(lost.Add(DefaultGrace))
	att := f.room.Attendance()
	if att[1].LeftAt != lost || att[1].Reason != LeaveDisconnected || att[1].Duration(t0) != 10*time.Minute {
		t.Fatalf("attendance %+v", att[1])
	}
	snap, _ := f.room.Snapshot(f.teacher)
	if len(snap.Participants) != 1 || len(snap.Hands) != 0 {
		t.Fatalf("the student is still listed: %+v", snap)
	}

	// Coming back is a new stay, from scratch.
	f.clock.Advance(time.Hour)
	res, err := f.room.Join(student(0))
	f.must(err)
	if res.Resumed || !f.view(pupil).HandRaisedAt.IsZero() {
		t.Fatalf("resumed after the grace: %+v", res)
	}
	if att := f.room.Attendance(); len(att) != 3 || att[2].JoinedAt != f.clock.Now() {
		t.Fatalf("attendance %+v", att)
	}
}

func TestAJoinAfterTheGraceCountsAsNewEvenBeforeTheSweeper(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	f.must(f.room.Grant(f.teacher, pupil, PermMic, true))
	f.must(f.room.Disconnect(pupil))
	f.clock.Advance(DefaultGrace + time.Second)
	res, err := f.room.Join(student(0))
	f.must(err)
	if res.Resumed || f.view(pupil).Permissions.Mic {
		t.Fatalf("kept its grant after the grace: %+v", res)
	}
	if att := f.room.Attendance(); att[1].Reason != LeaveDisconnected || len(att) != 3 {
		t.Fatalf("attendance %+v", att)
	}
}

func TestASecondConnectionReplacesTheFirst(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	first := f.subscribe(pupil)
	res, err := f.room.Join(student(0)) // a second tab
	f.must(err)
	if !res.Resumed {
		t.Fatal("not a resume")
	}
	second := f.subscribe(pupil)
	drain(first)
	wantErr(t, first.Err(), ErrReplaced)
	first.Close() // the old socket's late close must not disconnect the new one
	if f.view(pupil).Presence != PresenceIn {
		t.Fatal("the old connection's close disconnected the new one")
	}
	if second.Err() != nil {
		t.Fatal(second.Err())
	}
}

func TestALeaveIsFinal(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	sub := f.subscribe(pupil)
	f.must(f.room.Leave(pupil))
	wantErr(t, sub.Err(), ErrLeft)
	_, _, err := f.room.Subscribe(pupil, 0)
	wantErr(t, err, ErrNotInRoom)
	f.must(f.room.Leave(pupil)) // twice is fine
	if att := f.room.Attendance(); att[1].Reason != LeaveLeft {
		t.Fatalf("attendance %+v", att[1])
	}
}
