package liveclass

import (
	"testing"
	"time"

	"preau/internal/domain"
)

func newRegistry(t *testing.T, max int) (*Registry, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: t0}
	return NewRegistry(RegistryConfig{MaxRooms: max, Now: clock.Now}), clock
}

func classRoom(class domain.ClassID) Config {
	return Config{School: 1, Audience: domain.Audience{ClassID: class}, MayJoin: enrolled, Title: "Cours"}
}

func TestTheRegistryKeepsOneOpenRoomPerClass(t *testing.T) {
	g, _ := newRegistry(t, 10)
	r, err := g.Create(classRoom(3))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() == "" {
		t.Fatal("no id")
	}
	_, err = g.Create(classRoom(3))
	wantErr(t, err, ErrRoomExists)
	if open, ok := g.Open(1, domain.Audience{ClassID: 3}); !ok || open != r {
		t.Fatal("Open does not find the room")
	}
	if _, ok := g.Open(2, domain.Audience{ClassID: 3}); ok {
		t.Fatal("another school's class 3 has a room")
	}
	got, err := g.Get(r.ID())
	if err != nil || got != r {
		t.Fatal(err)
	}
	_, err = g.Get("nope")
	wantErr(t, err, ErrRoomNotFound)

	if err := g.End(r.ID()); err != nil {
		t.Fatal(err)
	}
	r2, err := g.Create(classRoom(3)) // a new lesson after the end
	if err != nil {
		t.Fatal(err)
	}
	if list := g.List(1, domain.Audience{ClassID: 3}); len(list) != 2 || list[1] != r2 {
		t.Fatalf("list %v", list)
	}
	_, err = g.Create(Config{School: 1, MayJoin: enrolled})
	wantErr(t, err, ErrInvalid) // no audience
}

func TestTheRegistryIsBounded(t *testing.T) {
	g, _ := newRegistry(t, 2)
	for c := range 2 {
		if _, err := g.Create(classRoom(domain.ClassID(c + 1))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := g.Create(classRoom(9))
	wantErr(t, err, ErrTooManyRooms)
}

func TestIdleRoomsEndAndEndedRoomsAreForgotten(t *testing.T) {
	g, clock := newRegistry(t, 10)
	busy, _ := g.Create(classRoom(1))
	idle, _ := g.Create(classRoom(2))
	if _, err := busy.Join(teacher); err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * time.Minute)
	g.Tick(clock.Now())
	if ended, _ := idle.Ended(); !ended {
		t.Fatal("a room nobody entered for 31 minutes is still open")
	}
	if ended, _ := busy.Ended(); ended {
		t.Fatal("a room in use was ended")
	}
	clock.Advance(2 * time.Hour)
	g.Tick(clock.Now())
	if _, err := g.Get(idle.ID()); err == nil {
		t.Fatal("an ended room is kept forever")
	}
	if _, err := g.Get(busy.ID()); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if ended, _ := busy.Ended(); !ended {
		t.Fatal("Close left a room open")
	}
}
