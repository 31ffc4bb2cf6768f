#include "steer/rss.h"

#include <memory>
#include <random>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include <gtest/gtest.h>

#include "proto/parser.h"

namespace ferry::steer {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put_addr(Bytes& b, int family, const char* a) {
  uint8_t buf[16];
  ASSERT_EQ(inet_pton(family, a, buf), 1);
  b.insert(b.end(), buf, buf + (family == AF_INET ? 4 : 16));
}
Bytes ether(uint16_t type) {
  Bytes b = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
  put16(b, type);
  return b;
}
Bytes l4(uint8_t proto, uint16_t sport, uint16_t dport) {
  Bytes b;
  if (proto == IPPROTO_TCP) {
    put16(b, sport);
    put16(b, dport);
    b.insert(b.end(), 8, 0);  // seq, ack
    b.push_back(0x50);        // data offset 5
    b.push_back(0x10);        // ACK
    put16(b, 65535);
    b.insert(b.end(), 4, 0);
  } else if (proto == IPPROTO_UDP) {
    put16(b, sport);
    put16(b, dport);
    put16(b, 8 + 16);
    put16(b, 0);
  } else if (proto == IPPROTO_ICMP) {
    b = {8, 0, 0, 0, 0, 1, 0, 1};
  }
  b.insert(b.end(), 16, 0xab);  // payload
  return b;
}
Bytes ipv4(const char* src, const char* dst, uint8_t proto, const Bytes& payload,
           uint16_t frag_off = 0) {
  Bytes b = {0x45, 0};
  put16(b, static_cast<uint16_t>(20 + payload.size()));
  put16(b, 1);
  put16(b, frag_off);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  put_addr(b, AF_INET, src);
  put_addr(b, AF_INET, dst);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
// ext: extension headers already chained; first_next: the next header of the fixed header.
Bytes ipv6(const char* src, const char* dst, uint8_t first_next, const Bytes& ext,
           const Bytes& payload) {
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(ext.size() + payload.size()));
  b.push_back(first_next);
  b.push_back(64);
  put_addr(b, AF_INET6, src);
  put_addr(b, AF_INET6, dst);
  b.insert(b.end(), ext.begin(), ext.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct TestPacket {
  alignas(64) uint8_t buf[2048];
  Packet pkt;
  explicit TestPacket(const Bytes& frame) {
    pkt.init(buf, sizeof buf, 0, kNoPool);
    std::memcpy(pkt.append(static_cast<uint32_t>(frame.size())), frame.data(), frame.size());
    EXPECT_EQ(proto::parse_packet(pkt), proto::ParseError::kOk);
  }
};

Bytes tuple(int family, const char* src, const char* dst, uint16_t sport, uint16_t dport,
            bool ports) {
  Bytes b;
  put_addr(b, family, src);
  put_addr(b, family, dst);
  if (ports) {
    put16(b, sport);
    put16(b, dport);
  }
  return b;
}

uint32_t ms_hash(const Bytes& in) {
  return toeplitz_reference(kMicrosoftKey, in);
}

RssConfig config(uint32_t types, uint16_t queues = 4, size_t table_len = 128) {
  RssConfig c;
  c.hash_types = types;
  c.key.assign(kMicrosoftKey.begin(), kMicrosoftKey.end());
  for (size_t i = 0; i < table_len; i++)
    c.indirection_table.push_back(static_cast<uint16_t>(i % queues));
  c.unclassified_queue = static_cast<uint16_t>(queues - 1);
  c.max_tx_vq = queues;
  return c;
}
RssLimits limits(uint16_t queues = 4) {
  RssLimits l;
  l.num_queues = queues;
  return l;
}

std::unique_ptr<const Rss> make(const RssConfig& c, const RssLimits& l = limits()) {
  RssConfigError e;
  auto rss = Rss::create(c, l, &e);
  EXPECT_EQ(e, RssConfigError::kOk) << to_string(e);
  return rss;
}

// Microsoft's first vectors, carried in real frames.
const char* kV4Src = "66.9.149.187";
const char* kV4Dst = "161.142.100.80";
const char* kV6Src = "3ffe:2501:200:1fff::7";
const char* kV6Dst = "3ffe:2501:200:3::1";

TEST(Rss, Tcpv4AndIpv4FromFrames) {
  TestPacket p(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766))));
  auto all = make(config(kAllHashTypes));
  RssResult r = all->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kTcpv4);
  EXPECT_EQ(r.hash, 0x51ccc178u);
  EXPECT_EQ(r.queue, all->config().indirection_table[0x51ccc178u & 127]);
  auto ip_only = make(config(VIRTIO_NET_RSS_HASH_TYPE_IPv4));
  r = ip_only->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kIpv4);
  EXPECT_EQ(r.hash, 0x323e8fc2u);
  // TCP not enabled and no IPv4 either: unclassified.
  auto udp_only = make(config(VIRTIO_NET_RSS_HASH_TYPE_UDPv4));
  r = udp_only->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kNone);
  EXPECT_EQ(r.queue, 3);
}

TEST(Rss, Udpv4) {
  TestPacket p(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_UDP, l4(IPPROTO_UDP, 2794, 1766))));
  RssResult r = make(config(kAllHashTypes))->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kUdpv4);
  EXPECT_EQ(r.hash, 0x51ccc178u);  // same fields as the TCP vector
  r = make(config(VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv4))->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kIpv4);
  EXPECT_EQ(r.hash, 0x323e8fc2u);
}

TEST(Rss, Ipv4FragmentsAndIcmpUseAddressesOnly) {
  auto all = make(config(kAllHashTypes));
  TestPacket first(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766), IP_MF)));
  TestPacket later(cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, Bytes(40, 1), 10)));
  TestPacket icmp(cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_ICMP, l4(IPPROTO_ICMP, 0, 0))));
  for (TestPacket* p : {&first, &later, &icmp}) {
    RssResult r = all->classify(p->pkt);
    EXPECT_EQ(r.report, HashReport::kIpv4);
    EXPECT_EQ(r.hash, 0x323e8fc2u);
  }
}

TEST(Rss, Tcpv6Udpv6Ipv6FromFrames) {
  auto all = make(
      config(kAllHashTypes & ~(VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |
                               VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)));
  TestPacket tcp(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_TCP, {}, l4(IPPROTO_TCP, 2794, 1766))));
  TestPacket udp(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_UDP, {}, l4(IPPROTO_UDP, 2794, 1766))));
  RssResult r = all->classify(tcp.pkt);
  EXPECT_EQ(r.report, HashReport::kTcpv6);
  EXPECT_EQ(r.hash, 0x40207d3du);
  r = all->classify(udp.pkt);
  EXPECT_EQ(r.report, HashReport::kUdpv6);
  EXPECT_EQ(r.hash, 0x40207d3du);
  r = make(config(VIRTIO_NET_RSS_HASH_TYPE_IPv6))->classify(tcp.pkt);
  EXPECT_EQ(r.report, HashReport::kIpv6);
  EXPECT_EQ(r.hash, 0x2cc18cd5u);
  // IPv4 types do not classify IPv6.
  r = make(config(VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv4))
          ->classify(tcp.pkt);
  EXPECT_EQ(r.report, HashReport::kNone);
}

// Destination options with a home address option, then a type 2 routing header (RFC 6275).
const char* kHome = "2001:db8::1234";
const char* kCareOf = "2001:db8:ffff::99";
Bytes mobility_ext(uint8_t last_next) {
  Bytes b = {IPPROTO_ROUTING, 2, 1, 2, 0, 0};  // dest opts: next, len 2 (24 B), PadN(2)
  b.push_back(0xc9);                           // home address option at offset 6
  b.push_back(16);
  put_addr(b, AF_INET6, kHome);
  b.insert(b.end(), {last_next, 2, 2, 1, 0, 0, 0, 0});  // routing type 2, segments left 1
  put_addr(b, AF_INET6, kCareOf);
  return b;
}

TEST(Rss, Ipv6ExtensionHeadersExTypes) {
  TestPacket tcp(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_DSTOPTS, mobility_ext(IPPROTO_TCP),
                                  l4(IPPROTO_TCP, 2794, 1766))));
  TestPacket udp(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_DSTOPTS, mobility_ext(IPPROTO_UDP),
                                  l4(IPPROTO_UDP, 2794, 1766))));
  ASSERT_EQ(tcp.pkt.packet_type().l3(), L3Type::kIpv6Ext);
  ASSERT_EQ(tcp.pkt.packet_type().l4(), L4Type::kTcp);
  const Bytes ex4 = tuple(AF_INET6, kHome, kCareOf, 2794, 1766, true);
  const Bytes ex2 = tuple(AF_INET6, kHome, kCareOf, 0, 0, false);

  RssResult r = make(config(kAllHashTypes))->classify(tcp.pkt);
  EXPECT_EQ(r.report, HashReport::kTcpv6Ex);
  EXPECT_EQ(r.hash, ms_hash(ex4));
  r = make(config(kAllHashTypes))->classify(udp.pkt);
  EXPECT_EQ(r.report, HashReport::kUdpv6Ex);
  EXPECT_EQ(r.hash, ms_hash(ex4));
  // Without the _EX types the addresses of the fixed header count.
  r = make(config(VIRTIO_NET_RSS_HASH_TYPE_TCPv6))->classify(tcp.pkt);
  EXPECT_EQ(r.report, HashReport::kTcpv6);
  EXPECT_EQ(r.hash, 0x40207d3du);
  r = make(config(VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_IPv6))
          ->classify(tcp.pkt);
  EXPECT_EQ(r.report, HashReport::kIpv6Ex);
  EXPECT_EQ(r.hash, ms_hash(ex2));
  // _EX types without extension headers use the fixed header's addresses.
  TestPacket plain(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_TCP, {}, l4(IPPROTO_TCP, 2794, 1766))));
  r = make(config(VIRTIO_NET_RSS_HASH_TYPE_TCP_EX))->classify(plain.pkt);
  EXPECT_EQ(r.report, HashReport::kTcpv6Ex);
  EXPECT_EQ(r.hash, 0x40207d3du);
}

TEST(Rss, Ipv6FragmentUsesAddressesOnly) {
  Bytes frag = {IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 7};  // offset 0, M set
  TestPacket p(cat(ether(ETH_P_IPV6),
                   ipv6(kV6Src, kV6Dst, IPPROTO_FRAGMENT, frag, l4(IPPROTO_TCP, 2794, 1766))));
  RssResult r =
      make(config(VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_IPv6))->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kIpv6);
  EXPECT_EQ(r.hash, 0x2cc18cd5u);
}

TEST(Rss, NonIpIsUnclassified) {
  Bytes arp = ether(ETH_P_ARP);
  arp.insert(arp.end(), {0, 1, 8, 0, 6, 4, 0, 1});
  arp.insert(arp.end(), 20, 0);
  TestPacket p(arp);
  auto rss = make(config(kAllHashTypes));
  RssResult r = rss->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kNone);
  EXPECT_EQ(r.queue, 3);
}

Bytes vxlan_frame() {
  Bytes inner =
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766)));
  Bytes vx = {0x08, 0, 0, 0, 0, 0, 0x2a, 0};
  Bytes udp;
  put16(udp, 40000);
  put16(udp, 4789);
  put16(udp, static_cast<uint16_t>(8 + vx.size() + inner.size()));
  put16(udp, 0);
  udp = cat(cat(udp, vx), inner);
  return cat(ether(ETH_P_IP), ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, udp));
}

TEST(Rss, TunnelsOuterByDefaultInnerAsOption) {
  TestPacket p(vxlan_frame());
  ASSERT_EQ(p.pkt.packet_type().tunnel(), TunnelType::kVxlan);
  RssResult r = make(config(kAllHashTypes))->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kUdpv4);
  EXPECT_EQ(r.hash, ms_hash(tuple(AF_INET, "10.0.0.1", "10.0.0.2", 40000, 4789, true)));
  RssConfig c = config(kAllHashTypes);
  c.inner_headers = true;
  r = make(c)->classify(p.pkt);
  EXPECT_EQ(r.report, HashReport::kTcpv4);
  EXPECT_EQ(r.hash, 0x51ccc178u);
}

TEST(Rss, BurstSetsHashesQueuesAndReportsForEveryType) {
  std::vector<std::unique_ptr<TestPacket>> pk;
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_UDP, l4(IPPROTO_UDP, 1, 2)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_ICMP, l4(IPPROTO_ICMP, 0, 0)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_TCP, {}, l4(IPPROTO_TCP, 2794, 1766)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_UDP, {}, l4(IPPROTO_UDP, 5, 6)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_DSTOPTS, mobility_ext(IPPROTO_TCP),
                                  l4(IPPROTO_TCP, 2794, 1766)))));
  pk.push_back(std::make_unique<TestPacket>(cat(
      ether(ETH_P_IPV6),
      ipv6(kV6Src, kV6Dst, IPPROTO_DSTOPTS, mobility_ext(IPPROTO_UDP), l4(IPPROTO_UDP, 7, 8)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IPV6), ipv6(kV6Src, kV6Dst, IPPROTO_ICMPV6, {}, Bytes(24, 0)))));
  pk.push_back(std::make_unique<TestPacket>(
      cat(ether(ETH_P_IPV6),
          ipv6(kV6Src, kV6Dst, IPPROTO_DSTOPTS, mobility_ext(IPPROTO_ICMPV6), Bytes(24, 0)))));
  Bytes arp = ether(ETH_P_ARP);
  arp.insert(arp.end(), {0, 1, 8, 0, 6, 4, 0, 1});
  arp.insert(arp.end(), 20, 0);
  pk.push_back(std::make_unique<TestPacket>(arp));
  // Many random TCP flows too, so the burst is longer than one internal chunk.
  std::mt19937 rng(7);
  for (int i = 0; i < 40; i++) {
    char src[32];
    snprintf(src, sizeof src, "10.%u.%u.%u", static_cast<unsigned>(rng() % 256),
             static_cast<unsigned>(rng() % 256), static_cast<unsigned>(rng() % 256));
    pk.push_back(std::make_unique<TestPacket>(cat(
        ether(ETH_P_IP),
        ipv4(src, "192.0.2.1", IPPROTO_TCP, l4(IPPROTO_TCP, static_cast<uint16_t>(rng()), 80)))));
  }
  std::vector<Packet*> ptrs;
  for (auto& p : pk)
    ptrs.push_back(&p->pkt);

  const struct {
    uint32_t types;
    HashReport want[10];
  } cases[] = {
      {kAllHashTypes,
       {HashReport::kTcpv4, HashReport::kUdpv4, HashReport::kIpv4, HashReport::kTcpv6Ex,
        HashReport::kUdpv6Ex, HashReport::kTcpv6Ex, HashReport::kUdpv6Ex, HashReport::kIpv6Ex,
        HashReport::kIpv6Ex, HashReport::kNone}},
      {kAllHashTypes & 0x3f,
       {HashReport::kTcpv4, HashReport::kUdpv4, HashReport::kIpv4, HashReport::kTcpv6,
        HashReport::kUdpv6, HashReport::kTcpv6, HashReport::kUdpv6, HashReport::kIpv6,
        HashReport::kIpv6, HashReport::kNone}},
      {VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6,
       {HashReport::kIpv4, HashReport::kIpv4, HashReport::kIpv4, HashReport::kIpv6,
        HashReport::kIpv6, HashReport::kIpv6, HashReport::kIpv6, HashReport::kIpv6,
        HashReport::kIpv6, HashReport::kNone}},
      {VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6,
       {HashReport::kTcpv4, HashReport::kNone, HashReport::kNone, HashReport::kNone,
        HashReport::kUdpv6, HashReport::kNone, HashReport::kUdpv6, HashReport::kNone,
        HashReport::kNone, HashReport::kNone}},
      {0,
       {HashReport::kNone, HashReport::kNone, HashReport::kNone, HashReport::kNone,
        HashReport::kNone, HashReport::kNone, HashReport::kNone, HashReport::kNone,
        HashReport::kNone, HashReport::kNone}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.types);
    RssConfig cfg = config(c.types, 8, 64);
    cfg.key.assign(kMicrosoftKey.begin(), kMicrosoftKey.end());
    if (c.types == 0) cfg.key.clear();
    auto rss = make(cfg, limits(8));
    for (auto& p : pk)
      p->pkt.reset_metadata(), proto::parse_packet(p->pkt);
    std::vector<uint16_t> queues(ptrs.size(), 0xffff);
    std::vector<HashReport> reports(ptrs.size());
    rss->steer_burst(ptrs, queues.data(), reports.data());
    for (size_t i = 0; i < ptrs.size(); i++) {
      RssResult want = rss->classify(*ptrs[i]);
      if (i < 10) {
        EXPECT_EQ(reports[i], c.want[i]) << i;
      }
      EXPECT_EQ(reports[i], want.report) << i;
      EXPECT_EQ(queues[i], want.queue) << i;
      EXPECT_EQ(ptrs[i]->has_rss_hash(), want.report != HashReport::kNone) << i;
      if (want.report != HashReport::kNone) {
        EXPECT_EQ(ptrs[i]->rss_hash(), want.hash) << i;
        EXPECT_EQ(queues[i], cfg.indirection_table[want.hash & 63]);
      } else {
        EXPECT_EQ(queues[i], cfg.unclassified_queue);
      }
    }
  }
  // Without reports.
  auto rss = make(config(kAllHashTypes));
  std::vector<uint16_t> queues(ptrs.size());
  rss->steer_burst(ptrs, queues.data());
  EXPECT_EQ(queues[0], rss->queue_of(0x51ccc178u));
}

TEST(Rss, SpreadsFlowsOverQueues) {
  auto rss = make(config(kAllHashTypes, 4));
  std::vector<int> per_queue(4);
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; i++) {
    char src[32];
    snprintf(src, sizeof src, "10.%u.%u.%u", static_cast<unsigned>(rng() % 256),
             static_cast<unsigned>(rng() % 256), static_cast<unsigned>(rng() % 256));
    TestPacket p(cat(ether(ETH_P_IP), ipv4(src, "192.0.2.1", IPPROTO_TCP,
                                           l4(IPPROTO_TCP, static_cast<uint16_t>(rng()), 443))));
    per_queue[rss->classify(p.pkt).queue]++;
  }
  for (int n : per_queue)
    EXPECT_GT(n, 350);
}

TEST(Rss, ValidateRejectsHostileConfigs) {
  const RssLimits l = limits(4);
  EXPECT_EQ(validate(config(kAllHashTypes), l), RssConfigError::kOk);
  RssConfig c = config(kAllHashTypes);
  c.indirection_table.clear();
  EXPECT_EQ(validate(c, l), RssConfigError::kTableEmpty);
  c = config(kAllHashTypes, 4, 96);
  EXPECT_EQ(validate(c, l), RssConfigError::kTableNotPowerOfTwo);
  c = config(kAllHashTypes, 4, 256);
  EXPECT_EQ(validate(c, l), RssConfigError::kTableTooLong);
  c = config(kAllHashTypes);
  c.indirection_table[77] = 4;
  EXPECT_EQ(validate(c, l), RssConfigError::kQueueOutOfRange);
  c = config(kAllHashTypes);
  c.unclassified_queue = 4;
  EXPECT_EQ(validate(c, l), RssConfigError::kUnclassifiedOutOfRange);
  c = config(kAllHashTypes);
  c.max_tx_vq = 0;
  EXPECT_EQ(validate(c, l), RssConfigError::kMaxTxVqOutOfRange);
  c.max_tx_vq = 5;
  EXPECT_EQ(validate(c, l), RssConfigError::kMaxTxVqOutOfRange);
  c = config(kAllHashTypes);
  c.key.resize(53);
  EXPECT_EQ(validate(c, l), RssConfigError::kKeyTooLong);
  RssLimits small = l;
  small.max_key_len = 40;
  c.key.resize(41);
  EXPECT_EQ(validate(c, small), RssConfigError::kKeyTooLong);
  c.key.resize(52);
  EXPECT_EQ(validate(c, l), RssConfigError::kOk);
  c.key.clear();
  EXPECT_EQ(validate(c, l), RssConfigError::kKeyMissing);
  c = config(1u << 9);
  EXPECT_EQ(validate(c, l), RssConfigError::kUnsupportedHashTypes);
  RssLimits v4_only = l;
  v4_only.supported_hash_types = VIRTIO_NET_RSS_HASH_TYPE_IPv4;
  EXPECT_EQ(validate(config(VIRTIO_NET_RSS_HASH_TYPE_TCPv4), v4_only),
            RssConfigError::kUnsupportedHashTypes);
  RssConfigError e = RssConfigError::kOk;
  EXPECT_EQ(Rss::create(c, l, &e), nullptr);
  EXPECT_EQ(e, RssConfigError::kUnsupportedHashTypes);
  for (int i = 0; i < static_cast<int>(RssConfigError::kCount); i++) {
    EXPECT_STRNE(to_string(static_cast<RssConfigError>(i)), "?");
  }
}

Bytes wire(uint32_t types, uint16_t mask, uint16_t unclassified, const std::vector<uint16_t>& table,
           uint16_t max_tx_vq, const Bytes& key, int key_len = -1) {
  Bytes b;
  auto le16 = [&](uint16_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
  };
  le16(static_cast<uint16_t>(types));
  le16(static_cast<uint16_t>(types >> 16));
  le16(mask);
  le16(unclassified);
  for (uint16_t q : table)
    le16(q);
  le16(max_tx_vq);
  b.push_back(static_cast<uint8_t>(key_len < 0 ? key.size() : static_cast<size_t>(key_len)));
  b.insert(b.end(), key.begin(), key.end());
  return b;
}

TEST(Rss, ParsesVirtioRssConfigCommand) {
  const Bytes key(kMicrosoftKey.begin(), kMicrosoftKey.end());
  std::vector<uint16_t> table(128);
  for (size_t i = 0; i < table.size(); i++)
    table[i] = static_cast<uint16_t>(i % 4);
  const Bytes good = wire(kAllHashTypes, 127, 2, table, 4, key);
  RssConfig c;
  ASSERT_EQ(parse_virtio_rss_config(good, limits(4), &c), RssConfigError::kOk);
  EXPECT_EQ(c.hash_types, kAllHashTypes);
  EXPECT_EQ(c.indirection_table, table);
  EXPECT_EQ(c.unclassified_queue, 2);
  EXPECT_EQ(c.max_tx_vq, 4);
  EXPECT_EQ(c.key, key);
  // The command bytes as Linux sends them hash the Microsoft vector right.
  TestPacket p(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766))));
  EXPECT_EQ(make(c)->classify(p.pkt).hash, 0x51ccc178u);

  // Every truncation is refused, and nothing is written.
  for (size_t n = 0; n < good.size(); n++) {
    RssConfig out;
    out.hash_types = 12345;
    EXPECT_NE(parse_virtio_rss_config({good.data(), n}, limits(4), &out), RssConfigError::kOk) << n;
    EXPECT_EQ(out.hash_types, 12345u);
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(parse_virtio_rss_config(longer, limits(4), &c), RssConfigError::kTrailingBytes);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 6, 0, std::vector<uint16_t>(7), 1, key),
                                    limits(4), &c),
            RssConfigError::kTableNotPowerOfTwo);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 0xffff, 0, {}, 1, key), limits(4), &c),
            RssConfigError::kTableTooLong);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 255, 0, std::vector<uint16_t>(256), 1, key),
                                    limits(4), &c),
            RssConfigError::kTableTooLong);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 1, 0, {0, 9}, 1, key), limits(4), &c),
            RssConfigError::kQueueOutOfRange);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 1, 4, {0, 1}, 1, key), limits(4), &c),
            RssConfigError::kUnclassifiedOutOfRange);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 0, 0, {0}, 0, key), limits(4), &c),
            RssConfigError::kMaxTxVqOutOfRange);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 0, 0, {0}, 1, Bytes(53, 1)), limits(4), &c),
            RssConfigError::kKeyTooLong);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 0, 0, {0}, 1, key, 200), limits(4), &c),
            RssConfigError::kKeyTooLong);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 0, 0, {0}, 1, key, 45), limits(4), &c),
            RssConfigError::kTruncated);
  EXPECT_EQ(parse_virtio_rss_config(wire(kAllHashTypes, 0, 0, {0}, 1, {}), limits(4), &c),
            RssConfigError::kKeyMissing);
  EXPECT_EQ(parse_virtio_rss_config(wire(0x80000000u, 0, 0, {0}, 1, key), limits(4), &c),
            RssConfigError::kUnsupportedHashTypes);
}

TEST(Rss, ParsesVirtioHashConfigCommand) {
  Bytes b = {0x3f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40};
  b.insert(b.end(), kMicrosoftKey.begin(), kMicrosoftKey.end());
  RssConfig c;
  ASSERT_EQ(parse_virtio_hash_config(b, limits(1), &c), RssConfigError::kOk);
  EXPECT_EQ(c.hash_types, 0x3fu);
  EXPECT_EQ(c.indirection_table, std::vector<uint16_t>{0});
  TestPacket p(
      cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766))));
  RssResult r = make(c, limits(1))->classify(p.pkt);
  EXPECT_EQ(r.hash, 0x51ccc178u);
  EXPECT_EQ(r.queue, 0);
  for (size_t n = 0; n < b.size(); n++) {
    EXPECT_EQ(parse_virtio_hash_config({b.data(), n}, limits(1), &c), RssConfigError::kTruncated);
  }
  b.push_back(1);
  EXPECT_EQ(parse_virtio_hash_config(b, limits(1), &c), RssConfigError::kTrailingBytes);
}

TEST(Rss, TruncatedChainedHeadersAreReadAcrossSegments) {
  // The same TCPv4 frame split after 20 bytes into two segments.
  Bytes f = cat(ether(ETH_P_IP), ipv4(kV4Src, kV4Dst, IPPROTO_TCP, l4(IPPROTO_TCP, 2794, 1766)));
  alignas(64) uint8_t b1[256], b2[256];
  Packet head, tail;
  head.init(b1, sizeof b1, 0, kNoPool);
  tail.init(b2, sizeof b2, 0, kNoPool);
  std::memcpy(head.append(20), f.data(), 20);
  std::memcpy(tail.append(static_cast<uint32_t>(f.size() - 20)), f.data() + 20, f.size() - 20);
  head.append_segment(&tail);
  ASSERT_EQ(proto::parse_packet(head), proto::ParseError::kOk);
  RssResult r = make(config(kAllHashTypes))->classify(head);
  EXPECT_EQ(r.report, HashReport::kTcpv4);
  EXPECT_EQ(r.hash, 0x51ccc178u);
}

}  // namespace
}  // namespace ferry::steer
