#!/usr/bin/env bash
# ferryd_vm_netns_test.sh FERRYD GUEST_DIR
#
# A QEMU guest (TCG) on a vhost-user port of ferryd and a network namespace on a TAP port
# of the same ferryd: the guest pings the namespace and runs iperf3 against it both ways.
# Exits 77 (skipped) without root, /dev/net/tun, iperf3, network namespaces, QEMU or a
# guest image (scripts/guest-image builds it).
set -euo pipefail
ferryd=$1
guest_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ferryd_lib.sh"
need_root_netns
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  echo "SKIP: qemu-system-x86_64 not found (Debian package qemu-system-x86)"
  exit 77
fi
work=$(mktemp -d /tmp/ferryd-vm.XXXXXX)
source "$here/qemu_lib.sh"
tag=$$
ns=ferry-vm-$tag
ferryd_pid=
guest_pid_g=
cleanup() {
  if [ -n "$guest_pid_g" ] && kill -0 "$guest_pid_g" 2>/dev/null; then
    kill -9 "$guest_pid_g" 2>/dev/null || true
    wait "$guest_pid_g" 2>/dev/null || true
  fi
  ferryd_stop
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in g.log g.qemu ferryd.log; do
    echo "--- $f"; tail -n 30 "$work/$f" 2>/dev/null || true
  done
  exit 1
}
guest_image "$guest_dir" || { echo "SKIP: cannot build the guest image (scripts/guest-image)"; exit 77; }

cat >"$work/ferryd.toml" <<TOML
[ferryd]
workers = 1
[[port]]
name = "vm"
type = "vhost-user"
socket = "$work/vm.sock"
queues = 2
[[port]]
name = "tap"
type = "tap"
ifname = "fv$tag"
TOML
ferryd_start "$work/ferryd.toml" || fail "ferryd did not start"
netns_attach "$ns" "fv$tag" 10.202.0.2/24
ip netns exec "$ns" iperf3 -s -D
start_guest g "$work/vm.sock" 52:54:00:00:02:01 "" \
  "ip=10.202.0.1/24 run=\"until ping -c1 -W1 10.202.0.2 >/dev/null; do sleep 0.5; done; ping -c 3 10.202.0.2 && echo PING_OK; iperf3 -c 10.202.0.2 -t 3 -f m && echo IPERF_FWD_OK; iperf3 -c 10.202.0.2 -t 3 -R -f m && echo IPERF_REV_OK; echo G_DONE; while true; do sleep 100; done\""
wait_for 1500 grep -qs G_DONE "$work/g.log" || fail "the guest did not finish in 150 s"
grep -q PING_OK "$work/g.log" || fail "the guest could not ping the namespace"
ip netns exec "$ns" ping -c 2 -W 2 10.202.0.1 >/dev/null || fail "the namespace could not ping the guest"
grep -q IPERF_FWD_OK "$work/g.log" || fail "iperf3 guest -> namespace failed"
grep -q IPERF_REV_OK "$work/g.log" || fail "iperf3 namespace -> guest failed"
grep 'receiver' "$work/g.log" | sed 's/^/iperf3 (guest -> ns, then ns -> guest): /'
ferryd_stop
grep "stats:" "$work/ferryd.log" | tail -n 12
test ! -e "$work/vm.sock" || fail "ferryd left its vhost-user socket behind"
echo "PASS: QEMU guest on vhost-user <-> namespace on TAP through ferryd: ping and iperf3 both ways"
