package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
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
		target, scen, size, password, srcMode, paths, out  string
		client, arrival, think, multiples, appMetrics      string
		own, loginFlood                                    bool
		students, conns, pid, studentAddrs, retries, every int
		ramp, duration, slo, step                          time.Duration
		rate, multiple, capacity, compress, resume, fresh  float64
	)
	fs.StringVar(&target, "target", "http://127.0.0.1:8080", "base URL of the target (loopback only unless --i-own-the-target)")
	fs.BoolVar(&own, "i-own-the-target", false, "allow a non-loopback target: you state that you own it")
	fs.StringVar(&scen, "scenario", "morning", "morning, flood, loginflood, slowloris, slowpost, mixed or sweep")
	fs.StringVar(&size, "demo-size", "30x30", "the target demo's CLASSESxSTUDENTS: students log in as e<class>.<n>")
	fs.StringVar(&password, "password", "demo", "students' password")
	fs.IntVar(&students, "students", 200, "students (morning, mixed, sweep)")
	fs.StringVar(&client, "client", scenario.ClientWeb, "students' client: web (HTML pages, cookies, the waiting room, no JavaScript) or api (the JSON API)")
	fs.StringVar(&arrival, "arrival", "morning", "arrivals: morning (50 % in the first third of the ramp, 30 % in the second, 20 % in the third: a 3-hour closure morning compressed into --ramp) or linear")
	fs.DurationVar(&ramp, "ramp", time.Minute, "time over which students arrive")
	fs.Float64Var(&compress, "compress", 0, "time compression of the 3-hour morning: sets --ramp to 3h/F (e.g. 18 for 10 minutes)")
	fs.Float64Var(&resume, "resume", 0, "share of students who resume yesterday's session (signed in before the clock starts), 0 to 1")
	fs.StringVar(&think, "think", "5s-15s", "students' think time between pages, MIN-MAX")
	fs.IntVar(&every, "submit-every", 8, "one page in N is a hand-in (0: never)")
	fs.IntVar(&retries, "retries", 3, "retries of a failed page by a signed-in student, with backoff")
	fs.IntVar(&studentAddrs, "student-addrs", 20000, "distinct source addresses of the students, spread over 127.64.0.0/10 (0: all from the client's default address)")
	fs.DurationVar(&duration, "duration", 2*time.Minute, "length of the run; it always stops by itself")
	fs.DurationVar(&slo, "slo", 2*time.Second, "a request succeeds if answered within this, and not a 5xx")
	fs.Float64Var(&rate, "rate", 0, "flood requests per second (or use --multiple and --capacity)")
	fs.Float64Var(&multiple, "multiple", 10, "flood rate as a multiple of --capacity")
	fs.Float64Var(&capacity, "capacity", 0, "the target's measured capacity in requests per second")
	fs.StringVar(&srcMode, "sources", "rotating", "flood sources: few, one16, rotating, forwarded or mix (forwarded: rotating addresses in X-Forwarded-For over keep-alive connections, as behind a reverse proxy; it needs the target to trust 127.0.0.1 in --trusted-proxies; mix needs it to trust PROXY headers from 127.0.0.1)")
	fs.StringVar(&paths, "paths", "/,/login", "comma-separated paths the flood asks for")
	fs.BoolVar(&loginFlood, "login-flood", false, "mixed, sweep: the flood is credential stuffing (POST /api/v1/login with wrong passwords on the students' accounts) instead of GETs")
	fs.IntVar(&conns, "conns", 200, "connections held open (slowloris, slowpost)")
	fs.StringVar(&multiples, "multiples", "0,1,2,5,10,20", "sweep: attack multiples of the measured capacity")
	fs.DurationVar(&step, "step", 30*time.Second, "sweep: length of each step")
	fs.Float64Var(&fresh, "newcomers", 0.2, "sweep: share of students who sign out before each step and come back during its first half")
	fs.IntVar(&pid, "target-pid", 0, "process id of the target, to report its CPU and memory")
	fs.StringVar(&appMetrics, "app-metrics", "", "the application's /metrics URL when a proxy stands in front (default: TARGET/metrics): counts the attack requests that reached the application")
	fs.StringVar(&out, "out", "storm-report", "directory for report.json, report.svg and report.md")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var problems []string
	switch scen {
	case "morning", "flood", "loginflood", "slowloris", "slowpost", "mixed", "sweep":
	default:
		problems = append(problems, fmt.Sprintf("--scenario %q: want morning, flood, loginflood, slowloris, slowpost, mixed or sweep", scen))
	}
	if err := sources.CheckTarget(target, own); err != nil {
		problems = append(problems, err.Error())
	}
	classes, perClass, err := config.ParseSize(size)
	if err != nil {
		problems = append(problems, "--demo-size: "+err.Error())
	}
	if duration <= 0 || duration > 2*time.Hour {
		problems = append(problems, "--duration must be between 0 and 2h: every run is bounded")
	}
	if client != scenario.ClientWeb && client != scenario.ClientAPI {
		problems = append(problems, "--client: want web or api")
	}
	if arrival != "morning" && arrival != "linear" {
		problems = append(problems, "--arrival: want morning or linear")
	}
	thinkMin, thinkMax, err := parseRange(think)
	if err != nil {
		problems = append(problems, "--think: "+err.Error())
	}
	if resume < 0 || resume > 1 || fresh < 0 || fresh > 1 {
		problems = append(problems, "--resume and --newcomers are shares between 0 and 1")
	}
	if studentAddrs < 0 || studentAddrs > 200000 {
		problems = append(problems, "--student-addrs: between 0 and 200000")
	}
	if students < 0 || students > 200000 {
		problems = append(problems, "--students: at most 200000")
	}
	if compress < 0 || compress > 10800 {
		problems = append(problems, "--compress: between 0 and 10800")
	}
	var sweep []float64
	if scen == "sweep" {
		for _, f := range strings.Split(multiples, ",") {
			m, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || m < 0 || m > 100 {
				problems = append(problems, "--multiples: want numbers between 0 and 100, e.g. 0,1,2,5,10,20")
				break
			}
			sweep = append(sweep, m)
		}
		if step <= 0 || time.Duration(len(sweep)+1)*step > 2*time.Hour {
			problems = append(problems, "--step times the number of steps must stay under 2h")
		}
	}
	if rate <= 0 && capacity > 0 {
		rate = multiple * capacity
	}
	if (scen == "flood" || scen == "loginflood" || scen == "mixed") && rate <= 0 {
		problems = append(problems, "a flood needs --rate, or --capacity (and --multiple)")
	}
	if len(problems) > 0 {
		return usageError{msg: strings.Join(problems, "\n")}
	}
	if compress > 0 {
		ramp = time.Duration(float64(scenario.MorningLength) / compress)
	}
	if scen == "sweep" {
		duration = time.Duration(len(sweep)+1) * step
	}
	base := strings.TrimSuffix(target, "/")
	if appMetrics == "" {
		appMetrics = base + "/metrics"
	}
	// Signing students in before the clock, then the run, then a grace.
	ctx, cancel := context.WithTimeout(ctx, duration+time.Duration(students)*100*time.Millisecond+2*time.Minute)
	defer cancel()
	t := scenario.Target{URL: base, Client: &http.Client{Timeout: 30 * time.Second}}
	morning := scenario.Morning{Students: students, Password: password, Ramp: ramp, Duration: duration,
		SLO: load.SLO{MaxLatency: slo}, Client: client, SubmitEvery: every, Retries: retries,
		Think: func(r *rand.Rand) time.Duration {
			return thinkMin + time.Duration(r.Int64N(int64(thinkMax-thinkMin)+1))
		},
		Logins: func(i int) string { return scenario.DemoLogins(perClass)(i % (classes * perClass)) }}
	if arrival == "linear" {
		morning.Arrival = scenario.LinearRamp(students, ramp)
	}
	if studentAddrs > 0 {
		addrs, err := sources.Spread([]netip.Prefix{sources.StudentPrefix}, min(studentAddrs, max(students, 1)))
		if err != nil {
			return fmt.Errorf("storm: students' addresses: %w", err)
		}
		// Shuffled: students arrive in index order, and consecutive
		// addresses share a network; without the shuffle each minute's
		// newcomers would all come from one /16.
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		morning.Source = func(i int) netip.Addr { return addrs[i%len(addrs)] }
	}
	flood := scenario.Flood{Rate: rate, Duration: duration, Paths: strings.Split(paths, ","), Sources: srcMode, LoginFlood: scen == "loginflood" || loginFlood}
	if flood.LoginFlood {
		flood.Logins = scenario.DemoLogins(perClass)
	}

	rep := report.Report{Scenario: scen, Target: base, Started: time.Now(), SLO: slo, Capacity: capacity}
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
	if scen == "morning" || scen == "mixed" {
		how := fmt.Sprintf("evenly over %s", ramp)
		if arrival == "morning" {
			how = fmt.Sprintf("like a 3-hour closure morning compressed %.0f× into %s (50 %% in the first %s)",
				float64(scenario.MorningLength)/float64(ramp), ramp, (ramp / 3).Round(time.Second))
		}
		fmt.Fprintf(stderr, "storm: %d students (%s client) arrive %s\n", students, client, how)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d students, %s client, arriving %s; think time %s; %.0f %% resume a session", students, client, how, think, 100*resume))
	}

	var crowd *scenario.Crowd
	if scen == "morning" || scen == "mixed" || scen == "sweep" {
		crowd = scenario.NewCrowd(morning, t)
		morning.Crowd = crowd
		share := resume
		if scen == "sweep" {
			share = 1 // the sweep measures signed-in students; its newcomers sign out before each step
		}
		if share > 0 {
			// Spread evenly whatever the number of students (golden-ratio
			// sequence): student i resumes if frac(i·φ) < share.
			pick := func(i int) bool {
				_, f := math.Modf(float64(i) * 0.6180339887498949)
				return f < share
			}
			fmt.Fprintf(stderr, "storm: signing in the students who resume a session\n")
			n, err := crowd.SignIn(ctx, pick, 8, func(done, total int) {
				fmt.Fprintf(stderr, "\rstorm: signed in %d of %d", done, total)
			})
			fmt.Fprintln(stderr)
			if err != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("signing in before the run: %d signed in; first failure: %v", n, err))
			}
		}
	}
	before := scrapeApp(ctx, t.Client, appMetrics)
	appBefore := crowd.AppAnswers()

	switch scen {
	case "morning":
		res := morning.Run(ctx, t, progress)
		addMorning(&rep, res)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d of %d students signed in at the end", crowd.SignedIn(), students))
	case "flood", "loginflood":
		res := flood.Run(ctx, t)
		rep.Classes = append(rep.Classes, report.SummarizeOpen("attack", res, load.SLO{MaxLatency: slo}))
		rep.AttackSent = res.Sent
	case "slowloris", "slowpost":
		res := scenario.Slow{Conns: conns, Duration: duration, Kind: scen}.Run(ctx, t)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d connections opened, %d closed by the server, %d still open at the end", res.Opened, res.ClosedByServer, res.StillOpen))
	case "mixed":
		m, f := scenario.Mixed(ctx, t, morning, flood)
		addMorning(&rep, m)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d of %d students signed in at the end", crowd.SignedIn(), students))
		rep.Classes = append(rep.Classes, report.SummarizeOpen("attack", f, load.SLO{MaxLatency: slo}))
		rep.AttackSent = f.Sent
	case "sweep":
		runSweep(ctx, t, &rep, morning, flood, sweep, step, fresh, appMetrics, stderr)
	}
	fmt.Fprintln(stderr)
	stopWatch()
	watch.Wait()
	rep.Duration = time.Since(rep.Started)
	if scen != "sweep" && rep.AttackSent > 0 {
		if reached, ok := attackReached(context.Background(), t.Client, appMetrics, before, crowd.AppAnswers()-appBefore); ok {
			rep.AttackReachedBackend = reached
		} else {
			rep.Notes = append(rep.Notes, "the application's /metrics could not be read: attack requests reaching it are unknown")
		}
	}
	addChecks(&rep)
	return writeReport(rep, out, stdout)
}

// parseRange parses "5s-15s".
func parseRange(s string) (lo, hi time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err == nil {
		hi, err = time.ParseDuration(strings.TrimSpace(b))
	}
	if err != nil || lo < 0 || hi < lo || hi > time.Hour {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX, e.g. 5s-15s", s)
	}
	return lo, hi, nil
}

// appRequests is the application's count of requests it served (the
// shield's refusals, the waiting room and a proxy's refusals never reach
// it), the metrics endpoint's own excluded.
func scrapeApp(ctx context.Context, c *http.Client, url string) probe.Sample {
	s, err := probe.Scrape(ctx, c, url, "preau_http_requests_total")
	if err != nil {
		return nil
	}
	return s
}

func appServed(s probe.Sample) float64 {
	return s.Sum("preau_http_requests_total") - s.Sum("preau_http_requests_total", "route", "GET /metrics")
}

// attackReached is the number of attack requests the application served
// since before: everything it served, less what the students got from it.
func attackReached(ctx context.Context, c *http.Client, url string, before probe.Sample, students int64) (int, bool) {
	after := scrapeApp(ctx, c, url)
	if before == nil || after == nil {
		return 0, false
	}
	return max(0, int(appServed(after)-appServed(before))-int(students)), true
}

// addMorning adds a morning's classes, the logged-in students' classes
// together, and the waiting room's figures.
func addMorning(rep *report.Report, res scenario.MorningResult) {
	all := res.Merged(scenario.LoggedIn)
	if all.Requests > 0 {
		rep.Classes = append(rep.Classes, report.Summarize("logged-in", &all))
	}
	for _, name := range res.ClassNames() {
		rep.Classes = append(rep.Classes, report.Summarize(name, res.Classes[name]))
	}
	q := res.Queue
	rep.WaitingRoomQueued, rep.WaitingRoomWithETA = q.Queued, q.WithETA
	if q.Waits != nil && q.Queued > 0 {
		rep.WaitingRoomWait = q.Waits.Quantile(0.5)
	}
	if q.WithETA > 0 {
		rep.WaitingRoomETAError = q.ETAError.Quantile(0.5)
		rep.WaitingRoomETAErrorP90 = q.ETAError.Quantile(0.9)
		rep.WaitingRoomETABias = q.Bias
	}
}

// runSweep measures the target's capacity (signed-in students reading
// with no pause, if --capacity is not given), then runs the students
// against a flood at each multiple of it, one step each: before each step
// a share of them sign out and come back during the step's first half,
// through whatever the shield shows newcomers.
func runSweep(ctx context.Context, t scenario.Target, rep *report.Report, morning scenario.Morning, flood scenario.Flood, multiples []float64, step time.Duration, fresh float64, appMetrics string, stderr io.Writer) {
	slo := load.SLO{MaxLatency: rep.SLO}
	crowd := morning.Crowd
	if rep.Capacity <= 0 {
		busy := morning
		busy.Arrival, busy.Duration = func(int) time.Duration { return 0 }, step
		busy.Think = func(*rand.Rand) time.Duration { return 0 }
		res := busy.Run(ctx, t, nil)
		total := res.Merged(scenario.LoggedIn)
		rep.Capacity = float64(total.Success) / step.Seconds()
		fmt.Fprintf(stderr, "storm: capacity %.0f requests/s (%d signed-in students reading with no pause for %s)\n", rep.Capacity, morning.Students, step)
	}
	var last scenario.MorningResult
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for _, m := range multiples {
		if ctx.Err() != nil {
			break
		}
		// Students the last step left signed out stay newcomers: signing
		// them in through the API would meet the shield's challenge.
		arrive := make([]time.Duration, morning.Students) // signed-in students are there from the start
		crowd.SignOut(func(i int) bool {
			if rng.Float64() >= fresh {
				return false
			}
			arrive[i] = time.Duration(rng.Int64N(int64(step / 2)))
			return true
		})
		students := morning
		students.Duration, students.NewcomerCohort = step, true
		students.Arrival = func(i int) time.Duration { return arrive[i] }
		signedIn := crowd.SignedIn()
		before, appBefore := scrapeApp(ctx, t.Client, appMetrics), crowd.AppAnswers()
		var res scenario.MorningResult
		var attack load.Result
		if m == 0 {
			res = students.Run(ctx, t, nil)
		} else {
			f := flood
			f.Rate, f.Duration = m*rep.Capacity, step
			res, attack = scenario.Mixed(ctx, t, students, f)
			rep.AttackSent += attack.Sent
		}
		loggedIn := res.Merged(scenario.LoggedIn)
		p := report.Point{Multiple: m, Goodput: float64(loggedIn.Success) / step.Seconds(), P99: map[string]time.Duration{}, SuccessRate: map[string]float64{},
			AttackRate: float64(attack.Sent) / step.Seconds(), AttackReach: -1, Queued: res.Queue.Queued, SignedIn: signedIn}
		add := func(name string, c *load.ClassStats) {
			if c != nil && c.Requests > 0 {
				s := report.Summarize(name, c)
				p.P99[name], p.SuccessRate[name] = s.P99, s.SuccessRate
			}
		}
		add("logged-in", &loggedIn)
		add(scenario.ClassNewcomer, res.Classes[scenario.ClassNewcomer])
		if m > 0 {
			a := report.SummarizeOpen("attack", attack, slo)
			p.P99["attack"], p.SuccessRate["attack"] = a.P99, a.SuccessRate
			if reached, ok := attackReached(ctx, t.Client, appMetrics, before, crowd.AppAnswers()-appBefore); ok {
				rep.AttackReachedBackend += reached
				p.AttackReach = report.AttackReach(attack.Sent, reached)
			}
		}
		rep.Points = append(rep.Points, p)
		fmt.Fprintf(stderr, "storm: %gx: %d students signed in, their goodput %.0f/s; attack sent %.0f/s; %d newcomers queued\n", m, signedIn, p.Goodput, p.AttackRate, p.Queued)
		last = res
	}
	addMorning(rep, last)
	if len(rep.Points) > 1 && rep.Points[0].Goodput > 0 {
		// Per signed-in student: newcomers still queued at the end of a
		// step are not signed in at the start of the next.
		base := rep.Points[0].GoodputPerStudent()
		for _, p := range rep.Points[1:] {
			kept := p.GoodputPerStudent() / base
			rep.Checks = append(rep.Checks, report.Check{Name: fmt.Sprintf("logged-in goodput at %gx capacity", p.Multiple),
				Want: "≥ 95 % of no-attack goodput", Got: fmt.Sprintf("%.1f %%", 100*kept), OK: kept >= 0.95})
			rep.Checks = append(rep.Checks, report.Check{Name: fmt.Sprintf("logged-in p99 at %gx capacity", p.Multiple),
				Want: "< 1 s", Got: p.P99["logged-in"].Round(time.Millisecond).String(), OK: p.P99["logged-in"] < time.Second})
			if s, ok := p.SuccessRate[scenario.ClassNewcomer]; ok {
				rep.Checks = append(rep.Checks, report.Check{Name: fmt.Sprintf("newcomers without an error page at %gx", p.Multiple),
					Want: "100 %", Got: fmt.Sprintf("%.2f %%", 100*s), OK: s >= 1})
			}
			if p.AttackReach >= 0 {
				rep.Checks = append(rep.Checks, report.Check{Name: fmt.Sprintf("attack requests reaching the application at %gx", p.Multiple),
					Want: "< 5 %", Got: fmt.Sprintf("%.1f %%", 100*p.AttackReach), OK: p.AttackReach < 0.05})
			}
		}
	}
}

// addChecks compares the run with the targets that one run can
// check by itself (the sweep adds its own, step by step).
func addChecks(rep *report.Report) {
	if len(rep.Points) > 0 {
		return
	}
	for _, c := range rep.Classes {
		if c.Requests == 0 || (c.Class != "logged-in" && c.Class != scenario.ClassNewcomer) {
			continue
		}
		rep.Checks = append(rep.Checks,
			report.Check{Name: c.Class + ": no error shown", Want: "100 %", Got: fmt.Sprintf("%.2f %%", 100*c.SuccessRate), OK: c.SuccessRate >= 1})
		if c.Class == "logged-in" {
			rep.Checks = append(rep.Checks, report.Check{Name: c.Class + ": p99", Want: "< 1 s", Got: c.P99.Round(time.Millisecond).String(), OK: c.P99 < time.Second})
		}
	}
	if rep.AttackSent > 0 {
		reach := report.AttackReach(rep.AttackSent, rep.AttackReachedBackend)
		rep.Checks = append(rep.Checks, report.Check{Name: "attack requests reaching the application", Want: "< 5 %",
			Got: fmt.Sprintf("%.1f %%", 100*reach), OK: reach < 0.05})
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
