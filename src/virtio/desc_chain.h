#pragma once

// DescChain: one available descriptor chain, resolved to host memory.
//
// Popping a chain from a virtqueue walks its descriptors (direct and indirect), checks
// every one, and translates each guest address through GuestMemory. A descriptor whose
// buffer crosses a region border becomes two (or more) pieces here, so every piece is a
// plain host range that lies wholly inside one mapping:
//
//   buffers[0 .. first_writable)      device-readable pieces (e.g. tx: header + frame)
//   buffers[first_writable .. count)  device-writable pieces (e.g. rx: room for a frame)
//
// The list has a fixed capacity so that popping never allocates; a chain that needs more
// pieces breaks the queue (QueueError::kTooManyBuffers). Linux sends at most 19 (tx) and
// the vhost layer can raise kMaxBuffers if a front-end needs more.

#include <cstddef>
#include <cstdint>

#include "base/compiler.h"

namespace ferry::virtio {

class GuestMemory;

struct VirtqBuffer {
  uint8_t* addr;  // host address, inside one GuestMemory region
  uint64_t gpa;   // guest-physical address (dirty logging)
  uint32_t len;
  bool writable;  // VRING_DESC_F_WRITE: device writes, driver reads
};

struct DescChain {
  static constexpr uint16_t kMaxBuffers = 64;

  uint16_t id;              // split: head descriptor index; packed: buffer id
  uint16_t desc_count;      // ring slots the chain took (packed: used index advance)
  uint16_t count;           // pieces in buffers[]
  uint16_t first_writable;  // index of the first writable piece, count if none
  uint64_t readable_len;    // sum of the readable pieces
  uint64_t writable_len;    // sum of the writable pieces
  VirtqBuffer buffers[kMaxBuffers];

  void reset() {
    count = 0;
    first_writable = 0;
    desc_count = 0;
    readable_len = writable_len = 0;
  }
};

// Starts loading the first readable bytes of chain from offset on (up to two lines): the
// first piece only, which is where a frame starts with every driver we know.
inline void prefetch_readable(const DescChain& chain, uint32_t offset) {
  const VirtqBuffer& b = chain.buffers[0];
  if (chain.count == 0 || chain.first_writable == 0 || b.len <= offset) return;
  uint32_t span = b.len - offset < 2 * kCacheLineSize ? b.len - offset : 2 * kCacheLineSize;
  __builtin_prefetch(b.addr + offset);
  __builtin_prefetch(b.addr + offset + span - 1);
}

// Copies up to len bytes starting `offset` bytes into the chain's readable pieces to dst;
// returns the bytes copied (less than len if the chain is shorter). Used for headers that
// a driver may spread over several descriptors (DPDK CVE-2022-2132).
size_t copy_from_chain(const DescChain& chain, uint64_t offset, void* dst, size_t len);

// Copies len bytes into the chain's writable pieces starting `offset` bytes into them;
// returns the bytes copied. The caller reports them in add_used() (which logs them dirty).
size_t copy_to_chain(const DescChain& chain, uint64_t offset, const void* src, size_t len);

// Marks the first `written` bytes of the chain's writable pieces dirty in mem's log
// (live migration), as add_used() does when the log is on.
void log_written(GuestMemory& mem, const DescChain& chain, uint32_t written);

}  // namespace ferry::virtio
