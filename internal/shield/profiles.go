package shield

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"preau/internal/domain"
)

// ProfileGates close access for a whole profile during set hours, as one
// regional ENT had to do in April 2021 (parents closed from 7:30 to 17:30,
// leaving capacity to pupils). Operators set them in the configuration
// ("parent=07:30-17:30") or switch a profile off and on by hand. Safe for
// concurrent use.
type ProfileGates struct {
	loc *time.Location
	mu  sync.RWMutex
	// windows per role, minutes since midnight [from, to)
	windows map[domain.Role][][2]int
	manual  map[domain.Role]bool // closed by hand, whatever the time
}

// ParseProfileGates reads rules like "parent=07:30-17:30,student=22:00-23:59".
func ParseProfileGates(spec string, loc *time.Location) (*ProfileGates, error) {
	g := &ProfileGates{loc: loc, windows: map[domain.Role][][2]int{}, manual: map[domain.Role]bool{}}
	for _, rule := range strings.Split(spec, ",") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		role, span, ok := strings.Cut(rule, "=")
		r := domain.Role(strings.TrimSpace(role))
		if !ok || !r.Valid() {
			return nil, fmt.Errorf("profile gate %q: want ROLE=HH:MM-HH:MM with ROLE student, parent, teacher or admin", rule)
		}
		from, to, ok := strings.Cut(span, "-")
		f, err1 := minutes(from)
		t, err2 := minutes(to)
		if !ok || err1 != nil || err2 != nil || f >= t {
			return nil, fmt.Errorf("profile gate %q: want HH:MM-HH:MM with the start before the end", rule)
		}
		g.windows[r] = append(g.windows[r], [2]int{f, t})
	}
	return g, nil
}

func minutes(hm string) (int, error) {
	if strings.TrimSpace(hm) == "24:00" {
		return 24 * 60, nil // the end of the day
	}
	t, err := time.Parse("15:04", strings.TrimSpace(hm))
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Closed reports whether role is closed at now, and until when (zero for a
// manual closing, which has no end).
func (g *ProfileGates) Closed(role domain.Role, now time.Time) (bool, time.Time) {
	if g == nil || role == "" {
		return false, time.Time{}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.manual[role] {
		return true, time.Time{}
	}
	local := now.In(g.loc)
	m := local.Hour()*60 + local.Minute()
	for _, w := range g.windows[role] {
		if m >= w[0] && m < w[1] {
			midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, g.loc)
			return true, midnight.Add(time.Duration(w[1]) * time.Minute)
		}
	}
	return false, time.Time{}
}

// SetManual closes or reopens a profile by hand.
func (g *ProfileGates) SetManual(role domain.Role, closed bool) {
	g.mu.Lock()
	g.manual[role] = closed
	g.mu.Unlock()
}

// Rules describes the gates for the operator page.
func (g *ProfileGates) Rules() map[domain.Role][]string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := map[domain.Role][]string{}
	for r, ws := range g.windows {
		for _, w := range ws {
			out[r] = append(out[r], fmt.Sprintf("%02d:%02d–%02d:%02d", w[0]/60, w[0]%60, w[1]/60, w[1]%60))
		}
	}
	for r, closed := range g.manual {
		if closed {
			out[r] = append(out[r], "manual")
		}
	}
	return out
}

// LoginGate is the check auth.Manager.SetLoginGate takes: a correct login
// of a closed profile is refused with a message saying when it reopens.
func (g *ProfileGates) LoginGate(role domain.Role, now time.Time) error {
	closed, until := g.Closed(role, now)
	if !closed {
		return nil
	}
	if until.IsZero() {
		return &domain.Error{Code: domain.CodeUnavailable, Key: "err.profile_closed_manual"}
	}
	return &domain.Error{Code: domain.CodeUnavailable, Key: "err.profile_closed", Args: []any{until.In(g.loc).Format("15:04")}}
}
