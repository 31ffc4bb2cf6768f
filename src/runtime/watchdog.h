#pragma once

// Watchdog: reports queues that have work pending but make no progress (Linux's
// dev_watchdog / ndo_tx_timeout, OVS's "unreasonably long poll interval").
//
// A probe names a queue and gives two readers: progress() (a counter that grows while
// the queue moves: packets sent, ring entries consumed, worker iterations) and pending()
// (whether something waits: packets refused for lack of room, a non-empty handoff ring,
// a worker that owns queues). A probe whose progress stays the same while pending() holds
// for stuck_ns is reported once ("stuck"), and once more when it recovers.
//
// check(now_ns) is pure apart from the readers, so tests drive it with their own clock;
// start() runs it on a thread every period.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry::runtime {

struct WatchdogProbe {
  std::string name;
  std::function<uint64_t()> progress;
  std::function<bool()> pending;
};

struct WatchdogEvent {
  std::string name;
  bool stuck;           // true: became stuck; false: recovered
  uint64_t stalled_ns;  // how long without progress
};

class Watchdog {
 public:
  using Report = std::function<void(const WatchdogEvent&)>;

  explicit Watchdog(uint64_t stuck_ns = 1'000'000'000) : stuck_ns_(stuck_ns) {}
  ~Watchdog();

  void add(WatchdogProbe probe);
  // Checks every probe at time now_ns; returns the events (also given to the reporter).
  std::vector<WatchdogEvent> check(uint64_t now_ns);
  // Runs check() every period_ms on a thread until stop().
  void start(uint32_t period_ms, Report report);
  void stop();

  size_t stuck_count() const { return stuck_now_.load(); }
  uint64_t reports() const { return reports_.load(); }

 private:
  struct State {
    WatchdogProbe probe;
    uint64_t last_progress = 0;
    uint64_t since_ns = 0;  // time of the last progress (or of the last idle check)
    bool stuck = false;
  };
  uint64_t stuck_ns_;
  std::mutex mutex_;
  std::vector<State> probes_;
  Report report_;
  std::thread thread_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<size_t> stuck_now_{0};
  std::atomic<uint64_t> reports_{0};
};

}  // namespace ferry::runtime
