// Package probe watches the target of a storm: counters read from its
// Prometheus /metrics page (how many attack requests the shield let through
// to the application, its admission limit and in-flight requests), and the
// CPU and memory of its process read from /proc when it runs on this
// machine.
package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is a set of metric values keyed by name and sorted labels, as
// written in the exposition format: `name{a="1",b="2"}`.
type Sample map[string]float64

// maxMetricsBytes bounds what is read from a metrics page.
const maxMetricsBytes = 16 << 20

// ParseMetrics reads the Prometheus text exposition format, keeping the
// series whose name is in names (all series when names is empty). Comments
// and malformed lines are skipped: the page is the target's, not ours to
// judge, but a malformed value must never be taken for a number.
func ParseMetrics(r io.Reader, names ...string) (Sample, error) {
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	out := Sample{}
	sc := bufio.NewScanner(io.LimitReader(r, maxMetricsBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := splitSeries(line)
		if !ok {
			continue
		}
		name := series
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name = series[:i]
		}
		if len(keep) > 0 && !keep[name] {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		out[series] = v
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("probe: read metrics: %w", err)
	}
	return out, nil
}

// splitSeries cuts "name{labels} value [timestamp]" into the series and
// the value, respecting quoted label values that may contain spaces or '}'.
func splitSeries(line string) (series, value string, ok bool) {
	end := strings.IndexByte(line, '{')
	if end >= 0 {
		inQuote, esc := false, false
		close := -1
		for i := end; i < len(line); i++ {
			c := line[i]
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inQuote = !inQuote
			case c == '}' && !inQuote:
				close = i
			}
			if close >= 0 {
				break
			}
		}
		if close < 0 {
			return "", "", false
		}
		series, rest := line[:close+1], strings.TrimSpace(line[close+1:])
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return "", "", false
		}
		return series, fields[0], true
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return "", "", false
	}
	return fields[0], fields[1], true
}

// Sum adds the values of every series of a metric whose labels contain all
// the given label pairs ("class", "anonymous", …).
func (s Sample) Sum(name string, labelPairs ...string) float64 {
	total := 0.0
	for series, v := range s {
		n := series
		labels := ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			n, labels = series[:i], series[i:]
		}
		if n != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labelPairs); i += 2 {
			if !strings.Contains(labels, labelPairs[i]+`="`+labelPairs[i+1]+`"`) {
				match = false
				break
			}
		}
		if match {
			total += v
		}
	}
	return total
}

// Scrape fetches and parses a metrics page.
func Scrape(ctx context.Context, client *http.Client, url string, names ...string) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("probe: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("probe: scrape %s: status %d", url, resp.StatusCode)
	}
	return ParseMetrics(resp.Body, names...)
}

// Process is a point reading of a local process: CPU time used so far and
// resident memory.
type Process struct {
	CPU time.Duration
	RSS int64
	At  time.Time
}

// ticks per second of /proc CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// ReadProcess reads /proc/PID/stat (utime+stime) and /proc/PID/status
// (VmRSS).
func ReadProcess(pid int) (Process, error) {
	p := Process{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, fmt.Errorf("probe: process %d: %w", pid, err)
	}
	// The command name is in parentheses and may contain spaces: fields
	// are counted after the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return p, fmt.Errorf("probe: process %d: malformed stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return p, fmt.Errorf("probe: process %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return p, fmt.Errorf("probe: process %d: malformed cpu times", pid)
	}
	p.CPU = time.Duration(utime+stime) * time.Second / userHZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, fmt.Errorf("probe: process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				p.RSS = kb << 10
			}
		}
	}
	return p, nil
}

// Watch samples a process every interval until ctx ends and returns the
// average CPU use in cores and the largest RSS seen.
func Watch(ctx context.Context, pid int, interval time.Duration) (cores float64, maxRSS int64, err error) {
	first, err := ReadProcess(pid)
	if err != nil {
		return 0, 0, err
	}
	last := first
	maxRSS = first.RSS
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if el := last.At.Sub(first.At); el > 0 {
				cores = float64(last.CPU-first.CPU) / float64(el)
			}
			return cores, maxRSS, nil
		case <-t.C:
			p, err := ReadProcess(pid)
			if err != nil {
				return cores, maxRSS, err
			}
			last = p
			maxRSS = max(maxRSS, p.RSS)
		}
	}
}
