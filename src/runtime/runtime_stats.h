#pragma once

// Counters of the switching pipeline, per worker and per port (per output queue for
// transmission). Written by the owning worker with plain stores; statistics readers on
// other threads may see slightly stale values (as port_stats.h).

#include <array>
#include <cstdint>

#include "port/port_stats.h"

namespace ferry::runtime {

// Why the pipeline (not a port) dropped a packet.
enum class PipelineDrop : uint8_t {
  kNoDestination = 0,  // the switch sent it nowhere (VLAN filter, spoofing, unknown port)
  kEgressFiltered,     // the switch refused it at the output (egress VLAN rules)
  kLinkDown,           // output port not up
  kParseError,         // the frame did not parse (it is still switched on its L2 header)
  kCloneFailed,        // no buffer to copy a flooded packet
  kGsoFailed,          // software segmentation failed
  kChecksumFailed,     // software checksum fill failed
  kHandoffFull,        // the ring to the worker that owns the output port was full
  kCount
};
inline constexpr unsigned kPipelineDropCount = static_cast<unsigned>(PipelineDrop::kCount);
const char* to_string(PipelineDrop d);

// Transmission side of one output queue, as seen by the worker that flushes it.
struct TxQueueCounters {
  uint64_t packets = 0;  // packets handed to the port
  uint64_t bytes = 0;
  uint64_t flushes = 0;           // tx_burst calls (one doorbell / kick each)
  uint64_t kicks_suppressed = 0;  // packets that rode in a flush without a kick of their own
  uint64_t early_flushes = 0;     // flushes before the end of a burst (3/4 full)
  uint64_t dql_flushes = 0;       // flushes because the byte queue limit was reached
  uint32_t dql_limit = 0;         // the queue's current byte limit
  std::array<uint64_t, port::kBatchBuckets> batch{};  // packets per flush
};

// Per port, per worker.
struct PortCounters {
  uint64_t rx_packets = 0;  // packets received from the port
  uint64_t rx_bytes = 0;
  uint64_t rx_bursts = 0;
  std::array<uint64_t, port::kBatchBuckets> rx_batch{};
  std::array<uint64_t, kPipelineDropCount> drops{};  // drops of packets headed to this port
  uint64_t gro_in = 0;                               // packets given to GRO
  uint64_t gro_out = 0;                              // packets after GRO
  uint64_t rsc_in = 0;                               // frames given to RSC (coalesce = rsc)
  uint64_t rsc_out = 0;         // packets out of RSC (coalesced, bypassed, timer drains)
  uint64_t rsc_unverified = 0;  // frames kept out of RSC: checksums did not verify
  uint64_t rsc_stripped = 0;    // packets headed here that lost their RSC info (no RSC_EXT)
  uint64_t gso_in = 0;          // GSO packets segmented in software before this port
  uint64_t gso_segments = 0;    // segments made for it
  uint64_t gso_passed = 0;      // GSO packets passed whole (the port takes them)
  uint64_t csum_filled = 0;     // partial checksums finished in software for this port
  uint64_t csum_passed = 0;     // partial checksums passed to the port
  uint64_t cloned = 0;          // flooded copies made for this port
  uint64_t handoff_out = 0;     // packets passed to the worker owning this port
  std::array<TxQueueCounters, 8> txq{};  // per output queue (queues beyond 7 fold into 7)

  void drop(PipelineDrop d, uint64_t n = 1) { drops[static_cast<unsigned>(d)] += n; }
  void add(const PortCounters& o);
};

// Per worker.
struct WorkerCounters {
  uint64_t iterations = 0;  // poll loop turns
  uint64_t busy_polls = 0;  // turns that moved packets
  uint64_t packets = 0;     // packets received on this worker's queues
  uint64_t spins = 0, yields = 0, sleeps = 0, wakeups = 0;
  uint64_t overcommitted_samples = 0;
  uint64_t snapshots = 0;   // configuration snapshots picked up
  uint64_t handoff_in = 0;  // packets received from other workers
};

}  // namespace ferry::runtime
