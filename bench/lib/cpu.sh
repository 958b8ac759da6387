# shellcheck shell=bash
# bench/lib/cpu.sh — CPU placement for load tests: the target side (Préau,
# nginx) on some CPUs, the load generator on others, so that the generator
# does not steal the target's CPU. Sourced by bench/compare.sh; bash only.
#
#   cpu_init PIN TARGET_CPUS LOAD_CPUS [QUOTA]
#       PIN=1 pins, PIN=0 runs everything unpinned. TARGET_CPUS / LOAD_CPUS
#       are cpuset lists ("0", "1", "0-1"). QUOTA (optional, e.g. 0.5) caps
#       the target side at that many cores with the cpu controller's CFS
#       quota, pinned or not. Methods, best first:
#         1. cgroup v1 cpuset (/sys/fs/cgroup/cpuset, root): two groups
#            preau-bench-<pid>-target / -load with cpuset.cpus and
#            cpuset.mems; processes are placed before they exec, so Go sizes
#            GOMAXPROCS from the pinned set;
#         2. taskset -c (util-linux);
#         3. none: a warning, and cpu_describe says "unpinned".
#       The quota uses a group of the cgroup v1 cpu controller
#       (/sys/fs/cgroup/cpu, cpu.cfs_quota_us over a 10 ms period); if it
#       cannot be set, a warning, and cpu_describe says so.
#   cpu_exec ROLE CMD [ARGS...]
#       ROLE is "target" or "load". Places the calling (sub)shell and execs
#       CMD, which keeps the subshell's pid. Use in a subshell:
#         ( cpu_exec target "$BIN" serve ) & pid=$!
#         ( cpu_exec load timeout 60 "$BIN" storm ... )
#   cpu_describe        one line for a report: method, CPUs, quota
#   cpu_allowed PID     the Cpus_allowed_list of a process (a check)
#   cpu_cleanup         moves any process left in the groups back to the
#                       root group and removes the groups (call on EXIT,
#                       after the processes were stopped)
#
# Needs log() from the sourcing script.

CPU_MODE=none        # cpuset, taskset or none
CPU_TARGET=""        # CPU lists in use (empty when unpinned)
CPU_LOAD=""
CPU_QUOTA=""         # cores, when the quota could be set
CPU_NOTE=""          # why pinning or the quota fell back
CPU_GROUPS=()        # cgroup directories created, removed by cpu_cleanup
CPU_CPUSET_ROOT=/sys/fs/cgroup/cpuset
CPU_CPU_ROOT=/sys/fs/cgroup/cpu
CPU_GROUP_PREFIX="preau-bench-$$"
CPU_DIR=""

cpu_count_list() { # "0-1,3" -> 3
	local n=0 part a b
	local IFS=,
	for part in $1; do
		if [[ $part == *-* ]]; then
			a=${part%-*} b=${part#*-}
			n=$((n + b - a + 1))
		else
			n=$((n + 1))
		fi
	done
	echo "$n"
}

_cpu_mkgroup() { # root name: creates the group, sets CPU_DIR (no subshell: CPU_GROUPS must grow here)
	CPU_DIR=$1/$2
	mkdir -p "$CPU_DIR" 2>/dev/null || return 1
	CPU_GROUPS+=("$CPU_DIR")
}

cpu_init() { # pin target_cpus load_cpus [quota]
	local pin=$1 target=$2 load=$3 quota=${4:-}
	if [[ $pin == 1 ]]; then
		local online
		online=$(cat /sys/devices/system/cpu/online 2>/dev/null || echo "?")
		if (($(nproc --all 2>/dev/null || echo 1) < 2)); then
			CPU_NOTE="fewer than 2 CPUs"
		elif [[ -w $CPU_CPUSET_ROOT/cgroup.procs ]] && _cpu_cpuset "$target" "$load"; then
			CPU_MODE=cpuset
		elif command -v taskset >/dev/null && taskset -c "$target" true 2>/dev/null &&
			taskset -c "$load" true 2>/dev/null; then
			CPU_MODE=taskset
			CPU_NOTE="cgroup v1 cpuset not usable (online CPUs: $online)"
		else
			CPU_NOTE="neither the cgroup v1 cpuset nor taskset could pin to CPUs $target / $load"
		fi
		if [[ $CPU_MODE == none ]]; then
			log "warning: cannot pin ($CPU_NOTE): target and load generator share the CPUs"
		else
			CPU_TARGET=$target CPU_LOAD=$load
			log "CPU placement: $CPU_MODE, target side on CPU $target, load generator on CPU $load"
		fi
	else
		CPU_NOTE="PIN=0"
	fi
	if [[ -n $quota ]]; then
		local us
		# A 10 ms period, not the default 100 ms: a throttled target then
		# stalls for at most a few ms at a time, instead of tens of ms that
		# would read as the shield's latency.
		us=$(awk -v q="$quota" 'BEGIN{ if (q+0 > 0) printf "%d", q*10000 }')
		[[ -n $us ]] || { log "warning: TARGET_QUOTA=$quota is not a positive number of cores; ignored"; return 0; }
		if [[ -w $CPU_CPU_ROOT/cgroup.procs ]] && _cpu_mkgroup "$CPU_CPU_ROOT" "$CPU_GROUP_PREFIX-target" &&
			echo 10000 >"$CPU_DIR/cpu.cfs_period_us" && echo "$us" >"$CPU_DIR/cpu.cfs_quota_us"; then
			CPU_QUOTA=$quota
			log "target side limited to $quota cores (cpu.cfs_quota_us=$us per 10000)"
		else
			CPU_NOTE+="${CPU_NOTE:+; }TARGET_QUOTA=$quota could not be set (no writable cgroup v1 cpu controller)"
			log "warning: TARGET_QUOTA=$quota could not be set; the target is not limited"
		fi
	fi
}

_cpu_cpuset() { # target load
	local mems role cpus
	mems=$(cat "$CPU_CPUSET_ROOT/cpuset.mems" 2>/dev/null) || return 1
	[[ -n $mems ]] || mems=0
	for role in target load; do
		if [[ $role == target ]]; then cpus=$1; else cpus=$2; fi
		_cpu_mkgroup "$CPU_CPUSET_ROOT" "$CPU_GROUP_PREFIX-$role" || return 1
		echo "$cpus" >"$CPU_DIR/cpuset.cpus" 2>/dev/null || return 1
		echo "$mems" >"$CPU_DIR/cpuset.mems" 2>/dev/null || return 1
	done
	# A probe: a short-lived subshell must be able to join the target group.
	(echo "$BASHPID" >"$CPU_CPUSET_ROOT/$CPU_GROUP_PREFIX-target/cgroup.procs") 2>/dev/null || return 1
}

cpu_exec() { # role cmd args...
	local role=$1
	shift
	if [[ $role == target && -n $CPU_QUOTA ]]; then
		echo "$BASHPID" >"$CPU_CPU_ROOT/$CPU_GROUP_PREFIX-target/cgroup.procs"
	fi
	case $CPU_MODE in
	cpuset)
		echo "$BASHPID" >"$CPU_CPUSET_ROOT/$CPU_GROUP_PREFIX-$role/cgroup.procs"
		exec "$@"
		;;
	taskset)
		local cpus=$CPU_TARGET
		[[ $role == load ]] && cpus=$CPU_LOAD
		exec taskset -c "$cpus" "$@"
		;;
	*)
		exec "$@"
		;;
	esac
}

cpu_allowed() { awk '/^Cpus_allowed_list:/{print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

cpu_describe() {
	local d
	case $CPU_MODE in
	cpuset) d="pinned with cgroup v1 cpuset: target side (Préau, nginx) on CPU $CPU_TARGET, load generator on CPU $CPU_LOAD" ;;
	taskset) d="pinned with taskset: target side (Préau, nginx) on CPU $CPU_TARGET, load generator on CPU $CPU_LOAD" ;;
	*) d="**unpinned**: target and load generator share all CPUs" ;;
	esac
	if [[ -n $CPU_QUOTA ]]; then
		d+="; target side limited to $CPU_QUOTA cores (CFS quota, cgroup v1 cpu controller)"
	fi
	if [[ -n $CPU_NOTE && $CPU_NOTE != "PIN=0" ]]; then
		d+=" ($CPU_NOTE)"
	fi
	echo "$d"
}

cpu_cleanup() {
	local dir root pid
	for dir in "${CPU_GROUPS[@]}"; do
		[[ -d $dir ]] || continue
		root=$(dirname "$dir")
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			while read -r pid; do
				echo "$pid" >"$root/cgroup.procs" 2>/dev/null || true
			done <"$dir/cgroup.procs"
			rmdir "$dir" 2>/dev/null && break
			sleep 0.2
		done
		if [[ -d $dir ]]; then log "warning: could not remove cgroup $dir"; fi
	done
	CPU_GROUPS=()
}
