#pragma once

// BridgeSwitcher: the Switcher that runs the L2 bridge (switch/bridge.h) for a worker.
// The Bridge (FDB, neighbour table) is shared by every worker's BridgeSwitcher; the
// bridge's counters are per worker. One of them (the "ager") ages the shared tables.

#include <memory>

#include "runtime/forwarding.h"
#include "switch/bridge.h"

namespace ferry::runtime {

// The bridge's snapshot for a forwarding configuration (ports, VLANs, anti-spoofing, ARP/ND
// suppression, flood flags), finalized.
std::shared_ptr<const sw::BridgeConfig> make_bridge_config(const ForwardingConfig& config);

class BridgeSwitcher final : public Switcher {
 public:
  BridgeSwitcher(sw::Bridge& bridge, bool ager) : bridge_(bridge), ager_(ager) {}

  void configure(const ForwardingConfig& config) override;
  void decide(uint16_t in_port, Packet* const* pkts, uint16_t n, PortMask* out,
              uint64_t now_ns) override;
  bool egress(uint16_t out_port, Packet* pkt, uint16_t index) override;
  void tick(uint64_t now_ns) override;
  const ForwardingStats& stats() const override;
  uint32_t fdb_size() const override { return bridge_.fdb().size(); }
  const sw::BridgeStats& bridge_stats() const { return stats_; }

 private:
  sw::Bridge& bridge_;
  bool ager_;
  std::shared_ptr<const sw::BridgeConfig> config_;
  sw::ForwardDecision decisions_[64];
  sw::BridgeStats stats_;
  mutable ForwardingStats summary_;
  uint64_t last_age_ns_ = 0;
};

}  // namespace ferry::runtime
