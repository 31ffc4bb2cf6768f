#pragma once

// EventLoop: a small epoll loop for the control thread (sockets, reconnect timers). The
// datapath workers never run it. Not thread-safe except stop(), which any thread may call.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "vhost/unique_fd.h"

namespace ferry::vhost {

class EventLoop {
 public:
  using FdHandler = std::function<void(uint32_t epoll_events)>;
  using TimerHandler = std::function<void()>;

  EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches fd for `events` (EPOLLIN ...), level-triggered. False if epoll refuses it.
  bool add(int fd, uint32_t events, FdHandler handler);
  // Stops watching fd; safe from inside any handler, including fd's own.
  void remove(int fd);
  // Runs handler once, `delay` from now. Returns an id for cancel().
  uint64_t call_after(std::chrono::milliseconds delay, TimerHandler handler);
  void cancel(uint64_t timer_id);

  // Waits up to timeout_ms (-1: until something happens) and runs what is ready.
  void run_once(int timeout_ms);
  // Runs until stop().
  void run();
  void stop();
  bool stopping() const;

 private:
  using Clock = std::chrono::steady_clock;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd that stop() writes
  std::map<int, std::shared_ptr<FdHandler>> handlers_;
  std::multimap<Clock::time_point, std::pair<uint64_t, TimerHandler>> timers_;
  uint64_t next_timer_id_ = 1;
  std::atomic_bool stop_{false};
};

}  // namespace ferry::vhost
