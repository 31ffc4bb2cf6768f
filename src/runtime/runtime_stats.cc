#include "runtime/runtime_stats.h"

namespace ferry::runtime {

const char* to_string(PipelineDrop d) {
  switch (d) {
    case PipelineDrop::kNoDestination:
      return "no_destination";
    case PipelineDrop::kEgressFiltered:
      return "egress_filtered";
    case PipelineDrop::kLinkDown:
      return "link_down";
    case PipelineDrop::kParseError:
      return "parse_error";
    case PipelineDrop::kCloneFailed:
      return "clone_failed";
    case PipelineDrop::kGsoFailed:
      return "gso_failed";
    case PipelineDrop::kChecksumFailed:
      return "checksum_failed";
    case PipelineDrop::kHandoffFull:
      return "handoff_full";
    case PipelineDrop::kCount:
      break;
  }
  return "unknown";
}

void PortCounters::add(const PortCounters& o) {
  rx_packets += o.rx_packets;
  rx_bytes += o.rx_bytes;
  rx_bursts += o.rx_bursts;
  for (size_t i = 0; i < rx_batch.size(); i++)
    rx_batch[i] += o.rx_batch[i];
  for (size_t i = 0; i < drops.size(); i++)
    drops[i] += o.drops[i];
  gro_in += o.gro_in;
  gro_out += o.gro_out;
  rsc_in += o.rsc_in;
  rsc_out += o.rsc_out;
  rsc_unverified += o.rsc_unverified;
  rsc_stripped += o.rsc_stripped;
  gso_in += o.gso_in;
  gso_segments += o.gso_segments;
  gso_passed += o.gso_passed;
  csum_filled += o.csum_filled;
  csum_passed += o.csum_passed;
  cloned += o.cloned;
  handoff_out += o.handoff_out;
  for (size_t q = 0; q < txq.size(); q++) {
    TxQueueCounters& a = txq[q];
    const TxQueueCounters& b = o.txq[q];
    a.packets += b.packets;
    a.bytes += b.bytes;
    a.flushes += b.flushes;
    a.kicks_suppressed += b.kicks_suppressed;
    a.early_flushes += b.early_flushes;
    a.dql_flushes += b.dql_flushes;
    a.dql_limit = a.dql_limit > b.dql_limit ? a.dql_limit : b.dql_limit;
    for (size_t i = 0; i < a.batch.size(); i++)
      a.batch[i] += b.batch[i];
  }
}

}  // namespace ferry::runtime
