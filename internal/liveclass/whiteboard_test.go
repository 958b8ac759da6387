package liveclass

import (
	"encoding/json"
	"testing"
	"time"
)

func dot() StrokeInput {
	return StrokeInput{Color: "blue", Width: 3, Points: Points{{X: 5000, Y: 5000}}}
}

func TestAStudentDrawsOnlyOnceGrantedTheWhiteboard(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	_, err := f.room.Draw(pupil, dot())
	wantErr(t, err, ErrNotPermitted)
	f.must(f.room.Grant(f.teacher, pupil, PermWhiteboard, true))
	s, err := f.room.Draw(pupil, dot())
	f.must(err)
	if s.By != pupil || s.ID == "" {
		t.Fatalf("stroke %+v", s)
	}
}

func TestUndoRemovesOnlyOnesOwnLastStroke(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	f.must(f.room.Grant(f.teacher, pupil, PermWhiteboard, true))
	mine1, _ := f.room.Draw(pupil, dot())
	mine2, _ := f.room.Draw(pupil, dot())
	theirs, _ := f.room.Draw(f.teacher, dot())

	undone, err := f.room.UndoStroke(pupil)
	f.must(err)
	if undone != mine2.ID {
		t.Fatalf("undid %s, want %s", undone, mine2.ID)
	}
	snap, _ := f.room.Snapshot(pupil)
	if len(snap.Strokes) != 2 || snap.Strokes[0].ID != mine1.ID || snap.Strokes[1].ID != theirs.ID {
		t.Fatalf("board %+v", snap.Strokes)
	}
	_, err = f.room.UndoStroke(pupil)
	f.must(err)
	_, err = f.room.UndoStroke(pupil)
	wantErr(t, err, ErrNothingToUndo)
}

func TestTheHostClearsTheBoardAndTheBoardIsBounded(t *testing.T) {
	f := newRoomWith(t, 0, func(c *Config) {
		c.MaxStrokes = 3
		c.MaxBoardPoints = 100
		c.StrokeRate = Rate{Burst: 100, Every: time.Millisecond}
	})
	for range 3 {
		_, err := f.room.Draw(f.teacher, dot())
		f.must(err)
	}
	_, err := f.room.Draw(f.teacher, dot())
	wantErr(t, err, ErrBoardFull)
	f.must(f.room.ClearBoard(f.teacher))

	big := dot()
	big.Points = make(Points, 60)
	_, err = f.room.Draw(f.teacher, big)
	f.must(err)
	_, err = f.room.Draw(f.teacher, big)
	wantErr(t, err, ErrBoardFull) // 120 points > 100
	if snap, _ := f.room.Snapshot(f.teacher); len(snap.Strokes) != 1 {
		t.Fatalf("%d strokes", len(snap.Strokes))
	}
}

func TestAStrokeMustUseThePaletteAWidthAndPointsOnTheBoard(t *testing.T) {
	f := newRoomWith(t, 0)
	for field, in := range map[string]StrokeInput{
		"color":  {Color: "#ff0000", Width: 3, Points: Points{{1, 1}}},
		"width":  {Color: "red", Width: 21, Points: Points{{1, 1}}},
		"points": {Color: "red", Width: 3, Points: Points{{10001, 1}}},
	} {
		_, err := f.room.Draw(f.teacher, in)
		wantErr(t, err, ErrInvalid)
		if ErrorOf(err).Field != field {
			t.Errorf("field %q, want %q", ErrorOf(err).Field, field)
		}
	}
	_, err := f.room.Draw(f.teacher, StrokeInput{Color: "red", Width: 3})
	wantErr(t, err, ErrInvalid)
	_, err = f.room.Draw(f.teacher, StrokeInput{Color: "red", Width: 3, Points: make(Points, MaxStrokePoints+1)})
	wantErr(t, err, ErrInvalid)
}

func TestAStrokeDoesNotShareTheCallersPoints(t *testing.T) {
	f := newRoomWith(t, 0)
	in := dot()
	s, err := f.room.Draw(f.teacher, in)
	f.must(err)
	in.Points[0].X = 1
	if s.Points[0].X != 5000 {
		t.Fatal("the room kept the caller's slice")
	}
}

func TestPointsTravelAsAFlatArray(t *testing.T) {
	b, err := json.Marshal(Points{{1, 2}, {3, 10000}})
	f := string(b)
	if err != nil || f != "[1,2,3,10000]" {
		t.Fatalf("%s %v", f, err)
	}
	var back Points
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[1] != (Point{3, 10000}) {
		t.Fatalf("%v %v", back, err)
	}
	if err := json.Unmarshal([]byte("[1,2,3]"), &back); err == nil {
		t.Fatal("an odd count was accepted")
	}
}

func TestSlidesTurnWithinTheDeck(t *testing.T) {
	f := newRoomWith(t, 1)
	wantErr(t, f.room.SetSlide(f.teacher, 1), ErrNoDeck)
	f.must(f.room.SetDeck(f.teacher, "thales-3eB", 12))
	f.must(f.room.SetSlide(f.teacher, 12))
	wantErr(t, f.room.SetSlide(f.teacher, 13), ErrInvalid)
	wantErr(t, f.room.SetSlide(f.teacher, 0), ErrInvalid)
	wantErr(t, f.room.SetDeck(f.teacher, "../etc/passwd", 2), ErrInvalid)
	wantErr(t, f.room.SetDeck(f.teacher, "d", 0), ErrInvalid)
	snap, _ := f.room.Snapshot(f.students[0])
	if snap.Slide != (SlideState{Deck: "thales-3eB", Page: 12, Pages: 12}) {
		t.Fatalf("slide %+v", snap.Slide)
	}
	f.must(f.room.SetDeck(f.teacher, "", 0))
	snap, _ = f.room.Snapshot(f.students[0])
	if snap.Slide != (SlideState{}) {
		t.Fatalf("slide %+v", snap.Slide)
	}
}
