#pragma once

// A scripted vhost-user front-end for the tests: sends messages (with fds) on one end of
// a socket and reads the back-end's replies. Helpers count the process's fds and
// mappings so tests can prove that nothing leaks.

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <sys/socket.h>

#include <dirent.h>
#include <poll.h>
#include <unistd.h>

#include "vhost/message.h"

namespace ferry::vhost::testing {

inline int count_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n - 1;  // the DIR's own fd
}

// Mappings of memfds (guest memory, dirty logs, inflight areas): the only files the
// back-end maps. The sanitizers' own anonymous mappings come and go, so the total is no
// measure.
inline int count_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    if (line.find("/memfd:") != std::string::npos) n++;
  }
  return n;
}

inline UniqueFd make_memfd(uint64_t size) {
  UniqueFd fd(memfd_create("vhost-test", MFD_CLOEXEC));
  if (ftruncate(fd.get(), static_cast<off_t>(size)) != 0) fd.reset();
  return fd;
}

class TestFrontend {
 public:
  explicit TestFrontend(int fd) : fd_(fd) {}
  int fd() const { return fd_; }

  bool send(Request req, const void* payload, uint32_t size, const std::vector<int>& fds = {},
            uint32_t flags = kFlagVersion) {
    Header h{static_cast<uint32_t>(req), flags, size};
    std::vector<uint8_t> buf(kHeaderSize + size);
    std::memcpy(buf.data(), &h, kHeaderSize);
    if (size) std::memcpy(buf.data() + kHeaderSize, payload, size);
    return send_raw(buf.data(), buf.size(), fds);
  }
  template <typename T>
  bool send_value(Request req, const T& value, const std::vector<int>& fds = {},
                  bool need_reply = false) {
    return send(req, &value, sizeof(T), fds, kFlagVersion | (need_reply ? kFlagNeedReply : 0));
  }
  bool send_u64(Request req, uint64_t v, const std::vector<int>& fds = {},
                bool need_reply = false) {
    return send_value(req, v, fds, need_reply);
  }
  bool send_empty(Request req, bool need_reply = false) {
    return send(req, nullptr, 0, {}, kFlagVersion | (need_reply ? kFlagNeedReply : 0));
  }
  bool send_raw(const void* data, size_t len, const std::vector<int>& fds = {}) {
    iovec iov{const_cast<void*>(data), len};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())));
    if (!fds.empty()) {
      mh.msg_control = control.data();
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    return sendmsg(fd_, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
  }

  // Reads one reply, waiting at most timeout_ms. False if none arrived.
  bool recv(Message* reply, int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    RejectReason reason;
    return read_message(fd_, reply, &reason) == ReadStatus::kOk;
  }
  bool has_pending(int timeout_ms = 0) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
  }

 private:
  int fd_;
};

}  // namespace ferry::vhost::testing
