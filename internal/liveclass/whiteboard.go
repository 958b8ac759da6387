package liveclass

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// Whiteboard limits. Coordinates are integers from 0 to MaxCoord across
// the board's width and height, whatever the screen: compact on the wire
// (a stroke of 2,000 points is under 24 KB of JSON) and exact to compare.
const (
	MaxCoord        = 10000
	MaxStrokePoints = 2000
	MinStrokeWidth  = 1
	MaxStrokeWidth  = 20
)

// Palette is the colours a stroke may take; "white" rubs out.
var Palette = []string{"black", "white", "red", "orange", "yellow", "green", "blue", "purple"}

// Point is a position on the board, each coordinate 0..MaxCoord.
type Point struct{ X, Y uint16 }

// Points is a polyline. Its JSON form is flat, [x0,y0,x1,y1,…], which
// halves the size of an array of pairs.
type Points []Point

// MarshalJSON writes the flat form.
func (ps Points) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(ps)*10)
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(p.X), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(p.Y), 10)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads the flat form; an odd count is an error. It does not
// check the range: Draw does.
func (ps *Points) UnmarshalJSON(b []byte) error {
	var flat []uint16
	if err := json.Unmarshal(b, &flat); err != nil {
		return err
	}
	if len(flat)%2 != 0 {
		return errors.New("liveclass: points: odd number of coordinates")
	}
	out := make(Points, len(flat)/2)
	for i := range out {
		out[i] = Point{flat[2*i], flat[2*i+1]}
	}
	*ps = out
	return nil
}

// Stroke is one line on the board, drawn by a participant.
type Stroke struct {
	ID     StrokeID      `json:"id"`
	By     ParticipantID `json:"by"`
	Color  string        `json:"color"`
	Width  int           `json:"width"`
	Points Points        `json:"points"`
}

// StrokeInput is what a participant draws; the room adds id and author.
type StrokeInput struct {
	Color  string
	Width  int
	Points Points
}

func (in StrokeInput) validate() error {
	if !slices.Contains(Palette, in.Color) {
		return invalid("color", "live.err.stroke_color")
	}
	if in.Width < MinStrokeWidth || in.Width > MaxStrokeWidth {
		return invalid("width", "live.err.stroke_width", MinStrokeWidth, MaxStrokeWidth)
	}
	if len(in.Points) == 0 || len(in.Points) > MaxStrokePoints {
		return invalid("points", "live.err.stroke_points", MaxStrokePoints)
	}
	for _, p := range in.Points {
		if p.X > MaxCoord || p.Y > MaxCoord {
			return invalid("points", "live.err.stroke_points", MaxStrokePoints)
		}
	}
	return nil
}

// Draw adds a stroke to the board. Hosts draw, and others once a host
// granted them the whiteboard. The board holds at most Config.MaxStrokes
// strokes and Config.MaxBoardPoints points, so that a late joiner on a
// slow line downloads it in reasonable time; then a host must clear it.
//
// Errors: ErrNotPermitted, ErrInvalid (fields "color", "width", "points"),
// ErrBoardFull, ErrRateLimited, actor errors.
func (r *Room) Draw(pid ParticipantID, in StrokeInput) (Stroke, error) {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return Stroke{}, r.fail("draw", pid, err)
	}
	if !p.perms.Whiteboard {
		return Stroke{}, r.fail("draw", pid, ErrNotPermitted)
	}
	if err := in.validate(); err != nil {
		return Stroke{}, r.fail("draw", pid, err)
	}
	if len(r.board) >= r.cfg.MaxStrokes || r.boardPoints+len(in.Points) > r.cfg.MaxBoardPoints {
		return Stroke{}, r.fail("draw", pid, ErrBoardFull)
	}
	if !p.strokeRate.allow(now, r.cfg.StrokeRate) {
		return Stroke{}, r.fail("draw", pid, ErrRateLimited)
	}
	r.strokeSeq++
	s := Stroke{
		ID: StrokeID("s" + strconv.FormatUint(r.strokeSeq, 10)), By: p.id, Color: in.Color, Width: in.Width,
		Points: slices.Clone(in.Points), // the event shares it: never the caller's
	}
	r.board = append(r.board, s)
	r.boardPoints += len(s.Points)
	r.emit(KindStroke, toAll, s)
	return s, nil
}

// UndoStroke removes pid's most recent stroke still on the board.
//
// Errors: ErrNotPermitted, ErrNothingToUndo, ErrRateLimited, actor errors.
func (r *Room) UndoStroke(pid ParticipantID) (StrokeID, error) {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return "", r.fail("undo stroke", pid, err)
	}
	if !p.perms.Whiteboard {
		return "", r.fail("undo stroke", pid, ErrNotPermitted)
	}
	i := len(r.board) - 1
	for i >= 0 && r.board[i].By != pid {
		i--
	}
	if i < 0 {
		return "", r.fail("undo stroke", pid, ErrNothingToUndo)
	}
	if !p.actionRate.allow(now, r.cfg.ActionRate) {
		return "", r.fail("undo stroke", pid, ErrRateLimited)
	}
	s := r.board[i]
	// A new slice: snapshots hold copies, but keep the old array untouched
	// all the same.
	r.board = slices.Concat(r.board[:i], r.board[i+1:])
	r.boardPoints -= len(s.Points)
	r.emit(KindStrokeUndone, toAll, StrokeUndone{Stroke: s.ID, By: pid})
	return s.ID, nil
}

// ClearBoard wipes the whiteboard; hosts only.
//
// Errors: ErrNotPermitted, actor errors.
func (r *Room) ClearBoard(by ParticipantID) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("clear board", by, err)
	}
	r.board, r.boardPoints = nil, 0
	r.emit(KindBoardCleared, toAll, BoardCleared{By: by})
	return nil
}

// SlideState is the deck the room shows and its current page (from 1).
// Deck is empty when no deck is shown. The pages themselves are image
// files served elsewhere; the room only keeps the place.
type SlideState struct {
	Deck  string `json:"deck,omitempty"`
	Page  int    `json:"page,omitempty"`
	Pages int    `json:"pages,omitempty"`
}

// MaxDeckPages bounds a deck.
const MaxDeckPages = 1000

// SetDeck shows a deck of pages (at page 1), or none when deck is empty;
// hosts only. The deck id is the name under which the pages are served:
// 1 to 64 characters among letters, digits, '-' and '_'.
//
// Errors: ErrNotPermitted, ErrInvalid (fields "deck", "pages"), actor errors.
func (r *Room) SetDeck(by ParticipantID, deck string, pages int) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("set deck", by, err)
	}
	s := SlideState{}
	if deck != "" {
		if !validDeckID(deck) {
			return r.fail("set deck", by, invalid("deck", "live.err.deck"))
		}
		if pages < 1 || pages > MaxDeckPages {
			return r.fail("set deck", by, invalid("pages", "live.err.deck_pages", MaxDeckPages))
		}
		s = SlideState{Deck: deck, Page: 1, Pages: pages}
	}
	r.slide = s
	r.emit(KindSlide, toAll, s)
	return nil
}

// SetSlide turns the shown deck to page (from 1); hosts only. Setting the
// page already shown does nothing.
//
// Errors: ErrNotPermitted, ErrNoDeck, ErrInvalid (field "page"), actor errors.
func (r *Room) SetSlide(by ParticipantID, page int) error {
	r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return r.fail("set slide", by, err)
	}
	switch {
	case r.slide.Deck == "":
		return r.fail("set slide", by, ErrNoDeck)
	case page < 1 || page > r.slide.Pages:
		return r.fail("set slide", by, invalid("page", "live.err.slide_page", r.slide.Pages))
	case page == r.slide.Page:
		return nil
	}
	r.slide.Page = page
	r.emit(KindSlide, toAll, r.slide)
	return nil
}

func validDeckID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
