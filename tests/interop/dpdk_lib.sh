# shellcheck shell=bash
# Shared helpers of the DPDK testpmd interop tests and the vhost benchmark (sourced after
# common.sh).

# Set to 0 to start testpmd without printing its command line.
testpmd_show=1

# dpdk_prefix NAME: sets $prefix (testpmd's --file-prefix) and removes its runtime
# directories on exit.
dpdk_prefix() {
  prefix=$1
  cleanup_paths+=("/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$prefix")
}

# start_testpmd LOG PREFIX LCORES EAL_ARG... -- APP_ARG...: dpdk-testpmd in the background
# without PCI devices or hugepages, forwarding from the start and printing port
# statistics every second; output to LOG. Sets testpmd_pid.
start_testpmd() {
  local log=$1 file_prefix=$2 lcores=$3
  shift 3
  local eal=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    eal+=("$1")
    shift
  done
  [ $# -eq 0 ] || shift
  local args=(--no-pci --no-huge -m 1024 --file-prefix="$file_prefix" --lcores "$lcores"
              "${eal[@]}" -- -a --no-mlockall --total-num-mbufs 32768 --stats-period 1 "$@")
  [ "$testpmd_show" = 0 ] || echo "dpdk-testpmd ${args[*]}"
  dpdk-testpmd "${args[@]}" </dev/null >"$log" 2>&1 &
  testpmd_pid=$!
}

# stop_testpmd: SIGINT (testpmd prints its totals and stops its ports); it must be gone
# within 20 s.
stop_testpmd() {
  stop_pid "$testpmd_pid" INT 200 || fail "testpmd did not stop within 20 s of SIGINT"
  testpmd_pid=
}
