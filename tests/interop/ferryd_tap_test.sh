#!/usr/bin/env bash
# ferryd_tap_test.sh FERRYD
#
# Two network namespaces, each on a TAP port of ferryd: ping, then iperf3 TCP throughput
# with the TAPs' offloads on (TSO frames pass through ferryd whole) and off (MTU-sized
# frames with checksums finished in software). Prints both; passes when both directions
# work and offloads on is well above offloads off (ratio > 1.5: no absolute timing).
# Exits 77 (skipped) without root, /dev/net/tun, iperf3 or network namespaces.
set -euo pipefail
ferryd=$1
seconds=${FERRY_IPERF_SECONDS:-3}
source "$(dirname "$0")/ferryd_lib.sh"
need_root_netns
work=$(mktemp -d /tmp/ferryd-tap.XXXXXX)
tag=$$
ns0=ferry-t0-$tag
ns1=ferry-t1-$tag
ferryd_pid=
cleanup() {
  ferryd_stop
  ip netns pids "$ns1" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns0" 2>/dev/null || true
  ip netns del "$ns1" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  tail -n 40 "$work/ferryd.log" 2>/dev/null || true
  exit 1
}

run_mode() {  # offloads(true|false) -> prints Gbit/s
  local offloads=$1
  cat >"$work/ferryd.toml" <<TOML
[ferryd]
workers = 1
[[port]]
name = "a"
type = "tap"
ifname = "fa$tag"
offloads = $offloads
[[port]]
name = "b"
type = "tap"
ifname = "fb$tag"
offloads = $offloads
TOML
  ferryd_start "$work/ferryd.toml" || fail "ferryd did not start (offloads $offloads)"
  netns_attach "$ns0" "fa$tag" 10.201.0.1/24
  netns_attach "$ns1" "fb$tag" 10.201.0.2/24
  ip netns exec "$ns0" ping -c 3 -i 0.2 -W 2 10.201.0.2 >"$work/ping.txt" || fail "ping failed (offloads $offloads)"
  ip netns exec "$ns1" iperf3 -s -D -1 >/dev/null
  sleep 0.3
  local gbps
  gbps=$(iperf_gbps "$ns0" 10.201.0.2 "$seconds") || fail "iperf3 failed (offloads $offloads)"
  kill -USR1 "$ferryd_pid"
  sleep 0.3
  python3 - "$work/stats.json" <<'PY' >&2 || true
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["ports"]:
    pl = p["pipeline"]
    print(f"  port {p['name']}: rx {p['total']['rx']['packets']} tx {p['total']['tx']['packets']} "
          f"gso passed whole {pl['gso']['passed']} segmented {pl['gso']['segmented']} "
          f"csum filled {pl['csum']['filled']} kicks {sum(q['kicks'] for q in pl['tx_queues'])}")
PY
  ferryd_stop
  ip netns del "$ns0"
  ip netns del "$ns1"
  echo "$gbps"
}

on=$(run_mode true)
echo "offloads on:  $on Gbit/s"
off=$(run_mode false)
echo "offloads off: $off Gbit/s"
python3 - "$on" "$off" <<'PY' || fail "offloads on ($on) is not well above offloads off ($off)"
import sys
on, off = float(sys.argv[1]), float(sys.argv[2])
print(f"ratio on/off: {on / max(off, 1e-9):.2f}")
sys.exit(0 if on > 1.5 * off else 1)
PY
echo "PASS: netns <-> netns through ferryd TAP ports, offloads on $on Gbit/s, off $off Gbit/s"
