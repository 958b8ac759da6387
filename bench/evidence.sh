#!/usr/bin/env bash
# bench/evidence.sh — the evidence issue's speed targets, measured on this
# machine:
#   1. journal appends per second (64 concurrent appenders, fsync'd group
#      commits): go test -bench Append ./internal/evidence/journal/
#   2. export and offline verification of an episode of 1 M sampled
#      request records: seconds and peak heap (BenchmarkExport1M)
#   3. the recorder's cost in process: the whole handler fed a flood during
#      an episode, with and without the recorder (BenchmarkFloodRecording)
#   4. the recorder's cost end to end: `preau demo` pinned to CPU 0, flooded
#      by `preau storm --scenario flood --sources forwarded` from CPU 1 at a
#      rate above what one core answers (RATE, default 40000/s), for
#      DURATION (20s), once with --evidence=true and once with
#      --evidence=false; the shield's throughput is its decisions per second
#      (preau_shield_decisions_total), read from /metrics before and after.
# Loopback only, every run bounded. Prints a markdown table for
# bench/RESULTS.md. Usage: bash bench/evidence.sh   (about 6 minutes)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RATE=${RATE:-40000}
DURATION=${DURATION:-20s}
COUNT=${COUNT:-5}
BIN=${BIN:-/tmp/preau-evidence-bench}
OUT=${OUT:-$HERE/out/evidence}
PORT=${PORT:-18400}
mkdir -p "$OUT"
log() { printf '[evidence %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cd "$ROOT"
command -v taskset >/dev/null || { log "taskset (util-linux) is needed"; exit 1; }

log "1/4 journal appends"
go test -run '^$' -bench 'Append$|AppendBatch100' -benchtime 3s -count "$COUNT" ./internal/evidence/journal/ | tee "$OUT/append.txt" >&2
log "2/4 export of 1 M records"
go test -run '^$' -bench Export1M -benchtime 1x -count 1 -timeout 30m ./internal/evidence/export/ | tee "$OUT/export.txt" >&2
log "3/4 recorder in process"
go test -run '^$' -bench FloodRecording -benchtime 3s -count "$COUNT" ./internal/app/ | tee "$OUT/flood-inprocess.txt" >&2

log "4/4 recorder end to end"
go build -o "$BIN" ./cmd/preau
PID=""
DATA=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; [[ -n $DATA ]] && rm -rf "$DATA"; return 0; }
trap cleanup EXIT
decisions() { curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^preau_shield_decisions_total/ {s += $2} END {printf "%.0f", s}'; }
cputicks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
declare -A TPUT CPU APPENDED
for ev in false true; do
	DATA=$(mktemp -d /tmp/preau-evbench-XXXXXX)
	taskset -c 0 "$BIN" demo --size 2x5 --addr "127.0.0.1:$PORT" --data "$DATA" --log-level warn --evidence="$ev" \
		--trusted-proxies 127.0.0.1/32 --detect-warmup 3s >"$OUT/preau-$ev.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.2; done
	sleep 4 # past the detector's warm-up
	before=$(decisions)
	t0=$(cputicks)
	s0=$(date +%s.%N)
	timeout 120 taskset -c 1 "$BIN" storm --target "http://127.0.0.1:$PORT" --scenario flood --sources forwarded --rate "$RATE" \
		--duration "$DURATION" --out "$OUT/storm-$ev" >"$OUT/storm-$ev.txt" 2>&1 || true
	s1=$(date +%s.%N)
	t1=$(cputicks)
	after=$(decisions)
	APPENDED[$ev]=$(curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^preau_evidence_records_appended_total/ {s += $2} END {printf "%.0f", s}')
	TPUT[$ev]=$(awk -v a="$after" -v b="$before" -v s0="$s0" -v s1="$s1" 'BEGIN {printf "%.0f", (a - b) / (s1 - s0)}')
	CPU[$ev]=$(awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (t1 - t0) / hz / (s1 - s0)}')
	log "evidence=$ev: ${TPUT[$ev]} decisions/s, ${CPU[$ev]} cores, ${APPENDED[$ev]:-0} evidence records"
	kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
	rm -rf "$DATA"; DATA=""
done

med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
app=$(grep -E '^BenchmarkAppend-' "$OUT/append.txt" | grep -o '[0-9.]* records/s' | awk '{print $1}' | med)
batch=$(grep -E '^BenchmarkAppendBatch100-' "$OUT/append.txt" | grep -o '[0-9.]* records/s' | awk '{print $1}' | med)
off=$(grep 'FloodRecording/off' "$OUT/flood-inprocess.txt" | awk '{print $3}' | med)
on=$(grep 'FloodRecording/on' "$OUT/flood-inprocess.txt" | awk '{print $3}' | med)
exp=$(grep Export1M "$OUT/export.txt" | head -1)
field() { echo "$exp" | grep -o "[0-9.]* $1" | awk '{print $1}'; }
cat <<MD | tee "$OUT/evidence.md"
| Measure | Result | Target |
|---|---:|---|
| journal appends, 64 concurrent appenders (median of $COUNT) | $(printf "%.0f" "$app") records/s | ≥ 50,000/s |
| journal appends, batches of 100 (median of $COUNT) | $(printf "%.0f" "$batch") records/s | |
| export of an episode of 1 M sampled requests (raw) | $(field export-s) s, peak heap $(field export-peak-heap-MiB) MiB | < 60 s, bounded memory |
| offline verification of that package | $(field verify-s) s, peak heap $(field verify-peak-heap-MiB) MiB | |
| in process, flood during an episode, recorder off → on (median of $COUNT) | $off → $on ns/request ($(awk -v a="$off" -v b="$on" 'BEGIN {printf "%+.1f %%", 100 * (b - a) / a}')) | |
| end to end, shield's decisions/s at $RATE/s asked, recorder off → on | ${TPUT[false]} → ${TPUT[true]} ($(awk -v a="${TPUT[false]}" -v b="${TPUT[true]}" 'BEGIN {printf "%+.1f %%", 100 * (b - a) / a}')); target CPU ${CPU[false]} → ${CPU[true]} cores; ${APPENDED[true]} evidence records | recording costs < 5 % |
MD
