// Package sources gives preau storm the source addresses its traffic comes
// from, and the safety check that keeps that traffic on this machine.
//
// # Modes
//
// Real loopback sources (LoopbackPool). Linux routes all of 127.0.0.0/8 to
// the loopback interface, so a client can bind each TCP connection to a
// different 127.x.y.z address and the server's accept() sees a genuinely
// different peer: no header, no trust, exactly what the shield sees from
// clients reaching it directly. Three shapes are provided, matching the
// storm scenarios: a few addresses (FewSources: one /24, the "handful of
// attacking hosts" case), many addresses in one /16 (ManySources: the
// "10,000 sources in 127.42.0.0/16" case, which exercises per-address and
// per-/24 caps and the listener's maps at scale) and rotation per request
// (mode PerRequest: every HTTP request on a fresh connection from the next
// address, as a botnet that never reuses a source). Loopback addresses are
// all "local", so they cannot carry a country or a network class.
//
// Simulated public sources (Mix, ProxyDialer). To test what the shield and
// its evidence log do with realistic public sources (hosting ranges,
// residential ranges, mobile carriers, several countries), a ProxyDialer
// connects from a trusted proxy address (127.0.0.1 by default) and starts
// every connection with a PROXY protocol header (v2 by default, v1 on
// request) naming a source drawn from a weighted Mix. A shield whose
// listener trusts that proxy address and has ProxyProtocol on then sees
// each connection as coming from that public source. WriteProxyV2 and
// WriteProxyV1 are the inverse of netguard.ReadProxyHeader.
//
// DefaultMix uses ONLY address ranges reserved for documentation and
// testing: RFC 5737 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and
// RFC 3849 (2001:db8::/32), split into sub-ranges whose labels (hosting-FR,
// residential-CN, …) are fictional: no real network owns these addresses,
// so nothing storm produces (logs, evidence, reports) can implicate a real
// host. The IPv4 part holds only three /24s (about 750 addresses), so
// per-/24 caps hit the default IPv4 sources hard; the IPv6 entries give
// plenty of distinct /56s. Operators who want a realistic mix (real
// hosting and residential prefixes of real countries, e.g. to train the
// evidence log) load one from a CSV file with LoadMix.
//
// # Safety
//
// storm generates floods. Pointed at someone else's machine it is a
// denial-of-service tool, so CheckTarget refuses any target whose host is
// not a loopback address (127.0.0.0/8 or ::1) — names are resolved and
// every address they resolve to must be loopback — unless the operator
// states, with the --i-own-the-target flag, that they own the target. The
// check is made once, before a run; a name that resolves differently later
// (DNS rebinding) is the reason a careful caller dials the address it
// checked rather than the name. Loopback sources are loopback by
// construction, and simulated public sources only ever travel inside a
// PROXY header over a loopback (or owned) connection: no packet is ever
// sent from, or to, the simulated addresses.
package sources
