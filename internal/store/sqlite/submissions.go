package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"preau/internal/domain"
)

const submissionCols = `s.id, s.entry_id, s.student_id, u.display_name, s.submitted_at, s.text, s.late,
	f.teacher_id, f.text, f.mark, f.out_of, f.returned_at`

const submissionFrom = ` FROM submissions s JOIN users u ON u.id = s.student_id LEFT JOIN feedback f ON f.submission_id = s.id`

func scanSubmission(sc scanner) (domain.Submission, error) {
	var s domain.Submission
	var at int64
	var fTeacher sql.NullInt64
	var fText sql.NullString
	var fMark, fOutOf sql.NullFloat64
	var fAt sql.NullInt64
	if err := sc.Scan(&s.ID, &s.EntryID, &s.StudentID, &s.StudentName, &at, &s.Text, &s.Late,
		&fTeacher, &fText, &fMark, &fOutOf, &fAt); err != nil {
		return s, err
	}
	s.SubmittedAt = fromMS(at)
	if fTeacher.Valid {
		fb := &domain.Feedback{SubmissionID: s.ID, TeacherID: domain.UserID(fTeacher.Int64), Text: fText.String,
			OutOf: fOutOf.Float64, ReturnedAt: fromMS(fAt.Int64)}
		if fMark.Valid {
			m := fMark.Float64
			fb.Mark = &m
		}
		s.Feedback = fb
	}
	return s, nil
}

// CreateSubmission stores a hand-in and its files' references in one
// transaction; with synchronous=FULL the commit is on disk when it returns.
func (db *DB) CreateSubmission(ctx context.Context, s domain.Submission) (domain.Submission, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO submissions (entry_id, student_id, submitted_at, text, late) VALUES (?, ?, ?, ?, ?)",
			s.EntryID, s.StudentID, ms(s.SubmittedAt), s.Text, s.Late)
		if err != nil {
			return mapErr(err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		s.ID = domain.SubmissionID(id)
		return insertAttachments(ctx, tx, "submission", id, s.Files)
	})
	if err != nil {
		return s, fmt.Errorf("sqlite: create submission for entry %d: %w", s.EntryID, err)
	}
	return s, nil
}

// Submission loads one submission with its files and feedback.
func (db *DB) Submission(ctx context.Context, id domain.SubmissionID) (domain.Submission, error) {
	s, err := scanSubmission(db.queryRow(ctx, "SELECT "+submissionCols+submissionFrom+" WHERE s.id = ?", id))
	if err != nil {
		return s, fmt.Errorf("sqlite: submission %d: %w", id, mapErr(err))
	}
	atts, err := db.attachments(ctx, "submission", []int64{int64(id)})
	if err != nil {
		return s, fmt.Errorf("sqlite: files of submission %d: %w", id, err)
	}
	s.Files = atts[int64(id)]
	return s, nil
}

// Submissions lists an entry's submissions, oldest first.
func (db *DB) Submissions(ctx context.Context, entry domain.EntryID, student domain.UserID) ([]domain.Submission, error) {
	rows, err := db.query(ctx, "SELECT "+submissionCols+submissionFrom+
		" WHERE s.entry_id = ? AND (? = 0 OR s.student_id = ?) ORDER BY s.id", entry, student, student)
	if err != nil {
		return nil, fmt.Errorf("sqlite: submissions of entry %d: %w", entry, err)
	}
	defer rows.Close()
	var out []domain.Submission
	var ids []int64
	for rows.Next() {
		s, err := scanSubmission(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan submission: %w", err)
		}
		out = append(out, s)
		ids = append(ids, int64(s.ID))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: submissions of entry %d: %w", entry, err)
	}
	atts, err := db.attachments(ctx, "submission", ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: submission files: %w", err)
	}
	for i := range out {
		out[i].Files = atts[int64(out[i].ID)]
	}
	return out, nil
}

// SetFeedback stores or replaces the feedback on a submission.
func (db *DB) SetFeedback(ctx context.Context, f domain.Feedback) error {
	var mark any
	if f.Mark != nil {
		mark = *f.Mark
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO feedback (submission_id, teacher_id, text, mark, out_of, returned_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (submission_id) DO UPDATE SET teacher_id = excluded.teacher_id,
		text = excluded.text, mark = excluded.mark, out_of = excluded.out_of, returned_at = excluded.returned_at`,
		f.SubmissionID, f.TeacherID, f.Text, mark, f.OutOf, ms(f.ReturnedAt))
	if err != nil {
		return fmt.Errorf("sqlite: feedback on submission %d: %w", f.SubmissionID, mapErr(err))
	}
	return nil
}
