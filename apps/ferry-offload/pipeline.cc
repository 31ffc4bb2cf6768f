#include "pipeline.h"

#include "base/byteorder.h"
#include "csum/packet_checksum.h"
#include "packet/packet_bytes.h"
#include "pcap/pcap_file.h"
#include "proto/parser.h"

namespace ferry::tools {

std::unique_ptr<Pipeline> Pipeline::create(const PipelineOptions& options, std::string* error) {
  std::unique_ptr<Pipeline> p(new Pipeline(options));
  BufferPool::Config c;
  c.name = "ferry-offload";
  c.buffer_count = 16384;
  c.data_room = 2048;
  p->pool_ = BufferPool::create(c);
  if (!p->pool_) {
    *error = "cannot allocate the packet buffer pool";
    return nullptr;
  }
  if (options.decap) {
    offload::TunnelConfig tc;
    p->decap_ = std::make_unique<offload::Tunnel>(tc);
  }
  if (options.gro) p->gro_ = std::make_unique<offload::GroTable>();
  if (options.gso_mss != 0) {
    offload::GsoConfig gc;
    gc.csum_mode = offload::GsoCsumMode::kFill;
    gc.max_segments = 65535;
    p->gso_ = std::make_unique<offload::GsoEngine>(*p->pool_, gc);
  }
  if (options.encap) p->encap_ = std::make_unique<offload::Tunnel>(options.tunnel);
  if (options.rsc) {
    offload::RscConfig rc;
    rc.interval_ns = options.rsc_interval_ns;
    p->rsc_ = std::make_unique<offload::Rsc>(rc);
  }
  if (p->options_.burst == 0) p->options_.burst = 1;
  return p;
}

Pipeline::~Pipeline() {
  // Engines that hold packets let go of them before the pool goes.
  rsc_.reset();
  if (gro_) {
    std::vector<Packet*> out(gro_->held() + 1);
    const uint32_t n = gro_->flush(out.data(), static_cast<uint32_t>(out.size()));
    free_packets(out.data(), n);
  }
  gro_.reset();
}

bool Pipeline::run(const std::string& in_path, const std::string& out_path, std::string* error) {
  std::string err;
  std::unique_ptr<pcap::PcapReader> reader = pcap::PcapReader::open(in_path, &err);
  if (!reader) {
    *error = err;
    return false;
  }
  std::unique_ptr<pcap::PcapWriter> writer = pcap::PcapWriter::create(out_path, &err);
  if (!writer) {
    *error = err;
    return false;
  }

  std::vector<Packet*> burst, staged;
  std::vector<Packet*> out;
  uint64_t now = 0;
  auto emit = [&](std::vector<Packet*>& pkts, uint64_t ts) {
    transmit_stages(pkts);
    for (Packet* p : pkts) {
      writer->write(*p, ts);
      packets_out_++;
      bytes_out_ += p->pkt_len();
    }
    free_packets(pkts.data(), static_cast<uint32_t>(pkts.size()));
    pkts.clear();
  };
  auto run_burst = [&] {
    if (burst.empty()) return;
    receive_stages(burst);
    if (rsc_) {
      // Timer drains first: those segments are older than the burst.
      out.resize(2 * burst.size() + 1024);
      uint32_t n;
      while ((n = rsc_->poll(now, out.data(), static_cast<uint32_t>(out.size()))) > 0) {
        staged.assign(out.begin(), out.begin() + n);
        emit(staged, now);
      }
      const offload::Rsc::Result r =
          rsc_->process(burst.data(), static_cast<uint32_t>(burst.size()), now, out.data(),
                        static_cast<uint32_t>(out.size()));
      staged.assign(out.begin(), out.begin() + r.produced);
    } else {
      staged.swap(burst);
    }
    burst.clear();
    emit(staged, now);
  };

  pcap::Frame frame;
  while (reader->next(&frame)) {
    // A burst ends where the RSC timer expires, so the drain happens in time order.
    if (rsc_ && !burst.empty() && frame.timestamp_ns >= rsc_->next_deadline_ns()) run_burst();
    Packet* p = packet_from_bytes(*pool_, frame.data);
    if (p == nullptr) {
      run_burst();
      p = packet_from_bytes(*pool_, frame.data);
      if (p == nullptr) {
        *error = "out of packet buffers";
        return false;
      }
    }
    packets_in_++;
    bytes_in_ += frame.data.size();
    if (proto::parse_packet(*p) != proto::ParseError::kOk) unparsed_++;
    now = frame.timestamp_ns;
    burst.push_back(p);
    if (burst.size() >= options_.burst) run_burst();
  }
  if (!reader->error().empty()) {
    run_burst();
    *error = in_path + ": " + reader->error();
    return false;
  }
  run_burst();
  if (rsc_) {
    out.resize(1024);
    uint32_t n;
    while ((n = rsc_->flush(out.data(), static_cast<uint32_t>(out.size()))) > 0) {
      staged.assign(out.begin(), out.begin() + n);
      emit(staged, now);
    }
  }
  if (!writer->flush()) {
    *error = out_path + ": write failed";
    return false;
  }
  return true;
}

void Pipeline::receive_stages(std::vector<Packet*>& pkts) {
  if (decap_) {
    // Only tunnel packets are decapsulated; the others pass as they are.
    size_t kept = 0;
    for (Packet* p : pkts) {
      const TunnelType t = p->packet_type().tunnel();
      if (t == TunnelType::kVxlan || t == TunnelType::kGeneve || t == TunnelType::kGre) {
        Packet* q = nullptr;
        if (decap_->decap_burst(&p, 1, &q) != 1) {
          dropped_++;  // freed by decap_burst, reason in the decap counters
          continue;
        }
        p = q;
      }
      pkts[kept++] = p;
    }
    pkts.resize(kept);
  }
  if (gro_) {
    // One GRO burst: merge, then hand on every held flow (as at the end of a NAPI poll).
    std::vector<Packet*> out(pkts.size() + gro_->held() + 1);
    uint32_t produced = 0;
    uint32_t taken = 0;
    while (taken < pkts.size()) {
      const offload::GroBurst b =
          gro_->receive(pkts.data() + taken, static_cast<uint32_t>(pkts.size() - taken),
                        out.data() + produced, static_cast<uint32_t>(out.size() - produced));
      taken += b.consumed;
      produced += b.out;
      if (b.consumed == 0) out.resize(out.size() + gro_->held() + 1);
    }
    out.resize(produced + gro_->held() + 1);
    produced += gro_->flush(out.data() + produced, static_cast<uint32_t>(out.size() - produced));
    out.resize(produced);
    pkts.swap(out);
  }
}

namespace {

// TCP payload bytes of a parsed, untunnelled TCP packet (0 if unknown).
uint32_t tcp_payload_len(const Packet& p) {
  const PacketType t = p.packet_type();
  if (t.l4() != L4Type::kTcp || t.tunnel() != TunnelType::kNone) return 0;
  const uint32_t l3 = p.l3_offset(), l4 = p.l4_offset();
  if (l3 == kNoOffset || l4 == kNoOffset || l4 + 20 > p.data_len()) return 0;
  const uint8_t* d = p.data();
  const uint32_t end = t.is_ipv4() ? l3 + load_be16(d + l3 + 2) : l3 + 40 + load_be16(d + l3 + 4);
  const uint32_t data = l4 + 4u * (d[l4 + 12] >> 4);
  return end > data && end <= p.pkt_len() ? end - data : 0;
}

}  // namespace

void Pipeline::transmit_stages(std::vector<Packet*>& pkts) {
  if (gso_) {
    const uint16_t mss = static_cast<uint16_t>(options_.gso_mss);
    size_t cap = 0;
    for (Packet* p : pkts) {
      if (p->is_gso()) {
        p->set_gso(p->gso_type(), mss);  // merged by GRO/RSC: cut again at the MSS
      } else if (tcp_payload_len(*p) > mss) {
        p->set_gso(p->packet_type().is_ipv4() ? kGsoTcpv4 : kGsoTcpv6, mss);
        gso_marked_++;
      }
      cap += p->is_gso() ? p->pkt_len() / mss + 2 : 1;
    }
    std::vector<Packet*> out(cap);
    const uint64_t rejected_before = [&] {
      uint64_t r = 0;
      for (uint64_t v : gso_->stats().rejected)
        r += v;
      return r;
    }();
    const uint32_t n = gso_->segment_burst(pkts.data(), static_cast<uint32_t>(pkts.size()),
                                           out.data(), static_cast<uint32_t>(cap));
    uint64_t rejected_after = 0;
    for (uint64_t v : gso_->stats().rejected)
      rejected_after += v;
    dropped_ += rejected_after - rejected_before;
    out.resize(n);
    pkts.swap(out);
  }
  if (encap_) {
    std::vector<Packet*> out(pkts.size());
    const uint32_t n =
        encap_->encap_burst(pkts.data(), static_cast<uint32_t>(pkts.size()), out.data());
    dropped_ += pkts.size() - n;
    out.resize(n);
    pkts.swap(out);
  }
  if (options_.csum == CsumMode::kNone) return;
  for (Packet* p : pkts) {
    const csum::CsumError e =
        options_.csum == CsumMode::kFill ? csum::fill_all(*p) : csum::verify_all(*p);
    csum_results_[static_cast<int>(e)]++;
    if (options_.csum == CsumMode::kFill && e == csum::CsumError::kOk) p->set_csum_none();
  }
}

Summary Pipeline::summary() const {
  Summary s;
  s.packets_in = packets_in_;
  s.packets_out = packets_out_;
  s.bytes_in = bytes_in_;
  s.bytes_out = bytes_out_;
  s.engines.push_back("parse");
  s.counters.push_back({"parse", "unparsed", unparsed_});
  s.counters.push_back({"parse", "dropped_by_stages", dropped_});
  auto add = [&s](const char* engine, const auto& stats) {
    s.engines.push_back(engine);
    stats.for_each_counter([&](const char* name, uint64_t v) {
      std::string n = name;
      for (char& c : n)
        c = c == '-' || c == ' ' ? '_' : c;
      s.counters.push_back({engine, n, v});
    });
  };
  if (decap_) add("decap", decap_->stats());
  if (gro_) add("gro", gro_->stats());
  if (rsc_) {
    s.engines.push_back("rsc");
    rsc_->stats().for_each_counter([&](const char* name, uint64_t v) {
      s.counters.push_back({"rsc", name, v});
    });
  }
  if (gso_) {
    add("gso", gso_->stats());
    s.counters.push_back({"gso", "marked_from_capture", gso_marked_});
  }
  if (encap_) add("encap", encap_->stats());
  if (options_.csum != CsumMode::kNone) {
    const char* engine = options_.csum == CsumMode::kFill ? "csum_fill" : "csum_verify";
    s.engines.push_back(engine);
    for (int i = 0; i < static_cast<int>(csum::CsumError::kCount); i++) {
      std::string name = csum::to_string(static_cast<csum::CsumError>(i));
      for (char& c : name)
        c = c == '-' ? '_' : c;
      s.counters.push_back({engine, name, csum_results_[i]});
    }
  }
  return s;
}

}  // namespace ferry::tools
