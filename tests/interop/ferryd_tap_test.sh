#!/usr/bin/env bash
# ferryd_tap_test.sh FERRYD
#
# Two network namespaces, each on a TAP port of ferryd: ping, then iperf3 TCP throughput
#  - with the TAPs' offloads on (TSO frames pass through ferryd whole) and off (MTU-sized
#    frames with checksums finished in software): passes when both directions work and
#    offloads on is well above offloads off (ratio > 1.5: no absolute timing);
#  - offloads off with coalesce = "rsc" on both ports (segments coalesced, then segmented
#    again for the other TAP), and RSC on a TAP without offloads toward one with offloads
#    (the coalesced frames reach the kernel as TSO frames): iperf3 completes and the RSC
#    counters in ferryd's statistics show coalescing;
#  - workers = 2 with the two ports on different workers (every packet crosses the handoff
#    ring): ping and iperf3 complete, the handoff counters move.
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
fail() {  # also from inside run_mode's subshell, where the EXIT trap does not run
  echo "FAIL: $*"
  tail -n 40 "$work/ferryd.log" 2>/dev/null || true
  ferryd_stop
  exit 1
}

# run_mode LABEL WORKERS PORT_A_KEYS PORT_B_KEYS -> prints Gbit/s; the final statistics
# are left in $work/stats-LABEL.json.
run_mode() {
  local label=$1 workers=$2 keys_a=$3 keys_b=$4
  cat >"$work/ferryd.toml" <<TOML
[ferryd]
workers = $workers
[[port]]
name = "a"
type = "tap"
ifname = "fa$tag"
$keys_a
[[port]]
name = "b"
type = "tap"
ifname = "fb$tag"
$keys_b
TOML
  ferryd_start "$work/ferryd.toml" || fail "ferryd did not start ($label)"
  netns_attach "$ns0" "fa$tag" 10.201.0.1/24
  netns_attach "$ns1" "fb$tag" 10.201.0.2/24
  ip netns exec "$ns0" ping -c 3 -i 0.2 -W 2 10.201.0.2 >"$work/ping.txt" || fail "ping failed ($label)"
  ip netns exec "$ns1" iperf3 -s -D -1 >/dev/null
  sleep 0.3
  local gbps
  gbps=$(iperf_gbps "$ns0" 10.201.0.2 "$seconds") || fail "iperf3 failed ($label)"
  ferryd_stop  # dumps the statistics once more on the way out
  cp "$work/stats.json" "$work/stats-$label.json"
  python3 - "$work/stats-$label.json" "$label" <<'PY' >&2 || true
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["ports"]:
    pl = p["pipeline"]
    rsc = pl["rsc"]
    eng = rsc.get("engine", {})
    extra = ""
    if rsc["in"]:
        extra = (f" rsc {rsc['in']}->{rsc['out']} coalesced {eng.get('ipv4.coalesced', 0)}"
                 f" timer {eng.get('ipv4.timer_drained', 0)}")
    if rsc["stripped"]:
        extra += f" rsc-stripped {rsc['stripped']}"
    print(f"  [{sys.argv[2]}] port {p['name']} (worker {p['worker']}): rx {p['total']['rx']['packets']}"
          f" tx {p['total']['tx']['packets']} gso passed whole {pl['gso']['passed']}"
          f" segmented {pl['gso']['segmented']} csum filled {pl['csum']['filled']}"
          f" handoff out {pl['handoff_out']}{extra}")
PY
  ip netns del "$ns0"
  ip netns del "$ns1"
  echo "$gbps"
}

on=$(run_mode on 1 "offloads = true" "offloads = true")
echo "offloads on:  $on Gbit/s"
off=$(run_mode off 1 "offloads = false" "offloads = false")
echo "offloads off: $off Gbit/s"
python3 - "$on" "$off" <<'PY' || fail "offloads on ($on) is not well above offloads off ($off)"
import sys
on, off = float(sys.argv[1]), float(sys.argv[2])
print(f"ratio on/off: {on / max(off, 1e-9):.2f}")
sys.exit(0 if on > 1.5 * off else 1)
PY

rsc=$(run_mode rsc 1 $'offloads = false\ncoalesce = "rsc"' $'offloads = false\ncoalesce = "rsc"')
echo "offloads off, rsc on both: $rsc Gbit/s"
rsc_tso=$(run_mode rsc-tso 1 $'offloads = false\ncoalesce = "rsc"' "offloads = true")
echo "a offloads off + rsc -> b offloads on: $rsc_tso Gbit/s"
python3 - "$work/stats-rsc.json" "$work/stats-rsc-tso.json" <<'PY' || fail "RSC did not coalesce"
import json, sys
both, mixed = (json.load(open(f)) for f in sys.argv[1:3])
def port(d, name):
    return next(p for p in d["ports"] if p["name"] == name)
ok = True
# Both ways through RSC: the data (a -> b) and the ACKs (b -> a).
for name in ("a", "b"):
    p = port(both, name)
    r = p["pipeline"]["rsc"]
    coalesced = r.get("engine", {}).get("ipv4.coalesced", 0)
    print(f"rsc on both, port {name}: in {r['in']} out {r['out']} coalesced {coalesced}")
    ok &= p["coalesce"] == "rsc" and r["in"] > 0 and r["out"] > 0
# The data direction coalesces; what leaves toward b is segmented again (no TSO there).
a = port(both, "a")["pipeline"]["rsc"]
ok &= a["engine"].get("ipv4.coalesced", 0) > 0 and port(both, "b")["pipeline"]["rsc"]["stripped"] > 0
ok &= port(both, "b")["pipeline"]["gso"]["segmented"] > 0
# Toward a TAP with offloads: the coalesced frames pass whole as TSO.
m = port(mixed, "a")["pipeline"]["rsc"]
ok &= m["engine"].get("ipv4.coalesced", 0) > 0
ok &= port(mixed, "b")["pipeline"]["gso"]["passed"] > 0
print(f"rsc toward offloads: coalesced {m['engine'].get('ipv4.coalesced', 0)} "
      f"passed whole to b {port(mixed, 'b')['pipeline']['gso']['passed']}")
sys.exit(0 if ok else 1)
PY

two=$(run_mode workers2 2 $'offloads = true\nworker = 0' $'offloads = true\nworker = 1')
echo "workers = 2 (a on worker 0, b on worker 1): $two Gbit/s"
python3 - "$work/stats-workers2.json" <<'PY' || fail "two workers: ports not spread or nothing handed over"
import json, sys
d = json.load(open(sys.argv[1]))
workers = {p["name"]: p["worker"] for p in d["ports"]}
handoff = {p["name"]: p["pipeline"]["handoff_out"] for p in d["ports"]}
handoff_in = [w["handoff_in"] for w in d["workers"]]
print(f"workers: ports {workers}, handoff_out {handoff}, handoff_in per worker {handoff_in}")
ok = len(d["workers"]) == 2 and workers["a"] != workers["b"]
ok &= all(v > 0 for v in handoff.values()) and all(v > 0 for v in handoff_in)
sys.exit(0 if ok else 1)
PY
echo "PASS: netns <-> netns through ferryd TAP ports, offloads on $on Gbit/s, off $off Gbit/s," \
  "rsc $rsc Gbit/s, rsc toward offloads $rsc_tso Gbit/s, 2 workers $two Gbit/s"
