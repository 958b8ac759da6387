package csvimport

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"preau/internal/domain"
)

// Problem is one row error: Line is the 1-based line number in the file
// (header is line 1), Key is a translation key, Args fill it, Field names the
// column ("" for whole-row problems).
//
// Field is the column's English name as listed in the package documentation
// ("login", "class"…), whatever language the header was written in. Values
// from the file repeated in Args are cut to 40 characters.
type Problem struct {
	Line  int
	Field string
	Key   string
	Args  []any
}

// Report is the dry-run result of reading a file: Rows counts the non-empty
// data rows read (the header and skipped empty rows excluded), and Problems
// lists every problem found, ordered by line.
type Report struct {
	Rows     int
	Problems []Problem
}

// OK reports whether the file may be imported: it has no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(line int, field, key string, args ...any) {
	r.Problems = append(r.Problems, Problem{Line: line, Field: field, Key: key, Args: args})
}

// Translation keys of problems. Each key's arguments are given beside it.
const (
	keyEmpty           = "import.empty"               // no data row
	keyBadQuotes       = "import.bad_quotes"          // misplaced double quote
	keyUnknownColumn   = "import.unknown_column"      // header name as written
	keyDuplicateColumn = "import.duplicate_column"    // header name as written
	keyMissingColumn   = "import.missing_column"      // English column name
	keyFieldCount      = "import.field_count"         // fields found, fields expected
	keyTooManyRows     = "import.too_many_rows"       // maximum rows
	keyRequired        = "import.required"            // column name as written
	keyTooLong         = "import.too_long"            // column name as written, maximum characters
	keyControlChar     = "import.control_char"        // column name as written
	keyBadRole         = "import.bad_role"            // value
	keyBadLogin        = "import.bad_login"           // value
	keyDuplicateLogin  = "import.duplicate_login"     // login, line of its first occurrence
	keyBadEmail        = "import.bad_email"           // value
	keyClassRequired   = "import.class_required"      // none
	keyChildrenNotPar  = "import.children_not_parent" // none
	keyTeachesNotTeach = "import.teaches_not_teacher" // none
	keyUnknownChild    = "import.unknown_child"       // child's login
	keyBadTeaching     = "import.bad_teaching"        // the list item
	keyUnknownAudience = "import.unknown_audience"    // class or group name
	keyBadDay          = "import.bad_day"             // value
	keyBadTime         = "import.bad_time"            // value
	keyEndBeforeStart  = "import.end_before_start"    // start, end (HH:MM)
)

// Keys lists every translation key a [Problem] may carry, so that the
// translations can be checked for completeness.
var Keys = []string{
	keyEmpty, keyBadQuotes, keyUnknownColumn, keyDuplicateColumn,
	keyMissingColumn, keyFieldCount, keyTooManyRows, keyRequired, keyTooLong,
	keyControlChar, keyBadRole, keyBadLogin, keyDuplicateLogin, keyBadEmail,
	keyClassRequired, keyChildrenNotPar, keyTeachesNotTeach, keyUnknownChild,
	keyBadTeaching, keyUnknownAudience, keyBadDay, keyBadTime, keyEndBeforeStart,
}

// Limits of a file's content.
const (
	maxRows    = 100_000
	maxNameLen = 120 // display names, in runes
	maxWordLen = 80  // class, group, subject and room names, in runes
	maxShown   = 40  // runes of a bad value repeated in a problem's Args
)

// schema describes the columns of one kind of file.
type schema struct {
	aliases  map[string]string // folded header name -> canonical column name
	required []string          // canonical names
}

// table is a file's header, shared by its rows.
type table struct {
	rep        *Report
	headerLine int
	cols       []string          // field index -> canonical column name, "" if ignored
	index      map[string]int    // canonical column name -> field index
	titles     map[string]string // canonical column name -> header as written
}

// row is one data row. Its fields are trimmed.
type row struct {
	*table
	line   int
	fields []string
}

// get returns the value of a column, "" when the file has no such column.
func (r row) get(col string) string {
	if i, ok := r.index[col]; ok {
		return r.fields[i]
	}
	return ""
}

func (r row) problem(col, key string, args ...any) { r.rep.add(r.line, col, key, args...) }

// text returns a column's value, reporting it if it is missing (when
// required) or longer than limit runes (when limit > 0).
func (r row) text(col string, required bool, limit int) string {
	v := r.get(col)
	switch {
	case v == "" && required:
		r.problem(col, keyRequired, r.titles[col])
	case limit > 0 && utf8.RuneCountInString(v) > limit:
		r.problem(col, keyTooLong, r.titles[col], limit)
	}
	return v
}

// list splits a column's value on "|", dropping empty and repeated items and
// reporting items longer than limit runes (when limit > 0).
func (r row) list(col string, limit int) []string {
	var items []string
	for item := range strings.SplitSeq(r.get(col), "|") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	items = compact(items)
	if limit > 0 && slices.ContainsFunc(items, func(s string) bool { return utf8.RuneCountInString(s) > limit }) {
		r.problem(col, keyTooLong, r.titles[col], limit)
	}
	return items
}

// compact removes repeated items, keeping the first of each.
func compact[T comparable](items []T) []T {
	seen := make(map[T]bool, len(items))
	return slices.DeleteFunc(items, func(item T) bool {
		dup := seen[item]
		seen[item] = true
		return dup
	})
}

// scan reads a whole file, checks its header against s and calls each for
// every non-empty data row of the right width.
func scan(r io.Reader, maxBytes int64, s schema, each func(row)) (Report, error) {
	text, err := load(r, maxBytes)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = delimiter(text)
	cr.FieldsPerRecord = -1 // checked here, to report it our way
	header, line, err := next(cr)
	if errors.Is(err, io.EOF) {
		rep.add(1, "", keyEmpty)
		return rep, nil
	}
	if err != nil {
		return problemOrError(rep, line, err)
	}
	t, ok := readHeader(&rep, header, line, s)
	if !ok {
		return rep, nil
	}
	for {
		fields, line, err := next(cr)
		switch {
		case errors.Is(err, io.EOF):
			if rep.Rows == 0 {
				rep.add(t.headerLine, "", keyEmpty)
			}
			return rep, nil
		case rep.Rows == maxRows:
			rep.add(line, "", keyTooManyRows, maxRows)
			return rep, nil
		}
		rep.Rows++
		switch {
		case err != nil:
			if rep, err = problemOrError(rep, line, err); err != nil {
				return Report{}, err
			}
		case len(fields) != len(t.cols):
			rep.add(line, "", keyFieldCount, len(fields), len(t.cols))
		default:
			rw := row{table: t, line: line, fields: fields}
			for i, col := range t.cols {
				if col != "" && strings.ContainsFunc(fields[i], isControl) {
					rw.problem(col, keyControlChar, t.titles[col])
				}
			}
			each(rw)
		}
	}
}

// problemOrError turns a CSV syntax error into a problem and returns any
// other error.
func problemOrError(rep Report, line int, err error) (Report, error) {
	if _, ok := errors.AsType[*csv.ParseError](err); ok {
		rep.add(line, "", keyBadQuotes)
		return rep, nil
	}
	return Report{}, fmt.Errorf("csvimport: reading CSV: %w", err)
}

// readHeader maps the header's names to columns. It reports false when a
// required column is missing, as the rows then cannot be read.
func readHeader(rep *Report, names []string, line int, s schema) (*table, bool) {
	h := &table{
		rep:        rep,
		headerLine: line,
		cols:       make([]string, len(names)),
		index:      map[string]int{},
		titles:     map[string]string{},
	}
	for i, name := range names {
		col, ok := s.aliases[fold(name)]
		switch {
		case name == "":
		case !ok:
			rep.add(line, "", keyUnknownColumn, shorten(name))
		case h.titles[col] != "":
			rep.add(line, col, keyDuplicateColumn, shorten(name))
		default:
			h.cols[i], h.index[col], h.titles[col] = col, i, name
		}
	}
	ok := true
	for _, col := range s.required {
		if _, found := h.index[col]; !found {
			rep.add(line, col, keyMissingColumn, col)
			ok = false
		}
	}
	return h, ok
}

// next returns the next record that has a non-empty field, with its fields
// trimmed and the line it starts on. A syntax error comes with the line of
// the record it is in.
func next(cr *csv.Reader) ([]string, int, error) {
	for {
		fields, err := cr.Read()
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			return nil, pe.StartLine, err
		}
		if err != nil {
			return nil, 0, err
		}
		blank := true
		for i, f := range fields {
			fields[i] = strings.TrimSpace(f)
			blank = blank && fields[i] == ""
		}
		if !blank {
			line, _ := cr.FieldPos(0)
			return fields, line, nil
		}
	}
}

var bom = []byte("\uFEFF")

// load reads at most maxBytes bytes and returns them as UTF-8 text with
// every line ending turned into "\n".
func load(r io.Reader, maxBytes int64) (string, error) {
	maxBytes = max(maxBytes, 0)
	data, err := io.ReadAll(io.LimitReader(r, maxBytes))
	if err != nil {
		return "", fmt.Errorf("csvimport: reading file: %w", err)
	}
	if int64(len(data)) == maxBytes {
		var one [1]byte
		n, err := io.ReadFull(r, one[:])
		if n > 0 {
			return "", fmt.Errorf("csvimport: file larger than %d bytes: %w", maxBytes, domain.ErrTooLarge)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("csvimport: reading file: %w", err)
		}
	}
	data = bytes.TrimPrefix(data, bom)
	text := string(data)
	if !utf8.Valid(data) {
		text = decodeWindows1252(data)
	}
	return lineEnds.Replace(text), nil
}

var lineEnds = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// delimiter returns ',' when the header line, the first with something
// other than spaces and delimiters, has more commas than semicolons, and ';'
// otherwise.
func delimiter(text string) rune {
	for line := range strings.Lines(text) {
		if strings.Trim(line, ",; \t\n") == "" {
			continue
		}
		if strings.Count(line, ",") > strings.Count(line, ";") {
			return ','
		}
		break
	}
	return ';'
}

// isControl reports whether r may not appear in a field: control characters
// and the invisible marks that reorder text, which could disguise a name.
func isControl(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }

// fold lowercases s, trims it and removes the accents of French letters, for
// comparing names as people type them.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r = unicode.ToLower(r); r {
		case 'à', 'â', 'ä':
			return 'a'
		case 'é', 'è', 'ê', 'ë':
			return 'e'
		case 'î', 'ï':
			return 'i'
		case 'ô', 'ö':
			return 'o'
		case 'ù', 'û', 'ü':
			return 'u'
		case 'ç':
			return 'c'
		}
		return r
	}, strings.TrimSpace(s))
}

// shorten cuts a value repeated in a problem so that a huge field does not
// make a huge report.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxShown {
		return s
	}
	return string([]rune(s)[:maxShown-1]) + "…"
}

// finish sorts the problems by line and keeps the rows only if there is none.
func finish[T any](rows []T, rep Report, err error) ([]T, Report, error) {
	if err != nil {
		return nil, Report{}, err
	}
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	if !rep.OK() {
		return nil, rep, nil
	}
	return rows, rep, nil
}
