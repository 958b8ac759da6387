package sources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// OwnTargetFlag is the command-line flag by which the operator states that
// they own a non-loopback target. CheckTarget's errors name it.
const OwnTargetFlag = "--i-own-the-target"

// ErrNotLoopback is wrapped by CheckTarget's error when the target is, or
// may be, outside this machine.
var ErrNotLoopback = errors.New("sources: target is not a loopback address")

// resolveTimeout bounds the name lookup of CheckTarget.
const resolveTimeout = 5 * time.Second

// CheckTarget checks that target, a URL such as "http://127.0.0.1:8080/"
// (a bare "host:port" or "host" is read as http://…), may be attacked. Its
// host must be a loopback address (127.0.0.0/8 or ::1, IPv4-mapped forms
// included) or a name all of whose addresses, resolved with
// net.DefaultResolver.LookupNetIP, are loopback. A name that does not
// resolve is refused. When iOwnIt is true — the operator passed
// OwnTargetFlag — any well-formed target with a host is accepted and
// nothing is resolved.
func CheckTarget(target string, iOwnIt bool) error {
	host, err := targetHost(target)
	if err != nil {
		return err
	}
	if iOwnIt {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap().WithZone("")
		if !a.IsLoopback() {
			return refuse(target, fmt.Sprintf("%s is not a loopback address", a))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return refuse(target, fmt.Sprintf("cannot resolve %q (%v), so it cannot be shown to be loopback", host, err))
	}
	if len(addrs) == 0 {
		return refuse(target, fmt.Sprintf("%q resolves to no address", host))
	}
	for _, a := range addrs {
		if a = a.Unmap().WithZone(""); !a.IsLoopback() {
			return refuse(target, fmt.Sprintf("%q resolves to %s, which is not a loopback address", host, a))
		}
	}
	return nil
}

func refuse(target, why string) error {
	return fmt.Errorf("%w: target %q: %s; storm only targets this machine (127.0.0.0/8, ::1) by default — if you own the target and mean to load it, pass %s",
		ErrNotLoopback, target, why, OwnTargetFlag)
}

// targetHost returns the host of target, without brackets or port.
func targetHost(target string) (string, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", errors.New("sources: empty target")
	}
	if !strings.Contains(t, "://") {
		t = "http://" + t
	}
	u, err := url.Parse(t)
	if err != nil {
		return "", fmt.Errorf("sources: target %q: %w", target, err)
	}
	host := u.Hostname()
	if host == "" {
		return "", fmt.Errorf("sources: target %q has no host", target)
	}
	return host, nil
}
