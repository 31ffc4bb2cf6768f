#!/usr/bin/env bash
# qemu_two_guests_test.sh FERRY_PATCH GUEST_DIR [split|packed]
#
# Two QEMU Linux guests (TCG), each with a virtio-net-pci device (2 queue pairs, mq=on)
# on a Ferry vhost-user port; ferry-patch patches the two ports together. The guests
# ping each other both ways, run iperf3 TCP both ways for 3 s, and print the feature
# bits their driver negotiated (sysfs), which must include VERSION_1, CSUM, GUEST_CSUM,
# HOST_TSO4/6, GUEST_TSO4/6, MRG_RXBUF, CTRL_VQ, MQ and EVENT_IDX (+RING_PACKED with
# packed). Exits 77 (skipped) when QEMU is missing or the guest image cannot be built.
set -euo pipefail

ferry=$1
ring=${3:-split}
source "$(dirname "$0")/qemu_lib.sh"
guest_setup ferry-qemu-guests "$2"
start_ferry "$ferry" --queues 2

dev=""
[ "$ring" = packed ] && dev=",packed=on"
start_guest a "$work/a.sock" 52:54:00:00:00:0a "$dev" \
  "ip=10.0.0.1/24 mq=2 run=\"iperf3 -s -D; until ping -c1 -W1 10.0.0.2 >/dev/null; do sleep 0.5; done; ping -c 3 10.0.0.2 && echo PING_A_OK; echo FEATURES \$(cat /sys/class/net/eth0/device/features); while true; do sleep 100; done\""
start_guest b "$work/b.sock" 52:54:00:00:00:0b "$dev" \
  "ip=10.0.0.2/24 mq=2 run=\"until ping -c1 -W1 10.0.0.1 >/dev/null; do sleep 0.5; done; ping -c 3 10.0.0.1 && echo PING_B_OK; echo FEATURES \$(cat /sys/class/net/eth0/device/features); sleep 1; iperf3 -c 10.0.0.1 -t 3 -f m && echo IPERF_FWD_OK; iperf3 -c 10.0.0.1 -t 3 -R -f m && echo IPERF_REV_OK; echo B_DONE\""

wait_for 1000 grep -qs B_DONE "$work/b.log" || fail "guest B did not finish in 100 s"
wait_for 100 grep -qs PING_A_OK "$work/a.log" || fail "guest A could not ping guest B"
grep -q PING_B_OK "$work/b.log" || fail "guest B could not ping guest A"
grep -q IPERF_FWD_OK "$work/b.log" || fail "iperf3 B -> A failed"
grep -q IPERF_REV_OK "$work/b.log" || fail "iperf3 A -> B failed"
grep 'receiver' "$work/b.log" | sed 's/^/iperf3: /'

ferry_stats
grep '^stats' "$work/ferry.out"
grep -E "control commands|drop |queue [0-9]:" "$work/ferry.out" || true

python3 - "$work/a.log" "$work/b.log" "$ring" <<'PY' || fail "negotiated features are wrong"
import sys
names = {0: "CSUM", 1: "GUEST_CSUM", 7: "GUEST_TSO4", 8: "GUEST_TSO6", 11: "HOST_TSO4",
         12: "HOST_TSO6", 15: "MRG_RXBUF", 17: "CTRL_VQ", 22: "MQ", 29: "EVENT_IDX",
         32: "VERSION_1"}
if sys.argv[3] == "packed":
    names[34] = "RING_PACKED"
errors = []
for path in sys.argv[1:3]:
    lines = [l for l in open(path, errors="replace") if l.startswith("FEATURES ")]
    if not lines:
        errors.append(f"{path}: no FEATURES line"); continue
    bits = lines[-1].split()[1].strip()
    on = [i for i, c in enumerate(bits) if c == "1"]
    print(f"guest {path[-5]} features: {bits} (bits {on})")
    for b, n in names.items():
        if b >= len(bits) or bits[b] != "1":
            errors.append(f"{path}: {n} (bit {b}) not negotiated")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
stop_ferry
echo "PASS: two QEMU guests ($ring ring) through Ferry: ping and iperf3 both ways"
