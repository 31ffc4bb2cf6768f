#!/usr/bin/env bash
# ferry_patch_dpdk_test.sh FERRY_PATCH MODE
#
# Two Ferry vhost-user ports patched together (ferry-patch, server mode) carry traffic
# between two DPDK virtio-user ports of one dpdk-testpmd in io forward mode with
# --tx-first: packets loop A -> Ferry -> B -> testpmd -> A ... Checks that packets flowed
# both ways (testpmd's and Ferry's counters) with no drop in Ferry while running.
# MODE: split | packed | mrg0 (mrg_rxbuf=0) | inorder (in_order=1) | mq2 (2 queue pairs)
# Exits 77 (skipped) when dpdk-testpmd is missing.
set -euo pipefail

ferry=$1
mode=${2:-split}
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/dpdk_lib.sh"
require_cmd dpdk-testpmd dpdk-dev
make_work ferry-patch-dpdk
dpdk_prefix "ferry-patch-$$-$mode"
ferry_pid=
testpmd_pid=
cleanup_pids=(testpmd_pid ferry_pid)
fail_logs=("ferry-patch stdout=$work/ferry.out" "ferry-patch stderr=$work/ferry.err"
           "testpmd=$work/testpmd.log")

queues=1
opts=""
offloads=()
case "$mode" in
  split) ;;
  packed) opts=",packed_vq=1"; offloads=(--rx-offloads=0x1c --tx-offloads=0x802c) ;;
  mrg0) opts=",mrg_rxbuf=0" ;;
  inorder) opts=",in_order=1,mrg_rxbuf=0" ;;
  mq2) queues=2 ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac

start_ferry "$ferry" --queues "$queues" --idle-sleep-us 20
start_testpmd "$work/testpmd.log" "$prefix" '0@0,1@0' \
  --vdev "net_virtio_user0,path=$work/a.sock,queues=$queues$opts" \
  --vdev "net_virtio_user1,path=$work/b.sock,queues=$queues$opts" \
  -- --forward-mode=io --tx-first --rxq="$queues" --txq="$queues" "${offloads[@]}"

wait_for 400 grep -q 'Rx-pps' "$work/testpmd.log" || fail "testpmd did not start forwarding in 40 s"
sleep 4
# Ferry's counters while traffic runs (stopping the front-end drops what is in flight).
ferry_stats
cp "$work/ferry.out" "$work/running.txt"
stop_testpmd
stop_ferry
[ ! -e "$work/a.sock" ] || fail "ferry-patch left its socket behind"

python3 - "$work/running.txt" "$work/testpmd.log" "$mode" "$queues" <<'PY' || fail "traffic check failed"
import re, sys
running, log, mode, queues = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3], int(sys.argv[4])
stats = {}
for line in open(running):
    if line.startswith("stats "):
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        stats[kv["name"]] = kv
errors = []
for name in ("A", "B"):
    s = stats.get(name)
    if not s:
        errors.append(f"no stats for {name}"); continue
    rx, tx = int(s["rx_packets"]), int(s["tx_packets"])
    print(f"ferry {name}: rx {rx} tx {tx} rx_drops {s['rx_drops']} tx_drops {s['tx_drops']} "
          f"features {s['features']}")
    if rx < 1000 or tx < 1000:
        errors.append(f"{name}: too little traffic (rx {rx}, tx {tx})")
    if int(s["rx_drops"]) or int(s["tx_drops"]):
        errors.append(f"{name}: drops while running")
    if int(s["broken"]):
        errors.append(f"{name}: broken rings")
    f = int(s["features"], 16)
    if ((f >> 34) & 1) != (mode == "packed"):
        errors.append(f"{name}: RING_PACKED {(f >> 34) & 1}")
    if mode == "mrg0" and (f >> 15) & 1:
        errors.append(f"{name}: MRG_RXBUF negotiated with mrg_rxbuf=0")
    # packed: virtio-user offers IN_ORDER by default; Ferry then completes each tx burst
    # with one used descriptor, which the driver must walk back through.
    if mode in ("inorder", "packed") and not (f >> 35) & 1:
        errors.append(f"{name}: IN_ORDER not negotiated")
    if queues > 1 and not (f >> 22) & 1:
        errors.append(f"{name}: MQ not negotiated")
ports = re.findall(r"Forward statistics for port (\d+).*?RX-packets: (\d+).*?TX-packets: (\d+)", log, re.S)
for port, rx, tx in ports:
    print(f"testpmd port {port}: RX {rx} TX {tx}")
    if int(rx) < 1000:
        errors.append(f"testpmd port {port} received only {rx}")
if len(ports) < 2:
    errors.append("testpmd printed no per-port statistics")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
echo "PASS: DPDK virtio-user <-> Ferry patch <-> virtio-user ($mode)"
