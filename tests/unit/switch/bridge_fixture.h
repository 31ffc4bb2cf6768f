#pragma once

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "packet/packet_bytes.h"
#include "switch/bridge.h"
#include "switch/packet_clone.h"
#include "test_frames.h"

namespace ferry::sw::test {

class BridgeFixture : public ::testing::Test {
 protected:
  BridgeFixture() : pool_(make_pool(4096)), bridge_(bridge_config()) {}
  ~BridgeFixture() override {
    for (Packet* p : held_)
      free_packet(p);
  }

  static Bridge::Config bridge_config() {
    Bridge::Config c;
    c.fdb.hash_seed = 99;
    c.fdb.max_entries = 4096;
    return c;
  }

  PortConfig& port(uint16_t id) {
    PortConfig& p = config_.port(id);
    p.enabled = true;
    return p;
  }
  void access_ports(std::initializer_list<uint16_t> ids, uint16_t vid = 1) {
    for (uint16_t id : ids)
      port(id).vlan = PortVlan::access(vid);
  }

  // Runs one frame through the bridge; the packet stays alive (last_packet()).
  ForwardDecision send(const Bytes& frame, uint16_t in_port, uint64_t now_ns = 0) {
    config_.finalize();
    Packet* p = rx(*pool_, frame, in_port);
    EXPECT_NE(p, nullptr);
    held_.push_back(p);
    ForwardDecision d;
    bridge_.process_burst(config_, &p, 1, now_ns, &d, stats_);
    last_ = p;
    return d;
  }
  // The bytes a port would transmit for the last packet.
  Bytes egress(const ForwardDecision& d, uint16_t port) {
    Packet* copy = clone_of(*last_);
    EXPECT_TRUE(Bridge::prepare_egress(config_, *copy, d, port, stats_));
    Bytes b = packet_to_bytes(*copy);
    last_egress_ = copy;
    return b;
  }
  Packet* clone_of(const Packet& p) {
    Packet* c = clone_packet(*pool_, p);
    EXPECT_NE(c, nullptr);
    held_.push_back(c);
    return c;
  }

  static PortSet ports(std::initializer_list<uint16_t> ids) {
    PortSet s;
    for (uint16_t id : ids)
      s.set(id);
    return s;
  }

  std::unique_ptr<BufferPool> pool_;
  BridgeConfig config_;
  Bridge bridge_;
  BridgeStats stats_;
  std::vector<Packet*> held_;
  Packet* last_ = nullptr;
  Packet* last_egress_ = nullptr;
};

}  // namespace ferry::sw::test
