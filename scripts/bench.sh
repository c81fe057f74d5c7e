#!/usr/bin/env bash
# Throughput benchmark (`make bench`): in one VM boot per stock kernel,
# iperf3 TCP (1 and 4 streams) and UDP (64- and 1400-byte payloads) over
# plain veth, WireGuard, and jazz with ChaCha20-Poly1305 and AES-256-GCM;
# interleaved repetitions; median and spread; ratios jazz/WireGuard and
# jazz/veth; the ratio to WireGuard of each repetition (same repetition,
# same boot), with "spread too wide to conclude" where a ratio's
# repetitions straddle 1.0 or spread more than ±15 % around their median;
# the crypto driver each side used; both kernels side by side. The guest
# side is tests/vm/bench-tunnels.sh.
#
#   scripts/bench.sh [--kernel K]... [--reps N] [--time S] [--no-build]
#                    [--profile] [--underlay-gro]
#
# --underlay-gro: the tunnels' underlay veth (not the plain-veth baseline)
# made NIC-like for WireGuard and jazz alike: the sending end has no TSO or
# UDP segmentation offload (a UDP GSO packet is cut before it, as a NIC with
# USO cuts it) and the receiving end runs GRO (NAPI), where jazz.ko's UDP
# tunnel GRO hooks take the datagrams in batches (issue 19; WireGuard has
# no such hooks). Without it the receiving veth has no GRO, as before.
#
# --profile: no repetitions; one run of each test and path (jazz paths also
# with tx_gso=0) with the guest's busy CPU time (/proc/stat) and an ftrace
# function_graph of each stage's entry function, printed as µs per packet
# by stage, jazz against WireGuard (scripts/bench-profile.py), into
# out/bench/<kver>/profile.md. BENCH_PATHS / BENCH_TESTS narrow it;
# BENCH_STAGES_JAZZ / BENCH_STAGES_WG trace other entry functions (sum
# them with scripts/bench-trace-sum.py); BENCH_TRACE_OWN=1 counts only
# their own time (ftrace sleep-time and funcgraph-irqs off).
#
# Writes out/bench/<kver>/bench.tsv (raw), out/bench/results.md (the table,
# also printed). jazz paths show "n/a" with the reason until jazz.ko and
# build/jazzctl work. Not a test: it exits non-zero only if it could not run.
# The VM runs with every machine-wide VM slot held (JAZZ_VM_EXCLUSIVE, see
# scripts/vm.sh), so no other developer's VM starts during the measurement;
# the host's load average is recorded next to each table. JAZZ_VM_EXCLUSIVE=0
# takes a single slot instead (shared machine, busy colleagues: noisier).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
CMD="scripts/bench.sh${*:+ $*}"
KERNELS=()
REPS=5
TIME=3
BUILD=1
PROFILE=0
UNDERLAY=plain
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNELS+=(--kernel "${2:?}"); shift ;;
	--reps) REPS=${2:?}; shift ;;
	--time) TIME=${2:?}; shift ;;
	--no-build) BUILD=0 ;;
	--profile) PROFILE=1 ;;
	--underlay-gro) UNDERLAY=gro ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=(--kernel all)
[ "$(id -u)" = 0 ] || { echo "bench.sh: must run as root" >&2; exit 2; }

if [ "$BUILD" = 1 ]; then
	nice make -s -j2 userspace >/dev/null 2>&1 || echo "bench.sh: make userspace failed; jazz paths will be n/a" >&2
	bash scripts/build-kmod.sh --allow-missing >/dev/null 2>&1 || echo "bench.sh: scripts/build-kmod.sh failed; jazz paths will be n/a" >&2
fi

kvers=()
for ((i = 0; i < ${#KERNELS[@]}; i += 2)); do
	if [ "${KERNELS[i + 1]}" = all ]; then
		kvers+=($(for v in /boot/vmlinuz-*-amd64; do [ -f "$v" ] && echo "${v#/boot/vmlinuz-}"; done | sort -V))
	else
		kvers+=("${KERNELS[i + 1]}")
	fi
done

narrow=()
[ -n "${BENCH_PATHS:-}" ] && narrow+=("BENCH_PATHS=$BENCH_PATHS")
[ -n "${BENCH_TESTS:-}" ] && narrow+=("BENCH_TESTS=$BENCH_TESTS")
# Other entry functions to trace with --profile (bench-tunnels.sh).
[ -n "${BENCH_STAGES_JAZZ:-}" ] && narrow+=("BENCH_STAGES_JAZZ=$BENCH_STAGES_JAZZ")
[ -n "${BENCH_STAGES_WG:-}" ] && narrow+=("BENCH_STAGES_WG=$BENCH_STAGES_WG")
[ -n "${BENCH_TRACE_OWN:-}" ] && narrow+=("BENCH_TRACE_OWN=$BENCH_TRACE_OWN")
mkdir -p out/bench
dirs=()
rc=0
for k in "${kvers[@]}"; do
	kv=$(ls -d /boot/vmlinuz-"$k"* 2>/dev/null | head -n1)
	kv=${kv#/boot/vmlinuz-}
	[ -n "$kv" ] || { echo "bench.sh: no kernel '$k' in /boot" >&2; rc=2; continue; }
	d=out/bench/$kv
	mkdir -p "$d"
	t0=$(date +%s)
	echo "# bench: $kv ($REPS repetitions of ${TIME}s runs)"
	# Each run is TIME seconds plus iperf3 setup; allow plenty.
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	JAZZ_VM_EXCLUSIVE=${JAZZ_VM_EXCLUSIVE:-1} bash scripts/vm.sh -q --kernel "$kv" --out "$d" --timeout $((REPS * 16 * (TIME + 15) + 300)) \
		-- env BENCH_REPS="$REPS" BENCH_TIME="$TIME" BENCH_PERF="$PROFILE" BENCH_UNDERLAY="$UNDERLAY" "${narrow[@]}" \
		tests/vm/bench-tunnels.sh ||
		echo "bench.sh: $kv: the benchmark reported failures (see $d/results/)" >&2
	echo "# bench: $kv took $(($(date +%s) - t0))s"
	echo "$load0 / $(cut -d' ' -f1-3 /proc/loadavg)" >"$d/loadavg"
	if [ "$PROFILE" = 1 ]; then
		{
			echo "Command: \`${CMD}\`; kernel $kv; host load average before / after: $(cat "$d/loadavg")"
			echo
			/usr/bin/python3 scripts/bench-profile.py "$d"
		} >"$d/profile.md" && cat "$d/profile.md"
		continue
	fi
	[ -s "$d/bench.tsv" ] && dirs+=("$d")
done
[ "$PROFILE" = 1 ] && exit "$rc"
[ ${#dirs[@]} -gt 0 ] || { echo "bench.sh: no results" >&2; exit 1; }

/usr/bin/python3 - "$CMD" "$UNDERLAY" "${dirs[@]}" >out/bench/results.md <<'PY'
import csv, statistics, sys, os, datetime
cmd, underlay, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
TESTS = [("tcp1", "TCP, 1 stream"), ("tcp4", "TCP, 4 streams"),
         ("udp64", "UDP, 64 B payload"), ("udp1400", "UDP, 1400 B payload")]
PATHS = ["veth", "wireguard", "jazz-chacha", "jazz-aes"]
JAZZ = [("jazz-chacha", "ChaCha20-Poly1305"), ("jazz-aes", "AES-256-GCM"),
        ("jazz-chacha-tpl", "ChaCha20-Poly1305, random salts (crypto API template)")]
WIDE = 0.15     # a ratio's repetitions may spread ±15 % around their median
print(f"Command: `{cmd.strip()}`  ")
print(f"Date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; QEMU TCG (no KVM), 2 vCPUs, on a shared 2-core host.  ")
print("Throughput received, Mbit/s: median of the repetitions, spread = (max - min) / median.")
print("Ratios are of medians measured in the same VM boot; per repetition, jazz's run over")
print("WireGuard's run of the same repetition. \"spread too wide to conclude\": the")
print("repetitions' ratios straddle 1.0, or lie more than ±15 % from their median.")
print("Tunnels' underlay veth: " + ("NIC-like (sender without TSO/USO, receiver with GRO: "
      "jazz.ko's receive batching engaged)" if underlay == "gro" else
      "plain (no GRO on the receiving end: jazz.ko's receive batching not engaged)") + ".")

def load(d):
    rows = list(csv.DictReader(open(os.path.join(d, "bench.tsv")), delimiter="\t"))
    vals, per_rep = {}, {}
    for r in rows:
        if r["bps"] != "NA":
            vals.setdefault((r["path"], r["test"]), []).append(int(r["bps"]) / 1e6)
            per_rep[(r["path"], r["test"], r["rep"])] = int(r["bps"]) / 1e6
    return rows, vals, per_rep

def tsv(d, name):
    out, p = {}, os.path.join(d, name)
    if os.path.exists(p):
        for line in open(p):
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                out[k] = v
    return out

def rep_ratios(per_rep, path, t):
    reps = sorted({k[2] for k in per_rep if k[1] == t}, key=int)
    return [per_rep[(path, t, r)] / per_rep[("wireguard", t, r)] for r in reps
            if (path, t, r) in per_rep and per_rep.get(("wireguard", t, r))]

def verdict(rs):
    if not rs:
        return "n/a"
    m = statistics.median(rs)
    if len(rs) > 1 and (min(rs) < 1.0 < max(rs) or max(abs(x - m) for x in rs) > WIDE * m):
        return "spread too wide to conclude"
    if len(rs) == 1:
        return "one repetition: no spread known"
    return "faster than WireGuard in every repetition" if min(rs) > 1.0 else "slower than WireGuard in every repetition"

summary = {}
for d in dirs:
    rows, vals, per_rep = load(d)
    if not rows:
        continue
    kver = rows[0]["kernel"]
    na, drivers = tsv(d, "unavailable.tsv"), tsv(d, "drivers.tsv")
    reps = max((len(v) for v in vals.values()), default=0)
    load_s = ""
    p = os.path.join(d, "loadavg")
    if os.path.exists(p):
        load_s = f"; host load average before / after: {open(p).read().strip()}"
    print(f"\n### Kernel {kver} ({reps} repetitions{load_s})\n")
    print("| test | veth | WireGuard | jazz ChaCha20-Poly1305 | jazz AES-256-GCM | chacha/WG | aes/WG | chacha/veth | aes/veth |")
    print("|---|---|---|---|---|---|---|---|---|")
    def med(path, t):
        v = vals.get((path, t))
        return statistics.median(v) if v else None
    def cell(path, t):
        v = vals.get((path, t))
        if not v:
            return "n/a"
        m = statistics.median(v)
        spread = (max(v) - min(v)) / m * 100 if m else 0
        return f"{m:.1f} ±{spread:.0f}%"
    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b else "n/a"
    for t, name in TESTS:
        m = {pth: med(pth, t) for pth in PATHS}
        print(f"| {name} | " + " | ".join(cell(pth, t) for pth in PATHS) + " | " +
              " | ".join([ratio(m["jazz-chacha"], m["wireguard"]), ratio(m["jazz-aes"], m["wireguard"]),
                          ratio(m["jazz-chacha"], m["veth"]), ratio(m["jazz-aes"], m["veth"])]) + " |")
    print(f"\nPer repetition, jazz / WireGuard ({kver}):\n")
    print("| test | cipher | ratios, repetition 1, 2, ... | median | verdict |")
    print("|---|---|---|---|---|")
    for t, name in TESTS:
        for path, cname in JAZZ:
            rs = rep_ratios(per_rep, path, t)
            summary[(t, path, kver)] = rs
            med_s = f"{statistics.median(rs):.2f}" if rs else "n/a"
            print(f"| {name} | {cname} | {', '.join(f'{x:.2f}' for x in rs) or 'n/a'} | {med_s} | {verdict(rs)} |")
    print(f"\nCrypto drivers ({kver}):\n")
    for path in ["wireguard", "jazz-chacha", "jazz-aes", "jazz-chacha-tpl"]:
        print(f"- {path}: {drivers.get(path, 'not recorded')}")
    for k, v in na.items():
        print(f"\n{k}: n/a — {v}")

kvers = sorted({k[2] for k in summary})
if len(kvers) > 1:
    print("\n### Both kernels: median jazz / WireGuard per repetition set\n")
    print("| test | cipher | " + " | ".join(kvers) + " |")
    print("|---|---|" + "---|" * len(kvers))
    for t, name in TESTS:
        for path, cname in JAZZ:
            cells = []
            for k in kvers:
                rs = summary.get((t, path, k), [])
                v = verdict(rs)
                cells.append(f"{statistics.median(rs):.2f}" + (" (spread too wide to conclude)" if v.startswith("spread") else "")
                             if rs else "n/a")
            print(f"| {name} | {cname} | " + " | ".join(cells) + " |")
PY
cat out/bench/results.md
exit "$rc"
