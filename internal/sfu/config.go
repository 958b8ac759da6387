package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// Config configures a Node. The zero value serves ICE on UDP port 7881 on
// every interface with no TURN, no ICE-TCP and no admission limit.
type Config struct {
	// ICEUDPAddr is the single UDP address every peer's media uses (ICE
	// UDP mux). Default ":7881"; "127.0.0.1:0" picks a free port (tests).
	// Its host part is the listen IP.
	ICEUDPAddr string
	// ICETCPAddr, if set, also serves ICE over TCP (passive candidates):
	// the fallback for networks that drop UDP but allow TCP to the node.
	ICETCPAddr string
	// TURNUDPAddr and TURNTCPAddr, if set, start the embedded TURN server
	// on them (TURN over TCP reaches networks that block UDP altogether;
	// port 443 passes most school firewalls). Either needs TURNKey.
	TURNUDPAddr string
	TURNTCPAddr string
	// PublicIPs are the addresses clients reach the node at, announced in
	// ICE candidates beside the local ones (1:1 NAT, as SetNAT1To1IPs).
	PublicIPs []string
	// TURNHost is the host name or IP put in the TURN URLs given to
	// clients. Default: the first PublicIP, else the TURN listen IP, else
	// TURNRelayIP.
	TURNHost string
	// TURNRelayIP is the address TURN allocations relay from. Only this
	// node's SFU ever sends to it, so it must be a local address the node
	// reaches, and one of its ICE candidates. Default: the ICE UDP listen
	// IP if specific, else the first non-loopback IPv4 address, else
	// 127.0.0.1.
	TURNRelayIP string
	// TURNRealm is the TURN realm. Default "preau".
	TURNRealm string
	// TURNKey is the shared secret TURN credentials are derived from
	// (time-limited HMAC, the "TURN REST API"). At least 16 bytes.
	TURNKey []byte
	// TURNCredentialTTL is how long credentials from ICEServers are valid.
	// Default 6 hours (a school day's lessons; a reconnect gets new ones).
	TURNCredentialTTL time.Duration

	// MaxSubscribers caps the subscribers Admit lets in. 0: no cap.
	MaxSubscribers int
	// MaxBitrate caps the total bitrate forwarded, in bit/s: Admit counts
	// SubscriberBitrate for each subscriber it lets in. 0: no cap.
	MaxBitrate int64
	// SubscriberBitrate is what Admit reserves per subscriber against
	// MaxBitrate. Default 600 kbit/s (a 360p camera and Opus).
	SubscriberBitrate int64
	// AdmissionWait is how long a join over budget waits in line before
	// it is refused. Default 30 s.
	AdmissionWait time.Duration
	// AdmissionQueue bounds the line. Default 1000.
	AdmissionQueue int

	// Workers is the number of fan-out goroutines writing to subscribers.
	// Default 2 × GOMAXPROCS.
	Workers int

	// Logger receives the node's logs (and pion's, a level lower).
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for TURN credentials, keyframe request pacing and
	// the degradation ladder. Default time.Now.
	Now func() time.Time
}

const (
	defaultICEUDPAddr        = ":7881"
	defaultTURNRealm         = "preau"
	defaultTURNCredentialTTL = 6 * time.Hour
	defaultSubscriberBitrate = 600_000
	defaultAdmissionWait     = 30 * time.Second
	defaultAdmissionQueue    = 1000
	minTURNKey               = 16
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ICEUDPAddr == "" {
		c.ICEUDPAddr = defaultICEUDPAddr
	}
	if c.TURNRealm == "" {
		c.TURNRealm = defaultTURNRealm
	}
	if c.TURNCredentialTTL == 0 {
		c.TURNCredentialTTL = defaultTURNCredentialTTL
	}
	if c.SubscriberBitrate == 0 {
		c.SubscriberBitrate = defaultSubscriberBitrate
	}
	if c.AdmissionWait == 0 {
		c.AdmissionWait = defaultAdmissionWait
	}
	if c.AdmissionQueue == 0 {
		c.AdmissionQueue = defaultAdmissionQueue
	}
	if c.Workers == 0 {
		c.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate reports every problem at once.
func (c Config) validate() error {
	var errs []error
	addr := func(name, v string) {
		if v == "" {
			return
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, v, err))
		}
	}
	addr("ICEUDPAddr", c.ICEUDPAddr)
	addr("ICETCPAddr", c.ICETCPAddr)
	addr("TURNUDPAddr", c.TURNUDPAddr)
	addr("TURNTCPAddr", c.TURNTCPAddr)
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("PublicIPs: %q is not an IP address", ip))
		}
	}
	if c.TURNRelayIP != "" && net.ParseIP(c.TURNRelayIP) == nil {
		errs = append(errs, fmt.Errorf("TURNRelayIP: %q is not an IP address", c.TURNRelayIP))
	}
	if (c.TURNUDPAddr != "" || c.TURNTCPAddr != "") && len(c.TURNKey) < minTURNKey {
		errs = append(errs, fmt.Errorf("TURNKey: %d bytes, TURN needs at least %d", len(c.TURNKey), minTURNKey))
	}
	if c.MaxSubscribers < 0 || c.MaxBitrate < 0 || c.SubscriberBitrate < 0 {
		errs = append(errs, errors.New("MaxSubscribers, MaxBitrate and SubscriberBitrate must not be negative"))
	}
	if c.AdmissionWait < 0 || c.AdmissionQueue < 0 || c.Workers < 0 || c.TURNCredentialTTL < 0 {
		errs = append(errs, errors.New("AdmissionWait, AdmissionQueue, Workers and TURNCredentialTTL must not be negative"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// admissionLimit is the number of subscribers the budget allows: the
// smaller of MaxSubscribers and MaxBitrate / SubscriberBitrate; 0 if
// neither is set.
func (c Config) admissionLimit() int {
	limit := c.MaxSubscribers
	if c.MaxBitrate > 0 {
		byRate := int(c.MaxBitrate / c.SubscriberBitrate)
		if limit == 0 || byRate < limit {
			limit = max(byRate, 0)
			if limit == 0 {
				limit = -1 // a budget too small for one subscriber admits no one
			}
		}
	}
	return limit
}
