package attrib

import (
	"errors"
	"fmt"
)

// LineError is a syntax error in one line of a CSV file or operator list.
type LineError struct {
	File string // path as configured
	Line int    // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// ErrNumericCSV is reported for the "-num.csv" files of ip-location-db,
// whose addresses are written as integers: an integer alone does not say
// whether it is an IPv4 or an IPv6 address.
var ErrNumericCSV = errors.New("numeric address ranges (the -num.csv files) are not supported; use the address form (-ipv4.csv, -ipv6.csv)")

// maxLineErrors bounds the errors kept per file: a file in the wrong format
// would otherwise report every one of its half-million lines.
const maxLineErrors = 10

// lineErrors collects the syntax errors of one file.
type lineErrors struct {
	file    string
	errs    []error
	dropped int
}

func (l *lineErrors) add(line int, err error) {
	if len(l.errs) == maxLineErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, &LineError{File: l.file, Line: line, Err: err})
}

func (l *lineErrors) err() error {
	if l.dropped > 0 {
		return errors.Join(append(l.errs, fmt.Errorf("%s: %d more bad lines not shown", l.file, l.dropped))...)
	}
	return errors.Join(l.errs...)
}
