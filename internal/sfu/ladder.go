package sfu

import "time"

// Sample is one interval (about a second) of a subscriber's congestion
// signals, as the health loop measures them.
type Sample struct {
	At       time.Time
	Loss     float64 // fraction of packets lost, 0..1: RTCP receiver reports and TWCC feedback, the worse of the two
	NACKRate float64 // packets NACKed / packets sent in the interval
	Estimate int64   // receiver's bandwidth estimate in bit/s (REMB); 0 when unknown
	Bitrate  int64   // bit/s forwarded to the subscriber in the interval
}

// The thresholds follow Google Congestion Control's loss controller: above
// 10 % loss the sender must back off, below 2 % it may grow; between the
// two it holds. NACKs count like losses (a browser NACKs each packet it
// misses). A receiver estimate under 85 % of what is forwarded is
// congestion; at or above the forwarded rate it is clear.
const (
	lossCongested     = 0.10
	lossClear         = 0.02
	estimateCongested = 0.85
)

// ladderConfig holds the ladder's hysteresis. The zero value is replaced by
// defaultLadderConfig.
type ladderConfig struct {
	DownAfter       time.Duration // congestion lasting this long steps one rung down
	UpAfter         time.Duration // clear this long steps one rung up (first probe)
	MaxUpAfter      time.Duration // cap of the up wait after failed probes
	ProbeFailWindow time.Duration // a step down this soon after a step up doubles the up wait
}

var defaultLadderConfig = ladderConfig{
	DownAfter:       3 * time.Second,
	UpAfter:         10 * time.Second,
	MaxUpAfter:      80 * time.Second,
	ProbeFailWindow: 20 * time.Second,
}

// ladder chooses a subscriber's mode (video → audio → data) from samples.
// It is pure: fed samples that carry their own time, it never reads a
// clock and never sleeps, so tests drive it with a fake clock.
//
// It steps down one rung after DownAfter of congestion and up one rung
// after UpAfter of clear samples. Samples between the thresholds hold:
// they stop the clear timer without resetting the congestion timer, so
// loss oscillating around 10 % still steps down. A step up that congestion
// undoes within ProbeFailWindow was a failed probe: the next up wait
// doubles (up to MaxUpAfter), and falls back to UpAfter once a step up has
// held for ProbeFailWindow. Not safe for concurrent use.
type ladder struct {
	cfg            ladderConfig
	mode           Mode
	congestedSince time.Time // zero: not congested
	clearSince     time.Time // zero: not clear
	lastUp         time.Time
	upWait         time.Duration
}

func newLadder(cfg ladderConfig, start Mode) *ladder {
	if cfg == (ladderConfig{}) {
		cfg = defaultLadderConfig
	}
	return &ladder{cfg: cfg, mode: start, upWait: cfg.UpAfter}
}

type verdict int8

const (
	verdictHold verdict = iota
	verdictCongested
	verdictClear
)

func classify(s Sample) verdict {
	if s.Loss >= lossCongested || s.NACKRate >= lossCongested ||
		(s.Estimate > 0 && float64(s.Estimate) < estimateCongested*float64(s.Bitrate)) {
		return verdictCongested
	}
	if s.Loss < lossClear && s.NACKRate < lossClear && (s.Estimate == 0 || s.Estimate >= s.Bitrate) {
		return verdictClear
	}
	return verdictHold
}

// observe feeds one sample and returns the mode chosen and whether it
// changed.
func (l *ladder) observe(s Sample) (Mode, bool) {
	switch classify(s) {
	case verdictCongested:
		l.clearSince = time.Time{}
		if l.congestedSince.IsZero() {
			l.congestedSince = s.At
		}
		if l.mode > ModeData && s.At.Sub(l.congestedSince) >= l.cfg.DownAfter {
			l.mode--
			if !l.lastUp.IsZero() && s.At.Sub(l.lastUp) < l.cfg.ProbeFailWindow {
				l.upWait = min(2*l.upWait, l.cfg.MaxUpAfter)
			}
			l.lastUp = time.Time{}
			l.congestedSince = s.At // the next rung needs its own DownAfter
			return l.mode, true
		}
	case verdictClear:
		l.congestedSince = time.Time{}
		if l.clearSince.IsZero() {
			l.clearSince = s.At
		}
		if !l.lastUp.IsZero() && s.At.Sub(l.lastUp) >= l.cfg.ProbeFailWindow {
			l.upWait = l.cfg.UpAfter // the last probe held
		}
		if l.mode < ModeVideo && s.At.Sub(l.clearSince) >= l.upWait {
			l.mode++
			l.lastUp = s.At
			l.clearSince = s.At
			return l.mode, true
		}
	case verdictHold:
		l.clearSince = time.Time{}
	}
	return l.mode, false
}
