#pragma once

// Receive Side Scaling as virtio-net defines it (VIRTIO_NET_F_RSS, VIRTIO_NET_F_HASH_REPORT):
// which header fields a packet's Toeplitz hash covers, the indirection table that turns the
// hash into a receive queue, and the hash report type a guest reads from
// virtio_net_hdr_v1_hash.
//
// Hash selection (virtio spec, "Hash calculation for incoming packets"), for the enabled
// VIRTIO_NET_RSS_HASH_TYPE_* bits:
//   IPv4: TCPv4 if the packet has a TCP header, else UDPv4 if UDP, else IPv4 (addresses).
//   IPv6: TCP_EX, TCPv6, UDP_EX, UDPv6, IP_EX, IPv6, in that order, where the _EX types take
//         the home address option of a destination options header instead of the source
//         address and the address of a type 2 routing header instead of the destination
//         (each only when present).
//   Input: source address, destination address[, source port, destination port], in
//   network byte order. Fragments (IPv4 MF or offset, an IPv6 fragment header) never use
//   the ports, so all fragments of a datagram hash alike. Anything else is unclassified:
//   no hash, report NONE, queue unclassified_queue.
// With inner_headers (a Ferry option, off for virtio), tunnelled packets (VXLAN, Geneve,
// GRE, IP-in-IP) are hashed over their inner headers.
//
// A configuration comes from a guest (VIRTIO_NET_CTRL_MQ_RSS_CONFIG / HASH_CONFIG), so it
// is validated against the device's limits; Rss::create() builds the immutable object that
// workers use (an RCU-style snapshot: workers swap pointers between bursts).
//
// Packets must have been parsed (proto::parse_packet): Rss reads packet_type() and the
// offsets, and the header bytes, with bounds checks against the chain.

// The header has a member named `class`; rename it while the header is read (the layout
// does not change), as virtio/virtio_net_abi.h does.
#define class class_
#include <linux/virtio_net.h>
#undef class

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "packet/packet.h"
#include "steer/toeplitz.h"

namespace ferry::steer {

inline constexpr uint32_t kAllHashTypes =
    VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |
    VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 |
    VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6 |
    VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |
    VIRTIO_NET_RSS_HASH_TYPE_UDP_EX;

// The indirection table length QEMU and Linux use (rss_max_indirection_table_length).
inline constexpr uint16_t kDefaultMaxTableLen = 128;
// Hash inputs are at most two IPv6 addresses and two ports.
inline constexpr size_t kMaxRssInputLen = 36;

// The VIRTIO_NET_HASH_REPORT_* values.
enum class HashReport : uint8_t {
  kNone = VIRTIO_NET_HASH_REPORT_NONE,
  kIpv4 = VIRTIO_NET_HASH_REPORT_IPv4,
  kTcpv4 = VIRTIO_NET_HASH_REPORT_TCPv4,
  kUdpv4 = VIRTIO_NET_HASH_REPORT_UDPv4,
  kIpv6 = VIRTIO_NET_HASH_REPORT_IPv6,
  kTcpv6 = VIRTIO_NET_HASH_REPORT_TCPv6,
  kUdpv6 = VIRTIO_NET_HASH_REPORT_UDPv6,
  kIpv6Ex = VIRTIO_NET_HASH_REPORT_IPv6_EX,
  kTcpv6Ex = VIRTIO_NET_HASH_REPORT_TCPv6_EX,
  kUdpv6Ex = VIRTIO_NET_HASH_REPORT_UDPv6_EX,
};
const char* to_string(HashReport r);

// What a guest configures (struct virtio_net_rss_config, decoded).
struct RssConfig {
  uint32_t hash_types = 0;                  // VIRTIO_NET_RSS_HASH_TYPE_* bits
  std::vector<uint16_t> indirection_table;  // 2^n entries: 0-based receive queue indexes
  uint16_t unclassified_queue = 0;          // receive queue of packets with no hash
  uint16_t max_tx_vq = 1;                   // transmit queues the driver uses (>= 1)
  std::vector<uint8_t> key;                 // Toeplitz key, up to max_key_len bytes
  bool inner_headers = false;               // hash inner headers of tunnels (not virtio)
};

// What the device offers (virtio_net_config rss_max_key_size, ..., and its queue count).
struct RssLimits {
  uint16_t num_queues = 1;  // receive queues (= queue pairs) of the port
  uint16_t max_table_len = kDefaultMaxTableLen;
  uint8_t max_key_len = kMaxKeyLen;
  uint32_t supported_hash_types = kAllHashTypes;
};

enum class RssConfigError : uint8_t {
  kOk = 0,
  kTruncated,      // command data shorter than its own lengths say
  kTrailingBytes,  // command data longer than the structure
  kTableEmpty,
  kTableNotPowerOfTwo,  // indirection_table_mask is not 2^n - 1
  kTableTooLong,        // more entries than max_table_len
  kQueueOutOfRange,     // an indirection table entry >= num_queues
  kUnclassifiedOutOfRange,
  kMaxTxVqOutOfRange,  // 0 or more than num_queues
  kKeyTooLong,
  kKeyMissing,            // hash types enabled with a key of length 0
  kUnsupportedHashTypes,  // bits outside supported_hash_types
  kCount,
};
const char* to_string(RssConfigError e);

RssConfigError validate(const RssConfig& config, const RssLimits& limits);

// Decodes and validates the data of VIRTIO_NET_CTRL_MQ_RSS_CONFIG (struct
// virtio_net_rss_config, little endian). `out` is written only on success.
RssConfigError parse_virtio_rss_config(std::span<const uint8_t> data, const RssLimits& limits,
                                       RssConfig* out);
// Decodes VIRTIO_NET_CTRL_MQ_HASH_CONFIG (struct virtio_net_hash_config): hash types and key
// for hash reports only; the result steers everything to queue 0.
RssConfigError parse_virtio_hash_config(std::span<const uint8_t> data, const RssLimits& limits,
                                        RssConfig* out);

// The bytes a packet's hash covers.
struct RssInput {
  uint8_t bytes[kMaxRssInputLen];
  uint8_t len = 0;
  HashReport report = HashReport::kNone;  // kNone: unclassified, nothing to hash
};

struct RssResult {
  uint32_t hash = 0;
  uint16_t queue = 0;
  HashReport report = HashReport::kNone;
};

class Rss {
 public:
  // nullptr (and *error set) if validate() refuses the config.
  static std::unique_ptr<const Rss> create(const RssConfig& config, const RssLimits& limits,
                                           RssConfigError* error = nullptr);

  const RssConfig& config() const { return config_; }
  const ToeplitzKey& key() const { return key_; }

  // Which fields of `packet` the hash covers under this config.
  void hash_input(const Packet& packet, RssInput* input) const;
  // The hash, report type and receive queue of one packet (no change to the packet).
  RssResult classify(const Packet& packet) const;
  // For a burst: sets each classified packet's rss hash (Packet::set_rss_hash), writes its
  // receive queue to queues[i] and, if reports is not null, its report type to reports[i].
  void steer_burst(std::span<Packet* const> packets, uint16_t* queues,
                   HashReport* reports = nullptr) const;

  uint16_t queue_of(uint32_t hash) const { return table_[hash & mask_]; }

 private:
  explicit Rss(const RssConfig& config);

  RssConfig config_;
  ToeplitzKey key_;
  std::vector<uint16_t> table_;
  uint32_t mask_ = 0;
};

}  // namespace ferry::steer
