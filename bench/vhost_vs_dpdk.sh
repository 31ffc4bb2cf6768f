#!/usr/bin/env bash
# vhost_vs_dpdk.sh [FERRY_PATCH]
#
# Ferry's vhost-user ports against DPDK's vhost back-end, same load, same script, on a
# 2-core machine: core 0 runs the load, core 1 the back-end under test.
#
#   load     one dpdk-testpmd with two net_virtio_user ports (io forward, --tx-first), so
#            packets loop A -> back-end -> B -> load -> A ...; or one-way: one
#            net_virtio_user port in txonly mode -> back-end rx.
#   Ferry    ferry-patch with the two ports patched on one thread (busy poll).
#   DPDK     dpdk-testpmd with two net_vhost ports, io forward (one-way: rxonly).
#
# Rows: loop and one-way, 64 B and 1500 B, split and packed, mergeable rx on and off
# (one-way: mergeable on only; it only changes the receive side of the guest). Runs are
# interleaved Ferry, DPDK, Ferry, DPDK ... (REPS each, default 5) and each run measures
# SECONDS_PER_RUN seconds (default 4) after a 2 s warm-up, from the load's own counters
# (the load's per-second rate of packets received in loop mode, sent in one-way mode, as
# testpmd prints it every second). Prints the median and min-max in Mpps and the ratio
# Ferry/DPDK of the medians per row.
#
# It also prints how busy Ferry's worker was during the measured seconds: the median share
# of its cycles spent in loop iterations that moved packets (its worker counters, read with
# SIGUSR1 at both ends; Open vSwitch's pmd-stats-show reports the same "processing
# cycles"). Well below 100% means Ferry had capacity to spare and the load core was the
# bottleneck: the row then measures how the back-end's ring handling (completions,
# notifications, the cache lines it shares with the driver) lets the load run, not how
# many packets the back-end could move.
# Environment: REPS, SECONDS_PER_RUN, ROWS (e.g. "loop-64-split-1 oneway-1500-packed-1").
set -euo pipefail
cd "$(dirname "$0")/.."
ferry=${1:-build/release/apps/ferry-patch}
reps=${REPS:-5}
secs=${SECONDS_PER_RUN:-4}
warm=2
if ! command -v dpdk-testpmd >/dev/null 2>&1; then
  echo "vhost_vs_dpdk: dpdk-testpmd not found (Debian package dpdk-dev); skipped"
  exit 0
fi
[ -x "$ferry" ] || { echo "vhost_vs_dpdk: $ferry not built"; exit 1; }

# The interop tests' helpers (wait_for, stop_pid, start_testpmd); cleanup is our own.
source tests/interop/common.sh
source tests/interop/dpdk_lib.sh
testpmd_show=0 # run_once prints only its result

work=$(mktemp -d /tmp/ferry-vhost-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work" /var/run/dpdk/ferry-bench-$$-* 2>/dev/null || true
}
trap cleanup EXIT

samples() {
  grep -c 'Port statistics' "$1" 2>/dev/null || true
}

# run_once BACKEND MODE SIZE RING MRG N -> prints "MPPS BUSY": the load's rate and, for
# Ferry, the percentage of its worker's cycles that moved packets (either may be "nan")
run_once() {
  local backend=$1 mode=$2 size=$3 ring=$4 mrg=$5 n=$6
  local a=$work/a.sock b=$work/b.sock be_pid load_pid
  local tag=ferry-bench-$$-$n
  rm -f "$a" "$b"
  if [ "$backend" = ferry ]; then
    taskset -c 1 "$ferry" --idle-sleep-us 0 "name=A,socket=$a" "name=B,socket=$b" \
      >"$work/be.out" 2>"$work/be.err" &
    be_pid=$!
  else
    local fwd=io
    [ "$mode" = oneway ] && fwd=rxonly
    start_testpmd "$work/be.out" "$tag-be" '0@1,1@1' \
      --vdev "net_vhost0,iface=$a,queues=1" --vdev "net_vhost1,iface=$b,queues=1" \
      -- --forward-mode=$fwd
    be_pid=$testpmd_pid
  fi
  pids+=("$be_pid")
  if ! wait_for 200 test -S "$b"; then
    stop_pid "$be_pid" 9 || true
    echo nan nan
    return
  fi
  local opts="queues=1,packed_vq=$([ "$ring" = packed ] && echo 1 || echo 0),mrg_rxbuf=$mrg"
  local vdevs=(--vdev "net_virtio_user0,path=$a,$opts")
  local fwd=(--forward-mode=io --tx-first)
  if [ "$mode" = oneway ]; then
    fwd=(--forward-mode=txonly)
  else
    vdevs+=(--vdev "net_virtio_user1,path=$b,$opts")
  fi
  start_testpmd "$work/load.log" "$tag-load" '0@0,1@0' "${vdevs[@]}" -- "${fwd[@]}" \
    --txpkts="$size"
  load_pid=$testpmd_pid
  pids+=("$load_pid")
  local need=$((warm + secs + 2))
  blocks_at_least() {
    wait_for $(((need + 30) * 10)) bash -c "[ \$(grep -c 'Port statistics' '$work/load.log') -ge $1 ]"
  }
  # Ferry's worker cycles at both ends of the measured seconds (SIGUSR1 prints them).
  if [ "$backend" = ferry ] && blocks_at_least $((warm + 1)); then
    kill -USR1 "$be_pid" 2>/dev/null || true
    blocks_at_least $((need - 1)) && kill -USR1 "$be_pid" 2>/dev/null || true
  fi
  blocks_at_least $need || true
  stop_pid "$load_pid" INT || true
  if [ "$backend" = ferry ]; then stop_pid "$be_pid" TERM || true; else stop_pid "$be_pid" INT || true; fi
  rm -rf "/var/run/dpdk/$tag-be" "/var/run/dpdk/$tag-load"
  python3 - "$work/load.log" "$mode" "$warm" "$work/be.out" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
mode, warm = sys.argv[2], int(sys.argv[3])
# The share of Ferry's worker cycles spent in iterations that moved packets, during the
# measured seconds.
snaps = re.findall(r"worker cycles=(\d+) busy_cycles=(\d+)", open(sys.argv[4], errors="replace").read())
busy = "nan"
if len(snaps) >= 2:
    (c0, b0), (c1, b1) = [(int(c), int(b)) for c, b in snaps[:2]]
    if c1 > c0:
        busy = f"{100 * (b1 - b0) / (c1 - c0):.0f}"
# Only the periodic blocks: the summary printed at exit repeats the packet counts.
text = text.split("Telling cores to stop")[0].split("Forward statistics")[0]
blocks = text.split("Port statistics")[1:]
# Each block has the load's own per-port rate since the previous block (testpmd times
# it with the TSC), so late or missed blocks do not skew the result.
key = "Tx-pps" if mode == "oneway" else "Rx-pps"
rates = []
for b in blocks:
    vals = [int(v) for v in re.findall(key + r":\s+(\d+)", b)]
    if vals:
        rates.append(sum(vals))
# The first blocks are the warm-up; the last may cover a partial second.
rates = rates[warm + 1:-1]
if len(rates) < 2:
    print("nan", busy)
else:
    print(f"{sum(rates) / len(rates) / 1e6:.3f}", busy)
PY
}

rows=${ROWS:-}
if [ -z "$rows" ]; then
  for size in 64 1500; do
    for ring in split packed; do
      for mrg in 1 0; do rows="$rows loop-$size-$ring-$mrg"; done
    done
  done
  for size in 64 1500; do
    for ring in split packed; do rows="$rows oneway-$size-$ring-1"; done
  done
fi

results=$work/results.txt
: >"$results"
n=0
echo "vhost_vs_dpdk: $reps interleaved runs per back-end and row, ${secs} s each (load on core 0, back-end on core 1)"
for row in $rows; do
  IFS=- read -r mode size ring mrg <<<"$row"
  for ((r = 0; r < reps; r++)); do
    for backend in ferry dpdk; do
      n=$((n + 1))
      read -r v busy < <(run_once "$backend" "$mode" "$size" "$ring" "$mrg" "$n")
      echo "$row $backend $v $busy" >>"$results"
      echo "  $row $backend run $((r + 1)): $v Mpps$([ "$busy" = nan ] || echo ", worker busy $busy%")"
    done
  done
done

python3 - "$results" <<'PY'
import statistics, sys
data = {}
order = []
for line in open(sys.argv[1]):
    row, backend, v, busy = line.split()
    if row not in data:
        data[row] = {"ferry": [], "dpdk": [], "busy": []}
        order.append(row)
    if v != "nan":
        data[row][backend].append(float(v))
    if busy != "nan":
        data[row]["busy"].append(float(busy))
def cell(vals):
    if not vals:
        return "n/a", None
    m = statistics.median(vals)
    return f"{m:6.3f} ({min(vals):.3f}-{max(vals):.3f})", m
print()
print(f"{'test':8} {'size':>5} {'ring':7} {'mrg':>3}  {'Ferry Mpps median (min-max)':28}  "
      f"{'DPDK Mpps median (min-max)':28}  Ferry/DPDK  Ferry busy")
for row in order:
    mode, size, ring, mrg = row.split("-")
    f, fm = cell(data[row]["ferry"])
    d, dm = cell(data[row]["dpdk"])
    ratio = f"{fm / dm:.2f}x" if fm and dm else "n/a"
    busy = f"{statistics.median(data[row]['busy']):.0f}%" if data[row]["busy"] else "n/a"
    print(f"{mode:8} {size:>5} {ring:7} {mrg:>3}  {f:28}  {d:28}  {ratio:10}  {busy}")
PY
