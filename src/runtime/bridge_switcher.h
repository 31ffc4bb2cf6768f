#pragma once

// BridgeSwitcher: the Switcher that runs the L2 bridge (switch/bridge.h) for a worker.
// The Bridge (FDB, neighbour table) is shared by every worker's BridgeSwitcher; the
// bridge's counters are per worker. One of them (the "ager") ages the shared tables.

#include <memory>
#include <optional>
#include <vector>

#include "port/receive_filter.h"
#include "runtime/forwarding.h"
#include "switch/bridge.h"

namespace ferry::runtime {

// Receive filters of ports, by port id; none: the port takes every frame.
using RxFilters = std::vector<std::optional<sw::RxFilter>>;

// The bridge's snapshot for a forwarding configuration (ports, VLANs, anti-spoofing, ARP/ND
// suppression, flood flags) and the ports' receive filters, finalized.
std::shared_ptr<const sw::BridgeConfig> make_bridge_config(const ForwardingConfig& config,
                                                           const RxFilters& rx_filters = {});

// The bridge's form of a port's receive filter.
sw::RxFilter to_bridge_filter(const port::ReceiveFilter& f);

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
  uint64_t rx_filtered(uint16_t port) const override {
    return port < sw::kMaxPorts ? stats_.rx_filtered[port] : 0;
  }
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
