#include "offload/rsc.h"

#include <algorithm>
#include <cstring>

#include <netinet/in.h>

#include "base/byteorder.h"
#include "base/compiler.h"
#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "packet/buffer_pool.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/tcp.h"

namespace ferry::offload {

namespace {

using proto::Ipv4Header;
using proto::Ipv6Header;
using proto::kIpv6HeaderLen;
using proto::TcpHeader;

constexpr uint8_t kFinalizeFlags =
    proto::kTcpFin | proto::kTcpUrg | proto::kTcpRst | proto::kTcpEce | proto::kTcpCwr;

// Field offsets inside the headers (the views are byte-aligned structs).
constexpr uint32_t kIpv4TotalLen = offsetof(Ipv4Header, total_length);
constexpr uint32_t kIpv4Src = offsetof(Ipv4Header, src);
constexpr uint32_t kIpv6PayloadLen = offsetof(Ipv6Header, payload_length);
constexpr uint32_t kIpv6Src = offsetof(Ipv6Header, src);
constexpr uint32_t kTcpSeq = offsetof(TcpHeader, seq);
constexpr uint32_t kTcpAck = offsetof(TcpHeader, ack);
constexpr uint32_t kTcpFlags = offsetof(TcpHeader, flags);
constexpr uint32_t kTcpWindow = offsetof(TcpHeader, window);

// Cuts a (possibly chained) packet to len bytes, freeing segments past the cut. Used to
// drop Ethernet padding behind the IP datagram before payloads are chained.
void trim_packet(Packet* head, uint32_t len) {
  if (head->pkt_len() <= len) return;
  if (!head->is_chained()) {
    head->set_data_len(len);
    return;
  }
  // Rebuild the chain segment by segment so the head's pkt_len() stays exact.
  Packet* rest = head->detach_next();
  uint32_t left = len;
  if (head->data_len() >= left) {
    head->set_data_len(left);
    free_packet(rest);
    return;
  }
  left -= head->data_len();
  while (rest != nullptr) {
    Packet* seg = rest;
    rest = seg->detach_next();
    if (seg->data_len() >= left) {
      seg->set_data_len(left);
      head->append_segment(seg);
      free_packet(rest);
      return;
    }
    left -= seg->data_len();
    head->append_segment(seg);
  }
}

}  // namespace

// What the sanity checks learned about a frame.
struct Rsc::Frame {
  uint16_t l3 = 0;
  uint16_t l4 = 0;
  uint16_t tcp_len = 0;
  uint32_t end = 0;      // l3 + datagram length (bytes past it are padding)
  uint32_t ip_len = 0;   // IPv4 total length or IPv6 payload length
  uint32_t payload = 0;  // TCP payload bytes
  uint32_t hash = 0;     // of addresses and ports, to skip most flow compares
};

// One cached segment: the first frame of a flow plus the payload merged behind it.
struct Rsc::Seg {
  Packet* head = nullptr;
  Packet* last = nullptr;  // last buffer segment of the chain (appends do not walk it)
  uint32_t hash = 0;
  uint16_t l3 = 0;
  uint16_t l4 = 0;
  uint16_t tcp_len = 0;
  uint32_t ip_len = 0;   // current length field of the head
  uint32_t payload = 0;  // TCP payload bytes held
  uint32_t packets = 1;  // frames coalesced (the RSC segment count)
  uint32_t frames = 1;   // input frames held in the chain
  uint16_t dup_acks = 0;
  uint16_t max_seg = 0;  // largest merged payload
  bool coalesced = false;
};

struct Rsc::Chain {
  bool v6 = false;
  std::vector<Seg> segs;         // arrival order
  std::vector<uint32_t> hashes;  // segs[i].hash, packed so the flow lookup scans little
  uint64_t deadline = kNoDeadline;
  RscChainStats* stats = nullptr;
};

Rsc::Rsc(const RscConfig& config) : config_(config) {
  if (config_.max_flows == 0) config_.max_flows = 1;
  chains_[0] = new Chain;
  chains_[0]->stats = &stats_.ipv4;
  chains_[1] = new Chain;
  chains_[1]->v6 = true;
  chains_[1]->stats = &stats_.ipv6;
  for (Chain* c : chains_)
    c->segs.reserve(std::min<uint32_t>(config_.max_flows, 1024));
}

Rsc::~Rsc() {
  purge();
  delete chains_[0];
  delete chains_[1];
}

Rsc::Result Rsc::process(Packet** pkts, uint32_t n, uint64_t now_ns, Packet** out, uint32_t cap) {
  Result r;
  while (r.consumed < n && cap - r.produced >= 2) {
    handle(pkts[r.consumed], now_ns, out, &r.produced);
    r.consumed++;
  }
  return r;
}

// Sanity checks and TCP control checks; candidates go on to coalesce().
bool Rsc::handle(Packet* p, uint64_t now_ns, Packet** out, uint32_t* produced) {
  stats_.packets_in++;
  auto emit = [&](Packet* q) {
    out[(*produced)++] = q;
    stats_.packets_out++;
  };
  const PacketType type = p->packet_type();
  const uint16_t l3 = p->l3_offset();
  Chain* chain;
  if (type.is_ipv4()) {
    chain = chains_[0];
  } else if (type.is_ipv6()) {
    chain = chains_[1];
  } else {
    chain = nullptr;
  }
  if (chain == nullptr || l3 == kNoOffset) {
    stats_.bypass_not_ip++;
    emit(p);
    return false;
  }
  RscChainStats& cs = *chain->stats;
  cs.received++;
  if (!(chain->v6 ? config_.ipv6 : config_.ipv4)) {
    cs.bypass_disabled++;
    emit(p);
    return false;
  }

  const uint32_t head_len = p->data_len();
  const uint32_t total = p->pkt_len();
  const uint8_t* d = p->data();
  Frame f;
  f.l3 = l3;
  const uint32_t ip_hdr = chain->v6 ? kIpv6HeaderLen : proto::kIpv4MinHeaderLen;
  if (l3 + ip_hdr > head_len) {
    (l3 + ip_hdr > total ? cs.bypass_bad_length : cs.bypass_split_headers)++;
    emit(p);
    return false;
  }
  uint32_t datagram;  // IP header + payload
  if (!chain->v6) {
    const auto* ip = reinterpret_cast<const Ipv4Header*>(d + l3);
    uint64_t* reason = nullptr;
    if (ip->version() != 4) {
      reason = &cs.bypass_ip_version;
    } else if (ip->ihl() < 5) {
      reason = &cs.bypass_bad_length;
    } else if (ip->ihl() != 5) {
      reason = &cs.bypass_ip_options;
    } else if (ip->protocol != IPPROTO_TCP) {
      reason = &cs.bypass_not_tcp;
    } else if (ip->is_fragment() || (config_.require_df && !ip->dont_fragment())) {
      reason = &cs.bypass_ip_fragment;
    } else if (ip->ecn() != 0) {
      reason = &cs.bypass_ecn;
    } else {
      f.ip_len = ip->total_length.value();
      if (f.ip_len < proto::kIpv4MinHeaderLen + proto::kTcpMinHeaderLen || f.ip_len > total - l3) {
        reason = &cs.bypass_bad_length;
      }
    }
    if (reason != nullptr) {
      (*reason)++;
      emit(p);
      return false;
    }
    datagram = f.ip_len;
    f.hash = load_unaligned<uint32_t>(d + l3 + kIpv4Src) ^
             load_unaligned<uint32_t>(d + l3 + kIpv4Src + 4);
  } else {
    const auto* ip6 = reinterpret_cast<const Ipv6Header*>(d + l3);
    uint64_t* reason = nullptr;
    if (ip6->version() != 6) {
      reason = &cs.bypass_ip_version;
    } else if (ip6->next_header != IPPROTO_TCP) {
      reason = &cs.bypass_not_tcp;  // extension headers included
    } else {
      f.ip_len = ip6->payload_length.value();
      if (f.ip_len < proto::kTcpMinHeaderLen || f.ip_len > total - l3 - kIpv6HeaderLen) {
        reason = &cs.bypass_bad_length;
      } else if ((ip6->traffic_class() & 0x3) != 0) {
        reason = &cs.bypass_ecn;
      }
    }
    if (reason != nullptr) {
      (*reason)++;
      emit(p);
      return false;
    }
    datagram = kIpv6HeaderLen + f.ip_len;
    uint32_t h = 0;
    for (uint32_t i = 0; i < 32; i += 4)
      h ^= load_unaligned<uint32_t>(d + l3 + kIpv6Src + i);
    f.hash = h;
  }
  f.l4 = static_cast<uint16_t>(l3 + ip_hdr);
  f.end = l3 + datagram;
  if (f.l4 + proto::kTcpMinHeaderLen > head_len) {
    cs.bypass_split_headers++;
    emit(p);
    return false;
  }
  const auto* tcp = reinterpret_cast<const TcpHeader*>(d + f.l4);
  f.tcp_len = static_cast<uint16_t>(tcp->header_len());
  if (f.tcp_len < proto::kTcpMinHeaderLen || f.tcp_len > datagram - ip_hdr) {
    cs.bypass_bad_length++;
    emit(p);
    return false;
  }
  if (f.l4 + f.tcp_len > head_len) {
    cs.bypass_split_headers++;
    emit(p);
    return false;
  }
  f.payload = datagram - ip_hdr - f.tcp_len;
  f.hash ^= load_unaligned<uint32_t>(d + f.l4);  // the port pair

  // TCP control: SYN bypasses; the other control flags, and options the chain does not
  // merge, finalize the flow (its cached segment first, then this frame).
  if (tcp->has(proto::kTcpSyn)) {
    cs.bypass_syn++;
    emit(p);
    return false;
  }
  bool finalize = false;
  if ((tcp->flags & kFinalizeFlags) != 0) {
    cs.finalize_ctrl++;
    finalize = true;
  } else if (p->is_gso()) {
    cs.finalize_gso++;  // already a large packet: pass it, after what is cached of its flow
    finalize = true;
  } else if (f.tcp_len > proto::kTcpMinHeaderLen && !config_.coalesce_tcp_options) {
    cs.finalize_tcp_options++;
    finalize = true;
  }
  if (finalize) {
    for (uint32_t i = 0; i < chain->hashes.size(); i++) {
      if (chain->hashes[i] != f.hash) continue;
      const Seg& s = chain->segs[i];
      if (s.l3 != f.l3) continue;
      const uint8_t* o = s.head->data();
      const uint32_t addr = chain->v6 ? kIpv6Src : kIpv4Src;
      const uint32_t addr_len = chain->v6 ? 32 : 8;
      if (std::memcmp(o, d, l3) != 0 || std::memcmp(o + l3 + addr, d + l3 + addr, addr_len) != 0 ||
          std::memcmp(o + s.l4, d + f.l4, 4) != 0) {
        continue;
      }
      emit(finish(*chain, i));
      cs.finalized++;
      break;
    }
    emit(p);
    return false;
  }
  coalesce(*chain, p, f, now_ns, out, produced);
  return true;
}

void Rsc::coalesce(Chain& chain, Packet* p, const Frame& f, uint64_t now_ns, Packet** out,
                   uint32_t* produced) {
  RscChainStats& cs = *chain.stats;
  uint8_t* d = p->data();
  const uint32_t addr = chain.v6 ? kIpv6Src : kIpv4Src;
  const uint32_t addr_len = chain.v6 ? 32 : 8;
  uint32_t idx = 0;
  const uint32_t nsegs = static_cast<uint32_t>(chain.segs.size());
  const uint32_t* hashes = chain.hashes.data();
  for (; idx < nsegs; idx++) {
    if (hashes[idx] != f.hash) continue;
    const Seg& s = chain.segs[idx];
    if (s.l3 != f.l3) continue;
    const uint8_t* o = s.head->data();
    if (std::memcmp(o + f.l3 + addr, d + f.l3 + addr, addr_len) == 0 &&
        std::memcmp(o + s.l4, d + f.l4, 4) == 0 && std::memcmp(o, d, f.l3) == 0) {
      break;
    }
  }
  if (idx == nsegs) {
    cache(chain, p, f, now_ns, out, produced);
    return;
  }

  Seg& s = chain.segs[idx];
  uint8_t* o = s.head->data();
  uint8_t* ot = o + s.l4;
  const uint8_t* nt = d + f.l4;
  const uint32_t oseq = load_be32(ot + kTcpSeq);
  const uint32_t nseq = load_be32(nt + kTcpSeq);
  const uint32_t dseq = nseq - oseq;
  bool merge = false;
  if (dseq > kMaxTcpPayload) {
    cs.out_of_window++;  // retransmitted or far ahead
  } else if (dseq == 0) {
    if (s.payload == 0 && f.payload > 0) {
      cs.data_after_pure_ack++;
      merge = true;
    } else {
      const uint32_t oack = load_be32(ot + kTcpAck);
      const uint32_t nack = load_be32(nt + kTcpAck);
      if (nack - oack >= kMaxTcpPayload) {
        cs.ack_out_of_window++;
      } else if (nack == oack) {
        if (load_be16(nt + kTcpWindow) == load_be16(ot + kTcpWindow)) {
          // A duplicate ACK ends the segment; the RSC info of that segment reports it.
          cs.dup_ack++;
          s.dup_acks++;
        } else {
          // A pure window update: the cached segment takes the new window.
          std::memcpy(ot + kTcpWindow, nt + kTcpWindow, 2);
          cs.window_update++;
          s.coalesced = true;
          free_packet(p);
          return;
        }
      } else {
        cs.pure_ack++;
      }
    }
  } else if (dseq != s.payload) {
    cs.out_of_order++;
  } else {
    merge = true;
  }

  if (merge) {
    if (config_.coalesce_tcp_options &&
        (f.tcp_len != s.tcp_len ||
         std::memcmp(ot + proto::kTcpMinHeaderLen, nt + proto::kTcpMinHeaderLen,
                     f.tcp_len - proto::kTcpMinHeaderLen) != 0)) {
      cs.finalize_tcp_options++;
      merge = false;
    } else if (s.ip_len + f.payload > kMaxIpLength || s.packets >= 0xffff) {
      cs.oversize++;
      merge = false;
    }
  }
  if (!merge) {
    out[(*produced)++] = finish(chain, idx);
    out[(*produced)++] = p;
    stats_.packets_out += 2;
    cs.finalized++;
    return;
  }

  // Merge: lengths, flags (PSH comes along), ACK and window from the new frame.
  s.ip_len += f.payload;
  store_be16(o + s.l3 + (chain.v6 ? kIpv6PayloadLen : kIpv4TotalLen),
             static_cast<uint16_t>(s.ip_len));
  ot[kTcpFlags] = nt[kTcpFlags];
  std::memcpy(ot + kTcpAck, nt + kTcpAck, 4);
  std::memcpy(ot + kTcpWindow, nt + kTcpWindow, 2);
  s.payload += f.payload;
  s.packets++;
  s.coalesced = true;
  s.max_seg = static_cast<uint16_t>(std::max<uint32_t>(s.max_seg, f.payload));
  cs.coalesced++;
  if (f.payload == 0) {
    free_packet(p);
    return;
  }
  trim_packet(p, f.end);
  p->adj(f.l4 + f.tcp_len);
  p->reset_metadata();
  s.head->append_segment_after(s.last, p);
  s.last = p->last_segment();
  s.frames++;
}

void Rsc::cache(Chain& chain, Packet* p, const Frame& f, uint64_t now_ns, Packet** out,
                uint32_t* produced) {
  RscChainStats& cs = *chain.stats;
  if (chain.segs.size() >= config_.max_flows) {
    cs.cache_full++;
    out[(*produced)++] = finish(chain, 0);
    stats_.packets_out++;
  }
  if (chain.segs.empty()) {
    cs.cache_empty++;
    chain.deadline = now_ns > kNoDeadline - 1 - config_.interval_ns ? kNoDeadline - 1
                                                                    : now_ns + config_.interval_ns;
  } else {
    cs.no_match_cache++;
  }
  trim_packet(p, f.end);
  Seg s;
  s.head = p;
  s.last = p->last_segment();
  s.hash = f.hash;
  s.l3 = f.l3;
  s.l4 = f.l4;
  s.tcp_len = f.tcp_len;
  s.ip_len = f.ip_len;
  s.payload = f.payload;
  s.max_seg = static_cast<uint16_t>(f.payload);
  chain.segs.push_back(s);
  chain.hashes.push_back(s.hash);
  cs.cached++;
}

// Takes segment `index` out of the chain and returns its packet, marked if coalesced.
Packet* Rsc::finish(Chain& chain, uint32_t index) {
  Packet* p = mark(chain, chain.segs[index]);
  chain.segs.erase(chain.segs.begin() + index);
  chain.hashes.erase(chain.hashes.begin() + index);
  if (chain.segs.empty()) chain.deadline = kNoDeadline;
  return p;
}

// The first `count` segments leave at once (timer, flush): one erase, not one per segment.
uint32_t Rsc::finish_front(Chain& chain, uint32_t count, Packet** out) {
  count = std::min<uint32_t>(count, static_cast<uint32_t>(chain.segs.size()));
  for (uint32_t i = 0; i < count; i++)
    out[i] = mark(chain, chain.segs[i]);
  chain.segs.erase(chain.segs.begin(), chain.segs.begin() + count);
  chain.hashes.erase(chain.hashes.begin(), chain.hashes.begin() + count);
  if (chain.segs.empty()) chain.deadline = kNoDeadline;
  return count;
}

// Marks a leaving segment's packet with its RSC info if anything was merged into it.
Packet* Rsc::mark(Chain& chain, const Seg& s) {
  Packet* p = s.head;
  if (s.coalesced || s.dup_acks != 0) {
    p->set_rsc_info(static_cast<uint16_t>(s.packets), s.dup_acks);
    if (s.coalesced) p->set_gso(chain.v6 ? kGsoTcpv6 : kGsoTcpv4, s.max_seg);
    chain.stats->rsc_out++;
  }
  return p;
}

uint64_t Rsc::next_deadline_ns() const {
  return std::min(chains_[0]->deadline, chains_[1]->deadline);
}

uint32_t Rsc::poll(uint64_t now_ns, Packet** out, uint32_t cap) {
  uint32_t produced = 0;
  for (Chain* c : chains_) {
    if (c->deadline > now_ns || produced == cap) continue;
    c->stats->timer_fired++;
    const uint32_t n = finish_front(*c, cap - produced, out + produced);
    produced += n;
    c->stats->timer_drained += n;
  }
  stats_.packets_out += produced;
  return produced;
}

uint32_t Rsc::flush(Packet** out, uint32_t cap) {
  uint32_t produced = 0;
  for (Chain* c : chains_) {
    const uint32_t n = finish_front(*c, cap - produced, out + produced);
    produced += n;
    c->stats->flushed += n;
  }
  stats_.packets_out += produced;
  return produced;
}

void Rsc::purge() {
  for (Chain* c : chains_)
    purge_chain(*c);
}

void Rsc::purge_chain(Chain& chain) {
  for (Seg& s : chain.segs) {
    chain.stats->purged++;
    chain.stats->purged_frames += s.frames;
    free_packet(s.head);
  }
  chain.segs.clear();
  chain.hashes.clear();
  chain.deadline = kNoDeadline;
}

uint32_t Rsc::cached_segments() const {
  return static_cast<uint32_t>(chains_[0]->segs.size() + chains_[1]->segs.size());
}

uint64_t Rsc::cached_frames() const {
  uint64_t n = 0;
  for (const Chain* c : chains_) {
    for (const Seg& s : c->segs)
      n += s.frames;
  }
  return n;
}

csum::CsumError rsc_strip_info(Packet& p) {
  if (!p.has_rsc_info()) return csum::CsumError::kOk;
  p.clear_rsc_info();
  p.set_csum_none();
  const L3Type l3 = p.packet_type().l3();
  if (l3 == L3Type::kIpv4 || l3 == L3Type::kIpv4Ext) {
    if (csum::CsumError e = csum::fill_ipv4_header(p); e != csum::CsumError::kOk) return e;
  }
  return csum::to_partial(p);
}

}  // namespace ferry::offload
