#include "runtime/watchdog.h"

#include <chrono>

namespace ferry::runtime {

Watchdog::~Watchdog() {
  stop();
}

void Watchdog::add(WatchdogProbe probe) {
  std::lock_guard<std::mutex> lock(mutex_);
  State s;
  s.probe = std::move(probe);
  s.last_progress = s.probe.progress();
  s.since_ns = 0;
  probes_.push_back(std::move(s));
}

std::vector<WatchdogEvent> Watchdog::check(uint64_t now_ns) {
  std::vector<WatchdogEvent> events;
  std::lock_guard<std::mutex> lock(mutex_);
  size_t stuck = 0;
  for (State& s : probes_) {
    if (s.since_ns == 0) s.since_ns = now_ns;
    uint64_t p = s.probe.progress();
    bool pending = s.probe.pending();
    if (p != s.last_progress || !pending) {
      // Moving, or nothing waiting: not stuck.
      s.last_progress = p;
      if (s.stuck) events.push_back({s.probe.name, false, now_ns - s.since_ns});
      s.stuck = false;
      s.since_ns = now_ns;
    } else if (!s.stuck && now_ns - s.since_ns >= stuck_ns_) {
      s.stuck = true;
      events.push_back({s.probe.name, true, now_ns - s.since_ns});
    }
    if (s.stuck) stuck++;
  }
  stuck_now_.store(stuck);
  reports_.fetch_add(events.size());
  if (report_) {
    for (const WatchdogEvent& e : events)
      report_(e);
  }
  return events;
}

void Watchdog::start(uint32_t period_ms, Report report) {
  report_ = std::move(report);
  stop_ = false;
  thread_ = std::thread([this, period_ms] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(period_ms));
      if (stop_) break;
      lock.unlock();
      auto now = std::chrono::steady_clock::now().time_since_epoch();
      check(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
      lock.lock();
    }
  });
}

void Watchdog::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ferry::runtime
