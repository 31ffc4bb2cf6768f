#include "packet/segment_reader.h"

#include <deque>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ferry {
namespace {

// A chain over heap buffers (pool id kNoPool) with the given segment sizes (0 allowed).
class TestChain {
 public:
  TestChain(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& sizes) {
    size_t off = 0;
    for (uint32_t n : sizes) {
      bufs_.emplace_back(new uint8_t[n + 8]);
      Packet& seg = segs_.emplace_back();
      seg.init(bufs_.back().get(), n + 8, 4, kNoPool);
      uint8_t* dst = seg.append(n);
      if (n > 0) std::memcpy(dst, bytes.data() + off, n);
      off += n;
      if (segs_.size() > 1) segs_.front().append_segment(&seg);
    }
  }
  Packet& head() { return segs_.front(); }

 private:
  std::deque<Packet> segs_;  // stable addresses
  std::vector<std::unique_ptr<uint8_t[]>> bufs_;
};

std::vector<uint8_t> pattern(size_t n, uint32_t seed = 1) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++)
    v[i] = static_cast<uint8_t>(i * 131 + seed * 7 + (i >> 8));
  return v;
}

std::vector<uint32_t> random_split(std::mt19937& rng, uint32_t total) {
  std::vector<uint32_t> sizes;
  uint32_t left = total;
  do {
    uint32_t kind = rng() % 8;
    uint32_t n = kind == 0 ? 0 : kind < 4 ? rng() % 8 : rng() % (total + 1);
    if (n > left) n = left;
    sizes.push_back(n);
    left -= n;
  } while (left > 0 || rng() % 4 == 0);  // sometimes trailing empty segments
  return sizes;
}

TEST(SegmentReader, SingleSegment) {
  auto bytes = pattern(100);
  TestChain c(bytes, {100});
  SegmentReader r(c.head());
  EXPECT_EQ(r.length(), 100u);
  uint8_t scratch[16];
  const uint8_t* p = r.peek(14, scratch);
  EXPECT_EQ(p, c.head().data());  // direct, no copy
  EXPECT_TRUE(r.skip(14));
  uint8_t ip[20];
  EXPECT_TRUE(r.read(ip, 20));
  EXPECT_EQ(0, std::memcmp(ip, bytes.data() + 14, 20));
  EXPECT_EQ(r.position(), 34u);
  EXPECT_EQ(r.remaining(), 66u);
  EXPECT_FALSE(r.skip(67));
  EXPECT_EQ(r.position(), 34u);
  EXPECT_TRUE(r.skip(66));
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.peek(1, scratch), nullptr);
  EXPECT_NE(r.peek(0, scratch), nullptr);
}

TEST(SegmentReader, PeekAcrossBorderUsesScratch) {
  auto bytes = pattern(30);
  TestChain c(bytes, {10, 0, 5, 15});
  SegmentReader r(c.head());
  ASSERT_TRUE(r.skip(8));
  uint8_t scratch[16] = {};
  const uint8_t* p = r.peek(9, scratch);
  EXPECT_EQ(p, scratch);
  EXPECT_EQ(0, std::memcmp(p, bytes.data() + 8, 9));
  EXPECT_EQ(r.position(), 8u);
  p = r.pull(2, scratch);
  EXPECT_EQ(p, c.head().data() + 8);  // still inside the head
  EXPECT_EQ(r.contiguous(), 5u);      // steps over the empty segment
  EXPECT_EQ(*r.current(), bytes[10]);
}

TEST(SegmentReader, ReadFailureReadsNothing) {
  auto bytes = pattern(20);
  TestChain c(bytes, {7, 13});
  SegmentReader r(c.head());
  ASSERT_TRUE(r.skip(5));
  std::vector<uint8_t> dst(32, 0xee);
  EXPECT_FALSE(r.read(dst.data(), 16));
  EXPECT_EQ(r.position(), 5u);
  for (uint8_t b : dst)
    EXPECT_EQ(b, 0xee);
  EXPECT_TRUE(r.read(dst.data(), 15));
  EXPECT_EQ(0, std::memcmp(dst.data(), bytes.data() + 5, 15));
}

TEST(SegmentReader, OverstatedPktLenIsClamped) {
  // A truly overstated pkt_len: built by hand.
  Packet h;
  uint8_t hb[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  h.init(hb, 8, 0, kNoPool);
  h.append(8);
  Packet t;
  uint8_t tb[8] = {9, 10, 11, 12};
  t.init(tb, 8, 0, kNoPool);
  t.append(4);
  t.set_data_len(4);
  h.append_segment(&t);  // pkt_len 12
  t.set_data_len(1);     // the tail shrinks behind the head's back: chain has 9 bytes
  EXPECT_EQ(h.pkt_len(), 12u);
  EXPECT_EQ(chain_length(h), 9u);
  SegmentReader r(h);
  EXPECT_EQ(r.length(), 9u);
  uint8_t out[12];
  EXPECT_FALSE(r.read(out, 10));
  EXPECT_TRUE(r.read(out, 9));
  EXPECT_EQ(out[8], 9);
  EXPECT_FALSE(copy_out(h, 0, out, 12));
}

TEST(SegmentReader, UnderstatedPktLenLimitsReads) {
  auto bytes = pattern(20);
  TestChain c(bytes, {10, 10});
  c.head().set_data_len(10);
  Packet& h = c.head();
  // Shrink pkt_len below the chain by detaching and re-adding a shorter view.
  Packet* rest = h.detach_next();
  rest->set_data_len(4);
  h.append_segment(rest);
  rest->set_data_len(10);
  EXPECT_EQ(h.pkt_len(), 14u);
  SegmentReader r(h);
  EXPECT_EQ(r.length(), 14u);
  EXPECT_FALSE(r.skip(15));
  EXPECT_TRUE(r.skip(14));
}

// Property: on random chains, every operation agrees with the linear bytes.
TEST(SegmentReader, RandomChainsMatchLinearCopy) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 3000; round++) {
    uint32_t total = rng() % (round < 1000 ? 64 : 3000);
    auto bytes = pattern(total + 1, round);  // one spare byte: data() is never null
    auto sizes = random_split(rng, total);
    TestChain c(bytes, sizes);
    ASSERT_EQ(c.head().pkt_len(), total);
    ASSERT_EQ(chain_length(c.head()), total);
    SegmentReader r(c.head());
    std::vector<uint8_t> scratch(total + 1), out(total + 1);
    uint32_t pos = 0;
    for (int op = 0; op < 40; op++) {
      uint32_t n = rng() % 3 == 0 ? rng() % (total + 2) : rng() % 24;
      switch (rng() % 6) {
        case 0: {
          bool ok = r.skip(n);
          ASSERT_EQ(ok, n <= total - pos);
          if (ok) pos += n;
          break;
        }
        case 1: {
          bool ok = r.read(out.data(), n);
          ASSERT_EQ(ok, n <= total - pos);
          if (ok) {
            ASSERT_EQ(0, std::memcmp(out.data(), bytes.data() + pos, n));
            pos += n;
          }
          break;
        }
        case 2: {
          const uint8_t* p = r.peek(n, scratch.data());
          ASSERT_EQ(p != nullptr, n <= total - pos);
          if (p != nullptr) {
            ASSERT_EQ(0, std::memcmp(p, bytes.data() + pos, n));
          }
          break;
        }
        case 3: {
          const uint8_t* p = r.pull(n, scratch.data());
          ASSERT_EQ(p != nullptr, n <= total - pos);
          if (p != nullptr) {
            ASSERT_EQ(0, std::memcmp(p, bytes.data() + pos, n));
            pos += n;
          }
          break;
        }
        case 4: {
          uint32_t to = rng() % (total + 2);
          bool ok = r.seek(to);
          ASSERT_EQ(ok, to <= total);
          if (ok) pos = to;
          break;
        }
        case 5: {
          uint32_t k = r.contiguous();
          if (pos == total) {
            ASSERT_EQ(k, 0u);
          } else {
            ASSERT_GT(k, 0u);
            ASSERT_LE(k, total - pos);
            ASSERT_EQ(0, std::memcmp(r.current(), bytes.data() + pos, k));
          }
          break;
        }
      }
      ASSERT_EQ(r.position(), pos);
      ASSERT_EQ(r.remaining(), total - pos);
    }
    // Spans of a random range cover it exactly, in order, without empty pieces.
    uint32_t off = rng() % (total + 2), len = rng() % (total + 2);
    std::vector<uint8_t> seen;
    bool ok = for_each_span(c.head(), off, len, [&](const uint8_t* p, uint32_t k) {
      ASSERT_GT(k, 0u);
      seen.insert(seen.end(), p, p + k);
    });
    bool in_range = off <= total && len <= total - off;
    ASSERT_EQ(ok, in_range);
    if (ok) {
      ASSERT_EQ(seen.size(), len);
      ASSERT_TRUE(std::equal(seen.begin(), seen.end(), bytes.begin() + off));
      // copy_out agrees; copy_in patches across borders.
      std::vector<uint8_t> got(len + 1);
      ASSERT_TRUE(copy_out(c.head(), off, got.data(), len));
      ASSERT_EQ(0, std::memcmp(got.data(), bytes.data() + off, len));
      std::vector<uint8_t> patch(len);
      for (uint32_t i = 0; i < len; i++)
        patch[i] = static_cast<uint8_t>(rng());
      ASSERT_TRUE(copy_in(c.head(), off, patch.data(), len));
      std::copy(patch.begin(), patch.end(), bytes.begin() + off);
      std::vector<uint8_t> all(total + 1);
      ASSERT_TRUE(copy_out(c.head(), 0, all.data(), total));
      ASSERT_EQ(0, std::memcmp(all.data(), bytes.data(), total));
    } else {
      ASSERT_TRUE(seen.empty());
      std::vector<uint8_t> patch(len + 1, 0xaa);
      ASSERT_FALSE(copy_in(c.head(), off, patch.data(), len));
      std::vector<uint8_t> all(total + 1);
      ASSERT_TRUE(copy_out(c.head(), 0, all.data(), total));
      ASSERT_EQ(0, std::memcmp(all.data(), bytes.data(), total));  // nothing written
    }
  }
}

TEST(SegmentReader, WalkSpanBySpan) {
  auto bytes = pattern(100);
  TestChain c(bytes, {0, 30, 0, 0, 50, 20, 0});
  SegmentReader r(c.head());
  std::vector<uint32_t> pieces;
  std::vector<uint8_t> seen;
  while (uint32_t k = r.contiguous()) {
    pieces.push_back(k);
    seen.insert(seen.end(), r.current(), r.current() + k);
    ASSERT_TRUE(r.skip(k));
  }
  EXPECT_EQ(pieces, (std::vector<uint32_t>{30, 50, 20}));
  EXPECT_EQ(seen, bytes);
}

}  // namespace
}  // namespace ferry
