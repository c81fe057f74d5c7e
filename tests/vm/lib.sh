# SPDX-License-Identifier: GPL-2.0
# Helpers for jazz's netns tests (tests/vm/*.sh, run by scripts/vm.sh inside
# a QEMU guest; they also work on any Linux host as root). Source it:
#
#	. "$(dirname "$0")/lib.sh"
#
# Namespaces
#   ns_add NAME...          create netns and a wrapper function NAME: `n1 ping -c1 10.0.0.2`
#                           (the netns is really "$NS_PREFIX$NAME"; lo is up)
#   ns_name NAME            the real netns name (for `ip -n`, `ip link set ... netns`)
#   veth NS1 IF1 NS2 IF2    veth pair between two namespaces, both ends up
#   addr NS IF ADDR/LEN...  add addresses (IPv6 without DAD) and bring IF up
#   bg NS CMD...            start CMD in NS in the background; killed at exit ($! is set)
#   wait_listen NS tcp|udp PORT [SECS]   until something listens on PORT in NS
#   to_file FILE CMD...     run CMD with its stdout in FILE (for check: check D to_file F n1 iperf3 -J ...)
#   wait_for SECS CMD...    retry CMD every 0.1 s until it succeeds (status 1 on timeout)
# TAP
#   ok DESC / not_ok DESC [WHY] / skip DESC WHY / diag TEXT
#   check DESC CMD...       ok if CMD succeeds; on failure its output is shown as # lines
#   check_fail DESC CMD...  ok if CMD fails
#   tap_of CMD...           CMD's "PASS desc" / "FAIL desc" lines as TAP lines, other
#                           lines as # lines; a failing CMD without a FAIL line fails
#   check_eq DESC GOT WANT  ok if the strings are equal
#   skip_all WHY            nothing to test here (exits 0 with "1..0 # SKIP")
#   at exit: cleanups (reverse order), `1..N`, "# N passed, M failed", exit 1 on failure
#   on_exit CMD...          register a cleanup command
# Kernel log
#   dmesg_mark              remember the current end of the kernel log
#   dmesg_check [DESC]      not ok if a WARN/BUG/Oops/lockdep/... line appeared since the mark
#   dmesg_since_mark        print the kernel log since the mark
# Counters
#   link_stat NS IF NAME    /sys/class/net/IF/statistics/NAME in NS (rx_bytes, tx_dropped, ...)
#   nstat_get NS NAME       a SNMP/netstat counter in NS (e.g. UdpInDatagrams)
#   iperf_bps JSON [sent|received]  bits per second from `iperf3 -J` output
# Requirements
#   need_root; need_cmd CMD...; need_module MOD (skip_all when missing)

set -o pipefail
export LANG=C LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
JAZZ_TOP=${JAZZ_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NS_PREFIX=${NS_PREFIX:-jz$$-}
PY=/usr/bin/python3

_T_N=0
_T_FAIL=0
_T_SKIPALL=0
_T_NS=()
_T_PIDS=()
_T_CLEANUP=()
_T_DMESG_MARK=0

# ------------------------------------------------------------------ TAP
ok() { _T_N=$((_T_N + 1)); echo "ok $_T_N - $*"; }
not_ok() {
	_T_N=$((_T_N + 1)); _T_FAIL=$((_T_FAIL + 1))
	echo "not ok $_T_N - $1"
	[ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}
skip() { _T_N=$((_T_N + 1)); echo "ok $_T_N - $1 # SKIP ${2:-}"; }
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "$desc"; else not_ok "$desc" "$(printf 'exit %s: %s\n%s' "$rc" "$*" "$out" | tail -n 15)"; fi
	return $rc
}

check_fail() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc != 0 ]; then ok "$desc"; return 0; fi
	not_ok "$desc" "$(printf 'unexpectedly succeeded: %s\n%s' "$*" "$out" | tail -n 15)"
	return 1
}

check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; return 0; fi
	not_ok "$1" "got '$2', want '$3'"
	return 1
}

# tap_of CMD...: the test tools' PASS/FAIL lines (netlink_tool.py, nat_tool.py) as TAP.
tap_of() {
	local line fails=0
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) ok "${line#PASS }" ;;
		"FAIL "*) not_ok "${line#FAIL }"; fails=1 ;;
		"EXIT 0") ;;
		"EXIT "*) [ $fails = 1 ] || not_ok "$* exited with status ${line#EXIT }" ;;
		*) diag "$line" ;;
		esac
	done < <("$@" 2>&1; echo "EXIT $?")
}

skip_all() {
	echo "1..0 # SKIP $*"
	_T_SKIPALL=1
	exit 0
}

on_exit() { _T_CLEANUP+=("$(printf '%q ' "$@")"); }

_t_exit() {
	local rc=$? i ns
	set +e
	trap - EXIT INT TERM
	for ((i = ${#_T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${_T_CLEANUP[i]}" >/dev/null 2>&1
	done
	for i in "${_T_PIDS[@]}"; do kill "$i" 2>/dev/null; done
	for ns in "${_T_NS[@]}"; do
		for i in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$i" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	[ "$_T_SKIPALL" = 1 ] && exit 0
	echo "1..$_T_N"
	echo "# $((_T_N - _T_FAIL)) passed, $_T_FAIL failed"
	if [ "$_T_FAIL" -gt 0 ] || [ "$_T_N" = 0 ]; then exit 1; fi
	# A script that died on its own (set -e, a crash) still fails.
	[ "$rc" = 0 ] || { echo "# script exited with status $rc"; exit "$rc"; }
	exit 0
}
trap _t_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------- requirements
need_root() { [ "$(id -u)" = 0 ] || skip_all "needs root"; }
need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip_all "needs $c"; done
}
need_module() { modprobe "$1" 2>/dev/null || [ -d "/sys/module/$1" ] || skip_all "module $1 not available"; }

# ------------------------------------------------------------ namespaces
ns_name() { echo "$NS_PREFIX$1"; }

ns_add() {
	local n real
	for n in "$@"; do
		real=$NS_PREFIX$n
		ip netns del "$real" 2>/dev/null
		ip netns add "$real" || { not_ok "create netns $real"; exit 1; }
		_T_NS+=("$real")
		ip -n "$real" link set lo up
		ip netns exec "$real" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 2>/dev/null
		eval "$n() { ip netns exec '$real' \"\$@\"; }"
	done
}

veth() {
	local ns1 if1=$2 ns2 if2=$4
	ns1=$(ns_name "$1"); ns2=$(ns_name "$3")
	ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2" || return 1
	ip -n "$ns1" link set "$if1" up && ip -n "$ns2" link set "$if2" up
}

addr() {
	local ns if=$2 a
	ns=$(ns_name "$1")
	shift 2
	for a in "$@"; do
		case "$a" in
		*:*) ip -n "$ns" addr add "$a" dev "$if" nodad || return 1 ;;
		*) ip -n "$ns" addr add "$a" dev "$if" || return 1 ;;
		esac
	done
	ip -n "$ns" link set "$if" up
}

bg() {
	local ns
	ns=$(ns_name "$1")
	shift
	ip netns exec "$ns" "$@" &
	_T_PIDS+=($!)
}

to_file() {
	local f=$1
	shift
	"$@" >"$f"
}

wait_for() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) / 1000000 + secs * 1000))
	until "$@" >/dev/null 2>&1; do
		[ $(($(date +%s%N) / 1000000)) -lt "$end" ] || return 1
		sleep 0.1
	done
}

# reap_within SECS PID: wait for background PID (a tcpdump -c 1, say, that
# waits for ever when nothing matches) at most SECS, then kill it; reaped.
reap_within() {
	wait_for "$1" eval "! kill -0 $2 2>/dev/null" || kill "$2" 2>/dev/null
	wait "$2"
}

wait_listen() {
	local ns proto=$2 port=$3 secs=${4:-20} flag=-tlnH
	ns=$(ns_name "$1")
	[ "$proto" = udp ] && flag=-ulnH
	wait_for "$secs" _t_listening "$ns" "$flag" "$port"
}
_t_listening() { ss -N "$1" "$2" "sport = :$3" | grep -q .; }

# ------------------------------------------------------------ kernel log
_T_BAD='(WARNING:|BUG:|BUG |Oops|general protection fault|kernel BUG|Call Trace:|lockdep|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|refcount_t|KASAN|kmemleak|UBSAN|list_add corruption|list_del corruption|stack-protector|sleeping function called from invalid context|scheduling while atomic|unreferenced object|Kernel panic|hung_task|blocked for more than|soft lockup|hard LOCKUP|RCU stall)'
dmesg_mark() { _T_DMESG_MARK=$(dmesg | wc -l); }
dmesg_since_mark() { dmesg | tail -n +"$((_T_DMESG_MARK + 1))"; }
dmesg_check() {
	local desc=${1:-kernel log has no WARN/BUG/Oops/lockdep findings} bad
	bad=$(dmesg_since_mark | grep -E "$_T_BAD" | head -n 10)
	if [ -z "$bad" ]; then ok "$desc"; else not_ok "$desc" "$bad"; fi
}

# -------------------------------------------------------------- counters
link_stat() { ip netns exec "$(ns_name "$1")" cat "/sys/class/net/$2/statistics/$3"; }
nstat_get() { ip netns exec "$(ns_name "$1")" nstat -az "$2" | awk -v c="$2" '$1 == c { print $2 }'; }

iperf_bps() {
	"$PY" - "$1" "${2:-received}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    sys.exit("iperf3: " + d["error"])
s = d["end"].get("sum_received" if sys.argv[2] == "received" else "sum_sent")
if s is None:
    sys.exit("iperf3: no summary in output")
print(int(s["bits_per_second"]))
PY
}
