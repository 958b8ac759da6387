package domain

import (
	"context"
	"time"
)

// LiveClassID identifies one live virtual class, from its start to its end.
type LiveClassID int64

// LiveClass is a live virtual class a teacher started for a class or a
// group. Its room (who is in, the chat, the board) lives in memory on one
// node (internal/liveclass); what must outlast it — that it took place, who
// attended, the slides shown — is stored.
type LiveClass struct {
	ID           LiveClassID
	SchoolID     SchoolID
	Audience     Audience
	AudienceName string // filled by the store
	TeacherID    UserID
	TeacherName  string // filled by the store
	Title        string
	EntryID      EntryID // the diary entry it was started from, if any
	StartedAt    time.Time
	EndedAt      time.Time // zero while it runs
}

// Running reports whether the class has not ended.
func (c LiveClass) Running() bool { return c.EndedAt.IsZero() }

// AttendanceKind says whether an attendance event is an arrival or a
// departure.
type AttendanceKind string

const (
	AttendanceJoin  AttendanceKind = "join"
	AttendanceLeave AttendanceKind = "leave"
)

// AttendanceEvent is one arrival in or departure from a live class, written
// as it happens so that a crash of the node loses none of the register.
type AttendanceEvent struct {
	LiveClassID LiveClassID
	UserID      UserID
	Name        string
	Role        string // the room role: host, guest or student
	Kind        AttendanceKind
	Reason      string // for a leave: left, disconnected, removed, ended
	At          time.Time
}

// LiveChatMessage is one message of a live class's chat, kept as it is
// said (a message is shown only once kept).
type LiveChatMessage struct {
	LiveClassID LiveClassID
	Seq         uint64 // the room's chat number, from 1
	UserID      UserID
	Name        string
	Role        string // the room role: host, guest or student
	Text        string
	At          time.Time
}

// SlideDeck is a PDF a teacher showed in a live class, turned into page
// images kept in the blob store (cacheable forever: their name is their
// SHA-256).
type SlideDeck struct {
	ID          int64
	LiveClassID LiveClassID
	Name        string   // the uploaded file's name
	Pages       []string // SHA-256 of each page's image, in order
	CreatedAt   time.Time
}

// LiveStore persists live classes, their attendance and their slides.
type LiveStore interface {
	CreateLiveClass(ctx context.Context, c LiveClass) (LiveClass, error)
	// LiveClass returns one live class: ErrNotFound if it does not exist.
	LiveClass(ctx context.Context, id LiveClassID) (LiveClass, error)
	// EndLiveClass marks a class ended at the given time; ending an ended
	// class keeps its first end.
	EndLiveClass(ctx context.Context, id LiveClassID, at time.Time) error
	// LiveClasses lists a school's classes started since the given time,
	// running ones first, then the most recent.
	LiveClasses(ctx context.Context, school SchoolID, since time.Time) ([]LiveClass, error)
	// EndRunningLiveClasses ends every class still running (a node that
	// restarts has lost their rooms) and returns how many it ended.
	EndRunningLiveClasses(ctx context.Context, at time.Time) (int, error)
	AddAttendance(ctx context.Context, e AttendanceEvent) error
	// Attendance lists a class's attendance events in order.
	Attendance(ctx context.Context, id LiveClassID) ([]AttendanceEvent, error)
	// AddLiveChat keeps one chat message; it is durable when it returns.
	// A second message with the same class and Seq is ErrConflict.
	AddLiveChat(ctx context.Context, m LiveChatMessage) error
	// LiveChat lists a class's chat in order.
	LiveChat(ctx context.Context, id LiveClassID) ([]LiveChatMessage, error)
	CreateSlideDeck(ctx context.Context, d SlideDeck) (SlideDeck, error)
	// SlideDeck returns one deck: ErrNotFound if it does not exist.
	SlideDeck(ctx context.Context, id int64) (SlideDeck, error)
}
