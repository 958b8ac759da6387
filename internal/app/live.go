package app

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"preau/internal/i18n"
	"preau/internal/live"
	"preau/internal/sfu"
)

// openLive starts the media node and the live classes (--live).
func (a *App) openLive(ctx context.Context) error {
	cfg := a.Config
	if !cfg.Live {
		return nil
	}
	turnHost := ""
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		turnHost = u.Hostname() // the name users reach the server by
	}
	// The node degrades badly once its CPU saturates (packets queue, NACKs
	// and retransmissions pile up): admit below it. One core forwarded a
	// 500 kbit/s stream to 600 subscribers at 0.73 of a core on the
	// reference machine (bench/RESULTS.md), so 400 per CPU leaves room
	// for the web pages on the same machine.
	maxSubs := cfg.LiveMaxSubscribers
	if maxSubs == 0 {
		maxSubs = 400 * runtime.GOMAXPROCS(0)
	}
	node, err := sfu.New(sfu.Config{
		ICEUDPAddr: cfg.LiveUDP, ICETCPAddr: cfg.LiveTCP, TURNUDPAddr: cfg.TURNUDP, TURNTCPAddr: cfg.TURNTCP,
		PublicIPs: cfg.LivePublicIPs, TURNHost: turnHost, TURNKey: derive(a.secret, "turn"),
		MaxSubscribers: maxSubs, MaxBitrate: cfg.LiveMaxKbps * 1000, Logger: a.Log,
	})
	if err != nil {
		return fmt.Errorf("app: live classes' media node (--live-udp %s, --turn-udp %s, --turn-tcp %s; --live=false runs without): %w",
			cfg.LiveUDP, cfg.TURNUDP, cfg.TURNTCP, err)
	}
	svc, err := live.New(live.Config{Store: a.Store, Blobs: a.Blobs, Node: node, Log: a.Log,
		Translate: i18n.T, MaxSlideBytes: cfg.MaxUploadBytes})
	if err != nil {
		node.Close()
		return fmt.Errorf("app: %w", err)
	}
	if err := svc.Recover(ctx); err != nil {
		node.Close()
		return fmt.Errorf("app: %w", err)
	}
	a.Live, a.node = svc, node
	iceUDP, _, turnUDP, turnTCP := node.Addrs()
	a.Log.Info("live classes ready", "ice_udp", addrString(iceUDP), "turn_udp", addrString(turnUDP), "turn_tcp", addrString(turnTCP))
	return nil
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// closeLive ends the classes (their ends and registers recorded) and
// stops the media node.
func (a *App) closeLive() {
	if a.Live == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Live.Close(ctx)
	if err := a.node.Close(); err != nil {
		a.Log.Error("close the live classes' media node", "err", err)
	}
	a.Live = nil
}

// liveCollector exposes the live classes' and the media node's counters.
type liveCollector struct {
	svc  *live.Service
	node *sfu.Node
	desc map[string]*prometheus.Desc
}

func newLiveCollector(svc *live.Service, node *sfu.Node) *liveCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &liveCollector{svc: svc, node: node, desc: map[string]*prometheus.Desc{
		"classes":     d("preau_live_classes", "Live classes running on this node."),
		"started":     d("preau_live_classes_started_total", "Live classes started."),
		"sessions":    d("preau_live_sessions_total", "Participants' WebSocket sessions opened."),
		"connected":   d("preau_live_sessions_open", "Participants' WebSocket sessions open now."),
		"refused":     d("preau_live_joins_refused_total", "Joins refused (not enrolled, removed, locked, ended)."),
		"bad":         d("preau_live_bad_frames_total", "Signalling frames refused (malformed, not permitted, invalid)."),
		"peers":       d("preau_sfu_peers", "Participants joined to the media node."),
		"subscribers": d("preau_sfu_subscribers", "Participants receiving at least one track."),
		"tracks":      d("preau_sfu_tracks", "Published tracks being forwarded."),
		"downtracks":  d("preau_sfu_down_tracks", "Outgoing tracks (one per subscriber per forwarded track)."),
		"waiting":     d("preau_sfu_admission_waiting", "Joins waiting for room on the media node."),
		"held":        d("preau_sfu_admission_held", "1 while the media node holds joins because it dropped packets in the last 10 s (overloaded), else 0."),
		"pkts_in":     d("preau_sfu_packets_received_total", "RTP packets received from publishers."),
		"pkts_out":    d("preau_sfu_packets_forwarded_total", "RTP packets written to subscribers."),
		"bytes_out":   d("preau_sfu_bytes_forwarded_total", "RTP bytes written to subscribers."),
		"dropped":     d("preau_sfu_packets_dropped_total", "RTP packets not written (slow subscribers)."),
		"nacks":       d("preau_sfu_nacks_total", "Packets subscribers asked to resend."),
		"plis":        d("preau_sfu_keyframe_requests_total", "Keyframe requests forwarded to publishers."),
		"refusedpub":  d("preau_sfu_publications_refused_total", "Tracks or offers refused (not permitted)."),
		"modes":       d("preau_sfu_mode_changes_total", "Subscribers moved between video, audio and data only."),
		"admrefused":  d("preau_sfu_admission_refused_total", "Joins refused by the media node's budget."),
		"badsig":      d("preau_sfu_bad_signalling_total", "Malformed SDP or ICE candidates."),
		"turn":        d("preau_turn_allocations", "Relays allocated on the embedded TURN server."),
	}}
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.desc {
		ch <- d
	}
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	ls, ns := c.svc.Stats(), c.node.Stats()
	g := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.desc[k], prometheus.GaugeValue, v) }
	n := func(k string, v uint64) {
		ch <- prometheus.MustNewConstMetric(c.desc[k], prometheus.CounterValue, float64(v))
	}
	g("classes", float64(ls.Running))
	n("started", ls.Started)
	n("sessions", ls.Sessions)
	g("connected", float64(ls.Connected))
	n("refused", ls.Refused)
	n("bad", ls.BadFrames)
	g("peers", float64(ns.Peers))
	g("subscribers", float64(ns.Subscribers))
	g("tracks", float64(ns.Tracks))
	g("downtracks", float64(ns.DownTracks))
	g("waiting", float64(ns.Waiting))
	held := 0.0
	if ns.AdmissionHeld {
		held = 1
	}
	g("held", held)
	n("pkts_in", ns.PacketsIn)
	n("pkts_out", ns.PacketsForwarded)
	n("bytes_out", ns.BytesForwarded)
	n("dropped", ns.PacketsDropped)
	n("nacks", ns.NACKs)
	n("plis", ns.PLIsForwarded)
	n("refusedpub", ns.PublicationsRefused)
	n("modes", ns.ModeChanges)
	n("admrefused", ns.AdmissionRefused)
	n("badsig", ns.BadSignalling)
	g("turn", float64(ns.TURNAllocations))
}
