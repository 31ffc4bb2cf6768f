#include "packet/segment_reader.h"

namespace ferry {

uint32_t chain_length(const Packet& head) {
  uint64_t sum = 0;
  for (const Packet* s = &head; s != nullptr && sum < head.pkt_len(); s = s->next()) {
    sum += s->data_len();
  }
  return sum < head.pkt_len() ? static_cast<uint32_t>(sum) : head.pkt_len();
}

bool SegmentReader::seek(uint32_t offset) {
  if (offset > length_) return false;
  seg_ = head_;
  seg_off_ = 0;
  pos_ = 0;
  advance(offset);
  return true;
}

// n <= remaining(). Leaves seg_off_ == data_len() at the end of a segment rather than
// stepping onto a next segment that may not exist.
void SegmentReader::advance(uint32_t n) {
  pos_ += n;
  for (;;) {
    uint32_t avail = seg_->data_len() - seg_off_;
    if (n <= avail) {
      seg_off_ += n;
      return;
    }
    n -= avail;
    seg_ = seg_->next();
    seg_off_ = 0;
  }
}

void SegmentReader::read_slow(uint8_t* dst, uint32_t n) {
  pos_ += n;
  for (;;) {
    uint32_t avail = seg_->data_len() - seg_off_;
    uint32_t c = n < avail ? n : avail;
    std::memcpy(dst, seg_->data() + seg_off_, c);
    dst += c;
    n -= c;
    seg_off_ += c;
    if (n == 0) return;
    seg_ = seg_->next();
    seg_off_ = 0;
  }
}

const uint8_t* SegmentReader::gather(uint32_t n, uint8_t* scratch) const {
  const Packet* s = seg_;
  uint32_t off = seg_off_;
  uint8_t* out = scratch;
  while (n > 0) {
    uint32_t avail = s->data_len() - off;
    uint32_t c = n < avail ? n : avail;
    std::memcpy(out, s->data() + off, c);
    out += c;
    n -= c;
    s = s->next();
    off = 0;
  }
  return scratch;
}

uint32_t SegmentReader::contiguous() const {
  if (remaining() == 0) return 0;
  const Packet* s = seg_;
  uint32_t off = seg_off_;
  while (off == s->data_len()) {  // at a segment end (or on empty segments)
    s = s->next();
    off = 0;
  }
  uint32_t avail = s->data_len() - off;
  return avail < remaining() ? avail : remaining();
}

const uint8_t* SegmentReader::current() const {
  const Packet* s = seg_;
  uint32_t off = seg_off_;
  if (remaining() == 0) return s->data() + off;
  while (off == s->data_len()) {
    s = s->next();
    off = 0;
  }
  return s->data() + off;
}

bool copy_out(const Packet& head, uint32_t offset, void* dst, uint32_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  return for_each_span(head, offset, n, [&out](const uint8_t* p, uint32_t c) {
    std::memcpy(out, p, c);
    out += c;
  });
}

bool copy_in(Packet& head, uint32_t offset, const void* src, uint32_t n) {
  const uint8_t* in = static_cast<const uint8_t*>(src);
  return for_each_span_mut(head, offset, n, [&in](uint8_t* p, uint32_t c) {
    std::memcpy(p, in, c);
    in += c;
  });
}

}  // namespace ferry
