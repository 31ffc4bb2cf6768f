#include "offload/gro.h"

#include <algorithm>
#include <map>
#include <random>
#include <span>
#include <string>

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include "gro_test_util.h"
#include "offload/gso.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "pcap/pcap_file.h"
#include "proto/parser.h"
#include "proto/tcp.h"

namespace ferry::offload {
namespace {

using namespace testing;  // NOLINT: the builders

constexpr uint8_t kAck = proto::kTcpAck;
constexpr uint8_t kPsh = proto::kTcpPsh;
constexpr uint8_t kFin = proto::kTcpFin;
constexpr uint8_t kSyn = proto::kTcpSyn;
constexpr uint8_t kRst = proto::kTcpRst;
constexpr uint8_t kUrg = proto::kTcpUrg;
constexpr uint8_t kCwr = proto::kTcpCwr;
constexpr uint8_t kEce = proto::kTcpEce;

Bytes ts_option(uint32_t val, uint32_t ecr) {
  Bytes o = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
  put32(o, 4, val);
  put32(o, 8, ecr);
  return o;
}

class GroTest : public ::testing::Test {
 protected:
  GroTest() {
    BufferPool::Config c;
    c.name = "gro_test";
    c.buffer_count = 16384;
    c.data_room = 2048;
    pool_ = BufferPool::create(c);
  }
  ~GroTest() override { EXPECT_EQ(pool_->stats().in_use, 0u) << "packets leaked"; }

  // A packet holding f, parsed; split > 0 puts the bytes after `split` in further
  // segments of `piece` bytes.
  Packet* make(const Bytes& f, CsumState st = CsumState::kNone, uint32_t split = 0,
               uint32_t piece = 300) {
    Packet* p;
    if (split == 0 || split >= f.size()) {
      p = packet_from_bytes(*pool_, f);
    } else {
      p = packet_from_bytes(*pool_, std::span(f.data(), split));
      for (uint32_t at = split; at < f.size(); at += piece) {
        const uint32_t n = std::min<uint32_t>(piece, static_cast<uint32_t>(f.size()) - at);
        p->append_segment(segments_from_bytes(*pool_, std::span(f.data() + at, n)));
      }
    }
    EXPECT_NE(p, nullptr);
    proto::parse_packet(*p);
    if (st == CsumState::kUnnecessary) p->set_csum_unnecessary(true);
    return p;
  }

  // Frames through the table in bursts of `burst`, flushed after each burst.
  std::vector<Packet*> run(GroTable& t, const std::vector<Bytes>& frames, size_t burst = 32,
                           CsumState st = CsumState::kNone, uint32_t split = 0) {
    std::vector<Packet*> out;
    for (size_t i = 0; i < frames.size(); i += burst) {
      std::vector<Packet*> in;
      for (size_t j = i; j < std::min(frames.size(), i + burst); j++) {
        in.push_back(make(frames[j], st, split));
      }
      std::vector<Packet*> o(in.size() + t.held());
      GroBurst b = t.receive(in.data(), static_cast<uint32_t>(in.size()), o.data(),
                             static_cast<uint32_t>(o.size()));
      EXPECT_EQ(b.consumed, in.size());
      uint32_t m = b.out + t.flush(o.data() + b.out, static_cast<uint32_t>(o.size()) - b.out);
      EXPECT_EQ(t.held(), 0u);
      out.insert(out.end(), o.begin(), o.begin() + m);
    }
    check_counters(t.stats());
    return out;
  }

  static void check_counters(const GroStats& s) {
    uint64_t skips = 0, flushes = 0;
    for (uint64_t v : s.skip)
      skips += v;
    for (uint64_t v : s.flush)
      flushes += v;
    EXPECT_EQ(s.packets_in, s.merged + s.held + skips);
    EXPECT_EQ(s.held, flushes);
    EXPECT_EQ(s.held, s.single_out + s.coalesced_out);
    EXPECT_EQ(s.packets_out, s.held + skips);
    EXPECT_EQ(s.merged, s.tcp_merged + s.udp_merged);
    int names = 0;
    s.for_each_counter([&](const char* name, uint64_t) {
      EXPECT_NE(std::string(name), "");
      names++;
    });
    EXPECT_EQ(names, 9 + static_cast<int>(kGroSkipCount + kGroFlushCount));
  }

  // What Ferry's GSO engine makes of an output packet (itself when it is not GSO).
  std::vector<Bytes> gso_segments(const Packet& p) {
    if (!p.is_gso()) return {packet_to_bytes(p)};
    GsoEngine gso(*pool_);
    std::vector<Packet*> segs(256);
    uint32_t n = 0;
    const GsoError e = gso.segment(p, segs.data(), static_cast<uint32_t>(segs.size()), &n);
    EXPECT_EQ(e, GsoError::kOk) << to_string(e);
    std::vector<Bytes> out;
    for (uint32_t i = 0; i < n; i++)
      out.push_back(packet_to_bytes(*segs[i]));
    free_packets(segs.data(), n);
    return out;
  }

  // gso(gro(in)) == in, per flow and in order, with Ferry's GSO engine and with the
  // test's reference segmenter; the payload streams follow.
  void expect_roundtrip(const std::vector<Bytes>& in, const std::vector<Packet*>& out) {
    expect_roundtrip_with(in, out, [](const Packet& p) { return reference_segment(p); });
    expect_roundtrip_with(in, out, [this](const Packet& p) { return gso_segments(p); });
  }

  template <typename Segmenter>
  static void expect_roundtrip_with(const std::vector<Bytes>& in, const std::vector<Packet*>& out,
                                    Segmenter&& segment) {
    std::map<std::string, std::vector<Bytes>> want, got;
    for (const Bytes& f : in)
      want[flow_of(f)].push_back(f);
    for (const Packet* p : out) {
      for (Bytes& s : segment(*p))
        got[flow_of(s)].push_back(std::move(s));
    }
    ASSERT_EQ(want.size(), got.size());
    for (auto& [k, frames] : want) {
      const auto& g = got[k];
      ASSERT_EQ(frames.size(), g.size());
      for (size_t i = 0; i < frames.size(); i++) {
        if (frames[i] == g[i]) continue;
        size_t at = 0;
        while (at < frames[i].size() && at < g[i].size() && frames[i][at] == g[i][at])
          at++;
        for (size_t j = 0; j < frames.size(); j++) {
          fprintf(stderr, "in  %zu: len %zu id %04x seq %08x fl %02x | ", j, frames[j].size(),
                  get16(frames[j], 18), get32(frames[j], 38), frames[j][47]);
          if (j < g.size())
            fprintf(stderr, "out len %zu id %04x seq %08x fl %02x\n", g[j].size(), get16(g[j], 18),
                    get32(g[j], 38), g[j][47]);
        }
        for (const Packet* p : out)
          if (flow_of(packet_to_bytes(*p)) == k)
            fprintf(stderr, "pkt len %u segs %u gso %x/%u\n", p->pkt_len(), p->segment_count(),
                    p->gso_type(), p->gso_size());
        FAIL() << "segment " << i << " of a flow differs: sizes " << frames[i].size() << " vs "
               << g[i].size() << ", first difference at byte " << at;
      }
    }
  }

  void free_all(std::vector<Packet*>& v) {
    free_packets(v.data(), static_cast<uint32_t>(v.size()));
    v.clear();
  }

  std::unique_ptr<BufferPool> pool_;
};

// A stream of n full segments of one flow, starting at seq.
std::vector<Bytes> stream(const FlowSpec& fs, int n, uint32_t mss = 1448, uint32_t seq = 1000,
                          uint16_t id = 100, bool fixed_id = false) {
  std::mt19937 rng(n * 7 + mss);
  std::vector<Bytes> v;
  for (int i = 0; i < n; i++) {
    SegSpec s;
    s.seq = seq + i * mss;
    s.ip_id = static_cast<uint16_t>(id + (fixed_id ? 0 : i));
    s.payload = random_bytes(mss, rng);
    v.push_back(build_frame(fs, s));
  }
  return v;
}

uint64_t flushes(const GroTable& t, GroFlush r) {
  return t.stats().flush[static_cast<int>(r)];
}
uint64_t skips(const GroTable& t, GroSkip r) {
  return t.stats().skip[static_cast<int>(r)];
}

TEST_F(GroTest, MergesTcpv4SegmentsAsLinuxLeavesThem) {
  GroTable t;
  FlowSpec fs;
  auto in = stream(fs, 4);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 1u);
  Packet& p = *out[0];
  EXPECT_EQ(p.pkt_len(), 14 + 20 + 20 + 4 * 1448u);
  EXPECT_EQ(p.segment_count(), 4u);
  EXPECT_EQ(p.gso_size(), 1448);
  EXPECT_EQ(p.gso_type(), kGsoTcpv4);
  EXPECT_EQ(p.csum_state(), CsumState::kPartial);
  EXPECT_EQ(p.csum_start(), 34);
  EXPECT_EQ(p.csum_offset(), 16);
  Bytes b = packet_to_bytes(p);
  EXPECT_EQ(get16(b, 14 + 2), 20 + 20 + 4 * 1448);
  EXPECT_EQ(ref_fold(ref_sum(&b[14], 20)), 0xffff) << "IPv4 header checksum";
  // The TCP checksum field holds the folded pseudo-header sum for the new length.
  uint64_t ps = ref_sum(&b[14 + 12], 8) + IPPROTO_TCP + (b.size() - 34);
  EXPECT_EQ(get16(b, 34 + 16), ref_fold(ps));
  EXPECT_EQ(t.stats().merged, 3u);
  EXPECT_EQ(t.stats().tcp_merged, 3u);
  EXPECT_EQ(flushes(t, GroFlush::kBurstEnd), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, MergesTcpv6WithTimestamps) {
  GroTable t;
  FlowSpec fs;
  fs.v6 = true;
  fs.options = ts_option(111, 222);
  auto in = stream(fs, 5, 1428);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->gso_type(), kGsoTcpv6);
  EXPECT_EQ(out[0]->gso_size(), 1428);
  Bytes b = packet_to_bytes(*out[0]);
  EXPECT_EQ(get16(b, 14 + 4), b.size() - 54);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, DifferentTimestampsDoNotMerge) {
  GroTable t;
  FlowSpec fs;
  fs.options = ts_option(1, 2);
  auto in = stream(fs, 2);
  FlowSpec fs2 = fs;
  fs2.options = ts_option(2, 2);
  in[1] = stream(fs2, 2)[1];
  auto out = run(t, in);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(flushes(t, GroFlush::kOptions), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, PshIsMergedThenFlushed) {
  GroTable t;
  FlowSpec fs;
  auto in = stream(fs, 5);
  in[2] = [&] {
    SegSpec s;
    s.seq = 1000 + 2 * 1448;
    s.ip_id = 102;
    s.flags = kAck | kPsh;
    std::mt19937 rng(1);
    s.payload = random_bytes(1448, rng);
    return build_frame(fs, s);
  }();
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->segment_count(), 3u);
  EXPECT_EQ(out[1]->segment_count(), 2u);
  EXPECT_EQ(flushes(t, GroFlush::kPsh), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

// Builds a stream where segment k has extra flags (and optionally another change).
std::vector<Bytes> stream_with(const FlowSpec& fs, int n, int k, uint8_t flags,
                               uint32_t payload_k = 1448) {
  std::vector<Bytes> v;
  std::mt19937 rng(k);
  uint32_t seq = 1000;
  for (int i = 0; i < n; i++) {
    SegSpec s;
    s.seq = seq;
    s.ip_id = static_cast<uint16_t>(100 + i);
    s.flags = i == k ? flags : kAck;
    s.payload = random_bytes(i == k ? payload_k : 1448, rng);
    seq += static_cast<uint32_t>(s.payload.size());
    v.push_back(build_frame(fs, s));
  }
  return v;
}

TEST_F(GroTest, FinIsMergedThenFlushed) {
  GroTable t;
  auto in = stream_with(FlowSpec{}, 3, 2, kAck | kFin);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(flushes(t, GroFlush::kFinal), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, SynRstUrgNeverMerge) {
  for (uint8_t f : {uint8_t(kAck | kSyn), uint8_t(kAck | kRst), uint8_t(kAck | kUrg)}) {
    GroTable t;
    auto in = stream_with(FlowSpec{}, 4, 2, f);
    auto out = run(t, in);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0]->segment_count(), 2u);
    EXPECT_EQ(skips(t, GroSkip::kFlags), 1u);
    EXPECT_EQ(flushes(t, GroFlush::kOtherPacket), 1u);
    expect_roundtrip(in, out);
    free_all(out);
  }
}

TEST_F(GroTest, FlagOnFirstSegmentIsHandedOnAtOnce) {
  GroTable t;
  auto in = stream_with(FlowSpec{}, 3, 0, kAck | kPsh);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0]->is_gso());
  EXPECT_EQ(out[1]->segment_count(), 2u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, CwrStartsANewMergeAndIsRecorded) {
  GroTable t;
  auto in = stream_with(FlowSpec{}, 4, 1, kAck | kCwr);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(flushes(t, GroFlush::kCwr), 1u);
  EXPECT_EQ(out[1]->gso_type(), kGsoTcpv4 | kGsoTcpEcn);
  EXPECT_EQ(out[1]->segment_count(), 3u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, EceDifferenceEndsTheMerge) {
  GroTable t;
  auto in = stream_with(FlowSpec{}, 3, 1, kAck | kEce);
  auto out = run(t, in);
  EXPECT_EQ(flushes(t, GroFlush::kTcpHeader), 2u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, SequenceGapAckChangeWindowChange) {
  {
    GroTable t;
    auto in = stream(FlowSpec{}, 4);
    in.erase(in.begin() + 2);  // a lost segment
    auto out = run(t, in);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(flushes(t, GroFlush::kSeq), 1u);
    free_all(out);
  }
  {
    GroTable t;
    auto in = stream(FlowSpec{}, 3);
    put32(in[2], 34 + 8, 9999);
    fill_l4(in[2], 14, 34, false, IPPROTO_TCP);
    auto out = run(t, in);
    EXPECT_EQ(flushes(t, GroFlush::kAck), 1u);
    expect_roundtrip(in, out);
    free_all(out);
  }
  {
    GroTable t;
    auto in = stream(FlowSpec{}, 3);
    put16(in[1], 34 + 14, 999);
    fill_l4(in[1], 14, 34, false, IPPROTO_TCP);
    auto out = run(t, in);
    EXPECT_EQ(out.size(), 3u);
    EXPECT_EQ(flushes(t, GroFlush::kTcpHeader), 2u);
    expect_roundtrip(in, out);
    free_all(out);
  }
}

TEST_F(GroTest, ShortSegmentIsTheLastMerged) {
  GroTable t;
  auto in = stream_with(FlowSpec{}, 5, 2, kAck, 500);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->segment_count(), 3u);
  EXPECT_EQ(flushes(t, GroFlush::kShortSegment), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, LongerThanMssIsNotMerged) {
  GroTable t;
  auto in = stream_with(FlowSpec{}, 3, 0, kAck, 500);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(flushes(t, GroFlush::kLongSegment), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, PureAckPushesOutTheFlowAndPasses) {
  GroTable t;
  auto in = stream(FlowSpec{}, 2);
  SegSpec s;
  s.seq = 1000 + 2 * 1448;
  s.ip_id = 102;
  in.push_back(build_frame(FlowSpec{}, s));  // no payload
  auto more = stream(FlowSpec{}, 2, 1448, 1000 + 2 * 1448, 103);
  in.insert(in.end(), more.begin(), more.end());
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(skips(t, GroSkip::kNoPayload), 1u);
  EXPECT_EQ(flushes(t, GroFlush::kOtherPacket), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, Ipv4IdIncrementingOrFixedNotMixed) {
  {  // fixed with DF: merged, recorded
    GroTable t;
    auto in = stream(FlowSpec{}, 4, 1448, 1000, 7, true);
    auto out = run(t, in);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]->gso_type(), kGsoTcpv4 | kGsoTcpFixedId);
    expect_roundtrip(in, out);
    free_all(out);
  }
  {  // fixed without DF: not merged
    GroTable t;
    FlowSpec fs;
    fs.df = false;
    auto in = stream(fs, 3, 1448, 1000, 7, true);
    auto out = run(t, in);
    EXPECT_EQ(out.size(), 3u);
    EXPECT_EQ(flushes(t, GroFlush::kIpId), 2u);
    free_all(out);
  }
  {  // incrementing, then repeated: the flow ends there
    GroTable t;
    auto in = stream(FlowSpec{}, 4);
    auto fixed = stream(FlowSpec{}, 4, 1448, 1000, 100, true);
    in[2] = fixed[2];
    in[2][14 + 5] = 101;  // ID 101 again
    fill_ipv4(in[2], 14);
    auto out = run(t, in);
    EXPECT_EQ(flushes(t, GroFlush::kIpId), 2u);  // 101 after 101, then 103 after 101
    expect_roundtrip(in, out);
    free_all(out);
  }
}

TEST_F(GroTest, IpFieldChangesEndTheMerge) {
  auto change = [&](bool v6, size_t at, uint8_t value) {
    GroTable t;
    FlowSpec fs;
    fs.v6 = v6;
    auto in = stream(fs, 3);
    in[1][14 + at] = value;
    if (!v6) fill_ipv4(in[1], 14);
    fill_l4(in[1], 14, v6 ? 54 : 34, v6, IPPROTO_TCP);
    auto out = run(t, in);
    expect_roundtrip(in, out);
    free_all(out);
    return t.stats();
  };
  EXPECT_EQ(change(false, 8, 63).flush[int(GroFlush::kIpFields)], 2u);    // TTL
  EXPECT_EQ(change(false, 1, 0x03).flush[int(GroFlush::kIpFields)], 2u);  // ECN CE
  EXPECT_EQ(change(false, 1, 0x10).flush[int(GroFlush::kIpFields)], 2u);  // DSCP
  EXPECT_EQ(change(false, 6, 0x00).flush[int(GroFlush::kIpFields)], 2u);  // DF cleared
  EXPECT_EQ(change(true, 1, 0x31).flush[int(GroFlush::kIpFields)], 2u);   // traffic class
  EXPECT_EQ(change(true, 7, 1).flush[int(GroFlush::kIpFields)], 2u);      // hop limit
  EXPECT_EQ(change(true, 3, 1).flush[int(GroFlush::kIpFields)], 2u);      // flow label
}

TEST_F(GroTest, SizeLimitIs64KiB) {
  GroTable t;
  auto in = stream(FlowSpec{}, 50);
  auto out = run(t, in, 64);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->segment_count(), 45u);  // 40 + 45 * 1448 < 65536 <= 40 + 46 * 1448
  EXPECT_LT(out[0]->pkt_len() - 14, 65536u);
  EXPECT_EQ(flushes(t, GroFlush::kSizeLimit), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, SegmentLimit) {
  GroConfig c;
  c.max_segments = 4;
  GroTable t(c);
  auto in = stream(FlowSpec{}, 10);
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]->segment_count(), 4u);
  EXPECT_EQ(flushes(t, GroFlush::kSegmentLimit), 2u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, ChecksumRules) {
  {  // a corrupted payload byte: not merged, flow kept in order
    GroTable t;
    auto in = stream(FlowSpec{}, 4);
    in[2][100] ^= 0x40;
    auto out = run(t, in);
    EXPECT_EQ(skips(t, GroSkip::kBadL4Checksum), 1u);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(packet_to_bytes(*out[1]), in[2]);
    free_all(out);
  }
  {  // bad IPv4 header checksum
    GroTable t;
    auto in = stream(FlowSpec{}, 3);
    in[1][14 + 10] ^= 1;
    auto out = run(t, in);
    EXPECT_EQ(skips(t, GroSkip::kBadIpChecksum), 1u);
    free_all(out);
  }
  {  // unverified kNone without software verification
    GroConfig c;
    c.verify_checksums = false;
    GroTable t(c);
    auto in = stream(FlowSpec{}, 3);
    auto out = run(t, in);
    EXPECT_EQ(skips(t, GroSkip::kUnverifiedChecksum), 3u);
    EXPECT_EQ(out.size(), 3u);
    free_all(out);
  }
  {  // kUnnecessary is trusted
    GroConfig c;
    c.verify_checksums = false;
    GroTable t(c);
    auto in = stream(FlowSpec{}, 3);
    auto out = run(t, in, 32, CsumState::kUnnecessary);
    EXPECT_EQ(out.size(), 1u);
    expect_roundtrip(in, out);
    free_all(out);
  }
  {  // kComplete is verified from the sum
    GroConfig c;
    c.verify_checksums = false;
    GroTable t(c);
    auto in = stream(FlowSpec{}, 3);
    std::vector<Packet*> pk;
    for (auto& f : in) {
      Packet* p = make(f);
      // csum_value() is in memory order (raw_sum.h): the byte-swapped big-endian sum.
      p->set_csum_complete(14, __builtin_bswap16(ref_fold(ref_sum(&f[14], f.size() - 14))));
      pk.push_back(p);
    }
    std::vector<Packet*> o(8);
    GroBurst b = t.receive(pk.data(), 3, o.data(), 8);
    uint32_t m = b.out + t.flush(o.data() + b.out, 8 - b.out);
    o.resize(m);
    EXPECT_EQ(m, 1u);
    expect_roundtrip(in, o);
    free_all(o);
  }
}

TEST_F(GroTest, NotEligiblePackets) {
  GroTable t;
  FlowSpec fs;
  auto in = stream(fs, 2);
  // IP options (IHL 6)
  Bytes opt = in[0];
  opt.insert(opt.begin() + 34, {1, 1, 1, 0});
  opt[14] = 0x46;
  put16(opt, 16, static_cast<uint16_t>(opt.size() - 14));
  fill_ipv4(opt, 14);
  Bytes frag = in[0];
  put16(frag, 14 + 6, 0x2000);  // MF
  fill_ipv4(frag, 14);
  Bytes padded = in[0];
  padded.resize(padded.size() + 4);
  Bytes arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  auto out = run(t, {opt, frag, padded, arp});
  EXPECT_EQ(skips(t, GroSkip::kIpOptions), 1u);
  EXPECT_EQ(skips(t, GroSkip::kFragment), 1u);
  EXPECT_EQ(skips(t, GroSkip::kBadLength), 1u);
  EXPECT_EQ(skips(t, GroSkip::kNotIp), 1u);
  free_all(out);
}

TEST_F(GroTest, UdpL4Gro) {
  GroTable t;
  FlowSpec fs;
  fs.udp = true;
  fs.dport = 5000;
  std::mt19937 rng(3);
  std::vector<Bytes> in;
  for (int i = 0; i < 6; i++) {
    SegSpec s;
    s.ip_id = static_cast<uint16_t>(1 + i);
    s.payload = random_bytes(i == 3 ? 700 : 1200, rng);
    in.push_back(build_frame(fs, s));
  }
  auto out = run(t, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->segment_count(), 4u);  // the shorter 4th ends the run
  EXPECT_EQ(out[0]->gso_type(), kGsoUdpL4);
  EXPECT_EQ(out[0]->gso_size(), 1200);
  EXPECT_EQ(flushes(t, GroFlush::kShortSegment), 1u);
  EXPECT_EQ(t.stats().udp_merged, 4u);
  expect_roundtrip(in, out);
  free_all(out);

  // A longer datagram does not merge; a zero checksum is not merged (Linux needs one).
  GroTable t2;
  std::vector<Bytes> in2;
  for (int i = 0; i < 3; i++) {
    SegSpec s;
    s.ip_id = static_cast<uint16_t>(1 + i);
    s.payload = random_bytes(i == 1 ? 1300 : 1200, rng);
    s.zero_udp_csum = i == 2;
    in2.push_back(build_frame(fs, s));
  }
  out = run(t2, in2);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(flushes(t2, GroFlush::kUdpLength), 1u);
  EXPECT_EQ(skips(t2, GroSkip::kUdpZeroChecksum), 1u);
  free_all(out);
}

TEST_F(GroTest, OldestFlowIsEvicted) {
  GroConfig c;
  c.max_flows = 2;
  GroTable t(c);
  std::vector<Bytes> in;
  std::vector<std::vector<Bytes>> s;
  for (uint8_t f = 0; f < 3; f++) {
    FlowSpec fs;
    fs.sport = static_cast<uint16_t>(1000 + f);
    s.push_back(stream(fs, 2));
  }
  for (int i = 0; i < 2; i++)
    for (int f = 0; f < 3; f++)
      in.push_back(s[f][i]);
  auto out = run(t, in);
  EXPECT_GE(flushes(t, GroFlush::kEvicted), 1u);
  expect_roundtrip(in, out);
  free_all(out);
}

TEST_F(GroTest, VlanAndPortSeparateFlows) {
  GroTable t;
  FlowSpec a, b;
  a.vlan = 10;
  b.vlan = 20;
  auto sa = stream(a, 3), sb = stream(b, 3);
  std::vector<Bytes> in;
  for (int i = 0; i < 3; i++) {
    in.push_back(sa[i]);
    in.push_back(sb[i]);
  }
  auto out = run(t, in);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(t.stats().merged, 4u);
  free_all(out);
}

TEST_F(GroTest, ChainedInputsMerge) {
  GroTable t;
  auto in = stream(FlowSpec{}, 4);
  auto out = run(t, in, 32, CsumState::kNone, 100);  // headers + 46 bytes, then 300s
  ASSERT_EQ(out.size(), 1u);
  expect_roundtrip(in, out);
  free_all(out);
  GroTable t2;
  out = run(t2, in, 32, CsumState::kNone, 40);  // TCP header split off
  EXPECT_EQ(skips(t2, GroSkip::kHeadersSplit), 4u);
  expect_roundtrip(in, out);
  free_all(out);
}

struct TunnelCase {
  OuterSpec o;
  bool inner_v6;
  uint16_t want_bits;
};

TEST_F(GroTest, GroAfterTunnelDecap) {
  OuterSpec vx;
  OuterSpec vx0 = vx;
  vx0.udp_csum = false;
  OuterSpec vx6 = vx;
  vx6.v6 = true;
  OuterSpec gen;
  gen.tun = Tun::kGeneve;
  gen.geneve_options = {0x01, 0x02, 0x03, 0x01, 0xaa, 0xbb, 0xcc, 0xdd};
  OuterSpec gre;
  gre.tun = Tun::kGre;
  OuterSpec grec = gre;
  grec.gre_csum = true;
  for (const TunnelCase& tc : std::vector<TunnelCase>{
           {vx, false, kGsoTcpv4 | kGsoUdpTunnel | kGsoUdpTunnelCsum},
           {vx0, true, kGsoTcpv6 | kGsoUdpTunnel},
           {vx6, false, kGsoTcpv4 | kGsoUdpTunnel | kGsoUdpTunnelCsum},
           {gen, false, kGsoTcpv4 | kGsoUdpTunnel | kGsoUdpTunnelCsum},
           {gre, false, kGsoTcpv4 | kGsoGre},
           {grec, true, kGsoTcpv6 | kGsoGre | kGsoGreCsum},
       }) {
    GroTable t;
    FlowSpec fs;
    fs.v6 = tc.inner_v6;
    auto inner = stream(fs, 4, 1380);
    std::vector<Bytes> in;
    OuterSpec o = tc.o;
    for (auto& f : inner) {
      in.push_back(encap(f, o));
      o.ip_id++;
    }
    auto out = run(t, in);
    ASSERT_EQ(out.size(), 1u) << int(tc.o.tun);
    EXPECT_EQ(out[0]->gso_type(), tc.want_bits);
    EXPECT_EQ(t.stats().tunnel_merged, 3u);
    expect_roundtrip(in, out);
    free_all(out);
  }
  // A different VNI is another flow.
  GroTable t;
  auto inner = stream(FlowSpec{}, 2, 1380);
  OuterSpec o2 = vx;
  o2.vni = 43;
  o2.ip_id = 8;
  auto out = run(t, {encap(inner[0], vx), encap(inner[1], o2)});
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(t.stats().merged, 0u);
  free_all(out);
}

TEST_F(GroTest, ReassembleBurstInPlace) {
  GroTable t;
  std::vector<Bytes> in;
  for (uint16_t f = 0; f < 4; f++) {
    FlowSpec fs;
    fs.sport = static_cast<uint16_t>(2000 + f);
    auto s = stream(fs, 8);
    in.insert(in.end(), s.begin(), s.end());
  }
  std::vector<Packet*> pk;
  for (auto& f : in)
    pk.push_back(make(f));
  uint32_t m = t.reassemble_burst(pk.data(), static_cast<uint32_t>(pk.size()));
  EXPECT_EQ(m, 4u);
  pk.resize(m);
  expect_roundtrip(in, pk);
  free_all(pk);
}

// ---- property tests over generated streams ----------------------------------------

struct GenFlow {
  FlowSpec fs;
  uint32_t seq;
  uint32_t ack;
  uint16_t id;
  uint32_t ts;
  uint32_t mss;
  OuterSpec outer;
  bool tunnel = false;
};

std::vector<Bytes> random_traffic(std::mt19937& rng, int flows, int packets) {
  std::vector<GenFlow> g(flows);
  for (int i = 0; i < flows; i++) {
    GenFlow& f = g[i];
    f.fs.v6 = rng() % 2;
    f.fs.udp = rng() % 8 == 0;
    f.fs.sport = static_cast<uint16_t>(1000 + i);
    f.fs.df = rng() % 4 != 0;
    if (rng() % 2) f.fs.options = ts_option(rng(), rng());
    f.seq = rng();
    f.ack = rng();
    f.id = static_cast<uint16_t>(rng());
    f.ts = rng();
    f.mss = rng() % 3 == 0 ? 536 + rng() % 900 : 1448 - static_cast<uint32_t>(f.fs.options.size());
    f.tunnel = rng() % 5 == 0;
    if (f.tunnel) {
      f.fs.udp = false;
      f.outer.tun = static_cast<Tun>(1 + rng() % 3);
      f.outer.v6 = rng() % 2;
      f.outer.udp_csum = rng() % 2;
      f.outer.gre_csum = rng() % 2;
      f.outer.sport = static_cast<uint16_t>(rng());
      f.mss = std::min<uint32_t>(f.mss, 1300);
    }
  }
  std::vector<Bytes> out;
  for (int n = 0; n < packets; n++) {
    GenFlow& f = g[rng() % flows];
    SegSpec s;
    s.seq = f.seq;
    s.ack = f.ack;
    s.ip_id = f.id;
    const bool fixed_id = f.fs.df && (f.id & 1);  // some flows keep the ID fixed
    uint32_t len = f.mss;
    const uint32_t r = rng() % 100;
    if (r < 8) len = rng() % f.mss;  // short (or empty) segment
    if (r >= 8 && r < 12) s.flags = kAck | kPsh;
    if (r == 12) s.flags = kAck | kFin;
    if (r == 13) s.flags = kAck | kCwr;
    if (r == 14) s.flags = kAck | kEce;
    if (r == 15) s.flags = kAck | kUrg;
    if (r == 16) s.flags = kRst;
    if (r == 17) s.flags = kSyn | kAck;
    if (r >= 18 && r < 22) f.ack += rng() % 3000;  // ACK moves
    if (r == 22) f.fs.window = static_cast<uint16_t>(rng());
    if (r == 23 && !f.fs.options.empty()) f.fs.options = ts_option(++f.ts, rng());
    if (r == 24) f.fs.ttl = static_cast<uint8_t>(rng());
    if (r == 25) len = 0;  // dup ACK
    s.payload = random_bytes(len, rng);
    Bytes fr = build_frame(f.fs, s);
    if (f.tunnel) {
      fr = encap(fr, f.outer);
      if (!fixed_id) f.outer.ip_id++;
    }
    if (r >= 26 && r < 29) {
      // lost: advance without sending
    } else if (r == 29 && !out.empty()) {
      std::swap(fr, out.back());  // reordering
      out.push_back(fr);
    } else if (r == 30 && !out.empty()) {
      out.push_back(out.back());  // duplicate
      out.push_back(fr);
    } else {
      out.push_back(fr);
    }
    if (!f.fs.udp) f.seq += len + ((s.flags & (kSyn | kFin)) ? 1 : 0);
    if (!fixed_id) f.id++;
  }
  return out;
}

TEST_F(GroTest, PropertyRandomStreams) {
  std::mt19937 rng(12345);
  uint64_t merged = 0, coalesced = 0, tunnel = 0, udp = 0, skipped = 0;
  for (int iter = 0; iter < 150; iter++) {
    GroConfig c;
    c.max_flows = 1 + rng() % 16;
    c.max_segments = static_cast<uint16_t>(2 + rng() % 64);
    GroTable t(c);
    auto in = random_traffic(rng, 1 + rng() % 12, 50 + rng() % 300);
    const CsumState st = rng() % 2 ? CsumState::kUnnecessary : CsumState::kNone;
    const uint32_t split = rng() % 3 == 0 ? 60 + rng() % 200 : 0;
    auto out = run(t, in, 1 + rng() % 64, st, split);
    expect_roundtrip(in, out);
    if (HasFatalFailure()) {
      free_all(out);
      return;
    }
    EXPECT_LE(out.size(), in.size());
    merged += t.stats().merged;
    coalesced += t.stats().coalesced_out;
    tunnel += t.stats().tunnel_merged;
    udp += t.stats().udp_merged;
    for (uint64_t v : t.stats().skip)
      skipped += v;
    free_all(out);
  }
  // The streams exercise merging, not only the pass-through paths.
  EXPECT_GT(merged, 5000u);
  EXPECT_GT(coalesced, 1000u);
  EXPECT_GT(tunnel, 500u);
  EXPECT_GT(udp, 200u);
  EXPECT_GT(skipped, 1000u);
  printf("random streams: merged %lu, coalesced packets %lu, tunnel %lu, udp %lu, skipped %lu\n",
         (unsigned long)merged, (unsigned long)coalesced, (unsigned long)tunnel, (unsigned long)udp,
         (unsigned long)skipped);
}

TEST_F(GroTest, PropertyLongTcpStreamsCoalesce) {
  std::mt19937 rng(7);
  GroTable t;
  std::vector<Bytes> in;
  std::vector<std::vector<Bytes>> s;
  for (int f = 0; f < 8; f++) {
    FlowSpec fs;
    fs.v6 = f % 2;
    fs.sport = static_cast<uint16_t>(3000 + f);
    fs.options = ts_option(5, 6);
    s.push_back(stream(fs, 64, 1436, rng(), static_cast<uint16_t>(rng())));
  }
  for (int i = 0; i < 64; i++)
    for (int f = 0; f < 8; f++)
      in.push_back(s[f][i]);
  auto out = run(t, in, 64);
  EXPECT_EQ(out.size(), 8u * 8);  // each burst of 64 holds 8 segments of each flow
  expect_roundtrip(in, out);
  free_all(out);
}

// ---- real captures ------------------------------------------------------------------

// Frames of a capture as Ethernet frames (raw-IP captures get an Ethernet header).
std::vector<Bytes> read_capture(const std::string& name) {
  const std::string path = std::string(FERRY_TEST_DATA) + "/captures/" + name;
  char errbuf[PCAP_ERRBUF_SIZE];
  ::pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
  EXPECT_NE(p, nullptr) << errbuf;
  std::vector<Bytes> out;
  if (p == nullptr) return out;
  const bool raw = pcap_datalink(p) == DLT_RAW;
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    Bytes f;
    if (raw) {
      f = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
      if (h->caplen > 0 && (data[0] >> 4) == 6) f[12] = 0x86, f[13] = 0xdd;
    }
    f.insert(f.end(), data, data + h->caplen);
    out.push_back(std::move(f));
  }
  pcap_close(p);
  return out;
}

class GroCaptureTest : public GroTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(GroCaptureTest, RoundTripsAndKeepsPayloadStreams) {
  std::vector<Bytes> in = read_capture(GetParam());
  ASSERT_FALSE(in.empty());
  for (size_t burst : {size_t{1}, size_t{8}, size_t{64}}) {
    for (CsumState st : {CsumState::kNone, CsumState::kUnnecessary}) {
      GroTable t;
      auto out = run(t, in, burst, st);
      expect_roundtrip(in, out);
      if (burst == 64 && st == CsumState::kNone) {
        printf("%s: %zu frames -> %zu, merged %lu\n", GetParam(), in.size(), out.size(),
               (unsigned long)t.stats().merged);
      }
      free_all(out);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Captures, GroCaptureTest,
    ::testing::Values("one_tcp_stream.pcap", "one_ipv6_http_stream.pcap", "three_http_streams.pcap",
                      "four_ipv6_http_streams.pcap", "TcpPacketWithOptions.pcap",
                      "TcpPacketWithOptions2.pcap", "TcpPacketWithOptions3.pcap",
                      "unidirectional_tcp_stream_with_missing_packet.pcap",
                      "one_tcp_stream_max_seq.pcap", "650HttpResponses.pcap", "Vxlan1.pcap",
                      "one_http_stream_fin.pcap", "one_http_stream_rst.pcap"),
    [](const auto& param_info) {
      std::string n = param_info.param;
      n = n.substr(0, n.find('.'));
      std::erase_if(n, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); });
      return n;
    });

}  // namespace
}  // namespace ferry::offload
