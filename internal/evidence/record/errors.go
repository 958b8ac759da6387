package record

import "errors"

var (
	// ErrClosed reports use of a closed Recorder.
	ErrClosed = errors.New("record: recorder closed")

	// ErrUnknownStream reports a stream name other than "events", "sources"
	// and "requests".
	ErrUnknownStream = errors.New("record: unknown stream")
)
