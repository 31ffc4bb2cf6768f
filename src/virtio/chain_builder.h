#pragma once

// ChainBuilder: the checks shared by the split and packed rings while they walk a chain.
// Internal to the virtio layer; the rings decide the order of descriptors, this class
// validates and translates each buffer and each indirect table entry.

#include <cstdint>
#include <cstring>

#include "base/compiler.h"
#include "virtio/desc_chain.h"
#include "virtio/guest_memory.h"
#include "virtio/queue_error.h"

namespace ferry::virtio {

// A 16-byte descriptor copied out of guest memory once, so that a guest rewriting it
// concurrently cannot make the device check one value and use another. The split and
// packed layouts agree on addr and len; the last four bytes differ (split: flags, next;
// packed: id, flags).
struct RawDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t a;  // split: flags; packed: id
  uint16_t b;  // split: next;  packed: flags
};
static_assert(sizeof(RawDesc) == 16);

FERRY_ALWAYS_INLINE RawDesc load_desc(const void* p) {
  RawDesc d;
  std::memcpy(&d, p, sizeof(d));
  return d;
}

// Largest indirect table accepted: the largest queue a driver may use.
inline constexpr uint32_t kMaxIndirectEntries = 32768;

class ChainBuilder {
 public:
  ChainBuilder(const GuestMemory& mem, DescChain* chain) : mem_(mem), chain_(chain) {
    chain->reset();
  }

  // Appends one descriptor's buffer, split at region borders. kNone on success.
  FERRY_ALWAYS_INLINE QueueError add(uint64_t gpa, uint32_t len, bool writable) {
    if (FERRY_UNLIKELY(len == 0)) return QueueError::kZeroLength;
    if (writable) {
      chain_->writable_len += len;
    } else {
      if (FERRY_UNLIKELY(chain_->first_writable != chain_->count)) {
        return QueueError::kReadableAfterWritable;
      }
      chain_->readable_len += len;
    }
    uint64_t left = len;
    while (left > 0) {
      if (FERRY_UNLIKELY(chain_->count == DescChain::kMaxBuffers)) {
        return QueueError::kTooManyBuffers;
      }
      uint64_t piece = 0;
      uint8_t* host = mem_.translate_prefix(gpa, left, &piece);
      if (FERRY_UNLIKELY(host == nullptr || piece == 0)) return QueueError::kBufferOutOfMemory;
      chain_->buffers[chain_->count++] =
          VirtqBuffer{host, gpa, static_cast<uint32_t>(piece), writable};
      if (!writable) chain_->first_writable = chain_->count;
      gpa += piece;
      left -= piece;
    }
    return QueueError::kNone;
  }

 private:
  const GuestMemory& mem_;
  DescChain* chain_;
};

// Reads the entries of an indirect table. The table is translated once if it lies in one
// region; a table crossing a region border is read entry by entry.
class IndirectTable {
 public:
  // kNone, or the reason the table (addr, len) is unusable.
  QueueError open(const GuestMemory& mem, uint64_t addr, uint32_t len) {
    if (len == 0 || len % sizeof(RawDesc) != 0 || len / sizeof(RawDesc) > kMaxIndirectEntries) {
      return QueueError::kIndirectBadLength;
    }
    mem_ = &mem;
    addr_ = addr;
    entries_ = len / sizeof(RawDesc);
    uint64_t contiguous = 0;
    base_ = mem.translate_prefix(addr, len, &contiguous);
    if (base_ == nullptr) return QueueError::kIndirectOutOfMemory;
    contiguous_entries_ = static_cast<uint32_t>(contiguous / sizeof(RawDesc));
    return QueueError::kNone;
  }
  uint32_t entries() const { return entries_; }
  // Entry i (< entries()); false if that entry is outside guest memory.
  FERRY_ALWAYS_INLINE bool read(uint32_t i, RawDesc* out) const {
    if (FERRY_LIKELY(i < contiguous_entries_)) {
      *out = load_desc(base_ + uint64_t{i} * sizeof(RawDesc));
      return true;
    }
    const uint8_t* p = mem_->translate(addr_ + uint64_t{i} * sizeof(RawDesc), sizeof(RawDesc));
    if (p == nullptr) return false;
    *out = load_desc(p);
    return true;
  }

 private:
  const GuestMemory* mem_ = nullptr;
  uint64_t addr_ = 0;
  const uint8_t* base_ = nullptr;
  uint32_t entries_ = 0;
  uint32_t contiguous_entries_ = 0;
};

}  // namespace ferry::virtio
