// Hostile front-ends: every malformed message gets its reason, is answered or ends the
// connection as the protocol requires, and leaves no fd or mapping behind (checked by the
// fixture's TearDown). The back-end keeps serving afterwards.

#include <linux/virtio_config.h>

#include <fcntl.h>

#include "backend_test_util.h"

namespace ferry::vhost::testing {
namespace {

using HostileTest = BackendTest;

constexpr uint64_t kUserBase = 0x7f1200000000;

// The back-end still answers a plain request.
void expect_alive(BackendTest* t, TestFrontend& fe, VhostUserBackend& b) {
  ASSERT_TRUE(fe.send_empty(Request::GET_QUEUE_NUM));
  ASSERT_TRUE(b.on_readable());
  Message reply;
  ASSERT_TRUE(fe.recv(&reply));
  EXPECT_EQ(reply.u64(), 2u);
  (void)t;
}

TEST_F(HostileTest, TruncatedHeaderAtEof) {
  uint8_t partial[5] = {1, 0, 0, 0, 1};
  ASSERT_TRUE(fe_->send_raw(partial, sizeof(partial)));
  shutdown(fe_->fd(), SHUT_WR);
  EXPECT_FALSE(step());
  EXPECT_EQ(last(), RejectReason::kTruncatedHeader);
  EXPECT_EQ(backend_->rejects(RejectReason::kTruncatedHeader), 1u);
  backend_->detach();
  connect();
  expect_alive(this, *fe_, *backend_);
}

TEST_F(HostileTest, TruncatedHeaderByTimeout) {
  uint8_t partial[3] = {1, 0, 0};
  ASSERT_TRUE(fe_->send_raw(partial, sizeof(partial)));
  EXPECT_FALSE(step());  // waits for the receive timeout, not forever
  EXPECT_EQ(last(), RejectReason::kTruncatedHeader);
}

TEST_F(HostileTest, CleanCloseIsNotARejection) {
  frontend_sock_.reset();
  EXPECT_FALSE(step());
  EXPECT_EQ(backend_->total_rejects(), 0u);
}

TEST_F(HostileTest, OversizedSizeField) {
  Header h{static_cast<uint32_t>(Request::SET_MEM_TABLE), kFlagVersion, 0x10000};
  ASSERT_TRUE(fe_->send_raw(&h, sizeof(h)));
  EXPECT_FALSE(step());
  EXPECT_EQ(last(), RejectReason::kOversizedPayload);
  ASSERT_EQ(logs_.size(), 1u);  // one line: the rejection and the disconnect
  EXPECT_NE(logs_[0].find("SET_MEM_TABLE"), std::string::npos);
  EXPECT_NE(logs_[0].find("payload size field too large"), std::string::npos);
}

TEST_F(HostileTest, BadVersion) {
  Header h{static_cast<uint32_t>(Request::GET_FEATURES), 0x2, 0};
  ASSERT_TRUE(fe_->send_raw(&h, sizeof(h)));
  EXPECT_FALSE(step());
  EXPECT_EQ(last(), RejectReason::kBadVersion);
}

TEST_F(HostileTest, TruncatedPayload) {
  Header h{static_cast<uint32_t>(Request::SET_FEATURES), kFlagVersion, 8};
  uint8_t buf[16] = {};
  std::memcpy(buf, &h, sizeof(h));
  ASSERT_TRUE(fe_->send_raw(buf, sizeof(h) + 4));
  shutdown(fe_->fd(), SHUT_WR);
  EXPECT_FALSE(step());
  EXPECT_EQ(last(), RejectReason::kTruncatedPayload);
}

struct SizeCase {
  Request request;
  uint32_t good_size;
};

// Every implemented request with a payload one byte too long (and too short where that
// is possible). Requests that expect a reply payload end the connection; the others are
// refused with a non-zero REPLY_ACK.
TEST_F(HostileTest, WrongPayloadSizeForEveryRequest) {
  const SizeCase cases[] = {
      {Request::GET_FEATURES, 0},
      {Request::SET_FEATURES, 8},
      {Request::SET_OWNER, 0},
      {Request::RESET_OWNER, 0},
      {Request::SET_LOG_BASE, 16},
      {Request::SET_LOG_FD, 0},
      {Request::SET_VRING_NUM, 8},
      {Request::SET_VRING_ADDR, 40},
      {Request::SET_VRING_BASE, 8},
      {Request::GET_VRING_BASE, 8},
      {Request::SET_VRING_KICK, 8},
      {Request::SET_VRING_CALL, 8},
      {Request::SET_VRING_ERR, 8},
      {Request::GET_PROTOCOL_FEATURES, 0},
      {Request::SET_PROTOCOL_FEATURES, 8},
      {Request::GET_QUEUE_NUM, 0},
      {Request::SET_VRING_ENABLE, 8},
      {Request::SEND_RARP, 8},
      {Request::NET_SET_MTU, 8},
      {Request::GET_INFLIGHT_FD, 24},
      {Request::SET_INFLIGHT_FD, 24},
      {Request::RESET_DEVICE, 0},
      {Request::SET_STATUS, 8},
      {Request::GET_STATUS, 0},
  };
  std::vector<uint8_t> zeros(64, 0);
  for (const SizeCase& c : cases) {
    for (int delta : {1, -1}) {
      if (delta < 0 && c.good_size == 0) continue;
      uint32_t size = c.good_size + delta;
      uint64_t before = backend_->rejects(RejectReason::kBadPayloadSize);
      ASSERT_TRUE(fe_->send(c.request, zeros.data(), size, {}, kFlagVersion | kFlagNeedReply));
      bool alive = step();
      EXPECT_EQ(backend_->rejects(RejectReason::kBadPayloadSize), before + 1)
          << to_string(c.request) << " size " << size;
      if (alive) {
        EXPECT_EQ(ack(), 1) << to_string(c.request);
      } else {
        backend_->detach();
        connect();
      }
      expect_alive(this, *fe_, *backend_);
    }
  }
  // Memory table and config: sizes inconsistent with their own counts.
  MemoryTable t{};
  t.num_regions = 1;
  ASSERT_TRUE(fe_->send(Request::SET_MEM_TABLE, &t, 8 + 31, {}, kFlagVersion | kFlagNeedReply));
  EXPECT_TRUE(step());
  EXPECT_EQ(ack(), 1);
  EXPECT_EQ(last(), RejectReason::kBadPayloadSize);
  ConfigHeader ch{0, 10, 0};
  std::array<uint8_t, sizeof(ch) + 4> cfg{};
  std::memcpy(cfg.data(), &ch, sizeof(ch));
  ASSERT_TRUE(
      fe_->send(Request::SET_CONFIG, cfg.data(), cfg.size(), {}, kFlagVersion | kFlagNeedReply));
  EXPECT_TRUE(step());
  EXPECT_EQ(ack(), 1);
  EXPECT_EQ(last(), RejectReason::kBadPayloadSize);
}

TEST_F(HostileTest, MissingAndExtraFds) {
  // SET_VRING_KICK without the NOFD bit needs one fd.
  EXPECT_EQ(set_u64(Request::SET_VRING_KICK, 0), 1);
  EXPECT_EQ(last(), RejectReason::kWrongFdCount);
  // NOFD with an fd is one too many; the fd is closed.
  UniqueFd e(eventfd(0, EFD_CLOEXEC));
  int fds_before = count_fds();
  EXPECT_EQ(set_u64(Request::SET_VRING_KICK, kVringNoFd, {e.get()}), 1);
  EXPECT_EQ(last(), RejectReason::kWrongFdCount);
  // An fd with a message that takes none.
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1), {e.get(), e.get()}), 1);
  EXPECT_EQ(last(), RejectReason::kWrongFdCount);
  EXPECT_EQ(count_fds(), fds_before);
  // Memory table with fewer fds than regions.
  make_memory();
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0},
                           {kRegionSize, kRegionSize, kUserBase + kRegionSize, kRegionSize}},
                          {memfd_.get()}),
            1);
  EXPECT_EQ(last(), RejectReason::kWrongFdCount);
  EXPECT_EQ(count_fds(), fds_before + 1);  // only our memfd
  expect_alive(this, *fe_, *backend_);
}

TEST_F(HostileTest, MoreThanEightFdsEndsTheConnection) {
  UniqueFd e(eventfd(0, EFD_CLOEXEC));
  int fds_before = count_fds();
  std::vector<int> many(12, e.get());
  ASSERT_TRUE(fe_->send_u64(Request::SET_VRING_CALL, 0, many));
  EXPECT_FALSE(step());
  EXPECT_EQ(last(), RejectReason::kControlTruncated);
  EXPECT_EQ(count_fds(), fds_before);
}

TEST_F(HostileTest, BadMemoryTables) {
  make_memory();
  int m = memfd_.get();
  struct Case {
    std::vector<MemoryRegionDesc> regions;
    RejectReason reason;
  } cases[] = {
      {{{0, 0, kUserBase, 0}}, RejectReason::kEmptyRegion},
      {{{0, kRegionSize, kUserBase, 2 * kRegionSize}}, RejectReason::kBeyondFile},
      {{{0, 4 * kRegionSize, kUserBase, 0}}, RejectReason::kBeyondFile},
      {{{0, kRegionSize, kUserBase, ~0ull - 4096}}, RejectReason::kRegionOverflow},
      {{{~0ull - 4096, kRegionSize, kUserBase, 0}}, RejectReason::kRegionOverflow},
      {{{0, kRegionSize, ~0ull - 4096, 0}}, RejectReason::kRegionOverflow},
      {{{0, kRegionSize, kUserBase, 0}, {kRegionSize / 2, kRegionSize, kUserBase + kRegionSize, 0}},
       RejectReason::kRegionOverlap},
      {{{0, kRegionSize, kUserBase, 0}, {kRegionSize, kRegionSize, kUserBase + 4096, 0}},
       RejectReason::kRegionOverlap},
  };
  int maps_before = count_mappings();
  for (const Case& c : cases) {
    std::vector<int> fds(c.regions.size(), m);
    EXPECT_EQ(set_mem_table(c.regions, fds), 1);
    EXPECT_EQ(last(), c.reason) << to_string(c.reason);
    EXPECT_EQ(backend_->memory().region_count(), 0u);
    EXPECT_EQ(count_mappings(), maps_before);
  }
  // Nine regions: the count alone is refused (nine descriptions would not even fit in
  // the largest payload the protocol allows).
  MemoryTable t{};
  t.num_regions = 9;
  ASSERT_TRUE(fe_->send(Request::SET_MEM_TABLE, &t, sizeof(t), {}, kFlagVersion | kFlagNeedReply));
  EXPECT_TRUE(step());
  EXPECT_EQ(ack(), 1);
  EXPECT_EQ(last(), RejectReason::kTooManyRegions);
  // Not a mappable file: a pipe.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {p[0]}), 1);
  EXPECT_EQ(last(), RejectReason::kBadFd);
  close(p[0]);
  close(p[1]);
  // A good table afterwards is accepted.
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {m}), 0);
  EXPECT_EQ(backend_->memory().region_count(), 1u);
}

// A bad table does not disturb the table in use.
TEST_F(HostileTest, BadMemoryTableKeepsTheOldOne) {
  make_memory();
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  EXPECT_EQ(set_mem_table({{0, 0, kUserBase, 0}}, {memfd_.get()}), 1);
  EXPECT_EQ(backend_->memory().region_count(), 1u);
  EXPECT_NE(backend_->memory().translate(100, 8), nullptr);
}

TEST_F(HostileTest, RingIndexOutOfRange) {
  // 2 pairs: rings 0..3.
  EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{4, 256}), 1);
  EXPECT_EQ(last(), RejectReason::kBadQueueIndex);
  EXPECT_EQ(set_value(Request::SET_VRING_BASE, vhost_vring_state{0xffffffff, 0}), 1);
  EXPECT_EQ(last(), RejectReason::kBadQueueIndex);
  // CVE-2020-10723: an index that only fits after truncation to 8 or 16 bits.
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{0x10000, 1}), 1);
  EXPECT_EQ(last(), RejectReason::kBadQueueIndex);
  vhost_vring_addr a{};
  a.index = 0x100;
  EXPECT_EQ(set_value(Request::SET_VRING_ADDR, a), 1);
  EXPECT_EQ(last(), RejectReason::kBadQueueIndex);
  EXPECT_EQ(set_u64(Request::SET_VRING_CALL, 200 | kVringNoFd), 1);
  EXPECT_EQ(last(), RejectReason::kBadQueueIndex);
  EXPECT_EQ(set_u64(Request::SET_VRING_KICK, 0x200 | kVringNoFd), 1);
  EXPECT_EQ(last(), RejectReason::kReservedBits);
  // GET_VRING_BASE needs an answer we cannot give: the connection ends.
  ASSERT_TRUE(fe_->send_value(Request::GET_VRING_BASE, vhost_vring_state{9, 0}));
  EXPECT_FALSE(step());
  EXPECT_EQ(last(), RejectReason::kBadQueueIndex);
  EXPECT_NE(logs_.back().find("closing the connection"), std::string::npos);
}

TEST_F(HostileTest, BadRingSizesAndAddresses) {
  make_memory();
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1)), 0);
  for (uint32_t num : {0u, 3u, 1000u, 65536u, 0xffffffffu}) {
    EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{0, num}), 1) << num;
    EXPECT_EQ(last(), RejectReason::kBadRingSize);
  }
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{0, 256}), 0);
  vhost_vring_addr a{};
  a.desc_user_addr = kUserBase + kRegionSize - 16;  // table runs past the region
  a.avail_user_addr = kUserBase;
  a.used_user_addr = kUserBase + 4096;
  EXPECT_EQ(set_value(Request::SET_VRING_ADDR, a), 1);
  EXPECT_EQ(last(), RejectReason::kBadRingAddress);
  a.desc_user_addr = kUserBase + 8;  // misaligned
  EXPECT_EQ(set_value(Request::SET_VRING_ADDR, a), 1);
  EXPECT_EQ(last(), RejectReason::kBadRingAddress);
  a.desc_user_addr = 0;  // a guest-physical address is not a user address
  EXPECT_EQ(set_value(Request::SET_VRING_ADDR, a), 1);
  EXPECT_FALSE(backend_->ring(0).translated());
}

TEST_F(HostileTest, LogBaseOverflowAndBounds) {
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolLogShmfd)));
  EXPECT_TRUE(step());
  UniqueFd log = make_memfd(8192);
  int maps_before = count_mappings();
  struct Case {
    LogDesc d;
    RejectReason reason;
  } cases[] = {
      {{4096, ~0ull - 100}, RejectReason::kBadLogBase},  // CVE-2020-10722
      {{0, 0}, RejectReason::kBadLogBase},
      {{1ull << 40, 0}, RejectReason::kBadLogBase},
      {{8192, 4096}, RejectReason::kBeyondFile},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(fe_->send_value(Request::SET_LOG_BASE, c.d, {log.get()}));
    EXPECT_FALSE(step());  // the front-end waits for a reply: disconnect
    EXPECT_EQ(last(), c.reason);
    EXPECT_EQ(count_mappings(), maps_before);
    backend_->detach();
    connect();
    EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolLogShmfd)));
    EXPECT_TRUE(step());
  }
}

TEST_F(HostileTest, NonsenseRequestNumbers) {
  for (uint32_t req : {0u, 44u, 99u, 1000u, 0x80000000u, 0xffffffffu}) {
    Header h{req, kFlagVersion | kFlagNeedReply, 8};
    uint8_t buf[20] = {};
    std::memcpy(buf, &h, sizeof(h));
    ASSERT_TRUE(fe_->send_raw(buf, sizeof(buf)));
    EXPECT_TRUE(step());
    EXPECT_EQ(ack(), 1);
    EXPECT_EQ(last(), RejectReason::kUnknownRequest);
  }
  // Known to the protocol but not implemented here.
  for (Request r : {Request::IOTLB_MSG, Request::SET_BACKEND_REQ_FD, Request::POSTCOPY_ADVISE,
                    Request::ADD_MEM_REG, Request::SET_VRING_ENDIAN}) {
    ASSERT_TRUE(fe_->send_u64(r, 0, {}, true));
    EXPECT_TRUE(step());
    EXPECT_EQ(ack(), 1);
    EXPECT_EQ(last(), RejectReason::kUnsupportedRequest);
  }
  expect_alive(this, *fe_, *backend_);
}

TEST_F(HostileTest, FeaturesNotOfferedOrNotNegotiated) {
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(63)), 1);
  EXPECT_EQ(last(), RejectReason::kUnsupportedFeatures);
  EXPECT_EQ(set_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolBackendReq)), 1);
  EXPECT_EQ(last(), RejectReason::kUnsupportedProtocolFeatures);
  EXPECT_EQ(set_u64(Request::SET_STATUS, 0xf), 1);
  EXPECT_EQ(last(), RejectReason::kNotNegotiated);
  EXPECT_EQ(set_u64(Request::NET_SET_MTU, 1500), 1);
  EXPECT_EQ(last(), RejectReason::kNotNegotiated);
  EXPECT_TRUE(fe_->send_empty(Request::RESET_DEVICE, true));
  EXPECT_TRUE(step());
  EXPECT_EQ(ack(), 1);
  EXPECT_EQ(last(), RejectReason::kNotNegotiated);
  EXPECT_EQ(set_u64(Request::SET_PROTOCOL_FEATURES,
                    bit(kProtocolStatus) | bit(kProtocolNetMtu) | bit(kProtocolReplyAck)),
            0);
  EXPECT_EQ(set_u64(Request::SET_STATUS, 0x1ff), 1);
  EXPECT_EQ(last(), RejectReason::kBadStatus);
  EXPECT_EQ(set_u64(Request::NET_SET_MTU, 20), 1);
  EXPECT_EQ(last(), RejectReason::kBadMtu);
  EXPECT_EQ(set_u64(Request::NET_SET_MTU, 70000), 1);
  EXPECT_EQ(backend_->mtu(), 0);
}

TEST_F(HostileTest, BadInflightRequests) {
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolInflightShmfd)));
  EXPECT_TRUE(step());
  int maps_before = count_mappings();
  for (InflightDesc d : {InflightDesc{0, 0, 0, 256, 0}, InflightDesc{0, 0, 5, 256, 0},
                         InflightDesc{0, 0, 0xffff, 0xffff, 0}, InflightDesc{0, 0, 2, 0, 0}}) {
    ASSERT_TRUE(fe_->send_value(Request::GET_INFLIGHT_FD, d));
    EXPECT_FALSE(step());
    EXPECT_EQ(last(), RejectReason::kBadInflight);
    backend_->detach();
    connect();
    EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolInflightShmfd)));
    EXPECT_TRUE(step());
  }
  UniqueFd area = make_memfd(4096);
  for (InflightDesc d : {InflightDesc{4096, 0, 2, 256, 0},          // too small for 2x256
                         InflightDesc{1ull << 40, 0, 1, 1, 0},      // far too big
                         InflightDesc{64, ~0ull - 10, 1, 1, 0}}) {  // offset overflow
    EXPECT_TRUE(fe_->send_value(Request::SET_INFLIGHT_FD, d, {area.get()}));
    EXPECT_TRUE(step());
    EXPECT_EQ(last(), RejectReason::kBadInflight);
  }
  InflightDesc beyond{inflight_queue_bytes(256), 4096, 1, 256, 0};
  EXPECT_TRUE(fe_->send_value(Request::SET_INFLIGHT_FD, beyond, {area.get()}));
  EXPECT_TRUE(step());
  EXPECT_EQ(last(), RejectReason::kBeyondFile);
  EXPECT_EQ(count_mappings(), maps_before);
}

TEST_F(HostileTest, ConfigOutOfRange) {
  EXPECT_TRUE(
      fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolConfig) | bit(kProtocolReplyAck)));
  EXPECT_TRUE(step());
  std::array<uint8_t, kConfigHeaderSize + 8> buf{};
  ConfigHeader ch{8, 8, 0};  // config space is 12 bytes
  std::memcpy(buf.data(), &ch, sizeof(ch));
  ASSERT_TRUE(fe_->send_value(Request::GET_CONFIG, buf));
  EXPECT_TRUE(step());
  Message reply;
  ASSERT_TRUE(fe_->recv(&reply));
  EXPECT_EQ(reply.header.size, kConfigHeaderSize);  // empty answer = error for QEMU
  EXPECT_EQ(last(), RejectReason::kBadConfig);
  ch = ConfigHeader{0xfffffff0u, 8, 0};
  std::memcpy(buf.data(), &ch, sizeof(ch));
  EXPECT_EQ(set_value(Request::SET_CONFIG, buf), 1);
  EXPECT_EQ(last(), RejectReason::kBadConfig);
  ch = ConfigHeader{0, 6, 0};
  std::array<uint8_t, kConfigHeaderSize + 6> mac{};
  std::memcpy(mac.data(), &ch, sizeof(ch));
  EXPECT_EQ(set_value(Request::SET_CONFIG, mac), 1);  // read-only by default
  EXPECT_EQ(last(), RejectReason::kConfigRejected);
}

// Rejections are counted per reason and each logs exactly one line.
TEST_F(HostileTest, EveryRejectionLogsOneLine) {
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(63)), 1);
  EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{7, 256}), 1);
  EXPECT_EQ(logs_.size(), 2u);
  EXPECT_EQ(backend_->total_rejects(), 2u);
  EXPECT_NE(logs_[1].find("SET_VRING_NUM"), std::string::npos);
  EXPECT_NE(logs_[1].find("vring index out of range"), std::string::npos);
}

TEST_F(HostileTest, DetachMidNegotiationReleasesEverything) {
  make_memory();
  int fds_before = count_fds();
  int maps_before = count_mappings();
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, kSupportedProtocolFeatures));
  EXPECT_TRUE(step());
  EXPECT_EQ(
      set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1) | bit(30) | bit(VHOST_F_LOG_ALL)), 0);
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  setup_ring(0, kUserBase);
  UniqueFd log = make_memfd(4096);
  EXPECT_TRUE(fe_->send_value(Request::SET_LOG_BASE, LogDesc{4096, 0}, {log.get()}));
  EXPECT_TRUE(step());
  Message reply;
  EXPECT_TRUE(fe_->recv(&reply));
  EXPECT_TRUE(fe_->send_value(Request::GET_INFLIGHT_FD, InflightDesc{0, 0, 4, 256, 0}));
  EXPECT_TRUE(step());
  EXPECT_TRUE(fe_->recv(&reply));
  reply.fds.clear();
  log.reset();
  EXPECT_GT(count_mappings(), maps_before);
  frontend_sock_.reset();  // front-end goes away
  EXPECT_FALSE(step());
  backend_->detach();
  EXPECT_EQ(count_fds(), fds_before - 2);  // both socket ends
  EXPECT_EQ(count_mappings(), maps_before);
  connect();
  expect_alive(this, *fe_, *backend_);
}

}  // namespace
}  // namespace ferry::vhost::testing
