#pragma once

// Geneve header view (RFC 8926) and its option TLVs.

#include <cstdint>
#include <span>

#include "base/byteorder.h"

namespace ferry::proto {

struct GeneveHeader {
  uint8_t ver_opt_len;  // version(2) option length(6, in 4-byte units)
  uint8_t flags;        // O(AM) C(ritical options present) reserved(6)
  Be16 protocol;        // EtherType of the payload: ETH_P_TEB for Ethernet
  uint8_t vni[3];
  uint8_t reserved;

  uint8_t version() const { return ver_opt_len >> 6; }
  uint32_t options_len() const { return 4u * (ver_opt_len & 0x3f); }
  uint32_t header_len() const { return sizeof(GeneveHeader) + options_len(); }
  bool oam() const { return (flags & 0x80) != 0; }
  bool critical() const { return (flags & 0x40) != 0; }
  uint32_t vni_value() const { return (uint32_t{vni[0]} << 16) | (uint32_t{vni[1]} << 8) | vni[2]; }
  // Options follow the fixed header; the caller checked header_len() fits.
  std::span<const uint8_t> options() const {
    return {reinterpret_cast<const uint8_t*>(this) + sizeof(GeneveHeader), options_len()};
  }
};
static_assert(sizeof(GeneveHeader) == 8 && alignof(GeneveHeader) == 1);

struct GeneveOptionHeader {
  Be16 option_class;
  uint8_t type;       // high bit: critical
  uint8_t flags_len;  // reserved(3) length(5, in 4-byte units, without this header)

  bool critical() const { return (type & 0x80) != 0; }
  uint32_t data_len() const { return 4u * (flags_len & 0x1f); }
};
static_assert(sizeof(GeneveOptionHeader) == 4 && alignof(GeneveOptionHeader) == 1);

inline constexpr uint32_t kGeneveHeaderLen = 8;
inline constexpr uint16_t kGenevePort = 6081;  // IANA

struct GeneveOption {
  const GeneveOptionHeader* header = nullptr;
  const uint8_t* data = nullptr;
  uint32_t data_len = 0;
};

// Walks Geneve options; an option running past the options area makes it malformed.
class GeneveOptionIterator {
 public:
  explicit GeneveOptionIterator(std::span<const uint8_t> options)
      : p_(options.data()), left_(static_cast<uint32_t>(options.size())) {}

  bool next(GeneveOption* option) {
    if (left_ == 0) return false;
    if (left_ < sizeof(GeneveOptionHeader)) return fail();
    const auto* h = reinterpret_cast<const GeneveOptionHeader*>(p_);
    const uint32_t len = sizeof(GeneveOptionHeader) + h->data_len();
    if (len > left_) return fail();
    option->header = h;
    option->data = p_ + sizeof(GeneveOptionHeader);
    option->data_len = h->data_len();
    p_ += len;
    left_ -= len;
    return true;
  }
  bool malformed() const { return malformed_; }

 private:
  bool fail() {
    malformed_ = true;
    left_ = 0;
    return false;
  }
  const uint8_t* p_;
  uint32_t left_;
  bool malformed_ = false;
};

}  // namespace ferry::proto
