// Package load is the measurement core of `preau storm`: a latency
// histogram, an open-loop request generator and a closed-loop runner for
// simulated users.
//
// # Open loop and closed loop
//
// A closed-loop load generator runs a fixed population of clients, each of
// which sends a request, waits for the answer, thinks, and sends the next.
// Its offered load falls as the server slows down: when the server stalls,
// the clients stall with it. That is the right model for people — a student
// waits for the homework page before clicking on the next link — and
// [ClosedLoop] implements it for the lockdown-morning scenario.
//
// An open-loop generator sends requests on a schedule fixed in advance,
// t0 + i/Rate, whether or not earlier requests have been answered. That is
// the right model for arrivals that do not wait for each other: newcomers
// arriving along a ramp, and above all a flood, whose bots do not slow down
// because the target did. [OpenLoop] implements it.
//
// # Coordinated omission
//
// A generator that measures each request from the moment it actually sent
// it, and that sends later when the server is slow, coordinates with the
// server it measures: during a stall it sends almost nothing, so the stall
// shows up as one slow sample instead of the hundreds of requests that
// would have arrived and waited. Percentiles then look fine exactly when the
// system is not. Gil Tene named this "coordinated omission" in his talk
// "How NOT to Measure Latency" (Strange Loop 2015), and wrk2
// (github.com/giltene/wrk2) corrects for it by measuring every request from
// its intended start time on a constant-rate schedule.
//
// [OpenLoop] does the same: each request's latency runs from its intended
// start t0 + i/Rate, so a request the generator could only send late (its
// own scheduler fell behind, or Do waited for a pooled connection) is
// charged the whole wait, as a real user arriving at that instant would
// have been. The time from the actual start — the moment Do was called, or
// the moment Do reported with [MarkStart] that the request really left — is
// kept apart as the service time, for comparison: the gap between the two
// histograms is the coordinated omission a naive tool would have hidden.
// The generator never silently delays a request to bound concurrency: at
// [OpenLoop.MaxInFlight] requests are dropped and counted as such.
//
// Latencies go into a [Histogram] with log-linear buckets in the manner of
// HdrHistogram: fixed memory, no allocation per sample, quantiles to within
// 1 % relative error from 1 µs to 1 h.
package load
