package probe

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

const page = `# HELP preau_shield_decisions_total Requests by class and outcome.
# TYPE preau_shield_decisions_total counter
preau_shield_decisions_total{class="anonymous",outcome="admitted"} 12
preau_shield_decisions_total{class="anonymous",outcome="limited"} 3400
preau_shield_decisions_total{class="member",outcome="admitted"} 900
preau_shield_admission_limit 42
weird{label="a } b"} 7
broken{label="unterminated} 5
nan_metric NaN
`

func TestParseAndSum(t *testing.T) {
	s, err := ParseMetrics(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sum("preau_shield_decisions_total", "class", "anonymous", "outcome", "admitted"); got != 12 {
		t.Errorf("anonymous admitted = %v", got)
	}
	if got := s.Sum("preau_shield_decisions_total", "class", "anonymous"); got != 3412 {
		t.Errorf("anonymous = %v", got)
	}
	if got := s.Sum("preau_shield_decisions_total"); got != 4312 {
		t.Errorf("all decisions = %v", got)
	}
	if s.Sum("preau_shield_admission_limit") != 42 || s.Sum("weird") != 7 {
		t.Errorf("sample = %v", s)
	}
	if _, ok := s[`broken{label="unterminated} 5`]; ok || s.Sum("nan_metric") != 0 {
		t.Errorf("malformed lines kept: %v", s)
	}
	only, _ := ParseMetrics(strings.NewReader(page), "preau_shield_admission_limit")
	if len(only) != 1 {
		t.Errorf("filter kept %v", only)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(page)
	f.Add(`a{b="\"}"} 1 123`)
	f.Fuzz(func(t *testing.T, s string) {
		sample, err := ParseMetrics(strings.NewReader(s))
		if err != nil {
			return
		}
		for k := range sample {
			if k == "" {
				t.Fatalf("empty series from %q", s)
			}
		}
	})
}

func TestWatchOwnProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var cores float64
	var rss int64
	var err error
	go func() {
		cores, rss, err = Watch(ctx, os.Getpid(), 10*time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) { // burn a little CPU
	}
	cancel()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || cores < 0 {
		t.Errorf("cores %v, rss %d", cores, rss)
	}
}
