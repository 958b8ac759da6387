package csvimport

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"preau/internal/domain"
)

var slotSchema = schema{
	aliases: map[string]string{
		"class": "class", "classe": "class",
		"day": "day", "jour": "day",
		"start": "start", "debut": "start", // "début" folds to "debut"
		"end": "end", "fin": "end",
		"subject": "subject", "matiere": "subject",
		"teacher": "teacher", "enseignant": "teacher", "professeur": "teacher",
		"room": "room", "salle": "room",
		"group": "group", "groupe": "group",
	},
	required: []string{"class", "day", "start", "end", "subject"},
}

// days maps folded day names to weekdays.
var days = func() map[string]time.Weekday {
	names := [...][]string{
		time.Sunday:    {"7", "sunday", "sun", "dimanche", "dim"},
		time.Monday:    {"1", "monday", "mon", "lundi", "lun"},
		time.Tuesday:   {"2", "tuesday", "tue", "mardi", "mar"},
		time.Wednesday: {"3", "wednesday", "wed", "mercredi", "mer"},
		time.Thursday:  {"4", "thursday", "thu", "jeudi", "jeu"},
		time.Friday:    {"5", "friday", "fri", "vendredi", "ven"},
		time.Saturday:  {"6", "saturday", "sat", "samedi", "sam"},
	}
	m := map[string]time.Weekday{}
	for d, list := range names {
		for _, name := range list {
			m[name] = time.Weekday(d)
		}
	}
	return m
}()

// ParseTimetable reads a timetable file. Returns the slots and the report.
// The slots are returned only when the report is OK.
func ParseTimetable(r io.Reader, maxBytes int64) ([]domain.RosterSlot, Report, error) {
	var slots []domain.RosterSlot
	rep, err := scan(r, maxBytes, slotSchema, func(r row) {
		slots = append(slots, parseSlot(r))
	})
	return finish(slots, rep, err)
}

func parseSlot(r row) domain.RosterSlot {
	s := domain.RosterSlot{Line: r.line, Class: r.text("class", true, maxWordLen)}
	if v := r.text("day", true, 0); v != "" {
		var ok bool
		if s.Weekday, ok = days[fold(v)]; !ok {
			r.problem("day", keyBadDay, shorten(v))
		}
	}
	s.Start, s.End = r.clock("start"), r.clock("end")
	if s.Start != "" && s.End != "" && s.End <= s.Start {
		r.problem("end", keyEndBeforeStart, s.Start, s.End)
	}
	s.Subject = r.text("subject", true, maxWordLen)
	if v := r.get("teacher"); v != "" {
		if s.TeacherLogin = domain.NormalizeLogin(v); !domain.ValidLogin(s.TeacherLogin) {
			r.problem("teacher", keyBadLogin, shorten(v))
		}
	}
	s.Room = r.text("room", false, maxWordLen)
	s.Group = r.text("group", false, maxWordLen)
	return s
}

// clock returns a required time column as "HH:MM", or "" after reporting it.
func (r row) clock(col string) string {
	v := r.text(col, true, 0)
	if v == "" {
		return ""
	}
	c, ok := parseClock(v)
	if !ok {
		r.problem(col, keyBadTime, shorten(v))
	}
	return c
}

// parseClock reads "8:00", "08:00", "8h00", "8h", "8H30" or "08:00:00"
// (seconds, as spreadsheets write them, must be zero).
func parseClock(s string) (string, bool) {
	h, m, ok := strings.Cut(strings.ToLower(s), "h")
	if ok && m == "" {
		m = "00"
	} else if !ok {
		var sec string
		if h, m, ok = strings.Cut(s, ":"); !ok {
			return "", false
		}
		if m, sec, ok = strings.Cut(m, ":"); ok && sec != "00" {
			return "", false
		}
	}
	if len(h) < 1 || len(h) > 2 || len(m) != 2 || !digits(h) || !digits(m) {
		return "", false
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if hh > 23 || mm > 59 {
		return "", false
	}
	return fmt.Sprintf("%02d:%02d", hh, mm), true
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
