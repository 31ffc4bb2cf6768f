#!/usr/bin/env bash
# tshark_checksums.sh FERRY_OFFLOAD CAPTURE_DIR WORK_DIR
#
# Runs ferry-offload over the real TCP/HTTP captures with checksums filled, alone and
# behind RSC, GSO, encapsulation (VXLAN, Geneve, GRE) + GSO and GRO + GSO, and has tshark
# validate every IP, TCP and UDP checksum of the output, inner and outer: no packet may
# have a bad one (checksum status 0). Encapsulated output must decode as the tunnel with
# TCP inside. Exit 77 (skipped) when tshark is missing.
set -uo pipefail
tool=$1 captures=$2 work=$3

if ! command -v tshark >/dev/null 2>&1; then
  echo "SKIP: tshark is not installed (scripts/setup installs it)"
  exit 77
fi
mkdir -p "$work"

tshark_bad() {
  tshark -r "$1" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
    -o udp.check_checksum:TRUE \
    -Y '(ip.checksum.status==0)||(tcp.checksum.status==0)||(udp.checksum.status==0)' \
    2>/dev/null | wc -l
}
tshark_count() {
  tshark -r "$1" -Y "$2" 2>/dev/null | wc -l
}

# The field names and preferences must exist in this tshark (a typo would match nothing).
if ! tshark -G fields 2>/dev/null | grep -q $'\tip.checksum.status\t'; then
  echo "FAIL: this tshark has no ip.checksum.status field"
  exit 1
fi

declare -A variants=(
  [fill]="--csum=fill"
  [rsc]="--rsc --csum=fill"
  [gso]="--gso=536 --csum=fill"
  [vxlan]="--encap vxlan --gso=536 --csum=fill"
  [geneve]="--encap geneve --gso=536 --csum=fill"
  [gre]="--encap gre --gso=536 --csum=fill"
  [gro_gso]="--gro --gso=536 --csum=fill"
)
declare -A tunnel_filter=([vxlan]="vxlan" [geneve]="geneve" [gre]="gre")

failures=0 runs=0
unavailable=()
for name in fill rsc gso vxlan geneve gre gro_gso; do
  args=${variants[$name]}
  for capture in "$captures"/*tcp*.pcap "$captures"/*http*.pcap "$captures"/*Tcp*.pcap \
                 "$captures"/*Http*.pcap; do
    [ -f "$capture" ] || continue
    base=$(basename "$capture" .pcap)
    # Its TCP header claims more bytes than the segment holds: no checksum can be filled.
    [ "$base" = tcp-malformed ] && continue
    out="$work/$base.$name.pcap"
    # shellcheck disable=SC2086
    if ! "$tool" "$capture" -o "$out" $args >"$work/summary.txt" 2>"$work/err.txt"; then
      if grep -q "not built into" "$work/err.txt"; then
        unavailable+=("$name")
        break
      fi
      if grep -q "neither Ethernet nor raw IP" "$work/err.txt"; then
        continue
      fi
      echo "FAIL: $base [$name]: $(cat "$work/err.txt")"
      failures=$((failures + 1))
      continue
    fi
    runs=$((runs + 1))
    frames=$(sed -n 's/^packets out: *\([0-9]*\).*/\1/p' "$work/summary.txt")
    bad=$(tshark_bad "$out")
    if [ "$bad" -ne 0 ]; then
      echo "FAIL: $base [$name]: $bad of $frames packets with a bad checksum"
      failures=$((failures + 1))
    fi
    if [ -n "${tunnel_filter[$name]:-}" ]; then
      tunneled=$(tshark_count "$out" "${tunnel_filter[$name]} && tcp")
      if [ "$frames" -gt 0 ] && [ "$tunneled" -ne "$frames" ]; then
        echo "FAIL: $base [$name]: tshark decodes $tunneled of $frames packets as ${tunnel_filter[$name]} with TCP inside"
        failures=$((failures + 1))
      fi
    fi
    echo "ok: $base [$name]: $frames packets, 0 bad checksums"
  done
done

if [ ${#unavailable[@]} -gt 0 ]; then
  echo "NOTE: engines not built into this ferry-offload, variants not run: ${unavailable[*]}"
fi
echo "tshark_checksums: $runs runs, $failures failures"
[ "$runs" -gt 0 ] && [ "$failures" -eq 0 ]
