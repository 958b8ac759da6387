package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"preau/internal/config"
	"preau/internal/storm/load"
	"preau/internal/storm/probe"
	"preau/internal/storm/report"
	"preau/internal/storm/scenario"
	"preau/internal/storm/sources"
)

// stormCmd replays lockdown morning and the April 2021 floods against a
// Préau (or any portal behind `preau shield`) on this machine, and reports
// what students got.
func stormCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preau storm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		target, scen, size, password, srcMode, paths, out string
		own                                               bool
		students, conns, pid                              int
		ramp, duration, slo                               time.Duration
		rate, multiple, capacity                          float64
		multiples                                         string
		step                                              time.Duration
	)
	fs.StringVar(&target, "target", "http://127.0.0.1:8080", "base URL of the target (loopback only unless --i-own-the-target)")
	fs.BoolVar(&own, "i-own-the-target", false, "allow a non-loopback target: you state that you own it")
	fs.StringVar(&scen, "scenario", "morning", "morning, flood, loginflood, slowloris, slowpost or mixed")
	fs.StringVar(&size, "demo-size", "30x30", "the target demo's CLASSESxSTUDENTS: students log in as e<class>.<n>")
	fs.StringVar(&password, "password", "demo", "students' password")
	fs.IntVar(&students, "students", 200, "students arriving (morning, mixed)")
	fs.DurationVar(&ramp, "ramp", time.Minute, "time over which students arrive")
	fs.DurationVar(&duration, "duration", 2*time.Minute, "length of the run; it always stops by itself")
	fs.DurationVar(&slo, "slo", 2*time.Second, "a request succeeds if answered within this, and not a 5xx")
	fs.Float64Var(&rate, "rate", 0, "flood requests per second (or use --multiple and --capacity)")
	fs.Float64Var(&multiple, "multiple", 10, "flood rate as a multiple of --capacity")
	fs.Float64Var(&capacity, "capacity", 0, "the target's measured capacity in requests per second")
	fs.StringVar(&srcMode, "sources", "rotating", "flood sources: few, one16, rotating or mix (mix needs the target to trust PROXY headers from 127.0.0.1)")
	fs.StringVar(&paths, "paths", "/,/login", "comma-separated paths the flood asks for")
	fs.IntVar(&conns, "conns", 200, "connections held open (slowloris, slowpost)")
	fs.StringVar(&multiples, "multiples", "0,1,2,5,10,20", "sweep: attack multiples of the measured capacity")
	fs.DurationVar(&step, "step", 30*time.Second, "sweep: length of each step")
	fs.IntVar(&pid, "target-pid", 0, "process id of the target, to report its CPU and memory")
	fs.StringVar(&out, "out", "storm-report", "directory for report.json, report.svg and report.md")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch scen {
	case "morning", "flood", "loginflood", "slowloris", "slowpost", "mixed", "sweep":
	default:
		return usageError{msg: fmt.Sprintf("--scenario %q: want morning, flood, loginflood, slowloris, slowpost, mixed or sweep", scen)}
	}
	if err := sources.CheckTarget(target, own); err != nil {
		return usageError{msg: err.Error()}
	}
	classes, perClass, err := config.ParseSize(size)
	if err != nil {
		return usageError{msg: "--demo-size: " + err.Error()}
	}
	if duration <= 0 || duration > 2*time.Hour {
		return usageError{msg: "--duration must be between 0 and 2h: every run is bounded"}
	}
	if rate <= 0 && capacity > 0 {
		rate = multiple * capacity
	}
	base := strings.TrimSuffix(target, "/")
	ctx, cancel := context.WithTimeout(ctx, duration+time.Minute)
	defer cancel()
	t := scenario.Target{URL: base, Client: &http.Client{Timeout: 30 * time.Second}}
	morning := scenario.Morning{Students: students, Password: password, Ramp: ramp, Duration: duration, SLO: load.SLO{MaxLatency: slo},
		Logins: func(i int) string { return scenario.DemoLogins(perClass)(i % (classes * perClass)) }}
	flood := scenario.Flood{Rate: rate, Duration: duration, Paths: strings.Split(paths, ","), Sources: srcMode, LoginFlood: scen == "loginflood"}
	var sweep []float64
	if scen == "sweep" {
		for _, f := range strings.Split(multiples, ",") {
			m, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || m < 0 || m > 100 {
				return usageError{msg: "--multiples: want numbers between 0 and 100, e.g. 0,1,2,5,10,20"}
			}
			sweep = append(sweep, m)
		}
		if step <= 0 || time.Duration(len(sweep)+1)*step > 2*time.Hour {
			return usageError{msg: "--step times the number of steps must stay under 2h"}
		}
		duration = time.Duration(len(sweep)+1) * step
	}
	if (scen == "flood" || scen == "loginflood" || scen == "mixed") && rate <= 0 {
		return usageError{msg: "a flood needs --rate, or --capacity (and --multiple)"}
	}

	rep := report.Report{Scenario: scen, Target: base, Started: time.Now(), SLO: slo, Capacity: capacity}
	before, _ := probe.Scrape(ctx, t.Client, base+"/metrics", "preau_shield_decisions_total")
	var watch sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if pid > 0 {
		watch.Add(1)
		go func() {
			defer watch.Done()
			cores, rss, err := probe.Watch(watchCtx, pid, time.Second)
			if err != nil {
				fmt.Fprintln(stderr, "storm: watching the target:", err)
			}
			rep.TargetCPU, rep.TargetRSS = cores, rss
		}()
	}
	progress := func(done, total int) {
		fmt.Fprintf(stderr, "\rstorm: %d%% (%s of %s)", done*100/max(total, 1), (time.Duration(done) * time.Millisecond).Round(time.Second), time.Duration(total)*time.Millisecond)
	}
	fmt.Fprintf(stderr, "storm: %s against %s for %s\n", scen, base, duration)

	switch scen {
	case "morning":
		res := morning.Run(ctx, t, progress)
		addClasses(&rep, res)
	case "flood", "loginflood":
		if scen == "loginflood" {
			flood.Logins = scenario.DemoLogins(perClass)
		}
		res := flood.Run(ctx, t)
		rep.Classes = append(rep.Classes, report.SummarizeOpen("attack", res, load.SLO{MaxLatency: slo}))
		rep.AttackSent = res.Sent
	case "slowloris", "slowpost":
		res := scenario.Slow{Conns: conns, Duration: duration, Kind: scen}.Run(ctx, t)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d connections opened, %d closed by the server, %d still open at the end", res.Opened, res.ClosedByServer, res.StillOpen))
	case "mixed":
		m, f := scenario.Mixed(ctx, t, morning, flood)
		addClasses(&rep, m)
		rep.Classes = append(rep.Classes, report.SummarizeOpen("attack", f, load.SLO{MaxLatency: slo}))
		rep.AttackSent = f.Sent
	case "sweep":
		runSweep(ctx, t, &rep, morning, flood, sweep, step, stderr)
	default:
		return usageError{msg: fmt.Sprintf("--scenario %q: want morning, flood, loginflood, slowloris, slowpost or mixed", scen)}
	}
	fmt.Fprintln(stderr)
	stopWatch()
	watch.Wait()
	rep.Duration = time.Since(rep.Started)
	if after, err := probe.Scrape(context.Background(), t.Client, base+"/metrics", "preau_shield_decisions_total"); err == nil && before != nil {
		// What the shield admitted from anonymous visitors and pass holders:
		// the attack's classes (students come from an allowlisted address or
		// with a session, and are not counted).
		admitted := func(s probe.Sample) float64 {
			return s.Sum("preau_shield_decisions_total", "class", "anonymous", "outcome", "admitted") +
				s.Sum("preau_shield_decisions_total", "class", "pass", "outcome", "admitted")
		}
		rep.AttackReachedBackend = int(admitted(after) - admitted(before))
		if rep.AttackSent == 0 {
			rep.AttackReachedBackend = 0
		}
	} else if rep.AttackSent > 0 {
		rep.Notes = append(rep.Notes, "the target's /metrics could not be read: attack requests reaching the backend are unknown")
	}
	addChecks(&rep)
	return writeReport(rep, out, stdout)
}

// runSweep measures the target's capacity (students reading homework with
// no pause, if --capacity is not given), then runs the students against a
// flood at each multiple of it, one step each, recording goodput and p99
// per class for the chart.
func runSweep(ctx context.Context, t scenario.Target, rep *report.Report, morning scenario.Morning, flood scenario.Flood, multiples []float64, step time.Duration, stderr io.Writer) {
	slo := load.SLO{MaxLatency: rep.SLO}
	if rep.Capacity <= 0 {
		busy := morning
		busy.Ramp, busy.Duration = 0, step
		busy.Think = func(*rand.Rand) time.Duration { return 0 }
		res := busy.Run(ctx, t, nil)
		total := res.Total()
		rep.Capacity = float64(total.Success) / step.Seconds()
		fmt.Fprintf(stderr, "storm: capacity %.0f requests/s (%d students reading with no pause for %s)\n", rep.Capacity, morning.Students, step)
	}
	var last load.ClosedResult
	for _, m := range multiples {
		if ctx.Err() != nil {
			break
		}
		students := morning
		students.Ramp, students.Duration = 0, step
		var res load.ClosedResult
		var attack load.Result
		if m == 0 {
			res = students.Run(ctx, t, nil)
		} else {
			f := flood
			f.Rate, f.Duration = m*rep.Capacity, step
			res, attack = scenario.Mixed(ctx, t, students, f)
			rep.AttackSent += attack.Sent
		}
		total := res.Total()
		p := report.Point{Multiple: m, Goodput: float64(total.Success) / step.Seconds(), P99: map[string]time.Duration{}, SuccessRate: map[string]float64{}}
		for _, name := range res.ClassNames() {
			c := report.Summarize(name, res.Classes[name])
			p.P99[name], p.SuccessRate[name] = c.P99, c.SuccessRate
		}
		if m > 0 {
			a := report.SummarizeOpen("attack", attack, slo)
			p.P99["attack"], p.SuccessRate["attack"] = a.P99, a.SuccessRate
		}
		rep.Points = append(rep.Points, p)
		fmt.Fprintf(stderr, "storm: %gx: goodput %.0f/s\n", m, p.Goodput)
		last = res
	}
	addClasses(rep, last)
	if len(rep.Points) > 1 && rep.Points[0].Goodput > 0 {
		base, worst := rep.Points[0].Goodput, rep.Points[len(rep.Points)-1]
		kept := worst.Goodput / base
		rep.Checks = append(rep.Checks, report.Check{Name: fmt.Sprintf("students' goodput at %gx capacity", worst.Multiple),
			Want: "≥ 95 % of no-attack goodput", Got: fmt.Sprintf("%.0f %%", 100*kept), OK: kept >= 0.95})
	}
}

// addChecks compares the run with the targets that one run can
// check by itself (the goodput comparison needs a run without attack).
func addChecks(rep *report.Report) {
	for _, c := range rep.Classes {
		if c.Class == "attack" || c.Requests == 0 {
			continue
		}
		rep.Checks = append(rep.Checks,
			report.Check{Name: c.Class + ": no error shown", Want: "100 %", Got: fmt.Sprintf("%.2f %%", 100*c.SuccessRate), OK: c.SuccessRate >= 1},
			report.Check{Name: c.Class + ": p99", Want: "< 1 s", Got: c.P99.Round(time.Millisecond).String(), OK: c.P99 < time.Second})
	}
	if rep.AttackSent > 0 {
		reach := report.AttackReach(rep.AttackSent, rep.AttackReachedBackend)
		rep.Checks = append(rep.Checks, report.Check{Name: "attack requests reaching the application", Want: "< 5 %",
			Got: fmt.Sprintf("%.1f %%", 100*reach), OK: reach < 0.05})
	}
}

func addClasses(rep *report.Report, res load.ClosedResult) {
	for _, name := range res.ClassNames() {
		rep.Classes = append(rep.Classes, report.Summarize(name, res.Classes[name]))
	}
}

func writeReport(rep report.Report, dir string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("storm: %w", err)
	}
	var errs []error
	for name, write := range map[string]func(io.Writer) error{"report.json": rep.WriteJSON, "report.svg": rep.WriteSVG, "report.md": rep.WriteMarkdown} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, write(f), f.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storm: write report: %w", err)
	}
	rep.WriteMarkdown(stdout)
	fmt.Fprintf(stdout, "\nReport written to %s/report.{json,svg,md}\n", dir)
	return nil
}
