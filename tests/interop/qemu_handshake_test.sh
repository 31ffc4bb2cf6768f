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
source "$(dirname "$0")/qemu_lib.sh"
require_qemu
make_work ferry-qemu-interop
sock=$work/vhost.sock
probe_pid=
qemu_pid=
cleanup_pids=(qemu_pid probe_pid)
fail_logs=("probe stdout=$work/probe.json" "probe stderr=$work/probe.log" "qemu=$work/qemu.log")

start_probe "$probe" "$sock" 2 60

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
wait_for 100 grep -q '"event":"disconnect"' "$work/probe.json" || true
stop_probe

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
