package workspace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"preau/internal/domain"
)

// Limits of a message.
const (
	MaxSubjectLen = 200
	MaxBodyLen    = 20_000
	MaxRecipients = 50
)

// Recipients lists the users v may start a thread with under the school's
// policy, by name.
func (s *Service) Recipients(ctx context.Context, v domain.Membership) ([]domain.User, error) {
	policy, err := s.store.MessagingPolicy(ctx, v.User.SchoolID)
	if err != nil {
		return nil, fmt.Errorf("workspace: messaging policy: %w", err)
	}
	users, err := s.store.Users(ctx, v.User.SchoolID, "")
	if err != nil {
		return nil, fmt.Errorf("workspace: users: %w", err)
	}
	related, err := s.relatedFunc(ctx, v)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(users, func(u domain.User) bool { return !policy.CanWrite(v.User, u, related) }), nil
}

// relatedFunc builds the "linked" relation for v: the teachers of a
// student's (or a parent's children's) classes and groups, a teacher's
// students and their parents, a parent's children.
func (s *Service) relatedFunc(ctx context.Context, v domain.Membership) (domain.Related, error) {
	teachings, err := s.store.Teachings(ctx, v.User.SchoolID)
	if err != nil {
		return nil, fmt.Errorf("workspace: teachings: %w", err)
	}
	linked := map[domain.UserID]bool{}
	teachersOf := func(m domain.Membership) {
		for _, t := range teachings {
			if m.Sees(t.Audience) {
				linked[t.TeacherID] = true
			}
		}
	}
	switch v.User.Role {
	case domain.RoleStudent:
		teachersOf(v)
	case domain.RoleParent:
		for _, c := range v.Children {
			linked[c.ID] = true
			cm, err := s.store.Membership(ctx, c.ID)
			if err != nil {
				return nil, fmt.Errorf("workspace: child %d: %w", c.ID, err)
			}
			teachersOf(cm)
		}
	case domain.RoleTeacher:
		var audiences []domain.Audience
		for _, c := range v.Classes {
			audiences = append(audiences, domain.Audience{ClassID: c})
		}
		for _, g := range v.Groups {
			audiences = append(audiences, domain.Audience{GroupID: g})
		}
		var pupils []domain.UserID
		for _, a := range audiences {
			students, err := s.store.AudienceStudents(ctx, a)
			if err != nil {
				return nil, fmt.Errorf("workspace: students of %+v: %w", a, err)
			}
			for _, st := range students {
				if !linked[st.ID] {
					linked[st.ID] = true
					pupils = append(pupils, st.ID)
				}
			}
		}
		parents, err := s.store.ParentsOf(ctx, pupils)
		if err != nil {
			return nil, fmt.Errorf("workspace: parents of a teacher's pupils: %w", err)
		}
		for _, p := range parents {
			linked[p] = true
		}
	}
	return func(_, to domain.User) bool { return linked[to.ID] }, nil
}

// NewThread is what starting a conversation takes.
type NewThread struct {
	To      []domain.UserID
	Subject string
	Body    string
	Files   domain.Files // nil for none
}

// StartThread opens a thread from v to recipients allowed by the policy.
func (s *Service) StartThread(ctx context.Context, v domain.Membership, n NewThread) (domain.Thread, error) {
	n.Subject, n.Body = strings.TrimSpace(n.Subject), strings.TrimSpace(n.Body)
	verr := &domain.ValidationError{}
	if len(n.To) == 0 {
		verr.Add("to", "err.recipients_required")
	}
	if len(n.To) > MaxRecipients {
		verr.Add("to", "err.too_many_recipients", MaxRecipients)
	}
	if l := len([]rune(n.Subject)); l == 0 || l > MaxSubjectLen {
		verr.Add("subject", "err.required_title")
	}
	if n.Body == "" || len(n.Body) > MaxBodyLen {
		verr.Add("body", "err.body_required")
	}
	if err := verr.Err(); err != nil {
		return domain.Thread{}, err
	}
	allowed, err := s.Recipients(ctx, v)
	if err != nil {
		return domain.Thread{}, err
	}
	ok := map[domain.UserID]bool{}
	for _, u := range allowed {
		ok[u.ID] = true
	}
	participants := []domain.UserID{v.User.ID}
	for _, id := range n.To {
		if !ok[id] {
			return domain.Thread{}, domain.Invalid("to", "err.recipient_not_allowed")
		}
		if !slices.Contains(participants, id) {
			participants = append(participants, id)
		}
	}
	files := n.Files
	if files == nil {
		files = domain.NoFiles
	}
	if err := files.Keep(); err != nil {
		return domain.Thread{}, fmt.Errorf("workspace: keep attachments: %w", err)
	}
	t, _, err := s.store.CreateThread(ctx, domain.Thread{SchoolID: v.User.SchoolID, Subject: n.Subject, CreatedBy: v.User.ID},
		participants, domain.Message{SenderID: v.User.ID, Body: n.Body, Attachments: files.Attachments()})
	if err != nil {
		return t, fmt.Errorf("workspace: start thread: %w", err)
	}
	return t, nil
}

// Threads lists v's threads.
func (s *Service) Threads(ctx context.Context, v domain.Membership) ([]domain.Thread, error) {
	ts, err := s.store.Threads(ctx, v.User.ID, 200)
	if err != nil {
		return nil, fmt.Errorf("workspace: threads: %w", err)
	}
	return ts, nil
}

// Thread loads a thread and its messages for a participant, marking it read.
func (s *Service) Thread(ctx context.Context, v domain.Membership, id domain.ThreadID) (domain.Thread, []domain.Message, error) {
	t, err := s.store.Thread(ctx, id, v.User.ID)
	if err != nil {
		return t, nil, fmt.Errorf("workspace: thread %d: %w", id, err)
	}
	msgs, err := s.store.Messages(ctx, id)
	if err != nil {
		return t, nil, fmt.Errorf("workspace: messages of %d: %w", id, err)
	}
	if t.Unread > 0 {
		if err := s.store.MarkRead(ctx, id, v.User.ID); err != nil {
			return t, nil, fmt.Errorf("workspace: mark %d read: %w", id, err)
		}
	}
	return t, msgs, nil
}

// Reply adds v's message to a thread they take part in. Replies are always
// allowed inside a thread, whatever the policy.
func (s *Service) Reply(ctx context.Context, v domain.Membership, id domain.ThreadID, body string, files domain.Files) (domain.Message, error) {
	ok, err := s.store.IsParticipant(ctx, id, v.User.ID)
	if err != nil {
		return domain.Message{}, fmt.Errorf("workspace: reply to %d: %w", id, err)
	}
	if !ok {
		return domain.Message{}, fmt.Errorf("workspace: reply to %d by %d: %w", id, v.User.ID, domain.ErrNotFound)
	}
	body = strings.TrimSpace(body)
	atts := files.Attachments()
	if (body == "" && len(atts) == 0) || len(body) > MaxBodyLen {
		return domain.Message{}, domain.Invalid("body", "err.body_required")
	}
	if err := files.Keep(); err != nil {
		return domain.Message{}, fmt.Errorf("workspace: keep attachments: %w", err)
	}
	m, err := s.store.AddMessage(ctx, domain.Message{ThreadID: id, SenderID: v.User.ID, SenderName: v.User.DisplayName, Body: body, Attachments: atts})
	if err != nil {
		return m, fmt.Errorf("workspace: reply to %d: %w", id, err)
	}
	return m, nil
}

// Unread counts v's unread messages.
func (s *Service) Unread(ctx context.Context, v domain.Membership) (int, error) {
	n, err := s.store.UnreadCount(ctx, v.User.ID)
	if err != nil {
		return 0, fmt.Errorf("workspace: unread: %w", err)
	}
	return n, nil
}

// MessageHasAttachment finds an attachment in a thread v takes part in, so
// a file is downloadable only through a message its downloader can read.
func (s *Service) MessageHasAttachment(ctx context.Context, v domain.Membership, id domain.ThreadID, sum string) (domain.Attachment, error) {
	// Not s.Thread: downloading a file must not mark the thread read.
	if _, err := s.store.Thread(ctx, id, v.User.ID); err != nil {
		return domain.Attachment{}, fmt.Errorf("workspace: thread %d: %w", id, err)
	}
	msgs, err := s.store.Messages(ctx, id)
	if err != nil {
		return domain.Attachment{}, fmt.Errorf("workspace: messages of %d: %w", id, err)
	}
	for _, m := range msgs {
		for _, a := range m.Attachments {
			if a.SHA256 == sum {
				return a, nil
			}
		}
	}
	return domain.Attachment{}, fmt.Errorf("workspace: attachment %s in thread %d: %w", sum, id, domain.ErrNotFound)
}
