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

if ! command -v dpdk-testpmd >/dev/null 2>&1; then
  echo "SKIP: dpdk-testpmd not found (Debian package dpdk-dev)"
  exit 77
fi

work=$(mktemp -d /tmp/ferry-dpdk-interop.XXXXXX)
sock=$work/vhost.sock
prefix=ferry-interop-$$-$mode
probe_pid=
testpmd_pid=

cleanup() {
  for pid in $testpmd_pid $probe_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work" "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$prefix"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- probe stdout"; cat "$work/probe.json" 2>/dev/null || true
  echo "--- probe stderr"; tail -n 30 "$work/probe.log" 2>/dev/null || true
  echo "--- testpmd"; tail -n 40 "$work/testpmd.log" 2>/dev/null || true
  exit 1
}

# Waits up to $1 tenths of a second for the command in $2... to succeed.
wait_for() {
  local tenths=$1
  shift
  for ((i = 0; i < tenths; i++)); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}

"$probe" --socket "$sock" --queues "$queues" --timeout 90 >"$work/probe.json" 2>"$work/probe.log" &
probe_pid=$!
wait_for 50 test -S "$sock" || fail "probe did not create $sock"

vdev="net_virtio_user0,path=$sock,queues=$queues"
offloads=()
if [ "$mode" = packed ]; then
  # Packed ring, and checksum/TSO offloads so that those feature bits are negotiated too.
  vdev="$vdev,packed_vq=1"
  offloads=(--rx-offloads=0x1c --tx-offloads=0x802c)
fi
testpmd_args=(--no-pci --no-huge -m 1024 --file-prefix="$prefix" --lcores '0@0,1@0'
              --vdev "$vdev" -- -a --no-mlockall --total-num-mbufs 32768
              --rxq="$queues" --txq="$queues" --stats-period 1 "${offloads[@]}")
echo "dpdk-testpmd ${testpmd_args[*]}"
dpdk-testpmd "${testpmd_args[@]}" </dev/null >"$work/testpmd.log" 2>&1 &
testpmd_pid=$!

wait_for 400 grep -q '"event":"driver_ok"' "$work/probe.json" || fail "no DRIVER_OK within 40 s"
# Let the other queue pair be enabled and traffic start.
wait_for 100 grep -q 'Port 0: link state change\|Start automatic packet forwarding\|Forwarding' \
  "$work/testpmd.log" || true
sleep 2
kill -INT "$testpmd_pid"
if ! wait_for 200 bash -c "! kill -0 $testpmd_pid 2>/dev/null"; then
  kill -9 "$testpmd_pid" 2>/dev/null || true
  fail "testpmd did not stop within 20 s of SIGINT"
fi
wait "$testpmd_pid" 2>/dev/null || true
testpmd_pid=
wait_for 100 grep -q '"event":"disconnect"' "$work/probe.json" || fail "probe saw no disconnect"
wait "$probe_pid" || fail "probe exited with an error"
probe_pid=

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
