// Fuzzes the L2 bridge: arbitrary frames from arbitrary ports with configuration changes,
// static FDB and neighbour entries, receive filter commands and ageing interleaved. Checks
// the bridge's promises on every decision: a frame never leaves on its input port (unless
// it is an ARP/ND reply), never on a port outside its VLAN, every drop has a reason, and
// every egress copy can be prepared and freed (the pool must end up full again).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"
#include "switch/bridge.h"
#include "switch/packet_clone.h"

namespace {

using namespace ferry;
using namespace ferry::sw;

constexpr uint16_t kPorts = 8;

class Input {
 public:
  Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool empty() const { return n_ == 0; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    n_--;
    return *d_++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
  size_t take(size_t want, const uint8_t** p) {
    size_t n = want < n_ ? want : n_;
    *p = d_;
    d_ += n;
    n_ -= n;
    return n;
  }

 private:
  const uint8_t* d_;
  size_t n_;
};

void check(bool ok) {
  if (!ok) std::abort();
}

void configure_port(BridgeConfig& cfg, Input& in) {
  uint16_t id = in.u8() % kPorts;
  PortConfig& pc = cfg.port(id);
  uint8_t op = in.u8();
  pc.enabled = (op & 0x80) == 0;
  switch (op % 8) {
    case 0:
      pc.vlan = PortVlan::access(in.u16() & 0xfff);
      break;
    case 1: {
      VlanSet s;
      uint8_t n = in.u8() % 8;
      for (uint8_t i = 0; i < n; i++)
        s.add(in.u16() & 0xfff);
      uint16_t native = in.u16();
      pc.vlan = PortVlan::trunk(s, (native & 0x8000) ? kNoVlan : (native & 0xfff),
                                (op & 0x40) ? ETH_P_8021AD : ETH_P_8021Q);
      pc.vlan.native_tagged = op & 0x20;
      pc.vlan.vlan_insert_offload = op & 0x10;
      break;
    }
    case 2:
      pc.vlan = PortVlan::dot1q_tunnel(in.u16() & 0xfff);
      break;
    case 3:
      pc.rx_filter.set_rx_mode(in.u8() % 7, in.u8() & 1);
      break;
    case 4: {
      MacAddress m[3];
      for (auto& x : m)
        x = MacAddress::from_u64(uint64_t{in.u16()} << 32 | in.u16());
      pc.rx_filter.set_mac(m[0]);
      pc.rx_filter.set_mac_table({m + 1, 1}, {m + 2, 1});
      pc.rx_filter.enable_vlan_filter(op & 0x40);
      pc.rx_filter.vlan_add(in.u16() & 0xfff);
      break;
    }
    case 5:
      pc.spoof.macs = {MacAddress::from_u64(uint64_t{in.u16()} << 32 | in.u16())};
      pc.spoof.lock_ip = op & 0x40;
      pc.spoof.ipv4 = {uint32_t{in.u16()} << 16 | in.u16()};
      break;
    case 6:
      pc.arp_suppress = op & 0x40;
      pc.nd_suppress = op & 0x20;
      pc.drop_l3_unicast_in_l2_multicast = op & 0x10;
      pc.learning = !(op & 0x08);
      break;
    default:
      pc.flood_broadcast = op & 0x40;
      pc.flood_multicast = op & 0x20;
      pc.flood_unknown_unicast = op & 0x10;
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<BufferPool> pool = [] {
    BufferPool::Config c;
    c.name = "bridge_fuzz";
    c.buffer_count = 512;
    c.data_room = 512;  // small, so large frames are chained
    return BufferPool::create(c);
  }();
  Input in(data, size);
  Bridge::Config bc;
  bc.fdb.max_entries = 64;
  bc.fdb.port_learn_limit = 16;
  bc.fdb.hash_seed = 1;
  bc.neighbor_entries = 32;
  Bridge bridge(bc);
  BridgeStats stats;
  BridgeConfig cfg;
  for (uint16_t i = 0; i < 4; i++) {
    cfg.port(i).enabled = true;
    cfg.port(i).arp_suppress = cfg.port(i).nd_suppress = true;
  }
  cfg.finalize();
  uint64_t now = 0;
  bool dirty = false;
  int steps = 0;
  while (!in.empty() && steps++ < 64) {
    uint8_t op = in.u8();
    now += uint64_t{in.u8()} << 30;
    switch (op % 8) {
      case 0:
        configure_port(cfg, in);
        break;
      case 1: {
        MacAddress m = MacAddress::from_u64(uint64_t{in.u16()} << 32 | in.u16());
        uint16_t vid = in.u16() & 0xfff;
        if (op & 0x80) {
          bridge.fdb().add_static(m, vid, in.u8() % kPorts);
        } else {
          bridge.fdb().remove(m, vid);
        }
        break;
      }
      case 2: {
        MacAddress m = MacAddress::from_u64(uint64_t{in.u16()} << 32 | in.u16());
        uint32_t ip = uint32_t{in.u16()} << 16 | in.u16();
        bridge.neighbors().add_static(NeighborKey::ipv4(ip, in.u16() & 0xfff), m);
        break;
      }
      case 3:
        bridge.age(now, stats);
        break;
      default: {
        // A burst of up to 4 frames.
        Packet* pkts[4];
        ForwardDecision dec[4];
        uint32_t n = 1 + in.u8() % 4;
        uint32_t got = 0;
        for (uint32_t i = 0; i < n; i++) {
          uint16_t port = in.u8() % (kPorts + 1);
          const uint8_t* bytes;
          size_t len = in.take(in.u16() % 1600, &bytes);
          Packet* p = packet_from_bytes(*pool, {bytes, len});
          if (p == nullptr) break;
          proto::parse_packet(*p);
          p->set_in_port(port);
          if (op & 0x80) p->set_vlan_tci(in.u16());
          pkts[got++] = p;
        }
        if (dirty) cfg.finalize();  // as the control plane publishes a new snapshot
        dirty = false;
        bridge.process_burst(cfg, pkts, got, now, dec, stats);
        for (uint32_t i = 0; i < got; i++) {
          const ForwardDecision& d = dec[i];
          uint16_t port = pkts[i]->in_port();
          if (d.kind == ForwardKind::kDrop) {
            check(d.ports.empty() && d.drop != DropReason::kNone);
          } else {
            check(!d.ports.empty());
            check(cfg.members(d.vid()).contains(d.ports));
            if (d.kind == ForwardKind::kReply) {
              check(d.ports == PortSet::single(port));
            } else {
              check(!d.ports.test(port));
            }
            d.ports.for_each([&](uint16_t out) {
              Packet* c = clone_packet(*pool, *pkts[i]);
              if (c == nullptr) return;
              Bridge::prepare_egress(cfg, *c, d, out, stats);
              free_packet(c);
            });
          }
          free_packet(pkts[i]);
        }
        break;
      }
    }
  }
  check(pool->stats().in_use == 0);
  return 0;
}
