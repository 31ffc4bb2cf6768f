// The checksum engine against real traffic: every IPv4 header and TCP/UDP/ICMP/ICMPv6
// checksum of the captures that can be located verifies, linear and chained; a flipped
// byte fails. Headers are located by the parser; frames it rejects are its own tests' business.

#include <filesystem>
#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "csum/chain_bytes.h"
#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "pcap/pcap_file.h"
#include "proto/parser.h"
#include "test_packets.h"

namespace ferry::csum {
namespace {

using testing::TestPacket;

std::vector<std::string> capture_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(FERRY_TEST_DATA "/captures")) {
    if (e.path().extension() == ".pcap") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Checksums that are wrong in the captures themselves (tshark agrees): the sending host
// offloaded them, or the frame is malformed on purpose. {file, frame, what}.
struct KnownBad {
  const char* file;
  int frame;
  const char* what;  // "ip" or "l4"
};
const KnownBad kKnownBad[] = {
    {"TcpPacketWithOptions.pcap", 1, "l4"}, {"TcpPacketWithOptions3.pcap", 1, "l4"},
    {"one_http_stream_fin.pcap", 2, "ip"},  {"one_http_stream_fin.pcap", 5, "ip"},
    {"one_http_stream_fin.pcap", 6, "ip"},  {"one_http_stream_fin.pcap", 7, "ip"},
    {"one_http_stream_fin.pcap", 8, "ip"},  {"one_http_stream_fin.pcap", 9, "ip"},
    {"one_http_stream_fin.pcap", 10, "ip"}, {"one_http_stream_fin.pcap", 15, "ip"},
};

CsumError expected(const std::string& path, int frame, const char* what) {
  std::string name = std::filesystem::path(path).filename().string();
  for (const KnownBad& k : kKnownBad) {
    if (name == k.file && frame == k.frame && std::string(what) == k.what) {
      return CsumError::kBadChecksum;
    }
  }
  return CsumError::kOk;
}

struct Counts {
  int frames = 0, ipv4_ok = 0, l4_ok = 0, l4_zero_udp = 0, l4_not_checked = 0;
};

TEST(Captures, EveryLocatedChecksumVerifies) {
  std::mt19937 rng(31);
  Counts total;
  for (const std::string& file : capture_files()) {
    std::vector<pcap::Frame> frames;
    std::string error;
    ASSERT_TRUE(pcap::PcapReader::read_all(file, &frames, &error)) << error;
    Counts c;
    int index = 0;
    for (const pcap::Frame& frame : frames) {
      index++;
      if (frame.data.size() != frame.original_len) continue;  // not captured whole
      const proto::ParseResult parsed = proto::parse_frame(frame.data);
      if (!parsed.ok()) continue;
      const testing::Meta meta{parsed.type,
                               parsed.l3_offset,
                               parsed.l4_offset,
                               parsed.inner_l2_offset,
                               parsed.inner_l3_offset,
                               parsed.inner_l4_offset};
      c.frames++;
      TestPacket p(frame.data);
      testing::apply(p.head(), meta);
      std::string where = file + " frame " + std::to_string(index);
      for (Layer layer : {Layer::kOuter, Layer::kInner}) {
        CsumError ip = verify_ipv4_header(p.head(), layer);
        if (ip != CsumError::kNoHeader) {
          EXPECT_EQ(ip, expected(file, index, "ip")) << where;
          c.ipv4_ok += ip == CsumError::kOk;
        }
        L4Span span;
        if (locate_l4(p.head(), layer, &span) != CsumError::kOk) {
          c.l4_not_checked++;
          continue;
        }
        CsumError l4 = verify_l4(p.head(), layer);
        EXPECT_EQ(l4, expected(file, index, "l4"))
            << where << (layer == Layer::kInner ? " inner" : "");
        uint16_t field;
        ASSERT_TRUE(copy_from_chain(p.head(), span.field_offset, &field, 2));
        if (span.is_udp && field == 0) {
          c.l4_zero_udp++;
          continue;
        }
        c.l4_ok += l4 == CsumError::kOk;
        if (l4 != CsumError::kOk) continue;

        // Chained at odd sizes, and through a COMPLETE sum: the same verdict.
        TestPacket chained(frame.data,
                           testing::random_split(static_cast<uint32_t>(frame.data.size()), rng));
        testing::apply(chained.head(), meta);
        EXPECT_EQ(verify_l4(chained.head(), layer), CsumError::kOk) << where;
        ASSERT_EQ(make_complete(chained.head(), meta.l3), CsumError::kOk);
        EXPECT_EQ(verify_l4_complete(chained.head(), layer), CsumError::kOk) << where;
        // Refilling gives the bytes of the capture back (up to 0 vs 0xffff for TCP).
        ASSERT_EQ(fill_l4(chained.head(), layer), CsumError::kOk);
        std::vector<uint8_t> refilled = chained.linear();
        if (refilled != frame.data) {
          uint16_t was = load_unaligned<uint16_t>(&frame.data[span.field_offset]);
          uint16_t now = load_unaligned<uint16_t>(&refilled[span.field_offset]);
          EXPECT_TRUE((was == 0xffff && now == 0) || (was == 0 && now == 0xffff)) << where;
        }
        // A flipped bit of the L4 data fails (not the UDP length or checksum field).
        uint32_t at = span.l4_offset + 8 + static_cast<uint32_t>(rng() % (span.l4_len - 8 + 1));
        if (at >= span.l4_offset + span.l4_len) at = span.l4_offset;  // a port byte
        p.flip(at, 0x20);
        EXPECT_EQ(verify_l4(p.head(), layer), CsumError::kBadChecksum) << where;
        p.flip(at, 0x20);
      }
      if (meta.type.is_ipv4() && expected(file, index, "ip") == CsumError::kOk) {
        p.flip(meta.l3 + 8);  // TTL
        EXPECT_EQ(verify_ipv4_header(p.head()), CsumError::kBadChecksum) << where;
      }
    }
    std::printf("%-50s frames %4d  ipv4 hdr ok %4d  l4 ok %4d  udp none %3d  l4 skipped %4d\n",
                std::filesystem::path(file).filename().c_str(), c.frames, c.ipv4_ok, c.l4_ok,
                c.l4_zero_udp, c.l4_not_checked);
    total.frames += c.frames;
    total.ipv4_ok += c.ipv4_ok;
    total.l4_ok += c.l4_ok;
  }
  EXPECT_GT(total.ipv4_ok, 500);
  EXPECT_GT(total.l4_ok, 500);
}

}  // namespace
}  // namespace ferry::csum
