// The wire codec: framing, fd passing, and the per-request shape checks.

#include "vhost/message.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <gtest/gtest.h>

#include "test_frontend.h"

namespace ferry::vhost::testing {
namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

TEST(MessageTest, RoundTripWithFd) {
  Pair p;
  UniqueFd e(eventfd(0, EFD_CLOEXEC));
  Header h{static_cast<uint32_t>(Request::SET_VRING_KICK), kFlagVersion, 8};
  uint64_t v = 3;
  ASSERT_TRUE(write_message(p.a.get(), h, &v, e.get()));
  Message m;
  RejectReason r = RejectReason::kNone;
  ASSERT_EQ(read_message(p.b.get(), &m, &r), ReadStatus::kOk);
  EXPECT_EQ(m.request(), Request::SET_VRING_KICK);
  EXPECT_EQ(m.u64(), 3u);
  ASSERT_EQ(m.fds.size(), 1u);
  EXPECT_TRUE(fcntl(m.fds[0].get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(validate_message(m, 4), RejectReason::kNone);
}

TEST(MessageTest, EofBetweenMessagesIsClosed) {
  Pair p;
  p.a.reset();
  Message m;
  RejectReason r = RejectReason::kNone;
  EXPECT_EQ(read_message(p.b.get(), &m, &r), ReadStatus::kClosed);
}

TEST(MessageTest, PayloadSplitOverSeveralWrites) {
  Pair p;
  MemoryTable t{};
  t.num_regions = 1;
  Header h{static_cast<uint32_t>(Request::SET_MEM_TABLE), kFlagVersion, 40};
  ASSERT_EQ(write(p.a.get(), &h, 7), 7);
  ASSERT_EQ(write(p.a.get(), reinterpret_cast<uint8_t*>(&h) + 7, 5), 5);
  ASSERT_EQ(write(p.a.get(), &t, 40), 40);
  Message m;
  RejectReason r = RejectReason::kNone;
  ASSERT_EQ(read_message(p.b.get(), &m, &r), ReadStatus::kOk);
  EXPECT_EQ(m.header.size, 40u);
  EXPECT_EQ(validate_message(m, 2), RejectReason::kWrongFdCount);  // one region, no fd
}

TEST(MessageTest, ShapeChecks) {
  Message m;
  m.header = {static_cast<uint32_t>(Request::SET_VRING_CALL), kFlagVersion, 8};
  m.set<uint64_t>(1 | kVringNoFd);
  EXPECT_EQ(validate_message(m, 2), RejectReason::kNone);
  EXPECT_EQ(validate_message(m, 1), RejectReason::kBadQueueIndex);
  m.set<uint64_t>(1 | (1ull << 32));
  EXPECT_EQ(validate_message(m, 2), RejectReason::kReservedBits);
  m.header = {static_cast<uint32_t>(Request::GET_CONFIG), kFlagVersion, kConfigHeaderSize + 300};
  ConfigHeader ch{0, 300, 0};
  std::memcpy(m.payload.data(), &ch, sizeof(ch));
  EXPECT_EQ(validate_message(m, 2), RejectReason::kBadPayloadSize);
  m.header = {static_cast<uint32_t>(Request::MAX), kFlagVersion, 0};
  EXPECT_EQ(validate_message(m, 2), RejectReason::kUnknownRequest);
  m.header = {static_cast<uint32_t>(Request::CHECK_DEVICE_STATE), kFlagVersion, 0};
  EXPECT_EQ(validate_message(m, 2), RejectReason::kUnsupportedRequest);
}

TEST(MessageTest, NamesForEveryRequestAndReason) {
  for (uint32_t i = 1; i < static_cast<uint32_t>(Request::MAX); i++) {
    EXPECT_NE(to_string(static_cast<Request>(i)), "UNKNOWN") << i;
  }
  for (size_t i = 0; i < kRejectReasonCount; i++) {
    EXPECT_NE(to_string(static_cast<RejectReason>(i)), "?") << i;
  }
  EXPECT_TRUE(is_framing_error(RejectReason::kOversizedPayload));
  EXPECT_FALSE(is_framing_error(RejectReason::kBadQueueIndex));
}

}  // namespace
}  // namespace ferry::vhost::testing
