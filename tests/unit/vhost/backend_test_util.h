#pragma once

// Fixture shared by the back-end tests: a VhostUserBackend on one end of a socketpair, a
// TestFrontend on the other, an observer that records events, and a leak check (fds and
// mappings back to the baseline) when each test ends.

#include <memory>
#include <string>
#include <vector>

#include <linux/virtio_config.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "test_frontend.h"
#include "vhost/backend.h"
#include "virtio_net_uapi.h"

namespace ferry::vhost::testing {

inline constexpr uint64_t bit(unsigned n) {
  return 1ull << n;
}

inline constexpr uint64_t kNetFeatures =
    bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_NET_F_MRG_RXBUF) | bit(VIRTIO_RING_F_INDIRECT_DESC) |
    bit(VIRTIO_RING_F_EVENT_IDX) | bit(VIRTIO_F_RING_PACKED) | bit(VIRTIO_F_IN_ORDER) |
    bit(VIRTIO_NET_F_MQ) | bit(VIRTIO_NET_F_CTRL_VQ) | bit(VIRTIO_NET_F_CSUM) |
    bit(VIRTIO_NET_F_GUEST_CSUM) | bit(VIRTIO_NET_F_CTRL_RX) | bit(VIRTIO_NET_F_MAC);

struct Recorder : BackendObserver {
  std::vector<std::string> events;
  uint64_t features = 0;
  int started = 0, stopped = 0;
  std::array<uint8_t, 6> mac{};
  uint32_t stop_base = 0;  // base returned at GET_VRING_BASE (0: echo the set one)
  void on_features_set(uint64_t f) override {
    features = f;
    events.push_back("features");
  }
  void on_device_started() override {
    started++;
    events.push_back("started");
  }
  void on_device_stopped() override {
    stopped++;
    events.push_back("stopped");
  }
  void on_ring_enabled(uint32_t ring, bool on) override {
    events.push_back((on ? "enable " : "disable ") + std::to_string(ring));
  }
  void on_ring_fds_changed(uint32_t ring) override {
    events.push_back("fds " + std::to_string(ring));
  }
  uint32_t on_ring_stopped(uint32_t ring, uint32_t base) override {
    events.push_back("ring stopped " + std::to_string(ring));
    return stop_base ? stop_base : base;
  }
  void on_rarp(const std::array<uint8_t, 6>& m) override {
    mac = m;
    events.push_back("rarp");
  }
};

class BackendTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kRegionSize = 1 << 20;
  static constexpr uint32_t kRingSize = 256;

  void SetUp() override {
    baseline_fds_ = count_fds();
    baseline_maps_ = count_mappings();
    make_backend(kSupportedProtocolFeatures);
  }
  void TearDown() override {
    backend_.reset();
    frontend_sock_.reset();
    memfd_.reset();
    EXPECT_EQ(count_fds(), baseline_fds_) << "fd leak";
    EXPECT_EQ(count_mappings(), baseline_maps_) << "mapping leak";
  }

  void make_backend(uint64_t protocol_features, uint32_t pairs = 2) {
    backend_.reset();
    BackendConfig config;
    config.name = "test";
    config.device_features = kNetFeatures;
    config.protocol_features = protocol_features;
    config.max_queue_pairs = pairs;
    config.config_space = {0x52, 0x54, 0, 0, 0, 1, 1, 0, 2, 0, 0xdc, 0x05};
    config.log = [this](std::string_view line) { logs_.emplace_back(line); };
    config.trace = [this](const Header& h) { trace_.push_back(static_cast<Request>(h.request)); };
    backend_ = std::make_unique<VhostUserBackend>(std::move(config), &rec_);
    connect();
  }

  void connect() {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    backend_->attach(UniqueFd(sv[0]));
    frontend_sock_.reset(sv[1]);
    fe_ = std::make_unique<TestFrontend>(sv[1]);
  }

  // Lets the back-end process one message; false if it closed the connection.
  bool step() { return backend_->on_readable(); }

  uint64_t get_u64(Request r) {
    EXPECT_TRUE(fe_->send_empty(r));
    EXPECT_TRUE(step());
    Message reply;
    EXPECT_TRUE(fe_->recv(&reply));
    EXPECT_EQ(reply.header.request, static_cast<uint32_t>(r));
    EXPECT_EQ(reply.header.flags, kFlagVersion | kFlagReply);
    EXPECT_EQ(reply.header.size, 8u);
    return reply.u64();
  }
  // The REPLY_ACK value for the message just sent with NEED_REPLY (-1: no reply).
  int64_t ack() {
    Message reply;
    if (!fe_->recv(&reply, 500)) return -1;
    EXPECT_EQ(reply.header.flags, kFlagVersion | kFlagReply);
    EXPECT_EQ(reply.header.size, 8u);
    return static_cast<int64_t>(reply.u64());
  }
  // Sends a u64 request with NEED_REPLY and returns the ack.
  int64_t set_u64(Request r, uint64_t v, const std::vector<int>& fds = {}) {
    EXPECT_TRUE(fe_->send_u64(r, v, fds, true));
    EXPECT_TRUE(step());
    return ack();
  }
  template <typename T>
  int64_t set_value(Request r, const T& v, const std::vector<int>& fds = {}) {
    EXPECT_TRUE(fe_->send_value(r, v, fds, true));
    EXPECT_TRUE(step());
    return ack();
  }
  int64_t set_mem_table(const std::vector<MemoryRegionDesc>& regions, const std::vector<int>& fds) {
    MemoryTable t{};
    t.num_regions = static_cast<uint32_t>(regions.size());
    for (size_t i = 0; i < regions.size() && i < kMaxMemoryRegions; i++)
      t.regions[i] = regions[i];
    uint32_t size = kMemoryTableHeaderSize +
                    static_cast<uint32_t>(std::min(regions.size(), kMaxMemoryRegions)) * 32;
    EXPECT_TRUE(fe_->send(Request::SET_MEM_TABLE, &t, size, fds, kFlagVersion | kFlagNeedReply));
    EXPECT_TRUE(step());
    return ack();
  }

  // A memfd of two regions' worth, also mapped here so tests can look at guest memory.
  void make_memory(uint64_t size = 2 * kRegionSize) {
    memfd_ = make_memfd(size);
    ASSERT_TRUE(memfd_.valid());
  }

  // Configures one ring fully (num, base, addresses at `uaddr`, kick and call eventfds).
  void setup_ring(uint32_t index, uint64_t uaddr, uint32_t base = 0) {
    EXPECT_EQ(set_value(Request::SET_VRING_NUM, vhost_vring_state{index, kRingSize}), 0);
    EXPECT_EQ(set_value(Request::SET_VRING_BASE, vhost_vring_state{index, base}), 0);
    vhost_vring_addr a{};
    a.index = index;
    a.desc_user_addr = uaddr;
    a.avail_user_addr = uaddr + 16 * kRingSize;
    a.used_user_addr = uaddr + 16 * kRingSize + 4096;
    EXPECT_EQ(set_value(Request::SET_VRING_ADDR, a), 0);
    UniqueFd kick(eventfd(0, EFD_CLOEXEC)), call(eventfd(0, EFD_CLOEXEC));
    EXPECT_EQ(set_u64(Request::SET_VRING_KICK, index, {kick.get()}), 0);
    EXPECT_EQ(set_u64(Request::SET_VRING_CALL, index, {call.get()}), 0);
  }

  RejectReason last() const { return backend_->last_reject(); }

  int baseline_fds_ = 0;
  int baseline_maps_ = 0;
  Recorder rec_;
  std::vector<std::string> logs_;
  std::vector<Request> trace_;
  std::unique_ptr<VhostUserBackend> backend_;
  UniqueFd frontend_sock_;
  std::unique_ptr<TestFrontend> fe_;
  UniqueFd memfd_;
};

}  // namespace ferry::vhost::testing
