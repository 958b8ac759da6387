#!/usr/bin/env bash
# bench/sfu.sh — the live class's speed target (issue 6): how many
# subscribers of one ~500 kbit/s camera (+ Opus-like audio) one SFU node
# forwards on this machine with under 1 % loss (target: 1,000), the node's
# CPU per subscriber, and the join latency of 30 students joining at once.
#
# The node and the synthetic pion clients run as two processes of
# bench/sfu (go run ./bench/sfu -h): `-role node` pinned to NODE_CPUS
# (default CPU 0), `-role clients` (the teacher and the subscribers)
# pinned to CLIENT_CPUS (default CPU 1), through bench/lib/cpu.sh (cgroup
# v1 cpuset, else taskset). For each size in SIZES a fresh node; the
# clients join (a burst of BURST, then waves of WAVE), measure DURATION,
# read the node's CPU time and counters from its /stats at both ends of
# the window, and stop the node. The clients' CPU is shown too: when their
# core is saturated, loss may be theirs (late reads), not the node's.
#
# The subscribers count each packet from its RTP header (clear in SRTP) at
# their socket and drop it there, sending the node a browser's feedback
# (TWCC every 100 ms, NACKs, receiver reports): decrypting every packet
# costs a client process more CPU than the node spends forwarding it, and
# on two cores it would measure the clients (COUNT=0 makes them decrypt,
# as the first runs in bench/RESULTS.md did).
#
# Loopback only; every process is bounded (timeout, the node's
# -max-lifetime) and killed on exit. Prints a markdown table (also in
# $OUT/sfu.md); does not write bench/RESULTS.md.
#
#   bash bench/sfu.sh                                  # the full ladder
#   SIZES="50 100" DURATION=5s bash bench/sfu.sh       # a quick check
#   PROFILE=1000 bash bench/sfu.sh                     # + the node's CPU profile at 1000
#
# Settings (environment): SIZES ("100 250 500 750 1000 1250"), DURATION
# (20s), COUNT (1), BURST (30), WAVE (50), SETUP (5m: bound on joining everyone),
# PORT (18500), PIN (1; 0 runs unpinned), NODE_CPUS (0), CLIENT_CPUS (1),
# WORKERS (0: the node's default), NODE_QUOTA (cap the node at this many
# cores with a CFS quota, e.g. 0.25: on two cores the clients saturate
# their core long before the node saturates its own, and a node shrunk
# below them shows where it saturates; its capacity per core is then
# about the largest clean size / NODE_QUOTA), PROFILE (a size whose node CPU profile
# to write to $OUT/node-SIZE.pprof), OUT (bench/out/sfu), BIN.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SIZES=${SIZES:-"100 250 500 750 1000 1250"}
DURATION=${DURATION:-20s}
BURST=${BURST:-30}
WAVE=${WAVE:-50}
COUNT=${COUNT:-1}
SETUP=${SETUP:-5m}
PORT=${PORT:-18500}
PIN=${PIN:-1}
NODE_CPUS=${NODE_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
WORKERS=${WORKERS:-0}
NODE_QUOTA=${NODE_QUOTA:-}
PROFILE=${PROFILE:-}
OUT=${OUT:-$HERE/out/sfu}
BIN=${BIN:-$OUT/sfu-bench}
log() { printf '[sfu %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=lib/cpu.sh
source "$HERE/lib/cpu.sh"

secs() { # a Go-style duration (20s, 5m, 1m30s) -> whole seconds
	local d=$1 total=0 n unit
	while [[ $d =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
		n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
		case $unit in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
	done
	[[ -z $d ]] || { log "cannot read the duration $1 (use h, m and s, e.g. 20s or 1m30s)"; exit 2; }
	echo "$total"
}
dur_s=$(secs "$DURATION")
setup_s=$(secs "$SETUP")
# Bounds: the clients get the setup, the window and a minute to report and
# close; the node lives a minute longer than its clients at most.
clients_s=$((setup_s + dur_s + 60))
node_s=$((clients_s + 60))

mkdir -p "$OUT"
cd "$ROOT"
log "building bench/sfu"
go build -o "$BIN" ./bench/sfu

NODE_PID=""
CLIENTS_PID=""
stop_node() { # waits up to 20 s for the node to stop by itself (the clients asked it), then kills it
	[[ -n $NODE_PID ]] || return 0
	for _ in $(seq 100); do
		kill -0 "$NODE_PID" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$NODE_PID" 2>/dev/null; then
		log "node $NODE_PID still running: killing it"
		kill "$NODE_PID" 2>/dev/null || true
	fi
	wait "$NODE_PID" 2>/dev/null || true
	NODE_PID=""
}
cleanup() { # timeout(1) passes the TERM on to the bench process it runs
	local pid
	for pid in $CLIENTS_PID $NODE_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	cpu_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -z $NODE_QUOTA || $NODE_QUOTA =~ ^[0-9]*\.?[0-9]+$ ]] || { log "NODE_QUOTA must be a number of cores, e.g. 0.25"; exit 2; }
cpu_init "$PIN" "$NODE_CPUS" "$CLIENT_CPUS" "$NODE_QUOTA"
quota=()
[[ -n $CPU_QUOTA ]] && quota=(-node-cores "$CPU_QUOTA")
receive=()
receiving="decrypt every packet (COUNT=0)"
if [[ $COUNT == 1 ]]; then
	receive=(-count-at-socket)
	receiving="count packets at their socket without decrypting them (COUNT=1)"
fi
case $CPU_MODE in
cpuset | taskset) placement="node pinned to CPU $CPU_TARGET, clients to CPU $CPU_LOAD ($CPU_MODE)" ;;
*) placement="**unpinned** (${CPU_NOTE:-PIN=0}): node and clients share the CPUs" ;;
esac
if [[ -n $CPU_QUOTA ]]; then
	placement+="; the node limited to $CPU_QUOTA cores (CFS quota, 10 ms period)"
elif [[ -n $NODE_QUOTA ]]; then
	placement+="; NODE_QUOTA=$NODE_QUOTA could not be set: the node is not limited"
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for n in $SIZES; do
	log "$n subscribers: node on CPU ${CPU_TARGET:-any}, clients on CPU ${CPU_LOAD:-any}, $DURATION measured"
	(cpu_exec target timeout "$node_s" "$BIN" -role node -listen "127.0.0.1:$PORT" -workers "$WORKERS" \
		-max-lifetime "${node_s}s") >"$OUT/node-$n.log" 2>&1 &
	NODE_PID=$!
	prof=()
	[[ $n == "$PROFILE" ]] && prof=(-node-profile "$OUT/node-$n.pprof")
	# The clients wait for the node's signalling to answer, and stop it
	# at the end. In the background, so that a signal to this script
	# interrupts the wait and the trap stops both processes at once.
	(cpu_exec load timeout "$clients_s" "$BIN" -role clients -node "http://127.0.0.1:$PORT" \
		-subscribers "$n" -duration "$DURATION" -burst "$BURST" -wave "$WAVE" -setup-timeout "$SETUP" \
		"${prof[@]}" "${quota[@]}" "${receive[@]}") >"$OUT/clients-$n.txt" 2>&1 &
	CLIENTS_PID=$!
	ok=1
	wait "$CLIENTS_PID" || ok=0
	CLIENTS_PID=""
	if ((ok)); then
		row=$(sed -n 's/^row: //p' "$OUT/clients-$n.txt")
		log "$row"
		rows+=("$row")
	else
		why=$(tail -n 1 "$OUT/clients-$n.txt" | tr '|' '/' | cut -c1-200)
		log "$n subscribers failed: $why (see $OUT/clients-$n.txt)"
		rows+=("| $n | failed: $why | | | | | | | | |")
	fi
	stop_node
done

{
	echo "SFU node capacity, $(date +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc --all) CPUs, load average before the ladder: $load"
	echo "Placement: $placement. One teacher publishing a ~500 kbit/s 30 fps VP8-like camera and 50 pkt/s Opus-like audio; $DURATION measured per size after everyone joined; join latency of a burst of $BURST students joining at once (join request to first media packet)."
	echo "Node CPU is the node process's own (getrusage) over the window; the clients process holds the teacher and every subscriber, who $receiving."
	echo
	"$BIN" -table-header
	printf '%s\n' "${rows[@]}"
	echo
	echo "Loss (recv vs expected): packets the subscribers received (retransmissions included) against packets published × subscribers over the window; packets in flight at its ends can make it slightly negative (shown as 0); **backlog +x %** means x % more received than published in the window: packets queued before it were delivered late, someone fell behind (a saturated node shows this before it shows loss). Loss (seq gaps): sequence numbers never received. Node CPU: the node process's user + system time over the window (% sys: the kernel's share; on loopback sendto also runs the receiving sockets' UDP input, which a real NIC would not charge the node). µs/packet: node CPU per packet written to one subscriber. Forwarded: the node's output; packets/s published is 112.7 when the teacher's generator (in the clients process) keeps time, less when the clients' core made it late. Node drops: fan-out queue overflows or refused writes; mode changes: subscribers the degradation ladder moved (down to audio on loss, which then counts as loss here). A saturated clients core means late reads there: the loss may be the clients', not the node's."
} | tee "$OUT/sfu.md"
