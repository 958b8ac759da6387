package liveclass

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"preau/internal/domain"
)

// t0 is a Monday morning of the 2021 closure, in UTC.
var t0 = time.Date(2021, 4, 6, 7, 55, 0, 0, time.UTC)

// fakeClock is the rooms' clock in tests: time moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a room of one class: a teacher (user 1), enrolled students
// (users 101, 102, …) and a guest (user 50). User 999 is in another
// class; user 2 is a co-teacher.
type fixture struct {
	t        *testing.T
	room     *Room
	clock    *fakeClock
	teacher  ParticipantID
	students []ParticipantID
}

var (
	teacher  = Identity{User: 1, Name: "Mme Martin", Role: RoleHost}
	guest    = Identity{User: 50, Name: "M. Cpe", Role: RoleGuest}
	stranger = Identity{User: 999, Name: "Intrus", Role: RoleStudent}
)

func student(i int) Identity {
	return Identity{User: domain.UserID(101 + i), Name: fmt.Sprintf("Élève %d", i+1), Role: RoleStudent}
}

// enrolled is the class list MayJoin checks: the teacher, the guest and
// 100 students.
func enrolled(id Identity) bool {
	return id.User == teacher.User || id.User == 2 || id.User == guest.User || id.User >= 101 && id.User < 201
}

type option func(*Config)

func withWaitingRoom(c *Config) { c.WaitingRoom = true }

// newRoomWith builds a room whose teacher has joined, then n students.
func newRoomWith(t *testing.T, n int, opts ...option) *fixture {
	t.Helper()
	clock := &fakeClock{t: t0}
	cfg := Config{
		ID: "r-test", Title: "Maths — 3e B", Audience: domain.Audience{ClassID: 3},
		MayJoin: enrolled, Now: clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	room, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, room: room, clock: clock}
	f.teacher = f.join(teacher)
	for i := range n {
		f.students = append(f.students, f.join(student(i)))
	}
	return f
}

// join joins id and fails the test on error.
func (f *fixture) join(id Identity) ParticipantID {
	f.t.Helper()
	res, err := f.room.Join(id)
	if err != nil {
		f.t.Fatalf("join %s: %v", id.Name, err)
	}
	return res.Participant
}

// must fails the test on err.
func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// subscribe attaches a fresh listener to pid.
func (f *fixture) subscribe(pid ParticipantID) *Subscription {
	f.t.Helper()
	s, _, err := f.room.Subscribe(pid, 0)
	if err != nil {
		f.t.Fatalf("subscribe %s: %v", pid, err)
	}
	f.t.Cleanup(func() { drain(s) })
	return s
}

// drain returns the events queued on s, without waiting.
func drain(s *Subscription) []Event {
	var evs []Event
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

func kinds(evs []Event) []EventKind {
	out := make([]EventKind, len(evs))
	for i, ev := range evs {
		out[i] = ev.Kind
	}
	return out
}

func hasKind(evs []Event, k EventKind) bool {
	for _, ev := range evs {
		if ev.Kind == k {
			return true
		}
	}
	return false
}

// wantErr fails unless err is target (by code).
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func (f *fixture) view(pid ParticipantID) ParticipantView {
	f.t.Helper()
	s, err := f.room.Snapshot(f.teacher)
	f.must(err)
	for _, p := range s.Participants {
		if p.ID == pid {
			return p
		}
	}
	f.t.Fatalf("%s is not in the teacher's snapshot", pid)
	return ParticipantView{}
}
