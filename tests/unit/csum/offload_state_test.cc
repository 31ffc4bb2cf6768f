#include "csum/offload_state.h"

#include <random>

#include <gtest/gtest.h>

#include "base/byteorder.h"
#include "csum/raw_sum.h"
#include "test_packets.h"

namespace ferry::csum {
namespace {

using testing::Frame;
using testing::IpSpec;
using testing::TestPacket;

struct Case {
  bool v6;
  L4Type l4;
  uint16_t field;
};
const Case kCases[] = {{false, L4Type::kTcp, 16}, {false, L4Type::kUdp, 6},
                       {false, L4Type::kIcmp, 2}, {true, L4Type::kTcp, 16},
                       {true, L4Type::kUdp, 6},   {true, L4Type::kIcmpv6, 2}};

// to_partial then finish_partial gives what fill_l4 gives, linear and chained.
TEST(OffloadState, PartialRoundTrip) {
  std::mt19937 rng(21);
  for (int trial = 0; trial < 240; trial++) {
    const Case& c = kCases[trial % 6];
    Frame f = testing::make_frame(IpSpec{c.v6, c.l4, rng() % 1500}, rng);
    std::vector<uint32_t> split;
    if (trial & 1) split = testing::random_split(static_cast<uint32_t>(f.bytes.size()), rng);
    TestPacket want(f), p(f, split);
    ASSERT_EQ(fill_l4(want.head()), CsumError::kOk);

    ASSERT_EQ(to_partial(p.head()), CsumError::kOk);
    EXPECT_EQ(p.head().csum_state(), CsumState::kPartial);
    EXPECT_EQ(p.head().csum_start(), f.meta.l4);
    EXPECT_EQ(p.head().csum_offset(), c.field);
    L4Span span;
    ASSERT_EQ(locate_l4(p.head(), Layer::kOuter, &span), CsumError::kOk);
    std::vector<uint8_t> partial = p.linear();
    EXPECT_EQ(load_unaligned<uint16_t>(&partial[f.meta.l4 + c.field]), fold(span.pseudo_sum));
    EXPECT_EQ(to_partial(p.head()), CsumError::kOk);  // already partial: a no-op

    ASSERT_EQ(finish_partial(p.head()), CsumError::kOk);
    EXPECT_EQ(p.head().csum_state(), CsumState::kNone);
    EXPECT_EQ(verify_l4(p.head()), CsumError::kOk);
    std::vector<uint8_t> got = p.linear(), expected = want.linear();
    // fill_l4 may write 0 for TCP/ICMP where finish_partial writes 0xffff (both valid).
    if (load_unaligned<uint16_t>(&got[f.meta.l4 + c.field]) == 0xffff) {
      store_unaligned<uint16_t>(&got[f.meta.l4 + c.field],
                                load_unaligned<uint16_t>(&expected[f.meta.l4 + c.field]));
    }
    EXPECT_EQ(got, expected) << trial;
    EXPECT_EQ(finish_partial(p.head()), CsumError::kBadState);
  }
}

// finish_partial at any (odd too) csum_start and csum_offset, as a guest may ask.
TEST(OffloadState, FinishPartialAnywhere) {
  std::mt19937 rng(22);
  for (int trial = 0; trial < 500; trial++) {
    std::vector<uint8_t> bytes;
    testing::append_random(bytes, 2 + rng() % 700, rng);
    uint16_t start = static_cast<uint16_t>(rng() % (bytes.size() - 1));
    uint16_t offset = static_cast<uint16_t>(rng() % (bytes.size() - start - 1));
    std::vector<uint32_t> split;
    if (trial & 1) split = testing::random_split(static_cast<uint32_t>(bytes.size()), rng);
    TestPacket p(bytes, split);
    p.head().set_csum_partial(start, offset);
    ASSERT_EQ(check_partial(p.head()), CsumError::kOk);
    ASSERT_EQ(finish_partial(p.head()), CsumError::kOk);
    std::vector<uint8_t> got = p.linear();
    // The field gets the checksum of the region as it was (the field holding the
    // pseudo-header sum), 0 sent as 0xffff; only the field changed.
    uint16_t want = finish(raw_sum(bytes.data() + start, bytes.size() - start));
    EXPECT_EQ(load_unaligned<uint16_t>(&got[start + offset]), want == 0 ? 0xffff : want) << trial;
    if (offset % 2 == 0) {  // then, with the pseudo-header sum, the region sums to 0xffff
      uint32_t region = raw_sum(got.data() + start, got.size() - start);
      uint32_t pseudo = load_unaligned<uint16_t>(&bytes[start + offset]);
      EXPECT_EQ(fold(add(region, pseudo)), 0xffff) << trial;
    }
    store_unaligned<uint16_t>(&got[start + offset],
                              load_unaligned<uint16_t>(&bytes[start + offset]));
    EXPECT_EQ(got, bytes);
  }
}

// Guests choose csum_start and csum_offset: impossible values are refused, the packet
// is not touched (ASan watches the exactly sized segments).
TEST(OffloadState, HostileCsumStartAndOffset) {
  std::mt19937 rng(23);
  for (int chained = 0; chained < 2; chained++) {
    std::vector<uint8_t> bytes;
    testing::append_random(bytes, 101, rng);
    const uint16_t len = 101;
    std::vector<uint32_t> split;
    if (chained) split = {1, 50, 3, 47};
    struct Hostile {
      uint16_t start, offset;
      CsumError want;
    } cases[] = {
        {len, 0, CsumError::kCsumStartBeyondEnd},
        {len + 1, 0, CsumError::kCsumStartBeyondEnd},
        {0xffff, 0xffff, CsumError::kCsumStartBeyondEnd},
        {0xffff, 0, CsumError::kCsumStartBeyondEnd},
        {len - 1, 0, CsumError::kCsumFieldBeyondEnd},  // the field needs 2 bytes
        {len - 2, 1, CsumError::kCsumFieldBeyondEnd},
        {0, len - 1, CsumError::kCsumFieldBeyondEnd},
        {0, 0xffff, CsumError::kCsumFieldBeyondEnd},
        {50, 0xfff0, CsumError::kCsumFieldBeyondEnd},
        {0, len - 2, CsumError::kOk},
        {len - 2, 0, CsumError::kOk},
    };
    for (const Hostile& h : cases) {
      TestPacket p(bytes, split);
      p.head().set_csum_partial(h.start, h.offset);
      EXPECT_EQ(check_partial(p.head()), h.want) << h.start << "+" << h.offset;
      EXPECT_EQ(finish_partial(p.head()), h.want) << h.start << "+" << h.offset;
      if (h.want != CsumError::kOk) {
        EXPECT_EQ(p.linear(), bytes);
        EXPECT_EQ(p.head().csum_state(), CsumState::kPartial);
        EXPECT_EQ(mark_unnecessary(p.head()), CsumError::kBadState);
        EXPECT_EQ(make_complete(p.head(), 0), CsumError::kBadState);
      }
    }
  }
  // A chain shorter than pkt_len claims is not trusted either.
  std::vector<uint8_t> bytes(40, 7);
  TestPacket p(bytes, {20, 20});
  p.head().next()->set_data_len(10);
  p.head().set_csum_partial(25, 4);
  EXPECT_EQ(finish_partial(p.head()), CsumError::kCsumFieldBeyondEnd);
}

TEST(OffloadState, CompleteVerifiesWithoutRereadingPayload) {
  std::mt19937 rng(24);
  for (int trial = 0; trial < 240; trial++) {
    const Case& c = kCases[trial % 6];
    Frame f = testing::make_frame(IpSpec{c.v6, c.l4, 1 + rng() % 1500}, rng, trial % 4);
    std::vector<uint32_t> split;
    if (trial & 1) split = testing::random_split(static_cast<uint32_t>(f.bytes.size()), rng);
    TestPacket p(f, split);
    ASSERT_EQ(fill_l4(p.head()), CsumError::kOk);
    // Starts before the L3 header, at it, odd ones, and at the L4 header.
    for (uint16_t start :
         {uint16_t{0}, uint16_t{1}, f.meta.l3, static_cast<uint16_t>(f.meta.l3 + 1),
          static_cast<uint16_t>(f.meta.l4 - 1), f.meta.l4}) {
      ASSERT_EQ(make_complete(p.head(), start), CsumError::kOk);
      EXPECT_EQ(p.head().csum_state(), CsumState::kComplete);
      EXPECT_EQ(verify_l4_complete(p.head()), CsumError::kOk) << trial << " start " << start;
      uint16_t value = p.head().csum_value();
      // Off by one (0xffff + 1 would wrap to the other zero).
      p.head().set_csum_complete(start, value == 0xffff ? 1 : static_cast<uint16_t>(value + 1));
      EXPECT_EQ(verify_l4_complete(p.head()), CsumError::kBadChecksum) << trial;
      p.head().set_csum_complete(start, value);
    }
    // The verdict comes from csum_value(): changing the payload afterwards goes unseen.
    ASSERT_EQ(make_complete(p.head(), f.meta.l3), CsumError::kOk);
    uint32_t payload_byte = f.meta.l4 + (c.l4 == L4Type::kTcp ? 20 : 8);
    if (payload_byte < f.bytes.size() - trial % 4) {
      p.flip(payload_byte);
      EXPECT_EQ(verify_l4_complete(p.head()), CsumError::kOk);
      EXPECT_EQ(verify_l4(p.head()), CsumError::kBadChecksum);
      // ... and a COMPLETE sum of the damaged bytes fails.
      ASSERT_EQ(make_complete(p.head(), f.meta.l3), CsumError::kOk);
      EXPECT_EQ(verify_l4_complete(p.head()), CsumError::kBadChecksum);
    }
    p.head().set_csum_complete(static_cast<uint16_t>(f.meta.l4 + 1), 0);
    EXPECT_EQ(verify_l4_complete(p.head()), CsumError::kCsumStartAfterL4);
    p.head().set_csum_complete(0xfff0, 0);
    EXPECT_EQ(verify_l4_complete(p.head()), CsumError::kCsumStartBeyondEnd);
    EXPECT_EQ(make_complete(p.head(), 0xfff0), CsumError::kCsumStartBeyondEnd);
  }
}

TEST(OffloadState, CompleteCoversInnerHeadersOfTunnels) {
  std::mt19937 rng(25);
  for (const Case& c : kCases) {
    Frame f = testing::make_vxlan(!c.v6, IpSpec{c.v6, c.l4, 1 + rng() % 900}, rng);
    TestPacket p(f, testing::random_split(static_cast<uint32_t>(f.bytes.size()), rng));
    ASSERT_EQ(fill_all(p.head()), CsumError::kOk);
    ASSERT_EQ(make_complete(p.head(), f.meta.l3), CsumError::kOk);
    EXPECT_EQ(verify_l4_complete(p.head(), Layer::kOuter), CsumError::kOk);
    EXPECT_EQ(verify_l4_complete(p.head(), Layer::kInner), CsumError::kOk);
  }
}

TEST(OffloadState, MarkUnnecessary) {
  std::mt19937 rng(26);
  for (const Case& c : kCases) {
    Frame f = testing::make_frame(IpSpec{c.v6, c.l4, 200}, rng);
    TestPacket p(f);
    ASSERT_EQ(fill_all(p.head()), CsumError::kOk);
    ASSERT_EQ(mark_unnecessary(p.head()), CsumError::kOk);
    EXPECT_EQ(p.head().csum_state(), CsumState::kUnnecessary);
    EXPECT_EQ(p.head().flags() & kFlagCsumLevelInner, 0);

    // From COMPLETE.
    TestPacket q(f);
    ASSERT_EQ(fill_all(q.head()), CsumError::kOk);
    ASSERT_EQ(make_complete(q.head(), f.meta.l3), CsumError::kOk);
    EXPECT_EQ(mark_unnecessary(q.head()), CsumError::kOk);
    EXPECT_EQ(q.head().csum_state(), CsumState::kUnnecessary);

    // A bad checksum leaves the state alone.
    TestPacket bad(f);
    ASSERT_EQ(fill_all(bad.head()), CsumError::kOk);
    bad.flip(static_cast<uint32_t>(f.bytes.size() - 1));
    EXPECT_EQ(mark_unnecessary(bad.head()), CsumError::kBadChecksum);
    EXPECT_EQ(bad.head().csum_state(), CsumState::kNone);
  }
  for (bool inner_v6 : {false, true}) {
    Frame f = testing::make_vxlan(false, IpSpec{inner_v6, L4Type::kTcp, 300}, rng);
    TestPacket p(f);
    ASSERT_EQ(fill_all(p.head()), CsumError::kOk);
    ASSERT_EQ(mark_unnecessary(p.head()), CsumError::kOk);
    EXPECT_EQ(p.head().csum_state(), CsumState::kUnnecessary);
    EXPECT_NE(p.head().flags() & kFlagCsumLevelInner, 0);
    // Inner checksum wrong, outer UDP checksum none (0 over IPv4): refused.
    TestPacket q(f);
    ASSERT_EQ(fill_all(q.head()), CsumError::kOk);
    store_unaligned<uint16_t>(q.head().data() + f.meta.l4 + 6, 0);
    q.flip(static_cast<uint32_t>(f.bytes.size() - 1));
    EXPECT_EQ(verify_l4(q.head()), CsumError::kOk);
    EXPECT_EQ(mark_unnecessary(q.head()), CsumError::kBadChecksum);
    EXPECT_EQ(q.head().csum_state(), CsumState::kNone);
  }
}

TEST(OffloadState, ToPartialRefusesTrailingBytes) {
  std::mt19937 rng(27);
  Frame f = testing::make_frame(IpSpec{false, L4Type::kTcp, 20}, rng, 6);
  TestPacket p(f);
  EXPECT_EQ(to_partial(p.head()), CsumError::kBadLength);
  EXPECT_EQ(p.head().csum_state(), CsumState::kNone);
  EXPECT_EQ(p.linear(), f.bytes);
  Frame none = testing::make_frame(IpSpec{false, L4Type::kSctp, 20}, rng);
  TestPacket q(none);
  EXPECT_EQ(to_partial(q.head()), CsumError::kUnsupported);
}

}  // namespace
}  // namespace ferry::csum
