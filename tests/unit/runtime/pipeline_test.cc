// The worker pipeline end to end with in-process ports (no kernel): PatchPorts whose far
// ends the test drives as hosts, a capture port with chosen capabilities, and a pcap
// capture replayed into pcap recorder ports.

#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "csum/ip_checksum.h"
#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "csum/raw_sum.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "pcap/pcap_file.h"
#include "port/patch_port.h"
#include "port/pcap_port.h"
#include "proto/parser.h"
#include "runtime/datapath.h"
#include "runtime/stats_report.h"

namespace ferry::runtime {
namespace {

using Mac = std::array<uint8_t, 6>;

Mac mac(uint8_t last) {
  return {0x52, 0x54, 0x00, 0x00, 0x00, last};
}
uint64_t mac_value(uint8_t last) {
  return 0x525400000000ull | last;
}

// Ethernet (+ optional 802.1Q) + IPv4 + UDP (or TCP) with `payload` bytes.
std::vector<uint8_t> frame(const Mac& dst, const Mac& src, uint32_t payload, bool tcp = false,
                           int vlan = -1) {
  std::vector<uint8_t> f;
  f.insert(f.end(), dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  if (vlan >= 0) {
    f.insert(f.end(), {0x81, 0x00, static_cast<uint8_t>(vlan >> 8), static_cast<uint8_t>(vlan)});
  }
  f.insert(f.end(), {0x08, 0x00});
  size_t ip = f.size();
  uint32_t l4len = (tcp ? 20 : 8) + payload;
  uint16_t total = static_cast<uint16_t>(20 + l4len);
  f.insert(f.end(), {0x45,
                     0,
                     static_cast<uint8_t>(total >> 8),
                     static_cast<uint8_t>(total),
                     0,
                     1,
                     0x40,
                     0,
                     64,
                     static_cast<uint8_t>(tcp ? 6 : 17),
                     0,
                     0,
                     10,
                     0,
                     0,
                     1,
                     10,
                     0,
                     0,
                     2});
  csum::ipv4_header_fill(&f[ip], 20);
  if (tcp) {
    f.insert(f.end(),
             {0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x10, 0x00, 0, 0, 0, 0});
  } else {
    f.insert(f.end(), {0x30, 0x39, 0x00, 0x35, static_cast<uint8_t>(l4len >> 8),
                       static_cast<uint8_t>(l4len), 0, 0});
  }
  for (uint32_t i = 0; i < payload; i++)
    f.push_back(static_cast<uint8_t>(i * 7));
  return f;
}

// A port with chosen capabilities that records what it is sent; the test feeds its rx.
class CapturePort final : public port::Port {
 public:
  CapturePort(std::string name, uint32_t caps) : Port(std::move(name)), caps_(caps) {}
  ~CapturePort() override {
    for (Packet* p : inbox)
      free_packet(p);
  }
  uint16_t num_queues() const override { return queues; }
  uint16_t max_queues() const override { return queues; }
  bool link_up() const override { return true; }
  uint32_t capabilities() const override { return caps_; }
  uint16_t rx_burst(uint16_t, Packet** pkts, uint16_t max) override {
    uint16_t n = 0;
    while (n < max && !inbox.empty()) {
      pkts[n++] = inbox.front();
      inbox.pop_front();
    }
    return n;
  }
  uint16_t tx_burst(uint16_t q, Packet** pkts, uint16_t n) override {
    for (uint16_t i = 0; i < n; i++) {
      Sent s;
      s.queue = q;
      s.bytes = packet_to_bytes(*pkts[i]);
      s.gso_type = pkts[i]->gso_type();
      s.gso_size = pkts[i]->gso_size();
      s.rsc = pkts[i]->has_rsc_info();
      if (s.rsc) {
        s.rsc_segments = pkts[i]->rsc_coalesced();
        s.rsc_dup_acks = pkts[i]->rsc_dup_acks();
      }
      s.csum = pkts[i]->csum_state();
      if (pkts[i]->csum_state() != CsumState::kPartial &&
          proto::parse_packet(*pkts[i]) == proto::ParseError::kOk) {
        s.csum_ok = csum::verify_all(*pkts[i]) == csum::CsumError::kOk;
      }
      sent.push_back(std::move(s));
      free_packet(pkts[i]);
    }
    stats_.tx.packets += n;
    bursts.push_back(n);
    return n;
  }
  const port::QueueStats& queue_stats(uint16_t) const override { return stats_; }

  struct Sent {
    uint16_t queue;
    std::vector<uint8_t> bytes;
    uint16_t gso_type;
    uint16_t gso_size = 0;
    bool rsc = false;
    uint16_t rsc_segments = 0, rsc_dup_acks = 0;
    CsumState csum;
    bool csum_ok = false;
  };
  std::deque<Packet*> inbox;
  std::vector<Sent> sent;
  std::vector<uint16_t> bursts;
  uint16_t queues = 1;

 private:
  uint32_t caps_;
  port::QueueStats stats_;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config pc;
    pc.name = "test";
    pc.buffer_count = 8192;
    pool_ = BufferPool::create(pc);
  }
  // n patch ports into the datapath; the test keeps the far ends (hosts).
  void make_patch(uint16_t n, uint16_t workers = 1) {
    DatapathConfig c;
    c.workers = workers;
    c.pool_buffers = 8192;
    dp_ = std::make_unique<Datapath>(c);
    for (uint16_t i = 0; i < n; i++) {
      auto [sw, host] =
          port::PatchPort::create_pair("p" + std::to_string(i), "h" + std::to_string(i));
      PortOptions o;
      o.worker = i % workers;
      dp_->add_port(std::move(sw), o);
      hosts_.push_back(std::move(host));
    }
  }
  void send(uint16_t host, const std::vector<uint8_t>& bytes) {
    Packet* p = packet_from_bytes(*pool_, bytes);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(hosts_[host]->tx_burst(0, &p, 1), 1);
  }
  // Frames that arrived at host (drained).
  std::vector<std::vector<uint8_t>> received(uint16_t host) {
    std::vector<std::vector<uint8_t>> out;
    Packet* pkts[64];
    uint16_t n;
    while ((n = hosts_[host]->rx_burst(0, pkts, 64)) != 0) {
      for (uint16_t i = 0; i < n; i++) {
        out.push_back(packet_to_bytes(*pkts[i]));
        free_packet(pkts[i]);
      }
    }
    return out;
  }
  void run(int turns = 3) {
    dp_->prepare();
    for (int t = 0; t < turns; t++) {
      for (uint16_t w = 0; w < dp_->worker_count(); w++)
        dp_->worker(w).run_once();
    }
  }
  void TearDown() override {
    for (uint16_t h = 0; h < hosts_.size(); h++)
      received(h);
    dp_.reset();
    hosts_.clear();
  }

  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<Datapath> dp_;
  std::vector<std::unique_ptr<port::PatchPort>> hosts_;
};

TEST_F(PipelineTest, FloodsUnknownThenForwardsLearned) {
  make_patch(3);
  auto a = frame(mac(2), mac(1), 100);
  send(0, a);
  run();
  EXPECT_EQ(received(0).size(), 0u);
  auto r1 = received(1), r2 = received(2);
  ASSERT_EQ(r1.size(), 1u);
  ASSERT_EQ(r2.size(), 1u);  // unknown unicast: flooded (one copy)
  EXPECT_EQ(r1[0], a);
  EXPECT_EQ(r2[0], a);
  // The reply goes only where mac 1 was learned.
  send(1, frame(mac(1), mac(2), 60));
  run();
  EXPECT_EQ(received(0).size(), 1u);
  EXPECT_EQ(received(2).size(), 0u);
  // Now mac 2 is known too.
  send(0, a);
  run();
  EXPECT_EQ(received(1).size(), 1u);
  EXPECT_EQ(received(2).size(), 0u);
  ForwardingStats f = dp_->forwarding_stats();
  EXPECT_EQ(f.learned, 2u);
  EXPECT_EQ(f.floods, 1u);
  EXPECT_EQ(dp_->port_counters(1).cloned + dp_->port_counters(2).cloned, 1u);  // one copy
}

TEST_F(PipelineTest, BroadcastReachesEveryOtherPortAndMoveIsDetected) {
  make_patch(4);
  Mac bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  send(0, frame(bcast, mac(1), 28));
  run();
  for (uint16_t h = 1; h < 4; h++)
    EXPECT_EQ(received(h).size(), 1u) << h;
  EXPECT_EQ(received(0).size(), 0u);
  send(3, frame(bcast, mac(1), 28));  // mac 1 moved to port 3
  run();
  EXPECT_EQ(dp_->forwarding_stats().moved, 1u);
  send(1, frame(mac(1), mac(9), 28));
  run();
  EXPECT_EQ(received(3).size(), 1u);
  EXPECT_EQ(received(0).size(), 1u);  // broadcast from port 3 earlier
}

TEST_F(PipelineTest, VlanIsolationAntiSpoofingAndSnapshots) {
  make_patch(4);
  ForwardingConfig c = dp_->default_forwarding();
  c.ports[0].tag = 10;
  c.ports[1].tag = 10;
  c.ports[2].tag = 20;
  c.ports[3].tag = 10;
  c.ports[3].allowed_macs = {mac_value(3)};
  dp_->publish(c);
  Mac bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  send(0, frame(bcast, mac(1), 28));
  run();
  EXPECT_EQ(received(1).size(), 1u);
  EXPECT_EQ(received(2).size(), 0u);  // other VLAN: never leaves there
  EXPECT_EQ(received(3).size(), 1u);
  send(3, frame(bcast, mac(7), 28));  // spoofed source
  send(3, frame(bcast, mac(3), 28));  // allowed source
  run();
  EXPECT_EQ(received(0).size(), 1u);
  EXPECT_EQ(received(1).size(), 1u);
  EXPECT_EQ(dp_->forwarding_stats().spoofed, 1u);
  EXPECT_EQ(dp_->port_counters(3).drops[static_cast<unsigned>(PipelineDrop::kNoDestination)], 1u);
  // A new snapshot: port 1 disabled; workers pick it up between bursts.
  c.ports[1].enabled = false;
  dp_->publish(c);
  send(0, frame(bcast, mac(1), 28));
  run();
  EXPECT_EQ(received(1).size(), 0u);
  EXPECT_EQ(received(3).size(), 1u);
  EXPECT_GE(dp_->worker(0).counters().snapshots, 1u);
}

TEST_F(PipelineTest, HandoffBetweenWorkers) {
  make_patch(2, 2);
  ASSERT_NE(dp_->owner(0), dp_->owner(1));
  for (int i = 0; i < 100; i++)
    send(0, frame(mac(2), mac(1), 200));
  run(6);
  auto r = received(1);
  EXPECT_EQ(r.size(), 100u);
  EXPECT_EQ(dp_->port_counters(1).handoff_out, 100u);
  EXPECT_EQ(dp_->worker(dp_->owner(1)).counters().handoff_in, 100u);
  // The originals went back to worker 0's pool.
  EXPECT_EQ(dp_->worker(0).pool().stats().in_use, 0u);
}

TEST_F(PipelineTest, BurstIsFlushedEarlyAtThreeQuartersAndOnceAtTheEnd) {
  make_patch(2);
  send(1, frame(mac(1), mac(2), 20));  // learn mac 2 on port 1: no flooding below
  run();
  received(0);
  for (int i = 0; i < 64; i++)
    send(0, frame(mac(2), mac(1), 64));
  run(1);
  EXPECT_EQ(received(1).size(), 64u);
  const PortCounters pc = dp_->port_counters(1);
  const TxQueueCounters& t = pc.txq[0];
  EXPECT_EQ(t.packets, 64u);
  EXPECT_EQ(t.flushes, 2u);  // 48 (3/4 full), then 16 at the end of the burst
  EXPECT_EQ(t.early_flushes, 1u);
  EXPECT_EQ(t.kicks_suppressed, 62u);
  EXPECT_GT(t.dql_limit, 0u);
}

class OffloadHopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config pc;
    pc.name = "hop";
    pc.buffer_count = 4096;
    pool_ = BufferPool::create(pc);
    DatapathConfig c;
    dp_ = std::make_unique<Datapath>(c);
    auto in = std::make_unique<CapturePort>("in", port::kCapRxCsum | port::kCapRxLarge);
    auto plain = std::make_unique<CapturePort>("plain", 0);
    auto csum_only = std::make_unique<CapturePort>("csum", port::kCapTxCsum);
    auto tso = std::make_unique<CapturePort>(
        "tso", port::kCapTxCsum | port::kCapTxTso4 | port::kCapTxTso6);
    in_ = in.get();
    plain_ = plain.get();
    csum_ = csum_only.get();
    tso_ = tso.get();
    dp_->add_port(std::move(in));
    dp_->add_port(std::move(plain));
    dp_->add_port(std::move(csum_only));
    dp_->add_port(std::move(tso));
    dp_->prepare();
  }
  // A TCPv4 frame of `payload` bytes, partial checksum (pseudo-header sum in the field).
  Packet* tcp_partial(uint32_t payload, uint16_t mss) {
    Mac bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    auto f = frame(bcast, mac(1), payload, true);
    uint32_t ps = csum::pseudo_sum_ipv4(&f[26], &f[30], 6, static_cast<uint16_t>(20 + payload));
    uint16_t field = csum::fold(ps);
    std::memcpy(&f[50], &field, 2);
    Packet* p = packet_from_bytes(*pool_, f);
    p->set_csum_partial(34, 16);
    if (mss != 0) p->set_gso(kGsoTcpv4, mss);
    return p;
  }
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<Datapath> dp_;
  CapturePort *in_, *plain_, *csum_, *tso_;
};

TEST_F(OffloadHopTest, TsoFrameStaysWholeOnlyWhereTheOutputTakesIt) {
  in_->inbox.push_back(tcp_partial(4000, 1000));
  dp_->worker(0).run_once();
  // The TSO port gets the 64 KB-style frame whole, checksum still partial.
  ASSERT_EQ(tso_->sent.size(), 1u);
  EXPECT_EQ(tso_->sent[0].gso_type, kGsoTcpv4);
  EXPECT_EQ(tso_->sent[0].csum, CsumState::kPartial);
  EXPECT_EQ(tso_->sent[0].bytes.size(), 14u + 20 + 20 + 4000);
  // A port without TSO gets 4 segments with every checksum filled.
  ASSERT_EQ(plain_->sent.size(), 4u);
  for (const auto& s : plain_->sent) {
    EXPECT_EQ(s.gso_type, kGsoNone);
    EXPECT_EQ(s.bytes.size(), 14u + 20 + 20 + 1000);
    EXPECT_TRUE(s.csum_ok);
  }
  // A port with checksum offload only gets segments with partial checksums.
  ASSERT_EQ(csum_->sent.size(), 4u);
  for (const auto& s : csum_->sent)
    EXPECT_EQ(s.csum, CsumState::kPartial);
  PortCounters pc = dp_->port_counters(1);
  EXPECT_EQ(pc.gso_in, 1u);
  EXPECT_EQ(pc.gso_segments, 4u);
  EXPECT_EQ(dp_->port_counters(3).gso_passed, 1u);
}

TEST_F(OffloadHopTest, PartialChecksumFinishedForPortsWithoutChecksumOffload) {
  in_->inbox.push_back(tcp_partial(300, 0));
  dp_->worker(0).run_once();
  ASSERT_EQ(plain_->sent.size(), 1u);
  EXPECT_TRUE(plain_->sent[0].csum_ok);
  EXPECT_EQ(dp_->port_counters(1).csum_filled, 1u);
  ASSERT_EQ(tso_->sent.size(), 1u);
  EXPECT_EQ(tso_->sent[0].csum, CsumState::kPartial);
  EXPECT_EQ(dp_->port_counters(3).csum_passed, 1u);
}

TEST_F(OffloadHopTest, MultiqueueOutputSpreadsFlowsAndKeepsEachFlowOnOneQueue) {
  // Rebuild with a 4-queue output.
  dp_.reset();
  DatapathConfig c;
  dp_ = std::make_unique<Datapath>(c);
  auto in = std::make_unique<CapturePort>("in", 0);
  auto out = std::make_unique<CapturePort>("out", port::kCapTxCsum);
  out->queues = 4;
  CapturePort* ip = in.get();
  CapturePort* op = out.get();
  dp_->add_port(std::move(in));
  dp_->add_port(std::move(out));
  dp_->prepare();
  for (int flow = 0; flow < 32; flow++) {
    for (int k = 0; k < 2; k++) {
      auto f = frame(mac(2), mac(1), 40);
      f[34] = static_cast<uint8_t>(flow);  // UDP source port differs per flow
      ip->inbox.push_back(packet_from_bytes(*pool_, f));
    }
  }
  dp_->worker(0).run_once();
  ASSERT_EQ(op->sent.size(), 64u);
  std::set<uint16_t> queues;
  for (size_t i = 0; i < op->sent.size(); i++)
    queues.insert(op->sent[i].queue);
  EXPECT_GT(queues.size(), 1u);
  std::map<uint8_t, uint16_t> flow_queue;
  for (const auto& s : op->sent) {
    auto [it, fresh] = flow_queue.emplace(s.bytes[34], s.queue);
    if (!fresh) {
      EXPECT_EQ(it->second, s.queue);
    }
  }
}

// --- Receive coalescing (coalesce = rsc / gro) ---------------------------------------------

constexpr uint32_t kSegPayload = 1000;
constexpr uint32_t kHeaders = 14 + 20 + 20;

// Payload byte at stream offset `at` of the test's TCP stream.
uint8_t stream_byte(uint32_t at) {
  return static_cast<uint8_t>(at * 7 + (at >> 8));
}

// Segment k of one TCP stream 10.0.0.1:12345 -> 10.0.0.2:80 (seq 1 + k * kSegPayload, IP
// ID k, ACK only, DF), every checksum valid, as a TAP without offloads hands it over.
std::vector<uint8_t> stream_segment(BufferPool& pool, uint32_t k, uint16_t sport = 12345) {
  auto f = frame(mac(2), mac(1), kSegPayload, true);
  f[18] = static_cast<uint8_t>(k >> 8);  // IP ID
  f[19] = static_cast<uint8_t>(k);
  f[34] = static_cast<uint8_t>(sport >> 8);
  f[35] = static_cast<uint8_t>(sport);
  const uint32_t seq = 1 + k * kSegPayload;
  for (int i = 0; i < 4; i++)
    f[38 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
  f[42 + 3] = 1;  // ACK 1
  f[47] = 0x10;   // ACK only
  for (uint32_t i = 0; i < kSegPayload; i++)
    f[kHeaders + i] = stream_byte(k * kSegPayload + i);
  Packet* p = packet_from_bytes(pool, f);
  EXPECT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
  EXPECT_EQ(csum::fill_all(*p), csum::CsumError::kOk);
  auto out = packet_to_bytes(*p);
  free_packet(p);
  return out;
}

// The frames of what a port was sent, as received: the payload after the TCP header.
// (Out of line: GCC 12 sees a false free-nonheap-object when it is inlined into inserts.)
[[gnu::noinline]] std::vector<uint8_t> tcp_payload(const std::vector<uint8_t>& f) {
  std::vector<uint8_t> out(f.size() > kHeaders ? f.size() - kHeaders : 0);
  if (!out.empty()) std::memcpy(out.data(), f.data() + kHeaders, out.size());
  return out;
}

class CoalescePipelineTest : public ::testing::Test {
 protected:
  // Ports: 0 "in" (coalesce as given, the test feeds it), 1 "rsc" (a guest with RSC_EXT and
  // TSO), 2 "tso" (TSO and checksum offload, no RSC_EXT: a TAP with offloads or a Linux
  // guest), 3 "plain" (no offloads: a TAP without offloads), 4 "patch" (a patch port whose
  // far end the test reads). Every output is flooded a copy (the destination is unknown).
  void build(Coalesce mode, uint64_t interval_ns) {
    BufferPool::Config pc;
    pc.name = "coalesce";
    pc.buffer_count = 4096;
    pool_ = BufferPool::create(pc);
    DatapathConfig c;
    dp_ = std::make_unique<Datapath>(c);
    auto in = std::make_unique<CapturePort>("in", 0);
    auto rsc = std::make_unique<CapturePort>(
        "rsc", port::kCapTxCsum | port::kCapTxTso4 | port::kCapTxTso6 | port::kCapTxRscInfo);
    auto tso = std::make_unique<CapturePort>(
        "tso", port::kCapTxCsum | port::kCapTxTso4 | port::kCapTxTso6);
    auto plain = std::make_unique<CapturePort>("plain", 0);
    auto [sw, host] = port::PatchPort::create_pair("patch", "host");
    in_ = in.get();
    rsc_ = rsc.get();
    tso_ = tso.get();
    plain_ = plain.get();
    host_ = std::move(host);
    PortOptions o;
    o.coalesce = mode;
    o.rsc.interval_ns = interval_ns;
    dp_->add_port(std::move(in), o);
    dp_->add_port(std::move(rsc));
    dp_->add_port(std::move(tso));
    dp_->add_port(std::move(plain));
    dp_->add_port(std::move(sw));
    dp_->prepare();
  }
  void TearDown() override {
    if (host_) drain_patch();
    dp_.reset();
    host_.reset();
  }
  void feed(const std::vector<std::vector<uint8_t>>& frames) {
    for (const auto& f : frames)
      in_->inbox.push_back(packet_from_bytes(*pool_, f));
  }
  struct Received {
    std::vector<uint8_t> bytes;
    uint16_t gso_type, gso_size;
    bool rsc;
    CsumState csum;
  };
  std::vector<Received> drain_patch() {
    std::vector<Received> out;
    Packet* pkts[64];
    uint16_t n;
    while ((n = host_->rx_burst(0, pkts, 64)) != 0) {
      for (uint16_t i = 0; i < n; i++) {
        Packet* p = pkts[i];
        // As the far end's peer would: finish the partial checksum, then check all.
        EXPECT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
        Received r{{}, p->gso_type(), p->gso_size(), p->has_rsc_info(), p->csum_state()};
        if (p->csum_state() == CsumState::kPartial) {
          EXPECT_EQ(csum::finish_partial(*p), csum::CsumError::kOk);
          EXPECT_EQ(csum::verify_all(*p), csum::CsumError::kOk);
        }
        r.bytes = packet_to_bytes(*p);
        out.push_back(std::move(r));
        free_packet(p);
      }
    }
    return out;
  }
  const offload::Rsc* engine() const { return dp_->worker(0).rsc(0); }

  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<Datapath> dp_;
  CapturePort *in_, *rsc_, *tso_, *plain_;
  std::unique_ptr<port::PatchPort> host_;
};

TEST_F(CoalescePipelineTest, RscCoalescesAStreamAndFlushesItOnTheTimer) {
  build(Coalesce::kRsc, 1'000'000);  // 1 ms
  constexpr uint32_t kSegs = 20;
  std::vector<std::vector<uint8_t>> segs;
  std::vector<uint8_t> stream;
  for (uint32_t k = 0; k < kSegs; k++) {
    segs.push_back(stream_segment(*pool_, k));
    auto pl = tcp_payload(segs.back());
    stream.insert(stream.end(), pl.begin(), pl.end());
  }
  feed(segs);
  dp_->worker(0).run_once();
  // Held: nothing leaves before the timer, the engine holds one segment of every frame.
  EXPECT_TRUE(rsc_->sent.empty());
  EXPECT_TRUE(tso_->sent.empty());
  EXPECT_TRUE(plain_->sent.empty());
  ASSERT_NE(engine(), nullptr);
  EXPECT_EQ(engine()->cached_segments(), 1u);
  EXPECT_EQ(engine()->cached_frames(), kSegs);
  EXPECT_NE(dp_->worker(0).rsc_deadline_ns(), offload::Rsc::kNoDeadline);
  usleep(3000);
  dp_->worker(0).run_once();
  EXPECT_EQ(engine()->cached_segments(), 0u);
  EXPECT_EQ(dp_->worker(0).rsc_deadline_ns(), offload::Rsc::kNoDeadline);

  // The guest with RSC_EXT: one packet with the RSC info, TSO with the segment size.
  ASSERT_EQ(rsc_->sent.size(), 1u);
  const CapturePort::Sent& r = rsc_->sent[0];
  EXPECT_TRUE(r.rsc);
  EXPECT_EQ(r.rsc_segments, kSegs);
  EXPECT_EQ(r.rsc_dup_acks, 0u);
  EXPECT_EQ(r.gso_type, kGsoTcpv4);
  EXPECT_EQ(r.gso_size, kSegPayload);
  EXPECT_EQ(r.csum, CsumState::kNone);  // checksums not valid, as RSC_INFO says
  ASSERT_EQ(r.bytes.size(), kHeaders + kSegs * kSegPayload);
  EXPECT_EQ(tcp_payload(r.bytes), stream);
  EXPECT_EQ((r.bytes[16] << 8) | r.bytes[17], 40 + kSegs * kSegPayload);  // IPv4 total length
  // Headers of the first segment (sequence number, IP ID), ACK/window of the last.
  EXPECT_TRUE(std::equal(r.bytes.begin() + 18, r.bytes.begin() + 20, segs[0].begin() + 18));
  EXPECT_TRUE(std::equal(r.bytes.begin() + 38, r.bytes.begin() + 42, segs[0].begin() + 38));

  // No RSC_EXT but TSO: the same frame, RSC info gone, a TSO frame whose checksums
  // are right (IPv4 header filled, TCP partial over the whole payload).
  ASSERT_EQ(tso_->sent.size(), 1u);
  const CapturePort::Sent& t = tso_->sent[0];
  EXPECT_FALSE(t.rsc);
  EXPECT_EQ(t.gso_type, kGsoTcpv4);
  EXPECT_EQ(t.gso_size, kSegPayload);
  EXPECT_EQ(t.csum, CsumState::kPartial);
  EXPECT_EQ(tcp_payload(t.bytes), stream);
  EXPECT_TRUE(csum::ipv4_header_valid20(&t.bytes[14]));

  // No offloads at all: segmented in software back into the very frames that came in.
  ASSERT_EQ(plain_->sent.size(), kSegs);
  for (uint32_t k = 0; k < kSegs; k++) {
    EXPECT_TRUE(plain_->sent[k].csum_ok) << k;
    EXPECT_FALSE(plain_->sent[k].rsc);
    EXPECT_EQ(plain_->sent[k].bytes, segs[k]) << k;
  }

  // A patch port (takes TSO, no RSC info): a TSO frame whose finished checksum verifies.
  auto patch = drain_patch();
  ASSERT_EQ(patch.size(), 1u);
  EXPECT_FALSE(patch[0].rsc);
  EXPECT_EQ(patch[0].gso_type, kGsoTcpv4);
  EXPECT_EQ(patch[0].csum, CsumState::kPartial);
  EXPECT_EQ(tcp_payload(patch[0].bytes), stream);

  // Counters: pipeline, engine, stats report.
  const PortCounters in = dp_->port_counters(0);
  EXPECT_EQ(in.rsc_in, kSegs);
  EXPECT_EQ(in.rsc_out, 1u);
  EXPECT_EQ(in.rsc_unverified, 0u);
  EXPECT_EQ(dp_->port_counters(1).rsc_stripped, 0u);
  EXPECT_EQ(dp_->port_counters(2).rsc_stripped, 1u);
  EXPECT_EQ(dp_->port_counters(3).rsc_stripped, 1u);
  EXPECT_EQ(dp_->port_counters(3).gso_segments, kSegs);
  EXPECT_EQ(dp_->port_counters(4).rsc_stripped, 1u);
  const offload::RscStats& st = engine()->stats();
  EXPECT_EQ(st.packets_in, kSegs);
  EXPECT_EQ(st.packets_out, 1u);
  EXPECT_EQ(st.ipv4.coalesced, kSegs - 1);
  EXPECT_EQ(st.ipv4.timer_fired, 1u);
  EXPECT_EQ(st.ipv4.timer_drained, 1u);
  EXPECT_EQ(st.ipv4.rsc_out, 1u);
  nlohmann::json js = stats_json(*dp_);
  EXPECT_EQ(js["ports"][0]["coalesce"], "rsc");
  EXPECT_EQ(js["ports"][0]["pipeline"]["rsc"]["in"], kSegs);
  EXPECT_EQ(js["ports"][0]["pipeline"]["rsc"]["engine"]["ipv4.coalesced"], kSegs - 1);
  EXPECT_EQ(js["ports"][2]["pipeline"]["rsc"]["stripped"], 1u);
  EXPECT_EQ(js["workers"][0]["rsc"]["coalesced"], kSegs - 1);
  EXPECT_NE(stats_text(*dp_).find("rsc: 20->1 coalesced 19 timer drained 1"), std::string::npos)
      << stats_text(*dp_);
}

TEST_F(CoalescePipelineTest, RscHoldsAcrossBurstsUntilTheTimer) {
  build(Coalesce::kRsc, 10'000'000'000ull);  // far away: only the control frame ends it
  std::vector<std::vector<uint8_t>> segs;
  for (uint32_t k = 0; k < 100; k++)
    segs.push_back(stream_segment(*pool_, k));
  feed(segs);  // 100 frames: two bursts (64 + 36)
  for (int t = 0; t < 3; t++)
    dp_->worker(0).run_once();
  // The 65535-byte limit: 65 frames merge (40 + 65 * 1000 bytes); the 66th would pass it,
  // so the segment leaves with it (alone) and frame 67 starts a new one, held over bursts.
  ASSERT_EQ(rsc_->sent.size(), 2u);
  EXPECT_TRUE(rsc_->sent[0].rsc);
  EXPECT_EQ(rsc_->sent[0].rsc_segments, 65u);
  EXPECT_EQ(rsc_->sent[0].bytes.size(), kHeaders + 65u * kSegPayload);
  EXPECT_FALSE(rsc_->sent[1].rsc);
  EXPECT_EQ(rsc_->sent[1].bytes, segs[65]);
  EXPECT_EQ(engine()->cached_frames(), 34u);
  EXPECT_EQ(engine()->stats().ipv4.oversize, 1u);
  // A FIN finalizes: the held segment leaves first, then the FIN.
  auto fin = stream_segment(*pool_, 100);
  fin[47] = 0x11;
  Packet* p = packet_from_bytes(*pool_, fin);
  ASSERT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
  ASSERT_EQ(csum::fill_all(*p), csum::CsumError::kOk);
  fin = packet_to_bytes(*p);
  in_->inbox.push_back(p);
  dp_->worker(0).run_once();
  EXPECT_EQ(engine()->cached_segments(), 0u);
  ASSERT_EQ(rsc_->sent.size(), 4u);
  EXPECT_EQ(rsc_->sent[2].rsc_segments, 34u);
  EXPECT_FALSE(rsc_->sent[3].rsc);
  EXPECT_EQ(rsc_->sent[3].bytes, fin);
  std::vector<uint8_t> got, want;
  for (uint32_t k = 0; k < 101; k++) {
    auto pl = k < 100 ? tcp_payload(segs[k]) : tcp_payload(fin);
    want.insert(want.end(), pl.begin(), pl.end());
  }
  for (const auto& s : tso_->sent) {
    auto pl = tcp_payload(s.bytes);
    got.insert(got.end(), pl.begin(), pl.end());
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(plain_->sent.size(), 101u);
}

TEST_F(CoalescePipelineTest, RscKeepsFramesWithBadChecksumsOut) {
  build(Coalesce::kRsc, 1'000'000);
  std::vector<std::vector<uint8_t>> segs;
  for (uint32_t k = 0; k < 4; k++)
    segs.push_back(stream_segment(*pool_, k));
  segs[3][kHeaders + 10] ^= 0xff;  // corrupt the payload of the last one
  feed(segs);
  dp_->worker(0).run_once();
  // The corrupt frame leaves at once and untouched; the three good ones are held.
  ASSERT_EQ(plain_->sent.size(), 1u);
  EXPECT_EQ(plain_->sent[0].bytes, segs[3]);
  EXPECT_FALSE(plain_->sent[0].csum_ok);
  ASSERT_EQ(rsc_->sent.size(), 1u);
  EXPECT_FALSE(rsc_->sent[0].rsc);
  EXPECT_EQ(dp_->port_counters(0).rsc_unverified, 1u);
  usleep(3000);
  dp_->worker(0).run_once();
  ASSERT_EQ(rsc_->sent.size(), 2u);
  EXPECT_EQ(rsc_->sent[1].rsc_segments, 3u);
  ASSERT_EQ(plain_->sent.size(), 4u);
  for (uint32_t k = 0; k < 3; k++) {
    EXPECT_EQ(plain_->sent[1 + k].bytes, segs[k]);
    EXPECT_TRUE(plain_->sent[1 + k].csum_ok);
  }
}

TEST_F(CoalescePipelineTest, RscBypassesWhatItDoesNotCoalesce) {
  build(Coalesce::kRsc, 1'000'000);
  auto udp = frame(mac(2), mac(1), 200);
  auto single = stream_segment(*pool_, 0, 999);
  feed({udp, single});
  dp_->worker(0).run_once();
  ASSERT_EQ(plain_->sent.size(), 1u);  // UDP passes at once
  EXPECT_EQ(plain_->sent[0].bytes, udp);
  usleep(3000);
  dp_->worker(0).run_once();
  // A lone segment leaves on the timer as it came: no RSC info, no TSO.
  ASSERT_EQ(plain_->sent.size(), 2u);
  EXPECT_EQ(plain_->sent[1].bytes, single);
  ASSERT_EQ(rsc_->sent.size(), 2u);
  EXPECT_FALSE(rsc_->sent[1].rsc);
  EXPECT_EQ(rsc_->sent[1].gso_type, kGsoNone);
  EXPECT_EQ(dp_->port_counters(2).rsc_stripped, 0u);
}

TEST_F(CoalescePipelineTest, GroStillMergesWithinTheBurstWithoutRscInfo) {
  build(Coalesce::kGro, 1'000'000);
  std::vector<std::vector<uint8_t>> segs;
  std::vector<uint8_t> stream;
  for (uint32_t k = 0; k < 20; k++) {
    segs.push_back(stream_segment(*pool_, k));
    auto pl = tcp_payload(segs.back());
    stream.insert(stream.end(), pl.begin(), pl.end());
  }
  feed(segs);
  dp_->worker(0).run_once();
  EXPECT_EQ(engine(), nullptr);
  // Out in the same turn, no timer: one TSO frame with a partial checksum everywhere.
  for (CapturePort* c : {rsc_, tso_}) {
    ASSERT_EQ(c->sent.size(), 1u);
    EXPECT_FALSE(c->sent[0].rsc);
    EXPECT_EQ(c->sent[0].gso_type, kGsoTcpv4);
    EXPECT_EQ(c->sent[0].csum, CsumState::kPartial);
    EXPECT_EQ(tcp_payload(c->sent[0].bytes), stream);
  }
  ASSERT_EQ(plain_->sent.size(), 20u);
  for (uint32_t k = 0; k < 20; k++)
    EXPECT_EQ(plain_->sent[k].bytes, segs[k]) << k;
  const PortCounters in = dp_->port_counters(0);
  EXPECT_EQ(in.gro_in, 20u);
  EXPECT_EQ(in.gro_out, 1u);
  EXPECT_EQ(in.rsc_in, 0u);
  EXPECT_EQ(dp_->port_counters(2).rsc_stripped, 0u);
}

TEST_F(CoalescePipelineTest, OffLeavesFramesAlone) {
  build(Coalesce::kOff, 1'000'000);
  std::vector<std::vector<uint8_t>> segs;
  for (uint32_t k = 0; k < 5; k++)
    segs.push_back(stream_segment(*pool_, k));
  feed(segs);
  dp_->worker(0).run_once();
  ASSERT_EQ(tso_->sent.size(), 5u);
  for (uint32_t k = 0; k < 5; k++)
    EXPECT_EQ(tso_->sent[k].bytes, segs[k]);
  EXPECT_EQ(dp_->port_counters(0).gro_in + dp_->port_counters(0).rsc_in, 0u);
}

TEST_F(CoalescePipelineTest, RscOnPortsOfTwoWorkersHandsCoalescedFramesOver) {
  // The input on worker 0, the outputs on worker 1: RSC info crosses the handoff ring.
  BufferPool::Config pc;
  pc.name = "coalesce2";
  pc.buffer_count = 4096;
  pool_ = BufferPool::create(pc);
  DatapathConfig c;
  c.workers = 2;
  dp_ = std::make_unique<Datapath>(c);
  auto in = std::make_unique<CapturePort>("in", 0);
  auto rsc = std::make_unique<CapturePort>(
      "rsc", port::kCapTxCsum | port::kCapTxTso4 | port::kCapTxRscInfo);
  auto plain = std::make_unique<CapturePort>("plain", 0);
  in_ = in.get();
  rsc_ = rsc.get();
  plain_ = plain.get();
  PortOptions o;
  o.worker = 0;
  o.coalesce = Coalesce::kRsc;
  o.rsc.interval_ns = 1'000'000;
  dp_->add_port(std::move(in), o);
  PortOptions w1;
  w1.worker = 1;
  dp_->add_port(std::move(rsc), w1);
  dp_->add_port(std::move(plain), w1);
  dp_->prepare();
  std::vector<std::vector<uint8_t>> segs;
  for (uint32_t k = 0; k < 10; k++)
    segs.push_back(stream_segment(*pool_, k));
  feed(segs);
  dp_->worker(0).run_once();
  usleep(3000);
  for (int t = 0; t < 2; t++) {
    dp_->worker(0).run_once();
    dp_->worker(1).run_once();
  }
  ASSERT_EQ(rsc_->sent.size(), 1u);
  EXPECT_TRUE(rsc_->sent[0].rsc);
  EXPECT_EQ(rsc_->sent[0].rsc_segments, 10u);
  ASSERT_EQ(plain_->sent.size(), 10u);
  for (uint32_t k = 0; k < 10; k++)
    EXPECT_EQ(plain_->sent[k].bytes, segs[k]) << k;
  EXPECT_EQ(dp_->worker(1).rsc(0), nullptr);  // the engine lives with the input's owner
}

TEST(PcapPipeline, ReplayedCaptureIsFloodedToEveryRecorder) {
  std::string in = std::string(FERRY_TEST_DATA) + "/captures/650HttpResponses.pcap";
  std::string dir = ::testing::TempDir();
  std::vector<pcap::Frame> frames;
  std::string error;
  ASSERT_TRUE(pcap::PcapReader::read_all(in, &frames, &error)) << error;
  DatapathConfig c;
  auto dp = std::make_unique<Datapath>(c);
  port::PcapPortConfig rc;
  rc.name = "replay";
  rc.rx_path = in;
  rc.pool = &dp->worker(0).pool();
  auto replay = port::PcapPort::create(rc, &error);
  ASSERT_TRUE(replay) << error;
  port::PcapPort* rp = replay.get();
  std::vector<port::PcapPort*> recorders;
  dp->add_port(std::move(replay));
  for (int i = 0; i < 2; i++) {
    port::PcapPortConfig tc;
    tc.name = "rec" + std::to_string(i);
    tc.tx_path = dir + "/ferry_rec" + std::to_string(i) + ".pcap";
    auto r = port::PcapPort::create(tc, &error);
    ASSERT_TRUE(r) << error;
    recorders.push_back(r.get());
    dp->add_port(std::move(r));
  }
  dp->prepare();
  for (int t = 0; t < 100000 && !rp->replay_done(); t++)
    dp->worker(0).run_once();
  dp->worker(0).run_once();
  for (port::PcapPort* r : recorders)
    ASSERT_TRUE(r->flush());
  // Every frame entered from the replay port, so every destination is unknown or was
  // learned on the replay port itself: frames to learned MACs go nowhere (never back out
  // of their input port), the others are flooded to both recorders, byte for byte.
  PortCounters pc = dp->port_counters(0);
  EXPECT_EQ(pc.rx_packets, frames.size());
  uint64_t nowhere = pc.drops[static_cast<unsigned>(PipelineDrop::kNoDestination)];
  std::vector<pcap::Frame> out0, out1;
  ASSERT_TRUE(pcap::PcapReader::read_all(dir + "/ferry_rec0.pcap", &out0, &error)) << error;
  ASSERT_TRUE(pcap::PcapReader::read_all(dir + "/ferry_rec1.pcap", &out1, &error)) << error;
  EXPECT_EQ(out0.size() + nowhere, frames.size());
  ASSERT_EQ(out0.size(), out1.size());
  EXPECT_GT(out0.size(), 0u);
  for (size_t i = 0; i < out0.size(); i++)
    EXPECT_EQ(out0[i].data, out1[i].data);
  // The frames that left are the input frames, in order.
  size_t j = 0;
  for (const pcap::Frame& f : frames) {
    if (j < out0.size() && f.data == out0[j].data) j++;
  }
  EXPECT_EQ(j, out0.size());
  nlohmann::json js = stats_json(*dp);
  EXPECT_EQ(js["ports"][0]["pipeline"]["rx_packets"], frames.size());
  EXPECT_FALSE(stats_text(*dp).empty());
}

}  // namespace
}  // namespace ferry::runtime
