// A guest's receive filter from its virtio-net control queue to the bridge, end to end: a
// real VhostUserPort in a Datapath (run_once, no threads), driven by Ferry's own in-process
// front-end (vhost-user messages over the socket and the driver side of the rings in a
// shared memfd), with patch ports whose far ends the test drives as hosts.
//
// The front-end here is the test's own on purpose: QEMU (7.2) and DPDK's virtio-user keep
// the control queue of a vhost-user device to themselves, so no control command of theirs
// ever reaches the back-end; a driver that hands the control queue to the device is what
// this path serves.

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <linux/virtio_config.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include "../vhost/test_frontend.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "port/patch_port.h"
#include "port/vhost_user_port.h"
#include "runtime/bridge_switcher.h"
#include "runtime/datapath.h"
#include "runtime/stats_report.h"
#include "virtio/features.h"
#include "virtio/split_virtqueue_driver.h"
#include "virtio/virtio_net_abi.h"

namespace ferry::runtime {
namespace {

using vhost::Request;
using vhost::UniqueFd;
using virtio::feature_bit;
using Mac = std::array<uint8_t, 6>;

constexpr uint64_t kMemSize = 1 << 20;
constexpr uint64_t kUserBase = 0x7f4400000000;
constexpr uint16_t kRingSize = 256;
constexpr uint64_t kProtocolFeaturesBit = 1ull << 30;
constexpr uint64_t kRxBuffers = 0x80000;  // guest rx buffers, kRxBufLen each
constexpr uint32_t kRxBufLen = 2048;
constexpr uint64_t kCtrlCmd = 0xc0000;  // control command and its ack byte
constexpr uint32_t kHdrLen = 12;        // virtio_net_hdr_v1 (VERSION_1)

constexpr Mac kGuestMac = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};  // VhostUserPortConfig's
constexpr Mac kHostMac = {0x52, 0x54, 0x00, 0x00, 0x00, 0x10};
constexpr Mac kUnknownMac = {0x52, 0x54, 0x00, 0x00, 0x00, 0x99};
constexpr Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Mac kGroup = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};       // the guest joins this
constexpr Mac kOtherGroup = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x02};  // ... not this

constexpr uint64_t kGuestFeatures =
    feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_MRG_RXBUF) |
    feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
    feature_bit(VIRTIO_NET_F_CTRL_VLAN);

uint64_t ring_gpa(uint32_t index) {
  return 0x10000ull * (index + 1);
}

// Ethernet (+ 802.1Q tag when vlan >= 0), a local experimental EtherType, 46 bytes.
std::vector<uint8_t> frame(const Mac& dst, int vlan = -1, uint8_t fill = 0x5a) {
  std::vector<uint8_t> f(dst.begin(), dst.end());
  f.insert(f.end(), kHostMac.begin(), kHostMac.end());
  if (vlan >= 0) {
    f.insert(f.end(), {0x81, 0x00, static_cast<uint8_t>(vlan >> 8), static_cast<uint8_t>(vlan)});
  }
  f.insert(f.end(), {0x88, 0xb5});
  f.insert(f.end(), 46, fill);
  return f;
}

// What the guest found in its rx ring: destination and VLAN (-1: untagged).
struct Delivered {
  Mac dst;
  int vlan;
};

class GuestRxFilterTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kHost = 0, kObserver = 1, kGuest = 2;

  void SetUp() override {
    char tmpl[] = "/tmp/ferry-rxfilter-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    BufferPool::Config pc;
    pc.name = "hosts";
    pc.buffer_count = 1024;
    pool_ = BufferPool::create(pc);
    memfd_ = vhost::testing::make_memfd(kMemSize);
    mem_ = static_cast<uint8_t*>(
        mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 0));
    ASSERT_NE(mem_, MAP_FAILED);
    std::string error;
    ASSERT_TRUE(drv_mem_.add_region({0, kMemSize, kUserBase, mem_}, &error)) << error;
  }
  void TearDown() override {
    drain(kHost);
    drain(kObserver);
    dp_.reset();
    hosts_.clear();
    fe_.reset();
    sock_.reset();
    munmap(mem_, kMemSize);
    unlink((dir_ + "/guest.sock").c_str());
    rmdir(dir_.c_str());
  }

  // A host and an observer patch port on worker 0, the guest's vhost-user port on
  // guest_worker; every port a trunk for all VLANs with VLAN 1 untagged.
  void make_datapath(uint16_t workers, uint16_t guest_worker) {
    DatapathConfig c;
    c.workers = workers;
    c.pool_buffers = 2048;
    c.log = [](const std::string&) {};
    dp_ = std::make_unique<Datapath>(c);
    for (const char* name : {"host", "observer"}) {
      auto [sw, host] = port::PatchPort::create_pair(name, std::string(name) + "-far");
      PortOptions o;
      o.worker = 0;
      dp_->add_port(std::move(sw), o);
      hosts_.push_back(std::move(host));
    }
    guest_worker_ = guest_worker;
    Worker& w = dp_->worker(guest_worker);
    port::VhostUserPortConfig pc;
    pc.name = "guest";
    pc.socket_path = dir_ + "/guest.sock";
    pc.pool = &w.pool();
    pc.log = [](std::string_view) {};
    auto port = std::make_unique<port::VhostUserPort>(w.loop(), pc);
    guest_ = port.get();
    std::string error;
    ASSERT_TRUE(guest_->start(&error)) << error;
    PortOptions o;
    o.worker = guest_worker;
    ASSERT_EQ(dp_->add_port(std::move(port), o), kGuest);
    ForwardingConfig fc = dp_->default_forwarding();
    for (PortForwarding& p : fc.ports) {
      p.vlan_mode = VlanMode::kTrunk;
      p.native_vlan = 1;
    }
    dp_->publish(fc);
    dp_->prepare();
  }

  void pump() {
    for (int i = 0; i < 50; i++)
      dp_->worker(guest_worker_).loop().run_once(1);
  }
  // Every worker once, `turns` times (the guest's worker last, so frames handed to it
  // are delivered in the same turn).
  void run(int turns = 2) {
    for (int t = 0; t < turns; t++) {
      for (uint16_t w = 0; w < dp_->worker_count(); w++) {
        if (w != guest_worker_) dp_->worker(w).run_once();
      }
      dp_->worker(guest_worker_).run_once();
    }
  }

  // Connects the front-end and negotiates rings 0 (rx), 1 (tx), 2 (control).
  void connect_guest() {
    drivers_.clear();
    calls_.clear();
    rx_heads_.clear();
    sock_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = dir_ + "/guest.sock";
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    fe_ = std::make_unique<vhost::testing::TestFrontend>(sock_.get());
    pump();
    for (uint32_t i = 0; i < 3; i++) {
      virtio::SplitVirtqueueDriver::Options o;
      o.size = kRingSize;
      o.desc_gpa = ring_gpa(i);
      o.avail_gpa = ring_gpa(i) + 0x1000;
      o.used_gpa = ring_gpa(i) + 0x2000;
      drivers_.push_back(std::make_unique<virtio::SplitVirtqueueDriver>(drv_mem_, o));
      ASSERT_TRUE(drivers_.back()->ok());
    }
    ASSERT_TRUE(fe_->send_empty(Request::SET_OWNER));
    ASSERT_TRUE(fe_->send_u64(Request::SET_FEATURES, kGuestFeatures | kProtocolFeaturesBit));
    vhost::MemoryTable t{};
    t.num_regions = 1;
    t.regions[0] = {0, kMemSize, kUserBase, 0};
    ASSERT_TRUE(
        fe_->send(Request::SET_MEM_TABLE, &t, vhost::kMemoryTableHeaderSize + 32, {memfd_.get()}));
    pump();
    for (uint32_t i = 0; i < 3; i++) {
      ASSERT_TRUE(fe_->send_value(Request::SET_VRING_NUM, vhost_vring_state{i, kRingSize}));
      ASSERT_TRUE(fe_->send_value(Request::SET_VRING_BASE, vhost_vring_state{i, 0}));
      vhost_vring_addr a{};
      a.index = i;
      a.desc_user_addr = kUserBase + ring_gpa(i);
      a.avail_user_addr = kUserBase + ring_gpa(i) + 0x1000;
      a.used_user_addr = kUserBase + ring_gpa(i) + 0x2000;
      ASSERT_TRUE(fe_->send_value(Request::SET_VRING_ADDR, a));
      calls_.emplace_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      UniqueFd kick(eventfd(0, EFD_CLOEXEC));
      ASSERT_TRUE(fe_->send_u64(Request::SET_VRING_KICK, i, {kick.get()}));
      ASSERT_TRUE(fe_->send_u64(Request::SET_VRING_CALL, i, {calls_.back().get()}));
      ASSERT_TRUE(fe_->send_value(Request::SET_VRING_ENABLE, vhost_vring_state{i, 1}));
      pump();
    }
    ASSERT_TRUE(guest_->link_up());
    // Receive buffers for the guest.
    for (uint32_t i = 0; i < 32; i++) {
      virtio::DriverBuffer b{kRxBuffers + uint64_t{i} * kRxBufLen, kRxBufLen, true};
      int head = drivers_[0]->add_chain(&b, 1);
      ASSERT_GE(head, 0);
      rx_heads_[static_cast<uint16_t>(head)] = b.gpa;
    }
    drivers_[0]->publish();
  }

  void disconnect_guest() {
    fe_.reset();
    sock_.reset();
    pump();
  }

  // Sends one command on the control queue; the guest's worker answers it in its next
  // turn. Returns the ack byte.
  uint8_t command(const std::vector<uint8_t>& cmd) {
    std::memcpy(mem_ + kCtrlCmd, cmd.data(), cmd.size());
    mem_[kCtrlCmd + 0x1000] = 0xee;
    virtio::DriverBuffer b[2] = {{kCtrlCmd, static_cast<uint32_t>(cmd.size()), false},
                                 {kCtrlCmd + 0x1000, 1, true}};
    EXPECT_GE(drivers_[2]->add_chain(b, 2), 0);
    drivers_[2]->publish();
    dp_->worker(guest_worker_).run_once();
    virtio::DriverUsed u;
    EXPECT_TRUE(drivers_[2]->get_used(&u));
    EXPECT_EQ(u.len, 1u);
    return mem_[kCtrlCmd + 0x1000];
  }
  // VIRTIO_NET_CTRL_MAC_TABLE_SET with these unicast and multicast lists.
  uint8_t mac_table(const std::vector<Mac>& uni, const std::vector<Mac>& multi) {
    std::vector<uint8_t> cmd = {VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET};
    for (const std::vector<Mac>* list : {&uni, &multi}) {
      uint32_t n = htole32(static_cast<uint32_t>(list->size()));
      const auto* p = reinterpret_cast<const uint8_t*>(&n);
      cmd.insert(cmd.end(), p, p + 4);
      for (const Mac& m : *list)
        cmd.insert(cmd.end(), m.begin(), m.end());
    }
    return command(cmd);
  }

  void send(const std::vector<std::vector<uint8_t>>& frames) {
    for (const auto& bytes : frames) {
      Packet* p = packet_from_bytes(*pool_, bytes);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(hosts_[kHost]->tx_burst(0, &p, 1), 1);
    }
  }
  // Frames the guest found in its rx ring since the last call; each buffer is posted again.
  std::vector<Delivered> guest_received() {
    std::vector<Delivered> out;
    virtio::DriverUsed u;
    while (drivers_[0]->get_used(&u)) {
      const uint8_t* f = mem_ + rx_heads_.at(u.id) + kHdrLen;
      Delivered d;
      std::memcpy(d.dst.data(), f, 6);
      d.vlan = f[12] == 0x81 && f[13] == 0x00 ? ((f[14] << 8) | f[15]) & 0xfff : -1;
      out.push_back(d);
      virtio::DriverBuffer b{rx_heads_.at(u.id), kRxBufLen, true};
      rx_heads_.erase(u.id);
      int head = drivers_[0]->add_chain(&b, 1);
      EXPECT_GE(head, 0);
      rx_heads_[static_cast<uint16_t>(head)] = b.gpa;
    }
    drivers_[0]->publish();
    return out;
  }
  size_t drain(uint16_t host) {
    size_t n = 0;
    if (host >= hosts_.size()) return 0;
    Packet* pkts[64];
    uint16_t k;
    while ((k = hosts_[host]->rx_burst(0, pkts, 64)) != 0) {
      n += k;
      free_packets(pkts, k);
    }
    return n;
  }

  std::string dir_;
  std::unique_ptr<BufferPool> pool_;
  UniqueFd memfd_;
  uint8_t* mem_ = nullptr;
  virtio::GuestMemory drv_mem_;
  std::unique_ptr<Datapath> dp_;
  std::vector<std::unique_ptr<port::PatchPort>> hosts_;
  port::VhostUserPort* guest_ = nullptr;
  uint16_t guest_worker_ = 0;
  UniqueFd sock_;
  std::unique_ptr<vhost::testing::TestFrontend> fe_;
  std::vector<std::unique_ptr<virtio::SplitVirtqueueDriver>> drivers_;
  std::vector<UniqueFd> calls_;
  std::map<uint16_t, uint64_t> rx_heads_;  // rx ring head -> buffer gpa
};

bool has(const std::vector<Delivered>& got, const Mac& dst, int vlan = -1) {
  for (const Delivered& d : got) {
    if (d.dst == dst && d.vlan == vlan) return true;
  }
  return false;
}

TEST_F(GuestRxFilterTest, ControlQueueProgramsTheBridge) {
  make_datapath(1, 0);
  connect_guest();
  run();
  // An unprogrammed virtio-net device is promiscuous.
  EXPECT_TRUE(dp_->rx_promisc(kGuest));
  send({frame(kUnknownMac)});
  run();
  EXPECT_EQ(guest_received().size(), 1u);
  EXPECT_EQ(drain(kObserver), 1u);

  // What a Linux driver sends at interface up: promiscuous off, no extra unicast, the
  // multicast groups it joined; and a VLAN it uses.
  EXPECT_EQ(command({VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(mac_table({}, {kGroup}), VIRTIO_NET_OK);
  EXPECT_EQ(command({VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 100, 0}), VIRTIO_NET_OK);
  uint64_t snapshots = dp_->worker(0).counters().snapshots;
  run(1);
  EXPECT_FALSE(dp_->rx_promisc(kGuest));
  EXPECT_GT(dp_->worker(0).counters().snapshots, snapshots);
  EXPECT_TRUE(dp_->rx_promisc(kHost));  // patch ports have no filter

  send({frame(kUnknownMac), frame(kOtherGroup), frame(kGuestMac, 200),  // refused
        frame(kGuestMac), frame(kBroadcast), frame(kGroup), frame(kGuestMac, 100)});
  run();
  std::vector<Delivered> got = guest_received();
  EXPECT_EQ(got.size(), 4u);
  EXPECT_TRUE(has(got, kGuestMac));
  EXPECT_TRUE(has(got, kBroadcast));
  EXPECT_TRUE(has(got, kGroup));
  EXPECT_TRUE(has(got, kGuestMac, 100));
  EXPECT_FALSE(has(got, kUnknownMac));
  EXPECT_FALSE(has(got, kOtherGroup));
  EXPECT_FALSE(has(got, kGuestMac, 200));
  EXPECT_EQ(dp_->rx_filtered(kGuest), 3u);
  EXPECT_EQ(dp_->rx_filtered(kObserver), 0u);
  EXPECT_EQ(drain(kObserver), 7u);  // the floods still reach the other ports

  nlohmann::json j = stats_json(*dp_);
  EXPECT_EQ(j["ports"][kGuest]["rx_filter"]["promisc"], false);
  EXPECT_EQ(j["ports"][kGuest]["rx_filter"]["dropped"], 3u);
  EXPECT_EQ(j["ports"][kHost]["rx_filter"]["promisc"], true);
  EXPECT_NE(stats_text(*dp_).find("rx filter dropped 3"), std::string::npos);

  // Promiscuous again: everything arrives.
  EXPECT_EQ(command({VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1}), VIRTIO_NET_OK);
  run(1);
  EXPECT_TRUE(dp_->rx_promisc(kGuest));
  send({frame(kUnknownMac), frame(kOtherGroup), frame(kGuestMac, 200)});
  run();
  got = guest_received();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_TRUE(has(got, kGuestMac, 200));
  EXPECT_EQ(dp_->rx_filtered(kGuest), 3u);
}

TEST_F(GuestRxFilterTest, ResetRestoresTheDefault) {
  make_datapath(1, 0);
  connect_guest();
  EXPECT_EQ(command({VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}), VIRTIO_NET_OK);
  run(1);
  EXPECT_FALSE(dp_->rx_promisc(kGuest));
  send({frame(kUnknownMac), frame(kGuestMac)});
  run();
  std::vector<Delivered> got = guest_received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(has(got, kGuestMac));

  // The front-end goes away (a guest reset or reconnect ends the same way: the device
  // stops) and comes back: the filter is the device's default again.
  uint64_t generation = guest_->rx_filter_generation();
  disconnect_guest();
  EXPECT_FALSE(guest_->link_up());
  EXPECT_NE(guest_->rx_filter_generation(), generation);
  run(1);
  EXPECT_TRUE(dp_->rx_promisc(kGuest));
  connect_guest();
  run(1);
  EXPECT_TRUE(dp_->rx_promisc(kGuest));
  send({frame(kUnknownMac)});
  run();
  EXPECT_EQ(guest_received().size(), 1u);

  // A VLAN filter comes with CTRL_VLAN: once promiscuous mode is off, tagged frames need
  // a VLAN_ADD, untagged ones do not.
  EXPECT_EQ(command({VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}), VIRTIO_NET_OK);
  run(1);
  send({frame(kGuestMac, 5), frame(kGuestMac)});
  run();
  got = guest_received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].vlan, -1);
}

TEST_F(GuestRxFilterTest, FilterReachesAWorkerThatDoesNotOwnThePort) {
  // The host and observer are on worker 0, the guest on worker 1: worker 0's bridge
  // decides on frames for the guest with the filter worker 1 published.
  make_datapath(2, 1);
  connect_guest();
  run();
  EXPECT_EQ(command({VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(mac_table({}, {kGroup}), VIRTIO_NET_OK);
  uint64_t snapshots = dp_->worker(0).counters().snapshots;
  dp_->worker(1).run_once();  // the owner publishes
  dp_->worker(0).run_once();  // the other worker picks it up
  EXPECT_GT(dp_->worker(0).counters().snapshots, snapshots);
  EXPECT_FALSE(dp_->rx_promisc(kGuest));

  send(
      {frame(kUnknownMac), frame(kOtherGroup), frame(kGuestMac), frame(kBroadcast), frame(kGroup)});
  run();
  std::vector<Delivered> got = guest_received();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_TRUE(has(got, kGuestMac));
  EXPECT_TRUE(has(got, kBroadcast));
  EXPECT_TRUE(has(got, kGroup));
  // Worker 0 refused the others: they never crossed to worker 1.
  EXPECT_EQ(dp_->port_counters(kGuest).handoff_out, 3u);
  EXPECT_EQ(dp_->rx_filtered(kGuest), 2u);
  EXPECT_EQ(drain(kObserver), 5u);
}

TEST(ToBridgeFilter, FollowsTheDeviceSemantics) {
  port::ReceiveFilter f;
  sw::RxFilter r = to_bridge_filter(f);
  EXPECT_TRUE(r.promisc());  // the default takes everything
  f.promisc = false;
  f.mac = kGuestMac;
  f.multicast = {kGroup};
  r = to_bridge_filter(f);
  proto::MacAddress own, other, group, other_group;
  std::memcpy(own.bytes, kGuestMac.data(), 6);
  std::memcpy(other.bytes, kUnknownMac.data(), 6);
  std::memcpy(group.bytes, kGroup.data(), 6);
  std::memcpy(other_group.bytes, kOtherGroup.data(), 6);
  EXPECT_TRUE(r.accepts(own, false, 0));
  EXPECT_FALSE(r.accepts(other, false, 0));
  EXPECT_TRUE(r.accepts(group, false, 0));
  EXPECT_FALSE(r.accepts(other_group, false, 0));
  EXPECT_TRUE(r.accepts(own, true, 7));  // no VLAN filter without CTRL_VLAN
  // A multicast table longer than the bridge keeps overflows: every group is taken.
  f.multicast.assign(sw::RxFilter::kMacTableEntries + 1, kGroup);
  EXPECT_TRUE(to_bridge_filter(f).accepts(other_group, false, 0));
  f.vlan_filter = true;
  f.vlans.set(7);
  r = to_bridge_filter(f);
  EXPECT_TRUE(r.accepts(own, true, 7));
  EXPECT_FALSE(r.accepts(own, true, 8));
  f.nobcast = true;
  EXPECT_FALSE(to_bridge_filter(f).accepts(proto::kBroadcastMac, false, 0));
}

}  // namespace
}  // namespace ferry::runtime
