// Command sfu load-tests Préau's SFU (package internal/sfu) on loopback:
// one teacher publishes a 360p-like VP8 camera (about 500 kbit/s, 30 fps)
// and Opus-like audio; synthetic pion subscribers (no browser) join, first
// a burst of students at once (join latency), then the rest in waves; the
// stream then runs for the measured duration. It prints loss, packets, CPU
// seconds and join latency percentiles, and stops by itself.
//
// It runs in one of three roles:
//
//	go run ./bench/sfu -subscribers 1000 -duration 30s        # -role both
//	go run ./bench/sfu -role node -listen 127.0.0.1:18500
//	go run ./bench/sfu -role clients -node http://127.0.0.1:18500 -subscribers 1000 -duration 20s
//
// With -role both (the default) the subscribers run in the same process
// as the node, so the CPU seconds are the node's and the clients' together
// (the clients decrypt every packet the node encrypts): an upper bound for
// the node alone, and on two cores the clients starve the node.
//
// The split mode measures the node alone: -role node runs only the node
// and a small HTTP signalling endpoint on loopback (wire.go), which also
// serves the node's counters and its process's CPU time (/stats) and its
// profiles (/debug/pprof/); it stops when told (POST /stop), on SIGTERM,
// or after -max-lifetime. -role clients runs the teacher and the
// subscribers against it, reads the node's /stats at both ends of the
// measured window (node CPU per subscriber, forwarded bitrate, drops) and
// its own CPU time (a saturated clients process may be where the loss
// is), prints a markdown row for bench/sfu.sh, and stops the node at the
// end. bench/sfu.sh pins the two processes to different cores.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

func main() {
	var (
		subscribers = flag.Int("subscribers", 50, "synthetic subscribers")
		duration    = flag.Duration("duration", 10*time.Second, "measured duration once everyone has joined")
		burst       = flag.Int("burst", 30, "students joining at once for the join latency (part of -subscribers)")
		wave        = flag.Int("wave", 50, "subscribers joining at once after the burst")
		setup       = flag.Duration("setup-timeout", 3*time.Minute, "bound on joining everyone")
		workers     = flag.Int("workers", 0, "fan-out workers (0: the node's default)")
		verbose     = flag.Bool("v", false, "log the node's warnings")
		cpuprofile  = flag.String("cpuprofile", "", "write a CPU profile of the measured window to this file (the clients' in -role clients)")

		role        = flag.String("role", "both", "both: node and clients in this process; node: the node alone; clients: the clients of a -role node process")
		listen      = flag.String("listen", "127.0.0.1:0", "node: signalling HTTP address (loopback only)")
		ice         = flag.String("ice", "127.0.0.1:0", "node: ICE UDP address (loopback only)")
		maxLifetime = flag.Duration("max-lifetime", 15*time.Minute, "node: stop after this long whatever happens")
		nodeURL     = flag.String("node", "", "clients: the node's signalling URL, http://127.0.0.1:PORT")
		nodeProfile = flag.String("node-profile", "", "clients: write a CPU profile of the node process over the measured window to this file")
		keepNode    = flag.Bool("keep-node", false, "clients: leave the node running at the end")
		nodeCores   = flag.Float64("node-cores", 0, "clients: the node's CPU quota in cores, to judge its saturation (0: its CPUs)")
		count       = flag.Bool("count-at-socket", false, "clients: subscribers count packets from their clear RTP headers at the socket instead of decrypting them (sfutest.Options.CountAtSocket), so that the clients cost less CPU than the node they measure")
		header      = flag.Bool("table-header", false, "print the header of the markdown table whose rows -role clients prints, and exit")
	)
	flag.Parse()
	profile = *cpuprofile
	if *header {
		fmt.Println(rowHeader)
		return
	}
	var err error
	switch *role {
	case "both":
		err = run(*subscribers, *burst, *wave, *duration, *setup, *workers, *verbose)
	case "node":
		err = runNode(nodeOptions{listen: *listen, ice: *ice, workers: *workers, maxLifetime: *maxLifetime, verbose: *verbose})
	case "clients":
		_, err = runClients(clientsOptions{
			node: *nodeURL, subscribers: *subscribers, burst: *burst, wave: *wave,
			duration: *duration, setup: *setup, nodeProfile: *nodeProfile, cpuProfile: *cpuprofile, keepNode: *keepNode, nodeCores: *nodeCores,
			countAtSocket: *count,
		})
	default:
		err = fmt.Errorf("unknown -role %q: want both, node or clients", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu bench:", err)
		os.Exit(1)
	}
}

func run(subscribers, burst, wave int, duration, setup time.Duration, workers int, verbose bool) error {
	burst = min(burst, subscribers)
	var logOut io.Writer = io.Discard
	if verbose {
		logOut = os.Stderr
	}
	node, err := sfu.New(sfu.Config{
		ICEUDPAddr: "127.0.0.1:0",
		Workers:    workers,
		Logger:     slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer node.Close()
	room := node.Router("bench")
	ctx, cancel := context.WithTimeout(context.Background(), setup)
	defer cancel()

	teacher, err := join(room, "teacher")
	if err != nil {
		return err
	}
	defer teacher.c.Close()
	teacher.p.SetAllowed(sfu.KindAudio, sfu.KindCamera)
	sender, err := teacher.c.Publish(sfu.KindAudio, sfu.KindCamera)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	sender.Start()
	defer sender.Stop()
	for node.Stats().Tracks < 2 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the teacher's tracks were not published within %s", setup)
		case <-time.After(10 * time.Millisecond):
		}
	}

	fmt.Printf("machine: %d CPUs, GOMAXPROCS %d, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	var all []*member
	defer func() {
		for _, m := range all {
			m.c.Close()
		}
	}()

	// The burst: students joining at once, as at the start of a lesson.
	group, err := joinWave(ctx, room, 0, burst)
	all = append(all, group...)
	if err != nil {
		return err
	}
	var lat []time.Duration
	for _, m := range group {
		lat = append(lat, m.c.JoinLatency())
	}
	slices.Sort(lat)
	fmt.Printf("join latency, %d joining at once (join to first media packet): p50 %s  p99 %s  max %s\n",
		len(lat), pct(lat, 50), pct(lat, 99), lat[len(lat)-1])

	// The rest, in waves.
	start := time.Now()
	for len(all) < subscribers {
		group, err := joinWave(ctx, room, len(all), min(wave, subscribers-len(all)))
		all = append(all, group...)
		if err != nil {
			return err
		}
	}
	fmt.Printf("%d subscribers receiving after %s\n", len(all), time.Since(start).Round(time.Millisecond))

	// The measurement.
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	before := snapshot(all, sender, node)
	time.Sleep(duration) // the measured window itself, not a synchronisation
	after := snapshot(all, sender, node)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	report(before, after, len(all))
	return nil
}

var profile string

type member struct {
	c *sfutest.Client
	p *sfu.Peer
}

func join(room *sfu.Router, id string) (*member, error) {
	c, err := sfutest.NewClient(id, sfutest.Options{})
	if err != nil {
		return nil, err
	}
	p, err := room.Join(id, c.Callbacks())
	if err != nil {
		c.Close()
		return nil, err
	}
	c.Attach(p)
	return &member{c, p}, nil
}

// joinWave joins n subscribers at once and waits until each receives
// video.
func joinWave(ctx context.Context, room *sfu.Router, from, n int) ([]*member, error) {
	ms := make([]*member, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ms[i], errs[i] = join(room, fmt.Sprint("student-", from+i)) })
	}
	wg.Wait()
	var out []*member
	for i, m := range ms {
		if errs[i] != nil {
			return out, errs[i]
		}
		out = append(out, m)
	}
	for {
		waiting := 0
		for _, m := range out {
			if m.c.Received("teacher", "camera").Packets == 0 {
				waiting++
			}
		}
		if waiting == 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			for _, m := range out {
				if m.c.Received("teacher", "camera").Packets == 0 {
					fmt.Fprintf(os.Stderr, "%s: states %v errors %v audio %d %s\n", m.c.ID, m.c.States(), m.c.Errors(), m.c.Received("teacher", "audio").Packets, m.c.Debug())
				}
			}
			return out, fmt.Errorf("%d of %d subscribers from %d receive nothing after the setup timeout", waiting, n, from)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type snap struct {
	at                   time.Time
	cpu                  time.Duration
	sent                 int64
	video, audio         int64
	videoMiss, audioMiss int64
	stats                sfu.Stats
}

func snapshot(ms []*member, s *sfutest.Sender, n *sfu.Node) snap {
	sn := snap{at: time.Now(), cpu: cpuTime(), sent: s.Packets(), stats: n.Stats()}
	for _, m := range ms {
		v := m.c.Received("teacher", "camera")
		a := m.c.Received("teacher", "audio")
		sn.video += int64(v.Packets)
		sn.audio += int64(a.Packets)
		sn.videoMiss += int64(v.Missing)
		sn.audioMiss += int64(a.Missing)
	}
	return sn
}

func report(b, a snap, subs int) {
	secs := a.at.Sub(b.at).Seconds()
	received := (a.video - b.video) + (a.audio - b.audio)
	expected := (a.sent - b.sent) * int64(subs)
	gaps := (a.videoMiss - b.videoMiss) + (a.audioMiss - b.audioMiss)
	loss := 0.0
	if expected > 0 {
		loss = max(0, 100*(1-float64(received)/float64(expected)))
	}
	gapLoss := 0.0
	if received+gaps > 0 {
		gapLoss = 100 * float64(gaps) / float64(received+gaps)
	}
	cpu := (a.cpu - b.cpu).Seconds()
	fmt.Printf("measured %.1f s with %d subscribers of one ~%d kbit/s camera + audio\n", secs, subs, sfutest.VideoBitrate/1000)
	fmt.Printf("  packets: published %d, expected at subscribers %d, received %d (video %d, audio %d)\n",
		a.sent-b.sent, expected, received, a.video-b.video, a.audio-b.audio)
	fmt.Printf("  loss: %.3f %% (received vs expected), %.3f %% (sequence gaps)\n", loss, gapLoss)
	fmt.Printf("  CPU: %.2f s of the process (%.0f %% of one core), %.3f ms per subscriber per second (node and clients)\n",
		cpu, 100*cpu/secs, 1000*cpu/secs/float64(subs))
	d := func(f func(sfu.Stats) uint64) uint64 { return f(a.stats) - f(b.stats) }
	fmt.Printf("  node: forwarded %d packets (%.1f Mbit/s), dropped %d, NACKs %d, retransmitted %d, PLIs %d forwarded %d suppressed, mode changes %d\n",
		d(func(s sfu.Stats) uint64 { return s.PacketsForwarded }),
		float64(8*d(func(s sfu.Stats) uint64 { return s.BytesForwarded }))/secs/1e6,
		d(func(s sfu.Stats) uint64 { return s.PacketsDropped }),
		d(func(s sfu.Stats) uint64 { return s.NACKs }),
		d(func(s sfu.Stats) uint64 { return s.Retransmitted }),
		d(func(s sfu.Stats) uint64 { return s.PLIsForwarded }),
		d(func(s sfu.Stats) uint64 { return s.PLIsSuppressed }),
		d(func(s sfu.Stats) uint64 { return s.ModeChanges }))
	fmt.Printf("  node: %d peers, %d downtracks, goroutines %d\n", a.stats.Peers, a.stats.DownTracks, runtime.NumGoroutine())
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))].Round(time.Millisecond)
}

func cpuTime() time.Duration {
	user, sys := cpuTimes()
	return user + sys
}

// cpuTimes returns the process's user and system CPU time (getrusage), or
// zeros if it cannot be read.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
