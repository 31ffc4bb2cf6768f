#pragma once

// Adaptive busy polling for poll-mode workers.
//
// While bursts bring work the worker spins (the cheapest way to low latency and high
// throughput, as NAPI busy polling and DPDK PMDs do). After `spin_polls` empty polls in a
// row it sleeps on its wait set (epoll over the ports' fds and the control loop) with a
// timeout that doubles from min_sleep_us up to max_sleep_us, so an idle switch costs
// almost no CPU and wakes at once when a fd becomes readable.
//
// Under CPU overcommit (more runnable threads than CPUs, or the worker being preempted:
// involuntary context switches) spinning steals the CPU from the very peers (guests,
// iperf3, vhost threads) that would produce the work. Then the worker yields
// (sched_yield) between empty polls and gives up spinning much sooner
// (overcommit_spin_polls): "net polling under CPU overcommit".
//
// The policy is pure (inputs in, decision out) so it is unit tested without threads;
// OvercommitDetector samples /proc/loadavg and getrusage(RUSAGE_THREAD).

#include <cstdint>
#include <string>

namespace ferry::runtime {

struct PollPolicyConfig {
  uint32_t spin_polls = 2048;           // empty polls before sleeping (host not overcommitted)
  uint32_t overcommit_spin_polls = 64;  // ... when it is
  uint32_t min_sleep_us = 20;
  uint32_t max_sleep_us = 1000;
};

enum class PollAction : uint8_t {
  kPoll,   // poll again at once
  kYield,  // sched_yield(), then poll
  kSleep,  // wait on the wait set for sleep_us()
};

class PollPolicy {
 public:
  explicit PollPolicy(const PollPolicyConfig& config = {}) : config_(config) {}

  // After a poll that moved `work` packets.
  PollAction next(uint32_t work, bool overcommitted);
  uint32_t sleep_us() const { return sleep_us_; }
  uint32_t idle_polls() const { return idle_polls_; }
  const PollPolicyConfig& config() const { return config_; }

  // Counters (read by statistics).
  uint64_t spins = 0, yields = 0, sleeps = 0;

 private:
  PollPolicyConfig config_;
  uint32_t idle_polls_ = 0;
  uint32_t sleep_us_ = 0;
};

// Decides whether the host looks overcommitted, from samples taken every interval.
class OvercommitDetector {
 public:
  explicit OvercommitDetector(uint32_t cpus = 0);

  // Feeds one sample: runnable threads system-wide (the 4th field of /proc/loadavg, the
  // worker itself included) and the worker's involuntary context switches since the last
  // sample. Overcommitted when runnable > cpus, or when the worker was preempted more than
  // `preempt_threshold` times in the interval.
  void feed(uint32_t runnable, uint64_t involuntary_switches_delta);
  // Samples /proc/loadavg and getrusage(RUSAGE_THREAD) (call from the worker thread)
  // at most every interval_ns.
  void sample(uint64_t now_ns);
  bool overcommitted() const { return overcommitted_; }
  uint32_t cpus() const { return cpus_; }

  uint32_t preempt_threshold = 20;
  uint64_t interval_ns = 100'000'000;

  // Parses the runnable count out of /proc/loadavg text ("0.1 0.2 0.3 2/345 678"); 0 if absent.
  static uint32_t parse_runnable(const std::string& loadavg);

 private:
  uint32_t cpus_;
  bool overcommitted_ = false;
  uint64_t last_sample_ns_ = 0;
  uint64_t last_nivcsw_ = 0;
  bool have_nivcsw_ = false;
};

}  // namespace ferry::runtime
