#include "pipeline.h"

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
  if (options.rsc) {
    offload::RscConfig rc;
    rc.interval_ns = options.rsc_interval_ns;
    p->rsc_ = std::make_unique<offload::Rsc>(rc);
  }
  if (p->options_.burst == 0) p->options_.burst = 1;
  return p;
}

Pipeline::~Pipeline() {
  rsc_.reset();  // frees what is still cached before the pool goes
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
    finish_burst(pkts);
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

void Pipeline::finish_burst(std::vector<Packet*>& pkts) {
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
  if (rsc_) {
    s.engines.push_back("rsc");
    rsc_->stats().for_each_counter([&](const char* name, uint64_t v) {
      s.counters.push_back({"rsc", name, v});
    });
  }
  if (options_.csum != CsumMode::kNone) {
    const char* engine = options_.csum == CsumMode::kFill ? "csum_fill" : "csum_verify";
    s.engines.push_back(engine);
    for (int i = 0; i < static_cast<int>(csum::CsumError::kCount); i++) {
      std::string name = csum::to_string(static_cast<csum::CsumError>(i));
      for (char& c : name) c = c == '-' ? '_' : c;
      s.counters.push_back({engine, name, csum_results_[i]});
    }
  }
  return s;
}

}  // namespace ferry::tools
