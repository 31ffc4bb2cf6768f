#!/usr/bin/env bash
# kport_netns_test.sh KPORT_RELAY MODE
#
# Two network namespaces, each attached to Ferry through a kernel port, patched together
# by kport_relay; real traffic between them (ping, iperf3 TCP) and checks of what Ferry saw.
#   tap_offloads  TAP <-> TAP, offloads on then off: ping, iperf3 2 s each way; with
#                 offloads on the TCP stream must arrive in Ferry as whole GSO frames
#                 (gso_size 1448, partial checksum), with them off as plain frames; prints
#                 both throughputs and requires on > off.
#   tap_mq2       TAP <-> TAP with IFF_MULTI_QUEUE, 2 queues: ping and iperf3 -P 4.
#   afpacket      veth <-> veth through AF_PACKET (TPACKET_V3 + PACKET_VNET_HDR): ping and
#                 iperf3 both ways; GSO frames must arrive whole.
#   afpacket_mq2  the same with two sockets per veth in a PACKET_FANOUT_HASH group.
#   afxdp         veth <-> veth through AF_XDP (copy mode on veth): ping and iperf3 both
#                 ways (the namespaces' veths checksum in software: AF_XDP has no metadata).
# Needs root, ip netns, /dev/net/tun (tap), iperf3; exits 77 (skipped) otherwise.
# KPORT_RELAY_ARGS adds options to every kport_relay (e.g. --big-buffers).
set -uo pipefail
RELAY_ARGS=${KPORT_RELAY_ARGS:-}

relay=$1
mode=$2
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v ip >/dev/null || skip "ip (iproute2) not found"
command -v iperf3 >/dev/null || skip "iperf3 not found"
command -v python3 >/dev/null || skip "python3 not found"
ping="ping -i 0.2"
command -v ping >/dev/null || ping="busybox ping"
case "$mode" in tap_*) [ -c /dev/net/tun ] || skip "no /dev/net/tun" ;; esac

id=$$
nsa=ferry-k$id-a
nsb=ferry-k$id-b
ifa=fk${id}a
ifb=fk${id}b
work=$(mktemp -d /tmp/kport-test.XXXXXX)
relay_pid=
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  if [ -n "$relay_pid" ] && kill -0 "$relay_pid" 2>/dev/null; then
    kill -9 "$relay_pid" 2>/dev/null
    wait "$relay_pid" 2>/dev/null
  fi
  ip netns del "$nsa" 2>/dev/null
  ip netns del "$nsb" 2>/dev/null
  ip link del "${ifa}h" 2>/dev/null
  ip link del "${ifb}h" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- relay output"; cat "$work/relay.out" 2>/dev/null | tail -n 40
  echo "--- relay errors"; tail -n 20 "$work/relay.err" 2>/dev/null
  exit 1
}

ip netns add "$nsa" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$nsb" || fail "netns $nsb"
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done

# Veth pairs for the AF_PACKET / AF_XDP modes: NAMEh stays here for Ferry, NAMEn moves.
make_veths() {
  for i in "$ifa" "$ifb"; do
    ip link add "${i}h" type veth peer name "${i}n" || fail "veth $i"
    ip link set "${i}h" up
  done
  ip link set "${ifa}n" netns "$nsa"
  ip link set "${ifb}n" netns "$nsb"
  nic_a=${ifa}n
  nic_b=${ifb}n
}

# Starts the relay; for TAP modes it creates the interfaces, which then move.
start_relay() {
  rm -f "$work/ready"
  "$relay" --ready "$work/ready" $RELAY_ARGS "$@" >"$work/relay.out" 2>"$work/relay.err" &
  relay_pid=$!
  for _ in $(seq 50); do
    [ -e "$work/ready" ] && return 0
    kill -0 "$relay_pid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "Operation not permitted\|not supported\|No such device" "$work/relay.err"; then
    cat "$work/relay.err"
    skip "the kernel port cannot be set up here"
  fi
  fail "relay did not start"
}

stop_relay() {
  kill -TERM "$relay_pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$relay_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$relay_pid" 2>/dev/null
  local rc=$?
  relay_pid=
  [ $rc -eq 0 ] || echo "relay exited with status $rc"
  grep -E "^stat|: (tap|af_packet|af_xdp) " "$work/relay.out" "$work/relay.err" | sed 's/^[^:]*://'
}

configure_ns() {
  ip link set "$nic_a" netns "$nsa" 2>/dev/null
  ip link set "$nic_b" netns "$nsb" 2>/dev/null
  ip -n "$nsa" addr add 10.77.0.1/24 dev "$nic_a"
  ip -n "$nsb" addr add 10.77.0.2/24 dev "$nic_b"
  ip -n "$nsa" link set "$nic_a" up
  ip -n "$nsb" link set "$nic_b" up
}

ping_check() {
  ip netns exec "$nsa" $ping -c 3 -W 2 10.77.0.2 >"$work/ping.out" 2>&1 ||
    { cat "$work/ping.out"; fail "ping $nsa -> $nsb"; }
  ip netns exec "$nsb" $ping -c 2 -W 2 10.77.0.1 >/dev/null 2>&1 || fail "ping $nsb -> $nsa"
  echo "ping ok ($(grep -o 'rtt.*' "$work/ping.out"))"
}

# iperf3 client in ns $1 to $2 for $3 seconds, extra args after; prints Mbit/s received.
iperf() {
  local from=$1 to=$2 secs=$3
  shift 3
  local srv_ns=$nsb
  [ "$from" = "$nsb" ] && srv_ns=$nsa
  ip netns exec "$srv_ns" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  server_pid=$!
  sleep 0.3
  timeout $((secs + 15)) ip netns exec "$from" iperf3 -c "$to" -p 5201 -t "$secs" -J "$@" \
    >"$work/iperf.json" 2>&1
  local rc=$?
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=
  [ $rc -eq 0 ] || { tail -n 5 "$work/iperf.json"; fail "iperf3 $from -> $to"; }
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.0f" % (d["end"]["sum_received"]["bits_per_second"]/1e6))' "$work/iperf.json"
}

field() {  # field PORT KEY  from the relay's stat lines
  grep "^stat $1 " "$work/relay.out" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2
}

case "$mode" in
  tap_offloads)
    declare -A mbps
    for off in on off; do
      start_relay --offloads "$off" "tap:$ifa" "tap:$ifb"
      nic_a=$ifa nic_b=$ifb
      configure_ns
      ping_check
      mbps[$off]=$(iperf "$nsa" 10.77.0.2 2) || exit 1
      echo "TAP<->TAP iperf3 offloads $off: ${mbps[$off]} Mbit/s"
      stop_relay
      gso=$(field a rx_gso); g1448=$(field a rx_gso_1448); partial=$(field a rx_partial)
      maxlen=$(field a rx_max); txd=$(field b tx_drops)
      echo "  from $nsa: gso frames $gso (gso_size 1448: $g1448), partial csum $partial, largest $maxlen B; tx drops into $nsb: $txd"
      if [ "$off" = on ]; then
        [ "${g1448:-0}" -gt 0 ] || fail "offloads on: no GSO frames with gso_size 1448 from the TAP"
        [ "${partial:-0}" -gt 0 ] || fail "offloads on: no partial checksums from the TAP"
        [ "${maxlen:-0}" -gt 10000 ] || fail "offloads on: no large frames"
      else
        [ "${gso:-1}" -eq 0 ] || fail "offloads off: GSO frames arrived"
        [ "${maxlen:-99999}" -le 1514 ] || fail "offloads off: frame of $maxlen bytes"
      fi
      [ "${txd:-1}" -eq 0 ] || fail "relay dropped packets on tx"
    done
    echo "RESULT TAP<->TAP iperf3: offloads on ${mbps[on]} Mbit/s, off ${mbps[off]} Mbit/s"
    [ "${mbps[on]}" -gt "${mbps[off]}" ] || fail "offloads on is not faster than off"
    ;;
  tap_mq2)
    start_relay --queues 2 "tap:$ifa" "tap:$ifb"
    nic_a=$ifa nic_b=$ifb
    configure_ns
    ping_check
    m=$(iperf "$nsa" 10.77.0.2 2 -P 4) || exit 1
    echo "RESULT TAP<->TAP 2 queues, iperf3 -P 4: $m Mbit/s"
    stop_relay
    echo "frames per queue from $nsa: $(field a rxq)"
    [ "$(field b tx_drops)" -eq 0 ] || fail "relay dropped packets on tx"
    ;;
  afpacket | afpacket_mq2)
    make_veths
    q=1
    [ "$mode" = afpacket_mq2 ] && q=2
    start_relay --queues $q "afpacket:${ifa}h" "afpacket:${ifb}h"
    configure_ns
    ping_check
    m1=$(iperf "$nsa" 10.77.0.2 2) || exit 1
    m2=$(iperf "$nsb" 10.77.0.1 1) || exit 1
    [ $q -gt 1 ] && { m3=$(iperf "$nsa" 10.77.0.2 1 -P 4) || exit 1; }
    echo "RESULT veth<->veth through AF_PACKET ($q queue(s)) iperf3: a->b $m1 Mbit/s, b->a $m2 Mbit/s${m3:+, a->b -P 4 $m3 Mbit/s}"
    stop_relay
    echo "frames per queue from $nsa: $(field a rxq)"
    [ "$(field a tx_drops)" -eq 0 ] && [ "$(field b tx_drops)" -eq 0 ] || fail "relay dropped packets on tx"
    [ "$(field a rx_gso)" -gt 0 ] || fail "no GSO frames arrived whole from the veth"
    [ "$(field b rx)" -gt 0 ] || fail "nothing received from $nsb"
    ;;
  afxdp)
    make_veths
    # AF_XDP carries no checksum metadata: the namespaces checksum in software.
    ip netns exec "$nsa" ethtool -K "$nic_a" tx off >/dev/null 2>&1
    ip netns exec "$nsb" ethtool -K "$nic_b" tx off >/dev/null 2>&1
    start_relay "afxdp:${ifa}h" "afxdp:${ifb}h"
    configure_ns
    ping_check
    m1=$(iperf "$nsa" 10.77.0.2 2) || exit 1
    m2=$(iperf "$nsb" 10.77.0.1 1) || exit 1
    echo "RESULT veth<->veth through AF_XDP iperf3: a->b $m1 Mbit/s, b->a $m2 Mbit/s"
    stop_relay
    [ "$(field a rx)" -gt 0 ] && [ "$(field b rx)" -gt 0 ] || fail "no traffic both ways"
    # Bind the same queues again at once: the kernel may still hold them (EBUSY), the port
    # retries.
    start_relay "afxdp:${ifa}h" "afxdp:${ifb}h"
    ping_check
    stop_relay
    echo "rebind ok (busy retries: a $(field a busy_retries), b $(field b busy_retries))"
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
echo PASS
