#include "offload/gso.h"

#include <bit>
#include <cstring>

#include <netinet/in.h>

#include "csum/ip_checksum.h"
#include "csum/packet_checksum.h"
#include "csum/raw_sum.h"
#include "offload/gso_plan.h"
#include "offload/tunnel.h"
#include "packet/segment_reader.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/parser.h"

namespace ferry::offload {

const char* to_string(GsoError error) {
  switch (error) {
    case GsoError::kOk:
      return "ok";
    case GsoError::kNotGso:
      return "not_gso";
    case GsoError::kZeroGsoSize:
      return "zero_gso_size";
    case GsoError::kBadGsoType:
      return "bad_gso_type";
    case GsoError::kNotParsed:
      return "not_parsed";
    case GsoError::kTypeMismatch:
      return "type_mismatch";
    case GsoError::kHeadersBeyondData:
      return "headers_beyond_data";
    case GsoError::kHeadersTooLong:
      return "headers_too_long";
    case GsoError::kNoPayload:
      return "no_payload";
    case GsoError::kGsoSizeTooSmall:
      return "gso_size_too_small";
    case GsoError::kSegmentTooLarge:
      return "segment_too_large";
    case GsoError::kTooManySegments:
      return "too_many_segments";
    case GsoError::kUnsupported:
      return "unsupported";
    case GsoError::kOutputFull:
      return "output_full";
    case GsoError::kNoBuffers:
      return "no_buffers";
    case GsoError::kCount:
      break;
  }
  return "unknown";
}

const char* const GsoStats::reject_names_[static_cast<size_t>(GsoError::kCount)] = {
    "rejected_ok",
    "rejected_not_gso",
    "rejected_zero_gso_size",
    "rejected_bad_gso_type",
    "rejected_not_parsed",
    "rejected_type_mismatch",
    "rejected_headers_beyond_data",
    "rejected_headers_too_long",
    "rejected_no_payload",
    "rejected_gso_size_too_small",
    "rejected_segment_too_large",
    "rejected_too_many_segments",
    "rejected_unsupported",
    "rejected_output_full",
    "rejected_no_buffers",
};

namespace detail {

void fixup_ip(uint8_t* frame, uint16_t l3, bool v4, uint32_t seg_len, uint16_t id, uint32_t base) {
  uint8_t* h = frame + l3;
  if (v4) {
    const uint16_t total = static_cast<uint16_t>(seg_len - l3);
    store_be16(h + 2, total);
    store_be16(h + 4, id);
    const uint32_t sum =
        csum::add(base, uint32_t{__builtin_bswap16(total)} + __builtin_bswap16(id));
    store_unaligned<uint16_t>(h + 10, csum::finish(sum));
  } else {
    store_be16(h + 4, static_cast<uint16_t>(seg_len - l3 - proto::kIpv6HeaderLen));
  }
}

uint32_t ipv4_base_sum(const uint8_t* h) {
  const uint32_t hl = 4u * (h[0] & 0xfu);
  uint32_t sum = csum::raw_sum(h, hl);
  // Take out total length (2), ID (4) and checksum (10): they are set per segment.
  const uint32_t fields = uint32_t{load_unaligned<uint16_t>(h + 2)} +
                          load_unaligned<uint16_t>(h + 4) + load_unaligned<uint16_t>(h + 10);
  return csum::sub(sum, fields);
}

uint32_t pseudo_sum(const uint8_t* frame, uint16_t l3, bool v4, uint8_t proto, uint32_t l4_len) {
  if (v4) {
    const auto* ip = reinterpret_cast<const proto::Ipv4Header*>(frame + l3);
    return csum::pseudo_sum_ipv4(&ip->src, &ip->dst, proto, static_cast<uint16_t>(l4_len));
  }
  const auto* ip = reinterpret_cast<const proto::Ipv6Header*>(frame + l3);
  return csum::pseudo_sum_ipv6(&ip->src, &ip->dst, proto, l4_len);
}

namespace {

constexpr uint16_t kPrimaryBits = kGsoTcpv4 | kGsoTcpv6 | kGsoUdp | kGsoUdpL4;
constexpr uint16_t kKnownBits = (kGsoTunnelRemcsum << 1) - 1;
constexpr uint16_t kUdpTunnelBits = kGsoUdpTunnel | kGsoUdpTunnelCsum;
constexpr uint16_t kGreBits = kGsoGre | kGsoGreCsum;

// The tables the plan picks from; a new protocol is a new entry.
const L4Handler* const kL4Handlers[] = {&kTcpHandler, &kUdpL4Handler, &kUfoHandler};
const TunnelHandler* const kTunnelHandlers[] = {&kUdpTunnelHandler, &kGreHandler};

GsoError build_plan(const Packet& in, const GsoConfig& config, GsoPlan& p) {
  const uint16_t type = in.gso_type();
  if (type == kGsoNone) return GsoError::kNotGso;
  if (in.gso_size() == 0) return GsoError::kZeroGsoSize;
  if (std::popcount(static_cast<unsigned>(type & kPrimaryBits)) != 1 || (type & ~kKnownBits)) {
    return GsoError::kBadGsoType;
  }
  if ((type & kUdpTunnelBits) && (type & kGreBits)) return GsoError::kBadGsoType;
  if (type & kGsoTunnelRemcsum) return GsoError::kUnsupported;
  if (in.l3_offset() == kNoOffset || in.l4_offset() == kNoOffset) return GsoError::kNotParsed;

  p.config = &config;
  p.in = &in;
  p.gso_type = type;
  p.gso_size = in.gso_size();
  const PacketType t = in.packet_type();
  p.tunnel = (type & (kUdpTunnelBits | kGreBits)) != 0;
  L4Type l4_type;
  if (p.tunnel) {
    if (in.inner_l3_offset() == kNoOffset || in.inner_l4_offset() == kNoOffset) {
      return GsoError::kTypeMismatch;
    }
    p.outer_l3 = in.l3_offset();
    p.outer_l4 = in.l4_offset();
    p.outer_v4 = t.is_ipv4();
    if (!p.outer_v4 && !t.is_ipv6()) return GsoError::kTypeMismatch;
    p.l3 = in.inner_l3_offset();
    p.l4 = in.inner_l4_offset();
    p.v4 = t.is_inner_ipv4();
    if (!p.v4 && !t.is_inner_ipv6()) return GsoError::kTypeMismatch;
    l4_type = t.inner_l4();
    p.gso_partial = (type & kGsoPartial) != 0;
  } else {
    if (t.tunnel() != TunnelType::kNone || (type & kGsoPartial)) return GsoError::kTypeMismatch;
    p.outer_l3 = p.outer_l4 = kNoOffset;
    p.outer_v4 = false;
    p.l3 = in.l3_offset();
    p.l4 = in.l4_offset();
    p.v4 = t.is_ipv4();
    if (!p.v4 && !t.is_ipv6()) return GsoError::kTypeMismatch;
    l4_type = t.l4();
  }
  if (p.l4 <= p.l3) return GsoError::kTypeMismatch;
  const bool tcp = (type & (kGsoTcpv4 | kGsoTcpv6)) != 0;
  if (tcp && l4_type != L4Type::kTcp) return GsoError::kTypeMismatch;
  if (!tcp && l4_type != L4Type::kUdp) return GsoError::kTypeMismatch;
  if (((type & kGsoTcpv4) && !p.v4) || ((type & kGsoTcpv6) && p.v4)) {
    return GsoError::kTypeMismatch;
  }
  if ((type & kGsoUdp) && p.tunnel) return GsoError::kUnsupported;

  p.in_len = chain_length(in);
  p.tmpl_len = p.in_len < kMaxGsoHeaderLen ? p.in_len : kMaxGsoHeaderLen;
  if (!copy_out(in, 0, p.tmpl, p.tmpl_len)) return GsoError::kHeadersBeyondData;
  p.partial_csum = config.csum_mode == GsoCsumMode::kPartial;

  for (const L4Handler* h : kL4Handlers) {
    if (type & h->gso_bit) p.l4_handler = h;
  }
  if (p.tunnel) {
    for (const TunnelHandler* h : kTunnelHandlers) {
      if (type & h->gso_bit) p.tunnel_handler = h;
    }
    if (p.tunnel_handler == nullptr) return GsoError::kBadGsoType;
    if (GsoError e = p.tunnel_handler->plan(p); e != GsoError::kOk) return e;
  }
  if (p.l4_handler == nullptr) return GsoError::kBadGsoType;
  if (GsoError e = p.l4_handler->plan(p); e != GsoError::kOk) return e;
  if (p.hdr_len > p.tmpl_len) {
    return p.hdr_len > p.in_len ? GsoError::kHeadersBeyondData : GsoError::kHeadersTooLong;
  }
  // The IP headers must end where the next layer starts (offsets may be hostile).
  auto ip_fits = [&](uint16_t l3, uint16_t next, bool v4) {
    const uint32_t hl = v4 ? 4u * (p.tmpl[l3] & 0xfu) : proto::kIpv6HeaderLen;
    return hl >= proto::kIpv4MinHeaderLen && l3 + hl <= next;
  };
  if (!ip_fits(p.l3, p.l4, p.v4)) return GsoError::kTypeMismatch;
  if (p.tunnel && !ip_fits(p.outer_l3, p.outer_l4, p.outer_v4)) return GsoError::kTypeMismatch;
  if (p.v4) {
    p.ip_base = ipv4_base_sum(p.tmpl + p.l3);
    p.ip_id0 = load_be16(p.tmpl + p.l3 + 4);
  }
  if (p.tunnel && p.outer_v4) {
    p.outer_ip_base = ipv4_base_sum(p.tmpl + p.outer_l3);
    p.outer_ip_id0 = load_be16(p.tmpl + p.outer_l3 + 4);
  }
  const uint8_t l4_proto = (type & (kGsoTcpv4 | kGsoTcpv6)) ? IPPROTO_TCP : IPPROTO_UDP;
  p.pseudo0 = pseudo_sum(p.tmpl, p.l3, p.v4, l4_proto, 0);
  if (!p.v4 && p.l4 != p.l3 + proto::kIpv6HeaderLen) {
    // Extension headers: a Routing header puts the final destination into the pseudo
    // header (RFC 8200 8.1); the checksum layer knows where to find it.
    csum::L4Span span;
    if (csum::locate_l4(in, p.tunnel ? csum::Layer::kInner : csum::Layer::kOuter, &span) ==
        csum::CsumError::kOk) {
      p.pseudo0 = csum::sub(span.pseudo_sum, __builtin_bswap32(span.l4_len));
    }
  }
  if (p.tunnel) p.outer_pseudo0 = pseudo_sum(p.tmpl, p.outer_l3, p.outer_v4, IPPROTO_UDP, 0);
  p.payload_len = p.in_len - p.hdr_len;
  if (p.payload_len == 0) return GsoError::kNoPayload;
  const uint16_t first_l3 = p.tunnel ? p.outer_l3 : p.l3;
  if (p.hdr_len + p.extra_len + p.mss - first_l3 > proto::kIpv4MaxDatagram) {
    return GsoError::kSegmentTooLarge;
  }
  return GsoError::kOk;
}

// Appends payload bytes to a segment, continuing in new buffers of the pool when the
// current one is full, and sums them on the way.
class PayloadWriter {
 public:
  PayloadWriter(BufferPool& pool, Packet* head, bool sum)
      : pool_(pool), head_(head), cur_(head), want_sum_(sum) {}

  bool write(const uint8_t* src, uint32_t n) {
    while (n > 0) {
      uint32_t room = cur_->tailroom();
      if (FERRY_UNLIKELY(room == 0)) {
        if (!next_buffer()) return false;
        room = cur_->tailroom();
      }
      const uint32_t k = n < room ? n : room;
      // Sum the source, not the copy: loads from bytes just stored wait for the stores
      // to drain, loads from the source find it in cache, and the copy then reads it
      // from L1.
      if (want_sum_) sum_ = csum::add_at(sum_, csum::raw_sum(src, k), written_);
      std::memcpy(cur_->append(k), src, k);
      written_ += k;
      src += k;
      n -= k;
    }
    return true;
  }
  // Links the last buffer into the chain; call once at the end.
  void finish() {
    if (cur_ != head_) head_->append_segment(cur_);
    cur_ = head_;
  }
  uint32_t sum() const { return sum_; }
  bool chained() const { return chained_; }
  // Buffers allocated but not yet linked (on failure the caller frees head and these).
  Packet* pending() { return cur_ != head_ ? cur_ : nullptr; }

 private:
  bool next_buffer() {
    Packet* seg = pool_.alloc();
    if (seg == nullptr) return false;
    seg->move_data(-static_cast<int32_t>(seg->headroom()));  // payload buffers: no headroom
    if (cur_ != head_) head_->append_segment(cur_);
    cur_ = seg;
    chained_ = true;
    return true;
  }

  BufferPool& pool_;
  Packet* head_;
  Packet* cur_;
  uint32_t sum_ = 0;
  uint32_t written_ = 0;
  bool want_sum_;
  bool chained_ = false;
};

}  // namespace
}  // namespace detail

GsoError GsoEngine::segment(const Packet& in, Packet** out, uint32_t capacity, uint32_t* n_out) {
  stats_.packets++;
  GsoError e = segment_impl(in, out, capacity, n_out);
  if (e != GsoError::kOk) stats_.rejected[static_cast<size_t>(e)]++;
  return e;
}

GsoError GsoEngine::segment_impl(const Packet& in, Packet** out, uint32_t capacity,
                                 uint32_t* n_out) {
  using namespace detail;
  *n_out = 0;
  GsoPlan p;
  if (GsoError e = build_plan(in, config_, p); e != GsoError::kOk) return e;
  const uint32_t count = (p.payload_len + p.mss - 1) / p.mss;
  if (count > config_.max_segments) return GsoError::kTooManySegments;
  if (count > capacity) return GsoError::kOutputFull;
  if (p.hdr_len + p.extra_len + (p.l4_handler == &kUfoHandler ? kUdpHeaderBytes : 0) >
      pool_.data_room()) {
    return GsoError::kHeadersTooLong;
  }
  if (p.l4_handler == &kUfoHandler && !p.v4) p.frag_id = config_.ipv6_frag_id++;
  if (config_.outer_src_port_from_hash && p.tunnel_handler == &kUdpTunnelHandler) {
    p.src_port = udp_flow_src_port(inner_flow_hash(in), config_.src_port_min, config_.src_port_max);
  }
  const bool want_sum = p.l4_handler->needs_payload_sum && !p.partial_csum;

  // All head buffers at once (one pool operation); payload that does not fit one buffer
  // continues in buffers taken one by one.
  if (!pool_.alloc_bulk(out, count)) return GsoError::kNoBuffers;
  const bool linear = !in.is_chained();
  // Headers are rewritten before the payload is copied when nothing depends on the
  // payload (no checksum over it, no header inside it): right after a 1.4 KB copy the
  // store buffer is full and every header store would wait for it to drain.
  const bool headers_first = !want_sum && !p.reparse;
  auto fixups = [&](SegmentInfo& si) {
    p.l4_handler->fixup(p, si);
    if (p.tunnel) {
      p.tunnel_handler->fixup(p, si);
      const uint32_t id_add = p.gso_partial || (p.gso_type & kGsoTcpFixedId) ? 0 : si.index;
      fixup_ip(si.pkt->data(), p.outer_l3, p.outer_v4, si.len,
               static_cast<uint16_t>(p.outer_ip_id0 + id_add), p.outer_ip_base);
    }
  };
  const uint32_t head_len = p.hdr_len + p.extra_len;
  for (uint32_t i = 0; i < count; i++) {
    Packet* s = out[i];
    const uint32_t offset = i * p.mss;
    const uint32_t plen = p.payload_len - offset < p.mss ? p.payload_len - offset : p.mss;
    std::memcpy(s->append(head_len), p.tmpl, p.hdr_len);
    SegmentInfo si{s, i, count, offset, plen, head_len + plen, 0, 0};
    if (headers_first) fixups(si);

    PayloadWriter w(pool_, s, want_sum);
    bool ok;
    if (linear && plen <= s->tailroom()) {
      // The common case: one contiguous slice into one buffer.
      ok = w.write(in.data() + p.hdr_len + offset, plen);
    } else {
      ok = true;
      for_each_span(in, p.hdr_len + offset, plen, [&](const uint8_t* src, uint32_t n) {
        if (ok) ok = w.write(src, n);
      });
    }
    if (!ok) {
      free_packet(w.pending());
      free_packets(out, count);
      return GsoError::kNoBuffers;
    }
    w.finish();
    if (w.chained()) stats_.chained_outputs++;
    si.payload_sum = w.sum();
    if (!headers_first) fixups(si);

    s->set_packet_type(in.packet_type());
    s->set_l3_offset(in.l3_offset());
    s->set_l4_offset(in.l4_offset());
    s->set_inner_l2_offset(in.inner_l2_offset());
    s->set_inner_l3_offset(in.inner_l3_offset());
    s->set_inner_l4_offset(in.inner_l4_offset());
    s->set_in_port(in.in_port());
    if (in.has_rss_hash()) s->set_rss_hash(in.rss_hash());
    if (in.has_vlan_tci()) s->set_vlan_tci(in.vlan_tci());
    if (p.reparse) {
      proto::parse_packet(*s);
    } else if (p.outer_csum_state_l4 != kNoOffset) {
      s->set_csum_partial(p.outer_csum_state_l4, 6);
    } else if (!p.partial_csum) {
      s->set_csum_unnecessary(p.tunnel);
    }
  }
  *n_out = count;
  stats_.segmented++;
  stats_.segments += count;
  if (count == 1) stats_.single_segment++;
  if (in.is_chained()) stats_.chained_inputs++;
  return GsoError::kOk;
}

uint32_t GsoEngine::segment_burst(Packet** pkts, uint32_t n, Packet** out, uint32_t capacity) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    Packet* pkt = pkts[i];
    if (!pkt->is_gso()) {
      stats_.packets++;
      if (k < capacity) {
        out[k++] = pkt;
        stats_.passed++;
      } else {
        stats_.rejected[static_cast<size_t>(GsoError::kOutputFull)]++;
        free_packet(pkt);
      }
      continue;
    }
    uint32_t made = 0;
    segment(*pkt, out + k, capacity - k, &made);
    k += made;
    free_packet(pkt);
  }
  return k;
}

}  // namespace ferry::offload
