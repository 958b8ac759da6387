package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

// clientsOptions configures the clients role.
type clientsOptions struct {
	node                    string // the node's signalling base URL
	subscribers, burst      int
	wave                    int
	duration, setup         time.Duration
	nodeProfile, cpuProfile string  // CPU profiles of the measured window, node's and clients'
	keepNode                bool    // do not stop the node at the end
	nodeCores               float64 // the node's CFS quota in cores, if any (0: its CPUs)
	countAtSocket           bool    // subscribers count packets at their socket instead of decrypting them
}

// runClients drives a node process: the teacher publishes, the students
// join (a burst, then waves), and the stream is measured for duration.
// CPU per subscriber is the node process's own, read from its /stats at
// both ends of the window. The node is told to stop at the end, whatever
// happened.
func runClients(o clientsOptions) (res result, err error) {
	o.burst = min(o.burst, o.subscribers)
	u, err := url.Parse(o.node)
	if err != nil || u.Scheme != "http" || !isLoopback(hostPort(u)) {
		return res, fmt.Errorf("clients: -node %q: want http://<loopback address>:<port>", o.node)
	}
	api := newNodeAPI(strings.TrimRight(o.node, "/"))
	api.countAtSocket = o.countAtSocket
	ctx, cancel := context.WithTimeout(context.Background(), o.setup)
	defer cancel()
	if err := api.waitReady(ctx); err != nil {
		return res, err
	}
	if !o.keepNode {
		defer func() {
			// A fresh context: the setup one may be what failed.
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if serr := api.call(sctx, "POST", "/stop", nil, nil); serr != nil && err == nil {
				err = fmt.Errorf("clients: stop the node: %w", serr)
			}
		}()
	}
	streamCtx, stopStream := context.WithCancel(context.Background())
	defer stopStream()
	if err := api.openEvents(streamCtx); err != nil {
		return res, err
	}

	var all []*sfutest.Client
	defer func() { closeAll(all) }()
	teacher, err := api.join(ctx, "teacher", "audio", "camera")
	if err != nil {
		return res, err
	}
	all = append(all, teacher)
	sender, err := teacher.Publish(sfu.KindAudio, sfu.KindCamera)
	if err != nil {
		return res, fmt.Errorf("clients: publish: %w", err)
	}
	sender.Start()
	defer sender.Stop()
	first, err := api.stats(ctx)
	for err == nil && first.Stats.Tracks < 2 {
		select {
		case <-ctx.Done():
			err = fmt.Errorf("the teacher's tracks were not published within %s", o.setup)
		case <-time.After(20 * time.Millisecond):
			first, err = api.stats(ctx)
		}
	}
	if err != nil {
		return res, fmt.Errorf("clients: %w", err)
	}
	fmt.Printf("clients: %d CPUs, GOMAXPROCS %d; node: %d CPUs, GOMAXPROCS %d; %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), first.NumCPU, first.GOMAXPROCS, runtime.Version())

	// The burst: students joining at once, as at the start of a lesson.
	group, err := api.joinWave(ctx, 0, o.burst)
	all = append(all, group...)
	if err != nil {
		return res, err
	}
	var lat []time.Duration
	for _, c := range group {
		lat = append(lat, c.JoinLatency())
	}
	slices.Sort(lat)
	fmt.Printf("join latency, %d joining at once (join request to first media packet): p50 %s  p99 %s  max %s\n",
		len(lat), pct(lat, 50), pct(lat, 99), lat[len(lat)-1])

	start := time.Now()
	for len(all)-1 < o.subscribers {
		group, err := api.joinWave(ctx, len(all)-1, min(o.wave, o.subscribers-(len(all)-1)))
		all = append(all, group...)
		if err != nil {
			return res, err
		}
	}
	subs := all[1:]
	fmt.Printf("%d subscribers receiving after %s\n", len(subs), time.Since(start).Round(time.Millisecond))

	// The measurement.
	profDone := make(chan error, 1)
	if o.nodeProfile != "" {
		go func() { profDone <- api.profile(o.nodeProfile, o.duration) }()
	} else {
		profDone <- nil
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return res, fmt.Errorf("clients: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, fmt.Errorf("clients: %w", err)
		}
	}
	mctx, mcancel := context.WithTimeout(context.Background(), o.duration+time.Minute)
	defer mcancel()
	before, err := api.splitSnapshot(mctx, subs, sender)
	if err != nil {
		return res, err
	}
	time.Sleep(o.duration) // the measured window itself, not a synchronisation
	after, err := api.splitSnapshot(mctx, subs, sender)
	if err != nil {
		return res, err
	}
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err := <-profDone; err != nil {
		fmt.Fprintln(os.Stderr, "clients: node profile:", err)
	}
	res = measure(before, after, len(subs), lat)
	if o.nodeCores > 0 {
		res.nodeCPUs = min(res.nodeCPUs, o.nodeCores)
	}
	res.print(os.Stdout)
	if serr := api.streamErr(); serr != nil {
		return res, fmt.Errorf("clients: events stream: %w", serr)
	}
	return res, nil
}

func hostPort(u *url.URL) string {
	if u.Port() == "" {
		return u.Host + ":80"
	}
	return u.Host
}

// closeAll closes the clients, a few at a time: a pion connection's
// Close waits for its goroutines, and a thousand one by one take long.
func closeAll(cs []*sfutest.Client) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, c := range cs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.Close()
		})
	}
	wg.Wait()
}

// nodeAPI is the clients' side of the signalling (wire.go).
type nodeAPI struct {
	base string
	hc   *http.Client

	mu      sync.Mutex
	peers   map[string]sfu.PeerCallbacks // whom the events are for
	err     error                        // why the events stream ended early
	streamC chan struct{}                // closed when the stream ends

	countAtSocket bool // subscribers in sfutest's CountAtSocket mode
}

func newNodeAPI(base string) *nodeAPI {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every joining client signals at once; keep their connections.
	tr.MaxIdleConnsPerHost = 512
	return &nodeAPI{base: base, hc: &http.Client{Transport: tr}, peers: make(map[string]sfu.PeerCallbacks)}
}

// callTimeout bounds one signalling request.
const callTimeout = 30 * time.Second

func (a *nodeAPI) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		return fmt.Errorf("%s %s: response: %w", method, path, err)
	}
	return nil
}

// waitReady waits for the node's signalling to answer (the script starts
// both processes at about the same time).
func (a *nodeAPI) waitReady(ctx context.Context) error {
	for {
		_, err := a.stats(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clients: node at %s not ready: %w", a.base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (a *nodeAPI) stats(ctx context.Context) (nodeStats, error) {
	var s nodeStats
	err := a.call(ctx, "GET", "/stats", nil, &s)
	return s, err
}

// profile writes a CPU profile of the node process over d to path.
func (a *nodeAPI) profile(path string, d time.Duration) error {
	secs := max(1, int((d+time.Second-1)/time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second+callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", a.base, secs), nil)
	if err != nil {
		return err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: %w", err)
	}
	return f.Close()
}

// openEvents starts reading the node's events stream and handing each
// event to its peer's callbacks (which queue it to the client's own
// goroutine, as sfutest clients expect).
func (a *nodeAPI) openEvents(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/events", nil)
	if err != nil {
		return fmt.Errorf("clients: events: %w", err)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("clients: events: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("clients: events: %s", resp.Status)
	}
	a.streamC = make(chan struct{})
	go func() {
		defer close(a.streamC)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), maxBody)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				a.setErr(fmt.Errorf("bad event: %w", err))
				return
			}
			a.dispatch(e)
		}
		if ctx.Err() == nil {
			err := sc.Err()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			a.setErr(err)
		}
	}()
	return nil
}

func (a *nodeAPI) setErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

func (a *nodeAPI) streamErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *nodeAPI) dispatch(e event) {
	a.mu.Lock()
	cb, ok := a.peers[e.ID]
	a.mu.Unlock()
	if !ok {
		return
	}
	t, _ := sfu.ParseTarget(e.Target)
	switch e.Type {
	case "offer":
		cb.OnSubscriberOffer(e.SDP)
	case "candidate":
		if e.Candidate != nil {
			cb.OnICECandidate(t, *e.Candidate)
		}
	case "state":
		cb.OnState(t, e.State)
	case "mode":
		if m, err := sfu.ParseMode(e.Mode); err == nil {
			cb.OnMode(m)
		}
	}
}

// join makes a client and joins it to the node's room, allowed to publish
// the given kinds. Its join latency counts from the join request.
func (a *nodeAPI) join(ctx context.Context, id string, allow ...string) (*sfutest.Client, error) {
	// Publishers decrypt: a counting client cannot publish.
	c, err := sfutest.NewClient(id, sfutest.Options{CountAtSocket: a.countAtSocket && len(allow) == 0})
	if err != nil {
		return nil, fmt.Errorf("clients: %s: %w", id, err)
	}
	a.mu.Lock()
	a.peers[id] = c.Callbacks()
	a.mu.Unlock()
	c.Attach(&remotePeer{api: a, id: id})
	if err := a.call(ctx, "POST", "/join", joinRequest{ID: id, Allow: allow}, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("clients: %w", err)
	}
	return c, nil
}

// joinWave joins n subscribers at once and waits until each receives
// video.
func (a *nodeAPI) joinWave(ctx context.Context, from, n int) ([]*sfutest.Client, error) {
	cs := make([]*sfutest.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { cs[i], errs[i] = a.join(ctx, fmt.Sprint("student-", from+i)) })
	}
	wg.Wait()
	var out []*sfutest.Client
	for i, c := range cs {
		if errs[i] != nil {
			closeAll(out)
			return nil, errs[i]
		}
		out = append(out, c)
	}
	for {
		waiting := 0
		for _, c := range out {
			if c.Received("teacher", "camera").Packets == 0 {
				waiting++
			}
		}
		if waiting == 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			for _, c := range out {
				if c.Received("teacher", "camera").Packets == 0 {
					fmt.Fprintf(os.Stderr, "%s: states %v errors %v audio %d %s\n", c.ID, c.States(), c.Errors(), c.Received("teacher", "audio").Packets, c.Debug())
				}
			}
			return out, fmt.Errorf("clients: %d of %d subscribers from %d receive nothing after the setup timeout (events stream: %v)", waiting, n, from, a.streamErr())
		case <-a.streamC:
			return out, fmt.Errorf("clients: the node's events stream ended: %w", a.streamErr())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// remotePeer is a client's node-side peer, over HTTP: sfutest.Signaller.
type remotePeer struct {
	api *nodeAPI
	id  string
}

func (r *remotePeer) HandlePublisherOffer(offer string) (string, error) {
	var ans sdpMessage
	err := r.api.call(context.Background(), "POST", "/publish", sdpMessage{ID: r.id, SDP: offer}, &ans)
	return ans.SDP, err
}

func (r *remotePeer) HandleSubscriberAnswer(answer string) error {
	return r.api.call(context.Background(), "POST", "/answer", sdpMessage{ID: r.id, SDP: answer}, nil)
}

func (r *remotePeer) AddICECandidate(t sfu.Target, c webrtc.ICECandidateInit) error {
	return r.api.call(context.Background(), "POST", "/candidate", candidateMessage{ID: r.id, Target: t.String(), Candidate: c}, nil)
}

// splitSnap is one end of the measured window in split mode.
type splitSnap struct {
	at        time.Time
	clientCPU time.Duration
	sent      int64
	recv      received
	node      nodeStats
}

func (a *nodeAPI) splitSnapshot(ctx context.Context, cs []*sfutest.Client, s *sfutest.Sender) (splitSnap, error) {
	sn := splitSnap{at: time.Now(), clientCPU: cpuTime(), sent: s.Packets(), recv: countReceived(cs)}
	var err error
	if sn.node, err = a.stats(ctx); err != nil {
		return sn, fmt.Errorf("clients: node stats: %w", err)
	}
	return sn, nil
}

// received adds up what the subscribers got of the teacher's tracks.
type received struct {
	video, audio         int64
	videoMiss, audioMiss int64
}

func countReceived(cs []*sfutest.Client) received {
	var r received
	for _, c := range cs {
		v := c.Received("teacher", "camera")
		a := c.Received("teacher", "audio")
		r.video += int64(v.Packets)
		r.audio += int64(a.Packets)
		r.videoMiss += int64(v.Missing)
		r.audioMiss += int64(a.Missing)
	}
	return r
}

// result is the split mode's measurement of one run.
type result struct {
	subscribers              int
	secs                     float64 // measured window, by the clients' clock
	published                int64
	expected, received       int64
	video, audio             int64
	loss, gapLoss            float64 // percent
	nodeCPU, nodeSecs        float64 // CPU seconds of the node process, and its window by its own clock
	nodeSys                  float64 // of which system time
	nodeCPUs                 float64 // cores the node may use: its CPUs, or its CFS quota
	clientCPU                float64 // CPU seconds of the clients process
	clientCPUs               int
	forwarded, dropped       uint64
	bytesFwd                 uint64
	nacks, retransmitted     uint64
	plis, plisSuppressed     uint64
	modeChanges              uint64
	joinP50, joinP99, joinMx time.Duration
	burst                    int
	peers, downTracks        int
}

func measure(b, a splitSnap, subs int, lat []time.Duration) result {
	r := result{
		subscribers: subs,
		secs:        a.at.Sub(b.at).Seconds(),
		published:   a.sent - b.sent,
		video:       a.recv.video - b.recv.video,
		audio:       a.recv.audio - b.recv.audio,
		nodeCPU:     (a.node.CPU - b.node.CPU).Seconds(),
		nodeSys:     (a.node.SysCPU - b.node.SysCPU).Seconds(),
		nodeSecs:    a.node.At.Sub(b.node.At).Seconds(),
		nodeCPUs:    float64(a.node.NumCPU),
		clientCPU:   (a.clientCPU - b.clientCPU).Seconds(),
		clientCPUs:  runtime.NumCPU(),
		burst:       len(lat),
		peers:       a.node.Stats.Peers,
		downTracks:  a.node.Stats.DownTracks,
	}
	r.received = r.video + r.audio
	r.expected = r.published * int64(subs)
	gaps := (a.recv.videoMiss - b.recv.videoMiss) + (a.recv.audioMiss - b.recv.audioMiss)
	if r.expected > 0 {
		r.loss = max(0, 100*(1-float64(r.received)/float64(r.expected)))
	}
	if r.received+gaps > 0 {
		r.gapLoss = 100 * float64(max(0, gaps)) / float64(r.received+gaps)
	}
	as, bs := a.node.Stats, b.node.Stats
	r.forwarded = as.PacketsForwarded - bs.PacketsForwarded
	r.bytesFwd = as.BytesForwarded - bs.BytesForwarded
	r.dropped = as.PacketsDropped - bs.PacketsDropped
	r.nacks = as.NACKs - bs.NACKs
	r.retransmitted = as.Retransmitted - bs.Retransmitted
	r.plis = as.PLIsForwarded - bs.PLIsForwarded
	r.plisSuppressed = as.PLIsSuppressed - bs.PLIsSuppressed
	r.modeChanges = as.ModeChanges - bs.ModeChanges
	if len(lat) > 0 {
		r.joinP50, r.joinP99, r.joinMx = pct(lat, 50), pct(lat, 99), lat[len(lat)-1]
	}
	return r
}

// saturatedAt is the share of its CPUs above which a process is taken
// as saturated: its work then waits for CPU, and loss may be its own.
const saturatedAt = 0.9

// backlog is how much more the subscribers received than was published
// in the window, in percent: packets queued before it (in the node's
// socket buffer or fan-out queues, or the clients') delivered late. A
// few per mille is the window's edges; more means someone fell behind,
// and the loss is still to come.
func (r result) backlog() float64 {
	if r.expected == 0 {
		return 0
	}
	return 100 * (float64(r.received)/float64(r.expected) - 1)
}

// publishRate is the teacher's packets per second: 112.7 when its
// tickers keep time (60 video packets, 2.7 more for a keyframe every 3 s,
// 50 audio); less means the clients' core made it late too.
func (r result) publishRate() float64 { return float64(r.published) / r.secs }

func (r result) nodeCores() float64   { return r.nodeCPU / r.nodeSecs }
func (r result) sysShare() float64    { return 100 * r.nodeSys / max(r.nodeCPU, 1e-9) }
func (r result) clientCores() float64 { return r.clientCPU / r.secs }
func (r result) nodeSaturated() bool {
	return r.nodeCores() >= saturatedAt*r.nodeCPUs
}
func (r result) clientSaturated() bool {
	return r.clientCores() >= saturatedAt*float64(r.clientCPUs)
}

// nodeUsPerPacket is the node's CPU time per packet forwarded, in µs: the
// cost of one write to one subscriber, whatever the publisher's rate.
func (r result) nodeUsPerPacket() float64 {
	return 1e6 * r.nodeCPU / float64(max(1, r.forwarded))
}

// nodeMsPerSub is the node's CPU time per subscriber per second, in ms.
func (r result) nodeMsPerSub() float64 {
	return 1000 * r.nodeCores() / float64(max(1, r.subscribers))
}

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "measured %.1f s with %d subscribers of one ~%d kbit/s camera + audio\n", r.secs, r.subscribers, sfutest.VideoBitrate/1000)
	fmt.Fprintf(w, "  packets: published %d (%.1f/s; 112.7/s when the publisher keeps time), expected at subscribers %d, received %d (video %d, audio %d)\n",
		r.published, r.publishRate(), r.expected, r.received, r.video, r.audio)
	fmt.Fprintf(w, "  loss: %.3f %% (received vs expected), %.3f %% (sequence gaps)\n", r.loss, r.gapLoss)
	if r.backlog() > 1 {
		fmt.Fprintf(w, "  BACKLOG: %.1f %% more received than published in the window: the node or the clients fell behind\n", r.backlog())
	}
	fmt.Fprintf(w, "  node CPU: %.2f s (%.2f cores of %g%s; %.0f %% system), %.3f ms per subscriber per second, %.1f µs per packet forwarded (node process only)\n",
		r.nodeCPU, r.nodeCores(), r.nodeCPUs, satNote(r.nodeSaturated()), r.sysShare(), r.nodeMsPerSub(), r.nodeUsPerPacket())
	fmt.Fprintf(w, "  clients CPU: %.2f s (%.2f cores of %d%s)\n", r.clientCPU, r.clientCores(), r.clientCPUs, satNote(r.clientSaturated()))
	fmt.Fprintf(w, "  node: forwarded %d packets (%.1f Mbit/s), dropped %d, NACKs %d, retransmitted %d, PLIs %d forwarded %d suppressed, mode changes %d\n",
		r.forwarded, float64(8*r.bytesFwd)/r.nodeSecs/1e6, r.dropped, r.nacks, r.retransmitted, r.plis, r.plisSuppressed, r.modeChanges)
	fmt.Fprintf(w, "  node: %d peers, %d downtracks\n", r.peers, r.downTracks)
	fmt.Fprintf(w, "row: %s\n", r.row())
}

func satNote(saturated bool) string {
	if saturated {
		return ", SATURATED"
	}
	return ""
}

// rowHeader and row are the markdown table bench/sfu.sh prints.
const rowHeader = "| Subscribers | Loss (recv vs expected) | Loss (seq gaps) | Packets received / expected | Node CPU (cores) | Node CPU per subscriber | Forwarded | Node drops / mode changes | Join p50 / p99 (burst) | Clients CPU (cores) |\n" +
	"|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"

func (r result) row() string {
	node := fmt.Sprintf("%.2f of %g (%.0f %% sys)", r.nodeCores(), r.nodeCPUs, r.sysShare())
	if r.nodeSaturated() {
		node += " **saturated**"
	}
	clients := fmt.Sprintf("%.2f of %d", r.clientCores(), r.clientCPUs)
	if r.clientSaturated() {
		clients += " **saturated: loss may be the clients'**"
	}
	loss := fmt.Sprintf("%.3f %%", r.loss)
	if r.backlog() > 1 {
		loss += fmt.Sprintf(" **backlog +%.1f %%**", r.backlog())
	}
	return fmt.Sprintf("| %d | %s | %.3f %% | %d / %d | %s | %.3f ms/s (%.1f µs/packet) | %.1f Mbit/s (%.0f packets/s published) | %d / %d | %s / %s (%d) | %s |",
		r.subscribers, loss, r.gapLoss, r.received, r.expected, node, r.nodeMsPerSub(), r.nodeUsPerPacket(),
		float64(8*r.bytesFwd)/r.nodeSecs/1e6, r.publishRate(), r.dropped, r.modeChanges, r.joinP50, r.joinP99, r.burst, clients)
}
