#!/usr/bin/env bash
# dpdk_virtio_user_test.sh PROBE split|packed
#
# Runs Ferry's vhost-user back-end (PROBE = vhost_probe, server mode on a temporary
# socket) against DPDK's virtio-user driver in dpdk-testpmd with two queue pairs, and
# checks what was negotiated: features, memory table, all four rings configured with
# translated addresses, DRIVER_OK, and a clean stop with GET_VRING_BASE for every ring.
# Exits 77 (skipped) when dpdk-testpmd is not installed.
set -euo pipefail

probe=$1
mode=${2:-split}
queues=2
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/dpdk_lib.sh"
require_cmd dpdk-testpmd dpdk-dev
make_work ferry-dpdk-interop
dpdk_prefix "ferry-interop-$$-$mode"
sock=$work/vhost.sock
probe_pid=
testpmd_pid=
cleanup_pids=(testpmd_pid probe_pid)
fail_logs=("probe stdout=$work/probe.json" "probe stderr=$work/probe.log" "testpmd=$work/testpmd.log")

start_probe "$probe" "$sock" "$queues" 90

vdev="net_virtio_user0,path=$sock,queues=$queues"
offloads=()
if [ "$mode" = packed ]; then
  # Packed ring, and checksum/TSO offloads so that those feature bits are negotiated too.
  vdev="$vdev,packed_vq=1"
  offloads=(--rx-offloads=0x1c --tx-offloads=0x802c)
fi
start_testpmd "$work/testpmd.log" "$prefix" '0@0,1@0' --vdev "$vdev" -- \
  --rxq="$queues" --txq="$queues" "${offloads[@]}"

wait_for 400 grep -q '"event":"driver_ok"' "$work/probe.json" || fail "no DRIVER_OK within 40 s"
# Let the other queue pair be enabled and traffic start.
wait_for 100 grep -q 'Port 0: link state change\|Start automatic packet forwarding\|Forwarding' \
  "$work/testpmd.log" || true
sleep 2
stop_testpmd
wait_for 100 grep -q '"event":"disconnect"' "$work/probe.json" || fail "probe saw no disconnect"
stop_probe

python3 - "$work/probe.json" "$mode" "$queues" <<'PY' || fail "negotiated state is wrong"
import json, sys
path, mode, queues = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = {}
for line in open(path):
    e = json.loads(line)
    # The last of each: testpmd restarts the port (renegotiating on the same connection)
    # when it applies offloads.
    events[e["event"]] = e
    if e["event"] == "driver_ok":
        events.pop("running", None)
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
for name in ("driver_ok", "stopping", "disconnect"):
    check(name in events, f"event {name} missing")
if errors:
    print("\n".join(errors)); sys.exit(1)
ok, bye = events["driver_ok"], events["disconnect"]
running = events.get("running", ok)
f = int(ok["features"], 16)
bit = lambda n: (f >> n) & 1
check(bit(32), "VERSION_1 not negotiated")
check(bit(30), "PROTOCOL_FEATURES not negotiated")
check(bit(22) == (queues > 1), "MQ")
check(bit(34) == (mode == "packed"), "RING_PACKED")
if mode == "packed":
    check(bit(0) and bit(1), "CSUM/GUEST_CSUM not negotiated with offloads on")
check(ok["status"] & 0x4, "DRIVER_OK not in status")
check(int(ok["protocol_features"], 16) & (1 << 3), "REPLY_ACK not negotiated")
check(len(ok["regions"]) >= 1, "no memory regions")
rings = running["rings"][: 2 * queues]
for r in rings:
    i = r["index"]
    check(r["num"] > 0, f"ring {i}: no size")
    check(r["translated"], f"ring {i}: addresses not translated")
    check(r["kick"] and r["call"], f"ring {i}: kick/call fds missing")
    check(r["enabled"], f"ring {i}: not enabled")
    check(r["ready"], f"ring {i}: not ready")
check(ok["rejects"] == 0 and bye["rejects"] == 0, f"rejected messages: {bye['rejects']}")
stopped = sorted(set(v["ring"] for v in bye["vring_base"]))
check(stopped == list(range(2 * queues)), f"GET_VRING_BASE for rings {stopped}")
msgs = bye["messages"]
for m in ("SET_OWNER", "GET_FEATURES", "SET_FEATURES", "SET_MEM_TABLE+ack", "SET_VRING_ADDR",
          "SET_VRING_KICK", "SET_VRING_ENABLE", "GET_VRING_BASE"):
    check(m in msgs or m.replace("+ack", "") in msgs, f"message {m} never sent")
print(f"DRIVER_OK reached {msgs.count('SET_STATUS+ack') // 2} time(s)")
print(f"features {ok['features']} protocol {ok['protocol_features']} status {ok['status']}")
print(f"regions {ok['regions']}")
print("rings " + json.dumps([{k: r[k] for k in ("index", "num", "desc", "ready")} for r in rings]))
print("messages: " + " ".join(msgs))
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
echo "PASS: DPDK virtio-user ($mode, $queues queue pairs) negotiated with Ferry"
