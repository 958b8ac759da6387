package liveclass

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"preau/internal/domain"
)

// AttendanceRecord is one stay in the room: from admission to leaving.
// A participant who comes back after its grace period, or after leaving,
// has several records; a short disconnection within the grace does not
// split a stay. Times are UTC.
type AttendanceRecord struct {
	Participant ParticipantID
	User        domain.UserID
	Name        string
	Role        Role
	JoinedAt    time.Time
	LeftAt      time.Time   // zero while present
	Reason      LeaveReason // empty while present
}

// Duration is the length of the stay, up to now while it is open.
func (a AttendanceRecord) Duration(now time.Time) time.Duration {
	end := a.LeftAt
	if end.IsZero() {
		end = now
	}
	if d := end.Sub(a.JoinedAt); d > 0 {
		return d
	}
	return 0
}

// Attendance returns every stay so far, in order of admission.
func (r *Room) Attendance() []AttendanceRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]AttendanceRecord(nil), r.attendance...)
}

// WriteAttendanceCSV writes records as UTF-8 CSV with a header row:
// name, role, joined_at, left_at (RFC 3339, UTC; empty while present),
// duration_seconds (up to now while present) and reason ("present" while
// present). Cells a spreadsheet would read as a formula (starting with
// = + - @, a tab or a carriage return) are prefixed with a quote, so a
// pupil named "=HYPERLINK(…)" stays a name when a teacher opens the file.
func WriteAttendanceCSV(w io.Writer, records []AttendanceRecord, now time.Time) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"name", "role", "joined_at", "left_at", "duration_seconds", "reason"}); err != nil {
		return fmt.Errorf("liveclass: attendance csv: %w", err)
	}
	for _, a := range records {
		left, reason := "", string(a.Reason)
		if !a.LeftAt.IsZero() {
			left = a.LeftAt.UTC().Format(time.RFC3339)
		}
		if reason == "" {
			reason = "present"
		}
		row := []string{
			a.Name, string(a.Role), a.JoinedAt.UTC().Format(time.RFC3339), left,
			strconv.FormatInt(int64(a.Duration(now)/time.Second), 10), reason,
		}
		for i := range row {
			row[i] = defuseCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("liveclass: attendance csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("liveclass: attendance csv: %w", err)
	}
	return nil
}

// WriteChatCSV writes a chat as CSV, one message a row: its number, the
// time (RFC 3339, UTC), the author's name and room role, and the text.
// Cells are defused against formula injection as in the register.
func WriteChatCSV(w io.Writer, msgs []ChatMessage) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"seq", "at", "name", "role", "text"}); err != nil {
		return fmt.Errorf("liveclass: chat csv: %w", err)
	}
	for _, m := range msgs {
		row := []string{strconv.FormatUint(m.Seq, 10), m.At.UTC().Format(time.RFC3339), m.Name, string(m.Role), m.Text}
		for i := range row {
			row[i] = defuseCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("liveclass: chat csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("liveclass: chat csv: %w", err)
	}
	return nil
}

// defuseCell neutralises CSV formula injection (OWASP's advice).
func defuseCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
