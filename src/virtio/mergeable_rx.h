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

#include <cstdint>

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

}  // namespace ferry::virtio
