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
// Students students arrive along Arrival — by default [MorningCurve], a
// three-hour closure morning compressed into Ramp: half of them in its
// first third (the planning figure: about 50 % of enrolled students online
// within the first hour), 30 % in the second, 20 % in the third;
// [LinearRamp] spreads them evenly. Each student has a source address of
// their own when Source is set (storm spreads them over 127.64.0.0/10, apart from
// every flood pool), and behaves as one of two clients:
//
//   - ClientWeb, a browser without JavaScript: GET /login; if the shield
//     redirects to its challenge, the student takes the challenge page's
//     link to the waiting room, stays there — each waiting-room page is a
//     place and a wait, an Outcome with Queued set, not an error — and
//     reloads when the page says (Retry-After, as its meta refresh does),
//     until the room admits them with a pass; then posts the sign-in form.
//     Signed in, the student reads the home page, the week's homework and
//     its entries, and every SubmitEvery-th page hands in a text through an
//     entry's form (its CSRF token read from the page). Every redirect is
//     followed by the next step, so each page is measured. The waiting
//     room's ETA (header Preau-Queue-ETA of the first queue page) is
//     compared with the real wait, for the report's ETA error.
//   - ClientAPI, the mobile app: POST /api/v1/login, then GET /api/v1/me,
//     GET /api/v1/homework and hand-ins through
//     POST /api/v1/homework/{id}/submissions.
//
// Requests before a session exists are class "newcomer"; signed-in pages
// are "home", "homework" and "submit" ([LoggedIn] names them together).
// Signed-in students retry with exponential backoff and jitter on network
// errors, 5xx and 429, honouring Retry-After up to [MaxRetryAfter]; a
// newcomer shown an error page reloads after a growing, jittered backoff:
// the retry storm of April 2021. The latency of a step is what the student
// saw, retries included. A final status of 400 or more is an error page
// (Outcome.Err). A signed-in request answered 401, or redirected to the
// sign-in page, drops the session and the student signs in again.
//
// A [Crowd] keeps the students' sessions between runs: [Crowd.SignIn]
// gives some of them a session before the clock starts (students resuming
// yesterday's session), [Crowd.SignOut] turns some into newcomers again
// (each step of a sweep). [Crowd.AppAnswers] counts the answers the
// students got from the application itself, so that the attack's share of
// the application's own request counter can be told apart.
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
