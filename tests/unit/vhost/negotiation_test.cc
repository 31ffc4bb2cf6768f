// Full negotiations the way QEMU and DPDK 22.11 virtio-user drive them.

#include <linux/virtio_config.h>

#include "backend_test_util.h"
#include "virtio_net_uapi.h"

namespace ferry::vhost::testing {
namespace {

using NegotiationTest = BackendTest;

constexpr uint64_t kUserBase = 0x7f1200000000;  // front-end's addresses (QEMU: != gpa)

// QEMU: guest-physical and user addresses differ; the second region lies at 4 GiB in the
// guest and at mmap_offset 1 MiB in the same fd, as QEMU does for RAM above 4G.
TEST_F(NegotiationTest, QemuStyleSingleQueue) {
  make_memory();
  uint8_t* mine = static_cast<uint8_t*>(
      mmap(nullptr, 2 * kRegionSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 0));
  ASSERT_NE(mine, MAP_FAILED);

  EXPECT_TRUE(fe_->send_empty(Request::SET_OWNER));
  EXPECT_TRUE(step());
  uint64_t features = get_u64(Request::GET_FEATURES);
  EXPECT_EQ(features & kNetFeatures, kNetFeatures);
  EXPECT_TRUE(features & bit(kFeatureProtocolFeatures));
  uint64_t proto = get_u64(Request::GET_PROTOCOL_FEATURES);
  EXPECT_EQ(proto, kSupportedProtocolFeatures);
  uint64_t want_proto = bit(kProtocolMq) | bit(kProtocolReplyAck) | bit(kProtocolConfig) |
                        bit(kProtocolNetMtu) | bit(kProtocolRarp) | bit(kProtocolLogShmfd);
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, want_proto));
  EXPECT_TRUE(step());
  EXPECT_EQ(get_u64(Request::GET_QUEUE_NUM), 2u);
  uint64_t acked = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_NET_F_MRG_RXBUF) |
                   bit(VIRTIO_RING_F_EVENT_IDX) | bit(kFeatureProtocolFeatures);
  EXPECT_EQ(set_u64(Request::SET_FEATURES, acked), 0);
  EXPECT_EQ(rec_.features, acked);

  std::vector<MemoryRegionDesc> regions = {
      {0, kRegionSize, kUserBase, 0},
      {0x100000000, kRegionSize, kUserBase + kRegionSize, kRegionSize}};
  EXPECT_EQ(set_mem_table(regions, {memfd_.get(), memfd_.get()}), 0);
  ASSERT_EQ(backend_->memory().region_count(), 2u);
  // Guest-physical lookups go through the right region and offset.
  mine[kRegionSize + 123] = 0xab;
  uint8_t* p = backend_->memory().translate(0x100000000 + 123, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 0xab);

  // Ring 0 in the first region, ring 1 in the second (user addresses).
  setup_ring(0, kUserBase + 0x10000);
  setup_ring(1, kUserBase + kRegionSize + 0x20000, 7);
  EXPECT_FALSE(backend_->started());  // protocol features: rings start disabled
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{0, 1}), 0);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{1, 1}), 0);
  // No STATUS negotiated: the device starts once the first pair is ready and enabled.
  EXPECT_TRUE(backend_->started());
  EXPECT_EQ(rec_.started, 1);

  const VringConfig& r1 = backend_->ring(1);
  EXPECT_EQ(r1.num, kRingSize);
  EXPECT_EQ(r1.base, 7u);
  // The back-end's pointers show the bytes the front-end wrote at those user addresses.
  mine[kRegionSize + 0x20000] = 0x11;
  mine[kRegionSize + 0x20000 + 16 * kRingSize] = 0x22;
  mine[kRegionSize + 0x20000 + 16 * kRingSize + 4096] = 0x33;
  ASSERT_TRUE(r1.translated());
  EXPECT_EQ(*r1.desc, 0x11);
  EXPECT_EQ(*r1.avail, 0x22);
  EXPECT_EQ(*r1.used, 0x33);
  EXPECT_EQ(r1.avail - r1.desc, 16 * kRingSize);
  EXPECT_TRUE(r1.kick.valid());
  EXPECT_TRUE(r1.call.valid());

  // QEMU swaps the call fd of a running ring when the guest masks the vector.
  UniqueFd call2(eventfd(0, EFD_CLOEXEC));
  EXPECT_EQ(set_u64(Request::SET_VRING_CALL, 1, {call2.get()}), 0);
  EXPECT_EQ(rec_.events.back(), "fds 1");
  EXPECT_TRUE(backend_->started());

  // The same memory table again keeps the device running.
  EXPECT_EQ(set_mem_table(regions, {memfd_.get(), memfd_.get()}), 0);
  EXPECT_TRUE(backend_->started());

  EXPECT_TRUE(fe_->send_u64(Request::SEND_RARP, 0x0100'0000'5452ull));
  EXPECT_TRUE(step());
  EXPECT_EQ(rec_.mac[0], 0x52);
  EXPECT_EQ(rec_.mac[5], 0x01);
  EXPECT_EQ(set_u64(Request::NET_SET_MTU, 9000), 0);
  EXPECT_EQ(backend_->mtu(), 9000);

  // GET_CONFIG returns the owner's config space.
  std::array<uint8_t, kConfigHeaderSize + 6> get_config{};
  ConfigHeader ch{0, 6, 0};
  std::memcpy(get_config.data(), &ch, sizeof(ch));
  EXPECT_TRUE(fe_->send_value(Request::GET_CONFIG, get_config));
  EXPECT_TRUE(step());
  Message reply;
  ASSERT_TRUE(fe_->recv(&reply));
  EXPECT_EQ(reply.header.size, kConfigHeaderSize + 6);
  EXPECT_EQ(reply.payload[kConfigHeaderSize], 0x52);

  // Stop: GET_VRING_BASE returns the ring's position and stops the device.
  rec_.stop_base = 42;
  EXPECT_TRUE(fe_->send_value(Request::GET_VRING_BASE, vhost_vring_state{0, 0}));
  EXPECT_TRUE(step());
  ASSERT_TRUE(fe_->recv(&reply));
  auto s = reply.get<vhost_vring_state>();
  EXPECT_EQ(s.index, 0u);
  EXPECT_EQ(s.num, 42u);
  EXPECT_FALSE(backend_->started());
  EXPECT_EQ(rec_.stopped, 1);
  EXPECT_FALSE(backend_->ring(0).kick.valid());
  EXPECT_EQ(backend_->total_rejects(), 0u);
  munmap(mine, 2 * kRegionSize);
}

// Without PROTOCOL_FEATURES a ring is enabled by its kick (legacy front-ends).
TEST_F(NegotiationTest, WithoutProtocolFeaturesKickEnables) {
  make_memory();
  EXPECT_TRUE(fe_->send_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1)));
  EXPECT_TRUE(step());
  std::vector<MemoryRegionDesc> regions = {{0, kRegionSize, kUserBase, 0}};
  MemoryTable t{1, 0, {regions[0]}};
  EXPECT_TRUE(fe_->send(Request::SET_MEM_TABLE, &t, 8 + 32, {memfd_.get()}));
  EXPECT_TRUE(step());
  // No REPLY_ACK negotiated and no NEED_REPLY: nothing comes back.
  EXPECT_FALSE(fe_->has_pending(50));
  setup_ring(0, kUserBase);
  setup_ring(1, kUserBase + 0x10000);
  EXPECT_TRUE(backend_->ring(0).enabled);
  EXPECT_TRUE(backend_->started());
}

// DPDK 22.11 virtio-user: SET_VRING_CALL before SET_FEATURES, SET_STATUS with NEED_REPLY,
// guest address == user address, pair 0 enabled before DRIVER_OK and pair 1 after, and a
// port restart that renegotiates on the same connection without a reset.
TEST_F(NegotiationTest, DpdkVirtioUserStyleWithRestart) {
  for (int round = 0; round < 2; round++) {
    make_memory();
    uint64_t base = kUserBase + round * 0x10000000ull;
    EXPECT_TRUE(fe_->send_empty(Request::SET_OWNER));
    EXPECT_TRUE(step());
    EXPECT_NE(get_u64(Request::GET_FEATURES), 0u);
    get_u64(Request::GET_PROTOCOL_FEATURES);
    uint64_t proto = bit(kProtocolMq) | bit(kProtocolReplyAck) | bit(kProtocolStatus);
    EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, proto));
    EXPECT_TRUE(step());
    std::vector<UniqueFd> calls;
    for (uint32_t i = 0; i < 4; i++) {
      calls.emplace_back(eventfd(0, EFD_CLOEXEC));
      EXPECT_EQ(set_u64(Request::SET_VRING_CALL, i, {calls.back().get()}), 0);
    }
    uint64_t acked = 0x950008000ull | bit(VIRTIO_NET_F_MQ) | bit(VIRTIO_NET_F_CTRL_RX);
    if (round == 1) acked |= bit(VIRTIO_F_RING_PACKED);
    EXPECT_EQ(set_u64(Request::SET_FEATURES, acked), 0);
    EXPECT_EQ(set_u64(Request::SET_STATUS, 0xb), 0);
    EXPECT_EQ(get_u64(Request::GET_STATUS), 0xbu);
    std::vector<MemoryRegionDesc> regions = {{base, 2 * kRegionSize, base, 0}};
    EXPECT_EQ(set_mem_table(regions, {memfd_.get()}), 0);
    for (uint32_t i = 0; i < 4; i++) {
      EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{i, kRingSize}), 0);
      EXPECT_EQ(set_value(Request::SET_VRING_BASE, vhost_vring_state{i, 0}), 0);
      vhost_vring_addr a{};
      a.index = i;
      a.desc_user_addr = base + i * 0x10000;
      a.avail_user_addr = a.desc_user_addr + 0x1000;
      a.used_user_addr = a.desc_user_addr + 0x2000;
      EXPECT_EQ(set_value(Request::SET_VRING_ADDR, a), 0);
      UniqueFd kick(eventfd(0, EFD_CLOEXEC));
      EXPECT_EQ(set_u64(Request::SET_VRING_KICK, i, {kick.get()}), 0);
    }
    EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{0, 1}), 0);
    EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{1, 1}), 0);
    EXPECT_FALSE(backend_->started());  // STATUS negotiated: waits for DRIVER_OK
    EXPECT_EQ(set_u64(Request::SET_STATUS, 0xf), 0);
    EXPECT_TRUE(backend_->started());
    EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{2, 1}), 0);
    EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{3, 1}), 0);
    EXPECT_EQ(rec_.started, round + 1);
    EXPECT_EQ(backend_->features(), acked);
    EXPECT_EQ(get_u64(Request::GET_STATUS), 0xfu);
    for (uint32_t i = 0; i < 4; i++) {
      EXPECT_TRUE(backend_->ring(i).ready()) << i;
      EXPECT_TRUE(backend_->ring(i).enabled) << i;
    }
    // Port stop.
    for (uint32_t i = 0; i < 4; i++) {
      EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{i, 0}), 0);
      EXPECT_TRUE(fe_->send_value(Request::GET_VRING_BASE, vhost_vring_state{i, 0}));
      EXPECT_TRUE(step());
      Message reply;
      ASSERT_TRUE(fe_->recv(&reply));
      EXPECT_EQ(reply.get<vhost_vring_state>().index, i);
    }
    EXPECT_FALSE(backend_->started());
    EXPECT_EQ(rec_.stopped, round + 1);
  }
  EXPECT_EQ(backend_->total_rejects(), 0u);
  // One mapping for the current table (the first round's was replaced).
  EXPECT_EQ(backend_->memory().region_count(), 1u);
}

// A new, different memory table while running stops the device, swaps the mappings and
// restarts once the rings translate again.
TEST_F(NegotiationTest, MemoryTableReplacedWhileRunning) {
  make_memory();
  int maps_before = count_mappings();
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolReplyAck)));
  EXPECT_TRUE(step());
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1) | bit(30)), 0);
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  setup_ring(0, kUserBase);
  setup_ring(1, kUserBase + 0x10000);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{0, 1}), 0);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{1, 1}), 0);
  ASSERT_TRUE(backend_->started());
  EXPECT_EQ(count_mappings(), maps_before + 1);
  // Same user addresses, new guest-physical layout: stop, remap, start again.
  EXPECT_EQ(set_mem_table({{0x40000000, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  EXPECT_EQ(rec_.stopped, 1);
  EXPECT_EQ(rec_.started, 2);
  EXPECT_EQ(count_mappings(), maps_before + 1);
  EXPECT_NE(backend_->memory().translate(0x40000000, 16), nullptr);
  EXPECT_EQ(backend_->memory().translate(0, 16), nullptr);
}

TEST_F(NegotiationTest, ResetDeviceReturnsToInitialState) {
  make_memory();
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolReplyAck) |
                                                                bit(kProtocolResetDevice) |
                                                                bit(kProtocolStatus)));
  EXPECT_TRUE(step());
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1) | bit(30)), 0);
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  setup_ring(0, kUserBase);
  setup_ring(1, kUserBase + 0x10000);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{0, 1}), 0);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{1, 1}), 0);
  EXPECT_EQ(set_u64(Request::SET_STATUS, 0xf), 0);
  ASSERT_TRUE(backend_->started());
  int fds_running = count_fds();
  EXPECT_TRUE(fe_->send_empty(Request::RESET_DEVICE, true));
  EXPECT_TRUE(step());
  EXPECT_EQ(ack(), 0);
  EXPECT_FALSE(backend_->started());
  EXPECT_EQ(backend_->status(), 0);
  EXPECT_FALSE(backend_->features_set());
  EXPECT_FALSE(backend_->ring(0).kick.valid());
  EXPECT_EQ(count_fds(), fds_running - 4);  // two kick + two call eventfds closed
  EXPECT_EQ(get_u64(Request::GET_STATUS), 0u);
}

TEST_F(NegotiationTest, InflightAreaRoundTrip) {
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES,
                            bit(kProtocolInflightShmfd) | bit(kProtocolReplyAck)));
  EXPECT_TRUE(step());
  InflightDesc d{0, 0, 2, 256, 0};
  EXPECT_TRUE(fe_->send_value(Request::GET_INFLIGHT_FD, d));
  EXPECT_TRUE(step());
  Message reply;
  ASSERT_TRUE(fe_->recv(&reply));
  ASSERT_EQ(reply.fds.size(), 1u);
  auto out = reply.get<InflightDesc>();
  EXPECT_EQ(out.mmap_size, 2 * inflight_queue_bytes(256));
  EXPECT_EQ(out.num_queues, 2);
  ASSERT_NE(backend_->inflight_queue(1), nullptr);
  EXPECT_EQ(backend_->inflight_queue(2), nullptr);
  // A restarted back-end gets the area back.
  make_backend(kSupportedProtocolFeatures);
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolInflightShmfd)));
  EXPECT_TRUE(step());
  void* area =
      mmap(nullptr, out.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, reply.fds[0].get(), 0);
  ASSERT_NE(area, MAP_FAILED);
  static_cast<uint8_t*>(area)[0] = 0x5a;
  munmap(area, out.mmap_size);
  EXPECT_EQ(set_value(Request::SET_INFLIGHT_FD, out, {reply.fds[0].get()}), 0);
  ASSERT_NE(backend_->inflight_queue(0), nullptr);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(backend_->inflight_queue(0))[0], 0x5a);
}

// With RING_PACKED the area is sized for the packed layout (so a front-end keeps an area
// of the right size), but rings get none: packed rings are not tracked.
TEST_F(NegotiationTest, InflightAreaForPackedRings) {
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolInflightShmfd)));
  EXPECT_TRUE(step());
  EXPECT_EQ(
      set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED) | bit(30)),
      0);
  EXPECT_TRUE(fe_->send_value(Request::GET_INFLIGHT_FD, InflightDesc{0, 0, 2, 256, 0}));
  EXPECT_TRUE(step());
  Message reply;
  ASSERT_TRUE(fe_->recv(&reply));
  ASSERT_EQ(reply.fds.size(), 1u);
  auto out = reply.get<InflightDesc>();
  EXPECT_EQ(out.mmap_size, 2 * inflight_queue_bytes(256, true));
  EXPECT_EQ(inflight_queue_bytes(256, true), 8256u);  // 32 + 256 * 32, 64-byte aligned
  EXPECT_EQ(backend_->inflight_queue(0), nullptr);
  // A restarted back-end takes the packed-sized area back.
  make_backend(kSupportedProtocolFeatures);
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolInflightShmfd)));
  EXPECT_TRUE(step());
  EXPECT_EQ(set_value(Request::SET_INFLIGHT_FD, out, {reply.fds[0].get()}), 0);
  EXPECT_EQ(backend_->inflight_queue_size(), 256);
}

TEST_F(NegotiationTest, LogBaseMapsTheDirtyLog) {
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolLogShmfd)));
  EXPECT_TRUE(step());
  EXPECT_TRUE(backend_->offered_features() & bit(VHOST_F_LOG_ALL));
  EXPECT_TRUE(fe_->send_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1) | bit(VHOST_F_LOG_ALL)));
  EXPECT_TRUE(step());
  UniqueFd log = make_memfd(8192);
  LogDesc d{4096, 4096};
  EXPECT_TRUE(fe_->send_value(Request::SET_LOG_BASE, d, {log.get()}));
  EXPECT_TRUE(step());
  Message reply;
  ASSERT_TRUE(fe_->recv(&reply));
  EXPECT_EQ(reply.header.request, static_cast<uint32_t>(Request::SET_LOG_BASE));
  EXPECT_EQ(reply.header.size, 0u);
  EXPECT_TRUE(backend_->log_mapped());
  EXPECT_TRUE(backend_->memory().logging());
}

TEST_F(NegotiationTest, QueueLimitsAndPollingRings) {
  make_backend(kSupportedProtocolFeatures, 1000);  // clamped to kMaxQueuePairs
  EXPECT_EQ(backend_->num_rings(), 2 * kMaxQueuePairs);
  EXPECT_EQ(get_u64(Request::GET_QUEUE_NUM), kMaxQueuePairs);
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolReplyAck)));
  EXPECT_TRUE(step());
  EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{511, 256}), 0);
  EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{512, 256}), 1);
  // A front-end that polls: no kick fd, no call fd.
  EXPECT_EQ(set_u64(Request::SET_VRING_KICK, 3 | kVringNoFd), 0);
  EXPECT_EQ(set_u64(Request::SET_VRING_CALL, 3 | kVringNoFd), 0);
  EXPECT_TRUE(backend_->ring(3).kick_set);
  EXPECT_TRUE(backend_->ring(3).kick_polling);
  EXPECT_TRUE(backend_->ring(3).call_set);
  EXPECT_FALSE(backend_->ring(3).call.valid());
  UniqueFd err(eventfd(0, EFD_CLOEXEC));
  EXPECT_EQ(set_u64(Request::SET_VRING_ERR, 3, {err.get()}), 0);
  EXPECT_TRUE(backend_->ring(3).err.valid());
}

// Changing a running ring's size or addresses stops the device first; it starts again
// when the ring is ready.
TEST_F(NegotiationTest, RingChangeWhileRunningStopsTheDevice) {
  make_memory();
  EXPECT_TRUE(fe_->send_u64(Request::SET_PROTOCOL_FEATURES, bit(kProtocolReplyAck)));
  EXPECT_TRUE(step());
  EXPECT_EQ(set_u64(Request::SET_FEATURES, bit(VIRTIO_F_VERSION_1) | bit(30)), 0);
  EXPECT_EQ(set_mem_table({{0, kRegionSize, kUserBase, 0}}, {memfd_.get()}), 0);
  setup_ring(0, kUserBase);
  setup_ring(1, kUserBase + 0x10000);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{0, 1}), 0);
  EXPECT_EQ(set_value(Request::SET_VRING_ENABLE, vhost_vring_state{1, 1}), 0);
  ASSERT_TRUE(backend_->started());
  EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{1, 128}), 0);
  EXPECT_EQ(rec_.stopped, 1);
  EXPECT_EQ(rec_.started, 2);  // still translatable with the smaller size: ready again
  EXPECT_EQ(backend_->ring(1).num, 128u);
}

TEST_F(NegotiationTest, ControlQueueAddsARing) {
  BackendConfig config;
  config.max_queue_pairs = 1;
  config.control_queue = true;
  VhostUserBackend b(std::move(config), nullptr);
  EXPECT_EQ(b.num_rings(), 3u);
}

}  // namespace
}  // namespace ferry::vhost::testing
