package journal

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound reports a record index, range or tree size outside the
	// journal.
	ErrNotFound = errors.New("journal: not found")

	// ErrClosed reports use of a closed journal.
	ErrClosed = errors.New("journal: closed")

	// ErrTooLarge reports a record longer than MaxRecordSize.
	ErrTooLarge = errors.New("journal: record too large")

	// ErrReadOnly reports an Append or a Checkpoint on a journal opened
	// with OpenReadOnly.
	ErrReadOnly = errors.New("journal: opened read-only")
)

// A CorruptError reports journal files that are damaged or disagree with each
// other or with the latest signed checkpoint. The journal never repairs such
// damage itself; see Repair.
type CorruptError struct {
	File   string // path of the damaged file
	Offset int64  // byte offset of the damage in File, -1 if not tied to one
	Record int64  // index of the first affected record, -1 if none
	Reason string
}

func (e *CorruptError) Error() string {
	msg := "journal: " + e.File + ": corrupt"
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" at offset %d", e.Offset)
	}
	if e.Record >= 0 {
		msg += fmt.Sprintf(" (record %d)", e.Record)
	}
	return msg + ": " + e.Reason
}
