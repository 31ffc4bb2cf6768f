#include "packet/packet_bytes.h"

#include <cstring>

#include "packet/segment_reader.h"

namespace ferry {

namespace {

// Fills fresh segments from pool with bytes; the first keeps the pool's headroom if
// keep_headroom. Returns the head (pkt_len() = bytes.size()) or nullptr, freeing any
// segments already taken.
Packet* fill_chain(BufferPool& pool, std::span<const uint8_t> bytes, bool keep_headroom) {
  Packet* head = nullptr;
  size_t done = 0;
  do {
    Packet* seg = pool.alloc();
    if (seg == nullptr) {
      free_packet(head);
      return nullptr;
    }
    if (head != nullptr || !keep_headroom) {
      seg->init(seg->buffer_start(), seg->buffer_len(), 0, seg->pool_id());
    }
    size_t n = bytes.size() - done;
    if (n > seg->tailroom()) n = seg->tailroom();
    if (n > 0) std::memcpy(seg->append(static_cast<uint32_t>(n)), bytes.data() + done, n);
    done += n;
    if (head == nullptr) {
      head = seg;
    } else {
      head->append_segment(seg);  // seg->pkt_len() == its data_len()
    }
  } while (done < bytes.size());
  return head;
}

}  // namespace

Packet* packet_from_bytes(BufferPool& pool, std::span<const uint8_t> bytes) {
  return fill_chain(pool, bytes, true);
}

Packet* segments_from_bytes(BufferPool& pool, std::span<const uint8_t> bytes) {
  if (bytes.empty()) return nullptr;
  return fill_chain(pool, bytes, false);
}

std::vector<uint8_t> packet_to_bytes(const Packet& head) {
  std::vector<uint8_t> out(chain_length(head));
  copy_out(head, 0, out.data(), static_cast<uint32_t>(out.size()));
  return out;
}

}  // namespace ferry
