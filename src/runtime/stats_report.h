#pragma once

// Statistics of a running Datapath as JSON (nlohmann) and as text: per port and per
// queue (port counters: packets, bytes, drops by reason, batch-size histogram, interrupts
// sent and suppressed), the pipeline's counters (drops by reason, GRO/GSO/checksum work,
// flushes = kicks, kicks suppressed, DQL limits), the bridge's FDB events and the
// workers' polling counters. Reads counters written by other threads: values are
// approximate while the datapath runs.

#include <string>

#include <nlohmann/json.hpp>

#include "runtime/datapath.h"

namespace ferry::runtime {

nlohmann::json stats_json(const Datapath& dp);
std::string stats_text(const Datapath& dp);

}  // namespace ferry::runtime
