// Package detect is the shield's inline attack detection: per-window heavy
// hitters, a moving baseline with hysteresis, attack episodes and the
// escalation ladder. Every episode and decision is emitted as an Event
// through a non-blocking Sink, which the evidence log consumes.
//
// # What is observed
//
// The shield calls Observe once per request with a cheap Request (time,
// client address, its /24 or /56 prefix, route, user agent, class and
// outcome). Observe is the hot path: no allocation in steady state and a
// few hundred nanoseconds; it only increments counters. All the thinking
// happens in Tick, once per Window (1 s by default), called by the shield's
// ticker or by the first Observe whose time falls past the current window.
// Times always come from the caller, so tests drive the detector with a fake
// clock and production with time.Now.
//
// # Heavy hitters: Space-Saving
//
// Five dimensions are summarised per window: client address, prefix (/24 for
// IPv4, /56 for IPv6, or the Request's own Prefix), network (/16 for IPv4,
// /48 for IPv6: a flood spread over 10,000 addresses of one /16 is diffuse
// at /24 but obvious at /16, and the extra dimension costs one more counter
// update), path and user agent. Each uses the Space-Saving algorithm
// (A. Metwally, D. Agrawal, A. El Abbadi, "Efficient Computation of Frequent
// and Top-k Elements in Data Streams", ICDT 2005) with TopK counters: a new
// key evicts the key with the smallest count m and inherits m as its error.
// With N requests in the window, every counter overestimates by at most
// N/TopK and every key with more than N/TopK requests is monitored, whatever
// the number of distinct keys: an attacker rotating a million addresses
// cannot grow the detector's memory, and its heavy sources cannot hide.
//
// The summaries are sharded (a power of two at least GOMAXPROCS), each
// shard behind its own mutex. A request goes to the shard its processor
// used last (a sync.Pool of shard pointers gives per-P affinity, so each
// core keeps its summaries in its own cache; hashing requests to shards
// instead was three times slower in the parallel benchmark), or to the next
// free shard when that one is busy. At the end of a window the shards are
// merged by adding counts and errors key by key (the mergeable-summaries
// construction of Agarwal et al., "Mergeable Summaries", PODS 2012), the
// TopK largest are kept as the previous window's top talkers (for the admin
// page and the events), and the shards are reset. Count-Err is always a
// guaranteed lower bound of a key's requests, the error stays within
// N/TopK, and a key with more than N/TopK requests exceeds N_s/TopK in at
// least one shard s, so it is still monitored.
//
// Each prefix and network counter also counts its "suspect" requests, those
// not from a signed-in user or an allowlisted network (classes "pass",
// "anonymous" or unknown). Only suspect requests can put a prefix on the
// block list, so a school NAT full of signed-in students is never blocked.
//
// # Baseline: EWMA, frozen during episodes
//
// The baseline b is an exponentially weighted moving average of the
// per-window suspect request rate r: requests per second, whatever their
// outcome, from the classes that carry no credential (anonymous visitors,
// pass holders, unknown). Signed-in users and allowlisted networks are
// counted in the chart and the summaries but not in r: students reading
// at full speed are the load the platform exists for, and a baseline
// learnt from them would let an anonymous flood of the same size pass
// unnoticed (a storm capacity test taught an earlier version 10,000 req/s):
//
//	b ← b + α·(r − b),   α = 1 − 2^(−Window/BaselineHalfLife)
//
// so that a sample's weight halves every BaselineHalfLife. During the first
// windows α is at least 1/n (the plain mean of the n samples so far), and no
// episode can start before Warmup. The shield must call Observe for the
// requests it refuses too (Outcome "blocked", "limited", "shed"): if a
// blocked flood stopped counting, the rate would drop, the ladder would
// cool down and lift the block, and the flood would come back.
//
// The baseline learns only from calm windows: not during an episode and not
// while the rate is above the entry threshold waiting for EnterAfter. If it
// kept learning, a flood would raise its own baseline until it looked normal
// and the episode would end while the attack goes on (and a patient attacker
// could ramp slowly to train it). The cost is that a lasting step change of
// legitimate traffic keeps the episode open until the rate comes back under
// the exit threshold; the ladder then holds its level, which is the wanted
// behaviour under overload, and the operator sees it on the admin page. A
// gradual rise (a morning ramp) is learnt, because the EWMA follows it
// within a factor well under EnterFactor: a ramp of slope s lags by
// s·HalfLife/ln 2 at most.
//
// # Hysteresis and episodes
//
// With the effective baseline B = max(b, MinRate/EnterFactor) (MinRate is a
// floor, so that a quiet night cannot make ten requests an attack):
//
//   - a window is hot when r > EnterFactor·B, cold when r < ExitFactor·B,
//     and in between it is neither (the hysteresis band);
//   - an episode starts when windows have been hot without interruption for
//     EnterAfter, or at once on a surge window (r ≥ SurgeFactor·B: a flood
//     at ten times the baseline needs no confirmation, and waiting would let
//     it through); its Start is the start of the first hot window;
//   - it ends when windows have been cold without interruption for
//     ExitAfter; its End is the start of the first of those cold windows.
//     A hot window resets the exit timer, a band window does not count as
//     cold and resets it too.
//
// Crossing the entry threshold back and forth inside an episode therefore
// neither ends nor restarts it, and short bursts shorter than EnterAfter
// never start one. Episodes record their peak window rate, their suspect
// requests (the windows from Start to End), the frozen baseline, the highest ladder
// level reached and their top sources, prefixes, networks, paths and user
// agents (a Space-Saving summary of 2·TopK counters fed with each hot
// window's top talkers).
//
// # Escalation ladder
//
// Normal → TightenBuckets → Challenge → WaitingRoom → BlockTopPrefixes.
// At each window end t, with levelSince the time of the last level change:
//
//   - an episode start raises Normal to TightenBuckets at once, or straight
//     to Challenge on a surge window;
//   - in an episode, a hot window raises the level by one when
//     t − levelSince ≥ EnterAfter, or when r ≥ SurgeFactor·B (far above the
//     baseline: one level per window);
//   - a cold window (episode or not) lowers the level by one when the rate
//     has been cold without interruption for CoolDown and the level has held
//     for CoolDown: t − max(levelSince, coldSince) ≥ CoolDown;
//   - any other window keeps the level.
//
// So the ladder climbs one level per EnterAfter of sustained attack, and
// after the attack comes down one level per CoolDown of calm, which usually
// outlasts the episode itself. SetManual sets a floor (the operator's attack
// mode): the effective Level is the higher of the automatic level and the
// manual one. At BlockTopPrefixes, BlockedPrefixes lists the prefixes and
// networks whose suspect requests exceeded BlockShare of the window's
// traffic (a /16 when no few /24s of it account for half of its suspect
// traffic, its /24s otherwise) in a hot window — a calm window while the
// ladder cools down adds none, or the networks coming back to sign in
// after a flood would be blocked — kept while they stay above it and for
// CoolDown after, at most MaxBlocked; IsBlocked checks an address against
// that list without allocating.
//
// # Events
//
// Events go to Config.Sink in order (increasing Seq), from Tick or SetManual
// and never from Observe's fast path: "episode_start", "episode_end",
// "level_change" and "decision_summary" (the outcome and class counts, rates
// and, in an episode, the top talkers and blocked prefixes: once per window
// while an episode is open or the level is raised, once per SummaryEvery
// otherwise). A Sink must not block: ChannelSink drops and counts when its
// buffer is full, SlogSink writes structured slog records (behind a
// ChannelSink when the handler may be slow).
//
// # Memory
//
// Fixed at New, independent of traffic. A window set (five summaries of
// TopK counters) takes about 40 KB for TopK = 64: 64-byte entries for
// addresses, 72 for prefixes, 168 for paths and user agents, plus the
// tables and heaps. Each shard holds two sets (the current window and the
// spare swapped in at Tick), the merge set has Shards·TopK counters per
// dimension, the open episode 2·TopK, and the history ring History points
// of 64 bytes. With TopK = 64, 8 shards and History = 600 that is about
// 1.1 MB, whatever the number of distinct addresses, paths or agents. Paths and user agents are copied into fixed 127-byte keys, so the
// detector never retains the caller's strings.
package detect
