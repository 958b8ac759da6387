package web

import (
	"net/http"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/live"
	"preau/internal/workspace"
)

type childHome struct {
	Child    domain.User
	Today    []domain.Slot
	Homework []workspace.Item
}

type homeData struct {
	Today     time.Time
	Slots     []domain.Slot
	DueToday  []workspace.Item
	DueLater  []workspace.Item
	Children  []childHome
	Unread    int
	IsTeacher bool
	Live      []live.Info // live classes running now that the user may join
}

// showHome is the page everyone opens at 8:00: today's timetable beside the
// homework due today and in the coming week, and unread messages.
func (h *handler) showHome(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := p.Membership
	now := h.svc.Now()
	loc := h.cfg.Location
	dayStart, dayEnd := workspace.DayBounds(now, loc)
	horizon := dayStart.AddDate(0, 0, 8)
	d := homeData{Today: now, IsTeacher: v.User.Role.Staff()}
	var err error
	if d.Unread, err = h.svc.Unread(ctx, v); err != nil {
		h.fail(w, r, p, err)
		return
	}
	switch v.User.Role {
	case domain.RoleParent:
		kids, err := h.svc.ChildrenHomework(ctx, v, dayStart, horizon)
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		for _, k := range kids {
			week, err := h.svc.ChildWeek(ctx, v, k.Child.ID)
			if err != nil {
				h.fail(w, r, p, err)
				return
			}
			d.Children = append(d.Children, childHome{Child: k.Child, Today: workspace.Day(week, now.In(loc).Weekday()), Homework: k.Items})
		}
	default:
		week, err := h.svc.Week(ctx, v)
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		d.Slots = workspace.Day(week, now.In(loc).Weekday())
		items, err := h.svc.Homework(ctx, v, dayStart, horizon)
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		for _, it := range items {
			if it.DueAt.Before(dayEnd) {
				d.DueToday = append(d.DueToday, it)
			} else {
				d.DueLater = append(d.DueLater, it)
			}
		}
	}
	if h.cfg.Live != nil {
		d.Live = h.cfg.Live.Running(v)
	}
	pg := h.newPage(r, p, "home.title", "home")
	pg.Data = d
	h.render(w, r, http.StatusOK, "home", pg)
}

func (h *handler) showTimetable(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := p.Membership
	type day struct {
		Weekday time.Weekday
		Slots   []domain.Slot
	}
	type child struct {
		Child domain.User
		Days  []day
	}
	toDays := func(slots []domain.Slot) []day {
		var out []day
		for _, wd := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday} {
			if s := workspace.Day(slots, wd); len(s) > 0 {
				out = append(out, day{Weekday: wd, Slots: s})
			}
		}
		return out
	}
	var data []child
	if v.User.Role == domain.RoleParent {
		for _, c := range v.Children {
			week, err := h.svc.ChildWeek(r.Context(), v, c.ID)
			if err != nil {
				h.fail(w, r, p, err)
				return
			}
			data = append(data, child{Child: c, Days: toDays(week)})
		}
	} else {
		week, err := h.svc.Week(r.Context(), v)
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		data = append(data, child{Days: toDays(week)})
	}
	pg := h.newPage(r, p, "timetable.title", "timetable")
	pg.Data = data
	h.render(w, r, http.StatusOK, "timetable", pg)
}
