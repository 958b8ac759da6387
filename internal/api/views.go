package api

import (
	"time"

	"preau/internal/domain"
	"preau/internal/workspace"
)

// JSON shapes. They are separate from domain types so that the wire format
// is a deliberate, documented contract (openapi.yaml) and never leaks
// internal fields.

type userJSON struct {
	ID       int64  `json:"id"`
	Login    string `json:"login"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Lang     string `json:"lang,omitempty"`
	SchoolID int64  `json:"school_id"`
}

func userView(u domain.User) userJSON {
	return userJSON{ID: int64(u.ID), Login: u.Login, Name: u.DisplayName, Role: string(u.Role), Lang: u.Lang, SchoolID: int64(u.SchoolID)}
}

type fileJSON struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

func filesView(as []domain.Attachment) []fileJSON {
	out := make([]fileJSON, len(as))
	for i, a := range as {
		out[i] = fileJSON{Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256}
	}
	return out
}

type statusJSON struct {
	Done        bool `json:"done"`
	Submissions int  `json:"submissions"`
	Late        bool `json:"late"`
}

type completionJSON struct {
	Students  int `json:"students"`
	Done      int `json:"done"`
	Submitted int `json:"submitted"`
}

type entryJSON struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Subject     string          `json:"subject"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	ClassID     int64           `json:"class_id,omitempty"`
	GroupID     int64           `json:"group_id,omitempty"`
	Audience    string          `json:"audience"`
	Teacher     string          `json:"teacher"`
	LessonDate  time.Time       `json:"lesson_date"`
	DueAt       *time.Time      `json:"due_at,omitempty"`
	PublishAt   time.Time       `json:"publish_at"`
	HandIn      bool            `json:"hand_in"`
	Files       []fileJSON      `json:"files"`
	Status      *statusJSON     `json:"status,omitempty"`
	Completion  *completionJSON `json:"completion,omitempty"`
	StudentID   int64           `json:"student_id,omitempty"` // parents: whose homework
}

func entryView(e domain.Entry) entryJSON {
	j := entryJSON{ID: int64(e.ID), Kind: string(e.Kind), Subject: e.Subject, Title: e.Title, Description: e.Description,
		ClassID: int64(e.Audience.ClassID), GroupID: int64(e.Audience.GroupID), Audience: e.AudienceName, Teacher: e.TeacherName,
		LessonDate: e.LessonDate, PublishAt: e.PublishAt, HandIn: e.HandIn, Files: filesView(e.Attachments)}
	if !e.DueAt.IsZero() {
		d := e.DueAt
		j.DueAt = &d
	}
	return j
}

func itemView(it workspace.Item, role domain.Role) entryJSON {
	j := entryView(it.Entry)
	switch role {
	case domain.RoleStudent, domain.RoleParent:
		j.Status = &statusJSON{Done: it.Status.Done, Submissions: it.Status.Submissions, Late: it.Late}
	case domain.RoleTeacher, domain.RoleAdmin:
		c := it.Completion
		j.Completion = &completionJSON{Students: c.Students, Done: c.Done, Submitted: c.Submitted}
	}
	return j
}

type feedbackJSON struct {
	Text       string    `json:"text"`
	Mark       *float64  `json:"mark,omitempty"`
	OutOf      float64   `json:"out_of"`
	ReturnedAt time.Time `json:"returned_at"`
}

type receiptJSON struct {
	Canonical string `json:"canonical"`
	MAC       string `json:"mac"`
}

type submissionJSON struct {
	ID          int64         `json:"id"`
	HomeworkID  int64         `json:"homework_id"`
	StudentID   int64         `json:"student_id"`
	Student     string        `json:"student"`
	SubmittedAt time.Time     `json:"submitted_at"`
	Late        bool          `json:"late"`
	Text        string        `json:"text,omitempty"`
	Files       []fileJSON    `json:"files"`
	Feedback    *feedbackJSON `json:"feedback,omitempty"`
	Receipt     *receiptJSON  `json:"receipt,omitempty"`
}

func submissionView(s domain.Submission) submissionJSON {
	j := submissionJSON{ID: int64(s.ID), HomeworkID: int64(s.EntryID), StudentID: int64(s.StudentID), Student: s.StudentName,
		SubmittedAt: s.SubmittedAt, Late: s.Late, Text: s.Text, Files: filesView(s.Files)}
	if f := s.Feedback; f != nil {
		j.Feedback = &feedbackJSON{Text: f.Text, Mark: f.Mark, OutOf: f.OutOf, ReturnedAt: f.ReturnedAt}
	}
	return j
}

type threadJSON struct {
	ID           int64      `json:"id"`
	Subject      string     `json:"subject"`
	LastAt       time.Time  `json:"last_at"`
	Unread       int        `json:"unread"`
	Participants []userJSON `json:"participants"`
}

func threadView(t domain.Thread) threadJSON {
	j := threadJSON{ID: int64(t.ID), Subject: t.Subject, LastAt: t.LastAt, Unread: t.Unread, Participants: []userJSON{}}
	for _, u := range t.Participants {
		j.Participants = append(j.Participants, userView(u))
	}
	return j
}

type messageJSON struct {
	ID       int64      `json:"id"`
	SenderID int64      `json:"sender_id"`
	Sender   string     `json:"sender"`
	Body     string     `json:"body"`
	SentAt   time.Time  `json:"sent_at"`
	Files    []fileJSON `json:"files"`
}

func messageView(m domain.Message) messageJSON {
	return messageJSON{ID: int64(m.ID), SenderID: int64(m.SenderID), Sender: m.SenderName, Body: m.Body, SentAt: m.SentAt, Files: filesView(m.Attachments)}
}

type slotJSON struct {
	Weekday int    `json:"weekday"` // 1 = Monday … 7 = Sunday (ISO 8601)
	Start   string `json:"start"`
	End     string `json:"end"`
	Subject string `json:"subject"`
	Teacher string `json:"teacher,omitempty"`
	Room    string `json:"room,omitempty"`
}

func slotView(s domain.Slot) slotJSON {
	wd := int(s.Weekday)
	if wd == 0 {
		wd = 7
	}
	return slotJSON{Weekday: wd, Start: s.Start, End: s.End, Subject: s.Subject, Teacher: s.Teacher, Room: s.Room}
}
