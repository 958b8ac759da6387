package workspace

import (
	"context"
	"fmt"
	"slices"
	"time"

	"preau/internal/domain"
)

// Week returns the timetable that concerns v: a student's class (without
// the slots of groups they are not in), a teacher's own slots, a parent's
// first child's (parents pick a child with ChildWeek). Slots are shaped
// for the viewer: a student's carry the teacher and not their own class,
// a teacher's carry the class and not their own name.
func (s *Service) Week(ctx context.Context, v domain.Membership) ([]domain.Slot, error) {
	switch v.User.Role {
	case domain.RoleStudent:
		slots, err := s.store.Timetable(ctx, v.Classes)
		if err != nil {
			return nil, fmt.Errorf("workspace: timetable: %w", err)
		}
		slots = slices.DeleteFunc(slices.Clone(slots), func(sl domain.Slot) bool {
			return sl.GroupID != 0 && !slices.Contains(v.Groups, sl.GroupID)
		})
		for i := range slots {
			slots[i].Class = ""
		}
		return slots, nil
	case domain.RoleTeacher:
		slots, err := s.store.TeacherTimetable(ctx, v.User.ID)
		if err != nil {
			return nil, fmt.Errorf("workspace: teacher timetable: %w", err)
		}
		for i := range slots {
			slots[i].Teacher = ""
		}
		return slots, nil
	case domain.RoleParent:
		if len(v.Children) == 0 {
			return nil, nil
		}
		return s.ChildWeek(ctx, v, v.Children[0].ID)
	}
	return nil, nil
}

// ChildWeek returns one child's timetable for their parent.
func (s *Service) ChildWeek(ctx context.Context, v domain.Membership, child domain.UserID) ([]domain.Slot, error) {
	if !slices.ContainsFunc(v.Children, func(u domain.User) bool { return u.ID == child }) {
		return nil, fmt.Errorf("workspace: child %d of %d: %w", child, v.User.ID, domain.ErrNotFound)
	}
	cm, err := s.store.Membership(ctx, child)
	if err != nil {
		return nil, fmt.Errorf("workspace: child %d: %w", child, err)
	}
	return s.Week(ctx, cm)
}

// Day keeps the slots of one weekday.
func Day(slots []domain.Slot, d time.Weekday) []domain.Slot {
	var out []domain.Slot
	for _, s := range slots {
		if s.Weekday == d {
			out = append(out, s)
		}
	}
	return out
}

// DayBounds returns the start of the day containing t and of the next day,
// in loc.
func DayBounds(t time.Time, loc *time.Location) (time.Time, time.Time) {
	t = t.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 0, 1)
}

// WeekBounds returns the Monday 00:00 of t's week and the Monday after, in loc.
func WeekBounds(t time.Time, loc *time.Location) (time.Time, time.Time) {
	start, _ := DayBounds(t, loc)
	offset := (int(start.Weekday()) + 6) % 7
	start = start.AddDate(0, 0, -offset)
	return start, start.AddDate(0, 0, 7)
}
