package sfu

import (
	"testing"
	"time"
)

// feed sends the ladder one sample a second from t0 for d, each made by
// mk, and returns the modes it reported changing to, and the time after.
func feed(l *ladder, t0 time.Time, d time.Duration, mk func() Sample) ([]Mode, time.Time) {
	var changes []Mode
	t := t0
	for ; t.Sub(t0) < d; t = t.Add(time.Second) {
		s := mk()
		s.At = t
		if m, changed := l.observe(s); changed {
			changes = append(changes, m)
		}
	}
	return changes, t
}

var (
	t0        = time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	clearLine = func() Sample { return Sample{Loss: 0, Bitrate: 500_000} }
	congested = func() Sample { return Sample{Loss: 0.2, Bitrate: 500_000} }
	moderate  = func() Sample { return Sample{Loss: 0.05, Bitrate: 500_000} }
)

func TestLadderHoldsOnAClearLine(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeVideo)
	if changes, _ := feed(l, t0, time.Minute, clearLine); len(changes) != 0 {
		t.Fatalf("changes on a clear line: %v", changes)
	}
}

func TestLadderStepsDownOneRungAfterSustainedCongestion(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeVideo)
	changes, _ := feed(l, t0, 3*time.Second, congested) // samples at 0, 1, 2 s
	if len(changes) != 0 {
		t.Fatalf("stepped down before 3 s of congestion: %v", changes)
	}
	changes, _ = feed(l, t0.Add(3*time.Second), time.Second, congested)
	if len(changes) != 1 || changes[0] != ModeAudio {
		t.Fatalf("after 3 s of congestion: %v, want [audio]", changes)
	}
	changes, _ = feed(l, t0.Add(4*time.Second), 3*time.Second, congested)
	if len(changes) != 1 || changes[0] != ModeData {
		t.Fatalf("after 3 more s: %v, want [data]", changes)
	}
	if changes, _ = feed(l, t0.Add(7*time.Second), time.Minute, congested); len(changes) != 0 {
		t.Fatalf("below data: %v", changes)
	}
}

func TestLadderIgnoresABriefSpike(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeVideo)
	changes, t1 := feed(l, t0, 2*time.Second, congested)
	more, _ := feed(l, t1, time.Second, clearLine)
	again, _ := feed(l, t1.Add(time.Second), 2*time.Second, congested)
	if all := append(append(changes, more...), again...); len(all) != 0 {
		t.Fatalf("a spike broken by a clear second stepped down: %v", all)
	}
}

func TestLadderStepsDownOnLossOscillatingAroundTheThreshold(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeVideo)
	var changes []Mode
	for i := range 6 {
		mk := congested
		if i%2 == 1 {
			mk = moderate // holds: neither clear nor congested
		}
		c, _ := feed(l, t0.Add(time.Duration(i)*time.Second), time.Second, mk)
		changes = append(changes, c...)
	}
	if len(changes) != 1 || changes[0] != ModeAudio {
		t.Fatalf("changes %v, want [audio]", changes)
	}
}

func TestLadderStepsBackUpAfterTenClearSecondsOneRungAtATime(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeData)
	changes, t1 := feed(l, t0, 10*time.Second, clearLine) // 0..9 s
	if len(changes) != 0 {
		t.Fatalf("stepped up before 10 s: %v", changes)
	}
	changes, t1 = feed(l, t1, time.Second, clearLine) // 10 s
	if len(changes) != 1 || changes[0] != ModeAudio {
		t.Fatalf("after 10 clear s: %v, want [audio]", changes)
	}
	changes, t1 = feed(l, t1, 9*time.Second, clearLine)
	if len(changes) != 0 {
		t.Fatalf("two rungs at once: %v", changes)
	}
	changes, _ = feed(l, t1, time.Second, clearLine)
	if len(changes) != 1 || changes[0] != ModeVideo {
		t.Fatalf("after 10 more clear s: %v, want [video]", changes)
	}
}

func TestLadderWaitsLongerAfterAFailedProbe(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeAudio)
	_, t1 := feed(l, t0, 11*time.Second, clearLine) // up to video at 10 s
	if l.mode != ModeVideo {
		t.Fatalf("mode %s, want video", l.mode)
	}
	_, t1 = feed(l, t1, 4*time.Second, congested) // the probe fails: back to audio
	if l.mode != ModeAudio {
		t.Fatalf("mode %s after the failed probe, want audio", l.mode)
	}
	changes, t2 := feed(l, t1, 15*time.Second, clearLine)
	if len(changes) != 0 {
		t.Fatalf("probed again after 15 s: %v; the wait should have doubled to 20 s", changes)
	}
	changes, _ = feed(l, t2, 6*time.Second, clearLine)
	if len(changes) != 1 || changes[0] != ModeVideo {
		t.Fatalf("after 20 s: %v, want [video]", changes)
	}
}

func TestLadderBandwidthEstimateBelowTheForwardedRateIsCongestion(t *testing.T) {
	l := newLadder(ladderConfig{}, ModeVideo)
	starved := func() Sample { return Sample{Estimate: 200_000, Bitrate: 550_000} }
	changes, _ := feed(l, t0, 4*time.Second, starved)
	if len(changes) != 1 || changes[0] != ModeAudio {
		t.Fatalf("changes %v, want [audio]", changes)
	}
	nacks := func() Sample { return Sample{NACKRate: 0.25, Bitrate: 40_000} }
	changes, _ = feed(l, t0.Add(4*time.Second), 4*time.Second, nacks)
	if len(changes) != 1 || changes[0] != ModeData {
		t.Fatalf("changes %v, want [data]", changes)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		s    Sample
		want verdict
	}{
		{Sample{}, verdictClear},
		{Sample{Loss: 0.01, Bitrate: 500_000, Estimate: 600_000}, verdictClear},
		{Sample{Loss: 0.05}, verdictHold},
		{Sample{Loss: 0.10}, verdictCongested},
		{Sample{NACKRate: 0.12}, verdictCongested},
		{Sample{Bitrate: 500_000, Estimate: 450_000}, verdictHold},
		{Sample{Bitrate: 500_000, Estimate: 400_000}, verdictCongested},
	} {
		if got := classify(tc.s); got != tc.want {
			t.Errorf("classify(%+v) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
