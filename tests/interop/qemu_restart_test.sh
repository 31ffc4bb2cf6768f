#!/usr/bin/env bash
# qemu_restart_test.sh FERRY_PATCH GUEST_DIR
#
# Two QEMU guests on two patched Ferry ports; guest B pings guest A twice a second and
# prints PING_OK / PING_FAIL. Then:
#   1. guest B is reset (monitor system_reset: the device is reset, the guest reboots and
#      renegotiates) and its pings must succeed again;
#   2. Ferry is killed (SIGKILL) and restarted while QEMU runs with reconnect=1 on its
#      chardev; QEMU reconnects, renegotiates, and the pings must succeed again.
# Exits 77 (skipped) when QEMU is missing or the guest image cannot be built.
set -euo pipefail

ferry=$1
source "$(dirname "$0")/qemu_lib.sh"
guest_setup ferry-qemu-restart "$2"

# ok_after N: a PING_OK line in b.log after its first N lines.
ok_after() {
  tail -n +"$(($1 + 1))" "$work/b.log" 2>/dev/null | grep -q PING_OK
}
lines() {
  wc -l <"$work/b.log"
}

start_ferry "$ferry" --queues 2
start_guest a "$work/a.sock" 52:54:00:00:00:0a "" \
  "ip=10.0.0.1/24 run=\"while true; do sleep 100; done\""
start_guest b "$work/b.sock" 52:54:00:00:00:0b "" \
  "ip=10.0.0.2/24 run=\"while true; do if ping -c1 -W1 10.0.0.1 >/dev/null; then echo PING_OK; else echo PING_FAIL; fi; sleep 0.5; done\""

wait_for 900 ok_after 0 || fail "no ping between the guests within 90 s"
echo "guests ping each other"

# 1. Guest reset.
n=$(lines)
monitor b system_reset
wait_for 600 bash -c "tail -n +$((n + 1)) '$work/b.log' | grep -q 'guest: ready'" ||
  fail "guest B did not come back after system_reset"
n=$(lines)
wait_for 600 ok_after "$n" || fail "no ping after guest B's reset"
[ "$(count_lines "$work/ferry.err" 'B: device started')" -ge 2 ] ||
  fail "Ferry did not see guest B's device start again"
echo "ping resumed after guest B's device reset"

# 2. Ferry killed and restarted.
kill -9 "$ferry_pid"
wait "$ferry_pid" 2>/dev/null || true
ferry_pid=
rm -f "$work/a.sock" "$work/b.sock"
sleep 2
n=$(lines)
start_ferry "$ferry" --queues 2
started=$(date +%s)
wait_for 600 ok_after "$n" || fail "no ping within 60 s of Ferry's restart"
echo "ping resumed $(($(date +%s) - started)) s after Ferry restarted"

ferry_stats
grep '^stats' "$work/ferry.out" | tail -n 2
stop_ferry
echo "PASS: traffic resumes after a guest reset and a Ferry restart"
