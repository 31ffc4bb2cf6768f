#pragma once

// SplitPacketAllocator: header/data split receive buffers (device-managed rx buffers with
// header split).
//
// A packet is built from a small header buffer (the head segment) followed by page-sized
// data segments holding the payload:
//
//     head (header pool)              data segments (data pool, 4096 bytes each)
//     +----------+-----------------+  +--------------------+  +---------------+
//     | headroom | Eth | IP | TCP  |->| payload ...        |->| ... payload   |
//     +----------+-----------------+  +--------------------+  +---------------+
//
// Why: everything the data path edits (push/strip tunnel headers, realign IP headers,
// rewrite addresses, fix checksums) lives in the head, so those edits move at most a few
// hundred bytes and never touch the payload; the payload segments are whole, page-aligned
// 4 KiB buffers (the data pool keeps its descriptors apart), so they can be handed on (to a
// guest, to a file) page by page. The two pools belong to one worker, like any
// BufferPool.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "packet/buffer_pool.h"
#include "packet/packet.h"

namespace ferry {

class SplitPacketAllocator {
 public:
  struct Config {
    std::string name;  // pools are named NAME.hdr and NAME.data
    uint32_t header_buffers = 4096;
    uint32_t header_room = 256;            // bytes of headers a head segment holds
    uint16_t headroom = kDefaultHeadroom;  // in front of the headers, for encapsulation
    uint32_t data_buffers = 4096;
    uint32_t data_room = 4096;  // payload bytes per data segment
  };

  // nullptr if either pool cannot be made.
  static std::unique_ptr<SplitPacketAllocator> create(const Config& config);

  // A packet holding a copy of bytes: the first min(header_len, bytes.size(),
  // header_room) bytes in a head segment, the rest chained in data segments. nullptr,
  // and nothing allocated, if a pool runs out. free_packet() releases it.
  Packet* build(std::span<const uint8_t> bytes, uint32_t header_len);

  // An empty head segment (pool headroom, header_room of data room).
  Packet* alloc_header() { return header_pool_->alloc(); }
  // n empty data segments using their whole buffer, or none (false).
  bool alloc_data(Packet** out, uint32_t n);

  BufferPool& header_pool() { return *header_pool_; }
  BufferPool& data_pool() { return *data_pool_; }

 private:
  SplitPacketAllocator() = default;
  std::unique_ptr<BufferPool> header_pool_;
  std::unique_ptr<BufferPool> data_pool_;
};

}  // namespace ferry
