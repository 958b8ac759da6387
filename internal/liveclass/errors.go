package liveclass

import (
	"errors"

	"preau/internal/domain"
)

// Error is an error a client may be told about. Code is stable and machine
// readable (the "code" of a signalling error frame); Key is an i18n key the
// caller translates for the user; Field names the offending input for
// invalid requests; Generic is the closest domain.Code*, for callers that
// map errors to HTTP statuses.
type Error struct {
	Code    string
	Key     string
	Field   string
	Args    []any
	Generic string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return "liveclass: " + e.Code + " (" + e.Field + ": " + e.Key + ")"
	}
	return "liveclass: " + e.Code
}

// Is makes errors.Is(err, ErrInvalid) true for any *Error of the same code,
// whatever its field and key, so a sentinel stands for a whole family.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Field == "" || t.Field == e.Field)
}

// Sentinel errors. Each method documents which of them it returns.
var (
	// Joining.
	ErrNotEnrolled = &Error{Code: "not_enrolled", Key: "live.err.not_enrolled", Generic: domain.CodeForbidden}
	ErrRoomLocked  = &Error{Code: "room_locked", Key: "live.err.room_locked", Generic: domain.CodeForbidden}
	ErrRemoved     = &Error{Code: "removed", Key: "live.err.removed", Generic: domain.CodeForbidden}
	ErrRoomFull    = &Error{Code: "room_full", Key: "live.err.room_full", Generic: domain.CodeUnavailable}
	ErrRoomEnded   = &Error{Code: "room_ended", Key: "live.err.room_ended", Generic: domain.CodeNotFound}

	// Acting in a room.
	ErrNotPermitted      = &Error{Code: "not_permitted", Key: "live.err.not_permitted", Generic: domain.CodeForbidden}
	ErrNotInRoom         = &Error{Code: "not_in_room", Key: "live.err.not_in_room", Generic: domain.CodeForbidden}
	ErrNoSuchParticipant = &Error{Code: "no_such_participant", Key: "live.err.no_such_participant", Generic: domain.CodeNotFound}
	ErrNotWaiting        = &Error{Code: "not_waiting", Key: "live.err.not_waiting", Generic: domain.CodeConflict}
	ErrRateLimited       = &Error{Code: "rate_limited", Key: "live.err.rate_limited", Generic: domain.CodeRateLimited}
	ErrInvalid           = &Error{Code: "invalid", Key: "live.err.invalid", Generic: domain.CodeInvalid}
	ErrPollOpen          = &Error{Code: "poll_open", Key: "live.err.poll_open", Generic: domain.CodeConflict}
	ErrNoSuchPoll        = &Error{Code: "no_such_poll", Key: "live.err.no_such_poll", Generic: domain.CodeNotFound}
	ErrPollClosed        = &Error{Code: "poll_closed", Key: "live.err.poll_closed", Generic: domain.CodeConflict}
	ErrBoardFull         = &Error{Code: "board_full", Key: "live.err.board_full", Generic: domain.CodeTooLarge}
	ErrNothingToUndo     = &Error{Code: "nothing_to_undo", Key: "live.err.nothing_to_undo", Generic: domain.CodeConflict}
	ErrNoDeck            = &Error{Code: "no_deck", Key: "live.err.no_deck", Generic: domain.CodeConflict}
	ErrNotKept           = &Error{Code: "not_kept", Key: "live.err.not_kept", Generic: domain.CodeUnavailable}

	// Resuming and listening.
	ErrSnapshotNeeded = &Error{Code: "snapshot_needed", Key: "live.err.snapshot_needed", Generic: domain.CodeConflict}
	ErrReplaced       = &Error{Code: "replaced", Key: "live.err.replaced", Generic: domain.CodeConflict}
	ErrLeft           = &Error{Code: "left", Key: "live.err.left", Generic: domain.CodeConflict}
	ErrDisconnected   = &Error{Code: "disconnected", Key: "live.err.disconnected", Generic: domain.CodeConflict}

	// Registry.
	ErrRoomNotFound = &Error{Code: "room_not_found", Key: "live.err.room_not_found", Generic: domain.CodeNotFound}
	ErrRoomExists   = &Error{Code: "room_exists", Key: "live.err.room_exists", Generic: domain.CodeConflict}
	ErrTooManyRooms = &Error{Code: "too_many_rooms", Key: "live.err.too_many_rooms", Generic: domain.CodeUnavailable}
)

// ErrInternal is what ErrorOf answers for an error that carries no *Error:
// the transport shows it as "internal error" and logs the detail.
var ErrInternal = &Error{Code: "internal", Key: "live.err.internal", Generic: domain.CodeInternal}

// invalid builds an ErrInvalid for one field, with a specific i18n key so
// the user reads what is wrong ("message too long") rather than "invalid".
func invalid(field, key string, args ...any) *Error {
	return &Error{Code: ErrInvalid.Code, Key: key, Field: field, Args: args, Generic: domain.CodeInvalid}
}

// Invalid is invalid for packages above (the signalling parser), so that
// one error type travels to the client.
func Invalid(field, key string, args ...any) *Error { return invalid(field, key, args...) }

// ErrorOf returns the *Error in err's chain, or ErrInternal when there is
// none (a bug: the detail belongs in the log, not in front of a user).
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternal
}
