#pragma once

// Reading and patching chained packets without linearising them.
//
// A chained packet's bytes are the concatenation of data() .. data() + data_len() of each
// segment from the head. Its length, here, is chain_length(): the head's pkt_len(), or
// the sum of the segments' data_len() if that is shorter, so a descriptor whose pkt_len()
// overstates the chain (hostile or buggy) can never make a reader run off the chain.
// Segments of length 0 are allowed anywhere and skipped.
//
// SegmentReader is a cursor for parsers: read() copies, peek()/pull() return a pointer
// straight into the segment when the bytes are contiguous there (the common case: headers
// in the head segment) and otherwise gather them into the caller's scratch buffer.
// for_each_span() hands out the contiguous pieces of a byte range, which is what
// checksumming and segmentation want. copy_out()/copy_in() read and patch bytes at an
// offset across segment borders.
//
// Every operation that would go past the end fails as a whole: it returns false/nullptr
// and reads, writes and moves nothing.

#include <cstdint>
#include <cstring>

#include "base/compiler.h"
#include "packet/packet.h"

namespace ferry {

// Bytes readable in the chain starting at head: min(pkt_len(), sum of data_len()).
uint32_t chain_length(const Packet& head);

class SegmentReader {
 public:
  explicit SegmentReader(const Packet& head)
      : seg_(&head), head_(&head), length_(chain_length(head)) {}

  uint32_t position() const { return pos_; }
  uint32_t length() const { return length_; }
  uint32_t remaining() const { return length_ - pos_; }

  // Moves forward by n bytes; false (and no move) if fewer than n remain.
  bool skip(uint32_t n) {
    if (FERRY_UNLIKELY(n > remaining())) return false;
    advance(n);
    return true;
  }
  // Moves to an absolute offset from the start of the packet; false if past the end.
  bool seek(uint32_t offset);

  // Copies the next n bytes to dst and moves past them; false (nothing read) if fewer
  // than n remain.
  bool read(void* dst, uint32_t n) {
    if (FERRY_UNLIKELY(n > remaining())) return false;
    if (FERRY_LIKELY(n <= seg_->data_len() - seg_off_)) {
      std::memcpy(dst, seg_->data() + seg_off_, n);
      seg_off_ += n;
      pos_ += n;
      return true;
    }
    read_slow(static_cast<uint8_t*>(dst), n);
    return true;
  }

  // A pointer to the next n bytes without moving: into the segment if they are
  // contiguous there, else gathered into scratch (which must hold n bytes). nullptr if
  // fewer than n remain. The pointer is valid until the packet or scratch changes.
  const uint8_t* peek(uint32_t n, uint8_t* scratch) const {
    if (FERRY_UNLIKELY(n > remaining())) return nullptr;
    if (FERRY_LIKELY(n <= seg_->data_len() - seg_off_)) return seg_->data() + seg_off_;
    return gather(n, scratch);
  }
  // peek() and move past the bytes.
  const uint8_t* pull(uint32_t n, uint8_t* scratch) {
    const uint8_t* p = peek(n, scratch);
    if (p != nullptr) advance(n);
    return p;
  }

  // Bytes available contiguously at the position (0 at the end). With this and skip(),
  // a caller can walk the remaining bytes span by span.
  uint32_t contiguous() const;
  const uint8_t* current() const;

 private:
  void advance(uint32_t n);
  void read_slow(uint8_t* dst, uint32_t n);
  const uint8_t* gather(uint32_t n, uint8_t* scratch) const;

  const Packet* seg_;  // segment holding the position (or the one it ends)
  const Packet* head_;
  uint32_t seg_off_ = 0;  // position within seg_, <= seg_->data_len()
  uint32_t pos_ = 0;      // position from the start of the packet
  uint32_t length_;
};

namespace detail {
// Walks [offset, offset + len) of the chain, calling fn(ptr, n) per contiguous piece.
template <typename P, typename Byte, typename Fn>
bool visit_spans(P& head, uint32_t offset, uint32_t len, Fn&& fn) {
  uint32_t total = chain_length(head);
  if (offset > total || len > total - offset) return false;
  P* seg = &head;
  while (len > 0) {
    uint32_t dl = seg->data_len();
    if (offset >= dl) {
      offset -= dl;
    } else {
      uint32_t n = dl - offset < len ? dl - offset : len;
      fn(static_cast<Byte*>(seg->data()) + offset, n);
      len -= n;
      offset = 0;
    }
    seg = seg->next();
  }
  return true;
}
}  // namespace detail

// Calls fn(const uint8_t* p, uint32_t n) for each contiguous piece of the bytes
// [offset, offset + len) of the packet, in order, pieces non-empty. False (fn never
// called) if the range goes past the end.
template <typename Fn>
bool for_each_span(const Packet& head, uint32_t offset, uint32_t len, Fn&& fn) {
  return detail::visit_spans<const Packet, const uint8_t>(head, offset, len, fn);
}
// The same over writable bytes: fn(uint8_t* p, uint32_t n).
template <typename Fn>
bool for_each_span_mut(Packet& head, uint32_t offset, uint32_t len, Fn&& fn) {
  return detail::visit_spans<Packet, uint8_t>(head, offset, len, fn);
}

// Copies the n bytes at offset to dst; false (nothing copied) if past the end.
bool copy_out(const Packet& head, uint32_t offset, void* dst, uint32_t n);
// Overwrites the n bytes at offset with src, across segment borders; false (nothing
// written) if past the end. Lengths do not change.
bool copy_in(Packet& head, uint32_t offset, const void* src, uint32_t n);

}  // namespace ferry
