// Package admission is the shield's adaptive admission control: a
// concurrency limit in front of the backend that follows the backend's
// latency, partitioned by priority so that an anonymous flood never takes
// the slots of logged-in students, with bounded per-priority queues, a
// deadline on every queued request and a jittered Retry-After hint for the
// requests it sheds. A separate fixed [Budget] guards logins, whose
// password hashing is the most expensive work the server does.
//
// # The limit
//
// The [Limiter] admits at most Limit requests at once (see "Guarantees" for
// the one bounded exception). Each admitted request returns a [Ticket]; the
// caller releases it with the latency it measured and whether the backend
// answered with an error or an overload signal. Every sample feeds one of
// three algorithms (Config.Algorithm), all inspired by Netflix's
// concurrency-limits:
//
//   - "gradient2" (default). Two latency estimates: the short-term RTT is an
//     exponentially weighted moving average over about 10 samples (Netflix
//     uses the latest sample alone, which lets one slow request cut the
//     limit); the long-term RTT, the baseline, is an exponentially weighted
//     moving average over LongWindow samples (default 600; a plain average
//     over the first 10 as warm-up). The gradient is
//     clamp(RTTTolerance·long/short, 0.5, 1): 1 while latency is at most
//     RTTTolerance (default 1.5) times the baseline, down to 0.5 when it is
//     twice that. The target is limit·gradient + allowance, where the queue
//     allowance max(2, √limit) lets the limit probe upwards while latency is
//     flat. Each sample blends the target into the limit with weight
//     Smoothing·min(1, 10/limit) (Smoothing default 0.2): a limit of L
//     completes about L requests per round trip, so this is about one
//     Smoothing step per tenth of a round trip rather than one per sample,
//     which made the limit swing twentyfold in the flood simulation. The
//     result is clamped to [MinLimit, MaxLimit]. A sample moves the limit
//     only if the limit was binding when its request was admitted (requests
//     were queued, or at least half of the limit was in use). Drift guard:
//     a sample slower than the baseline taken while requests were queued is
//     not learnt into the baseline (except at MinLimit, so that a backend
//     that became slower for good is eventually re-measured); otherwise,
//     under a sustained flood, the baseline climbs with the congested
//     latency and the limit with it, the known weakness of Netflix's
//     Gradient2 (its issues #134 and #137), which took the limit to
//     MaxLimit and latency to 27× base in the simulation. When the baseline
//     is more than twice the short RTT (latency recovered after an
//     overload) it is cut by 10% per sample. A dropped sample multiplies the
//     limit by Backoff (default 0.9) and is kept out of the RTT averages,
//     since an error is often answered faster than real work.
//   - "aimd": +1 per limit/10 samples while the limit is binding, ×Backoff
//     on a drop, at most once per round (limit samples). It reads drops
//     only, so latency under overload is whatever the drop signal allows.
//   - "vegas": estimates the backend queue as limit·(1 − rttNoLoad/rtt) with
//     rttNoLoad the smallest RTT seen (re-probed every 30·limit samples);
//     with L = log10(limit) ≥ 1, a queue of at most L steps the limit up by
//     6L, below 3L by L, above 6L down by L, each step taken with the same
//     per-sample weight min(1, 10/limit) and Smoothing (default 1);
//     ×Backoff on a drop.
//
// For every algorithm, a latency of at least Timeout (default 5 s) counts as
// a drop: a page that slow has failed the student anyway.
//
// # Partitioning
//
// Every request has a [Priority]: Staff, Member (students and parents),
// PassHolder (solved a challenge or went through the waiting room) and
// Anonymous. Config.Reserve gives each priority a share of the limit; its
// reserved slots are R(p) = ⌊share·Limit⌋, at least 1 when the share is
// positive (shares summing to more than 1 are scaled down). A priority is
// active while it has requests in flight or queued, or has asked for a slot
// within the last Linger (default 1 s). A request of priority p is admitted
// at once when either
//
//  1. p holds fewer than R(p) slots (its reserve), whatever else is happening; or
//  2. nobody of higher priority is queued, nobody of priority p is queued
//     ahead of it, and after taking the slot the free slots still cover the
//     unused reserve R(q) − inflight(q) of every other active priority q.
//
// So a priority may always use its reserved share, plus any capacity that is
// not the unused reserve of another active priority and that nobody higher is
// waiting for. It may borrow the reserve of a priority that is idle (nothing
// in flight, nothing queued, no request for Linger), which keeps the backend
// busy at night, but never the reserve of one that is in use or queued.
// Otherwise the request waits in its priority's bounded queue.
//
// # Scheduling
//
// Whenever a slot frees, the limit changes or a waiter leaves, queues are
// served highest priority first: all admissible Staff waiters, then Members,
// and so on; a lower priority passes a waiting higher one only inside its own
// reserve. Within a priority the queue is FIFO while it is healthy and
// becomes LIFO under overload, that is while its oldest waiter has waited
// more than half of MaxWait: under a standing queue the oldest waiters are
// the ones most likely to be given up on by their clients (or retried as new
// requests), so serving the newest first keeps the admitted ones useful,
// while MaxWait bounds how long any waiter can be passed over. A full queue
// sheds the arrival while healthy and evicts its oldest waiter under
// overload. Waiters older than MaxWait are shed with [ErrShed]; with a custom
// Now clock this happens in [Limiter.Expire] and on every Acquire, Release and
// Expire call, with the real clock also by a timer per waiter. A waiter whose
// context ends leaves its queue at once and its Acquire returns ctx.Err().
//
// # Guarantees
//
//   - Anonymous (or any lower) traffic never delays a higher priority beyond
//     its reserve: a request within its priority's reserve is admitted
//     immediately, never queued.
//   - Requests admitted beyond their reserve never take the total in flight
//     above Limit. Only reserve admissions can, when a lower priority borrowed
//     the reserve of a priority that was idle and that priority comes back:
//     the excess is at most the sum of the returning priorities' reserves (at
//     most Limit), and it drains as the borrowed slots are released, because
//     nobody beyond their reserve is admitted while the total is at or above
//     Limit. A shrinking limit can likewise leave more in flight than the new
//     limit until releases catch up.
//   - Memory is bounded by the queue lengths: a queued request costs one
//     small struct; nothing is kept per client.
//   - Release is idempotent: only the first Release (or Ignore) of a ticket
//     counts, later ones are ignored, so a double release in an error path
//     can never free a slot twice. (A panic would flag the bug louder, but
//     would turn a bookkeeping slip into a failed request in production.)
//
// All methods are safe for concurrent use; one mutex guards the state and
// every critical section is O(number of priorities) plus the waiters it
// admits or sheds.
package admission
