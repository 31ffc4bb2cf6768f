#pragma once

// Gathering receive buffers for one frame (VIRTIO_NET_F_MRG_RXBUF).
//
// Without MRG_RXBUF every frame goes into one chain, which must be large enough. With it
// the device takes as many chains as the frame (header included) needs and tells the
// driver how many in the header's num_buffers; each chain is completed with the bytes
// written into it. If the ring runs out of chains midway, the chains are given back
// (rewind_avail) and the frame waits or is dropped: nothing is half-used.
//
//   RxGather g = gather_rx_buffers(q, hdr_len + frame_len, chains, 64, mergeable);
//   if (g.status == RxGatherStatus::kOk) {
//     ... write header (num_buffers = g.count) and frame across chains[0..g.count) ...
//     for (i) q.add_used(chains[i], written_i);
//   }
//
// Works with SplitVirtqueue and PackedVirtqueue (any queue with pop / avail_position /
// rewind_avail / set_broken).
//
// RxChainReserve does the same for a whole burst of frames: it pops one chain per frame
// up front and prefetches where each frame will go, so the cache misses on the
// driver's buffers (last touched by the driver's core) overlap instead of stalling every
// header write in turn. Frames take their chains from the reserve in ring order; what is
// left at the end of the burst is given back with rewind_avail.

#include <cstdint>
#include <utility>

#include "base/compiler.h"
#include "base/cpu_features.h"
#include "virtio/desc_chain.h"
#include "virtio/queue_error.h"
#include "virtio/ring_types.h"

namespace ferry::virtio {

enum class RxGatherStatus : uint8_t {
  kOk,
  kNoBuffers,  // not enough chains available now (nothing consumed)
  kTooSmall,   // without MRG_RXBUF: the one chain cannot hold the frame (it is consumed,
               // the caller completes it with length 0 and counts a drop)
  kBroken,     // the queue is (now) broken
};

struct RxGather {
  RxGatherStatus status;
  uint16_t count;  // chains in chains[] (num_buffers)
};

// Byte lengths written into each chain when `total` bytes are spread over chains[0..n).
inline uint32_t rx_chain_fill(const DescChain& chain, uint64_t* remaining) {
  uint64_t n = chain.writable_len < *remaining ? chain.writable_len : *remaining;
  *remaining -= n;
  return static_cast<uint32_t>(n);
}

template <typename Queue>
RxGather gather_rx_buffers(Queue& q, uint64_t bytes, DescChain* chains, uint16_t max_chains,
                           bool mergeable) {
  auto start = q.avail_position();
  uint64_t have = 0;
  uint16_t n = 0;
  while (have < bytes || n == 0) {
    if (n == max_chains) {
      q.rewind_avail(start);
      return {RxGatherStatus::kNoBuffers, 0};
    }
    PopStatus s = q.pop(&chains[n]);
    if (s == PopStatus::kBroken) return {RxGatherStatus::kBroken, 0};
    if (s == PopStatus::kEmpty) {
      q.rewind_avail(start);
      return {RxGatherStatus::kNoBuffers, 0};
    }
    if (chains[n].writable_len == 0) {
      q.set_broken(QueueError::kRxChainNotWritable, chains[n].id);
      return {RxGatherStatus::kBroken, 0};
    }
    have += chains[n].writable_len;
    n++;
    if (!mergeable) {
      return {have >= bytes ? RxGatherStatus::kOk : RxGatherStatus::kTooSmall, 1};
    }
  }
  return {RxGatherStatus::kOk, n};
}

template <typename Queue, uint16_t kCapacity = 64>
class RxChainReserve {
 public:
  using Position = decltype(std::declval<Queue&>().avail_position());

  // chains[] has room for kCapacity chains, and for max_chains of the gathers that follow.
  RxChainReserve(Queue& q, DescChain* chains)
      : q_(q), chains_(chains), prefetchw_(cpu_features().prefetchw) {}
  ~RxChainReserve() { release(); }
  RxChainReserve(const RxChainReserve&) = delete;
  RxChainReserve& operator=(const RxChainReserve&) = delete;

  // Pops up to n chains ahead (fewer if the ring has fewer) and prefetches them. Frames
  // start header_len bytes into each chain, after the virtio-net header.
  void fill(uint16_t n, uint32_t header_len = 0) {
    release();
    if (n > kCapacity) n = kCapacity;
    if constexpr (requires { q_.prefetch_avail(n); }) q_.prefetch_avail(n);
    while (count_ < n) {
      positions_[count_] = q_.avail_position();
      if (q_.pop(&chains_[count_]) != PopStatus::kOk) break;
      const DescChain& c = chains_[count_];
      if (c.first_writable < c.count) prefetch_buffer(c.buffers[c.first_writable], header_len);
      count_++;
    }
  }

  // gather_rx_buffers() from the reserved chains; *first is where the frame's chains are.
  // A frame the rest of the reserve cannot hold gives the reserve back and is gathered
  // from the ring directly.
  RxGather gather(uint64_t bytes, uint16_t max_chains, bool mergeable, DescChain** first) {
    uint64_t have = 0;
    uint16_t n = 0;
    while (next_ + n < count_ && n < max_chains) {
      const DescChain& c = chains_[next_ + n];
      if (c.writable_len == 0) break;  // the direct path below breaks the queue
      have += c.writable_len;
      n++;
      if (!mergeable || have >= bytes) {
        *first = &chains_[next_];
        next_ += n;
        return {have >= bytes ? RxGatherStatus::kOk : RxGatherStatus::kTooSmall, n};
      }
    }
    release();
    *first = chains_;
    return gather_rx_buffers(q_, bytes, chains_, max_chains, mergeable);
  }

  // Gives the chains not taken back to the ring.
  void release() {
    if (next_ < count_) q_.rewind_avail(positions_[next_]);
    next_ = count_ = 0;
  }

 private:
  // The frame's first line, and the next one if the frame does not start a line (a header
  // and a small frame straddle a line border in most Linux buffers), are prefetched for
  // writing. A header on a line of its own is prefetched for reading only: store_header()
  // leaves a header that repeats untouched, so the driver (DPDK virtio-user keeps it at the
  // end of the mbuf headroom) keeps that line in its cache.
  void prefetch_buffer(const VirtqBuffer& b, uint32_t header_len) {
    uint32_t skip = header_len < b.len ? header_len : 0;
    uint8_t* frame = b.addr + skip;
    uint32_t in_line = reinterpret_cast<uintptr_t>(frame) % kCacheLineSize;
    if (in_line < skip) __builtin_prefetch(b.addr);  // the header starts on an earlier line
    prefetch_for_write(frame, prefetchw_);
    if (in_line != 0 && b.len - skip > kCacheLineSize - in_line) {
      prefetch_for_write(frame - in_line + kCacheLineSize, prefetchw_);
    }
  }

  Queue& q_;
  DescChain* chains_;
  Position positions_[kCapacity];  // where each reserved chain was popped from
  bool prefetchw_;
  uint16_t count_ = 0;  // chains popped into chains_
  uint16_t next_ = 0;   // the first one not taken
};

}  // namespace ferry::virtio
