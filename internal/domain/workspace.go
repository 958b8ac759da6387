package domain

import "time"

// More identifier types for the workspace.
type (
	EntryID      int64
	SubmissionID int64
	ThreadID     int64
	MessageID    int64
)

// EntryKind tells a lesson record ("what we did") from homework ("what to do").
type EntryKind string

const (
	KindLesson   EntryKind = "lesson"
	KindHomework EntryKind = "homework"
)

// Attachment is a file stored in the blob store, referenced by its SHA-256.
type Attachment struct {
	Name        string // the name the uploader gave, cleaned
	ContentType string
	Size        int64
	SHA256      string // hex; also the blob's name
}

// Entry is one line of the homework diary (cahier de textes): a lesson record
// or a piece of homework, for one class or group, in one subject.
type Entry struct {
	ID           EntryID
	SchoolID     SchoolID
	TeacherID    UserID
	TeacherName  string // filled on reads for display
	Audience     Audience
	AudienceName string // class or group name, filled on reads
	Kind         EntryKind
	Subject      string
	Title        string
	Description  string
	LessonDate   time.Time // the day of the lesson (lessons), or the day it was set
	DueAt        time.Time // homework only: when it must be handed in
	PublishAt    time.Time // hidden from students and parents before this instant
	CreatedAt    time.Time
	Attachments  []Attachment
	HandIn       bool // homework expects a submission in the hand-in box
}

// Published reports whether students and parents may see e at now.
func (e Entry) Published(now time.Time) bool { return !now.Before(e.PublishAt) }

// NewEntry is what a teacher fills in to publish a diary entry.
type NewEntry struct {
	SchoolID    SchoolID
	TeacherID   UserID
	Audience    Audience
	Kind        EntryKind
	Subject     string
	Title       string
	Description string
	LessonDate  time.Time
	DueAt       time.Time
	PublishAt   time.Time
	HandIn      bool
	Attachments []Attachment
}

// Validate checks a new entry's fields, gathering every problem.
func (n NewEntry) Validate() error {
	v := &ValidationError{}
	if n.Kind != KindLesson && n.Kind != KindHomework {
		v.Add("kind", "err.kind")
	}
	if !n.Audience.Valid() {
		v.Add("audience", "err.audience")
	}
	if l := len([]rune(n.Subject)); l == 0 || l > 80 {
		v.Add("subject", "err.required_short")
	}
	if l := len([]rune(n.Title)); l == 0 || l > 200 {
		v.Add("title", "err.required_title")
	}
	if len(n.Description) > 20000 {
		v.Add("description", "err.too_long")
	}
	if n.Kind == KindHomework && n.DueAt.IsZero() {
		v.Add("due", "err.due_required")
	}
	if n.Kind == KindHomework && !n.DueAt.IsZero() && !n.PublishAt.IsZero() && n.DueAt.Before(n.PublishAt) {
		v.Add("due", "err.due_before_publish")
	}
	return v.Err()
}

// EntryFilter selects diary entries for an audience set and a time window.
// Entries are matched on DueAt for homework and LessonDate for lessons.
type EntryFilter struct {
	Classes     []ClassID
	Groups      []GroupID
	TeacherID   UserID // if set, only this teacher's entries
	Kind        EntryKind
	From, To    time.Time // half-open [From, To); zero means unbounded
	PublishedAt time.Time // if set, only entries published at this instant
	Limit       int
}

// EntryStatus is a student's view of one homework: whether they ticked it
// done and whether they handed something in.
type EntryStatus struct {
	Done        bool
	Submissions int
}

// Completion counts, for a teacher, how a homework is going.
type Completion struct {
	Students  int // students in the audience
	Done      int // ticked done
	Submitted int // handed in at least once
}

// Submission is one immutable hand-in: once stored it is never changed.
// Feedback is stored apart and added later.
type Submission struct {
	ID          SubmissionID
	EntryID     EntryID
	StudentID   UserID
	StudentName string
	SubmittedAt time.Time // server time, UTC
	Text        string
	Files       []Attachment
	Late        bool
	Feedback    *Feedback
}

// Feedback is a teacher's return on a submission.
type Feedback struct {
	SubmissionID SubmissionID
	TeacherID    UserID
	Text         string
	Mark         *float64 // optional
	OutOf        float64  // the scale of Mark, 20 by default
	ReturnedAt   time.Time
}

// Validate checks feedback fields.
func (f Feedback) Validate() error {
	v := &ValidationError{}
	if len(f.Text) > 20000 {
		v.Add("feedback", "err.too_long")
	}
	if f.OutOf <= 0 || f.OutOf > 1000 {
		v.Add("out_of", "err.mark_scale")
	}
	if f.Mark != nil && (*f.Mark < 0 || *f.Mark > f.OutOf) {
		v.Add("mark", "err.mark_range")
	}
	if f.Text == "" && f.Mark == nil {
		v.Add("feedback", "err.feedback_empty")
	}
	return v.Err()
}

// Thread is a conversation between two or more users of one school.
type Thread struct {
	ID           ThreadID
	SchoolID     SchoolID
	Subject      string
	CreatedBy    UserID
	CreatedAt    time.Time
	LastAt       time.Time
	Participants []User
	Unread       int // for the user who asked
}

// Message is one post in a thread.
type Message struct {
	ID          MessageID
	ThreadID    ThreadID
	SenderID    UserID
	SenderName  string
	Body        string
	SentAt      time.Time
	Attachments []Attachment
}

// Slot is one weekly timetable line for a class.
type Slot struct {
	ID        int64
	ClassID   ClassID
	Class     string // class name, filled on reads
	Weekday   time.Weekday
	Start     string // "08:00", school local time
	End       string // "09:00"
	Subject   string
	TeacherID UserID // optional
	Teacher   string // display name, filled on reads
	Room      string
	GroupID   GroupID // optional: only students of that group attend
}

// Files are uploaded files waiting to be kept. An upload is staged while its
// request is checked and kept just before the row that refers to it
// commits, so a refused request leaves no file behind and an accepted one
// never refers to a missing file.
type Files interface {
	Attachments() []Attachment
	// Keep makes the files durable in the blob store.
	Keep() error
}

// NoFiles is an empty Files, for requests without uploads.
var NoFiles Files = noFiles{}

type noFiles struct{}

func (noFiles) Attachments() []Attachment { return nil }
func (noFiles) Keep() error               { return nil }
