#include "steer/rss.h"

#include <algorithm>
#include <cstring>

#include <netinet/in.h>
#include <netinet/ip.h>

#include "base/byteorder.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "steer/header_walk.h"

namespace ferry::steer {

const char* to_string(HashReport r) {
  switch (r) {
    case HashReport::kNone:
      return "none";
    case HashReport::kIpv4:
      return "ipv4";
    case HashReport::kTcpv4:
      return "tcpv4";
    case HashReport::kUdpv4:
      return "udpv4";
    case HashReport::kIpv6:
      return "ipv6";
    case HashReport::kTcpv6:
      return "tcpv6";
    case HashReport::kUdpv6:
      return "udpv6";
    case HashReport::kIpv6Ex:
      return "ipv6_ex";
    case HashReport::kTcpv6Ex:
      return "tcpv6_ex";
    case HashReport::kUdpv6Ex:
      return "udpv6_ex";
  }
  return "?";
}

const char* to_string(RssConfigError e) {
  switch (e) {
    case RssConfigError::kOk:
      return "ok";
    case RssConfigError::kTruncated:
      return "truncated";
    case RssConfigError::kTrailingBytes:
      return "trailing bytes";
    case RssConfigError::kTableEmpty:
      return "indirection table empty";
    case RssConfigError::kTableNotPowerOfTwo:
      return "indirection table length not a power of two";
    case RssConfigError::kTableTooLong:
      return "indirection table too long";
    case RssConfigError::kQueueOutOfRange:
      return "indirection table queue out of range";
    case RssConfigError::kUnclassifiedOutOfRange:
      return "unclassified queue out of range";
    case RssConfigError::kMaxTxVqOutOfRange:
      return "max_tx_vq out of range";
    case RssConfigError::kKeyTooLong:
      return "key too long";
    case RssConfigError::kKeyMissing:
      return "key missing";
    case RssConfigError::kUnsupportedHashTypes:
      return "unsupported hash types";
    case RssConfigError::kCount:
      break;
  }
  return "?";
}

RssConfigError validate(const RssConfig& c, const RssLimits& limits) {
  const size_t n = c.indirection_table.size();
  if (n == 0) return RssConfigError::kTableEmpty;
  if ((n & (n - 1)) != 0) return RssConfigError::kTableNotPowerOfTwo;
  if (n > limits.max_table_len) return RssConfigError::kTableTooLong;
  for (uint16_t q : c.indirection_table) {
    if (q >= limits.num_queues) return RssConfigError::kQueueOutOfRange;
  }
  if (c.unclassified_queue >= limits.num_queues) return RssConfigError::kUnclassifiedOutOfRange;
  if (c.max_tx_vq == 0 || c.max_tx_vq > limits.num_queues) {
    return RssConfigError::kMaxTxVqOutOfRange;
  }
  if (c.key.size() > limits.max_key_len || c.key.size() > kMaxKeyLen) {
    return RssConfigError::kKeyTooLong;
  }
  if ((c.hash_types & ~limits.supported_hash_types) != 0) {
    return RssConfigError::kUnsupportedHashTypes;
  }
  if (c.hash_types != 0 && c.key.empty()) return RssConfigError::kKeyMissing;
  return RssConfigError::kOk;
}

namespace {

// A bounds-checked little-endian reader over command data.
class LeReader {
 public:
  explicit LeReader(std::span<const uint8_t> d) : d_(d) {}
  bool u8(uint8_t* v) {
    if (pos_ + 1 > d_.size()) return false;
    *v = d_[pos_++];
    return true;
  }
  bool u16(uint16_t* v) {
    if (pos_ + 2 > d_.size()) return false;
    *v = static_cast<uint16_t>(d_[pos_] | (d_[pos_ + 1] << 8));
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t* v) {
    uint16_t lo, hi;
    if (pos_ + 4 > d_.size() || !u16(&lo) || !u16(&hi)) return false;
    *v = lo | (uint32_t{hi} << 16);
    return true;
  }
  bool bytes(size_t n, std::vector<uint8_t>* out) {
    if (n > d_.size() - pos_) return false;
    out->assign(d_.begin() + static_cast<ptrdiff_t>(pos_),
                d_.begin() + static_cast<ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  size_t left() const { return d_.size() - pos_; }

 private:
  std::span<const uint8_t> d_;
  size_t pos_ = 0;
};

}  // namespace

RssConfigError parse_virtio_rss_config(std::span<const uint8_t> data, const RssLimits& limits,
                                       RssConfig* out) {
  LeReader r(data);
  RssConfig c;
  uint16_t mask;
  if (!r.u32(&c.hash_types) || !r.u16(&mask) || !r.u16(&c.unclassified_queue)) {
    return RssConfigError::kTruncated;
  }
  // Check the mask before sizing anything by it.
  const uint32_t len = uint32_t{mask} + 1;
  if ((len & (len - 1)) != 0) return RssConfigError::kTableNotPowerOfTwo;
  if (len > limits.max_table_len) return RssConfigError::kTableTooLong;
  if (r.left() < 2 * len) return RssConfigError::kTruncated;
  c.indirection_table.resize(len);
  for (uint32_t i = 0; i < len; i++)
    r.u16(&c.indirection_table[i]);
  uint8_t key_len;
  if (!r.u16(&c.max_tx_vq) || !r.u8(&key_len)) return RssConfigError::kTruncated;
  if (key_len > limits.max_key_len || key_len > kMaxKeyLen) return RssConfigError::kKeyTooLong;
  if (!r.bytes(key_len, &c.key)) return RssConfigError::kTruncated;
  if (r.left() != 0) return RssConfigError::kTrailingBytes;
  RssConfigError e = validate(c, limits);
  if (e == RssConfigError::kOk) *out = std::move(c);
  return e;
}

RssConfigError parse_virtio_hash_config(std::span<const uint8_t> data, const RssLimits& limits,
                                        RssConfig* out) {
  LeReader r(data);
  RssConfig c;
  uint16_t reserved[4];
  uint8_t key_len;
  if (!r.u32(&c.hash_types) || !r.u16(&reserved[0]) || !r.u16(&reserved[1]) ||
      !r.u16(&reserved[2]) || !r.u16(&reserved[3]) || !r.u8(&key_len)) {
    return RssConfigError::kTruncated;
  }
  if (key_len > limits.max_key_len || key_len > kMaxKeyLen) return RssConfigError::kKeyTooLong;
  if (!r.bytes(key_len, &c.key)) return RssConfigError::kTruncated;
  if (r.left() != 0) return RssConfigError::kTrailingBytes;
  c.indirection_table = {0};
  RssConfigError e = validate(c, limits);
  if (e == RssConfigError::kOk) *out = std::move(c);
  return e;
}

std::unique_ptr<const Rss> Rss::create(const RssConfig& config, const RssLimits& limits,
                                       RssConfigError* error) {
  RssConfigError e = validate(config, limits);
  if (error != nullptr) *error = e;
  if (e != RssConfigError::kOk) return nullptr;
  return std::unique_ptr<const Rss>(new Rss(config));
}

Rss::Rss(const RssConfig& config)
    : config_(config),
      key_(config.key),
      table_(config.indirection_table),
      mask_(static_cast<uint32_t>(config.indirection_table.size() - 1)) {}

using detail::Ipv6Walk;
using detail::read_at;
using detail::walk_ipv6_ext;

void Rss::hash_input(const Packet& p, RssInput* in) const {
  in->len = 0;
  in->report = HashReport::kNone;
  const uint32_t types = config_.hash_types;
  const PacketType pt = p.packet_type();
  bool v4, v6;
  uint16_t l3, l4;
  L3Type l3t;
  L4Type l4t;
  if (config_.inner_headers && pt.tunnel() != TunnelType::kNone &&
      p.inner_l3_offset() != kNoOffset) {
    v4 = pt.is_inner_ipv4();
    v6 = pt.is_inner_ipv6();
    l3 = p.inner_l3_offset();
    l4 = p.inner_l4_offset();
    l3t = pt.inner_l3();
    l4t = pt.inner_l4();
  } else {
    v4 = pt.is_ipv4();
    v6 = pt.is_ipv6();
    l3 = p.l3_offset();
    l4 = p.l4_offset();
    l3t = pt.l3();
    l4t = pt.l4();
  }
  if (l3 == kNoOffset) return;
  if (l4 == kNoOffset) l4t = L4Type::kNone;

  if (v4) {
    uint8_t h[20];
    if (!read_at(p, l3, h, sizeof h)) return;
    const bool frag = (load_be16(h + 6) & (IP_MF | IP_OFFMASK)) != 0;
    std::memcpy(in->bytes, h + 12, 8);
    const bool tcp = !frag && l4t == L4Type::kTcp;
    const bool udp = !frag && l4t == L4Type::kUdp;
    if ((tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv4)) ||
        (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv4))) {
      if (!read_at(p, l4, in->bytes + 8, 4)) return;
      in->len = 12;
      in->report = tcp ? HashReport::kTcpv4 : HashReport::kUdpv4;
    } else if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv4) {
      in->len = 8;
      in->report = HashReport::kIpv4;
    }
    return;
  }
  if (!v6) return;
  constexpr uint32_t kV6Types = VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
                                VIRTIO_NET_RSS_HASH_TYPE_UDPv6 | VIRTIO_NET_RSS_HASH_TYPE_IP_EX |
                                VIRTIO_NET_RSS_HASH_TYPE_TCP_EX | VIRTIO_NET_RSS_HASH_TYPE_UDP_EX;
  if ((types & kV6Types) == 0) return;
  if (!read_at(p, l3 + 8, in->bytes, 32)) return;
  Ipv6Walk w;
  if (l3t == L3Type::kIpv6Ext) walk_ipv6_ext(p, l3, &w);
  const bool tcp = !w.fragment && l4t == L4Type::kTcp;
  const bool udp = !w.fragment && l4t == L4Type::kUdp;
  auto use_ex = [&] {
    if (w.has_home) std::memcpy(in->bytes, w.home, 16);
    if (w.has_rt2) std::memcpy(in->bytes + 16, w.rt2_dst, 16);
  };
  HashReport r = HashReport::kNone;
  bool ports = false;
  if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCP_EX)) {
    r = HashReport::kTcpv6Ex;
    ports = true;
  } else if (tcp && (types & VIRTIO_NET_RSS_HASH_TYPE_TCPv6)) {
    r = HashReport::kTcpv6;
    ports = true;
  } else if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)) {
    r = HashReport::kUdpv6Ex;
    ports = true;
  } else if (udp && (types & VIRTIO_NET_RSS_HASH_TYPE_UDPv6)) {
    r = HashReport::kUdpv6;
    ports = true;
  } else if (types & VIRTIO_NET_RSS_HASH_TYPE_IP_EX) {
    r = HashReport::kIpv6Ex;
  } else if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv6) {
    r = HashReport::kIpv6;
  } else {
    return;
  }
  if (r == HashReport::kTcpv6Ex || r == HashReport::kUdpv6Ex || r == HashReport::kIpv6Ex) {
    use_ex();
  }
  if (ports) {
    if (!read_at(p, l4, in->bytes + 32, 4)) return;
    in->len = 36;
  } else {
    in->len = 32;
  }
  in->report = r;
}

RssResult Rss::classify(const Packet& packet) const {
  RssInput in;
  hash_input(packet, &in);
  RssResult r;
  r.report = in.report;
  if (in.report == HashReport::kNone) {
    r.queue = config_.unclassified_queue;
    return r;
  }
  r.hash = key_.hash(in.bytes, in.len);
  r.queue = queue_of(r.hash);
  return r;
}

void Rss::steer_burst(std::span<Packet* const> packets, uint16_t* queues,
                      HashReport* reports) const {
  // Hash classified packets two at a time (one GFNI pass serves two inputs).
  constexpr size_t kChunk = 16;
  for (size_t base = 0; base < packets.size(); base += kChunk) {
    const size_t n = std::min(kChunk, packets.size() - base);
    RssInput in[kChunk];
    uint16_t todo[kChunk];
    size_t ntodo = 0;
    for (size_t i = 0; i < n; i++) {
      hash_input(*packets[base + i], &in[i]);
      if (reports != nullptr) reports[base + i] = in[i].report;
      if (in[i].report == HashReport::kNone) {
        queues[base + i] = config_.unclassified_queue;
      } else {
        todo[ntodo++] = static_cast<uint16_t>(i);
      }
    }
    size_t k = 0;
    for (; k + 1 < ntodo; k += 2) {
      const RssInput& a = in[todo[k]];
      const RssInput& b = in[todo[k + 1]];
      uint32_t ha, hb;
      key_.hash_pair(a.bytes, a.len, b.bytes, b.len, &ha, &hb);
      packets[base + todo[k]]->set_rss_hash(ha);
      packets[base + todo[k + 1]]->set_rss_hash(hb);
      queues[base + todo[k]] = queue_of(ha);
      queues[base + todo[k + 1]] = queue_of(hb);
    }
    if (k < ntodo) {
      const RssInput& a = in[todo[k]];
      uint32_t h = key_.hash(a.bytes, a.len);
      packets[base + todo[k]]->set_rss_hash(h);
      queues[base + todo[k]] = queue_of(h);
    }
  }
}

}  // namespace ferry::steer
