#include "vhost/socket.h"

#include <cstdio>
#include <cstring>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

namespace ferry::vhost {

namespace {

bool make_address(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

void log_line(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

VhostUserServer::VhostUserServer(EventLoop& loop, std::string path, VhostUserBackend& backend)
    : loop_(loop), path_(std::move(path)), backend_(backend) {}

VhostUserServer::~VhostUserServer() {
  stop();
}

bool VhostUserServer::start(std::string* error) {
  sockaddr_un addr;
  if (!make_address(path_, &addr)) {
    *error = "socket path empty or too long: " + path_;
    return false;
  }
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = path_ + " exists and is not a socket";
      return false;
    }
    UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      *error = path_ + " is in use by another listener";
      return false;
    }
    unlink(path_.c_str());  // stale: left behind by a process that died
  }
  listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_.valid() || bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
      listen(listen_.get(), 4) != 0) {
    *error = "cannot listen on " + path_ + ": " + std::strerror(errno);
    listen_.reset();
    return false;
  }
  loop_.add(listen_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
  return true;
}

void VhostUserServer::stop() {
  close_connection();
  if (listen_.valid()) {
    loop_.remove(listen_.get());
    listen_.reset();
    unlink(path_.c_str());
  }
}

void VhostUserServer::on_accept() {
  UniqueFd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) return;
  if (backend_.connected()) {
    refused_++;
    log_line(path_ + ": refusing a second front-end");
    return;
  }
  connections_++;
  int raw = fd.get();
  backend_.attach(std::move(fd));
  loop_.add(raw, EPOLLIN, [this](uint32_t) {
    if (!backend_.on_readable()) close_connection();
  });
}

void VhostUserServer::close_connection() {
  if (!backend_.connected()) return;
  loop_.remove(backend_.connection_fd());
  backend_.detach();
}

VhostUserClient::VhostUserClient(EventLoop& loop, std::string path, VhostUserBackend& backend,
                                 std::chrono::milliseconds min_backoff,
                                 std::chrono::milliseconds max_backoff)
    : loop_(loop),
      path_(std::move(path)),
      backend_(backend),
      min_backoff_(min_backoff),
      max_backoff_(max_backoff),
      backoff_(min_backoff) {}

VhostUserClient::~VhostUserClient() {
  stop();
}

void VhostUserClient::start() {
  running_ = true;
  backoff_ = min_backoff_;
  try_connect();
}

void VhostUserClient::stop() {
  running_ = false;
  if (timer_ != 0) loop_.cancel(timer_);
  timer_ = 0;
  close_connection();
}

void VhostUserClient::try_connect() {
  timer_ = 0;
  if (!running_ || backend_.connected()) return;
  attempts_++;
  sockaddr_un addr;
  // Non-blocking connect: a front-end with a full backlog must not stall the control
  // thread. The connected socket is made blocking again for message reads (which the
  // back-end bounds with a receive timeout).
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!make_address(path_, &addr) ||
      connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    schedule_retry();
    return;
  }
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  connections_++;
  backoff_ = min_backoff_;
  int raw = fd.get();
  backend_.attach(std::move(fd));
  loop_.add(raw, EPOLLIN, [this](uint32_t) {
    if (!backend_.on_readable()) {
      close_connection();
      if (running_) schedule_retry();
    }
  });
}

void VhostUserClient::schedule_retry() {
  if (!running_ || timer_ != 0) return;
  timer_ = loop_.call_after(backoff_, [this] { try_connect(); });
  backoff_ = std::min(backoff_ * 2, max_backoff_);
}

void VhostUserClient::close_connection() {
  if (!backend_.connected()) return;
  loop_.remove(backend_.connection_fd());
  backend_.detach();
}

}  // namespace ferry::vhost
