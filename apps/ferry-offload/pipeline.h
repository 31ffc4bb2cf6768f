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
#include "offload/rsc.h"
#include "packet/buffer_pool.h"

namespace ferry::tools {

enum class CsumMode : uint8_t { kNone, kFill, kVerify };

struct PipelineOptions {
  bool rsc = false;
  uint64_t rsc_interval_ns = 300'000;
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
  // Runs one burst through the engines after the input (decap/GRO/RSC) stage.
  void finish_burst(std::vector<Packet*>& pkts);

  PipelineOptions options_;
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<offload::Rsc> rsc_;
  uint64_t packets_in_ = 0;
  uint64_t packets_out_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t unparsed_ = 0;  // frames the parser rejected (passed on unchanged)
  uint64_t csum_results_[static_cast<int>(csum::CsumError::kCount)] = {};
};

}  // namespace ferry::tools
