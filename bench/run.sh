#!/usr/bin/env bash
# bench/run.sh — load test of Préau on this machine, in one run:
#
#   1. ceiling: a plain net/http "hello" handler (bench/hello)
#   2. GET /api/v1/homework (JSON, current week) with many students' tokens
#   3. GET / (HTML student home page) with many students' session cookies
#   4. POST /api/v1/login with rotating students and the correct password
#
# Everything listens on and is loaded through 127.0.0.1 only. Each phase runs
# wrk for a fixed duration (after a short warm-up), so the script always
# stops by itself. A markdown table goes to stdout (and bench/out/summary.md);
# raw wrk outputs, server logs and samples go to bench/out/.
#
# Configuration (environment variables, defaults in brackets):
#   DURATION [20]          seconds measured per phase
#   WARMUP [3]             seconds of unmeasured warm-up before each phase
#   THREADS [2]            wrk threads
#   CONNECTIONS [64]       wrk connections for hello, homework and home
#   LOGIN_CONNECTIONS [16] wrk connections for the login phase (argon2id is
#                          CPU-bound: more connections only add queueing)
#   TIMEOUT [10s]          wrk per-request timeout
#   USERS [200]            distinct students whose tokens/cookies rotate
#   SIZE [30x30]           demo school size (classes x students per class)
#   APP_ADDR [127.0.0.1:8081], HELLO_ADDR [127.0.0.1:8082]  (loopback only)
#   SHIELD [true]: false measures the application without the shield
#   PREAU_BIN [/tmp/preau-bench], HELLO_BIN [/tmp/preau-bench-hello]
#   SKIP_BUILD [0]         1 = use the binaries as they are
#   PERF [0]               1 = also record `perf record -g` of the server
#                          during each Préau phase (bench/out/*.perf.*)
#   QUIET_WAIT [20]        before each phase, wait up to this many seconds
#                          for the machine to be idle (other processes below
#                          QUIET_BUSY % CPU over 1 s); 0 disables. The machine
#                          may be shared: the table's "Other CPU" column shows
#                          how much CPU other processes took during a phase.
#   QUIET_BUSY [15]
#   OUT [bench/out]        output directory
#
# Targets (from the issue): homework JSON >= 10000 req/s, HTML home >= 5000
# req/s, password logins >= 50/s.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-16}
TIMEOUT=${TIMEOUT:-10s}
USERS=${USERS:-200}
SIZE=${SIZE:-30x30}
APP_ADDR=${APP_ADDR:-127.0.0.1:8081}
HELLO_ADDR=${HELLO_ADDR:-127.0.0.1:8082}
PREAU_BIN=${PREAU_BIN:-/tmp/preau-bench}
HELLO_BIN=${HELLO_BIN:-/tmp/preau-bench-hello}
SKIP_BUILD=${SKIP_BUILD:-0}
PERF=${PERF:-0}
QUIET_WAIT=${QUIET_WAIT:-20}
QUIET_BUSY=${QUIET_BUSY:-15}
OUT=${OUT:-$HERE/out}
LUA=$HERE/lua/rotate.lua

TARGET_HOMEWORK=10000
TARGET_HOME=5000
TARGET_LOGIN=50

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for a in "$APP_ADDR" "$HELLO_ADDR"; do
	[[ $a == 127.0.0.1:* ]] || die "address $a is not on 127.0.0.1; load tests target loopback only"
done
command -v wrk >/dev/null || die "wrk not found"
command -v curl >/dev/null || die "curl not found"
[[ $SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || die "SIZE must look like 30x30"
CLASSES=${BASH_REMATCH[1]}
PER_CLASS=${BASH_REMATCH[2]}
(( USERS <= CLASSES * PER_CLASS )) || die "USERS=$USERS exceeds the $((CLASSES * PER_CLASS)) demo students"

mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.time "$OUT"/*.procs? "$OUT"/*.rss "$OUT"/*.perf.* "$OUT"/summary.md

# --- processes started by this script, stopped on exit by their PIDs -------
PIDS=()
DATA=""
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $DATA ]]; then rm -rf "$DATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
	log "building $PREAU_BIN and $HELLO_BIN"
	(cd "$ROOT" && go build -o "$PREAU_BIN" ./cmd/preau && go build -o "$HELLO_BIN" ./bench/hello)
fi

port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
port_free "$APP_ADDR" || die "$APP_ADDR is already in use"
port_free "$HELLO_ADDR" || die "$HELLO_ADDR is already in use"

# --- start the servers --------------------------------------------------------
"$HELLO_BIN" -addr "$HELLO_ADDR" >"$OUT/hello.log" 2>&1 &
HELLO_PID=$!
PIDS+=("$HELLO_PID")

DATA=$(mktemp -d /tmp/preau-bench-XXXXXX)
log "seeding demo school $SIZE in $DATA"
# With the shield on, wrk's one source address stands for a school's NAT,
# allowlisted as an operator would, so 200 logins from it are not rate
# limited as an anonymous flood (floods are the storm benchmark's subject).
"$PREAU_BIN" demo --size "$SIZE" --addr "$APP_ADDR" --data "$DATA" --log-level warn --shield="${SHIELD:-true}" --allowlist 127.0.0.0/8 >"$OUT/preau.log" 2>&1 &
APP_PID=$!
PIDS+=("$APP_PID")

for _ in $(seq 1 600); do
	grep -q "http://$APP_ADDR" "$OUT/preau.log" 2>/dev/null && break
	kill -0 "$APP_PID" 2>/dev/null || { cat "$OUT/preau.log" >&2; die "preau exited"; }
	sleep 0.2
done
grep -q "http://$APP_ADDR" "$OUT/preau.log" || die "preau not ready after 120 s"
for _ in $(seq 1 50); do
	curl -fs "http://$HELLO_ADDR/" >/dev/null && break
	sleep 0.1
done
curl -fs "http://$HELLO_ADDR/" >/dev/null || die "hello server not answering"
APP=http://$APP_ADDR
HELLO=http://$HELLO_ADDR

# --- credentials ----------------------------------------------------------------
# Students are e<class>.<n>; the first student of class 1 is "eleve". The
# USERS students are spread over all classes: e1.1, e2.1, …, e30.1, e1.2, …
student() { # class n
	if (( $1 == 1 && $2 == 1 )); then echo eleve; else echo "e$1.$2"; fi
}
: >"$OUT/students.txt"
for ((i = 0; i < USERS; i++)); do
	student $((i % CLASSES + 1)) $((i / CLASSES + 1)) >>"$OUT/students.txt"
done
: >"$OUT/all-students.txt"
for ((n = 1; n <= PER_CLASS; n++)); do
	for ((c = 1; c <= CLASSES; c++)); do
		student "$c" "$n" >>"$OUT/all-students.txt"
	done
done

log "logging in $USERS students through the API (tokens)"
xargs -P 2 -I{} curl -s -X POST -H 'Content-Type: application/json' \
	-d '{"login":"{}","password":"demo"}' -w '\n' "$APP/api/v1/login" <"$OUT/students.txt" |
	sed -n 's/.*"token":"\([^"]*\)".*/\1/p' >"$OUT/tokens.txt"
[[ $(wc -l <"$OUT/tokens.txt") -eq $USERS ]] || die "got $(wc -l <"$OUT/tokens.txt") tokens, want $USERS"

log "logging in $USERS students through the HTML form (cookies)"
xargs -P 2 -I{} curl -s -o /dev/null -D - --data-urlencode 'login={}' -d password=demo "$APP/login" \
	<"$OUT/students.txt" |
	sed -n 's/^[Ss]et-[Cc]ookie: preau_session=\([^;]*\);.*/\1/p' >"$OUT/cookies.txt"
[[ $(wc -l <"$OUT/cookies.txt") -eq $USERS ]] || die "got $(wc -l <"$OUT/cookies.txt") cookies, want $USERS"

# Sanity checks and response sizes.
read -r HW_CODE HW_BYTES < <(curl -s -o "$OUT/homework-sample.json" -w '%{http_code} %{size_download}\n' \
	-H "Authorization: Bearer $(head -1 "$OUT/tokens.txt")" "$APP/api/v1/homework")
[[ $HW_CODE == 200 ]] || die "GET /api/v1/homework answered $HW_CODE"
read -r HOME_CODE HOME_BYTES < <(curl -s -o "$OUT/home-sample.html" -w '%{http_code} %{size_download}\n' \
	-H "Cookie: preau_session=$(head -1 "$OUT/cookies.txt")" "$APP/")
[[ $HOME_CODE == 200 ]] || die "GET / answered $HOME_CODE"
HW_ITEMS=$(grep -o '"id":' "$OUT/homework-sample.json" | wc -l)
log "homework list: $HW_BYTES bytes ($HW_ITEMS ids); home page: $HOME_BYTES bytes"

# --- measurement helpers ------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
proc_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }       # utime+stime of a process
machine_ticks() { awk '/^cpu /{t=0; for (i=2;i<=9;i++) t+=$i; print t, $5 + $6, $9, $7 + $8}' /proc/stat; } # total idle steal irq+softirq

all_ticks() { # "pid ticks comm" for every process (for attributing other CPU use)
	local f
	for f in /proc/[0-9]*/stat; do
		cat "$f" 2>/dev/null || true
	done | awk '{c=$2; i=3; while (c !~ /\)$/) {c=c" "$i; i++}; print $1, $(i+11)+$(i+12), c}'
}

rss_sampler() { # pid file: VmRSS in KiB every 0.5 s
	while kill -0 "$1" 2>/dev/null; do
		awk '/^VmRSS:/{print $2}' "/proc/$1/status" >>"$2" 2>/dev/null || true
		sleep 0.5
	done
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

busy_pct_1s() { # machine CPU busy % over one second
	local a b c d
	read -r a b _ < <(machine_ticks)
	sleep 1
	read -r c d _ < <(machine_ticks)
	awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'BEGIN{printf "%.0f", (c>a) ? 100*(1-(d-b)/(c-a)) : 0}'
}

wait_quiet() { # name
	(( QUIET_WAIT > 0 )) || return 0
	local waited=0 busy
	while :; do
		busy=$(busy_pct_1s)
		waited=$((waited + 1))
		if (( busy <= QUIET_BUSY )); then
			log "$1: machine idle (${busy}% busy) after ${waited}s"
			return 0
		fi
		if (( waited >= QUIET_WAIT )); then
			log "$1: machine still ${busy}% busy after ${waited}s; measuring anyway"
			return 0
		fi
	done
}

ROWS=()
run_wrk() { # url conns duration outfile  (env BENCH_* passed through)
	wrk -t "$THREADS" -c "$2" -d "${3}s" --timeout "$TIMEOUT" --latency -s "$LUA" "$1" >"$4" 2>&1
}

phase() { # name label pid url mode path file conns target
	local name=$1 label=$2 pid=$3 url=$4 mode=$5 path=$6 file=$7 conns=$8 target=$9
	export BENCH_MODE=$mode BENCH_PATH=$path BENCH_FILE=$file
	wait_quiet "$name"
	if (( WARMUP > 0 )); then
		log "$name: warm-up ${WARMUP}s"
		run_wrk "$url$path" "$conns" "$WARMUP" "$OUT/$name.warmup.txt"
	fi
	log "$name: measuring ${DURATION}s, $THREADS threads, $conns connections"
	: >"$OUT/$name.rss"
	rss_sampler "$pid" "$OUT/$name.rss" &
	local sampler=$!
	local perf_pid=""
	if [[ $PERF == 1 && $pid == "$APP_PID" ]] && command -v perf >/dev/null; then
		perf record -g -F 499 -o "$OUT/$name.perf.data" -p "$pid" -- sleep "$DURATION" \
			>"$OUT/$name.perf.log" 2>&1 &
		perf_pid=$!
	fi
	local c0 m0 i0 s0 q0 c1 m1 i1 s1 q1
	all_ticks >"$OUT/$name.procs0"
	c0=$(proc_cpu_ticks "$pid")
	read -r m0 i0 s0 q0 < <(machine_ticks)
	local TIMEFORMAT='%R %U %S'
	{ time run_wrk "$url$path" "$conns" "$DURATION" "$OUT/$name.txt"; } 2>"$OUT/$name.time"
	c1=$(proc_cpu_ticks "$pid")
	read -r m1 i1 s1 q1 < <(machine_ticks)
	all_ticks >"$OUT/$name.procs1"
	# Top CPU consumers during the phase (server, wrk and anything else).
	awk -v t="$CLK_TCK" -v d="$DURATION" 'NR==FNR{a[$1]=$2; next}
		{pid=$1; v=$2; $1=""; $2=""; u=(v-(pid in a ? a[pid] : 0))/t/d; if (u >= 0.01) printf "%.2f cores  pid %s %s\n", u, pid, $0}' \
		"$OUT/$name.procs0" "$OUT/$name.procs1" | sort -rn | head -10 >"$OUT/$name.top.txt"
	rm -f "$OUT/$name.procs0" "$OUT/$name.procs1"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	if [[ -n $perf_pid ]]; then
		wait "$perf_pid" 2>/dev/null || true
		perf report -i "$OUT/$name.perf.data" --no-children --percent-limit 1 --stdio \
			>"$OUT/$name.perf.txt" 2>/dev/null || true
	fi

	local b
	b=$(grep '^BENCH ' "$OUT/$name.txt") || { cat "$OUT/$name.txt" >&2; die "$name: no BENCH line"; }
	local rps p50 p99 non2xx errs wall wu ws
	rps=$(field "$b" rps)
	p50=$(field "$b" p50_us)
	p99=$(field "$b" p99_us)
	non2xx=$(field "$b" non2xx)
	errs=$(($(field "$b" err_connect) + $(field "$b" err_read) + $(field "$b" err_write) + $(field "$b" err_timeout)))
	read -r wall wu ws <"$OUT/$name.time"
	local srv_cores wrk_cores mach other steal rss_max
	srv_cores=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v w="$wall" 'BEGIN{printf "%.2f", (b-a)/t/w}')
	wrk_cores=$(awk -v u="$wu" -v s="$ws" -v w="$wall" 'BEGIN{printf "%.2f", (u+s)/w}')
	mach=$(awk -v m0="$m0" -v m1="$m1" -v i0="$i0" -v i1="$i1" 'BEGIN{printf "%.0f", 100*(1-(i1-i0)/(m1-m0))}')
	# CPU used by everything else on the machine (other processes), in cores:
	# busy time minus the server, wrk, interrupt/softirq time (loopback TCP
	# is mostly softirq) and steal (time the hypervisor gave other guests).
	other=$(awk -v m0="$m0" -v m1="$m1" -v i0="$i0" -v i1="$i1" -v s0="$s0" -v s1="$s1" -v q0="$q0" -v q1="$q1" \
		-v n="$(nproc)" -v a="$srv_cores" -v b="$wrk_cores" \
		'BEGIN{f=n/(m1-m0); busy=n-(i1-i0)*f; o=busy-(s1-s0)*f-(q1-q0)*f-a-b; if (o<0) o=0; printf "%.2f", o}')
	steal=$(awk -v m0="$m0" -v m1="$m1" -v s0="$s0" -v s1="$s1" 'BEGIN{printf "%.0f", 100*(s1-s0)/(m1-m0)}')
	rss_max=$(sort -n "$OUT/$name.rss" | tail -1)
	rss_max=$(awk -v k="${rss_max:-0}" 'BEGIN{printf "%.0f", k/1024}')
	local verdict="ceiling" pct=""
	if [[ $target != - ]]; then
		pct=$(awk -v r="$rps" -v t="$target" 'BEGIN{printf "%.0f", 100*r/t}')
		if awk -v r="$rps" -v t="$target" 'BEGIN{exit !(r >= t)}'; then
			verdict="**met** (≥ $target, ${pct}%)"
		else
			verdict="**MISSED** (< $target, ${pct}%)"
		fi
	fi
	ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
	if awk -v o="$other" 'BEGIN{exit !(o >= 0.3)}'; then
		verdict+=" — contended: other processes used $other cores"
	fi
	ROWS+=("| $label | $conns | $(printf '%.0f' "$rps") | $(ms "$p50") | $(ms "$p99") | $non2xx | $errs | $srv_cores | $rss_max | $wrk_cores | $other | $mach% ($steal% steal) | $verdict |")
	log "$name: $(printf '%.0f' "$rps") req/s, p50 $(ms "$p50") ms, p99 $(ms "$p99") ms, non-2xx $non2xx, errors $errs"
	eval "RPS_$name=$rps"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# The code measured: HEAD plus a fingerprint of uncommitted changes (the
# binary is built from the working tree).
CODE_STATE=unknown
if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
	CODE_STATE="commit $(git -C "$ROOT" rev-parse --short HEAD)"
	dirty=$(git -C "$ROOT" status --porcelain -- . ':!bench' | wc -l)
	if (( dirty > 0 )); then
		CODE_STATE+=" + $dirty uncommitted paths (diff sha256 $(git -C "$ROOT" diff HEAD -- . ':!bench' | sha256sum | cut -c1-12))"
	fi
fi
STARTED=$(date -Iseconds)

phase hello "hello (net/http ceiling) \`GET /\`" "$HELLO_PID" "$HELLO" plain / "" "$CONNECTIONS" -
phase homework "JSON homework list \`GET /api/v1/homework\`" "$APP_PID" "$APP" bearer /api/v1/homework "$OUT/tokens.txt" "$CONNECTIONS" "$TARGET_HOMEWORK"
phase home "HTML student home \`GET /\`" "$APP_PID" "$APP" cookie / "$OUT/cookies.txt" "$CONNECTIONS" "$TARGET_HOME"
phase login "password login \`POST /api/v1/login\`" "$APP_PID" "$APP" login "" "$OUT/all-students.txt" "$LOGIN_CONNECTIONS" "$TARGET_LOGIN"

# --- report -------------------------------------------------------------------------
GOVERSION=$(cd "$ROOT" && go version 2>/dev/null || echo unknown)
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/^MemTotal:/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
{
	echo "## Préau load test — $STARTED"
	echo
	echo "- Machine: $(nproc) CPUs ($MODEL), $MEM RAM; load average before the run: $LOAD_BEFORE"
	echo "- Code: $CODE_STATE"
	echo "- $GOVERSION; wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'); wrk shares the same CPUs as the server"
	echo "- Each phase: ${WARMUP}s warm-up, then ${DURATION}s measured; $THREADS wrk threads; timeout $TIMEOUT"
	echo "- Demo school $SIZE; $USERS distinct students rotate (tokens / cookies); logins rotate over all $((CLASSES * PER_CLASS)) students"
	echo "- One homework list response: $HW_BYTES bytes ($HW_ITEMS entries); one home page: $HOME_BYTES bytes"
	echo
	echo "| Phase | Conns | Req/s | p50 (ms) | p99 (ms) | Non-2xx | Socket errors | Server CPU (cores) | Server RSS max (MiB) | wrk CPU (cores) | Other CPU (cores) | Machine CPU busy | Target |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	awk -v h="$RPS_hello" -v j="$RPS_homework" -v p="$RPS_home" 'BEGIN{
		printf "Relative to the hello ceiling: homework JSON %.0f%%, HTML home %.0f%%.\n", 100*j/h, 100*p/h }'
	echo
	echo "Raw wrk outputs (with --latency distributions): $OUT/{hello,homework,home,login}.txt"
} | tee "$OUT/summary.md"
