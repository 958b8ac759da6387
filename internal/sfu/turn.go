package sfu

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API's HMAC is SHA-1 by definition (coturn's use-auth-secret)
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// turnCredentials derives time-limited TURN credentials in the "TURN REST
// API" style (draft-uberti-behave-turn-rest, coturn's use-auth-secret):
// the username is "<expiry unix seconds>:<user>" and the password is
// base64(HMAC-SHA1(key, username)). The server recomputes the password
// from the username, so it stores nothing per user, and a leaked
// credential dies at its expiry.
func turnCredentials(key []byte, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// turnAuth is the TURN server's AuthHandler: it accepts a username whose
// expiry (before the first colon) is still ahead of now and returns the
// long-term key of the password derived from it.
func turnAuth(key []byte, now func() time.Time) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		exp, user, ok := strings.Cut(ra.Username, ":")
		if !ok {
			return "", nil, false
		}
		t, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || t < now().Unix() {
			return "", nil, false
		}
		_, password := turnCredentials(key, user, time.Unix(t, 0))
		return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, password), true
	}
}

// startTURN starts the embedded TURN server on the configured UDP and TCP
// addresses. Allocations relay from relayIP, and only to this host's own
// addresses: the relay exists to reach this node's SFU, and refusing any
// other peer keeps it from being an open relay.
func (n *Node) startTURN(relayIP net.IP) error {
	cfg := n.cfg
	local := localIPs()
	for _, ip := range cfg.PublicIPs {
		local = append(local, net.ParseIP(ip))
	}
	permit := func(_ net.Addr, peer net.IP) bool {
		for _, ip := range local {
			if ip.Equal(peer) {
				return true
			}
		}
		n.stats.turnRefused.Add(1)
		return false
	}
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: relayIP.String()}
	}
	sc := turn.ServerConfig{
		Realm:         cfg.TURNRealm,
		AuthHandler:   turnAuth(cfg.TURNKey, cfg.Now),
		LoggerFactory: pionLogs{cfg.Logger},
	}
	if cfg.TURNUDPAddr != "" {
		pc, err := net.ListenPacket("udp", cfg.TURNUDPAddr)
		if err != nil {
			return fmt.Errorf("sfu: TURN UDP listener: %w", err)
		}
		n.closers = append(n.closers, pc.Close)
		n.turnUDP = pc.LocalAddr()
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{
			PacketConn: pc, RelayAddressGenerator: gen(), PermissionHandler: permit,
		})
	}
	if cfg.TURNTCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TURNTCPAddr)
		if err != nil {
			return fmt.Errorf("sfu: TURN TCP listener: %w", err)
		}
		n.closers = append(n.closers, ln.Close)
		n.turnTCP = ln.Addr()
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
			Listener: ln, RelayAddressGenerator: gen(), PermissionHandler: permit,
		})
	}
	s, err := turn.NewServer(sc)
	if err != nil {
		return fmt.Errorf("sfu: TURN server: %w", err)
	}
	n.turn = s
	return nil
}

// ICEServers returns the ICE servers to give the client of user: the
// embedded TURN server over UDP and over TCP, with credentials valid for
// Config.TURNCredentialTTL. Nil when TURN is off. No STUN entry: the node's
// candidates are already its public addresses. Safe for concurrent use.
func (n *Node) ICEServers(user string) []webrtc.ICEServer {
	if n.turn == nil {
		return nil
	}
	username, password := turnCredentials(n.cfg.TURNKey, user, n.cfg.Now().Add(n.cfg.TURNCredentialTTL))
	var urls []string
	if n.turnUDP != nil {
		urls = append(urls, "turn:"+n.turnHostPort(n.turnUDP)+"?transport=udp")
	}
	if n.turnTCP != nil {
		urls = append(urls, "turn:"+n.turnHostPort(n.turnTCP)+"?transport=tcp")
	}
	return []webrtc.ICEServer{{URLs: urls, Username: username, Credential: password}}
}

func (n *Node) turnHostPort(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	switch {
	case n.cfg.TURNHost != "":
		host = n.cfg.TURNHost
	case len(n.cfg.PublicIPs) > 0:
		host = n.cfg.PublicIPs[0]
	case net.ParseIP(host) == nil || net.ParseIP(host).IsUnspecified():
		host = n.relayIP.String()
	}
	return net.JoinHostPort(host, port)
}

// localIPs lists the host's interface addresses, loopback included.
func localIPs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ips = append(ips, ipn.IP)
		}
	}
	return ips
}

// defaultRelayIP picks the TURN relay address (see Config.TURNRelayIP).
func defaultRelayIP(cfg Config) net.IP {
	if cfg.TURNRelayIP != "" {
		return net.ParseIP(cfg.TURNRelayIP)
	}
	if host, _, err := net.SplitHostPort(cfg.ICEUDPAddr); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			return ip
		}
	}
	for _, ip := range localIPs() {
		if ip.To4() != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return ip
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
