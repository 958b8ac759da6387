package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func TestSLOMet(t *testing.T) {
	s := SLO{}
	for _, c := range []struct {
		o    Outcome
		want bool
	}{
		{Outcome{Status: 200, Latency: time.Second}, true},
		{Outcome{Status: 200, Latency: 2 * time.Second}, true},
		{Outcome{Status: 200, Latency: 2*time.Second + 1}, false},
		{Outcome{Status: 499, Latency: 0}, true},
		{Outcome{Status: 500}, false},
		{Outcome{Status: 200, Err: errors.New("reset")}, false},
		{Outcome{Status: 503, Queued: true}, true}, // a waiting-room page
		{Outcome{Status: 503, Queued: true, Latency: 3 * time.Second}, false},
	} {
		if got := s.Met(c.o); got != c.want {
			t.Errorf("Met(%+v) = %v", c.o, got)
		}
	}
	if (SLO{MaxLatency: time.Millisecond}).Met(Outcome{Status: 200, Latency: 2 * time.Millisecond}) {
		t.Error("custom MaxLatency ignored")
	}
}

func TestClosedLoopClasses(t *testing.T) {
	classes := []string{"ok", "5xx", "slow", "err"}
	l := ClosedLoop{
		Users:    9,
		Duration: 150 * time.Millisecond,
		Grace:    10 * time.Second,
		Seed:     42,
		Think:    func(rng *rand.Rand) time.Duration { return time.Duration(1+rng.IntN(3)) * time.Millisecond },
		Arrival: func(user int) time.Duration {
			if user == 8 {
				return time.Hour // arrives after the end: never runs
			}
			return 0
		},
		Step: func(ctx context.Context, user int, rng *rand.Rand) Outcome {
			switch c := classes[user%4]; c {
			case "ok":
				return Outcome{Class: c, Status: 200, Latency: 10 * time.Millisecond}
			case "5xx":
				return Outcome{Class: c, Status: 503, Latency: 10 * time.Millisecond}
			case "slow":
				return Outcome{Class: c, Status: 200, Latency: 3 * time.Second}
			default:
				return Outcome{Class: c, Err: errors.New("connection refused")}
			}
		},
	}
	r := l.Run(context.Background())
	if r.Elapsed > 30*time.Second {
		t.Fatalf("Elapsed %v", r.Elapsed)
	}
	if got := r.ClassNames(); len(got) != 4 {
		t.Fatalf("classes %v", got)
	}
	want := map[string]float64{"ok": 1, "5xx": 0, "slow": 0, "err": 0}
	for name, rate := range want {
		c := r.Classes[name]
		if c.Requests == 0 || c.SuccessRate() != rate || c.Latency.Count() != int64(c.Requests) {
			t.Errorf("%s: %d requests, success %.2f, want %.0f", name, c.Requests, c.SuccessRate(), rate)
		}
	}
	if r.Classes["err"].Errors != r.Classes["err"].Requests || r.Classes["5xx"].ByStatus[503] != r.Classes["5xx"].Requests {
		t.Error("errors or statuses miscounted")
	}
	if p := r.Classes["slow"].Latency.Quantile(0.99); p < 3*time.Second {
		t.Errorf("slow p99 %v", p)
	}
	tot := r.Total()
	if tot.Success != r.Classes["ok"].Requests || tot.Latency.Count() != int64(tot.Requests) {
		t.Errorf("Total %+v", tot)
	}
	if r.SLO.MaxLatency != 2*time.Second {
		t.Errorf("default SLO %v", r.SLO.MaxLatency)
	}
}

func TestClosedLoopMeasuresStepAndHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var steps atomic.Int64
	r := ClosedLoop{Users: 3, Duration: time.Hour,
		Step: func(ctx context.Context, user int, rng *rand.Rand) Outcome {
			if steps.Add(1) == 10 {
				cancel()
			}
			select {
			case <-ctx.Done():
				return Outcome{Class: "cancelled", Err: ctx.Err()}
			case <-time.After(time.Millisecond):
				return Outcome{Class: "c", Status: 200} // Latency 0: the runner measures it
			}
		}}.Run(ctx)
	c := r.Classes["c"]
	if c == nil || c.Requests == 0 || r.Elapsed > 30*time.Second {
		t.Fatalf("result %+v", r)
	}
	if c.Latency.Min() < time.Millisecond {
		t.Errorf("measured step latency %v < 1ms", c.Latency.Min())
	}
}

// A follow-up step comes after its own pause, not a think time: a user
// whose every step is a follow-up with no pause runs far more steps than
// one who thinks for the whole run.
func TestClosedLoopFollowUp(t *testing.T) {
	var steps [2]atomic.Int64
	l := ClosedLoop{
		Users:    2,
		Duration: 300 * time.Millisecond,
		Think:    func(*rand.Rand) time.Duration { return time.Hour },
		Step: func(ctx context.Context, u int, _ *rand.Rand) Outcome {
			steps[u].Add(1)
			return Outcome{Class: "c", Status: 503, Queued: u == 0, FollowUp: u == 0}
		},
	}
	res := l.Run(context.Background())
	if a, b := steps[0].Load(), steps[1].Load(); a < 10 || b != 1 {
		t.Errorf("steps: follow-up user %d, thinking user %d; want many and 1", a, b)
	}
	c := res.Classes["c"]
	if c.Queued != int(steps[0].Load()) || c.Success != c.Queued {
		t.Errorf("class %+v: want the queued pages counted and successful, the 503 not", c)
	}
}
