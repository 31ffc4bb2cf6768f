// GroTable: the flow table and the per-burst loop; the per-layer rules live in
// gro_classify.cc, gro_ip.cc, gro_tcp.cc and gro_complete.cc.

#include "offload/gro.h"

#include <algorithm>
#include <cstring>

#include "base/byteorder.h"
#include "base/compiler.h"
#include "offload/gro_flow.h"
#include "proto/tcp.h"

namespace ferry::offload {

const char* const GroStats::skip_names_[kGroSkipCount] = {
    "skip_not_ip",
    "skip_not_tcp_udp",
    "skip_udp_disabled",
    "skip_tunnel_unsupported",
    "skip_ip_options",
    "skip_ipv6_ext_headers",
    "skip_fragment",
    "skip_bad_length",
    "skip_headers_split",
    "skip_already_gso",
    "skip_bad_ip_checksum",
    "skip_bad_l4_checksum",
    "skip_unverified_checksum",
    "skip_no_payload",
    "skip_flags",
    "skip_udp_zero_checksum",
    "skip_key_too_long",
};

const char* const GroStats::flush_names_[kGroFlushCount] = {
    "flush_burst_end",    "flush_psh",           "flush_final",      "flush_short_segment",
    "flush_size_limit",   "flush_segment_limit", "flush_seq",        "flush_ack",
    "flush_tcp_header",   "flush_cwr",           "flush_options",    "flush_long_segment",
    "flush_ip_fields",    "flush_ip_id",         "flush_udp_length", "flush_tunnel",
    "flush_other_packet", "flush_evicted",
};

const char* to_string(GroSkip reason) {
  const auto i = static_cast<uint32_t>(reason);
  return i < kGroSkipCount ? GroStats::skip_name(i) : "unknown";
}

const char* to_string(GroFlush reason) {
  const auto i = static_cast<uint32_t>(reason);
  return i < kGroFlushCount ? GroStats::flush_name(i) : "unknown";
}

GroTable::GroTable(const GroConfig& config) : config_(config) {
  config_.max_flows = std::clamp<uint32_t>(config_.max_flows, 1, 1u << 16);
  config_.max_segments = std::max<uint16_t>(config_.max_segments, 1);
  config_.max_size = std::clamp<uint32_t>(config_.max_size, 1, 65536);
  flows_ = std::make_unique<GroFlow[]>(config_.max_flows);
  uint32_t buckets = 1;
  while (buckets < 2 * config_.max_flows)
    buckets <<= 1;
  buckets_.assign(buckets, -1);
  bucket_mask_ = buckets - 1;
  free_.reserve(config_.max_flows);
  for (uint32_t i = config_.max_flows; i > 0; i--)
    free_.push_back(static_cast<int32_t>(i - 1));
}

GroTable::~GroTable() = default;

int32_t GroTable::lookup(const GroSegment& s) const {
  for (int32_t i = buckets_[s.hash & bucket_mask_]; i >= 0; i = flows_[i].bucket_next) {
    const GroFlow& f = flows_[i];
    if (f.hash == s.hash && f.key_len == s.key_len && gro_key_equal(f.key, s.key, s.key_len)) {
      return i;
    }
  }
  return -1;
}

void GroTable::remove(int32_t idx) {
  GroFlow& f = flows_[idx];
  int32_t* link = &buckets_[f.hash & bucket_mask_];
  while (*link != idx)
    link = &flows_[*link].bucket_next;
  *link = f.bucket_next;
  (f.older >= 0 ? flows_[f.older].newer : oldest_) = f.newer;
  (f.newer >= 0 ? flows_[f.newer].older : newest_) = f.older;
  f.head = f.tail = nullptr;
  free_.push_back(idx);
  active_--;
}

void GroTable::flush_flow(int32_t idx, GroFlush reason, Packet** out, uint32_t* n_out) {
  GroFlow& f = flows_[idx];
  if (f.count >= 2) {
    gro_l4_complete(f);
    stats_.coalesced_out++;
  } else {
    stats_.single_out++;
  }
  stats_.flush[static_cast<uint32_t>(reason)]++;
  out[(*n_out)++] = f.head;
  stats_.packets_out++;
  remove(idx);
}

void GroTable::insert(const GroSegment& s, Packet** out, uint32_t* n_out) {
  if (active_ == config_.max_flows) flush_flow(oldest_, GroFlush::kEvicted, out, n_out);
  const int32_t idx = free_.back();
  free_.pop_back();
  GroFlow& f = flows_[idx];
  const uint8_t* d = s.pkt->data();
  f.head = s.pkt;
  f.tail = s.pkt->last_segment();
  f.hash = s.hash;
  f.key_len = s.key_len;
  std::memcpy(f.key, s.key, s.key_len);
  f.count = 1;
  f.mss = static_cast<uint16_t>(s.payload_len);
  f.next_seq = s.proto == GroL4::kTcp ? load_be32(d + s.l4 + 4) + s.payload_len : 0;
  const uint16_t first_l3 = s.tunnel == TunnelType::kNone ? s.l3 : s.outer_l3;
  f.total_len = s.frame_len - first_l3;
  f.ip_id = s.v6 ? 0 : load_be16(d + s.l3 + 4);
  f.outer_ip_id = s.tunnel != TunnelType::kNone && !s.outer_v6 ? load_be16(d + s.outer_l3 + 4) : 0;
  f.id_mode = GroIdMode::kUndecided;
  f.proto = s.proto;
  f.tunnel = s.tunnel;
  f.v6 = s.v6;
  f.outer_v6 = s.outer_v6;
  f.outer_udp_csum = s.outer_udp_csum;
  f.gre_csum = s.gre_csum;
  f.outer_l3 = s.outer_l3;
  f.outer_l4 = s.outer_l4;
  f.l3 = s.l3;
  f.l4 = s.l4;
  int32_t& bucket = buckets_[s.hash & bucket_mask_];
  f.bucket_next = bucket;
  bucket = idx;
  f.older = newest_;
  f.newer = -1;
  (newest_ >= 0 ? flows_[newest_].newer : oldest_) = idx;
  newest_ = idx;
  active_++;
  stats_.held++;
}

bool GroTable::try_merge(GroFlow& f, const GroSegment& s, GroFlush* reason) {
  const uint8_t* hd = f.head->data();
  const uint8_t* sd = s.pkt->data();
  // USO recreates incrementing IPv4 IDs only (kGsoTcpFixedId is a TCP notion, as in
  // Linux), so a UDP flow merges only while its IDs count up.
  if (f.proto == GroL4::kUdp) f.id_mode = GroIdMode::kIncrement;
  GroFlush r = s.v6 ? gro_ipv6_check(hd + f.l3, sd + s.l3)
                    : gro_ipv4_check(hd + f.l3, sd + s.l3, f.ip_id, f.count, &f.id_mode);
  if (r == kGroMergeOk && f.tunnel != TunnelType::kNone) {
    const GroFlush o = f.outer_v6 ? gro_ipv6_check(hd + f.outer_l3, sd + s.outer_l3)
                                  : gro_ipv4_check(hd + f.outer_l3, sd + s.outer_l3, f.outer_ip_id,
                                                   f.count, &f.id_mode);
    if (o != kGroMergeOk) r = GroFlush::kTunnel;
  }
  // As in Linux, the IP ID verdict is taken at the transport layer: a transport reason
  // (a lost segment also breaks the ID sequence) is the one counted.
  if (r == kGroMergeOk || r == GroFlush::kIpId) {
    const GroFlush l4 =
        f.proto == GroL4::kTcp ? gro_tcp_check(f, hd + f.l4, s) : gro_udp_check(f, s);
    if (l4 != kGroMergeOk) r = l4;
  }
  if (r == kGroMergeOk) {
    if (f.total_len + s.payload_len >= config_.max_size) {
      r = GroFlush::kSizeLimit;
    } else if (f.count >= config_.max_segments) {
      r = GroFlush::kSegmentLimit;
    }
  }
  if (r != kGroMergeOk) {
    *reason = r;
    return false;
  }
  if (f.proto == GroL4::kTcp) {
    // The head carries the FIN/PSH of what it absorbed (tcp_gro_receive); GSO leaves them
    // on the last segment only.
    f.head->data()[f.l4 + 13] |= s.tcp_flags & (proto::kTcpFin | proto::kTcpPsh);
  }
  Packet* p = s.pkt;
  p->adj(s.payload);  // headers are in the head segment (gro_classify)
  Packet* last = p->last_segment();
  f.head->append_segment_after(f.tail, p);
  f.tail = last;
  f.count++;
  f.total_len += s.payload_len;
  f.next_seq += s.payload_len;
  return true;
}

GroBurst GroTable::receive(Packet* const* pkts, uint32_t n, Packet** out, uint32_t out_cap) {
  GroBurst res;
  // Each packet leaves at most once: out never needs more than n + held() slots.
  const uint32_t room = out_cap > active_ ? out_cap - active_ : 0;
  if (n > room) n = room;
  uint32_t n_out = 0;
  GroSegment s;
  constexpr uint8_t kNeverMerge = proto::kTcpSyn | proto::kTcpRst | proto::kTcpUrg;
  constexpr uint8_t kNeverStart = proto::kTcpPsh | proto::kTcpFin;
  for (uint32_t i = 0; i < n; i++) {
    Packet* p = pkts[i];
    // Descriptors two ahead, headers one ahead: the burst is walked once, in order.
    if (i + 2 < n) __builtin_prefetch(pkts[i + 2]);
    if (i + 1 < n) __builtin_prefetch(pkts[i + 1]->data() + 64);
    stats_.packets_in++;
    bool keyed;
    GroSkip skip = gro_classify(*p, config_, &s, &keyed);
    const int32_t idx = keyed ? lookup(s) : -1;
    if (skip == GroSkip::kCount) {
      if (s.proto == GroL4::kTcp && (s.tcp_flags & kNeverMerge) != 0) {
        skip = GroSkip::kFlags;
      } else {
        skip = gro_check_checksums(s, config_);
      }
    }
    if (skip != GroSkip::kCount) {
      // Pushes out the held packet of the same flow first, so the flow stays in order.
      if (idx >= 0) flush_flow(idx, GroFlush::kOtherPacket, out, &n_out);
      stats_.skip[static_cast<uint32_t>(skip)]++;
      out[n_out++] = p;
      stats_.packets_out++;
      continue;
    }
    if (idx >= 0) {
      GroFlow& f = flows_[idx];
      GroFlush why;
      if (try_merge(f, s, &why)) {
        stats_.merged++;
        if (s.tunnel != TunnelType::kNone) stats_.tunnel_merged++;
        GroFlush end = kGroMergeOk;
        if (s.proto == GroL4::kTcp) {
          stats_.tcp_merged++;
          if ((s.tcp_flags & proto::kTcpPsh) != 0) {
            end = GroFlush::kPsh;
          } else if ((s.tcp_flags & proto::kTcpFin) != 0) {
            end = GroFlush::kFinal;
          }
        } else {
          stats_.udp_merged++;
        }
        if (end == kGroMergeOk && s.payload_len < f.mss) end = GroFlush::kShortSegment;
        if (end == kGroMergeOk && f.count >= config_.max_segments) end = GroFlush::kSegmentLimit;
        if (end != kGroMergeOk) flush_flow(idx, end, out, &n_out);
        continue;
      }
      flush_flow(idx, why, out, &n_out);
    }
    if (s.proto == GroL4::kTcp && (s.tcp_flags & kNeverStart) != 0) {
      // A PSH or FIN segment that starts no merge is handed on at once (Linux).
      stats_.skip[static_cast<uint32_t>(GroSkip::kFlags)]++;
      out[n_out++] = p;
      stats_.packets_out++;
      continue;
    }
    insert(s, out, &n_out);
  }
  res.consumed = n;
  res.out = n_out;
  return res;
}

uint32_t GroTable::flush(Packet** out, uint32_t out_cap) {
  uint32_t n_out = 0;
  while (oldest_ >= 0 && n_out < out_cap)
    flush_flow(oldest_, GroFlush::kBurstEnd, out, &n_out);
  return n_out;
}

uint32_t GroTable::reassemble_burst(Packet** pkts, uint32_t n) {
  // Held flows from receive() would need more room than pkts has: leave the burst
  // as it is (they leave through flush()).
  if (FERRY_UNLIKELY(active_ != 0)) return n;
  // Outputs after i inputs never exceed i, so writing into pkts never overtakes reading.
  GroBurst b = receive(pkts, n, pkts, n);
  return b.out + flush(pkts + b.out, n - b.out);
}

}  // namespace ferry::offload
