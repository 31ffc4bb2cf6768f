#pragma once

// Dql: dynamic queue limits, the algorithm of Linux's lib/dynamic_queue_limits.c (BQL).
//
// A queue's producer reports the bytes it queues (queued()); its consumer reports the
// bytes that completed (completed()). available() says how many more bytes may be queued
// before the queue should stop; negative means over the limit. The limit adapts at every
// completion, as in Linux:
//  - starved (the queue went empty while over the limit, or everything queued in the
//    previous interval completed while that interval was over the limit): the limit grows
//    by what completed beyond the previous interval plus the previous overshoot;
//  - otherwise, while work stays in flight, the smallest "slack" (limit not needed) seen
//    over slack_hold_ns is removed from the limit.
// The limit stays within [min_limit, max_limit]. Counters are free-running 32-bit values
// compared with wrap-around arithmetic. Time is passed in (nanoseconds), nothing reads a
// clock. No copying: only byte counts pass through.
//
// In Ferry, each output queue of a worker has one Dql: bytes put into the queue's tx
// buffer are queued(), bytes handed to the port at a flush are completed(); when the
// buffer goes over the limit it is flushed early, so a burst never parks more bytes on
// one queue than the queue has shown it drains in one go.

#include <cstdint>

namespace ferry::runtime {

class Dql {
 public:
  static constexpr uint32_t kMaxObject = UINT32_MAX / 16;
  static constexpr uint32_t kMaxLimit = UINT32_MAX / 2 - kMaxObject;

  explicit Dql(uint64_t slack_hold_ns = 1'000'000'000, uint64_t now_ns = 0)
      : slack_hold_ns_(slack_hold_ns) {
    reset(now_ns);
  }

  void reset(uint64_t now_ns);

  // Records `bytes` put on the queue (one object, e.g. one packet or one batch).
  void queued(uint32_t bytes) {
    last_obj_cnt_ = bytes;
    num_queued_ += bytes;
  }
  // Bytes that may still be queued; negative when over the limit (queue stopped).
  int64_t available() const { return static_cast<int32_t>(adj_limit_ - num_queued_); }
  bool stopped() const { return available() < 0; }
  // Records `bytes` completed (at most the bytes in flight) and adapts the limit.
  void completed(uint32_t bytes, uint64_t now_ns);

  uint32_t limit() const { return limit_; }
  uint32_t in_flight() const { return num_queued_ - num_completed_; }
  void set_min_limit(uint32_t v) { min_limit_ = v; }
  void set_max_limit(uint32_t v) { max_limit_ = v; }
  uint32_t min_limit() const { return min_limit_; }
  uint32_t max_limit() const { return max_limit_; }

 private:
  // Producer side.
  uint32_t num_queued_ = 0;
  uint32_t adj_limit_ = 0;  // limit + num_completed
  uint32_t last_obj_cnt_ = 0;
  // Consumer side.
  uint32_t limit_ = 0;
  uint32_t num_completed_ = 0;
  uint32_t prev_ovlimit_ = 0;
  uint32_t prev_num_queued_ = 0;
  uint32_t prev_last_obj_cnt_ = 0;
  uint32_t lowest_slack_ = UINT32_MAX;
  uint64_t slack_start_ns_ = 0;
  // Configuration.
  uint32_t max_limit_ = kMaxLimit;
  uint32_t min_limit_ = 0;
  uint64_t slack_hold_ns_;
};

}  // namespace ferry::runtime
