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
guest_dir=$2
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  echo "SKIP: qemu-system-x86_64 not found (Debian package qemu-system-x86)"
  exit 77
fi
work=$(mktemp -d /tmp/ferry-qemu-restart.XXXXXX)
source "$(dirname "$0")/qemu_lib.sh"
ferry_pid=
guest_pid_a=
guest_pid_b=
cleanup() {
  for pid in $guest_pid_a $guest_pid_b $ferry_pid; do
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
  for f in a.log b.log a.qemu b.qemu ferry.err ferry.out; do
    echo "--- $f"; tail -n 30 "$work/$f" 2>/dev/null || true
  done
  exit 1
}
guest_image "$guest_dir" || { echo "SKIP: cannot build the guest image (scripts/guest-image)"; exit 77; }

start_ferry() {
  "$ferry" --queues 2 "name=A,socket=$work/a.sock" "name=B,socket=$work/b.sock" \
    >>"$work/ferry.out" 2>>"$work/ferry.err" &
  ferry_pid=$!
  wait_for 50 test -S "$work/b.sock" || fail "ferry-patch did not create its sockets"
}
# ok_after N: a PING_OK line in b.log after its first N lines.
ok_after() {
  tail -n +"$(($1 + 1))" "$work/b.log" 2>/dev/null | grep -q PING_OK
}
lines() {
  wc -l <"$work/b.log"
}

start_ferry
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
start_ferry
started=$(date +%s)
wait_for 600 ok_after "$n" || fail "no ping within 60 s of Ferry's restart"
echo "ping resumed $(($(date +%s) - started)) s after Ferry restarted"

kill -USR1 "$ferry_pid"
wait_for 50 grep -q '^stats name=B' "$work/ferry.out" || fail "no counters from ferry-patch"
grep '^stats' "$work/ferry.out" | tail -n 2
kill -TERM "$ferry_pid"
wait "$ferry_pid" || fail "ferry-patch exited with an error"
ferry_pid=
echo "PASS: traffic resumes after a guest reset and a Ferry restart"
