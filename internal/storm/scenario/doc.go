// Package scenario holds the scenarios of `preau storm`: what simulated
// students and simulated attackers do to a Préau node, built on the
// measurement core (package load) and the source addresses (package
// sources).
//
// They replay the morning of 6 April 2021, the first day of distance
// learning in France (see the project context): about 12.7 M pupils at
// home, Cned's site hit by more than 20 DDoS attacks that morning and a
// massive one around 14:30, regional ENTs saturated between 7:00 and 8:00
// and made worse by pupils reconnecting again and again (a retry storm).
// One provider had load-tested at 1.5× its previous peak, aiming at 400k
// simultaneous users; storm lets an operator do the same on their own node.
//
// # Scenarios
//
// [Morning], the lockdown morning (closed loop, [load.ClosedLoop]):
// Students students arrive with offsets spread uniformly over Ramp (user i
// arrives at Ramp·i/Students). Each signs in once through the JSON API
// (POST /api/v1/login, class "login"), then repeats, with think times:
// GET /api/v1/me right after each sign-in (class "home", the home page's
// data), GET /api/v1/homework (class "homework"), and every SubmitEvery-th
// step a text handed in (POST /api/v1/homework/{id}/submissions, class
// "submit") to a homework of the list whose "hand_in" is true (a student
// who has none in this week's list fetches the list instead). Only the
// JSON API is used: the HTML pages need the session cookie and a CSRF
// token, and the API carries the same load on the backend. Like real
// clients, students retry with exponential backoff and jitter on network
// errors, 5xx and 429, honouring Retry-After up to [MaxRetryAfter]; a
// student whose sign-in still fails keeps trying at its next step: that
// is the retry storm of April 2021. The latency of a step is what the
// student saw, retries included. A final status of 400 or more is an
// error page the student saw: it is reported as an error (Outcome.Err),
// so only successful statuses appear in ClassStats.ByStatus. A 401 on a
// signed-in request drops the token and the student signs in again.
//
// [Flood], the attack (open loop, [load.OpenLoop], latency measured from
// the intended start, so without coordinated omission): anonymous GETs on
// Paths, or with LoginFlood a credential-stuffing flood of
// POST /api/v1/login with random wrong passwords, at Rate requests per
// second, from one of the source modes:
//
//   - "few": 4 addresses of 127.10.1.0/24 (sources.FewSources), keep-alive
//     on: a handful of attacking hosts;
//   - "one16": 10,000 addresses of 127.42.0.0/16 (sources.ManySources),
//     one per connection, keep-alive on;
//   - "rotating": the same 10,000 addresses, a fresh connection and the
//     next address for every request (keep-alive off): a botnet that
//     never reuses a source;
//   - "mix": simulated public sources drawn from sources.DefaultMix
//     (documentation ranges only), carried in a PROXY v2 header from
//     127.0.0.1, a fresh connection per request. The target must trust
//     127.0.0.1 as a proxy and expect the PROXY protocol
//     (--trusted-proxies 127.0.0.1/32 --proxy-protocol), or it will
//     refuse the connections.
//
// Loopback source modes need a target whose address is IPv4 (127.0.0.1,
// not ::1). Connections are bounded by MaxInFlight, and requests due
// while MaxInFlight are outstanding are dropped and counted, never
// delayed.
//
// [Slow], slowloris and slow POST: Conns connections that never finish
// their headers, or that send a declared body at 1 byte/s, held for
// Duration; the result says how many the server closed.
//
// [Mixed] runs a Morning and a Flood at once: the students' figures under
// attack, against the same Morning alone, are the goodput the shield
// preserved.
//
// # Safety
//
// Every scenario is bounded in count (Students, Rate·Duration, Conns) and
// in time (Duration plus a grace) and stops by itself, or earlier when its
// context is cancelled. The scenarios do not check their target: the
// caller (the storm command line) must call sources.CheckTarget on
// Target.URL before running anything, which refuses a target that is not
// a loopback address unless the operator states they own it.
package scenario
