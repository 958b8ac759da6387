package liveclass

import (
	"errors"
	"fmt"
	"time"

	"preau/internal/domain"
)

// Rate is a token bucket: Burst actions at once, then one more every Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// Config describes one room. Zero limits take the defaults below.
type Config struct {
	ID        RoomID // empty: the Registry assigns one
	Title     string // shown to participants, e.g. "Maths — 3e B"
	School    domain.SchoolID
	Audience  domain.Audience // the class or group the room is for
	CreatedBy domain.UserID

	// MayJoin is the room's own allow-list, checked on every join after the
	// caller's enrolment checks. It is required: a room without one would
	// admit whoever the layer above lets through by mistake. It is called
	// without the room's lock held, so it may consult a store.
	MayJoin func(Identity) bool

	// KeepChat, if set, keeps each chat message before anyone sees it: it
	// is called with the room's lock held, once the message is accepted,
	// and an error refuses the message (ErrNotKept) so that nothing is
	// shown that a crash would lose. A store that syncs to disk makes the
	// chat survive the node.
	KeepChat func(ChatMessage) error

	WaitingRoom bool // students wait until a host admits them
	Locked      bool // start locked: no new students

	Grace time.Duration    // how long a lost participant keeps its place; default 2 min
	Now   func() time.Time // the clock; default time.Now

	MaxParticipants int  // distinct users over the room's life; default 500
	EventLog        int  // events kept for resumption; default 4096
	ListenerBuffer  int  // events queued per listener before it must resync; default 256
	ChatHistory     int  // chat messages kept; default 500
	SnapshotChat    int  // chat messages a snapshot shows at least; default 50
	MaxStrokes      int  // strokes on the whiteboard; default 5000
	MaxBoardPoints  int  // points over all strokes; default 100,000 (about 1 MB of JSON)
	PollHistory     int  // polls kept (open and closed); default 20
	ChatRate        Rate // per participant; default 5 at once, then 1 every 2 s (5 per 10 s)
	ActionRate      Rate // hands, votes, undo; default 10 at once, then 1 a second
	ReactionRate    Rate // default 5 at once, then 1 every 2 s
	StrokeRate      Rate // default 20 at once, then 5 a second
}

// Defaults.
const (
	DefaultGrace           = 2 * time.Minute
	DefaultMaxParticipants = 500
	DefaultEventLog        = 4096
	DefaultListenerBuffer  = 256
	DefaultChatHistory     = 500
	DefaultSnapshotChat    = 50
	DefaultMaxStrokes      = 5000
	DefaultMaxBoardPoints  = 100_000
	DefaultPollHistory     = 20
)

// withDefaults fills zero fields and reports every invalid one at once.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.MayJoin == nil {
		errs = append(errs, invalid("may_join", "live.err.config"))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	dur := func(d *time.Duration, def time.Duration, name string) {
		if *d == 0 {
			*d = def
		} else if *d < 0 {
			errs = append(errs, invalid(name, "live.err.config"))
		}
	}
	num := func(n *int, def int, name string) {
		if *n == 0 {
			*n = def
		} else if *n < 0 {
			errs = append(errs, invalid(name, "live.err.config"))
		}
	}
	rate := func(r *Rate, def Rate, name string) {
		if *r == (Rate{}) {
			*r = def
		} else if r.Burst <= 0 || r.Every <= 0 {
			errs = append(errs, invalid(name, "live.err.config"))
		}
	}
	dur(&c.Grace, DefaultGrace, "grace")
	num(&c.MaxParticipants, DefaultMaxParticipants, "max_participants")
	num(&c.EventLog, DefaultEventLog, "event_log")
	num(&c.ListenerBuffer, DefaultListenerBuffer, "listener_buffer")
	num(&c.ChatHistory, DefaultChatHistory, "chat_history")
	num(&c.SnapshotChat, DefaultSnapshotChat, "snapshot_chat")
	num(&c.MaxStrokes, DefaultMaxStrokes, "max_strokes")
	num(&c.MaxBoardPoints, DefaultMaxBoardPoints, "max_board_points")
	num(&c.PollHistory, DefaultPollHistory, "poll_history")
	rate(&c.ChatRate, Rate{Burst: 5, Every: 2 * time.Second}, "chat_rate")
	rate(&c.ActionRate, Rate{Burst: 10, Every: time.Second}, "action_rate")
	rate(&c.ReactionRate, Rate{Burst: 5, Every: 2 * time.Second}, "reaction_rate")
	rate(&c.StrokeRate, Rate{Burst: 20, Every: 200 * time.Millisecond}, "stroke_rate")
	if c.Title != "" {
		if err := checkText("title", c.Title, 200, false); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("liveclass: room config: %w", err)
	}
	return c, nil
}

// bucket is a token bucket on the room's clock; the room's lock guards it.
type bucket struct {
	tokens float64
	at     time.Time
}

func (b *bucket) allow(now time.Time, r Rate) bool {
	if b.at.IsZero() {
		b.tokens = float64(r.Burst)
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens += float64(d) / float64(r.Every)
		if b.tokens > float64(r.Burst) {
			b.tokens = float64(r.Burst)
		}
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
