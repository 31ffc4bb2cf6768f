#include "packet/split_allocator.h"

#include <cstring>

#include "packet/packet_bytes.h"

namespace ferry {

std::unique_ptr<SplitPacketAllocator> SplitPacketAllocator::create(const Config& config) {
  std::unique_ptr<SplitPacketAllocator> a(new SplitPacketAllocator());
  a->header_pool_ = BufferPool::create({.name = config.name + ".hdr",
                                        .buffer_count = config.header_buffers,
                                        .data_room = config.header_room,
                                        .headroom = config.headroom});
  a->data_pool_ = BufferPool::create({.name = config.name + ".data",
                                      .buffer_count = config.data_buffers,
                                      .data_room = config.data_room,
                                      .headroom = 0,
                                      .descriptors_apart = true});
  if (!a->header_pool_ || !a->data_pool_) return nullptr;
  return a;
}

Packet* SplitPacketAllocator::build(std::span<const uint8_t> bytes, uint32_t header_len) {
  Packet* head = header_pool_->alloc();
  if (head == nullptr) return nullptr;
  size_t hlen = header_len;
  if (hlen > bytes.size()) hlen = bytes.size();
  if (hlen > head->tailroom()) hlen = head->tailroom();
  if (hlen > 0) std::memcpy(head->append(static_cast<uint32_t>(hlen)), bytes.data(), hlen);
  if (hlen < bytes.size()) {
    Packet* payload = segments_from_bytes(*data_pool_, bytes.subspan(hlen));
    if (payload == nullptr) {
      header_pool_->free(head);
      return nullptr;
    }
    head->append_segment(payload);
  }
  return head;
}

bool SplitPacketAllocator::alloc_data(Packet** out, uint32_t n) {
  if (!data_pool_->alloc_bulk(out, n)) return false;
  // The data pool has no headroom, so a fresh segment already spans its whole buffer.
  return true;
}

}  // namespace ferry
