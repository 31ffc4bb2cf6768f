#pragma once

// Counters of a port and of each of its queues.
//
// A queue's counters are written only by the thread that runs the queue's bursts, with
// plain stores (no atomics on the fast path); readers on other threads (statistics,
// signal-time dumps) may see slightly stale values. Port totals are sums over queues.

#include <array>
#include <cstdint>
#include <string>

namespace ferry::port {

// Why a packet was dropped. Every drop is counted under exactly one reason.
enum class DropReason : uint8_t {
  kNotReady = 0,        // the port's peer is not running (no guest driver, link down)
  kQueueDisabled,       // the queue exists but its peer has not enabled it
  kBadQueue,            // queue index out of range
  kNoPoolBuffers,       // the buffer pool ran out while receiving
  kRingFull,            // the peer had no room (no rx buffers in the guest ring)
  kTooBig,              // the frame does not fit the peer's receive buffer
  kBadHeader,           // the virtio-net header from the peer is invalid
  kTruncated,           // the peer's buffer is shorter than it claims
  kOffloadUnsupported,  // needs an offload (GSO) the receiver did not negotiate
  kChecksumFailed,      // the checksum could not be finished in software
  kQueueBroken,         // the peer's ring is broken (hostile or buggy driver)
  kCount
};
inline constexpr unsigned kDropReasonCount = static_cast<unsigned>(DropReason::kCount);
const char* to_string(DropReason r);

// Burst sizes, in power-of-two buckets: 0, 1, 2-3, 4-7, ..., 64+.
inline constexpr unsigned kBatchBuckets = 8;
inline unsigned batch_bucket(uint32_t n) {
  if (n == 0) return 0;
  unsigned b = 1 + (31 - static_cast<unsigned>(__builtin_clz(n)));
  return b < kBatchBuckets ? b : kBatchBuckets - 1;
}

// One direction of one queue.
struct DirectionStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t bursts = 0;                          // non-empty bursts
  std::array<uint64_t, kBatchBuckets> batch{};  // histogram of non-empty burst sizes
  std::array<uint64_t, kDropReasonCount> drops{};

  void note_burst(uint32_t n) {
    if (n == 0) return;
    bursts++;
    batch[batch_bucket(n)]++;
  }
  void drop(DropReason r, uint64_t n = 1) { drops[static_cast<unsigned>(r)] += n; }
  uint64_t total_drops() const {
    uint64_t s = 0;
    for (uint64_t d : drops)
      s += d;
    return s;
  }
  void add(const DirectionStats& o);
};

struct QueueStats {
  DirectionStats rx;                   // into the switch (from the peer)
  DirectionStats tx;                   // out of the switch (to the peer)
  uint64_t interrupts = 0;             // notifications sent to the peer (call eventfd)
  uint64_t interrupts_suppressed = 0;  // used entries published without notification
  uint64_t kicks_enabled = 0;          // times the port asked the peer to kick again
  uint64_t csum_filled = 0;            // partial checksums finished in software on tx
  void add(const QueueStats& o);
};

// Multi-line human-readable dump ("  rx 123 pkts 4567 B ..."), empty counters omitted.
std::string format_stats(const std::string& title, const QueueStats& s);

}  // namespace ferry::port
