#include "vhost/event_loop.h"

#include <vector>

#include <sys/epoll.h>
#include <sys/eventfd.h>

namespace ferry::vhost {

EventLoop::EventLoop()
    : epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
}

bool EventLoop::add(int fd, uint32_t events, FdHandler handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  handlers_[fd] = std::make_shared<FdHandler>(std::move(handler));
  return true;
}

void EventLoop::remove(int fd) {
  if (handlers_.erase(fd) != 0) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

uint64_t EventLoop::call_after(std::chrono::milliseconds delay, TimerHandler handler) {
  uint64_t id = next_timer_id_++;
  timers_.emplace(Clock::now() + delay, std::make_pair(id, std::move(handler)));
  return id;
}

void EventLoop::cancel(uint64_t timer_id) {
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == timer_id) {
      timers_.erase(it);
      return;
    }
  }
}

void EventLoop::run_once(int timeout_ms) {
  if (!timers_.empty()) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first -
                                                                       Clock::now());
    int ms = until.count() < 0 ? 0 : static_cast<int>(until.count()) + 1;
    if (timeout_ms < 0 || ms < timeout_ms) timeout_ms = ms;
  }
  epoll_event events[16];
  int n = epoll_wait(epoll_.get(), events, 16, timeout_ms);
  for (int i = 0; i < n; i++) {
    int fd = events[i].data.fd;
    if (fd == wake_.get()) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(wake_.get(), &v, sizeof(v));
      continue;
    }
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) continue;  // removed by an earlier handler in this batch
    std::shared_ptr<FdHandler> handler = it->second;
    (*handler)(events[i].events);
  }
  auto now = Clock::now();
  std::vector<TimerHandler> due;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    due.push_back(std::move(timers_.begin()->second.second));
    timers_.erase(timers_.begin());
  }
  for (auto& handler : due)
    handler();
}

void EventLoop::run() {
  while (!stop_.load())
    run_once(-1);
}

void EventLoop::stop() {
  stop_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(wake_.get(), &one, sizeof(one));
}

bool EventLoop::stopping() const {
  return stop_.load();
}

}  // namespace ferry::vhost
