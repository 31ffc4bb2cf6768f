#pragma once

// TCP header view (RFC 9293) and an iterator over its options.

#include <cstdint>
#include <span>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "base/byteorder.h"
#include "proto/kind_len_options.h"

namespace ferry::proto {

enum TcpFlagBits : uint8_t {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
  kTcpEce = 0x40,
  kTcpCwr = 0x80,
};

struct TcpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be32 seq;
  Be32 ack;
  uint8_t data_offset_res;  // data offset(4, in 32-bit words) reserved(3) AE(1)
  uint8_t flags;            // TcpFlagBits
  Be16 window;
  Be16 checksum;
  Be16 urgent_ptr;

  uint8_t data_offset() const { return data_offset_res >> 4; }
  uint32_t header_len() const { return 4u * data_offset(); }
  uint32_t options_len() const { return header_len() > 20 ? header_len() - 20 : 0; }
  bool has(TcpFlagBits f) const { return (flags & f) != 0; }
  // Options follow the fixed header; the caller checked header_len() fits.
  std::span<const uint8_t> options() const {
    return {reinterpret_cast<const uint8_t*>(this) + sizeof(TcpHeader), options_len()};
  }
};
static_assert(sizeof(TcpHeader) == 20 && alignof(TcpHeader) == 1);

inline constexpr uint32_t kTcpMinHeaderLen = 20;
inline constexpr uint32_t kTcpMaxSackBlocks = 4;  // 40 option bytes hold at most 4

// One TCP option. Accessors for a kind are valid only for an option of that kind that
// came out of TcpOptionIterator (which checked its length).
struct TcpOption : KindLenOption {
  uint16_t mss() const { return load_be16(data); }
  uint8_t window_scale() const { return data[0]; }
  uint32_t ts_val() const { return load_be32(data); }
  uint32_t ts_ecr() const { return load_be32(data + 4); }
  uint32_t sack_block_count() const { return data_len() / 8u; }
  uint32_t sack_left(uint32_t i) const { return load_be32(data + 8 * i); }
  uint32_t sack_right(uint32_t i) const { return load_be32(data + 8 * i + 4); }
};

// True if `opt` (kind >= 2) has a length its kind allows. Unknown kinds need only len >= 2.
inline bool tcp_option_length_valid(const KindLenOption& opt) {
  switch (opt.kind) {
    case TCPOPT_MAXSEG:
      return opt.len == TCPOLEN_MAXSEG;
    case TCPOPT_WINDOW:
      return opt.len == TCPOLEN_WINDOW;
    case TCPOPT_SACK_PERMITTED:
      return opt.len == TCPOLEN_SACK_PERMITTED;
    case TCPOPT_TIMESTAMP:
      return opt.len == TCPOLEN_TIMESTAMP;
    case TCPOPT_SACK: {
      const uint32_t blocks = (opt.len - 2u) / 8u;
      return (opt.len - 2u) % 8u == 0 && blocks >= 1 && blocks <= kTcpMaxSackBlocks;
    }
    default:
      return true;
  }
}

// Walks TCP options: EOL (stops), NOP, MSS, window scale, SACK-permitted, SACK,
// timestamps, and unknown kinds by their length. A length below 2, past the end of the
// options, or wrong for a known kind makes the list malformed.
class TcpOptionIterator {
 public:
  explicit TcpOptionIterator(std::span<const uint8_t> options) : it_(options) {}
  explicit TcpOptionIterator(const TcpHeader& tcp) : it_(tcp.options()) {}

  bool next(TcpOption* option) {
    if (bad_length_ || !it_.next(option)) return false;
    if (option->len >= 2 && !tcp_option_length_valid(*option)) {
      bad_length_ = true;
      return false;
    }
    return true;
  }
  bool malformed() const { return bad_length_ || it_.malformed(); }

 private:
  KindLenIterator it_;
  bool bad_length_ = false;
};

}  // namespace ferry::proto
