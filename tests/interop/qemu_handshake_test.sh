#!/usr/bin/env bash
# qemu_handshake_test.sh PROBE
#
# Starts QEMU with a virtio-net-pci device on a vhost-user netdev (two queue pairs)
# connected to Ferry's back-end (PROBE = vhost_probe) and checks the handshake QEMU does
# before any guest driver runs: features and protocol features negotiated, queue count
# accepted, per-ring call/err fds and ring enables, no rejected message and no vhost error
# from QEMU. No guest is booted (no kernel, no option ROM), so rings never start here;
# ring set-up with a guest driver is covered by the DPDK virtio-user tests.
# Exits 77 (skipped) when qemu-system-x86_64 is not installed.
set -euo pipefail

probe=$1
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  echo "SKIP: qemu-system-x86_64 not found (Debian package qemu-system-x86)"
  exit 77
fi

work=$(mktemp -d /tmp/ferry-qemu-interop.XXXXXX)
sock=$work/vhost.sock
probe_pid=
qemu_pid=
cleanup() {
  for pid in $qemu_pid $probe_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- probe stdout"; cat "$work/probe.json" 2>/dev/null || true
  echo "--- probe stderr"; tail -n 30 "$work/probe.log" 2>/dev/null || true
  echo "--- qemu"; tail -n 30 "$work/qemu.log" 2>/dev/null || true
  exit 1
}

"$probe" --socket "$sock" --queues 2 --timeout 60 >"$work/probe.json" 2>"$work/probe.log" &
probe_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "probe did not create $sock"

qemu-system-x86_64 -accel tcg -m 128 -nodefaults -no-reboot -display none -serial none \
  -object memory-backend-memfd,id=mem,size=128M,share=on -machine q35,memory-backend=mem \
  -chardev socket,id=chr0,path="$sock" -netdev vhost-user,id=n0,chardev=chr0,queues=2 \
  -device virtio-net-pci,netdev=n0,mq=on,romfile=,vectors=0 </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
sleep 4
kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited early"
kill -TERM "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
for _ in $(seq 100); do grep -q '"event":"disconnect"' "$work/probe.json" && break; sleep 0.1; done
wait "$probe_pid" || fail "probe exited with an error"
probe_pid=

if grep -i 'vhost' "$work/qemu.log" | grep -iv 'terminating on signal'; then
  fail "QEMU reported a vhost problem"
fi
python3 - "$work/probe.json" <<'PY' || fail "handshake is wrong"
import json, sys
bye = [json.loads(l) for l in open(sys.argv[1]) if '"disconnect"' in l][0]
msgs = bye["messages"]
print("messages: " + " ".join(msgs))
errors = []
for m in ("SET_OWNER", "GET_FEATURES", "GET_PROTOCOL_FEATURES", "SET_PROTOCOL_FEATURES",
          "GET_QUEUE_NUM", "SET_VRING_CALL", "SET_VRING_ENABLE"):
    if m not in msgs:
        errors.append(f"QEMU never sent {m}")
if bye["rejects"] != 0:
    errors.append(f"{bye['rejects']} messages rejected")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
echo "PASS: QEMU vhost-user handshake with Ferry"
