package export

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyEntries feeds mutated entries.jsonl and proofs.jsonl to the
// package reader, against the verified checkpoints of a real package. It
// must never panic, and the unmodified files must verify cleanly.
func FuzzVerifyEntries(f *testing.F) {
	sc := buildScenario(f)
	out, _ := mustExport(f, sc, func(o *Options) { o.Raw = false })
	v := &verifier{dir: out}
	cps := v.checkCheckpoints()
	if len(v.probs) > 0 {
		f.Fatal(v.probs)
	}
	var md metadata
	mb, _ := os.ReadFile(filepath.Join(out, fileMetadata))
	if err := json.Unmarshal(mb, &md); err != nil {
		f.Fatal(err)
	}
	ep := episodeRef{id: md.Episode.ID, start: md.Episode.Start, end: md.Episode.End, raw: md.Raw, valid: true}
	entries, _ := os.ReadFile(filepath.Join(out, fileEntries))
	proofs, _ := os.ReadFile(filepath.Join(out, fileProofs))
	if _, probs := verifyEntries(bytes.NewReader(entries), bytes.NewReader(proofs), fileEntries, cps, ep); len(probs) > 0 {
		f.Fatal(probs)
	}

	f.Add(entries, proofs)
	el := bytes.SplitAfter(entries, []byte("\n"))
	pl := bytes.SplitAfter(proofs, []byte("\n"))
	f.Add(el[0], pl[0])
	f.Add(bytes.Join(el[:3], nil), []byte(`{"stream":"events","segment":"2025-03","checkpoint":"checkpoints/events-2025-03.txt","tree_size":42,"first":9,"count":3,"first_proof":[],"last_proof":[]}`+"\n"))
	f.Add([]byte(`{"stream":"events","segment":"2025-03","index":9,"leaf_hash":"AAAA"}`+"\n"), pl[0])
	f.Add([]byte{}, []byte(`{"tree_size":-9223372036854775808,"first":0,"count":1}`+"\n"))
	f.Add([]byte("\n\n"), []byte(`{"stream":"events","segment":"2025-03","checkpoint":"checkpoints/events-2025-03.txt","tree_size":42,"first":0,"count":9223372036854775807}`+"\n"))

	f.Fuzz(func(t *testing.T, entries, proofs []byte) {
		verifyEntries(bytes.NewReader(entries), bytes.NewReader(proofs), fileEntries, cps, ep)
	})
}
