#pragma once

// GroTable: generic receive offload with the semantics of Linux's GRO (net/core/gro.c,
// inet_gro_receive, ipv6_gro_receive, tcp_gro_receive, udp_gro_receive and the VXLAN,
// Geneve and GRE gro_receive handlers).
//
// Packets come in bursts, parsed (proto::parse_packet) so offsets and type are set. Each
// TCP or UDP packet is looked up by its flow (input port, stripped VLAN tag, the L2
// header bytes, the IP addresses and protocol, the ports; for tunnels the outer identity too: outer
// L2/L3, UDP ports and checksum presence, the VXLAN/Geneve header or the GRE flags and key, the
// inner L2 header). A segment that continues a held flow the way Linux would merge it is appended
// to the held packet's chain (its headers stripped with adj()); otherwise the held packet is handed
// on and the segment may start a new flow. The rules:
//  - TCP: next sequence, same ACK, same data offset/flags/window except CWR, FIN and PSH,
//    byte-identical options (TCP timestamps included: Linux compares every option word),
//    payload no longer than the MSS (the first segment's payload) and not empty; CWR never
//    merges (it may start a flow; the merged packet then gets kGsoTcpEcn); PSH and FIN
//    segments are merged and end the flow; a segment shorter than the MSS is the last
//    one; SYN, RST and URG never merge.
//  - IPv4: IHL 5, no fragments, total length matching the frame, a valid header
//    checksum, same TTL, TOS (so no ECN change) and DF; the ID increments by one per
//    segment, or, with DF set, stays fixed (decided on the second segment, as Linux does;
//    recorded as kGsoTcpFixedId so GSO recreates it). IPv6: no extension headers, payload
//    length matching the frame, same traffic class, flow label and hop limit (Linux
//    files a different flow label or hop limit under another flow; ending the merge
//    instead keeps every connection in order).
//  - UDP (Linux UDP_L4 GRO): same-size datagrams of one flow with a non-zero checksum; a
//    shorter one is merged and ends the flow, a longer one is not merged. IPv4 IDs must
//    increment (USO does not keep them fixed), so fixed-ID datagrams are not merged.
//  - Tunnels: VXLAN, Geneve and GRE (version 0, checksum and key allowed, no sequence) with
//    TCP inside are merged on the inner flow; the outer headers of the first segment are
//    kept. The outer IPv4 ID must follow the same pattern as the inner one.
//  - Limits: the merged packet from the outermost IP header stays below max_size (64 KiB,
//    Linux's GRO_MAX_SIZE) and holds at most max_segments segments.
//  - Checksums: a segment is merged only if its L4 checksum(s) are known good: kUnnecessary
//    (kFlagCsumLevelInner for the inner one), kComplete (verified from the sum), kPartial
//    (a local packet), or kNone verified in software (verify_checksums).
//
// A merged packet leaves as Linux's tcp_gro_complete/udp_gro_complete leave it: IP
// lengths (and the IPv4 header checksum, updated incrementally) rewritten, outer UDP
// length too, the L4 checksum field holding the pseudo-header sum with the packet
// kPartial at the (inner) L4 header, the outer UDP checksum (if it was non-zero) holding
// its pseudo-header sum, gso_size the MSS and gso_type kGsoTcpv4/kGsoTcpv6/kGsoUdpL4 with
// kGsoTcpFixedId, kGsoTcpEcn, kGsoUdpTunnel(+Csum) or kGsoGre(+Csum) as they apply. A flow
// that held a single packet leaves it untouched.
//
// Order: packets of one flow leave in the order they came (a packet that cannot merge
// first pushes out the held packet of its flow); packets of different flows may pass
// each other, as in Linux. Every packet given to receive() is returned through `out`,
// alone or inside a chain; none is freed or dropped.

#include <cstdint>
#include <memory>
#include <vector>

#include "offload/gro_stats.h"
#include "packet/packet.h"

namespace ferry::offload {

struct GroConfig {
  uint32_t max_flows = 64;       // flows held at once; the oldest is evicted beyond that
  uint32_t max_size = 65536;     // merged bytes from the outermost IP header stay below this
  uint16_t max_segments = 64;    // segments per merged packet (Linux's UDP_GRO_CNT_MAX)
  bool udp = true;               // UDP L4 GRO (Linux: UDP_GRO socket option / forwarding)
  bool tunnels = true;           // GRO of the inner packet of VXLAN/Geneve/GRE
  bool verify_checksums = true;  // verify kNone packets in software (else they pass)
};

// Result of one receive(): how many input packets it took and how many it wrote.
struct GroBurst {
  uint32_t consumed = 0;
  uint32_t out = 0;
};

struct GroFlow;
struct GroSegment;

class GroTable {
 public:
  explicit GroTable(const GroConfig& config = {});
  ~GroTable();
  GroTable(const GroTable&) = delete;
  GroTable& operator=(const GroTable&) = delete;

  // Feeds pkts[0..n). Packets handed on (unmergeable ones, and held flows that stopped
  // matching or were evicted) are written to out. At most n + held() packets are written;
  // if out_cap is smaller, only the first out_cap - held() inputs are taken (consumed).
  GroBurst receive(Packet* const* pkts, uint32_t n, Packet** out, uint32_t out_cap);
  // Hands on every held flow, oldest first (the end of a burst); returns how many were
  // written (at most out_cap; the rest stay held).
  uint32_t flush(Packet** out, uint32_t out_cap);
  // receive() and flush() in place, as rte_gro_reassemble_burst; returns the packets
  // now in pkts[0..). Meant for a table used only this way (empty on entry); if flows
  // are held, the burst is returned untouched (they leave through flush()).
  uint32_t reassemble_burst(Packet** pkts, uint32_t n);

  uint32_t held() const { return active_; }
  const GroConfig& config() const { return config_; }
  const GroStats& stats() const { return stats_; }
  void reset_stats() { stats_ = GroStats(); }

 private:
  int32_t lookup(const GroSegment& s) const;
  void insert(const GroSegment& s, Packet** out, uint32_t* n_out);
  void remove(int32_t idx);
  void flush_flow(int32_t idx, GroFlush reason, Packet** out, uint32_t* n_out);
  bool try_merge(GroFlow& f, const GroSegment& s, GroFlush* reason);

  GroConfig config_;
  GroStats stats_;
  std::unique_ptr<GroFlow[]> flows_;
  std::vector<int32_t> buckets_;  // flow index chains by hash, -1 ends
  uint32_t bucket_mask_ = 0;
  std::vector<int32_t> free_;  // unused flow slots
  int32_t oldest_ = -1;        // creation order list (oldest first)
  int32_t newest_ = -1;
  uint32_t active_ = 0;
};

}  // namespace ferry::offload
