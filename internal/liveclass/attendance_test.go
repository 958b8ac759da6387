package liveclass

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func TestAttendanceRecordsEveryStay(t *testing.T) {
	f := newRoomWith(t, 2, withWaitingRoom)
	a, b := f.students[0], f.students[1]
	f.clock.Advance(3 * time.Minute)
	_, err := f.room.AdmitAll(f.teacher)
	f.must(err)
	f.clock.Advance(20 * time.Minute)
	f.must(f.room.Leave(a))
	f.clock.Advance(time.Minute)
	f.join(student(0)) // back, without waiting: admitted earlier
	f.clock.Advance(time.Minute)
	f.must(f.room.Remove(f.teacher, b))

	att := f.room.Attendance()
	want := []struct {
		who    ParticipantID
		joined time.Duration
		left   time.Duration
		why    LeaveReason
	}{
		{f.teacher, 0, -1, ""},
		{a, 3 * time.Minute, 23 * time.Minute, LeaveLeft},
		{b, 3 * time.Minute, 25 * time.Minute, LeaveRemoved},
		{a, 24 * time.Minute, -1, ""},
	}
	if len(att) != len(want) {
		t.Fatalf("%d records: %+v", len(att), att)
	}
	for i, w := range want {
		r := att[i]
		left := time.Duration(-1)
		if !r.LeftAt.IsZero() {
			left = r.LeftAt.Sub(t0)
		}
		if r.Participant != w.who || r.JoinedAt.Sub(t0) != w.joined || left != w.left || r.Reason != w.why {
			t.Errorf("record %d: %+v", i, r)
		}
		if r.JoinedAt.Location() != time.UTC {
			t.Errorf("record %d not in UTC", i)
		}
	}
}

func TestAttendanceCSVHasAHeaderAndDefusesFormulas(t *testing.T) {
	joined := time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC)
	records := []AttendanceRecord{
		{Name: "Zoé Lefèvre", Role: RoleStudent, JoinedAt: joined, LeftAt: joined.Add(50 * time.Minute), Reason: LeaveLeft},
		{Name: "=HYPERLINK(\"http://evil\",\"x\")", Role: RoleStudent, JoinedAt: joined},
		{Name: "+33 6", Role: RoleStudent, JoinedAt: joined, LeftAt: joined.Add(time.Second), Reason: LeaveRemoved},
		{Name: "-1", Role: RoleStudent, JoinedAt: joined, LeftAt: joined, Reason: LeaveEnded},
		{Name: "@SUM(A1)", Role: RoleGuest, JoinedAt: joined, LeftAt: joined, Reason: LeaveDisconnected},
		{Name: "Jean, dit \"le grand\"", Role: RoleHost, JoinedAt: joined, LeftAt: joined, Reason: LeaveEnded},
	}
	var buf bytes.Buffer
	if err := WriteAttendanceCSV(&buf, records, joined.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"name", "role", "joined_at", "left_at", "duration_seconds", "reason"},
		{"Zoé Lefèvre", "student", "2021-04-06T08:00:00Z", "2021-04-06T08:50:00Z", "3000", "left"},
		{"'=HYPERLINK(\"http://evil\",\"x\")", "student", "2021-04-06T08:00:00Z", "", "600", "present"},
		{"'+33 6", "student", "2021-04-06T08:00:00Z", "2021-04-06T08:00:01Z", "1", "removed"},
		{"'-1", "student", "2021-04-06T08:00:00Z", "2021-04-06T08:00:00Z", "0", "ended"},
		{"'@SUM(A1)", "guest", "2021-04-06T08:00:00Z", "2021-04-06T08:00:00Z", "0", "disconnected"},
		{"Jean, dit \"le grand\"", "host", "2021-04-06T08:00:00Z", "2021-04-06T08:00:00Z", "0", "ended"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows", len(rows))
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
}
