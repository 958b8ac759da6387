// Package netguard is the connection layer of Préau's shield: the first
// thing a TCP connection meets, before any HTTP parsing.
//
// It defends against four things, all cheap for an attacker and expensive
// for a school server on the morning everyone logs in at once:
//
//   - Address spoofing. Every later decision of the shield (rate limits,
//     heavy hitters, blocking a prefix) is keyed by the client address, so a
//     client must never be able to choose its own. The address is the TCP
//     peer, or comes from a PROXY protocol header (v1 or v2) or from
//     X-Forwarded-For only when the TCP peer is in Config.TrustedProxies. A
//     connection from any other peer that starts with a PROXY signature is
//     refused ("proxy_header"); X-Forwarded-For from such a peer is ignored
//     (ForwardedFor).
//   - Connection floods. One address, or many addresses in one /24 (IPv4)
//     or /56 (IPv6) — the usual unit an attacker or a botnet segment owns —
//     can hold at most MaxPerAddr / MaxPerPrefix concurrent connections;
//     the rest are closed at once, before any byte is read, so they cost a
//     file descriptor for microseconds instead of a goroutine and buffers
//     for minutes. Counters exist only for addresses with open connections.
//   - Slow or stalled PROXY headers. A peer that opens a connection and
//     never sends its header must not delay anyone else: Accept never reads
//     from a connection (see Listener for how), and a trusted peer gets
//     HeaderTimeout to send its header.
//   - Malformed input. ReadProxyHeader is a strict, bounded parser of
//     untrusted bytes (at most 107 bytes for v1, 16+4096 for v2, nothing read
//     past the declared header, no allocation proportional to input); any
//     violation is an error wrapping ErrMalformed, never a panic. It is
//     fuzzed by FuzzReadProxyHeader.
//
// Refusals are reported through Config.OnRefuse so that the metrics layer
// can count them without this package depending on it.
package netguard
