// Package export turns one recorded attack episode into an evidence package
// that investigators (the police, a CERT, a court expert) can verify offline
// without trusting the server that wrote it.
//
// The evidence directory holds three streams — events, sources and requests —
// each split into monthly segments, <dir>/<stream>/<YYYY-MM>/, every one of
// which is a [journal] (an RFC 6962 Merkle log with Ed25519-signed
// checkpoints). [Export] selects the leaves that belong to the episode,
// copies them byte for byte, and proves each against a signed checkpoint of
// its segment; it derives the human-readable files (CSVs, a STIX 2.1 bundle,
// an HTML report) from the same leaves, and signs a sha256sum-compatible
// manifest of everything with the key of the events stream's newest segment.
// [Verify] checks such a package offline and reports every failed check at
// once, each naming the file.
//
// # Package layout
//
//	README.fr.md, README.en.md   what the package is and how to check it by hand
//	metadata.json                episode window (UTC), case, TLP, clock records,
//	                             datasets, options, counts, timeline totals,
//	                             records left out
//	entries.jsonl                the episode's leaves, exactly as stored
//	                             (leaves.jsonl, hashes only, when pseudonymised)
//	proofs.jsonl                 inclusion proofs, one line per run of leaves
//	checkpoints/<stream>-<YYYY-MM>.txt  signed checkpoint of each segment
//	checkpoints/verifier.key     "<stream>-<YYYY-MM> <note verifier key>" lines
//	episodes.csv, sources.csv    the episode and its source addresses
//	stix-bundle.json             STIX 2.1 bundle (validated before writing)
//	report.html                  self-contained bilingual report
//	signer.pem                   public key of the manifest signature
//	MANIFEST.sha256              sha256sum -c compatible, every file above
//	MANIFEST.sha256.sig          raw Ed25519 signature of MANIFEST.sha256
//
// # Proofs of runs of leaves
//
// An episode of a million requests would need a million RFC 6962 audit
// paths, about 900 MB. proofs.jsonl therefore holds one line per run of
// consecutive exported leaves of a segment: the standard RFC 6962 inclusion
// proofs of the run's first and last leaves against the segment's signed
// checkpoint. Each of the two checks with any RFC 6962 implementation. The
// leaves in between are checked by recomputing the tree root from all the
// run's leaves: every subtree hash the recomputation needs outside the run
// is a sibling on the path of the first or of the last leaf, so it is in one
// of the two proofs. A run of one leaf is an ordinary inclusion proof.
//
// # Records
//
// Export reads the recorder's schema (package record, schema version 1):
// episode_start and episode_end records carry the episode object, and the
// other events records its identifier; the detector's decision summaries
// keep their counts under "fields"; levels are named ("challenge"), not
// numbered. The report's timeline spreads each decision summary's counts
// over the time it covers, and metadata.json gives the totals of its three
// series so that Verify can recompute them from the entries.
//
// # Concurrency and locking
//
// Export and ListEpisodes open every segment with [journal.OpenReadOnly]:
// they take no lock, so they work while a running Préau holds the current
// segments open, and they never write to the evidence directory (a copy on
// read-only media works too). A read-only journal serves only the records
// its latest signed checkpoint covers; each package proves its leaves
// against those checkpoints. The episode's records appended since are left
// out and counted (Summary.LeftOut, "left_out" in metadata.json, a line in
// the READMEs): Préau signs a checkpoint every minute it appends to a
// segment, so an export a minute later includes them. An episode none of
// whose records is signed yet fails with ErrNotYetSigned. Export,
// ListEpisodes and Verify hold no shared state and may run concurrently.
//
// # Memory
//
// Export streams every segment once (the events stream twice) and writes the
// entries and proofs as it goes. What it holds grows with the number of
// distinct source addresses (the sources.csv aggregate), with the number of
// runs of exported leaves (16 bytes each; one per segment when the episode's
// records are contiguous, as the recorder writes them) and is otherwise
// constant: the report's timeline has at most 1,800 buckets, which widen as
// the episode grows. Verify reads entries.jsonl and proofs.jsonl in step in
// the same bounded memory.
package export
