// VhostUserPort against an in-process front-end: vhost-user messages over its socket and
// the driver side of the rings (SplitVirtqueueDriver) in a shared memfd.

#include "port/vhost_user_port.h"

#include <cstring>
#include <memory>
#include <vector>

#include <linux/virtio_config.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include "../vhost/test_frontend.h"
#include "csum/packet_checksum.h"
#include "offload/rsc.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"
#include "virtio/features.h"
#include "virtio/inflight.h"
#include "virtio/split_virtqueue.h"
#include "virtio/split_virtqueue_driver.h"
#include "virtio/virtio_net_abi.h"

namespace ferry::port {
namespace {

using vhost::Request;
using vhost::UniqueFd;
using virtio::feature_bit;

constexpr uint64_t kMemSize = 1 << 20;
constexpr uint64_t kUserBase = 0x7f3300000000;
constexpr uint16_t kRingSize = 256;
constexpr uint64_t kProtocolFeaturesBit = 1ull << 30;

uint64_t ring_gpa(uint32_t index) {
  return 0x10000ull * (index + 1);
}

// RFC 1071 sum of bytes, folded (not complemented).
uint16_t fold_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

class VhostUserPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-port-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    BufferPool::Config pc;
    pc.name = "port-test";
    pc.buffer_count = 512;
    pool_ = BufferPool::create(pc);
    memfd_ = vhost::testing::make_memfd(kMemSize);
    mem_ = static_cast<uint8_t*>(
        mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 0));
    ASSERT_NE(mem_, MAP_FAILED);
    std::string error;
    ASSERT_TRUE(drv_mem_.add_region({0, kMemSize, kUserBase, mem_}, &error)) << error;
  }
  void TearDown() override {
    port_.reset();
    fe_.reset();
    sock_.reset();
    munmap(mem_, kMemSize);
    rmdir(dir_.c_str());
  }

  void pump() {
    for (int i = 0; i < 50; i++)
      loop_.run_once(1);
  }

  enum class Inflight { kNone, kGet, kSet };

  // Starts the port and negotiates `features` with rings 0, 1 (and 2, the control queue,
  // with CTRL_VQ). With kGet the front-end asks for an inflight area, with kSet it hands
  // the one it got back (a restarted back-end); the rings then start at their used index.
  void start(uint64_t features, Inflight inflight = Inflight::kNone) {
    VhostUserPortConfig c;
    c.name = "t";
    c.socket_path = dir_ + "/s.sock";
    c.pool = pool_.get();
    c.log = [this](std::string_view line) { logs_.emplace_back(line); };
    port_ = std::make_unique<VhostUserPort>(loop_, c);
    std::string error;
    ASSERT_TRUE(port_->start(&error)) << error;
    sock_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, c.socket_path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    fe_ = std::make_unique<vhost::testing::TestFrontend>(sock_.get());
    pump();

    uint32_t rings = virtio::has_feature(features, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2;
    for (uint32_t i = drivers_.size(); i < rings; i++) {
      virtio::SplitVirtqueueDriver::Options o;
      o.size = kRingSize;
      o.desc_gpa = ring_gpa(i);
      o.avail_gpa = ring_gpa(i) + 0x1000;
      o.used_gpa = ring_gpa(i) + 0x2000;
      drivers_.push_back(std::make_unique<virtio::SplitVirtqueueDriver>(drv_mem_, o));
      ASSERT_TRUE(drivers_.back()->ok());
    }
    ASSERT_TRUE(fe_->send_empty(Request::SET_OWNER));
    ASSERT_TRUE(fe_->send_u64(Request::SET_FEATURES, features | kProtocolFeaturesBit));
    if (inflight != Inflight::kNone) {
      ASSERT_TRUE(
          fe_->send_u64(Request::SET_PROTOCOL_FEATURES, 1ull << vhost::kProtocolInflightShmfd));
      if (inflight == Inflight::kGet) {
        ASSERT_TRUE(
            fe_->send_value(Request::GET_INFLIGHT_FD, vhost::InflightDesc{0, 0, 2, kRingSize, 0}));
        pump();
        vhost::Message reply;
        ASSERT_TRUE(fe_->recv(&reply));
        ASSERT_EQ(reply.fds.size(), 1u);
        inflight_desc_ = reply.get<vhost::InflightDesc>();
        inflight_fd_ = std::move(reply.fds[0]);
      } else {
        ASSERT_TRUE(
            fe_->send_value(Request::SET_INFLIGHT_FD, inflight_desc_, {inflight_fd_.get()}));
      }
    }
    calls_.clear();
    vhost::MemoryTable t{};
    t.num_regions = 1;
    t.regions[0] = {0, kMemSize, kUserBase, 0};
    ASSERT_TRUE(
        fe_->send(Request::SET_MEM_TABLE, &t, vhost::kMemoryTableHeaderSize + 32, {memfd_.get()}));
    pump();
    for (uint32_t i = 0; i < rings; i++) {
      ASSERT_TRUE(fe_->send_value(Request::SET_VRING_NUM, vhost_vring_state{i, kRingSize}));
      // The base a front-end sends after losing the back-end: the used index.
      uint16_t used_idx;
      std::memcpy(&used_idx, mem_ + ring_gpa(i) + 0x2000 + 2, 2);
      ASSERT_TRUE(fe_->send_value(Request::SET_VRING_BASE, vhost_vring_state{i, used_idx}));
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
    ASSERT_TRUE(port_->link_up());
    ASSERT_EQ(port_->num_queues(), 1);
  }

  uint64_t read_call(uint32_t ring) {
    uint64_t v = 0;
    if (read(calls_[ring].get(), &v, sizeof(v)) != sizeof(v)) return 0;
    return v;
  }

  // Guest tx: header + frame in `pieces` descriptors at gpa `at`.
  void guest_send(const virtio_net_hdr_v1& h, const std::vector<uint8_t>& frame, uint64_t at,
                  bool split_header = false) {
    std::memcpy(mem_ + at, &h, sizeof(h));
    std::memcpy(mem_ + at + sizeof(h), frame.data(), frame.size());
    std::vector<virtio::DriverBuffer> bufs;
    if (split_header) {
      bufs.push_back({at, 12, false});
      bufs.push_back({at + 12, static_cast<uint32_t>(frame.size()), false});
    } else {
      bufs.push_back({at, static_cast<uint32_t>(12 + frame.size()), false});
    }
    ASSERT_GE(drivers_[1]->add_chain(bufs.data(), static_cast<uint16_t>(bufs.size())), 0);
    drivers_[1]->publish();
  }

  void post_rx_buffers(int n, uint32_t len, uint64_t at) {
    for (int i = 0; i < n; i++) {
      virtio::DriverBuffer b{at + uint64_t(i) * len, len, true};
      ASSERT_GE(drivers_[0]->add_chain(&b, 1), 0);
    }
    drivers_[0]->publish();
  }

  uint64_t drops(DropReason r) const { return port_->stats().tx.drops[static_cast<unsigned>(r)]; }

  std::string dir_;
  vhost::EventLoop loop_;
  std::unique_ptr<BufferPool> pool_;
  UniqueFd memfd_;
  uint8_t* mem_ = nullptr;
  virtio::GuestMemory drv_mem_;
  std::unique_ptr<VhostUserPort> port_;
  UniqueFd sock_;
  std::unique_ptr<vhost::testing::TestFrontend> fe_;
  std::vector<std::unique_ptr<virtio::SplitVirtqueueDriver>> drivers_;
  std::vector<UniqueFd> calls_;
  std::vector<std::string> logs_;
  UniqueFd inflight_fd_;
  vhost::InflightDesc inflight_desc_{};
};

constexpr uint64_t kBase = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_MRG_RXBUF);

TEST_F(VhostUserPortTest, GuestFrameBecomesPacketWithOffloadState) {
  start(kBase | feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_CSUM));
  EXPECT_NE(port_->capabilities() & kCapTxCsum, 0u);
  EXPECT_NE(port_->capabilities() & kCapRxCsum, 0u);
  std::vector<uint8_t> frame(60);
  for (size_t i = 0; i < frame.size(); i++)
    frame[i] = static_cast<uint8_t>(i);
  virtio_net_hdr_v1 h{};
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.csum_start = 34;
  h.csum_offset = 6;
  guest_send(h, frame, 0x80000);
  Packet* pkts[8];
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 1);
  EXPECT_EQ(packet_to_bytes(*pkts[0]), frame);
  EXPECT_EQ(pkts[0]->csum_state(), CsumState::kPartial);
  EXPECT_EQ(pkts[0]->csum_start(), 34);
  EXPECT_EQ(pkts[0]->csum_offset(), 6);
  free_packets(pkts, 1);
  virtio::DriverUsed u;
  ASSERT_TRUE(drivers_[1]->get_used(&u));
  EXPECT_EQ(port_->stats().rx.packets, 1u);
  EXPECT_EQ(port_->stats().rx.bytes, 60u);
  EXPECT_EQ(port_->rx_burst(0, pkts, 8), 0);

  // A large frame arrives as a chain of pool buffers.
  std::vector<uint8_t> big(5000);
  for (size_t i = 0; i < big.size(); i++)
    big[i] = static_cast<uint8_t>(i * 7);
  guest_send(virtio_net_hdr_v1{}, big, 0x90000, true);
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 1);
  EXPECT_GT(pkts[0]->segment_count(), 1u);
  EXPECT_EQ(packet_to_bytes(*pkts[0]), big);
  free_packets(pkts, 1);

  // A header that points outside the frame is dropped and counted.
  h.csum_start = 100;
  guest_send(h, frame, 0x80000);
  EXPECT_EQ(port_->rx_burst(0, pkts, 8), 0);
  EXPECT_EQ(port_->stats().rx.drops[static_cast<unsigned>(DropReason::kBadHeader)], 1u);
  EXPECT_EQ(pool_->available(), pool_->capacity());

  // GET_VRING_BASE stops the device and hands back the ring position.
  ASSERT_TRUE(fe_->send_value(Request::GET_VRING_BASE, vhost_vring_state{1, 0}));
  pump();
  vhost::Message reply;
  ASSERT_TRUE(fe_->recv(&reply));
  EXPECT_EQ(reply.get<vhost_vring_state>().num, 3u);
  EXPECT_FALSE(port_->link_up());
}

TEST_F(VhostUserPortTest, HeaderIsIgnoredForDriverWithoutTxOffloads) {
  // Without CSUM or a HOST_* GSO feature the driver has nothing to say in its headers
  // (spec 5.1.6.2): whatever they hold, the frame arrives plain.
  start(kBase | feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO4));
  std::vector<uint8_t> frame(60, 0xab);
  virtio_net_hdr_v1 h{};
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.csum_start = 100;  // past the end: refused if the header counted
  h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  guest_send(h, frame, 0x80000);
  Packet* pkts[8];
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 1);
  EXPECT_EQ(packet_to_bytes(*pkts[0]), frame);
  EXPECT_EQ(pkts[0]->csum_state(), CsumState::kNone);
  EXPECT_EQ(pkts[0]->gso_type(), kGsoNone);
  free_packets(pkts, 1);
  EXPECT_EQ(port_->stats().rx.drops[static_cast<unsigned>(DropReason::kBadHeader)], 0u);

  // The same header from a driver that negotiated CSUM is refused and counted.
  start(kBase | feature_bit(VIRTIO_NET_F_CSUM));
  guest_send(h, frame, 0x80000);
  EXPECT_EQ(port_->rx_burst(0, pkts, 8), 0);
  EXPECT_EQ(port_->stats().rx.drops[static_cast<unsigned>(DropReason::kBadHeader)], 1u);
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(VhostUserPortTest, PacketSpreadsOverMergeableBuffersWithOneInterrupt) {
  start(kBase);
  post_rx_buffers(4, 64, 0x80000);
  std::vector<uint8_t> bytes(100);
  for (size_t i = 0; i < bytes.size(); i++)
    bytes[i] = static_cast<uint8_t>(0xa0 + i);
  Packet* pkts[2] = {packet_from_bytes(*pool_, bytes), packet_from_bytes(*pool_, bytes)};
  bytes.resize(10);
  pkts[1]->set_data_len(10);
  EXPECT_EQ(port_->tx_burst(0, pkts, 2), 2);
  EXPECT_EQ(pool_->available(), pool_->capacity());
  virtio::DriverUsed u;
  ASSERT_TRUE(drivers_[0]->get_used(&u));
  EXPECT_EQ(u.len, 64u);
  ASSERT_TRUE(drivers_[0]->get_used(&u));
  EXPECT_EQ(u.len, 48u);  // 12 + 100 = 64 + 48
  ASSERT_TRUE(drivers_[0]->get_used(&u));
  EXPECT_EQ(u.len, 22u);
  virtio_net_hdr_v1 h;
  std::memcpy(&h, mem_ + 0x80000, sizeof(h));
  EXPECT_EQ(h.num_buffers, 2);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(mem_[0x80000 + 12], 0xa0);
  EXPECT_EQ(mem_[0x80000 + 64], 0xa0 + 52);
  std::memcpy(&h, mem_ + 0x80000 + 128, sizeof(h));
  EXPECT_EQ(h.num_buffers, 1);
  // One burst, one interrupt.
  EXPECT_EQ(read_call(0), 1u);
  EXPECT_EQ(port_->stats().interrupts, 1u);
  EXPECT_EQ(port_->stats().tx.packets, 2u);

  // One buffer left: the second packet of the next burst finds the ring full.
  std::vector<uint8_t> big(100, 1);
  Packet* more[2] = {packet_from_bytes(*pool_, bytes), packet_from_bytes(*pool_, big)};
  EXPECT_EQ(port_->tx_burst(0, more, 2), 1);
  EXPECT_EQ(drops(DropReason::kRingFull), 1u);
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(VhostUserPortTest, ChecksumFinishedAndGsoRefusedForGuestWithoutOffloads) {
  start(kBase);
  EXPECT_EQ(port_->capabilities() & (kCapTxCsum | kCapTxTso4), 0u);
  post_rx_buffers(4, 2048, 0x80000);
  // Ethernet + IPv4 + UDP + 10 bytes payload, UDP checksum field = pseudo-header sum.
  std::vector<uint8_t> f(52, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f[17] = 38;  // IP total length
  f[22] = 64;
  f[23] = 17;
  uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
  std::memcpy(&f[26], src, 4);
  std::memcpy(&f[30], dst, 4);
  f[34] = 0x30;  // ports
  f[36] = 0x40;
  f[39] = 18;  // UDP length
  for (int i = 0; i < 10; i++)
    f[42 + i] = static_cast<uint8_t>(i * 13 + 1);
  uint8_t pseudo[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 18};
  uint16_t ps = fold_sum(pseudo, 12);
  f[40] = static_cast<uint8_t>(ps >> 8);
  f[41] = static_cast<uint8_t>(ps);
  Packet* p = packet_from_bytes(*pool_, f);
  p->set_csum_partial(34, 6);
  Packet* gso = packet_from_bytes(*pool_, f);
  gso->set_csum_partial(34, 6);
  gso->set_gso(kGsoTcpv4, 1000);
  Packet* pkts[2] = {p, gso};
  EXPECT_EQ(port_->tx_burst(0, pkts, 2), 1);
  EXPECT_EQ(drops(DropReason::kOffloadUnsupported), 1u);
  EXPECT_EQ(port_->stats().csum_filled, 1u);
  virtio_net_hdr_v1 h;
  std::memcpy(&h, mem_ + 0x80000, sizeof(h));
  EXPECT_EQ(h.flags, 0);  // no NEEDS_CSUM: the checksum is in the frame
  const uint8_t* udp = mem_ + 0x80000 + 12 + 34;
  EXPECT_EQ(fold_sum(udp, 18, fold_sum(pseudo, 12)), 0xffff);
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(VhostUserPortTest, TsoPacketIsSegmentedForGuestWithoutTso) {
  start(kBase);
  post_rx_buffers(8, 2048, 0x80000);
  // Ethernet + IPv4 + TCP + 3000 bytes, TSO with MSS 1000, checksum partial.
  std::vector<uint8_t> f(54 + 3000, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  uint16_t tot = 20 + 20 + 3000;
  f[16] = static_cast<uint8_t>(tot >> 8);
  f[17] = static_cast<uint8_t>(tot);
  f[22] = 64;
  f[23] = 6;
  uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(&f[26], addrs, 8);
  f[34] = 0x30;
  f[36] = 0x40;
  f[46] = 0x50;  // data offset 5
  f[47] = 0x18;  // PSH ACK
  for (size_t i = 54; i < f.size(); i++)
    f[i] = static_cast<uint8_t>(i * 3);
  // As a guest sends it: the TCP checksum field holds the pseudo-header sum.
  uint8_t whole[12] = {10,
                       0,
                       0,
                       1,
                       10,
                       0,
                       0,
                       2,
                       0,
                       6,
                       static_cast<uint8_t>(3020 >> 8),
                       static_cast<uint8_t>(3020 & 0xff)};
  uint16_t ps = fold_sum(whole, 12);
  f[50] = static_cast<uint8_t>(ps >> 8);
  f[51] = static_cast<uint8_t>(ps);
  Packet* p = packet_from_bytes(*pool_, f);
  p->set_csum_partial(34, 16);
  p->set_gso(kGsoTcpv4, 1000);
  EXPECT_EQ(port_->tx_burst(0, &p, 1), 3);
  EXPECT_EQ(port_->gso_stats().segments, 3u);
  for (int k = 0; k < 3; k++) {
    virtio::DriverUsed u;
    ASSERT_TRUE(drivers_[0]->get_used(&u));
    EXPECT_EQ(u.len, 12u + 54u + 1000u);
    const uint8_t* frame = mem_ + 0x80000 + 2048ull * k + 12;
    EXPECT_EQ((frame[16] << 8) | frame[17], 1040);
    uint8_t pseudo[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0x03, 0xfc};  // length 1020
    EXPECT_EQ(fold_sum(frame + 34, 1020, fold_sum(pseudo, 12)), 0xffff) << "segment " << k;
    EXPECT_EQ(fold_sum(frame + 14, 20), 0xffff);  // IPv4 header checksum
  }
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

// Three 1000-byte segments of one TCP flow with valid checksums, coalesced by RSC: a
// packet with RSC info (3 segments), TCPv4 GSO, its checksums no longer valid.
Packet* rsc_coalesced_packet(BufferPool& pool, std::vector<uint8_t>* payload) {
  offload::Rsc rsc;
  Packet* in[3];
  for (uint32_t k = 0; k < 3; k++) {
    std::vector<uint8_t> f(54 + 1000, 0);
    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = 1040 >> 8;
    f[17] = 1040 & 0xff;
    f[19] = static_cast<uint8_t>(k);  // IP ID
    f[20] = 0x40;                     // DF
    f[22] = 64;
    f[23] = 6;
    uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(&f[26], addrs, 8);
    f[34] = 0x30;
    f[36] = 0x40;
    uint32_t seq = 1 + 1000 * k;
    f[40] = static_cast<uint8_t>(seq >> 8);
    f[41] = static_cast<uint8_t>(seq);
    f[45] = 1;     // ACK 1
    f[46] = 0x50;  // data offset 5
    f[47] = 0x10;  // ACK
    f[48] = 0x10;  // window
    for (size_t i = 54; i < f.size(); i++) {
      f[i] = static_cast<uint8_t>((k * 1000 + i) * 5);
      payload->push_back(f[i]);
    }
    in[k] = packet_from_bytes(pool, f);
    EXPECT_EQ(proto::parse_packet(*in[k]), proto::ParseError::kOk);
    EXPECT_EQ(csum::fill_all(*in[k]), csum::CsumError::kOk);
  }
  Packet* out[6];
  EXPECT_EQ(rsc.process(in, 3, 0, out, 6).produced, 0u);
  EXPECT_EQ(rsc.flush(out, 6), 1u);
  EXPECT_TRUE(out[0]->has_rsc_info());
  return out[0];
}

TEST_F(VhostUserPortTest, RscExtIsOffered) {
  EXPECT_TRUE(virtio::has_feature(vhost_user_port_default_features(), VIRTIO_NET_F_RSC_EXT));
}

constexpr uint64_t kTso4 =
    feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO4);

TEST_F(VhostUserPortTest, RscInfoReachesAGuestWithRscExt) {
  start(kBase | kTso4 | feature_bit(VIRTIO_NET_F_RSC_EXT));
  EXPECT_NE(port_->capabilities() & kCapTxRscInfo, 0u);
  post_rx_buffers(4, 2048, 0x80000);
  std::vector<uint8_t> payload;
  Packet* p = rsc_coalesced_packet(*pool_, &payload);
  EXPECT_EQ(port_->tx_burst(0, &p, 1), 1);
  virtio_net_hdr_v1 h;
  std::memcpy(&h, mem_ + 0x80000, sizeof(h));
  EXPECT_EQ(h.flags, VIRTIO_NET_HDR_F_RSC_INFO);
  EXPECT_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
  EXPECT_EQ(h.gso_size, 1000);
  EXPECT_EQ(h.csum_start, 3);   // coalesced segments
  EXPECT_EQ(h.csum_offset, 0);  // duplicate ACKs
  EXPECT_EQ(h.num_buffers, 2);
  const uint8_t* frame = mem_ + 0x80000 + 12;
  EXPECT_EQ((frame[16] << 8) | frame[17], 3040);
  EXPECT_EQ(std::vector<uint8_t>(frame + 54, frame + 54 + 3000), payload);
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(VhostUserPortTest, RscInfoNeverReachesAGuestWithoutRscExt) {
  start(kBase | kTso4);
  EXPECT_EQ(port_->capabilities() & kCapTxRscInfo, 0u);
  post_rx_buffers(4, 2048, 0x80000);
  std::vector<uint8_t> payload;
  Packet* p = rsc_coalesced_packet(*pool_, &payload);
  EXPECT_EQ(port_->tx_burst(0, &p, 1), 1);
  // A plain TSO frame: partial checksum (pseudo-header sum over 3020 bytes), valid IPv4
  // header checksum.
  virtio_net_hdr_v1 h;
  std::memcpy(&h, mem_ + 0x80000, sizeof(h));
  EXPECT_EQ(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  EXPECT_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
  EXPECT_EQ(h.gso_size, 1000);
  EXPECT_EQ(h.csum_start, 34);
  EXPECT_EQ(h.csum_offset, 16);
  const uint8_t* frame = mem_ + 0x80000 + 12;
  EXPECT_EQ(fold_sum(frame + 14, 20), 0xffff);
  uint8_t pseudo[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 3020 >> 8, 3020 & 0xff};
  EXPECT_EQ((frame[50] << 8) | frame[51], fold_sum(pseudo, 12));
  EXPECT_EQ(std::vector<uint8_t>(frame + 54, frame + 54 + 3000), payload);
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(VhostUserPortTest, RscPacketIsSegmentedForAGuestWithoutTso) {
  start(kBase);
  post_rx_buffers(8, 2048, 0x80000);
  std::vector<uint8_t> payload;
  Packet* p = rsc_coalesced_packet(*pool_, &payload);
  EXPECT_EQ(port_->tx_burst(0, &p, 1), 3);
  for (int k = 0; k < 3; k++) {
    const uint8_t* at = mem_ + 0x80000 + 2048ull * k;
    virtio_net_hdr_v1 h;
    std::memcpy(&h, at, sizeof(h));
    // Checksums in the frame (DATA_VALID at most): no RSC info, nothing to finish.
    EXPECT_EQ(h.flags & (VIRTIO_NET_HDR_F_RSC_INFO | VIRTIO_NET_HDR_F_NEEDS_CSUM), 0) << k;
    EXPECT_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    const uint8_t* frame = at + 12;
    EXPECT_EQ((frame[16] << 8) | frame[17], 1040);
    EXPECT_EQ(fold_sum(frame + 14, 20), 0xffff);
    uint8_t pseudo[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0x03, 0xfc};  // length 1020
    EXPECT_EQ(fold_sum(frame + 34, 1020, fold_sum(pseudo, 12)), 0xffff) << k;
    EXPECT_TRUE(std::equal(frame + 54, frame + 1054, payload.begin() + 1000 * k));
  }
  EXPECT_EQ(pool_->available(), pool_->capacity());
}

TEST_F(VhostUserPortTest, StrippedVlanTagIsInsertedForTheGuest) {
  start(kBase | feature_bit(VIRTIO_NET_F_GUEST_CSUM));
  post_rx_buffers(1, 2048, 0x80000);
  std::vector<uint8_t> f(60);
  for (size_t i = 0; i < f.size(); i++)
    f[i] = static_cast<uint8_t>(i);
  Packet* p = packet_from_bytes(*pool_, f);
  p->set_vlan_tci(0x2064);
  p->set_csum_partial(34, 6);
  EXPECT_EQ(port_->tx_burst(0, &p, 1), 1);
  virtio::DriverUsed u;
  ASSERT_TRUE(drivers_[0]->get_used(&u));
  EXPECT_EQ(u.len, 12u + 64u);
  virtio_net_hdr_v1 h;
  std::memcpy(&h, mem_ + 0x80000, sizeof(h));
  EXPECT_EQ(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  EXPECT_EQ(h.csum_start, 38);  // moved with the tag
  const uint8_t* frame = mem_ + 0x80000 + 12;
  EXPECT_EQ(frame[11], 11);
  EXPECT_EQ(frame[12], 0x81);
  EXPECT_EQ(frame[13], 0x00);
  EXPECT_EQ(frame[14], 0x20);
  EXPECT_EQ(frame[15], 0x64);
  EXPECT_EQ(frame[16], 12);
}

TEST_F(VhostUserPortTest, ControlQueueCommandsAreAnsweredAndRecorded) {
  start(kBase | feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
        feature_bit(VIRTIO_NET_F_CTRL_VLAN));
  auto command = [&](std::vector<uint8_t> cmd) -> uint8_t {
    std::memcpy(mem_ + 0xa0000, cmd.data(), cmd.size());
    mem_[0xa0100] = 0xee;
    virtio::DriverBuffer b[2] = {{0xa0000, static_cast<uint32_t>(cmd.size()), false},
                                 {0xa0100, 1, true}};
    EXPECT_GE(drivers_[2]->add_chain(b, 2), 0);
    drivers_[2]->publish();
    Packet* pkts[4];
    EXPECT_EQ(port_->rx_burst(0, pkts, 4), 0);
    virtio::DriverUsed u;
    EXPECT_TRUE(drivers_[2]->get_used(&u));
    EXPECT_EQ(u.len, 1u);
    return mem_[0xa0100];
  };
  EXPECT_EQ(command({VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1}), VIRTIO_NET_OK);
  EXPECT_EQ(command({VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 5, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(command({VIRTIO_NET_CTRL_NOTF_COAL, 0, 0, 0, 0, 0}), VIRTIO_NET_ERR);
  EXPECT_TRUE(port_->control_state().filter.promisc);
  EXPECT_TRUE(port_->control_state().filter.vlans[5]);
  EXPECT_EQ(port_->control_state().commands, 3u);
  EXPECT_EQ(port_->control_state().unknown, 1u);
}

TEST_F(VhostUserPortTest, HostileChainBreaksOnlyThatRing) {
  start(kBase);
  // A descriptor pointing outside guest memory.
  virtio::DriverBuffer b{kMemSize - 8, 64, false};
  ASSERT_GE(drivers_[1]->add_chain(&b, 1), 0);
  drivers_[1]->publish();
  Packet* pkts[4];
  EXPECT_EQ(port_->rx_burst(0, pkts, 4), 0);
  EXPECT_EQ(port_->broken_rings(), 1u);
  ASSERT_FALSE(logs_.empty());
  EXPECT_NE(logs_.back().find("broken"), std::string::npos);
  // The rx ring still works.
  post_rx_buffers(1, 2048, 0x80000);
  std::vector<uint8_t> bytes(60, 3);
  Packet* p = packet_from_bytes(*pool_, bytes);
  EXPECT_EQ(port_->tx_burst(0, &p, 1), 1);
}

}  // namespace
}  // namespace ferry::port

namespace ferry::port {
namespace {

// The part of the front-end's inflight area for ring `ring` (split layout).
virtio::InflightQueueSplit* area_of(void* base, uint32_t ring) {
  return reinterpret_cast<virtio::InflightQueueSplit*>(
      static_cast<uint8_t*>(base) + ring * virtio::inflight_queue_bytes(kRingSize, false));
}

std::vector<uint8_t> test_frame(uint8_t tag) {
  std::vector<uint8_t> f(60, tag);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

// Ferry dies in the middle of a burst on the guest's tx ring; a new Ferry gets the
// inflight area back and every frame is received, every chain completed, exactly once.
TEST_F(VhostUserPortTest, InflightAreaResumesTxRingAfterCrash) {
  start(kBase, Inflight::kGet);
  void* area = mmap(nullptr, inflight_desc_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                    inflight_fd_.get(), 0);
  ASSERT_NE(area, MAP_FAILED);
  // Normal traffic goes through the area.
  guest_send(virtio_net_hdr_v1{}, test_frame(1), 0x80000);
  Packet* pkts[8];
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 1);
  free_packets(pkts, 1);
  EXPECT_EQ(area_of(area, 1)->version, virtio::kInflightVersion);
  EXPECT_EQ(area_of(area, 1)->used_idx, 1);

  // Four more frames; Ferry pops three of them, completes the second and dies.
  std::vector<uint16_t> heads;
  for (uint8_t i = 0; i < 4; i++) {
    guest_send(virtio_net_hdr_v1{}, test_frame(static_cast<uint8_t>(10 + i)), 0x81000 + 0x100 * i);
  }
  port_.reset();
  {
    virtio::SplitVirtqueueConfig cfg;
    std::string error;
    ASSERT_TRUE(virtio::SplitVirtqueue::map_ring(drv_mem_, virtio::RingAddressSpace::kGuestPhysical,
                                                 kRingSize, ring_gpa(1), ring_gpa(1) + 0x1000,
                                                 ring_gpa(1) + 0x2000, &cfg, &error));
    cfg.last_avail_idx = cfg.used_idx = 1;
    cfg.inflight = area_of(area, 1);
    cfg.inflight_capacity = kRingSize;
    virtio::SplitVirtqueue dying(&drv_mem_, cfg);
    virtio::DescChain c[3];
    ASSERT_EQ(dying.pop_burst(c, 3), 3);
    dying.add_used(c[1], 0);
    dying.flush();
  }
  virtio::DriverUsed u;
  ASSERT_TRUE(drivers_[1]->get_used(&u));  // the first frame
  ASSERT_TRUE(drivers_[1]->get_used(&u));  // frame 11, completed before the crash
  EXPECT_FALSE(drivers_[1]->get_used(&u));

  // The front-end reconnects to a new Ferry and hands the area back.
  fe_.reset();
  sock_.reset();
  start(kBase, Inflight::kSet);
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 3);
  // The two chains left inflight first, in the order they were popped, then the new one.
  EXPECT_EQ(packet_to_bytes(*pkts[0]), test_frame(10));
  EXPECT_EQ(packet_to_bytes(*pkts[1]), test_frame(12));
  EXPECT_EQ(packet_to_bytes(*pkts[2]), test_frame(13));
  free_packets(pkts, 3);
  EXPECT_EQ(port_->rx_burst(0, pkts, 8), 0);
  int used = 0;
  while (drivers_[1]->get_used(&u))
    used++;
  EXPECT_EQ(used, 3);
  EXPECT_EQ(drivers_[1]->free_descs(), kRingSize);
  EXPECT_EQ(port_->inflight_resubmitted(), 2u);
  bool logged = false;
  for (const std::string& l : logs_)
    logged |= l.find("resumed from the inflight area: 2 chains resubmitted") != std::string::npos;
  EXPECT_TRUE(logged);

  // Traffic goes on.
  guest_send(virtio_net_hdr_v1{}, test_frame(20), 0x80000);
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 1);
  EXPECT_EQ(packet_to_bytes(*pkts[0]), test_frame(20));
  free_packets(pkts, 1);
  munmap(area, inflight_desc_.mmap_size);
}

// The same on the guest's rx ring: buffers the crashed Ferry had taken but not filled are
// used first by the new one, in the order they were taken; none is used twice.
TEST_F(VhostUserPortTest, InflightAreaResumesRxRingAfterCrash) {
  start(kBase, Inflight::kGet);
  void* area = mmap(nullptr, inflight_desc_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                    inflight_fd_.get(), 0);
  ASSERT_NE(area, MAP_FAILED);
  post_rx_buffers(4, 256, 0x80000);
  port_.reset();
  uint16_t a, c;
  uint64_t a_gpa;
  {
    virtio::SplitVirtqueueConfig cfg;
    std::string error;
    ASSERT_TRUE(virtio::SplitVirtqueue::map_ring(drv_mem_, virtio::RingAddressSpace::kGuestPhysical,
                                                 kRingSize, ring_gpa(0), ring_gpa(0) + 0x1000,
                                                 ring_gpa(0) + 0x2000, &cfg, &error));
    cfg.inflight = area_of(area, 0);
    cfg.inflight_capacity = kRingSize;
    virtio::SplitVirtqueue dying(&drv_mem_, cfg);
    virtio::DescChain ch[3];
    ASSERT_EQ(dying.pop_burst(ch, 3), 3);
    a = ch[0].id;
    c = ch[2].id;
    a_gpa = ch[0].buffers[0].gpa;
    dying.add_used(ch[1], 60);
    dying.flush();
  }
  virtio::DriverUsed u;
  ASSERT_TRUE(drivers_[0]->get_used(&u));
  EXPECT_FALSE(drivers_[0]->get_used(&u));

  fe_.reset();
  sock_.reset();
  start(kBase, Inflight::kSet);
  Packet* pkts[3];
  for (uint8_t i = 0; i < 3; i++)
    pkts[i] = packet_from_bytes(*pool_, test_frame(static_cast<uint8_t>(30 + i)));
  ASSERT_EQ(port_->tx_burst(0, pkts, 3), 3);
  std::vector<uint16_t> ids;
  while (drivers_[0]->get_used(&u)) {
    ids.push_back(u.id);
    EXPECT_EQ(u.len, 12u + 60);
  }
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], a);
  EXPECT_EQ(ids[1], c);
  EXPECT_EQ(std::memcmp(mem_ + a_gpa + 12, test_frame(30).data(), 60), 0);
  EXPECT_EQ(drivers_[0]->free_descs(), kRingSize);
  EXPECT_EQ(port_->inflight_resubmitted(), 2u);
  munmap(area, inflight_desc_.mmap_size);
}

TEST_F(VhostUserPortTest, HostileInflightAreaIsRejectedAndCounted) {
  start(kBase, Inflight::kGet);
  void* area = mmap(nullptr, inflight_desc_.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                    inflight_fd_.get(), 0);
  ASSERT_NE(area, MAP_FAILED);
  port_.reset();
  fe_.reset();
  sock_.reset();
  area_of(area, 1)->version = 9;
  area_of(area, 0)->desc()[3].inflight = 7;
  start(kBase, Inflight::kSet);
  EXPECT_EQ(port_->inflight_rejects(virtio::InflightError::kBadVersion), 1u);
  EXPECT_EQ(port_->inflight_rejects(virtio::InflightError::kBadEntry), 1u);
  int logged = 0;
  for (const std::string& l : logs_)
    logged += l.find("inflight area rejected") != std::string::npos;
  EXPECT_EQ(logged, 2);
  // The rings work, and the area is tracking again.
  guest_send(virtio_net_hdr_v1{}, test_frame(1), 0x80000);
  Packet* pkts[8];
  ASSERT_EQ(port_->rx_burst(0, pkts, 8), 1);
  free_packets(pkts, 1);
  EXPECT_EQ(area_of(area, 1)->version, virtio::kInflightVersion);
  EXPECT_EQ(area_of(area, 1)->used_idx, 1);
  munmap(area, inflight_desc_.mmap_size);
}

}  // namespace
}  // namespace ferry::port
