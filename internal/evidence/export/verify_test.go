package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// memHashes is an in-memory tlog.HashReader.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, k := range idx {
		out[i] = m[k]
	}
	return out, nil
}

func leafOf(i int64) []byte { return []byte(fmt.Sprintf("leaf %d", i)) }

// TestRunRootMatchesTreeHash checks the run proofs against tlog for every
// run of every tree up to 40 leaves.
func TestRunRootMatchesTreeHash(t *testing.T) {
	var stored memHashes
	for n := int64(1); n <= 40; n++ {
		hs, err := tlog.StoredHashes(n-1, leafOf(n-1), stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		root, err := tlog.TreeHash(n, stored)
		if err != nil {
			t.Fatal(err)
		}
		for a := int64(0); a < n; a++ {
			for b := a + 1; b <= n; b++ {
				known := map[subtree]tlog.Hash{}
				for _, m := range []int64{a, b - 1} {
					p, err := tlog.ProveRecord(n, m, stored)
					if err != nil {
						t.Fatal(err)
					}
					if err := siblings(m, n, p, known); err != nil {
						t.Fatal(err)
					}
				}
				k := a
				got, err := runRoot(n, run{a, b - a}, known, func() (tlog.Hash, error) {
					h := tlog.RecordHash(leafOf(k))
					k++
					return h, nil
				})
				if err != nil || got != root || k != b {
					t.Fatalf("n=%d run [%d,%d): root %v err %v after %d leaves", n, a, b, got, err, k-a)
				}
				// A changed middle leaf changes the root.
				if b-a > 2 {
					k = a
					bad, _ := runRoot(n, run{a, b - a}, known, func() (tlog.Hash, error) {
						h := tlog.RecordHash(leafOf(k))
						if k == a+1 {
							h[0] ^= 1
						}
						k++
						return h, nil
					})
					if bad == root {
						t.Fatalf("n=%d run [%d,%d): a changed leaf gives the same root", n, a, b)
					}
				}
			}
		}
	}
}

func TestRunsCoalesce(t *testing.T) {
	var rs runs
	for _, i := range []int64{3, 4, 5, 7, 9, 10} {
		rs.add(i)
	}
	if got := fmt.Sprint(rs); got != "[{3 3} {7 1} {9 2}]" {
		t.Errorf("runs %s", got)
	}
}

// TestVerifyNamesEveryTamperedFile flips one byte at the start, middle and
// end of each file of a package in turn; Verify must fail and name the file.
func TestVerifyNamesEveryTamperedFile(t *testing.T) {
	sc := buildScenario(t)
	for _, pseudo := range []bool{false, true} {
		out, sum := mustExport(t, sc, func(o *Options) {
			if pseudo {
				o.Pseudonymise = bytes.Repeat([]byte{7}, 32)
			}
		})
		mustVerify(t, out)
		for _, f := range sum.Files {
			fi, err := os.Stat(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int64{0, fi.Size() / 2, fi.Size() - 1} {
				t.Run(fmt.Sprintf("pseudo=%v/%s@%d", pseudo, f, off), func(t *testing.T) {
					dir := copyDir(t, out)
					p := filepath.Join(dir, f)
					b, _ := os.ReadFile(p)
					b[off] ^= 0x01
					if err := os.WriteFile(p, b, 0o600); err != nil {
						t.Fatal(err)
					}
					probs, err := Verify(dir)
					if err != nil {
						t.Fatal(err)
					}
					named := false
					for _, pr := range probs {
						named = named || pr.File == f
					}
					if !named {
						t.Errorf("no problem names %s: %v", f, probs)
					}
				})
			}
		}
	}
}

func TestVerifyFindsAddedAndRemovedFiles(t *testing.T) {
	sc := buildScenario(t)
	out, _ := mustExport(t, sc, nil)
	dir := copyDir(t, out)
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o600)
	os.Remove(filepath.Join(dir, fileSourcesCSV))
	probs, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(probs)
	for _, want := range []string{"extra.txt: " + CheckUnlisted, fileSourcesCSV + ": " + CheckMissing} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q: %s", want, got)
		}
	}
}

// TestVerifyChecksContentBeyondTheManifest re-signs a manifest over a
// changed file, as someone holding the key could: the content checks must
// still catch an entry from another episode and an inflated count.
func TestVerifyChecksContentBeyondTheManifest(t *testing.T) {
	sc := buildScenario(t)
	out, _ := mustExport(t, sc, func(o *Options) { o.Raw = false })
	dir := copyDir(t, out)
	b, _ := os.ReadFile(filepath.Join(dir, fileSourcesCSV))
	row := csvRow(sc, sc.addrs[0], true)
	n := sc.truth.sources[sc.addrs[0]].requests
	inflated := strings.Replace(row, ","+itoa(n)+",", ","+itoa(100*n)+",", 1)
	if row == inflated || !bytes.Contains(b, []byte(row)) {
		t.Fatalf("sources.csv lacks %q:\n%s", row, b)
	}
	os.WriteFile(filepath.Join(dir, fileSourcesCSV), bytes.Replace(b, []byte(row), []byte(inflated), 1), 0o600)
	probs, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range probs {
		found = found || (p.File == fileSourcesCSV && p.Check == CheckCSV)
	}
	if !found {
		t.Errorf("inflated request count not caught by the CSV check: %v", probs)
	}
}

func TestVerifyRejectsNonDirectory(t *testing.T) {
	if _, err := Verify(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("Verify of an absent directory succeeded")
	}
}
