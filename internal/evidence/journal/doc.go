// Package journal is Préau's tamper-evident evidence log: an append-only
// sequence of opaque records (the callers write canonical JSON lines about
// attacks) whose integrity investigators can check without trusting the
// server that wrote it.
//
// The design follows Certificate Transparency. The records are the leaves of
// an RFC 6962 Merkle tree, hashed and proven with golang.org/x/mod/sumdb/tlog
// (leaf hash SHA-256(0x00 || record), interior hash SHA-256(0x01 || l || r)),
// so any RFC 6962 implementation can check the proofs. The tree is committed
// to by checkpoints: signed notes (golang.org/x/mod/sumdb/note, Ed25519) in
// the C2SP tlog-checkpoint layout
//
//	<origin>
//	<tree size in decimal>
//	<base64 root hash>
//	time <RFC 3339 UTC time, nanoseconds>
//	clock <clock source, e.g. "system (NTP-synchronised: yes)">
//
//	— <origin> <base64 key hash and signature>
//
// An investigator holding a checkpoint and the verifier key checks a record
// with an inclusion proof ([VerifyInclusion]) and that a later checkpoint
// extends an earlier one with a consistency proof ([VerifyConsistency]);
// neither needs the journal directory.
//
// # On-disk format
//
// A journal directory (mode 0700) holds:
//
//	records.dat      header, then one frame per record
//	hashes.dat       header, then the tlog stored hashes
//	index.dat        header, then one offset per record
//	signing.key      note signer key, mode 0600
//	signing.pub      note verifier key, mode 0644
//	checkpoint       the latest signed checkpoint (replaced atomically)
//	checkpoints.log  every checkpoint ever signed, one JSON object a line
//	LOCK             flock(2)ed while a process has the journal open for writing
//
// All integers are big-endian. records.dat starts with a 16-byte header: the
// magic "PREAUREC", a uint32 format version (1) and four zero bytes. Each
// record is then a frame
//
//	[uint32 payload length][uint32 CRC-32C (Castagnoli) of payload][payload]
//
// with a payload of at most [MaxRecordSize] bytes. index.dat has a 16-byte
// header ("PREAUIDX", version, zero) followed by one uint64 per record: the
// offset of the record's frame in records.dat, so [Journal.Record] costs one
// read of the index and one of the frame. hashes.dat has a 32-byte header
// ("PREAUHSH", version, zero padding) so that the 32-byte hash slots stay
// aligned; slot k (at offset 32+32k) holds the stored hash with
// [tlog.StoredHashIndex] k, exactly as returned by [tlog.StoredHashes]. A
// journal of n records therefore has 8n index bytes and
// 32·tlog.StoredHashCount(n) hash bytes after the headers; these sizes and
// the frames must agree.
//
// # Durability and integrity
//
// Each batch of appends is written records → hashes → index, then the three
// files are fsynced, and only then does [Journal.Append] return. Concurrent
// appenders are group-committed: one writer goroutine takes every pending
// request, so many appends share one round of fsyncs.
//
// [Open] checks the files against each other and against the latest
// checkpoint: sizes agree, frames after the latest checkpoint (and at least
// the last 64) have good CRCs and their recomputed stored hashes match
// hashes.dat, and the tree at the checkpoint's size has the signed root hash
// and is a prefix of the current tree (consistency proof). Any disagreement —
// including the torn tail a crash in the middle of a batch leaves — makes
// Open fail with a [*CorruptError] naming the file and offset. The journal
// never truncates or rewrites evidence on its own: [Repair] is the explicit
// operator action that moves a damaged tail aside into a side file, and it
// refuses to cut into records that a signed checkpoint already covers.
// [Journal.Verify] audits the whole journal.
//
// # Reading a journal another process writes
//
// [Open] takes an exclusive lock, so a second process cannot open a
// journal that a running Préau holds. [OpenReadOnly] takes no lock and
// writes nothing; it serves the records the latest signed checkpoint covers
// and only those: they never change while the writer appends after them,
// and the checkpoint is what proves them. Records appended since are
// counted ([Journal.Uncovered]) and can be peeked at without any guarantee
// ([Journal.ScanUncovered]); the next checkpoint covers them.
package journal
