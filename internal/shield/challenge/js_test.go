package challenge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runNode runs script (with worker.js at ./worker.js beside it) under Node
// and returns its standard output; the test is skipped without node.
func runNode(t testing.TB, script string, args ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "worker.js"), workerJS, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "harness.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a timing assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "harness.js")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// The JavaScript SHA-256 (midstate plus one or two tail blocks) agrees with
// Go's for every prefix length around the block boundaries.
func TestJSHashMatchesGo(t *testing.T) {
	out := runNode(t, `
const pow = require('./worker.js');
const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
for (let n = 0; n <= 200; n++) {
  let tok = '';
  for (let i = 0; i < n; i++) { tok += chars[(i * 7 + n) % chars.length]; }
  const s = new pow.Search(tok);
  for (const c of [0, 9, 10, 4294967296, 9007199254740991]) {
    console.log(tok + '\t' + c + '\t' + s.hex(c));
  }
}`)
	sc := bufio.NewScanner(strings.NewReader(out))
	lines := 0
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		sum := sha256.Sum256([]byte(f[0] + ":" + f[1]))
		if want := hex.EncodeToString(sum[:]); f[2] != want {
			t.Fatalf("token of %d bytes, counter %s: JS %s, Go %s", len(f[0]), f[1], f[2], want)
		}
		lines++
	}
	if lines != 201*5 {
		t.Fatalf("%d lines", lines)
	}
}

// A token issued by Go and solved by worker.js, driven through its Web
// Worker message protocol (in a sandbox that looks like a worker scope),
// verifies.
func TestJSSolverAnswerVerifies(t *testing.T) {
	c := newTest(t)
	const d = 12
	tok := c.Issue(v4, d, t0)
	out := runNode(t, `
const vm = require('vm'), fs = require('fs'), path = require('path');
function WorkerGlobalScope() {}
const self = Object.create(WorkerGlobalScope.prototype);
let tried = 0, counter = -1;
self.postMessage = function (m) { tried += m.tried || 0; if (typeof m.counter === 'number') { counter = m.counter; } };
vm.runInNewContext(fs.readFileSync(path.join(__dirname, 'worker.js'), 'utf8'),
  { self: self, WorkerGlobalScope: WorkerGlobalScope, Math: Math, Int32Array: Int32Array, Uint8Array: Uint8Array, Error: Error });
self.onmessage({ data: { token: process.argv[2], difficulty: +process.argv[3], start: 1, step: 2 } });
console.log(counter + ' ' + tried);`, tok, strconv.Itoa(d))
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("output %q", out)
	}
	if n, _ := strconv.Atoi(f[0]); n%2 != 1 {
		t.Errorf("counter %s is not in the worker's share (odd counters)", f[0])
	}
	if err := c.Verify(tok, f[0], v4, t0); err != nil {
		t.Fatalf("Verify(JS answer %s) = %v", f[0], err)
	}
}

// solver.js at least parses.
func TestJSSolverSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	p := filepath.Join(t.TempDir(), "solver.js")
	if err := os.WriteFile(p, solverJS, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", p).CombinedOutput(); err != nil {
		t.Fatalf("solver.js: %v\n%s", err, out)
	}
}

// BenchmarkJSSolver measures worker.js's hash rate under Node on a real
// token: the figure behind MaxDifficulty (see the package comment). It
// reports hashes/s and the cap in bits that rate/10 would allow (a low-end
// phone, 90% done within 3 s).
func BenchmarkJSSolver(b *testing.B) {
	c := newTest(b)
	tok := c.Issue(v4, 64, t0) // unsolvable: every attempt is counted
	n := min(b.N, 500) * 10000 // at most 5 M hashes, about 2 s
	out := runNode(b, `
const pow = require('./worker.js');
const s = new pow.Search(process.argv[2]), n = +process.argv[3];
s.run(0, 1, 200000, 64); // warm up the JIT
const t = process.hrtime.bigint();
s.run(0, 1, n, 64);
console.log(Number(process.hrtime.bigint() - t));`, tok, strconv.Itoa(n))
	ns, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		b.Fatal(err)
	}
	rate := float64(n) / (ns / 1e9)
	b.ReportMetric(rate, "hashes/s")
	b.ReportMetric(math.Floor(math.Log2(rate/10*3/math.Ln10)), "phone-cap-bits")
}
