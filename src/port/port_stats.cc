#include "port/port_stats.h"

#include <cinttypes>
#include <cstdio>

namespace ferry::port {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kNotReady:
      return "not_ready";
    case DropReason::kQueueDisabled:
      return "queue_disabled";
    case DropReason::kBadQueue:
      return "bad_queue";
    case DropReason::kNoPoolBuffers:
      return "no_pool_buffers";
    case DropReason::kRingFull:
      return "ring_full";
    case DropReason::kTooBig:
      return "too_big";
    case DropReason::kBadHeader:
      return "bad_header";
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kOffloadUnsupported:
      return "offload_unsupported";
    case DropReason::kChecksumFailed:
      return "checksum_failed";
    case DropReason::kQueueBroken:
      return "queue_broken";
    case DropReason::kCount:
      break;
  }
  return "?";
}

void DirectionStats::add(const DirectionStats& o) {
  packets += o.packets;
  bytes += o.bytes;
  bursts += o.bursts;
  for (unsigned i = 0; i < kBatchBuckets; i++)
    batch[i] += o.batch[i];
  for (unsigned i = 0; i < kDropReasonCount; i++)
    drops[i] += o.drops[i];
}

void QueueStats::add(const QueueStats& o) {
  rx.add(o.rx);
  tx.add(o.tx);
  interrupts += o.interrupts;
  interrupts_suppressed += o.interrupts_suppressed;
  kicks_enabled += o.kicks_enabled;
  csum_filled += o.csum_filled;
}

namespace {

void format_direction(std::string* out, const char* name, const DirectionStats& d) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "  %s %" PRIu64 " pkts %" PRIu64 " bytes %" PRIu64
                " bursts (avg %.1f) drops %" PRIu64 "\n",
                name, d.packets, d.bytes, d.bursts,
                d.bursts ? static_cast<double>(d.packets) / static_cast<double>(d.bursts) : 0.0,
                d.total_drops());
  *out += line;
  for (unsigned i = 0; i < kDropReasonCount; i++) {
    if (d.drops[i] == 0) continue;
    std::snprintf(line, sizeof(line), "    drop %s %" PRIu64 "\n",
                  to_string(static_cast<DropReason>(i)), d.drops[i]);
    *out += line;
  }
}

}  // namespace

std::string format_stats(const std::string& title, const QueueStats& s) {
  std::string out = title + "\n";
  format_direction(&out, "rx", s.rx);
  format_direction(&out, "tx", s.tx);
  char line[256];
  std::snprintf(line, sizeof(line),
                "  interrupts %" PRIu64 " suppressed %" PRIu64 " csum_filled %" PRIu64 "\n",
                s.interrupts, s.interrupts_suppressed, s.csum_filled);
  out += line;
  return out;
}

}  // namespace ferry::port
