package live

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"preau/internal/domain"
	"preau/internal/liveclass"
)

// recordAttendance writes the room's register to the store as it changes:
// every arrival and every departure, durable when written, so that the
// register of a class survives a crash of the node. It watches the room's
// events and compares the room's stays with what it already wrote, so it
// needs no knowledge of which event closes a stay.
func (s *Service) recordAttendance(rc *running) error {
	sub, err := rc.room.Watch()
	if err != nil {
		return fmt.Errorf("live: watch room %s: %w", rc.room.ID(), err)
	}
	type stay struct {
		pid    liveclass.ParticipantID
		joined time.Time
	}
	written := map[stay]bool{} // stays whose arrival is written; true once their departure is too
	sync := func() {
		for _, a := range rc.room.Attendance() {
			k := stay{a.Participant, a.JoinedAt}
			left, seen := written[k]
			ctx := context.Background()
			if !seen {
				if err := s.store.AddAttendance(ctx, domain.AttendanceEvent{LiveClassID: rc.class.ID, UserID: a.User, Name: a.Name,
					Role: string(a.Role), Kind: domain.AttendanceJoin, At: a.JoinedAt}); err != nil {
					s.log.Error("live: write an arrival", "class", rc.class.ID, "user", a.User, "err", err)
					continue
				}
				written[k] = false
			}
			if !left && !a.LeftAt.IsZero() {
				if err := s.store.AddAttendance(ctx, domain.AttendanceEvent{LiveClassID: rc.class.ID, UserID: a.User, Name: a.Name,
					Role: string(a.Role), Kind: domain.AttendanceLeave, Reason: string(a.Reason), At: a.LeftAt}); err != nil {
					s.log.Error("live: write a departure", "class", rc.class.ID, "user", a.User, "err", err)
					continue
				}
				written[k] = true
			}
		}
	}
	go func() {
		defer close(rc.done)
		defer sub.Close()
		for ev := range sub.Events() {
			switch ev.Kind {
			case liveclass.KindResync:
				if _, err := sub.Resync(); err != nil {
					sync()
					return
				}
			case liveclass.KindEnded:
				sync()
				return
			}
			sync()
		}
		sync() // the subscription ended: the room closed
	}()
	return nil
}

// counters are the Service's statistics.
type counters struct {
	started, sessions, refused, badFrames atomic.Uint64
	connected                             atomic.Int64
}

// Stats are the Service's counters, for Prometheus.
type Stats struct {
	Running   int    // classes running on this node
	Started   uint64 // classes started since the node started
	Sessions  uint64 // WebSocket sessions opened
	Connected int64  // WebSocket sessions open now
	Refused   uint64 // joins refused (not enrolled, removed, locked, ended)
	BadFrames uint64 // client frames refused by the parser or the room
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	n := len(s.running)
	s.mu.Unlock()
	return Stats{Running: n, Started: s.stats.started.Load(), Sessions: s.stats.sessions.Load(), Connected: s.stats.connected.Load(),
		Refused: s.stats.refused.Load(), BadFrames: s.stats.badFrames.Load()}
}
