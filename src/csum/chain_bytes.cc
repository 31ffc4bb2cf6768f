#include "csum/chain_bytes.h"

#include <cstring>

#include "csum/raw_sum.h"

namespace ferry::csum {

uint32_t chain_data_len(const Packet& head) {
  uint64_t n = 0;
  for (const Packet* s = &head; s != nullptr; s = s->next())
    n += s->data_len();
  return n < head.pkt_len() ? static_cast<uint32_t>(n) : head.pkt_len();
}

bool sum_chain(const Packet& head, uint32_t offset, uint32_t len, uint32_t initial, uint32_t* sum) {
  // Fast path: the range lies in the head segment.
  if (uint64_t{offset} + len <= head.data_len()) {
    *sum = raw_sum(head.data() + offset, len, initial);
    return true;
  }
  uint32_t acc = initial;
  uint32_t done = 0;  // bytes summed so far: their parity decides each block's pairing
  for (const Packet* s = &head; s != nullptr && done < len; s = s->next()) {
    uint32_t seg_len = s->data_len();
    if (offset >= seg_len) {
      offset -= seg_len;
      continue;
    }
    uint32_t n = seg_len - offset;
    if (n > len - done) n = len - done;
    acc = add_at(acc, raw_sum(s->data() + offset, n, 0), done);
    done += n;
    offset = 0;
  }
  *sum = acc;
  return done == len;
}

namespace {

template <typename Head, typename Fn>
bool walk(Head& head, uint32_t offset, uint32_t len, Fn&& fn) {
  uint32_t done = 0;
  for (auto* s = &head; s != nullptr && done < len; s = s->next()) {
    uint32_t seg_len = s->data_len();
    if (offset >= seg_len) {
      offset -= seg_len;
      continue;
    }
    uint32_t n = seg_len - offset;
    if (n > len - done) n = len - done;
    fn(s->data() + offset, done, n);
    done += n;
    offset = 0;
  }
  return done == len;
}

}  // namespace

bool copy_from_chain(const Packet& head, uint32_t offset, void* dst, uint32_t len) {
  if (uint64_t{offset} + len <= head.data_len()) {
    std::memcpy(dst, head.data() + offset, len);
    return true;
  }
  uint8_t* out = static_cast<uint8_t*>(dst);
  return walk(head, offset, len,
              [out](const uint8_t* p, uint32_t at, uint32_t n) { std::memcpy(out + at, p, n); });
}

bool copy_to_chain(Packet& head, uint32_t offset, const void* src, uint32_t len) {
  if (uint64_t{offset} + len <= head.data_len()) {
    std::memcpy(head.data() + offset, src, len);
    return true;
  }
  // Check the whole range first so that a failed store changes nothing.
  if (uint64_t{offset} + len > chain_data_len(head)) return false;
  const uint8_t* in = static_cast<const uint8_t*>(src);
  return walk(head, offset, len,
              [in](uint8_t* p, uint32_t at, uint32_t n) { std::memcpy(p, in + at, n); });
}

}  // namespace ferry::csum
