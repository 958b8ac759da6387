package liveclass

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"preau/internal/domain"
)

// RegistryConfig bounds the rooms of one node.
type RegistryConfig struct {
	MaxRooms int              // open rooms at once; default 200
	Retain   time.Duration    // how long an ended room stays listed (attendance export, "ended" page); default 2 h
	IdleEnd  time.Duration    // an open room nobody has been in for this long is ended; default 30 min
	Now      func() time.Time // default time.Now
}

// Registry holds the rooms of this node. Safe for concurrent use.
type Registry struct {
	cfg     RegistryConfig
	mu      sync.Mutex
	rooms   map[RoomID]*Room
	created uint64 // rooms created so far; orders rooms started at the same instant
}

// NewRegistry returns an empty registry.
func NewRegistry(cfg RegistryConfig) *Registry {
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = 200
	}
	if cfg.Retain <= 0 {
		cfg.Retain = 2 * time.Hour
	}
	if cfg.IdleEnd <= 0 {
		cfg.IdleEnd = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Registry{cfg: cfg, rooms: map[RoomID]*Room{}}
}

// Create opens a room. There is at most one open room per audience (two
// co-teachers starting the class land in the same room: the caller looks
// it up with Open). The room uses the registry's clock unless cfg has one.
//
// Errors: ErrInvalid (a bad config, or an audience that is not exactly one
// class or group), ErrRoomExists, ErrTooManyRooms.
func (g *Registry) Create(cfg Config) (*Room, error) {
	if !cfg.Audience.Valid() {
		return nil, fmt.Errorf("liveclass: create room: %w", invalid("audience", "live.err.config"))
	}
	if cfg.Now == nil {
		cfg.Now = g.cfg.Now
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	open := 0
	for _, r := range g.rooms {
		if ended, _ := r.Ended(); !ended {
			open++
			if r.cfg.Audience == cfg.Audience && r.cfg.School == cfg.School {
				return nil, fmt.Errorf("liveclass: create room for %+v: %w", cfg.Audience, ErrRoomExists)
			}
		}
	}
	if open >= g.cfg.MaxRooms {
		return nil, fmt.Errorf("liveclass: create room: %d open: %w", open, ErrTooManyRooms)
	}
	if cfg.ID != "" && g.rooms[cfg.ID] != nil {
		return nil, fmt.Errorf("liveclass: create room %s: %w", cfg.ID, ErrRoomExists)
	}
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	g.created++
	r.created = g.created
	g.rooms[r.ID()] = r
	return r, nil
}

// Get returns a room, open or recently ended.
//
// Errors: ErrRoomNotFound.
func (g *Registry) Get(id RoomID) (*Room, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.rooms[id]; r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("liveclass: room %s: %w", id, ErrRoomNotFound)
}

// Open returns the open room of a school's class or group, if any.
func (g *Registry) Open(school domain.SchoolID, a domain.Audience) (*Room, bool) {
	for _, r := range g.List(school, a) {
		if ended, _ := r.Ended(); !ended {
			return r, true
		}
	}
	return nil, false
}

// List returns the rooms, open and recently ended, of a school's class or
// group, oldest first.
func (g *Registry) List(school domain.SchoolID, a domain.Audience) []*Room {
	g.mu.Lock()
	var out []*Room
	for _, r := range g.rooms {
		if r.cfg.School == school && r.cfg.Audience == a {
			out = append(out, r)
		}
	}
	g.mu.Unlock()
	// Two rooms can start at the same instant on a coarse clock: creation
	// order breaks the tie so that the listing does not follow map order.
	slices.SortFunc(out, func(x, y *Room) int {
		if c := x.startedAt.Compare(y.startedAt); c != 0 {
			return c
		}
		return cmp.Compare(x.created, y.created)
	})
	return out
}

// End ends a room on the system's behalf (see Room.Close).
//
// Errors: ErrRoomNotFound.
func (g *Registry) End(id RoomID) error {
	r, err := g.Get(id)
	if err != nil {
		return err
	}
	r.Close()
	return nil
}

// Tick runs every room's Tick, ends rooms idle for IdleEnd and forgets
// rooms ended more than Retain ago.
func (g *Registry) Tick(now time.Time) {
	g.mu.Lock()
	rooms := make([]*Room, 0, len(g.rooms))
	for _, r := range g.rooms {
		rooms = append(rooms, r)
	}
	g.mu.Unlock()
	for _, r := range rooms {
		r.Tick(now)
		if ended, at := r.Ended(); ended {
			if now.Sub(at) >= g.cfg.Retain {
				g.mu.Lock()
				delete(g.rooms, r.ID())
				g.mu.Unlock()
			}
			continue
		}
		if since, idle := r.idleSince(); idle && now.Sub(since) >= g.cfg.IdleEnd {
			r.Close()
		}
	}
}

// Run calls Tick every interval until ctx is done.
func (g *Registry) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Tick(g.cfg.Now())
		}
	}
}

// Close ends every room (node shutdown).
func (g *Registry) Close() {
	g.mu.Lock()
	rooms := make([]*Room, 0, len(g.rooms))
	for _, r := range g.rooms {
		rooms = append(rooms, r)
	}
	g.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
}

// newRoomID is random so that room ids cannot be enumerated; joining
// still needs a session that MayJoin accepts.
func newRoomID() RoomID {
	return RoomID("r" + rand.Text()[:16])
}
