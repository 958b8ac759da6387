package record

import (
	"testing"
	"time"
)

// A long episode is drawn with wider points, never with more than
// MaxTimeline, and its rates stay right.
func TestTimelineMergesLongEpisodes(t *testing.T) {
	start := time.Date(2021, 4, 6, 7, 0, 0, 0, time.UTC)
	tl := &timeline{start: start}
	// The first summary covers the calm minute before the episode.
	tl.add(start.Add(-time.Minute), start.Add(time.Second), map[string]uint64{"admitted": 80, "limited": 20})
	for i := 1; i < 500; i++ {
		s := start.Add(time.Duration(i) * time.Second)
		tl.add(s, s.Add(time.Second), map[string]uint64{"admitted": 80, "limited": 15, "shed": 5})
	}
	pts := tl.points()
	if len(pts) > MaxTimeline || len(pts) != 125 || tl.width != 4*time.Second {
		t.Fatalf("%d points of %v", len(pts), tl.width)
	}
	last := pts[len(pts)-1]
	if last.Total != 100 || last.Admitted != 80 || last.Shed != 5 || last.Blocked != 15 || !last.Time.Equal(start.Add(496*time.Second)) {
		t.Errorf("last point %+v", last)
	}
	if pts[0].Total != 100 || pts[0].Blocked != 16.25 {
		t.Errorf("first point %+v", pts[0])
	}
}
