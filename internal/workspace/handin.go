package workspace

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"preau/internal/domain"
)

// MaxSubmissionText bounds the text part of a hand-in.
const MaxSubmissionText = 100_000

// CheckSubmit reports whether v may hand something in for entry id, so that
// a refused upload is refused before its files are read.
func (s *Service) CheckSubmit(ctx context.Context, v domain.Membership, id domain.EntryID) (domain.Entry, error) {
	if v.User.Role != domain.RoleStudent {
		return domain.Entry{}, fmt.Errorf("workspace: submit by %s: %w", v.User.Role, domain.ErrNotFound)
	}
	e, err := s.Entry(ctx, v, id)
	if err != nil {
		return e, err
	}
	if e.Kind != domain.KindHomework || !e.HandIn {
		return domain.Entry{}, fmt.Errorf("workspace: entry %d takes no hand-in: %w", id, domain.ErrNotFound)
	}
	return e, nil
}

// Submit stores a student's hand-in. The files are kept (fsynced and
// renamed into the blob store) only once the hand-in is valid, and the row
// commits after them, so an acknowledged submission never points at a
// missing file and a refused one leaves none behind.
func (s *Service) Submit(ctx context.Context, v domain.Membership, id domain.EntryID, text string, files domain.Files) (domain.Submission, error) {
	e, err := s.CheckSubmit(ctx, v, id)
	if err != nil {
		return domain.Submission{}, err
	}
	atts := files.Attachments()
	text = strings.TrimSpace(text)
	verr := &domain.ValidationError{}
	if text == "" && len(atts) == 0 {
		verr.Add("files", "err.submission_empty")
	}
	if len(text) > MaxSubmissionText {
		verr.Add("text", "err.too_long")
	}
	if err := verr.Err(); err != nil {
		return domain.Submission{}, err
	}
	if err := files.Keep(); err != nil {
		return domain.Submission{}, fmt.Errorf("workspace: keep files of a submission: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sub := domain.Submission{EntryID: id, StudentID: v.User.ID, StudentName: v.User.DisplayName, SubmittedAt: now,
		Text: text, Files: atts, Late: now.After(e.DueAt)}
	sub, err = s.store.CreateSubmission(ctx, sub)
	if err != nil {
		return sub, fmt.Errorf("workspace: submit for entry %d: %w", id, err)
	}
	return sub, nil
}

// Submission loads one submission if v may see it: its student, that
// student's parents, the entry's teacher and staff of the school.
func (s *Service) Submission(ctx context.Context, v domain.Membership, id domain.SubmissionID) (domain.Submission, domain.Entry, error) {
	sub, err := s.store.Submission(ctx, id)
	if err != nil {
		return sub, domain.Entry{}, fmt.Errorf("workspace: submission %d: %w", id, err)
	}
	e, err := s.store.Entry(ctx, sub.EntryID)
	if err != nil {
		return sub, e, fmt.Errorf("workspace: entry of submission %d: %w", id, err)
	}
	if !s.canSeeSubmission(v, sub, e) {
		return domain.Submission{}, domain.Entry{}, fmt.Errorf("workspace: submission %d hidden from %d: %w", id, v.User.ID, domain.ErrNotFound)
	}
	return sub, e, nil
}

func (s *Service) canSeeSubmission(v domain.Membership, sub domain.Submission, e domain.Entry) bool {
	if e.SchoolID != v.User.SchoolID {
		return false
	}
	switch v.User.Role {
	case domain.RoleStudent:
		return sub.StudentID == v.User.ID
	case domain.RoleParent:
		for _, c := range v.Children {
			if c.ID == sub.StudentID {
				return true
			}
		}
	case domain.RoleTeacher:
		return e.TeacherID == v.User.ID || v.Sees(e.Audience)
	case domain.RoleAdmin:
		return true
	}
	return false
}

// Submissions lists an entry's submissions as v may see them: all for its
// teacher and staff, one's own for a student, their children's for a parent.
func (s *Service) Submissions(ctx context.Context, v domain.Membership, id domain.EntryID) ([]domain.Submission, error) {
	e, err := s.Entry(ctx, v, id)
	if err != nil {
		return nil, err
	}
	var student domain.UserID
	switch v.User.Role {
	case domain.RoleStudent:
		student = v.User.ID
	case domain.RoleParent:
		var out []domain.Submission
		for _, c := range v.Children {
			subs, err := s.store.Submissions(ctx, e.ID, c.ID)
			if err != nil {
				return nil, fmt.Errorf("workspace: submissions of child %d: %w", c.ID, err)
			}
			out = append(out, subs...)
		}
		return out, nil
	}
	subs, err := s.store.Submissions(ctx, e.ID, student)
	if err != nil {
		return nil, fmt.Errorf("workspace: submissions of entry %d: %w", id, err)
	}
	return subs, nil
}

// CanReview reports whether v may see all of e's submissions: its teacher,
// the other teachers of its class or group (co-teaching, class councils)
// and school staff.
func CanReview(v domain.Membership, e domain.Entry) bool {
	return e.SchoolID == v.User.SchoolID && (v.User.Role == domain.RoleAdmin || (v.User.Role == domain.RoleTeacher && (e.TeacherID == v.User.ID || v.Sees(e.Audience))))
}

// CanMark reports whether v may return feedback and marks on e's
// submissions: only the teacher who set the homework, and school staff.
// A colleague of the same class may read them but not change a mark.
func CanMark(v domain.Membership, e domain.Entry) bool {
	return e.SchoolID == v.User.SchoolID && (v.User.Role == domain.RoleAdmin || (v.User.Role == domain.RoleTeacher && e.TeacherID == v.User.ID))
}

// ReturnFeedback stores a teacher's feedback and optional mark.
func (s *Service) ReturnFeedback(ctx context.Context, v domain.Membership, id domain.SubmissionID, f domain.Feedback) (domain.Submission, error) {
	sub, e, err := s.Submission(ctx, v, id)
	if err != nil {
		return sub, err
	}
	if !CanMark(v, e) {
		return sub, fmt.Errorf("workspace: feedback by %d: %w", v.User.ID, domain.ErrNotFound)
	}
	f.SubmissionID, f.TeacherID, f.ReturnedAt = id, v.User.ID, s.now().UTC()
	if f.OutOf == 0 {
		f.OutOf = 20
	}
	if err := f.Validate(); err != nil {
		return sub, err
	}
	if err := s.store.SetFeedback(ctx, f); err != nil {
		return sub, fmt.Errorf("workspace: feedback on %d: %w", id, err)
	}
	sub.Feedback = &f
	return sub, nil
}

// Receipt is what a student keeps as proof of a hand-in. MAC is an
// HMAC-SHA256 by the server's key over the other fields, so the school can
// later confirm that a receipt shown to it was issued by this server.
type Receipt struct {
	SubmissionID domain.SubmissionID
	EntryID      domain.EntryID
	Student      string // login
	StudentName  string
	Homework     string
	SubmittedAt  time.Time
	Late         bool
	Files        []domain.Attachment
	TextSHA256   string // of the submitted text, "" if none
	MAC          string
}

// NewReceipt builds the receipt of a submission, signed with key.
func NewReceipt(sub domain.Submission, e domain.Entry, studentLogin string, key []byte) Receipt {
	r := Receipt{SubmissionID: sub.ID, EntryID: e.ID, Student: studentLogin, StudentName: sub.StudentName,
		Homework: e.Subject + " — " + e.Title, SubmittedAt: sub.SubmittedAt.UTC(), Late: sub.Late, Files: sub.Files}
	if sub.Text != "" {
		sum := sha256.Sum256([]byte(sub.Text))
		r.TextSHA256 = hex.EncodeToString(sum[:])
	}
	r.MAC = r.mac(key)
	return r
}

// Canonical is the text the MAC covers, one field per line.
func (r Receipt) Canonical() string {
	var b strings.Builder
	fmt.Fprintf(&b, "preau-receipt-v1\nsubmission: %d\nentry: %d\nstudent: %s\nsubmitted_at: %s\nlate: %t\n",
		r.SubmissionID, r.EntryID, r.Student, r.SubmittedAt.Format(time.RFC3339Nano), r.Late)
	if r.TextSHA256 != "" {
		fmt.Fprintf(&b, "text_sha256: %s\n", r.TextSHA256)
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "file: %s %d %s\n", f.SHA256, f.Size, f.Name)
	}
	return b.String()
}

func (r Receipt) mac(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.Canonical()))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether the receipt's MAC matches its fields under key.
func (r Receipt) Verify(key []byte) bool {
	return hmac.Equal([]byte(r.MAC), []byte(r.mac(key)))
}
