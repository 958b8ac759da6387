package journal_test

import (
	"fmt"
	"log"
	"log/slog"
	"os"

	"preau/internal/evidence/journal"
)

func Example() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{Origin: "example.preau/evidence", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append([]byte(`{"event":"flood","rps":12000}`), []byte(`{"event":"challenge","ip":"198.51.100.7"}`)); err != nil {
		log.Fatal(err)
	}
	cp, err := j.Checkpoint()
	if err != nil {
		log.Fatal(err)
	}
	rec, err := j.Record(1)
	if err != nil {
		log.Fatal(err)
	}
	proof, err := j.InclusionProof(1, cp.Tree.N)
	if err != nil {
		log.Fatal(err)
	}

	// An investigator holds the signed checkpoint, the verifier key, the
	// record and its proof, and needs nothing else.
	verified, err := journal.VerifyCheckpoint(cp.Signed, j.VerifierKey())
	if err != nil {
		log.Fatal(err)
	}
	if err := journal.VerifyInclusion(verified, 1, rec, proof); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("record 1 of %d verified: %s\n", verified.Tree.N, rec)
	// Output: record 1 of 2 verified: {"event":"challenge","ip":"198.51.100.7"}
}
