# shellcheck shell=bash
# Shared helpers of the QEMU interop tests (sourced); brings common.sh with it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_qemu() {
  require_cmd qemu-system-x86_64 qemu-system-x86
}

# guest_setup NAME GUEST_DIR: the start of the tests with two guests (a and b) on a
# ferry-patch: $work, cleanup of the guests and Ferry, their logs on failure, and the guest
# image in GUEST_DIR (the test skips when it cannot be built).
guest_setup() {
  guest_dir=$2
  require_qemu
  make_work "$1"
  ferry_pid=
  guest_pid_a=
  guest_pid_b=
  cleanup_pids=(guest_pid_a guest_pid_b ferry_pid)
  local f
  for f in a.log b.log a.qemu b.qemu ferry.err ferry.out; do
    fail_logs+=("$f=$work/$f")
  done
  guest_image "$guest_dir" || skip "cannot build the guest image (scripts/guest-image)"
}

# Guest image: built once per build tree by scripts/guest-image.
guest_image() {
  local dir=$1
  if [ ! -s "$dir/vmlinuz" ] || [ ! -s "$dir/initramfs.cpio.gz" ]; then
    "$(dirname "${BASH_SOURCE[0]}")/../../scripts/guest-image" "$dir" >"$work/guest-image.log" 2>&1 ||
      return 1
  fi
  return 0
}

# start_guest NAME SOCKET MAC DEVICE_EXTRA APPEND_EXTRA
# Boots a TCG guest with one virtio-net-pci on a vhost-user netdev (2 queue pairs, client
# chardev with reconnect) and a monitor socket at $work/NAME.mon; its console goes to
# $work/NAME.log. Sets guest_pid_NAME.
start_guest() {
  local name=$1 sock=$2 mac=$3 dev_extra=$4 append=$5
  qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 1 -m 256 -nodefaults \
    -display none -object memory-backend-memfd,id=mem,size=256M,share=on \
    -machine q35,memory-backend=mem \
    -chardev socket,id=chr0,path="$sock",reconnect=1 \
    -netdev vhost-user,id=n0,chardev=chr0,queues=2 \
    -device "virtio-net-pci,netdev=n0,mac=$mac,mq=on,vectors=0,romfile=$dev_extra" \
    -monitor "unix:$work/$name.mon,server=on,wait=off" \
    -serial "file:$work/$name.log" -kernel "$guest_dir/vmlinuz" -initrd "$guest_dir/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 $append" </dev/null >"$work/$name.qemu" 2>&1 &
  eval "guest_pid_$name=$!"
}

# monitor NAME COMMAND: one human-monitor command.
monitor() {
  python3 - "$work/$1.mon" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.2)
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(0.5)
s.close()
PY
}

# count_lines FILE PATTERN: lines of FILE matching PATTERN (0 if none).
count_lines() {
  grep -c -- "$2" "$1" 2>/dev/null || true
}
