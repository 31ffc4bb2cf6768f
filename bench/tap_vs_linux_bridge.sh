#!/usr/bin/env bash
# tap_vs_linux_bridge.sh FERRYD [ROUNDS] [SECONDS]
#
# TCP throughput (iperf3, one stream) between two network namespaces:
#   ferryd:       each namespace on a TAP port of ferryd (offloads on)
#   linux-bridge: each namespace on a veth pair whose other end is in a Linux bridge
# measured by this script with the same iperf3 command, in interleaved rounds (ferryd,
# bridge, ferryd, bridge, ...) so that machine noise hits both alike; prints every round
# and the medians. Needs root; prints a note and exits 0 otherwise.
set -euo pipefail
ferryd=${1:?usage: tap_vs_linux_bridge.sh FERRYD [ROUNDS] [SECONDS]}
rounds=${2:-5}
seconds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v iperf3 >/dev/null; then
  echo "tap_vs_linux_bridge: skipped (needs root, /dev/net/tun and iperf3)"
  exit 0
fi
work=$(mktemp -d /tmp/ferry-tapbench.XXXXXX)
source "$here/../tests/interop/ferryd_lib.sh"
tag=$$
ns0=fb0-$tag
ns1=fb1-$tag
ferryd_pid=
cleanup() {
  ferryd_stop
  for ns in $ns0 $ns1; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "br$tag" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

measure() {  # prints Gbit/s between ns0 and ns1
  ip netns exec "$ns1" iperf3 -s -D -1 >/dev/null
  sleep 0.3
  iperf_gbps "$ns0" 10.203.0.2 "$seconds"
  for ns in $ns0 $ns1; do ip netns pids "$ns" | xargs -r kill 2>/dev/null || true; done
}

run_ferryd() {
  cat >"$work/ferryd.toml" <<TOML
[ferryd]
workers = 1
log_level = "info"
[[port]]
name = "a"
type = "tap"
ifname = "ta$tag"
[[port]]
name = "b"
type = "tap"
ifname = "tb$tag"
TOML
  ferryd_start "$work/ferryd.toml" >/dev/null || { echo 0; return; }
  netns_attach "$ns0" "ta$tag" 10.203.0.1/24
  netns_attach "$ns1" "tb$tag" 10.203.0.2/24
  measure
  ferryd_stop
  ip netns del "$ns0"
  ip netns del "$ns1"
}

run_bridge() {
  ip link add "br$tag" type bridge
  ip link set "br$tag" up
  ip netns add "$ns0"
  ip netns add "$ns1"
  local i=0
  for ns in $ns0 $ns1; do
    ip link add "vh$i$tag" type veth peer name "vn$i$tag"
    ip link set "vn$i$tag" netns "$ns"
    ip link set "vh$i$tag" master "br$tag" up
    ip -n "$ns" addr add "10.203.0.$((i + 1))/24" dev "vn$i$tag"
    ip -n "$ns" link set "vn$i$tag" up
    ip -n "$ns" link set lo up
    i=$((i + 1))
  done
  measure
  ip netns del "$ns0"
  ip netns del "$ns1"
  ip link del "br$tag"
}

f=()
b=()
for r in $(seq "$rounds"); do
  fv=$(run_ferryd)
  bv=$(run_bridge)
  f+=("$fv")
  b+=("$bv")
  printf 'round %d: ferryd %6s Gbit/s   linux-bridge %6s Gbit/s\n' "$r" "$fv" "$bv"
done
python3 - "${f[*]}" "${b[*]}" <<'PY'
import statistics, sys
f = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
mf, mb = statistics.median(f), statistics.median(b)
print(f"median TCP throughput, namespace -> namespace, {len(f)} interleaved rounds:")
print(f"  ferryd (TAP ports, offloads on):  {mf:6.2f} Gbit/s")
print(f"  Linux bridge (veth pairs):        {mb:6.2f} Gbit/s")
print(f"  ferryd / Linux bridge:            {mf / mb if mb else 0:6.2f}")
PY
