package shield

import (
	"errors"
	"testing"
	"time"

	"preau/internal/domain"
)

func TestParentLoginsClosedDuringTheDay(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	g, err := ParseProfileGates("parent=07:30-17:30", paris)
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2021, 4, 26, h, m, 0, 0, paris) }
	for _, c := range []struct {
		role   domain.Role
		t      time.Time
		closed bool
	}{
		{domain.RoleParent, at(7, 29), false},
		{domain.RoleParent, at(7, 30), true},
		{domain.RoleParent, at(17, 29), true},
		{domain.RoleParent, at(17, 30), false},
		{domain.RoleStudent, at(9, 0), false},
	} {
		closed, until := g.Closed(c.role, c.t)
		if closed != c.closed {
			t.Errorf("%s at %s: closed = %v", c.role, c.t.Format("15:04"), closed)
		}
		if closed && !until.Equal(at(17, 30)) {
			t.Errorf("until = %v", until)
		}
	}
	g.SetManual(domain.RoleStudent, true)
	if closed, until := g.Closed(domain.RoleStudent, at(9, 0)); !closed || !until.IsZero() {
		t.Error("manual closing not applied")
	}
	for _, bad := range []string{"parents=07:30-17:30", "parent=17:30-07:30", "parent=7h30-17h30", "parent"} {
		if _, err := ParseProfileGates(bad, paris); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoginGateSaysWhenItReopens(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	g, _ := ParseProfileGates("parent=07:30-17:30", paris)
	err := g.LoginGate(domain.RoleParent, time.Date(2021, 4, 26, 8, 0, 0, 0, paris))
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeUnavailable || de.Args[0] != "17:30" {
		t.Errorf("gate = %v", err)
	}
	if err := g.LoginGate(domain.RoleStudent, time.Date(2021, 4, 26, 8, 0, 0, 0, paris)); err != nil {
		t.Errorf("students gated: %v", err)
	}
}
