package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// Node is one SFU: the shared UDP (and TCP) ICE port, the embedded TURN
// server, the fan-out workers, the admission budget and the routers of
// the live classes it serves. Its methods are safe for concurrent use.
type Node struct {
	cfg     Config
	log     *slog.Logger
	pubAPI  *webrtc.API
	subAPI  *webrtc.API
	udpAddr net.Addr
	tcpAddr net.Addr
	turn    *turn.Server
	turnUDP net.Addr
	turnTCP net.Addr
	relayIP net.IP
	closers []func() error

	fan   *fanout
	adm   *admission
	stats counters

	mu      sync.Mutex
	routers map[string]*Router
	closed  bool

	stop chan struct{}
	done chan struct{}

	overloadMu  sync.Mutex
	lastDropped uint64    // packets dropped for a full fan-out queue, at the last health tick
	heldUntil   time.Time // admission is held until then
}

// overloadHold is how long joins wait after the node last dropped a
// packet for want of CPU (a fan-out worker's queue full).
const overloadHold = 10 * time.Second

// watchOverload holds admission while the node drops packets, and for
// overloadHold after. The budget of subscribers is set for a node with
// its CPUs to itself; when something else takes them (a flood on the web
// side of the same process, another program), the fan-out workers fall
// behind before the budget is reached, and every further subscriber makes
// it worse for all: past saturation a node collapses rather than degrades
// (bench/RESULTS.md). Joins then wait in line, with their position shown,
// instead. Called by the health loop.
func (n *Node) watchOverload(now time.Time) {
	n.overloadMu.Lock()
	d := n.stats.overflowed.Load() // not write errors: a subscriber leaving is no overload
	if d > n.lastDropped {
		n.heldUntil = now.Add(overloadHold)
	}
	n.lastDropped = d
	held := now.Before(n.heldUntil)
	n.overloadMu.Unlock()
	if n.adm.hold(held) {
		if held {
			n.log.Warn("sfu overloaded: packets dropped, new joins wait", "dropped", d)
		} else {
			n.log.Info("sfu no longer overloaded: joins admitted again")
		}
	}
}

// healthInterval is how often each subscriber's congestion signals are
// sampled and fed to its ladder.
const healthInterval = time.Second

// New starts a node: it binds the ICE UDP port (and ICE-TCP and TURN ports
// when configured), starts the fan-out workers and the health loop. Close
// releases them. Errors wrap ErrConfig for an invalid Config.
func New(cfg Config) (_ *Node, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "sfu"),
		routers: make(map[string]*Router),
		adm:     newAdmission(cfg.admissionLimit(), cfg.AdmissionQueue, cfg.AdmissionWait),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		relayIP: defaultRelayIP(cfg),
	}
	defer func() {
		if err != nil {
			n.closeListeners()
		}
	}()
	logs := pionLogs{cfg.Logger}

	se := webrtc.SettingEngine{LoggerFactory: logs}
	// Every peer shares one UDP port: the mux tells connections apart by
	// their ICE username fragment.
	udpConn, err := net.ListenPacket("udp", cfg.ICEUDPAddr)
	if err != nil {
		return nil, fmt.Errorf("sfu: ICE UDP listener: %w", err)
	}
	n.udpAddr = udpConn.LocalAddr()
	udpMux := webrtc.NewICEUDPMux(logs.NewLogger("udpmux"), udpConn)
	n.closers = append(n.closers, udpMux.Close)
	se.SetICEUDPMux(udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	loopback := isLoopbackAddr(cfg.ICEUDPAddr)
	if cfg.ICETCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.ICETCPAddr)
		if err != nil {
			return nil, fmt.Errorf("sfu: ICE TCP listener: %w", err)
		}
		n.tcpAddr = ln.Addr()
		tcpMux := webrtc.NewICETCPMux(logs.NewLogger("tcpmux"), ln, 64)
		n.closers = append(n.closers, tcpMux.Close)
		se.SetICETCPMux(tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
		loopback = loopback || isLoopbackAddr(cfg.ICETCPAddr)
	}
	se.SetNetworkTypes(networks)
	// Pion drops loopback candidates by default; a node listening on
	// loopback (tests, a reverse tunnel) must announce them.
	se.SetIncludeLoopbackCandidate(loopback)
	// The node is passive: clients connect to it. No mDNS (its candidates
	// are real addresses) and no active TCP dialling out to clients.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableActiveTCP(true)
	if len(cfg.PublicIPs) > 0 {
		// Append, not replace: the local address stays a candidate, so the
		// embedded TURN relay reaches the node without the NAT hairpinning.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteAppend,
		}); err != nil {
			return nil, fmt.Errorf("sfu: public IPs: %w", err)
		}
	}
	if n.pubAPI, err = newPublisherAPI(se); err != nil {
		return nil, apiError("publisher", err)
	}
	if n.subAPI, err = newSubscriberAPI(se); err != nil {
		return nil, apiError("subscriber", err)
	}
	if cfg.TURNUDPAddr != "" || cfg.TURNTCPAddr != "" {
		if err := n.startTURN(n.relayIP); err != nil {
			return nil, err
		}
	}
	n.fan = newFanout(cfg.Workers, &n.stats)
	go n.healthLoop()
	n.log.Info("sfu started", "ice_udp", n.udpAddr, "ice_tcp", n.tcpAddr, "turn_udp", n.turnUDP, "turn_tcp", n.turnTCP)
	return n, nil
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addrs reports the addresses the node listens on (nil when off): ICE
// UDP, ICE TCP, TURN UDP, TURN TCP. Useful with port 0. Safe for
// concurrent use.
func (n *Node) Addrs() (iceUDP, iceTCP, turnUDP, turnTCP net.Addr) {
	return n.udpAddr, n.tcpAddr, n.turnUDP, n.turnTCP
}

// Admit takes a place in the node's subscriber budget for one joining
// participant, waiting in a FIFO line while the budget is spent. While it
// waits, onQueued (if not nil) is called from Admit's goroutine with the
// 1-based position each time it changes. It returns a release function to
// call when the participant leaves (idempotent), or an error wrapping
// ErrOverBudget (line full, or no room within Config.AdmissionWait),
// ctx.Err() (cancelled), or ErrClosed. Safe for concurrent use.
func (n *Node) Admit(ctx context.Context, onQueued func(position int)) (release func(), err error) {
	return n.adm.admit(ctx, onQueued)
}

// Router returns the router of a live class, creating it on first use.
// Close it when the class ends. It returns nil once the node is closed.
// Safe for concurrent use.
func (n *Node) Router(id string) *Router {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	r, ok := n.routers[id]
	if !ok {
		r = &Router{id: id, node: n, peers: make(map[string]*Peer), tracks: make(map[*upTrack]struct{})}
		n.routers[id] = r
	}
	return r
}

func (n *Node) removeRouter(r *Router) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.routers[r.id] == r {
		delete(n.routers, r.id)
	}
}

func (n *Node) routerList() []*Router {
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := make([]*Router, 0, len(n.routers))
	for _, r := range n.routers {
		rs = append(rs, r)
	}
	return rs
}

// Close closes every router and peer, stops TURN, the workers and the
// listeners. It is idempotent. Safe for concurrent use.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.adm.close()
	close(n.stop)
	<-n.done
	for _, r := range n.routerList() {
		r.Close()
	}
	var errs []error
	if n.turn != nil {
		errs = append(errs, n.turn.Close())
	}
	errs = append(errs, n.closeListeners())
	n.fan.close()
	return errors.Join(errs...)
}

func (n *Node) closeListeners() error {
	var errs []error
	for _, c := range n.closers {
		if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}

// healthLoop samples every subscriber's congestion signals once per
// healthInterval, one goroutine for the whole node.
func (n *Node) healthLoop() {
	defer close(n.done)
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			now := n.cfg.Now()
			n.watchOverload(now)
			for _, r := range n.routerList() {
				for _, p := range r.peerList() {
					p.sampleHealth(now)
				}
			}
		}
	}
}
