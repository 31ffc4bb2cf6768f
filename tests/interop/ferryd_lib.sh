# Shared helpers of the ferryd end-to-end tests and of scripts/demo (sourced).
# Expects $work (a private directory) and $ferryd (the binary) to be set.

# ferryd_start CONFIG: starts ferryd in the background (log in $work/ferryd.log, JSON
# statistics in $work/stats.json at every dump) and waits until it runs.
ferryd_start() {
  # Emptied here, not by the redirection below: that runs in the background child, and the
  # wait loop could otherwise still see the previous run's "running" line.
  : >"$work/ferryd.log"
  "$ferryd" --config "$1" --stats-json "$work/stats.json" >"$work/ferryd.log" 2>&1 &
  ferryd_pid=$!
  for _ in $(seq 100); do
    grep -q "ferryd: running" "$work/ferryd.log" 2>/dev/null && return 0
    kill -0 "$ferryd_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "ferryd did not start:"
  tail -n 20 "$work/ferryd.log"
  return 1
}

# ferryd_stop: SIGTERM and wait (ferryd dumps its statistics on the way out).
ferryd_stop() {
  if [ -n "${ferryd_pid:-}" ] && kill -0 "$ferryd_pid" 2>/dev/null; then
    kill -TERM "$ferryd_pid"
    for _ in $(seq 100); do kill -0 "$ferryd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$ferryd_pid" 2>/dev/null || true
    wait "$ferryd_pid" 2>/dev/null || true
  fi
  ferryd_pid=
}

# netns_attach NS TAP ADDR: moves a TAP ferryd created into a new namespace NS, addressed.
netns_attach() {
  ip netns add "$1"
  ip link set "$2" netns "$1"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" link set lo up
}

# iperf_gbps NS_CLIENT SERVER_IP SECONDS: TCP throughput in Gbit/s (receiver side).
iperf_gbps() {
  ip netns exec "$1" iperf3 -c "$2" -t "$3" -J 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))'
}

# need_root_netns: exits 77 with a reason unless root, netns, /dev/net/tun and iperf3 are there.
need_root_netns() {
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (network namespaces, TAP)"; exit 77; fi
  if [ ! -c /dev/net/tun ]; then echo "SKIP: /dev/net/tun missing"; exit 77; fi
  if ! command -v iperf3 >/dev/null 2>&1; then echo "SKIP: iperf3 not installed"; exit 77; fi
  if ! ip netns list >/dev/null 2>&1; then echo "SKIP: ip netns does not work here"; exit 77; fi
}
