package csvimport

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"preau/internal/domain"
)

const slotsHeader = "class;day;start;end;subject;teacher;room;group"

var goodSlots = file(
	"Classe;Jour;Début;Fin;Matière;Enseignant;Salle;Groupe",
	"3e B;lundi;8h;9h;Mathématiques;M.Durand;B12;",
	"3e B; Mar ;10:00;11:00:00;Latin;;;Latin",
	"3e B;7;8H30;09:05;Sport;;;",
)

func TestParseTimetableGood(t *testing.T) {
	tests := []struct {
		name, in string
		want     []domain.RosterSlot
	}{
		{"French header, semicolons", goodSlots, []domain.RosterSlot{
			{Line: 2, Class: "3e B", Weekday: time.Monday, Start: "08:00", End: "09:00", Subject: "Mathématiques", TeacherLogin: "m.durand", Room: "B12"},
			{Line: 3, Class: "3e B", Weekday: time.Tuesday, Start: "10:00", End: "11:00", Subject: "Latin", Group: "Latin"},
			{Line: 4, Class: "3e B", Weekday: time.Sunday, Start: "08:30", End: "09:05", Subject: "Sport"},
		}},
		{"English header, commas, unaccented, BOM", "\uFEFF" + file(
			"subject,end,start,day,class,professeur",
			"Maths,10:00,9:00,WEDNESDAY,6e,",
			"Histoire,12h,11h,jeu,6e,",
		), []domain.RosterSlot{
			{Line: 2, Class: "6e", Weekday: time.Wednesday, Start: "09:00", End: "10:00", Subject: "Maths"},
			{Line: 3, Class: "6e", Weekday: time.Thursday, Start: "11:00", End: "12:00", Subject: "Histoire"},
		}},
		{"Windows-1252", "classe;jour;d\xe9but;fin;mati\xe8re\r\n5e;Vendredi;14h;15h;Fran\xe7ais\r\n", []domain.RosterSlot{
			{Line: 2, Class: "5e", Weekday: time.Friday, Start: "14:00", End: "15:00", Subject: "Français"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep, err := ParseTimetable(strings.NewReader(tt.in), big)
			if err != nil || !rep.OK() {
				t.Fatalf("err %v, problems\n%s", err, show(rep.Problems))
			}
			if rep.Rows != len(tt.want) {
				t.Errorf("Rows = %d, want %d", rep.Rows, len(tt.want))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

var badSlots = []struct {
	name, in string
	want     []Problem
}{
	{"empty", "", []Problem{p(1, "", keyEmpty)}},
	{"missing and unknown columns", file("classe;jour;debut;fin;prof", "3e;1;8h;9h;x"), []Problem{
		p(1, "", keyUnknownColumn, "prof"), p(1, "subject", keyMissingColumn, "subject"),
	}},
	{"required", file(slotsHeader, ";;;;;;;x"), []Problem{
		p(2, "class", keyRequired, "class"), p(2, "day", keyRequired, "day"),
		p(2, "start", keyRequired, "start"), p(2, "end", keyRequired, "end"), p(2, "subject", keyRequired, "subject"),
	}},
	{"days", file(slotsHeader, "3e;0;8h;9h;M;;;", "3e;8;8h;9h;M;;;", "3e;lu;8h;9h;M;;;", "3e;Dimanche;8h;9h;M;;;"), []Problem{
		p(2, "day", keyBadDay, "0"), p(3, "day", keyBadDay, "8"), p(4, "day", keyBadDay, "lu"),
	}},
	{"times", file(slotsHeader,
		"3e;1;8;9h;M;;;", "3e;1;24:00;8:0;M;;;", "3e;1;8h60;123:00;M;;;", "3e;1;8:00:30;h00;M;;;", "3e;1;-1:00;8h00m;M;;;",
	), []Problem{
		p(2, "start", keyBadTime, "8"), p(3, "start", keyBadTime, "24:00"), p(3, "end", keyBadTime, "8:0"),
		p(4, "start", keyBadTime, "8h60"), p(4, "end", keyBadTime, "123:00"),
		p(5, "start", keyBadTime, "8:00:30"), p(5, "end", keyBadTime, "h00"),
		p(6, "start", keyBadTime, "-1:00"), p(6, "end", keyBadTime, "8h00m"),
	}},
	{"end before start", file(slotsHeader, "3e;1;9h;8h;M;;;", "3e;1;9h;09:00;M;;;", "3e;1;9h;9h01;M;;;"), []Problem{
		p(2, "end", keyEndBeforeStart, "09:00", "08:00"), p(3, "end", keyEndBeforeStart, "09:00", "09:00"),
	}},
	{"teacher login and lengths", file(slotsHeader,
		"3e;1;8h;9h;M;m durand;;",
		"3e;1;8h;9h;"+strings.Repeat("m", 81)+";;"+strings.Repeat("r", 81)+";"+strings.Repeat("g", 81),
	), []Problem{
		p(2, "teacher", keyBadLogin, "m durand"),
		p(3, "subject", keyTooLong, "subject", 80), p(3, "room", keyTooLong, "room", 80), p(3, "group", keyTooLong, "group", 80),
	}},
	{"field count and quotes", file(slotsHeader, "3e;1;8h;9h;M", `3e;1;8h;9h;M "x";;;`), []Problem{
		p(2, "", keyFieldCount, 5, 8), p(3, "", keyBadQuotes),
	}},
}

func TestParseTimetableBad(t *testing.T) {
	for _, tt := range badSlots {
		t.Run(tt.name, func(t *testing.T) {
			got, rep, err := ParseTimetable(strings.NewReader(tt.in), big)
			if err != nil {
				t.Fatal(err)
			}
			if got != nil || rep.OK() {
				t.Errorf("got %d slots, OK %v: want none when there are problems", len(got), rep.OK())
			}
			if !reflect.DeepEqual(rep.Problems, tt.want) {
				t.Errorf("problems\n%s\nwant\n%s", show(rep.Problems), show(tt.want))
			}
			checkReport(t, []byte(tt.in), rep)
		})
	}
}

func TestDays(t *testing.T) {
	want := map[time.Weekday][]string{
		time.Monday:    {"1", "Monday", "MON", "lundi", "Lun"},
		time.Tuesday:   {"2", "tuesday", "tue", "Mardi", "mar"},
		time.Wednesday: {"3", "wednesday", "wed", "mercredi", "MER"},
		time.Thursday:  {"4", "Thursday", "thu", "jeudi", "jeu"},
		time.Friday:    {"5", "friday", "fri", "vendredi", "ven"},
		time.Saturday:  {"6", "saturday", "sat", "samedi", "sam"},
		time.Sunday:    {"7", "sunday", "sun", "dimanche", "dim"},
	}
	for day, names := range want {
		for _, name := range names {
			if got, ok := days[fold(name)]; !ok || got != day {
				t.Errorf("%q = %v, %v; want %v", name, got, ok, day)
			}
		}
	}
	if len(days) != 35 {
		t.Errorf("days has %d names, want 35", len(days))
	}
}

func TestParseClock(t *testing.T) {
	for in, want := range map[string]string{
		"8:00": "08:00", "08:00": "08:00", "8h00": "08:00", "8h": "08:00", "8H30": "08:30",
		"23:59": "23:59", "0h": "00:00", "08:00:00": "08:00", "12h05": "12:05",
		"8": "", "8:0": "", "24h": "", "8h60": "", "8:00:01": "", "008:00": "", ":00": "", "8h:00": "",
		"8 h": "", "８:00": "", "+8:00": "", "8:00:": "",
	} {
		got, ok := parseClock(in)
		if got != want || ok != (want != "") {
			t.Errorf("parseClock(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
