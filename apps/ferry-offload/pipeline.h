#pragma once

// The ferry-offload pipeline: frames from a pcap go through the selected offload engines
// in a fixed order (decap, GRO, RSC, GSO, encap, checksums) in bursts, and the results
// are written to a pcap. Every engine's counters are collected for the summary.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "csum/csum_error.h"
#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/rsc.h"
#include "offload/tunnel.h"
#include "packet/buffer_pool.h"

namespace ferry::tools {

enum class CsumMode : uint8_t { kNone, kFill, kVerify };

struct PipelineOptions {
  bool decap = false;
  bool gro = false;
  bool rsc = false;
  uint64_t rsc_interval_ns = 300'000;
  uint32_t gso_mss = 0;  // 0: no GSO
  bool encap = false;
  offload::TunnelConfig tunnel;  // for encap
  CsumMode csum = CsumMode::kNone;
  uint32_t burst = 32;
};

// One counter of one engine, in the order the engine lists them.
struct Counter {
  std::string engine;
  std::string name;
  uint64_t value = 0;
};

struct Summary {
  uint64_t packets_in = 0;
  uint64_t packets_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::vector<std::string> engines;  // in pipeline order
  std::vector<Counter> counters;
};

class Pipeline {
 public:
  // nullptr and *error if the buffer pool cannot be made.
  static std::unique_ptr<Pipeline> create(const PipelineOptions& options, std::string* error);
  ~Pipeline();

  // Runs every frame of `in_path` through the engines into `out_path`. False and *error
  // (one line) if a file cannot be read or written.
  bool run(const std::string& in_path, const std::string& out_path, std::string* error);
  Summary summary() const;

 private:
  explicit Pipeline(const PipelineOptions& options) : options_(options) {}
  // Decapsulation and GRO on a burst read from the file.
  void receive_stages(std::vector<Packet*>& pkts);
  // GSO, encapsulation and checksums on what the coalescing stages handed on.
  void transmit_stages(std::vector<Packet*>& pkts);

  PipelineOptions options_;
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<offload::Tunnel> decap_;
  std::unique_ptr<offload::GroTable> gro_;
  std::unique_ptr<offload::Rsc> rsc_;
  std::unique_ptr<offload::GsoEngine> gso_;
  std::unique_ptr<offload::Tunnel> encap_;
  uint64_t dropped_ = 0;     // freed by a stage (the stage's counters say why)
  uint64_t gso_marked_ = 0;  // TCP frames longer than the MSS marked for GSO
  uint64_t packets_in_ = 0;
  uint64_t packets_out_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t unparsed_ = 0;  // frames the parser rejected (passed on unchanged)
  uint64_t csum_results_[static_cast<int>(csum::CsumError::kCount)] = {};
};

}  // namespace ferry::tools
