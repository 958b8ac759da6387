package domain

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. Handlers map them to HTTP statuses; the
// codes are also the "code" field of API error bodies, so they are stable.
const (
	CodeInvalid      = "invalid"      // the input is malformed or fails a rule
	CodeNotFound     = "not_found"    // the resource does not exist or the caller may not see it
	CodeConflict     = "conflict"     // the resource already exists or changed meanwhile
	CodeForbidden    = "forbidden"    // the caller is known but the action is not allowed
	CodeUnauthorized = "unauthorized" // no valid credentials
	CodeTooLarge     = "too_large"    // a body or file exceeds a configured limit
	CodeRateLimited  = "rate_limited" // too many attempts; retry later
	CodeUnavailable  = "unavailable"  // closed for now (a profile's hours, overload); retry later
	CodeTimeout      = "timeout"      // the request body arrived too slowly
	CodeInternal     = "internal"     // anything else: logged, never shown in detail
)

// Sentinel errors that store implementations return (wrapped) so callers can
// test with errors.Is regardless of the database behind the store.
var (
	ErrNotFound      = &Error{Code: CodeNotFound, Key: "err.not_found"}
	ErrConflict      = &Error{Code: CodeConflict, Key: "err.conflict"}
	ErrForbidden     = &Error{Code: CodeForbidden, Key: "err.forbidden"}
	ErrUnauthorized  = &Error{Code: CodeUnauthorized, Key: "err.unauthorized"}
	ErrTooLarge      = &Error{Code: CodeTooLarge, Key: "err.too_large"}
	ErrRateLimited   = &Error{Code: CodeRateLimited, Key: "err.rate_limited"}
	ErrTimeout       = &Error{Code: CodeTimeout, Key: "err.timeout"}
	ErrBadCredential = &Error{Code: CodeUnauthorized, Key: "err.bad_credentials"}
)

// Error is an error whose message is safe to show to a user. Key is a
// translation key (see package i18n) rather than a sentence, so the same
// error can be shown in French or English; Args fill its placeholders.
type Error struct {
	Code string
	Key  string
	Args []any
}

func (e *Error) Error() string {
	if len(e.Args) == 0 {
		return e.Code + ": " + e.Key
	}
	return fmt.Sprintf("%s: %s %v", e.Code, e.Key, e.Args)
}

// Is makes errors.Is(err, ErrNotFound) true for any *Error of the same code
// and key, so a store may return a fresh value with the same meaning.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Key == e.Key || t.Key == "")
}

// Invalid builds a validation error for one field.
func Invalid(field, key string, args ...any) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Key: key, Args: args}}}
}

// FieldError is one problem with one input field.
type FieldError struct {
	Field string
	Key   string
	Args  []any
}

// ValidationError gathers every problem found in one input, so a form can
// show them all at once instead of one per round trip.
type ValidationError struct {
	Fields []FieldError
}

func (v *ValidationError) Error() string {
	msg := "invalid input:"
	for _, f := range v.Fields {
		msg += " " + f.Field + "=" + f.Key
	}
	return msg
}

// Add records a problem with a field.
func (v *ValidationError) Add(field, key string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Key: key, Args: args})
}

// Err returns v as an error, or nil when no problem was recorded.
func (v *ValidationError) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

// ErrorCode returns the code of the first domain error in err's chain, or
// CodeInternal when err carries none.
func ErrorCode(err error) string {
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return CodeInvalid
	}
	return CodeInternal
}
