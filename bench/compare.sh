#!/usr/bin/env bash
# bench/compare.sh — side by side, on this machine and under the same floods:
#
#   (a) shield    Préau with its shield (the default)
#   (b) noshield  Préau with the shield off (--shield=false)
#   (c) nginx     Préau with the shield off behind nginx (Debian package) with
#                 the static per-address limits most ENT operators use:
#                 limit_req 5 r/s burst 100 nodelay and limit_conn 20 per
#                 address (bench/nginx/nginx.conf.tmpl, which says why each
#                 line is there)
#
# Each setup gets a fresh `preau demo --size SIZE` (plus nginx for (c)). The
# load is `preau storm --scenario sweep`: STUDENTS logged-in students (closed
# loop) alone, then against an open-loop flood of anonymous GET / and
# GET /login at each multiple of the capacity, from 10,000 rotating loopback
# addresses (SOURCES=rotating: every request from another address). The
# capacity is measured ONCE, on setup (b) (students reading with no pause for
# one STEP), and the same --capacity is given to every run, so the three
# setups get identical floods. Each multiple is its own storm run (a sweep of
# one STEP against the same target process, one after the other), so that
# attack requests sent, attack reach, CPU and RSS are known per multiple.
#
# The target side (Préau and nginx) is pinned to TARGET_CPUS and the storm to
# LOAD_CPUS (bench/lib/cpu.sh: cgroup v1 cpuset, else taskset, else a warning
# and unpinned), so the generator does not steal the target's CPU. A flood
# the generator could not send is not a flood the target survived: the table
# gives the achieved attack rate (attack requests sent / (multiple ×
# capacity × STEP)). If 10× and 20× are out of the generator's reach, shrink
# the backend with TARGET_QUOTA (e.g. 0.5 core): capacity falls with it, and
# so do the rates the generator must reach.
#
# "Attack reach" is the share of attack requests that reached the application
# itself, counted from Préau's own preau_http_requests_total (the shield's and
# nginx's refusals never get there): by the storm's --app-metrics when the
# built binary has it, otherwise by this script, which scrapes Préau's
# /metrics directly before and after each run and counts the requests to
# routes other than /api/… (the students' API) and the probes (/metrics,
# /readyz, /healthz).
#
# Everything listens on and is loaded through 127.0.0.1 only; every storm run
# is bounded (`timeout`), and all processes and cgroups started here are
# stopped or removed on exit. Outputs go to OUT: compare.md (the table, ready
# to paste into bench/RESULTS.md, also printed), runs.tsv (one line per run),
# commands.txt (every command run), and per setup and multiple the storm's
# report.{json,md,svg}, its output and the target's logs.
#
# Configuration (environment variables, defaults in brackets):
#   STEP [30s]             length of one step (and of the capacity
#                          measurement); seconds, "30s" or "2m"
#   MULTIPLES [0,1,2,5,10,20]  flood rates, multiples of the capacity; 0 =
#                          students alone (the reference for "% of no attack")
#   STUDENTS [300]         students of the closed loop (preau storm --students)
#   SIZE [30x30]           demo school size (classes x students per class)
#   SOURCES [rotating]     flood sources (preau storm --sources); "forwarded"
#                          sends the same 10,000 rotating addresses in
#                          X-Forwarded-For over keep-alive connections from
#                          127.0.0.1, as behind a reverse proxy or a CDN:
#                          Préau then trusts 127.0.0.1 (--trusted-proxies)
#                          and nginx takes the client from X-Forwarded-For
#                          (real_ip), so that every setup limits the same
#                          10,000 clients
#   SETUPS [shield,noshield,nginx]  which setups, in the table's order
#   CAPACITY [unset]       requests/s; unset = measured once on setup (b)
#   ALLOWLIST [127.0.0.1/32]  the students' address, a school NAT: Préau's
#                          --allowlist in every setup and exempt from nginx's
#                          limits, as an operator would do in both; empty =
#                          nobody exempt
#   PIN [1]                1 = pin the target side and the storm to their
#                          CPUs; 0 = no pinning
#   TARGET_CPUS [0], LOAD_CPUS [1]  CPU lists for PIN=1
#   TARGET_QUOTA [unset]   cap the target side (Préau + nginx together) at
#                          this many cores with a CFS quota (cgroup v1 cpu
#                          controller), e.g. 0.5, so that 10x and 20x floods
#                          stay within the generator's reach
#   QUIET_WAIT [20]        before each storm run, wait up to this many seconds
#                          for the machine to be idle (below QUIET_BUSY % CPU
#                          over 1 s); 0 disables. The machine may be shared:
#                          the table's "Other CPU" column shows how much CPU
#                          other processes took during each run.
#   QUIET_BUSY [15]
#   CALM_WAIT [330]        before each storm run, wait up to this many seconds
#                          for the shield's escalation level to be back to 0
#                          (it cools down one level a minute after a flood)
#   SIGNIN_S [STUDENTS/2]  extra seconds each storm run may take to sign the
#                          students in before its steps (argon2id on a
#                          target shrunk by TARGET_QUOTA is slow)
#   BASE_PORT [18200]      ports on 127.0.0.1: BASE_PORT (a), +1 (b), +2
#                          (Préau behind nginx), +3 (nginx)
#   PREAU_BIN [/tmp/preau-compare]
#   SKIP_BUILD [0]         1 = use PREAU_BIN as it is
#   OUT [bench/out/compare]  output directory
#
# Quick check (a few minutes): STEP=5s MULTIPLES=0,1 STUDENTS=50 bash bench/compare.sh
# Needs curl, jq and (for setup c) nginx: jq and nginx-light are installed
# with apt-get when missing (run as root); the Debian nginx service is not
# left running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

CONFIG_VARS=(STEP MULTIPLES STUDENTS SIZE SOURCES SETUPS CAPACITY ALLOWLIST PIN TARGET_CPUS LOAD_CPUS TARGET_QUOTA
	QUIET_WAIT QUIET_BUSY CALM_WAIT BASE_PORT PREAU_BIN SKIP_BUILD OUT)
# The command as given: the configuration variables set in the environment.
COMMAND=""
for v in "${CONFIG_VARS[@]}"; do
	if [[ -n ${!v+x} ]]; then COMMAND+="$v=${!v} "; fi
done
COMMAND+="bash bench/compare.sh"

STEP=${STEP:-30s}
MULTIPLES=${MULTIPLES:-0,1,2,5,10,20}
STUDENTS=${STUDENTS:-300}
SIGNIN_S=${SIGNIN_S:-$((STUDENTS / 2))}
SIZE=${SIZE:-30x30}
SOURCES=${SOURCES:-rotating}
SETUPS=${SETUPS:-shield,noshield,nginx}
CAPACITY=${CAPACITY:-}
ALLOWLIST=${ALLOWLIST-127.0.0.1/32}
PIN=${PIN:-1}
TARGET_CPUS=${TARGET_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
TARGET_QUOTA=${TARGET_QUOTA:-}
QUIET_WAIT=${QUIET_WAIT:-20}
CALM_WAIT=${CALM_WAIT:-330}
QUIET_BUSY=${QUIET_BUSY:-15}
BASE_PORT=${BASE_PORT:-18200}
PREAU_BIN=${PREAU_BIN:-/tmp/preau-compare}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT=${OUT:-$HERE/out/compare}
TEMPLATE=$HERE/nginx/nginx.conf.tmpl

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
set -E
trap 'log "error: line $LINENO: $BASH_COMMAND failed"' ERR

# shellcheck source=bench/lib/cpu.sh
source "$HERE/lib/cpu.sh"

# --- checks -----------------------------------------------------------------
if [[ $STEP =~ ^([0-9]+)s?$ ]]; then
	STEP_S=${BASH_REMATCH[1]}
elif [[ $STEP =~ ^([0-9]+)m$ ]]; then
	STEP_S=$((BASH_REMATCH[1] * 60))
else
	die "STEP must look like 30s, 30 or 2m"
fi
((STEP_S >= 1 && STEP_S <= 600)) || die "STEP must be between 1 s and 10 min"
[[ $MULTIPLES =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] || die "MULTIPLES must look like 0,1,2,5,10,20"
IFS=, read -r -a MULTS <<<"$MULTIPLES"
IFS=, read -r -a SETUP_LIST <<<"$SETUPS"
for s in "${SETUP_LIST[@]}"; do
	case $s in shield | noshield | nginx) ;; *) die "SETUPS: unknown setup '$s' (want shield, noshield, nginx)" ;; esac
done
((${#SETUP_LIST[@]} > 0)) || die "SETUPS is empty"
[[ $SIZE =~ ^[0-9]+x[0-9]+$ ]] || die "SIZE must look like 30x30"
[[ $STUDENTS =~ ^[1-9][0-9]*$ ]] || die "STUDENTS must be a positive number"
if ! [[ $BASE_PORT =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT > 65530)); then
	die "BASE_PORT must be between 1024 and 65530"
fi
[[ -z $CAPACITY || $CAPACITY =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "CAPACITY must be a number of requests per second"
[[ -z $TARGET_QUOTA || $TARGET_QUOTA =~ ^[0-9]*\.?[0-9]+$ ]] || die "TARGET_QUOTA must be a number of cores, e.g. 0.5"
[[ $QUIET_WAIT =~ ^[0-9]+$ && $QUIET_BUSY =~ ^[0-9]+$ ]] || die "QUIET_WAIT and QUIET_BUSY must be whole numbers"

declare -A ADDR=(
	[shield]=127.0.0.1:$BASE_PORT
	[noshield]=127.0.0.1:$((BASE_PORT + 1))
	[nginx]=127.0.0.1:$((BASE_PORT + 2)) # Préau behind nginx
)
NGINX_ADDR=127.0.0.1:$((BASE_PORT + 3))
for a in "${ADDR[@]}" "$NGINX_ADDR"; do
	[[ $a == 127.0.0.1:* ]] || die "address $a is not on 127.0.0.1; load tests target loopback only"
done

command -v curl >/dev/null || die "curl not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
has_setup() { [[ ,$SETUPS, == *",$1,"* ]]; }
apt_install() { # package...
	[[ $(id -u) == 0 ]] || die "$* missing and not root: install it (apt-get install -y $*)"
	log "installing $* with apt-get"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >"$OUT/apt.log" 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update >>"$OUT/apt.log" 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >>"$OUT/apt.log" 2>&1
	fi
}
mkdir -p "$OUT"
command -v jq >/dev/null || apt_install jq || die "jq could not be installed (see $OUT/apt.log)"
if has_setup nginx && ! command -v nginx >/dev/null; then
	apt_install nginx-light || apt_install nginx || die "nginx could not be installed (see $OUT/apt.log)"
	# The package may have started Debian's nginx service (port 80): stop it.
	if [[ -s /run/nginx.pid ]] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
		log "stopping the nginx service the package started (pid $(cat /run/nginx.pid))"
		if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
			systemctl disable --now nginx >/dev/null 2>&1 || true
		fi
		if [[ -s /run/nginx.pid ]]; then
			kill -QUIT "$(cat /run/nginx.pid)" 2>/dev/null || true
		fi
	fi
fi

rm -rf "$OUT"/shield "$OUT"/noshield "$OUT"/nginx "$OUT"/capacity
rm -f "$OUT"/compare.md "$OUT"/runs.tsv "$OUT"/commands.txt

# --- processes started by this script, stopped on exit by their PIDs ----------
PIDS=()
DATADIRS=()
forget_pid() { # pid
	local p keep=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}
stop_pid() { # pid: TERM, then KILL after 15 s
	local pid=$1 i
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}
cleanup() {
	local pid d
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	for d in "${DATADIRS[@]}"; do
		rm -rf "$d"
	done
	cpu_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
	log "building $PREAU_BIN"
	(cd "$ROOT" && go build -o "$PREAU_BIN" ./cmd/preau)
fi
[[ -x $PREAU_BIN ]] || die "$PREAU_BIN not found (SKIP_BUILD=1 needs a built binary)"
APP_METRICS_FLAG=0
if "$PREAU_BIN" storm --help 2>&1 | grep -q -- '-app-metrics'; then
	APP_METRICS_FLAG=1
else
	log "note: this preau storm has no --app-metrics: attack reach is counted by this script from Préau's /metrics"
fi

port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for s in "${SETUP_LIST[@]}"; do
	port_free "${ADDR[$s]}" || die "${ADDR[$s]} is already in use"
done
if has_setup nginx; then port_free "$NGINX_ADDR" || die "$NGINX_ADDR is already in use"; fi

cpu_init "$PIN" "$TARGET_CPUS" "$LOAD_CPUS" "$TARGET_QUOTA"

record() { printf '%q ' "$@" >>"$OUT/commands.txt"; echo >>"$OUT/commands.txt"; }

# --- targets --------------------------------------------------------------------
PREAU_PID=""
NGINX_PID=""
start_preau() { # setup
	local setup=$1 addr=${ADDR[$1]} data
	mkdir -p "$OUT/$setup"
	data=$(mktemp -d /tmp/preau-compare-XXXXXX)
	DATADIRS+=("$data")
	local cmd=("$PREAU_BIN" demo --size "$SIZE" --addr "$addr" --data "$data" --log-level warn --shutdown-timeout 5s)
	[[ -n $ALLOWLIST ]] && cmd+=(--allowlist "$ALLOWLIST")
	case $setup in
	shield)
		cmd+=(--shield=true)
		[[ $SOURCES == forwarded ]] && cmd+=(--trusted-proxies 127.0.0.1/32)
		;;
	noshield) cmd+=(--shield=false) ;;
	# nginx's connections carry many clients: Préau believes its
	# X-Forwarded-For and does not cap them as one address's.
	nginx) cmd+=(--shield=false --trusted-proxies 127.0.0.1/32) ;;
	esac
	record "${cmd[@]}"
	log "$setup: starting Préau on $addr (demo school $SIZE)"
	(cpu_exec target "${cmd[@]}") >"$OUT/$setup/preau.log" 2>&1 &
	PREAU_PID=$!
	PIDS+=("$PREAU_PID")
	local i
	for ((i = 0; i < 600; i++)); do
		curl -fs -o /dev/null --max-time 2 "http://$addr/readyz" && break
		kill -0 "$PREAU_PID" 2>/dev/null || { cat "$OUT/$setup/preau.log" >&2; die "$setup: preau exited"; }
		sleep 0.2
	done
	curl -fs -o /dev/null --max-time 2 "http://$addr/readyz" || die "$setup: /readyz not 200 after 120 s"
	log "$setup: Préau ready (pid $PREAU_PID, CPUs $(cpu_allowed "$PREAU_PID"))"
}

start_nginx() { # upstream
	local dir=$OUT/nginx/nginx exempt="" net nets
	mkdir -p "$dir/tmp"
	if [[ -n $ALLOWLIST ]]; then
		IFS=, read -r -a nets <<<"$ALLOWLIST"
		for net in "${nets[@]}"; do exempt+="$net 1; "; done
	fi
	local realip=""
	[[ $SOURCES == forwarded ]] && realip="set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;"
	local workers=auto nofile conns
	[[ $CPU_MODE != none ]] && workers=$(cpu_count_list "$CPU_TARGET")
	nofile=$(ulimit -Hn)
	if [[ $nofile == unlimited ]] || ((nofile > 65536)); then nofile=65536; fi
	conns=$((nofile - 1024 < 16384 ? nofile - 1024 : 16384))
	((conns >= 1024)) || die "the descriptor limit ($nofile) is too low for nginx"
	# Placeholders are replaced outside comments (the template's comments
	# name them).
	local c='/^[[:space:]]*#/!'
	sed -e "${c}s|@PREFIX@|$dir|g" -e "${c}s|@WORKERS@|$workers|g" -e "${c}s|@LISTEN@|$NGINX_ADDR|g" \
		-e "${c}s|@NOFILE@|$nofile|g" -e "${c}s|@CONNS@|$conns|g" \
		-e "${c}s|@UPSTREAM@|$1|g" -e "${c}s|@EXEMPT@|$exempt|g" -e "${c}s|@REALIP@|$realip|g" "$TEMPLATE" >"$dir/nginx.conf"
	nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/nginx-t.log" 2>&1 ||
		{ cat "$dir/nginx-t.log" >&2; die "nginx -t failed on $dir/nginx.conf"; }
	local cmd=(nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log")
	record "${cmd[@]}"
	log "nginx: starting on $NGINX_ADDR in front of $1 ($workers worker(s))"
	(cpu_exec target "${cmd[@]}") >"$dir/nginx.out" 2>&1 &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		curl -fs -o /dev/null --max-time 2 "http://$NGINX_ADDR/readyz" && break
		kill -0 "$NGINX_PID" 2>/dev/null || { cat "$dir/error.log" "$dir/nginx.out" >&2 || true; die "nginx exited"; }
		sleep 0.2
	done
	curl -fs -o /dev/null --max-time 2 "http://$NGINX_ADDR/readyz" || die "nginx: /readyz through nginx not 200 after 20 s"
	log "nginx: ready (master pid $NGINX_PID, workers $(nginx_workers | tr '\n' ' '), CPUs $(cpu_allowed "$NGINX_PID"))"
}
nginx_workers() { # pids of the nginx master's children
	if [[ -n $NGINX_PID ]]; then ps -o pid= --ppid "$NGINX_PID" | tr -d ' ' || true; fi
}

# --- measurement helpers ------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
ticks() { # pids... -> utime+stime of all, in clock ticks
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo "$t"
}
machine_ticks() { awk '/^cpu /{t=0; for (i=2;i<=9;i++) t+=$i; print t, $5 + $6, $9, $7 + $8}' /proc/stat; } # total idle steal irq+softirq
busy_pct_1s() { # machine CPU busy % over one second
	local a b c d
	read -r a b _ < <(machine_ticks)
	sleep 1
	read -r c d _ < <(machine_ticks)
	awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'BEGIN{printf "%.0f", (c>a) ? 100*(1-(d-b)/(c-a)) : 0}'
}
wait_quiet() { # name
	((QUIET_WAIT > 0)) || return 0
	local waited=0 busy
	while :; do
		busy=$(busy_pct_1s)
		waited=$((waited + 1))
		if ((busy <= QUIET_BUSY)); then
			return 0
		fi
		if ((waited >= QUIET_WAIT)); then
			log "$1: machine still ${busy}% busy after ${waited}s; measuring anyway"
			return 0
		fi
	done
}
rss_sampler() { # file pids...: sum of VmRSS (KiB) every 0.5 s
	local f=$1 p s
	shift
	while kill -0 "$1" 2>/dev/null; do
		s=0
		for p in "$@"; do
			s=$((s + $(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
		done
		echo "$s" >>"$f"
		sleep 0.5
	done
}
# Requests that reached the application other than the students' (/api/…)
# and the probes: the flood's GET / and GET /login.
app_attack_count() { # addr
	curl -fs --max-time 5 "http://$1/metrics" | awk '
		/^preau_http_requests_total\{/ {
			r = $0; sub(/.*route="/, "", r); sub(/".*/, "", r)
			if (r ~ / \/api\// || r ~ /^GET \/(metrics|readyz|healthz)$/) next
			s += $NF
		}
		END { printf "%.0f\n", s }' || echo ""
}

storm_pinned() { # dir limit cmd...: the storm on the load CPUs, bounded
	local dir=$1 limit=$2
	shift 2
	(
		exec >"$dir/storm.out" 2>"$dir/storm.err"
		cpu_exec load timeout -k 10 "$limit" "$@"
	)
}

# run_storm setup multiple target_url app_addr outdir [capacity]
# Appends one line to runs.tsv (RUNS_HEADER), except for the capacity run
# (no capacity given).
RUNS_HEADER="setup multiple goodput p99 p99_class newcomer newcomer_class sent reached_storm reach_storm cpu_storm rss_storm expected reached_own preau_cores nginx_cores rss_kib storm_cores other_cores rc"
# wait_calm waits (up to CALM_WAIT seconds) for the shield to come back to
# its normal level after the previous multiple's flood: its escalation
# ladder cools down one level a minute, and a multiple run during the
# cool-down measures the previous flood's after-effects (students signing
# in through the waiting room), not its own flood. Setups without the
# shield have no such metric and return at once.
wait_calm() { # label app
	local i level
	for ((i = 0; i < CALM_WAIT; i++)); do
		level=$(curl -fs --max-time 2 "http://$2/metrics" | awk '/^preau_shield_level /{print $2}')
		if [[ -z $level || $level == 0 ]]; then
			((i > 0)) && log "$1: the shield is back to normal after ${i}s"
			return 0
		fi
		sleep 1
	done
	log "$1: the shield is still at level $level after ${CALM_WAIT}s; running anyway"
}

run_storm() {
	local setup=$1 m=$2 url=$3 app=$4 dir=$5 cap=${6:-}
	mkdir -p "$dir"
	local cmd=("$PREAU_BIN" storm --target "$url" --scenario sweep --demo-size "$SIZE" --students "$STUDENTS"
		--multiples "$m" --step "$STEP" --sources "$SOURCES" --target-pid "$PREAU_PID" --out "$dir")
	[[ -n $cap ]] && cmd+=(--capacity "$cap")
	((APP_METRICS_FLAG)) && cmd+=(--app-metrics "http://$app/metrics")
	record "${cmd[@]}"
	local steps=1
	[[ -z $cap ]] && steps=2
	# Signing the students in comes first, at argon2id's pace: on a target
	# shrunk by TARGET_QUOTA it takes longer than the steps themselves.
	local limit=$((STEP_S * (steps + 1) + 90 + SIGNIN_S))
	local tpids=("$PREAU_PID") w
	if [[ $setup == nginx ]]; then
		tpids+=("$NGINX_PID")
		for w in $(nginx_workers); do tpids+=("$w"); done
	fi
	local a0 a1 p0 p1 n0=0 n1=0 m0 i0 s0 q0 m1 i1 s1 q1 rc=0
	wait_calm "$setup ${m}x" "$app"
	wait_quiet "$setup ${m}x"
	a0=$(app_attack_count "$app")
	p0=$(ticks "$PREAU_PID")
	[[ $setup == nginx ]] && n0=$(ticks "${tpids[@]:1}")
	read -r m0 i0 s0 q0 < <(machine_ticks)
	: >"$dir/rss.kib"
	rss_sampler "$dir/rss.kib" "${tpids[@]}" &
	local sampler=$!
	PIDS+=("$sampler")
	local TIMEFORMAT='%R %U %S'
	# (`time` of a function: bash 5.2 prints nothing for `time ( … exec … )`.)
	{ time storm_pinned "$dir" "$limit" "${cmd[@]}"; } 2>"$dir/storm.time" || rc=$?
	p1=$(ticks "$PREAU_PID")
	[[ $setup == nginx ]] && n1=$(ticks "${tpids[@]:1}")
	read -r m1 i1 s1 q1 < <(machine_ticks)
	a1=$(app_attack_count "$app")
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	forget_pid "$sampler"
	if ((rc != 0)); then
		log "$setup ${m}x: storm exited with status $rc (see $dir/storm.err)"
		tail -5 "$dir/storm.err" >&2 || true
	fi
	[[ -s $dir/report.json ]] || { log "$setup ${m}x: no report.json"; }
	[[ -z $cap ]] && return 0

	local wall su ss
	read -r wall su ss <"$dir/storm.time"
	local own=""
	[[ -n $a0 && -n $a1 ]] && own=$((a1 - a0))
	local rss
	rss=$(sort -n "$dir/rss.kib" | tail -1)
	# From report.json; old (home, homework, login, submit) and new
	# (logged-in, newcomer) class names alike, missing keys as "".
	local fields
	fields=$(jq -r '
		(.points // [] | map(select(.multiple == ($m | tonumber))) | .[0] // {}) as $p
		| ($p.p99_ms // {}) as $q | ($p.success_rate // {}) as $s
		| (if $q["logged-in"] != null then [$q["logged-in"], "logged-in"]
		   else ([$q | to_entries[] | select(.key != "attack" and .key != "login" and .key != "newcomer" and .key != "submit")]
		         | if length > 0 then [(map(.value) | max), (map(.key) | join("+"))] else ["", ""] end) end) as $lp
		| (if $s.newcomer != null then [$s.newcomer, "newcomer"]
		   elif $s.login != null then [$s.login, "login"] else ["", ""] end) as $nc
		| [$p.goodput_rps // "", $lp[0], $lp[1], $nc[0], $nc[1], .attack_sent // 0,
		   .attack_reached_backend // "", $p.attack_reach // .attack_reach // "", .target_cpu_cores // "", .target_rss_bytes // ""]
		| map(tostring) | join("\t")' --arg m "$m" "$dir/report.json" 2>/dev/null || true)
	[[ -n $fields ]] || fields=$(printf '\t\t\t\t\t0\t\t\t\t')
	local expected preau_c nginx_c storm_c other
	expected=$(awk -v m="$m" -v c="$cap" -v s="$STEP_S" 'BEGIN{printf "%.0f", m*c*s}')
	preau_c=$(awk -v a="$p0" -v b="$p1" -v t="$CLK_TCK" -v w="$wall" 'BEGIN{printf "%.2f", (b-a)/t/w}')
	nginx_c=""
	[[ $setup == nginx ]] && nginx_c=$(awk -v a="$n0" -v b="$n1" -v t="$CLK_TCK" -v w="$wall" 'BEGIN{printf "%.2f", (b-a)/t/w}')
	storm_c=$(awk -v u="$su" -v s="$ss" -v w="$wall" 'BEGIN{printf "%.2f", (u+s)/w}')
	# CPU of everything else on the machine (other sessions' processes):
	# busy time minus the target side, the storm, irq/softirq (loopback TCP)
	# and steal.
	other=$(awk -v m0="$m0" -v m1="$m1" -v i0="$i0" -v i1="$i1" -v s0="$s0" -v s1="$s1" -v q0="$q0" -v q1="$q1" \
		-v n="$(nproc --all)" -v a="$preau_c" -v b="${nginx_c:-0}" -v c="$storm_c" \
		'BEGIN{f=n/(m1-m0); o=n-(i1-i0)*f-(s1-s0)*f-(q1-q0)*f-a-b-c; if (o<0) o=0; printf "%.2f", o}')
	# $fields holds 10 tab-separated columns (goodput … rss_storm).
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$m" "$fields" "$expected" "$own" \
		"$preau_c" "$nginx_c" "${rss:-}" "$storm_c" "$other" "$rc" >>"$OUT/runs.tsv"
	log "$setup ${m}x: $(awk -F'\t' 'NR==1{for (i=1;i<=NF;i++) c[$i]=i} END{printf "goodput %s/s, attack sent %s of %s asked, reached the app %s; Préau %s cores, storm %s cores, other %s cores",
		$c["goodput"], $c["sent"], $c["expected"], $c["reached_own"], $c["preau_cores"], $c["storm_cores"], $c["other_cores"]}' "$OUT/runs.tsv")"
}

# --- the runs -------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -Iseconds)
CODE_STATE=unknown
if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
	CODE_STATE="commit $(git -C "$ROOT" rev-parse --short HEAD)"
	dirty=$(git -C "$ROOT" status --porcelain -- . ':!bench' | wc -l)
	if ((dirty > 0)); then
		CODE_STATE+=" + $dirty uncommitted paths (diff sha256 $(git -C "$ROOT" diff HEAD -- . ':!bench' | sha256sum | cut -c1-12))"
	fi
fi

stop_targets() {
	if [[ -n $NGINX_PID ]]; then stop_pid "$NGINX_PID"; fi
	if [[ -n $PREAU_PID ]]; then stop_pid "$PREAU_PID"; fi
	NGINX_PID="" PREAU_PID=""
}

measure_capacity() { # on the running noshield target
	log "capacity: $STUDENTS students reading with no pause for $STEP on setup (b), shield off"
	run_storm noshield 0 "http://${ADDR[noshield]}" "${ADDR[noshield]}" "$OUT/capacity"
	CAPACITY=$(jq -r '.capacity_rps // empty' "$OUT/capacity/report.json" 2>/dev/null || true)
	if [[ -z $CAPACITY ]] || ! awk -v c="$CAPACITY" 'BEGIN{exit !(c > 0)}'; then
		die "capacity not measured (see $OUT/capacity/storm.err)"
	fi
	CAPACITY=$(awk -v c="$CAPACITY" 'BEGIN{printf "%.0f", c}')
	CAPACITY_HOW="measured once on setup (b): $STUDENTS students reading with no pause for $STEP"
	log "capacity: $CAPACITY requests/s"
}
CAPACITY_HOW="given (CAPACITY=$CAPACITY)"

# Setup (b) first: it measures the capacity the others reuse.
ORDER=()
has_setup noshield && ORDER+=(noshield)
for s in "${SETUP_LIST[@]}"; do [[ $s == noshield ]] || ORDER+=("$s"); done
if [[ -z $CAPACITY ]] && ! has_setup noshield; then
	start_preau noshield
	measure_capacity
	stop_targets
fi

tr ' ' '\t' <<<"$RUNS_HEADER" >"$OUT/runs.tsv"
declare -A CPUS_SEEN=()
for setup in "${ORDER[@]}"; do
	start_preau "$setup"
	target_url=http://${ADDR[$setup]}
	if [[ $setup == nginx ]]; then
		start_nginx "${ADDR[nginx]}"
		target_url=http://$NGINX_ADDR
	fi
	CPUS_SEEN[$setup]="Préau $(cpu_allowed "$PREAU_PID")"
	[[ -n $NGINX_PID ]] && CPUS_SEEN[$setup]+=", nginx $(cpu_allowed "$NGINX_PID")"
	[[ -z $CAPACITY ]] && measure_capacity
	for m in "${MULTS[@]}"; do
		log "$setup: ${m}x capacity ($(awk -v m="$m" -v c="$CAPACITY" 'BEGIN{printf "%.0f", m*c}') attack requests/s asked) for $STEP"
		run_storm "$setup" "$m" "$target_url" "${ADDR[$setup]}" "$OUT/$setup/x$m" "$CAPACITY"
	done
	stop_targets
done

# --- report ---------------------------------------------------------------------
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/^MemTotal:/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
GOVERSION=$(cd "$ROOT" && go version 2>/dev/null || echo "go unknown")
NGINX_VERSION=""
has_setup nginx && NGINX_VERSION=$(nginx -v 2>&1 | sed 's/^nginx version: //')
STORM_CPUS=$(if [[ $CPU_MODE != none ]]; then echo "CPU $CPU_LOAD"; else echo "all CPUs"; fi)
REACH_HOW="counted by compare.sh from Préau's own preau_http_requests_total (scraped from Préau directly, before and after each run: requests to routes other than /api/… and the probes), the same way in the three setups; this preau storm has no --app-metrics"
((APP_METRICS_FLAG)) && REACH_HOW="counted by preau storm --app-metrics from Préau's own preau_http_requests_total (scraped from Préau directly, behind nginx too), the same way in the three setups"
CPU_CHECK=""
ALLOW_NOTE=""
if [[ -n $ALLOWLIST ]]; then
	ALLOW_NOTE="; the students' address $ALLOWLIST is allowlisted (Préau \`--allowlist\`, exempt from nginx's limits)"
fi
for s in "${SETUP_LIST[@]}"; do CPU_CHECK+="${CPU_CHECK:+; }$s: ${CPUS_SEEN[$s]:-?}"; done

{
	echo "## Side by side: Préau's shield, no shield, nginx limit_req — $STARTED"
	echo
	echo "- Machine: $(nproc --all) CPUs ($MODEL), $MEM RAM; load average before the run: $LOAD_BEFORE"
	echo "- Code: $CODE_STATE; $GOVERSION${NGINX_VERSION:+; $NGINX_VERSION (Debian)}"
	echo "- Command: \`$COMMAND\`"
	echo "- CPU placement: $(cpu_describe); checked (Cpus_allowed_list): $CPU_CHECK; storm on $STORM_CPUS"
	echo "- Capacity: **$CAPACITY requests/s**, $CAPACITY_HOW; every run gets \`--capacity $CAPACITY\`, so the floods are identical"
	echo "- Each multiple: one \`preau storm --scenario sweep --multiples M --step $STEP\` run: $STUDENTS students (demo school $SIZE, closed loop) against a flood of anonymous \`GET /\` and \`GET /login\` at M × capacity from \`--sources $SOURCES\` ($([[ $SOURCES == forwarded ]] && echo "10,000 loopback addresses in X-Forwarded-For over keep-alive connections from a trusted 127.0.0.1" || echo "10,000 loopback addresses, one request per connection"))"
	echo "- Setups: **shield** = \`preau demo\` (shield on); **noshield** = \`--shield=false\`; **nginx** = \`--shield=false --trusted-proxies 127.0.0.1/32\` behind nginx (\`bench/nginx/nginx.conf.tmpl\`: limit_req 5 r/s burst 100 nodelay and limit_conn 20 per address, 429 when refused)$ALLOW_NOTE"
	echo "- Attack reach: $REACH_HOW"
	echo "- Achieved rate: attack requests the generator sent / (M × capacity × $STEP_S s); below 90 % the flood was not fully sent (marked ⚠)"
	echo
	echo "| Setup | Attack | Students' goodput (req/s) | vs no attack | Logged-in p99 (ms) | Newcomers' success | Attack sent | Achieved rate | Attack reach | Target CPU (cores) | Target RSS max (MiB) | Storm CPU (cores) | Other CPU (cores) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' -v setups="$SETUPS" -v mults="$MULTIPLES" -v appm="$APP_METRICS_FLAG" -v step="$STEP_S" '
		function num(x) { return x != "" }
		function grp(x,   s, r) { s = sprintf("%.0f", x); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
		function g(name) { return f[c[name]] }
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ key = $1 SUBSEP $2; row[key] = $0; if ($2 + 0 == 0) base[$1] = $c["goodput"] }
		END {
			ns = split(setups, S, ","); nm = split(mults, M, ",")
			for (i = 1; i <= ns; i++) for (j = 1; j <= nm; j++) {
				key = S[i] SUBSEP M[j]
				if (!(key in row)) { printf "| %s | %s× | (no run) | | | | | | | | | | |\n", S[i], M[j]; continue }
				split(row[key], f, "\t")
				gp = num(g("goodput")) ? sprintf("%.1f", g("goodput")) : "–"
				vs = (num(g("goodput")) && base[S[i]] > 0) ? sprintf("%.0f %%", 100 * g("goodput") / base[S[i]]) : "–"
				p99 = num(g("p99")) ? sprintf("%.1f", g("p99")) : "–"
				nc = num(g("newcomer")) ? sprintf("%.1f %%", 100 * g("newcomer")) : "–"
				if (M[j] + 0 == 0) { sent = "–"; ach = "–"; reach = "–" }
				else {
					sent = grp(g("sent"))
					ach = (g("expected") > 0) ? sprintf("%.0f %% of %s/s", 100 * g("sent") / g("expected"), grp(g("expected") / step)) : "–"
					if (g("expected") > 0 && g("sent") / g("expected") < 0.9) ach = "⚠ " ach
					if (appm == 1 && num(g("reach_storm"))) reach = sprintf("%.1f %%", 100 * g("reach_storm"))
					else if (num(g("reached_own")) && g("sent") > 0) reach = sprintf("%.1f %%", 100 * g("reached_own") / g("sent"))
					else reach = "?"
				}
				cpu = sprintf("%.2f", g("preau_cores") + g("nginx_cores"))
				if (num(g("nginx_cores"))) cpu = cpu sprintf(" (Préau %.2f + nginx %.2f)", g("preau_cores"), g("nginx_cores"))
				rss = num(g("rss_kib")) ? sprintf("%.0f", g("rss_kib") / 1024) : "–"
				other = g("other_cores"); if (other + 0 >= 0.3) other = "**" other "** (contended)"
				status = (g("rc") != 0) ? " (storm exit " g("rc") ")" : ""
				printf "| %s | %s× | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					S[i], M[j], gp, status, vs, p99, nc, sent, ach, reach, cpu, rss, g("storm_cores"), other
			}
		}' "$OUT/runs.tsv"
	echo
	# Which class keys the columns read (older storms: home, homework, login).
	p99keys=$(awk -F'\t' 'NR > 1 && $5 != "" {print $5}' "$OUT/runs.tsv" | sort -u | paste -sd/ -)
	nckeys=$(awk -F'\t' 'NR > 1 && $7 != "" {print $7}' "$OUT/runs.tsv" | sort -u | paste -sd/ -)
	echo "Students' goodput is all the students' successful requests per second (goodput_rps). Logged-in p99 is the storm's \`${p99keys:-?}\` class$([[ $p99keys == *+* ]] && echo "es (the larger p99)"); newcomers' success is the \`${nckeys:-?}\` class's share of requests answered within the SLO (2 s) without a 5xx. Target CPU and RSS cover Préau and, in the nginx setup, nginx's master and worker; CPU columns are averages over the whole storm run (its students' sign-in included, a second or so before the step); Other CPU is the machine's busy time minus the target side, the storm, irq/softirq and steal (other processes; ≥ 0.3 cores marks a contended run)."
	echo
	echo "### Conclusions (generated from the numbers above)"
	echo
	awk -F'\t' -v setups="$SETUPS" -v mults="$MULTIPLES" -v appm="$APP_METRICS_FLAG" -v pinned="$CPU_MODE" '
		function g(name) { return f[c[name]] }
		function reach() { if (appm == 1 && g("reach_storm") != "") return 100 * g("reach_storm"); if (g("reached_own") != "" && g("sent") > 0) return 100 * g("reached_own") / g("sent"); return -1 }
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ row[$1 SUBSEP $2] = $0; if ($2 + 0 == 0) base[$1] = $c["goodput"]; if ($c["other_cores"] + 0 >= 0.3) contended++ }
		END {
			ns = split(setups, S, ","); nm = split(mults, M, ",")
			top = 0; for (j = 1; j <= nm; j++) if (M[j] + 0 > top + 0) top = M[j]
			if (pinned == "none") print "- **The target and the generator shared the CPUs (unpinned)**: the generator took CPU from the target; compare setups with care."
			if (top == 0) { print "- No attack multiple was run: only the students alone were measured."; exit }
			for (j = 1; j <= nm; j++) {
				m = M[j]; if (m + 0 == 0) continue
				kept = ""; lost = ""; short = ""; rs = ""
				for (i = 1; i <= ns; i++) {
					k = S[i] SUBSEP m; if (!(k in row)) continue
					split(row[k], f, "\t")
					if (base[S[i]] > 0 && g("goodput") != "") {
						pct = 100 * g("goodput") / base[S[i]]
						if (pct >= 95) kept = kept (kept ? ", " : "") sprintf("%s (%.0f %%)", S[i], pct)
						else lost = lost (lost ? ", " : "") sprintf("%s (%.0f %%)", S[i], pct)
					}
					if (g("expected") > 0 && g("sent") / g("expected") < 0.9) short = short (short ? ", " : "") sprintf("%s (%.0f %%)", S[i], 100 * g("sent") / g("expected"))
					r = reach(); if (r >= 0) rs = rs (rs ? ", " : "") sprintf("%s %.1f %%", S[i], r)
				}
				line = sprintf("- At %s× capacity: ", m)
				if (kept != "" || lost != "") {
					line = line "kept ≥ 95 % of their no-attack goodput: " (kept ? kept : "none")
					if (lost != "") line = line "; below 95 %: " lost
					line = line "."
				} else line = line "no no-attack step to compare goodput with (add 0 to MULTIPLES)."
				if (rs != "") line = line " Attack reach: " rs "."
				if (short != "") line = line " ⚠ The generator sent less than 90 % of the asked flood in: " short " — that flood was not fully sent, so surviving it proves less (set TARGET_QUOTA to shrink the backend)."
				print line
			}
			if (contended) printf "- %d run(s) were contended (other processes used ≥ 0.3 cores): rerun on a quiet machine before comparing them.\n", contended
		}' "$OUT/runs.tsv"
	echo
	echo "Raw outputs: \`${OUT#"$ROOT"/}/<setup>/x<multiple>/report.{json,md,svg}\`, storm and target logs, \`runs.tsv\`, \`commands.txt\` (every command run)."
} | tee "$OUT/compare.md"
