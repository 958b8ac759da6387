package liveclass

import (
	"sync"
	"testing"
	"time"
)

// TestManyParticipantsActingAtOnce runs a lesson's worth of actions from
// many goroutines (run it with -race): students chatting, raising hands,
// voting, drawing, reconnecting, listeners reading and resyncing, the
// host moderating and the sweeper ticking. It checks that nothing races,
// deadlocks or panics, and that the room still answers afterwards.
func TestManyParticipantsActingAtOnce(t *testing.T) {
	f := newRoomWith(t, 0, withWaitingRoom, func(c *Config) {
		c.ListenerBuffer = 8 // small, so listeners overflow and resync
		c.EventLog = 64
	})
	const students = 24
	poll, err := f.room.CreatePoll(f.teacher, "Q", []string{"a", "b", "c"})
	f.must(err)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	listen := func(s *Subscription) {
		defer wg.Done()
		for ev := range s.Events() {
			if ev.Kind == KindResync {
				if _, err := s.Resync(); err != nil {
					return
				}
			}
		}
	}
	host, _, err := f.room.Subscribe(f.teacher, 0)
	f.must(err)
	wg.Add(1)
	go listen(host)

	for i := range students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := student(i)
			for round := range 30 {
				res, err := f.room.Join(id)
				if err != nil {
					continue // removed or locked: keep trying other things
				}
				pid := res.Participant
				sub, _, err := f.room.Subscribe(pid, uint64(round))
				if err == nil {
					wg.Add(1)
					go listen(sub)
				}
				f.room.Chat(pid, "bonjour")
				f.room.RaiseHand(pid, round%2 == 0)
				f.room.Vote(pid, poll.ID, round%3)
				f.room.React(pid, "clap")
				f.room.Draw(pid, dot())
				f.room.UndoStroke(pid)
				f.room.SetMediaMode(pid, MediaAudio)
				f.room.Snapshot(pid)
				f.room.Since(pid, uint64(round))
				f.room.Ack(pid, uint64(round))
				if sub != nil && round%5 == 4 {
					sub.Close()
				}
			}
		}()
	}
	wg.Add(2)
	go func() { // the host
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			f.room.AdmitAll(f.teacher)
			f.room.Grant(f.teacher, ParticipantIDFor(student(i%students).User), PermWhiteboard, i%2 == 0)
			f.room.Grant(f.teacher, ParticipantIDFor(student(i%students).User), PermMic, true)
			if i%7 == 0 {
				f.room.MuteAll(f.teacher)
				f.room.LowerAllHands(f.teacher)
			}
			if i == 50 {
				f.room.Remove(f.teacher, ParticipantIDFor(student(3).User))
			}
			f.room.SetLock(f.teacher, i%11 == 0)
			f.room.Attendance()
			f.room.Info()
		}
	}()
	go func() { // the sweeper and a clock that moves
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.clock.Advance(time.Second)
			f.room.Tick(f.clock.Now())
		}
	}()

	done := make(chan struct{})
	go func() {
		// Students finish their rounds; then stop the host and sweeper,
		// end the room (closing every listener) and wait for all.
		for f.room.seqNow() < 200 {
			time.Sleep(time.Millisecond)
		}
		close(stop)
		f.room.Close()
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("deadlock: the room did not finish")
	}
	if ended, _ := f.room.Ended(); !ended {
		t.Fatal("not ended")
	}
	for _, a := range f.room.Attendance() {
		if a.LeftAt.IsZero() {
			t.Fatalf("an open record after the end: %+v", a)
		}
	}
}
