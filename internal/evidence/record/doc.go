// Package record is Préau's evidence recorder: it turns the shield's
// detection events and the requests it handles during an attack into
// records of tamper-evident journals (package journal: an RFC 6962 Merkle
// log with signed checkpoints), so that investigators get the data they need
// and can check it was not altered afterwards.
//
// # Streams and segments
//
// Records go to three streams, each a directory of monthly segments, each
// segment one journal in <Dir>/<stream>/<YYYY-MM>/ with its own signing key
// and the origin <Origin>/<stream>/<YYYY-MM>:
//
//	events    episodes, level changes, decision summaries, the admin audit
//	          log and the clock record written at start-up
//	sources   one aggregate per source address and minute during episodes
//	requests  one raw request in SampleEvery during episodes
//
// The current segment of a stream rolls over at its first record of a new
// UTC month: the old segment gets a final signed checkpoint and is closed.
// While a segment is open, a checkpoint is signed every minute in which it
// was appended to, and on Close.
//
// # Retention
//
// Retention is per stream and removes whole segments, once a day: a segment
// goes when its month ended more than the stream's retention ago. The
// defaults are 365 days for events and sources and 90 days for requests.
// French law has hosting providers keep connection data for about a year,
// which the events and the per-minute aggregates cover; but IP addresses are
// personal data (GDPR), and raw request samples, with paths and user agents,
// say much more about a person than an aggregate does, so data minimisation
// keeps them for the shortest time an investigation needs them. Deleting
// evidence must itself be evident: before a segment is removed, its final
// checkpoint (signed again if records were appended after the last one) and
// its verifier key are appended to <Dir>/<stream>/segments.log, one JSON
// object a line, and an audit record (actor "preau", action
// "evidence.segment_removed") is appended to the events stream. A segment
// that no longer opens cleanly is not removed: the operator must look at it.
//
// # Records
//
// Each journal leaf is one JSON object encoded from a Go struct, so keys
// come in a fixed order, starting with the common fields
//
//	{"v":1,"kind":"...","time":"<RFC 3339, nanoseconds, UTC>", ...}
//
// with kind one of episode_start, episode_end, level_change,
// decision_summary, audit and clock (events stream), source_minute (sources
// stream) and request (requests stream). The detector's event fields are
// kept in a "fields" object with values converted to JSON-friendly forms
// (times as RFC 3339 UTC, prefixes as strings, levels by name, non-finite
// numbers as strings). The examples in the package tests show every kind.
//
// # Cost on the request path
//
// Request is called for every request the shield handles. Outside episodes
// it is one atomic load. During an episode it locks one of a few shards
// (chosen by a hash of the source address, so each source's minute is
// counted exactly in one place) and updates that source's counters for the
// minute; one request in SampleEvery per shard is queued for the requests
// stream in a bounded channel. Memory is bounded: at most MaxSources
// addresses a minute are tracked one by one (the rest are merged into one
// aggregate with addr "other"); each aggregate counts its first 32 distinct
// paths exactly (further paths under "other", which competes for the top 5
// written like any path), 7 outcomes (then "other") and finds the most
// frequent user agent with 4 Space-Saving counters. Nothing on this path
// writes to disk or waits for the writer: when a queue is full, records are
// dropped and counted (Stats), never queued without bound. Emit, called by
// the detector with its lock held, is as careful: it queues the event or
// drops it, and starts or stops the aggregation with one atomic swap.
//
// Minute aggregates are written a few seconds after their minute ends (so
// that requests still in flight at the minute boundary are counted), when
// the episode ends and on Close. A request arriving after its minute was
// written starts a second aggregate for the same source and minute: readers
// add up source_minute records with the same minute, episode and addr.
package record
