#include "runtime/poll_policy.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <sys/resource.h>

#include <fcntl.h>
#include <unistd.h>

namespace ferry::runtime {

PollAction PollPolicy::next(uint32_t work, bool overcommitted) {
  if (work != 0) {
    idle_polls_ = 0;
    sleep_us_ = 0;
    spins++;
    return PollAction::kPoll;
  }
  idle_polls_++;
  uint32_t limit = overcommitted ? config_.overcommit_spin_polls : config_.spin_polls;
  if (idle_polls_ <= limit) {
    if (overcommitted) {
      yields++;
      return PollAction::kYield;
    }
    spins++;
    return PollAction::kPoll;
  }
  sleep_us_ = sleep_us_ == 0 ? config_.min_sleep_us : std::min(sleep_us_ * 2, config_.max_sleep_us);
  sleeps++;
  return PollAction::kSleep;
}

OvercommitDetector::OvercommitDetector(uint32_t cpus) : cpus_(cpus) {
  if (cpus_ == 0) {
    unsigned n = std::thread::hardware_concurrency();
    cpus_ = n == 0 ? 1 : n;
  }
}

uint32_t OvercommitDetector::parse_runnable(const std::string& loadavg) {
  // "a b c R/T pid"
  size_t slash = loadavg.find('/');
  if (slash == std::string::npos) return 0;
  size_t start = loadavg.rfind(' ', slash);
  start = start == std::string::npos ? 0 : start + 1;
  uint32_t v = 0;
  for (size_t i = start; i < slash; i++) {
    if (loadavg[i] < '0' || loadavg[i] > '9') return 0;
    v = v * 10 + static_cast<uint32_t>(loadavg[i] - '0');
  }
  return v;
}

void OvercommitDetector::feed(uint32_t runnable, uint64_t involuntary_switches_delta) {
  overcommitted_ = runnable > cpus_ || involuntary_switches_delta > preempt_threshold;
}

void OvercommitDetector::sample(uint64_t now_ns) {
  if (now_ns - last_sample_ns_ < interval_ns && last_sample_ns_ != 0) return;
  last_sample_ns_ = now_ns;
  char buf[128];
  uint32_t runnable = 0;
  int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n > 0) runnable = parse_runnable(std::string(buf, static_cast<size_t>(n)));
  }
  struct rusage ru {};
  uint64_t delta = 0;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    uint64_t now = static_cast<uint64_t>(ru.ru_nivcsw);
    if (have_nivcsw_) delta = now - last_nivcsw_;
    last_nivcsw_ = now;
    have_nivcsw_ = true;
  }
  feed(runnable, delta);
}

}  // namespace ferry::runtime
