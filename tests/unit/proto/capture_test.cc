// Every frame of every capture in tests/data/captures goes through the parser. A table says
// what to expect per capture: all frames accepted, or which are rejected and why (each
// rejection checked against what tshark reports as malformed). A few frames are checked
// in detail against the offsets tshark shows.

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <linux/if_ether.h>

#include <gtest/gtest.h>

#include "packet/packet.h"
#include "pcap/pcap_file.h"
#include "proto/parse_stats.h"
#include "proto/parser.h"

namespace ferry::proto {
namespace {

using Frames = std::vector<std::vector<uint8_t>>;

std::string capture_path(const std::string& name) {
  return std::string(FERRY_TEST_DATA) + "/captures/" + name;
}

Frames read_ethernet(const std::string& name) {
  std::vector<pcap::Frame> frames;
  std::string error;
  EXPECT_TRUE(pcap::PcapReader::read_all(capture_path(name), &frames, &error)) << error;
  Frames out;
  for (auto& f : frames)
    out.push_back(std::move(f.data));
  return out;
}

struct Expectation {
  size_t frames;                          // frames in the capture
  std::map<size_t, ParseError> rejected;  // 1-based frame number -> reason
};

// Rejections, as tshark -V shows them:
//  - tcp-malformed.pcap: IPv4 total length 40 leaves 20 bytes for TCP, whose data offset
//    says 28 ("Short segment ... does not contain a full TCP header", Malformed Packet).
//  - ip4_bad_fragment.pcap: IPv4 under MPLS with IHL 15 and total length 3841 in a 60-byte
//    frame ("IPv4 total length exceeds packet length", Malformed Packet).
// Everything else is well-formed (tshark's other expert notes are about TCP reassembly
// and HTTP bodies, not headers).
const std::map<std::string, Expectation>& expectations() {
  static const std::map<std::string, Expectation> table = {
      {"650HttpResponses.pcap", {682, {}}},
      {"ArpRequestWithVlan.pcap", {1, {}}},
      {"GrePackets.pcap", {7, {}}},
      {"IPv4-encapsulated-IPv6.pcap", {1, {}}},
      {"IPv4Frag.pcap", {3, {}}},
      {"IPv6UdpPacket.pcap", {1, {}}},
      {"IcmpPackets.pcap", {15, {}}},
      {"IcmpV6_EchoMessages.pcap", {2, {}}},
      {"IcmpV6_NeighAdvSoli.pcap", {2, {}}},
      {"MplsPackets.pcap", {2, {}}},
      {"TcpPacketNoOptions.pcap", {1, {}}},
      {"TcpPacketWithOptions.pcap", {1, {}}},
      {"TcpPacketWithOptions2.pcap", {1, {}}},
      {"TcpPacketWithOptions3.pcap", {1, {}}},
      {"VlanPackets.pcap", {26, {}}},
      {"Vxlan1.pcap", {1, {}}},
      {"Vxlan2.pcap", {1, {}}},
      {"four_ipv6_http_streams.pcap", {81, {}}},
      {"frag_with_padding.pcap", {8, {}}},
      {"gtp-u.pcap", {102, {}}},
      {"ip4_bad_fragment.pcap", {1, {{1, ParseError::kLengthMismatch}}}},
      {"ip4_fragments.pcap", {53, {}}},
      {"ip6_fragments.pcap", {36, {}}},
      {"ipv6_opt_fragments.pcap", {4, {}}},
      {"ipv6_options.pcap", {6, {}}},
      {"llc_vlan.pcap", {1, {}}},
      {"one_http_stream_fin.pcap", {15, {}}},
      {"one_http_stream_rst.pcap", {10, {}}},
      {"one_ipv6_http_stream.pcap", {19, {}}},
      {"one_tcp_stream.pcap", {36, {}}},
      {"one_tcp_stream_max_seq.pcap", {36, {}}},
      {"tcp-malformed.pcap",
       {2, {{1, ParseError::kBadHeaderLength}, {2, ParseError::kBadHeaderLength}}}},
      {"tcp-reassembly.pcap", {66, {}}},
      {"three_http_streams.pcap", {28, {}}},
      {"unidirectional_tcp_stream_with_missing_packet.pcap", {14, {}}},
  };
  return table;
}

Frames load(const std::string& name) {
  return read_ethernet(name);
}

// Splits `frame` into a chain of up to three segments and parses it with parse_packet.
ParseError parse_chained(const std::vector<uint8_t>& frame, size_t cut1, size_t cut2,
                         Packet* head_out) {
  static std::vector<uint8_t> bufs[3];
  Packet segs[3];
  const size_t cuts[4] = {0, cut1, cut2, frame.size()};
  for (int i = 0; i < 3; i++) {
    const size_t len = cuts[i + 1] - cuts[i];
    bufs[i].assign(len + 16, 0);
    segs[i].init(bufs[i].data(), static_cast<uint32_t>(bufs[i].size()), 8, kNoPool);
    segs[i].append(static_cast<uint32_t>(len));
    if (len > 0) std::memcpy(segs[i].data(), frame.data() + cuts[i], len);
    if (i > 0) segs[0].append_segment(&segs[i]);
  }
  const ParseError e = parse_packet(segs[0]);
  *head_out = segs[0];
  return e;
}

TEST(Captures, EveryCaptureIsInTheTable) {
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(FERRY_TEST_DATA) + "/captures")) {
    if (entry.path().extension() != ".pcap") continue;
    EXPECT_TRUE(expectations().count(entry.path().filename().string()))
        << entry.path().filename() << " has no expectation";
  }
}

TEST(Captures, EveryFrameParsesAsExpected) {
  ParseStats stats;
  size_t frames_total = 0;
  for (const auto& [name, expect] : expectations()) {
    SCOPED_TRACE(name);
    const Frames frames = load(name);
    ASSERT_EQ(frames.size(), expect.frames);
    for (size_t i = 0; i < frames.size(); i++) {
      const ParseResult r = parse_frame(frames[i]);
      stats.count(r.error);
      frames_total++;
      const auto it = expect.rejected.find(i + 1);
      const ParseError want = it == expect.rejected.end() ? ParseError::kOk : it->second;
      EXPECT_EQ(r.error, want) << "frame " << i + 1 << ": " << to_string(r.error);
      // The same frame as a chain of segments with a short head parses identically.
      const size_t cut1 = std::min<size_t>(frames[i].size(), 20);
      const size_t cut2 = std::min<size_t>(frames[i].size(), 50);
      Packet head;
      EXPECT_EQ(parse_chained(frames[i], cut1, cut2, &head), r.error) << "frame " << i + 1;
      EXPECT_EQ(head.packet_type(), r.type);
      EXPECT_EQ(head.l3_offset(), r.l3_offset);
      EXPECT_EQ(head.l4_offset(), r.l4_offset);
      EXPECT_EQ(head.inner_l2_offset(), r.inner_l2_offset);
      EXPECT_EQ(head.inner_l3_offset(), r.inner_l3_offset);
      EXPECT_EQ(head.inner_l4_offset(), r.inner_l4_offset);
    }
  }
  EXPECT_EQ(stats.total(), frames_total);
  EXPECT_EQ(stats.rejected(), 3u);
  EXPECT_EQ(stats[ParseError::kBadHeaderLength], 2u);
  EXPECT_EQ(stats[ParseError::kLengthMismatch], 1u);
}

struct Layers {
  L2Type l2;
  L3Type l3;
  uint16_t l3_off;
  L4Type l4;
  uint16_t l4_off;
  TunnelType tunnel = TunnelType::kNone;
  L2Type inner_l2 = L2Type::kNone;
  uint16_t inner_l2_off = kNoOffset;
  L3Type inner_l3 = L3Type::kNone;
  uint16_t inner_l3_off = kNoOffset;
  L4Type inner_l4 = L4Type::kNone;
  uint16_t inner_l4_off = kNoOffset;
};

void expect_layers(const std::vector<uint8_t>& frame, const Layers& want) {
  const ParseResult r = parse_frame(frame);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.type.l2(), want.l2) << to_string(r.type.l2());
  EXPECT_EQ(r.type.l3(), want.l3) << to_string(r.type.l3());
  EXPECT_EQ(r.l3_offset, want.l3_off);
  EXPECT_EQ(r.type.l4(), want.l4) << to_string(r.type.l4());
  EXPECT_EQ(r.l4_offset, want.l4_off);
  EXPECT_EQ(r.type.tunnel(), want.tunnel) << to_string(r.type.tunnel());
  EXPECT_EQ(r.type.inner_l2(), want.inner_l2);
  EXPECT_EQ(r.inner_l2_offset, want.inner_l2_off);
  EXPECT_EQ(r.type.inner_l3(), want.inner_l3);
  EXPECT_EQ(r.inner_l3_offset, want.inner_l3_off);
  EXPECT_EQ(r.type.inner_l4(), want.inner_l4);
  EXPECT_EQ(r.inner_l4_offset, want.inner_l4_off);
}

// Offsets below are read off `tshark -V -x` for the same frames.
TEST(Captures, VxlanInnerOffsets) {
  // eth 0, IPv4 14, UDP 34 (dst 4789), VXLAN 42, inner eth 50, inner IPv4 64, ICMP 84.
  for (const char* name : {"Vxlan1.pcap", "Vxlan2.pcap"}) {
    const Frames f = load(name);
    expect_layers(f[0], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kUdp, 34, TunnelType::kVxlan,
                         L2Type::kEther, 50, L3Type::kIpv4, 64, L4Type::kIcmp, 84});
  }
}

TEST(Captures, QinqAndVlan) {
  const Frames f = load("VlanPackets.pcap");
  // Frame 1: two 802.1Q tags, IPv4 at 22, ICMP at 42.
  expect_layers(f[0], {L2Type::kEtherQinq, L3Type::kIpv4, 22, L4Type::kIcmp, 42});
  // Frame 21: one tag, then an 802.3 length and LLC (CDP): nothing parsed after L2.
  expect_layers(f[20], {L2Type::kEtherVlan, L3Type::kNone, kNoOffset, L4Type::kNone, kNoOffset});
  // Frame 23: untagged LLC.
  expect_layers(f[22], {L2Type::kEther, L3Type::kNone, kNoOffset, L4Type::kNone, kNoOffset});
  // frag_with_padding frame 8: one tag, IPv4 at 18, UDP at 38, Ethernet padding after.
  expect_layers(load("frag_with_padding.pcap")[7],
                {L2Type::kEtherVlan, L3Type::kIpv4, 18, L4Type::kUdp, 38});
  // Options allowing a single tag reject the QinQ frame.
  ParseOptions one_tag;
  one_tag.max_vlan_tags = 1;
  EXPECT_EQ(parse_frame(f[0], one_tag).error, ParseError::kTooManyHeaders);
  // ARP behind two tags.
  expect_layers(load("ArpRequestWithVlan.pcap")[0],
                {L2Type::kEtherArp, L3Type::kOther, 22, L4Type::kNone, kNoOffset});
}

TEST(Captures, Ipv6ExtensionHeaders) {
  const Frames f = load("ipv6_options.pcap");
  // 1: hop-by-hop (8) + destination options (8) + routing (24) + AH (24) -> OSPF at 118.
  expect_layers(f[0], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kOther, 118});
  // 2: routing header (40) -> ICMPv6 at 94.
  expect_layers(f[1], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kIcmpv6, 94});
  // 3: routing header (24) -> UDP at 78.
  expect_layers(f[2], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kUdp, 78});
  // 5: hop-by-hop (8) -> ICMPv6 at 62 (an MLD report with router alert).
  expect_layers(f[4], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kIcmpv6, 62});
  // 6: destination options (8) -> UDP at 62.
  expect_layers(f[5], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kUdp, 62});
  // Fragments: first fragment parses UDP after the fragment header, the others do not.
  const Frames frag = load("ipv6_opt_fragments.pcap");
  expect_layers(frag[0], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kUdp, 62});
  expect_layers(frag[1], {L2Type::kEther, L3Type::kIpv6Ext, 14, L4Type::kFragment, kNoOffset});
  ParseOptions few;
  few.max_ipv6_ext_headers = 3;
  EXPECT_EQ(parse_frame(f[0], few).error, ParseError::kTooManyHeaders);
}

TEST(Captures, Mpls) {
  const Frames f = load("MplsPackets.pcap");
  // 1: two VLAN tags, one label (22..26), IPv4 at 26, TCP at 46.
  expect_layers(f[0], {L2Type::kEtherMpls, L3Type::kIpv4, 26, L4Type::kTcp, 46});
  // 2: labels 18 and 16, then an Ethernet pseudowire control word: not IP, left unparsed.
  expect_layers(f[1], {L2Type::kEtherMpls, L3Type::kOther, 22, L4Type::kNone, kNoOffset});
}

TEST(Captures, Gre) {
  const Frames f = load("GrePackets.pcap");
  // 1, 2: PPTP's enhanced GRE (version 1): recorded, not descended into.
  expect_layers(f[0], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kOther, 34, TunnelType::kGre});
  expect_layers(f[1], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kOther, 34, TunnelType::kGre});
  // 3: GRE with checksum (8 bytes) -> inner IPv4 at 42 carrying a GRE keepalive, which as
  // a tunnel in a tunnel is not descended into.
  expect_layers(f[2], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kOther, 34, TunnelType::kGre,
                       L2Type::kNone, kNoOffset, L3Type::kIpv4, 42, L4Type::kOther, 62});
  // 4: GRE with checksum -> IPv4 at 42 -> ICMP at 62.
  expect_layers(f[3], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kOther, 34, TunnelType::kGre,
                       L2Type::kNone, kNoOffset, L3Type::kIpv4, 42, L4Type::kIcmp, 62});
  // 5: plain GRE -> IPv4 at 38 -> GRE again (not descended) at 58.
  expect_layers(f[4], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kOther, 34, TunnelType::kGre,
                       L2Type::kNone, kNoOffset, L3Type::kIpv4, 38, L4Type::kOther, 58});
  // 6: VLAN, IPv6 at 18 carrying IPv4 (IP-in-IP) at 58, which carries PPTP GRE at 78.
  expect_layers(
      f[5], {L2Type::kEtherVlan, L3Type::kIpv6, 18, L4Type::kNone, kNoOffset, TunnelType::kIpInIp,
             L2Type::kNone, kNoOffset, L3Type::kIpv4, 58, L4Type::kOther, 78});
  // 7: GRE with key (8 bytes), 0x6558 -> inner Ethernet at 42, IPv4 at 56, TCP at 76.
  expect_layers(f[6], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kOther, 34, TunnelType::kGre,
                       L2Type::kEther, 42, L3Type::kIpv4, 56, L4Type::kTcp, 76});
}

TEST(Captures, IpInIpAndNeighbourDiscovery) {
  // IPv4 at 14 carrying IPv6 at 34 carrying TCP at 74.
  expect_layers(load("IPv4-encapsulated-IPv6.pcap")[0],
                {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kNone, kNoOffset, TunnelType::kIpInIp,
                 L2Type::kNone, kNoOffset, L3Type::kIpv6, 34, L4Type::kTcp, 74});
  const Frames nd = load("IcmpV6_NeighAdvSoli.pcap");
  for (const auto& f : nd) {
    expect_layers(f, {L2Type::kEther, L3Type::kIpv6, 14, L4Type::kIcmpv6, 54});
    EXPECT_EQ(parse_frame(f).headers_len, 54 + 24);
  }
}

TEST(Captures, FragmentsAndGtp) {
  const Frames f = load("IPv4Frag.pcap");
  expect_layers(f[0], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kUdp, 34});
  expect_layers(f[1], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kFragment, kNoOffset});
  expect_layers(f[2], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kFragment, kNoOffset});
  // GTP-U is not a tunnel Ferry descends into: the outer UDP is the deepest layer.
  expect_layers(load("gtp-u.pcap")[0], {L2Type::kEther, L3Type::kIpv4, 14, L4Type::kUdp, 34});
}

TEST(Captures, DescendTunnelsOff) {
  ParseOptions no_tunnels;
  no_tunnels.descend_tunnels = false;
  const ParseResult r = parse_frame(load("Vxlan1.pcap")[0], no_tunnels);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.tunnel(), TunnelType::kNone);
  EXPECT_EQ(r.inner_l2_offset, kNoOffset);
  EXPECT_EQ(r.headers_len, 42);
}

}  // namespace
}  // namespace ferry::proto
