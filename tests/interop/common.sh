# shellcheck shell=bash
# Shared helpers of the interop tests and the vhost benchmark (sourced).
#
# A test sets cleanup_pids to the names of the variables holding its background pids and
# fail_logs to "LABEL=FILE" entries, then calls make_work: the EXIT trap kills what is
# still running (in the order named), and fail prints the tail of each log.

cleanup_pids=()
cleanup_paths=()
fail_logs=()

# skip REASON: the test cannot run here (ctest SKIP_RETURN_CODE 77).
skip() {
  echo "SKIP: $*"
  exit 77
}

# require_cmd COMMAND PACKAGE: skips when COMMAND is not installed.
require_cmd() {
  command -v "$1" >/dev/null 2>&1 || skip "$1 not found (Debian package $2)"
}

# make_work NAME: a fresh $work directory under /tmp, removed on exit with
# cleanup_paths, after the processes in cleanup_pids are killed.
make_work() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  trap cleanup EXIT
}

cleanup() {
  local var pid
  for var in "${cleanup_pids[@]}"; do
    pid=${!var:-}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work" "${cleanup_paths[@]}"
}

fail() {
  echo "FAIL: $*"
  local entry
  for entry in "${fail_logs[@]}"; do
    echo "--- ${entry%%=*}"
    tail -n 40 "${entry#*=}" 2>/dev/null || true
  done
  exit 1
}

# wait_for TENTHS COMMAND...: runs COMMAND every 0.1 s until it succeeds, at most TENTHS
# times.
wait_for() {
  local tenths=$1
  shift
  for ((i = 0; i < tenths; i++)); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# stop_pid PID SIGNAL [TENTHS]: sends SIGNAL and waits up to TENTHS (default 100) tenths
# of a second for PID to exit, else SIGKILLs it (and returns 1); reaps it either way.
stop_pid() {
  local pid=$1 sig=$2 tenths=${3:-100} rc=0
  kill "-$sig" "$pid" 2>/dev/null || true
  if ! wait_for "$tenths" bash -c "! kill -0 $pid 2>/dev/null"; then
    kill -9 "$pid" 2>/dev/null || true
    rc=1
  fi
  wait "$pid" 2>/dev/null || true
  return $rc
}

# start_probe PROBE SOCKET QUEUES TIMEOUT: vhost_probe serving SOCKET, events to
# $work/probe.json, log to $work/probe.log; sets probe_pid.
start_probe() {
  "$1" --socket "$2" --queues "$3" --timeout "$4" >"$work/probe.json" 2>"$work/probe.log" &
  probe_pid=$!
  wait_for 50 test -S "$2" || fail "probe did not create $2"
}

# stop_probe: the probe (which exits on its own after the disconnect) must succeed.
stop_probe() {
  wait "$probe_pid" || fail "probe exited with an error"
  probe_pid=
}

# start_ferry FERRY_PATCH OPTION...: ferry-patch with ports A and B on $work/a.sock and
# $work/b.sock, output appended to $work/ferry.out and ferry.err; sets ferry_pid.
start_ferry() {
  local ferry=$1
  shift
  "$ferry" "$@" "name=A,socket=$work/a.sock" "name=B,socket=$work/b.sock" \
    >>"$work/ferry.out" 2>>"$work/ferry.err" &
  ferry_pid=$!
  wait_for 50 test -S "$work/b.sock" || fail "ferry-patch did not create its sockets"
}

# ferry_stats: asks ferry-patch for its counters (SIGUSR1) and waits for them.
ferry_stats() {
  kill -USR1 "$ferry_pid"
  wait_for 50 grep -q '^stats name=B' "$work/ferry.out" || fail "no counters from ferry-patch"
}

# stop_ferry: ferry-patch must exit cleanly on SIGTERM.
stop_ferry() {
  kill -TERM "$ferry_pid"
  wait "$ferry_pid" || fail "ferry-patch exited with an error"
  ferry_pid=
}
