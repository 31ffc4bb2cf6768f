#pragma once

// Why a virtqueue stopped: every way a driver (or a hostile guest) can hand the device a
// ring it must not process. The first error turns the queue "broken" (as QEMU's
// virtio_error() and DPDK's vq->broken do): the device stops touching it until the
// front-end resets it, and the reason is counted and kept for the log.

#include <cstdint>

namespace ferry::virtio {

enum class QueueError : uint8_t {
  kNone = 0,
  kAvailIdxJump,           // split: avail->idx moved more than the queue size past us
  kDescIndexOutOfRange,    // head or next index >= queue size (or indirect table entries)
  kChainTooLong,           // a loop, or more descriptors than the queue / table holds
  kIndirectNotNegotiated,  // INDIRECT without VIRTIO_RING_F_INDIRECT_DESC
  kIndirectWithNext,       // INDIRECT and NEXT on the same descriptor
  kIndirectNested,         // INDIRECT inside an indirect table
  kIndirectBadLength,      // table length zero, not a multiple of 16, or too large
  kIndirectOutOfMemory,    // table not inside guest memory
  kBufferOutOfMemory,      // buffer (or part of it) not inside guest memory
  kZeroLength,             // a buffer of length zero
  kReadableAfterWritable,  // device-readable buffer after a device-writable one
  kTooManyBuffers,         // more pieces than DescChain::kMaxBuffers
  kRxChainNotWritable,     // rx chain without device-writable space
  kCount
};

inline constexpr unsigned kQueueErrorCount = static_cast<unsigned>(QueueError::kCount);

const char* to_string(QueueError e);

// Counters kept per queue, indexed by QueueError (kNone unused).
struct QueueErrorCounters {
  uint64_t count[kQueueErrorCount] = {};
  uint64_t operator[](QueueError e) const { return count[static_cast<unsigned>(e)]; }
  void add(QueueError e) { count[static_cast<unsigned>(e)]++; }
};

}  // namespace ferry::virtio
