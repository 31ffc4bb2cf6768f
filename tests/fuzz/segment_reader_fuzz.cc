// Fuzzes SegmentReader, for_each_span, copy_out/copy_in and packet_from_bytes against a
// linear copy of the same bytes.
//
// Input: [k] [k segment sizes] [m] [m op pairs (code, arg)] [packet bytes...]
// The packet bytes are split into segments of the given sizes (the last takes the rest;
// sizes past the end give empty segments), each in its own exactly-sized heap buffer so
// that ASan catches any read past a segment.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"

using namespace ferry;

namespace {

#define CHECK(cond) \
  do {              \
    if (!(cond)) {  \
      std::abort(); \
    }               \
  } while (0)

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  uint32_t k = in.byte() % 24;
  std::vector<uint32_t> sizes;
  for (uint32_t i = 0; i < k; i++)
    sizes.push_back(in.byte());
  uint32_t m = in.byte();
  std::vector<std::pair<uint8_t, uint8_t>> ops;
  for (uint32_t i = 0; i < m && in.n >= 2; i++) {
    uint8_t code = in.byte();
    ops.emplace_back(code, in.byte());
  }
  const std::vector<uint8_t> linear(in.p, in.p + in.n);
  const uint32_t total = static_cast<uint32_t>(linear.size());

  // Build the chain.
  std::deque<Packet> segs;
  std::vector<std::unique_ptr<uint8_t[]>> bufs;
  uint32_t off = 0;
  sizes.push_back(UINT32_MAX);  // the rest
  for (uint32_t s : sizes) {
    uint32_t n = s < total - off ? s : total - off;
    bufs.emplace_back(new uint8_t[n]);
    Packet& seg = segs.emplace_back();
    seg.init(bufs.back().get(), n, 0, kNoPool);
    uint8_t* dst = seg.append(n);
    if (n > 0) std::memcpy(dst, linear.data() + off, n);
    off += n;
    if (segs.size() > 1) segs.front().append_segment(&seg);
  }
  Packet& head = segs.front();
  CHECK(head.pkt_len() == total);
  CHECK(chain_length(head) == total);

  SegmentReader r(head);
  std::vector<uint8_t> shadow = linear;  // follows copy_in patches
  std::vector<uint8_t> scratch(total + 256), out(total + 256);
  uint32_t pos = 0;
  for (auto [code, arg] : ops) {
    // Lengths: small ones most of the time, sometimes scaled to the whole packet.
    uint32_t n = (code & 0x80) ? static_cast<uint32_t>((uint64_t{total} + 2) * arg / 255) : arg;
    switch (code % 9) {
      case 0: {
        bool ok = r.skip(n);
        CHECK(ok == (n <= total - pos));
        if (ok) pos += n;
        break;
      }
      case 1: {
        bool ok = r.read(out.data(), n);
        CHECK(ok == (n <= total - pos));
        if (ok) {
          CHECK(n == 0 || std::memcmp(out.data(), shadow.data() + pos, n) == 0);
          pos += n;
        }
        break;
      }
      case 2:
      case 3: {
        const uint8_t* p = code % 9 == 2 ? r.peek(n, scratch.data()) : r.pull(n, scratch.data());
        CHECK((p != nullptr) == (n <= total - pos));
        if (p != nullptr) {
          CHECK(n == 0 || std::memcmp(p, shadow.data() + pos, n) == 0);
          if (code % 9 == 3) pos += n;
        }
        break;
      }
      case 4: {
        bool ok = r.seek(n);
        CHECK(ok == (n <= total));
        if (ok) pos = n;
        break;
      }
      case 5: {
        uint32_t c = r.contiguous();
        CHECK(c <= total - pos);
        CHECK((c == 0) == (pos == total));
        if (c > 0) CHECK(std::memcmp(r.current(), shadow.data() + pos, c) == 0);
        break;
      }
      case 6: {
        // Spans of [pos, pos + n): in order, non-empty, exactly the bytes.
        std::vector<uint8_t> seen;
        bool ok = for_each_span(head, pos, n, [&seen](const uint8_t* p, uint32_t c) {
          CHECK(c > 0);
          seen.insert(seen.end(), p, p + c);
        });
        CHECK(ok == (n <= total - pos));
        if (ok) {
          CHECK(seen.size() == n);
          CHECK(n == 0 || std::memcmp(seen.data(), shadow.data() + pos, n) == 0);
        } else {
          CHECK(seen.empty());
        }
        break;
      }
      case 7: {
        // Patch [pos, pos + n) with a pattern, or fail without writing.
        std::vector<uint8_t> patch(n + 1);
        for (uint32_t i = 0; i < n; i++)
          patch[i] = static_cast<uint8_t>(arg + i * 29);
        bool ok = copy_in(head, pos, patch.data(), n);
        CHECK(ok == (n <= total - pos));
        if (ok && n > 0) std::memcpy(shadow.data() + pos, patch.data(), n);
        break;
      }
      case 8: {
        bool ok = copy_out(head, n, out.data(), total - (n <= total ? n : 0));
        CHECK(ok == (n <= total));
        if (ok && total > n) CHECK(std::memcmp(out.data(), shadow.data() + n, total - n) == 0);
        break;
      }
    }
    CHECK(r.position() == pos);
    CHECK(r.remaining() == total - pos);
  }
  CHECK(packet_to_bytes(head) == shadow);

  // The same bytes through a pool whose buffer size comes from the input.
  uint32_t room = 1 + (sizes.empty() ? 0 : sizes.front() % 512);
  auto pool = BufferPool::create({.name = "fuzz",
                                  .buffer_count = 64,
                                  .data_room = room,
                                  .headroom = static_cast<uint16_t>(k * 3)});
  CHECK(pool != nullptr);
  Packet* p = packet_from_bytes(*pool, shadow);
  if (p != nullptr) {
    CHECK(packet_to_bytes(*p) == shadow);
    free_packet(p);
  } else {
    CHECK(pool->stats().exhausted == 1);
  }
  CHECK(pool->stats().in_use == 0);
  CHECK(pool->stats().bad_frees == 0);
  return 0;
}
