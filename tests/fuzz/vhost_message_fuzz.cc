// Feeds arbitrary byte streams, with file descriptors attached, through the vhost-user
// message reader and the back-end state machine over a real socketpair. Checks that
// nothing crashes and that every fd and mapping is released when the connection ends.
//
// Input: a sequence of chunks [ctrl u8][len u16 LE][len bytes]. Each chunk is written with
// one sendmsg; ctrl bits 0-1 give how many fds ride along (0-3) and bits 2-3 which kind:
// a 4 KiB, 64 KiB or 1 MiB memfd, or an eventfd.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <dirent.h>
#include <unistd.h>

#include "vhost/backend.h"

using namespace ferry::vhost;

namespace {

// Open fds of the kinds this target and the back-end create (memfds, eventfds, sockets).
// libFuzzer itself opens pipes (symbolizer) now and then, so the total is no measure.
int count_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[256];
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    ssize_t len = readlink(link.c_str(), target, sizeof(target) - 1);
    if (len <= 0) continue;
    target[len] = 0;
    std::string t(target);
    if (t.starts_with("/memfd:") || t == "anon_inode:[eventfd]" || t.starts_with("socket:")) n++;
  }
  closedir(d);
  return n;
}

// Mappings of the memfds this target passes in, and of the back-end's inflight areas
// (the sanitizers' own mappings come and go, so the total is no measure).
int count_memfd_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    if (line.find("/memfd:fuzz") != std::string::npos ||
        line.find("/memfd:ferry-vhost-inflight") != std::string::npos) {
      n++;
    }
  }
  return n;
}

int fd_of_kind(int kind) {
  static int fds[4] = {-1, -1, -1, -1};
  if (fds[kind] < 0) {
    if (kind == 3) {
      fds[kind] = eventfd(0, EFD_CLOEXEC);
    } else {
      static const off_t sizes[3] = {4096, 65536, 1 << 20};
      fds[kind] = memfd_create("fuzz", MFD_CLOEXEC);
      if (ftruncate(fds[kind], sizes[kind]) != 0) std::abort();
    }
  }
  return fds[kind];
}

void send_chunk(int fd, const uint8_t* data, size_t len, int nfds, int kind) {
  iovec iov{const_cast<uint8_t*>(data), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
  if (nfds > 0) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    for (int i = 0; i < nfds; i++) {
      int f = fd_of_kind(kind);
      std::memcpy(CMSG_DATA(c) + i * sizeof(int), &f, sizeof(int));
    }
  }
  [[maybe_unused]] ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

// Reads and drops the back-end's replies, closing any fd they carry.
void drain(int fd) {
  for (;;) {
    uint8_t buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(8 * sizeof(int))];
    iovec iov{buf, sizeof(buf)};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n <= 0) return;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int f;
        std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        close(f);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int k = 0; k < 4; k++)
    fd_of_kind(k);
  static const int baseline_fds = count_fds();

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  int big = 1 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  {
    BackendConfig config;
    config.device_features = ~0ull >> 20;  // plenty of bits to accept
    config.max_queue_pairs = 2;
    config.control_queue = true;
    config.config_space.assign(12, 0);
    config.log = [](std::string_view) {};
    VhostUserBackend backend(std::move(config), nullptr);
    backend.attach(UniqueFd(sv[0]));

    size_t pos = 0;
    while (pos + 3 <= size) {
      uint8_t ctrl = data[pos];
      size_t len = data[pos + 1] | (size_t{data[pos + 2]} << 8);
      pos += 3;
      if (len > size - pos) len = size - pos;
      if (len > 0) send_chunk(sv[1], data + pos, len, ctrl & 3, (ctrl >> 2) & 3);
      pos += len;
    }
    shutdown(sv[1], SHUT_WR);  // the back-end sees EOF after the last byte: never blocks
    for (int i = 0; i < 100000 && backend.on_readable(); i++)
      drain(sv[1]);
    backend.detach();
  }
  drain(sv[1]);
  close(sv[1]);
  if (count_fds() != baseline_fds) {
    std::fprintf(stderr, "fd leak: %d open, baseline %d\n", count_fds(), baseline_fds);
    std::abort();
  }
  if (count_memfd_mappings() != 0) {
    std::fprintf(stderr, "mapping leak: %d memfd mappings left\n", count_memfd_mappings());
    std::abort();
  }
  return 0;
}
