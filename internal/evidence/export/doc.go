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
//	                             datasets, options, counts
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
// # Concurrency and locking
//
// [journal.Open] takes an exclusive lock on a segment, so Export and
// ListEpisodes fail on a segment that a running Préau holds open; export
// after stopping the recorder, or from a copy of the evidence directory.
// Export signs a new checkpoint of a segment (the only write it makes to the
// evidence directory) when the segment's latest checkpoint does not cover
// the exported leaves. Export, ListEpisodes and Verify hold no shared state
// and may run concurrently, on different evidence directories (or, for
// Verify, any packages).
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
