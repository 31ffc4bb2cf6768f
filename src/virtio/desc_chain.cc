#include "virtio/desc_chain.h"

#include <cstring>

#include "virtio/guest_memory.h"

namespace ferry::virtio {

namespace {
size_t copy_pieces(const DescChain& chain, uint16_t first, uint16_t end, uint64_t offset,
                   uint8_t* dst, const uint8_t* src, size_t len) {
  size_t done = 0;
  for (uint16_t i = first; i < end && done < len; i++) {
    const VirtqBuffer& b = chain.buffers[i];
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    size_t n = b.len - offset;
    if (n > len - done) n = len - done;
    if (dst != nullptr) {
      std::memcpy(dst + done, b.addr + offset, n);
    } else {
      std::memcpy(b.addr + offset, src + done, n);
    }
    done += n;
    offset = 0;
  }
  return done;
}
}  // namespace

size_t copy_from_chain(const DescChain& chain, uint64_t offset, void* dst, size_t len) {
  return copy_pieces(chain, 0, chain.first_writable, offset, static_cast<uint8_t*>(dst), nullptr,
                     len);
}

size_t copy_to_chain(const DescChain& chain, uint64_t offset, const void* src, size_t len) {
  return copy_pieces(chain, chain.first_writable, chain.count, offset, nullptr,
                     static_cast<const uint8_t*>(src), len);
}

void log_written(GuestMemory& mem, const DescChain& chain, uint32_t written) {
  uint64_t left = written;
  for (uint16_t i = chain.first_writable; i < chain.count && left != 0; i++) {
    uint64_t n = chain.buffers[i].len < left ? chain.buffers[i].len : left;
    mem.mark_dirty(chain.buffers[i].gpa, n);
    left -= n;
  }
}

}  // namespace ferry::virtio
