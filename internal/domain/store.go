package domain

import (
	"context"
	"time"
)

// Store is everything Préau persists. The SQLite implementation
// (internal/store/sqlite) is the default; every implementation must pass the
// conformance suite in internal/store/storetest.
//
// Methods return errors wrapping ErrNotFound when a single row is missing and
// ErrConflict on a uniqueness violation; other errors are internal.
// All methods are safe for concurrent use.
type Store interface {
	SchoolStore
	UserStore
	SessionStore
	EntryStore
	SubmissionStore
	MessageStore
	TimetableStore
	LiveStore
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// SchoolStore persists schools and their structure.
type SchoolStore interface {
	CreateSchool(ctx context.Context, s School) (School, error)
	School(ctx context.Context, id SchoolID) (School, error)
	Schools(ctx context.Context) ([]School, error)
	CreateClass(ctx context.Context, c Class) (Class, error)
	Class(ctx context.Context, id ClassID) (Class, error)
	Classes(ctx context.Context, school SchoolID) ([]Class, error)
	CreateGroup(ctx context.Context, g Group) (Group, error)
	Group(ctx context.Context, id GroupID) (Group, error)
	Groups(ctx context.Context, school SchoolID) ([]Group, error)
	// Enroll puts a student in a class, replacing any previous class.
	Enroll(ctx context.Context, student UserID, class ClassID) error
	AddToGroup(ctx context.Context, student UserID, group GroupID) error
	LinkParent(ctx context.Context, parent, child UserID) error
	// ParentsOf lists the parents of any of the given students, once each.
	ParentsOf(ctx context.Context, children []UserID) ([]UserID, error)
	AddTeaching(ctx context.Context, t Teaching) error
	Teachings(ctx context.Context, school SchoolID) ([]Teaching, error)
	// Membership loads what decides a user's visibility: ErrNotFound if the
	// user does not exist.
	Membership(ctx context.Context, user UserID) (Membership, error)
	// AudienceStudents lists the students of a class or group, by name.
	AudienceStudents(ctx context.Context, a Audience) ([]User, error)
	// ImportRoster applies a validated roster in one transaction: either
	// every row is applied or none is.
	ImportRoster(ctx context.Context, school SchoolID, r Roster) (ImportResult, error)
	MessagingPolicy(ctx context.Context, school SchoolID) (MessagingPolicy, error)
	SetMessagingPolicy(ctx context.Context, school SchoolID, p MessagingPolicy) error
}

// UserStore persists accounts.
type UserStore interface {
	CreateUser(ctx context.Context, u NewUser) (User, error)
	User(ctx context.Context, id UserID) (User, error)
	// UserByLogin returns the user and their password hash; login is
	// normalised by the caller.
	UserByLogin(ctx context.Context, login string) (User, string, error)
	// Users lists a school's users of one role ("" for all), by name.
	Users(ctx context.Context, school SchoolID, role Role) ([]User, error)
	SetPassword(ctx context.Context, id UserID, hash string) error
	SetLang(ctx context.Context, id UserID, lang string) error
}

// Session is a server-side login session. The cookie or bearer token holds
// a random secret; the store keeps only its SHA-256 (IDHash), so a leaked
// database does not leak live sessions.
type Session struct {
	IDHash    [32]byte
	UserID    UserID
	CreatedAt time.Time
	ExpiresAt time.Time
	UserAgent string
}

// SessionTouch extends one session's expiry (sliding expiry, written in
// batches so that checking a session never writes).
type SessionTouch struct {
	IDHash    [32]byte
	ExpiresAt time.Time
}

// SessionStore persists sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, idHash [32]byte) (Session, error)
	TouchSessions(ctx context.Context, touches []SessionTouch) error
	DeleteSession(ctx context.Context, idHash [32]byte) error
	// DeleteUserSessions ends every session of a user and returns their hashes
	// so caches can drop them.
	DeleteUserSessions(ctx context.Context, user UserID) ([][32]byte, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// EntryStore persists the homework diary.
type EntryStore interface {
	CreateEntry(ctx context.Context, e NewEntry) (Entry, error)
	Entry(ctx context.Context, id EntryID) (Entry, error)
	// Entries lists entries for the filter, ordered by DueAt (homework) or
	// LessonDate (lessons), then id.
	Entries(ctx context.Context, f EntryFilter) ([]Entry, error)
	SetDone(ctx context.Context, entry EntryID, student UserID, done bool) error
	EntryStatuses(ctx context.Context, student UserID, entries []EntryID) (map[EntryID]EntryStatus, error)
	// StudentStatuses returns the statuses of every entry a student ticked
	// or handed something in for; entries absent from the map have none.
	StudentStatuses(ctx context.Context, student UserID) (map[EntryID]EntryStatus, error)
	Completions(ctx context.Context, entries []EntryID) (map[EntryID]Completion, error)
}

// SubmissionStore persists hand-ins. Submissions are write-once.
type SubmissionStore interface {
	// CreateSubmission stores s (files must already be in the blob store) and
	// returns it with its id. It is durable when it returns.
	CreateSubmission(ctx context.Context, s Submission) (Submission, error)
	Submission(ctx context.Context, id SubmissionID) (Submission, error)
	// Submissions lists an entry's submissions, oldest first; student 0 means all.
	Submissions(ctx context.Context, entry EntryID, student UserID) ([]Submission, error)
	SetFeedback(ctx context.Context, f Feedback) error
}

// MessageStore persists threads and messages.
type MessageStore interface {
	CreateThread(ctx context.Context, t Thread, participants []UserID, first Message) (Thread, Message, error)
	Thread(ctx context.Context, id ThreadID, viewer UserID) (Thread, error)
	// Threads lists the threads a user takes part in, most recent first,
	// with unread counts.
	Threads(ctx context.Context, user UserID, limit int) ([]Thread, error)
	Messages(ctx context.Context, thread ThreadID) ([]Message, error)
	AddMessage(ctx context.Context, m Message) (Message, error)
	IsParticipant(ctx context.Context, thread ThreadID, user UserID) (bool, error)
	MarkRead(ctx context.Context, thread ThreadID, user UserID) error
	UnreadCount(ctx context.Context, user UserID) (int, error)
}

// TimetableStore persists weekly timetables.
type TimetableStore interface {
	// ReplaceTimetable sets a class's whole week at once.
	ReplaceTimetable(ctx context.Context, class ClassID, slots []Slot) error
	// Timetable returns the slots of the given classes (and groups, for slots
	// reserved to a group), ordered by weekday and start.
	Timetable(ctx context.Context, classes []ClassID) ([]Slot, error)
	TeacherTimetable(ctx context.Context, teacher UserID) ([]Slot, error)
}

// Roster is a validated import: the classes, groups, users and links to
// create or update in one school. Names refer to classes and groups by their
// name and to users by login.
type Roster struct {
	Users     []RosterUser
	Timetable []RosterSlot
}

// RosterUser is one account of an import.
type RosterUser struct {
	Line         int // line in the source file, for error reports
	Login        string
	DisplayName  string
	Role         Role
	Email        string
	PasswordHash string // used only when the account is created
	Class        string // student: the class name
	Groups       []string
	Children     []string // parent: the children's logins
	Teaches      []RosterTeaching
}

// RosterTeaching is "teaches Subject to Class (or Group)".
type RosterTeaching struct {
	Class, Group, Subject string
}

// RosterSlot is one timetable line of an import.
type RosterSlot struct {
	Line         int
	Class        string
	Weekday      time.Weekday
	Start, End   string
	Subject      string
	TeacherLogin string
	Room         string
	Group        string
}

// ImportResult counts what an import did. Created lists the logins of new
// accounts, for the report handed back to the admin.
type ImportResult struct {
	ClassesCreated int
	GroupsCreated  int
	UsersCreated   int
	UsersUpdated   int
	SlotsReplaced  int
	Created        []string
}
