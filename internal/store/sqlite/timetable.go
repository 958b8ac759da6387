package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"preau/internal/domain"
)

func insertSlot(ctx context.Context, tx *sql.Tx, s domain.Slot) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO timetable_slots (class_id, weekday, start_time, end_time, subject, teacher_id, room, group_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.ClassID, int(s.Weekday), s.Start, s.End, s.Subject, nullID(s.TeacherID), s.Room, nullID(s.GroupID))
	if err != nil {
		return fmt.Errorf("insert slot %s %s: %w", s.Start, s.Subject, mapErr(err))
	}
	return nil
}

// ReplaceTimetable replaces a class's weekly timetable.
func (db *DB) ReplaceTimetable(ctx context.Context, class domain.ClassID, slots []domain.Slot) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM timetable_slots WHERE class_id = ?", class); err != nil {
			return err
		}
		for _, s := range slots {
			s.ClassID = class
			if err := insertSlot(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace timetable of class %d: %w", class, err)
	}
	return nil
}

const slotCols = `s.id, s.class_id, c.name, s.weekday, s.start_time, s.end_time, s.subject, coalesce(s.teacher_id, 0),
	coalesce(u.display_name, ''), s.room, coalesce(s.group_id, 0)`

func (db *DB) querySlots(ctx context.Context, where string, args ...any) ([]domain.Slot, error) {
	rows, err := db.query(ctx, "SELECT "+slotCols+` FROM timetable_slots s JOIN classes c ON c.id = s.class_id LEFT JOIN users u ON u.id = s.teacher_id
		WHERE `+where+" ORDER BY s.weekday, s.start_time, s.id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Slot
	for rows.Next() {
		var s domain.Slot
		var wd int
		if err := rows.Scan(&s.ID, &s.ClassID, &s.Class, &wd, &s.Start, &s.End, &s.Subject, &s.TeacherID, &s.Teacher, &s.Room, &s.GroupID); err != nil {
			return nil, err
		}
		s.Weekday = timeWeekday(wd)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Timetable returns the slots of the given classes.
func (db *DB) Timetable(ctx context.Context, classes []domain.ClassID) ([]domain.Slot, error) {
	list, args := inList(classes)
	slots, err := db.querySlots(ctx, "s.class_id IN ("+list+")", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: timetable of %v: %w", classes, err)
	}
	return slots, nil
}

// TeacherTimetable returns the slots a teacher teaches.
func (db *DB) TeacherTimetable(ctx context.Context, teacher domain.UserID) ([]domain.Slot, error) {
	slots, err := db.querySlots(ctx, "s.teacher_id = ?", teacher)
	if err != nil {
		return nil, fmt.Errorf("sqlite: timetable of teacher %d: %w", teacher, err)
	}
	return slots, nil
}

func timeWeekday(d int) time.Weekday { return time.Weekday(d) }
