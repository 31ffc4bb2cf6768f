#pragma once

// PortMask: a set of runtime port ids (bitmap), the forwarding decision for one packet.

#include <bit>
#include <cstdint>

namespace ferry::runtime {

inline constexpr uint16_t kMaxPorts = 256;

class PortMask {
 public:
  static constexpr uint32_t kWords = kMaxPorts / 64;
  constexpr void set(uint16_t p) {
    if (p < kMaxPorts) w_[p >> 6] |= uint64_t{1} << (p & 63);
  }
  constexpr void reset(uint16_t p) {
    if (p < kMaxPorts) w_[p >> 6] &= ~(uint64_t{1} << (p & 63));
  }
  constexpr bool test(uint16_t p) const {
    return p < kMaxPorts && ((w_[p >> 6] >> (p & 63)) & 1) != 0;
  }
  constexpr void clear() {
    for (uint64_t& w : w_)
      w = 0;
  }
  constexpr bool empty() const {
    uint64_t any = 0;
    for (uint64_t w : w_)
      any |= w;
    return any == 0;
  }
  constexpr uint32_t count() const {
    uint32_t n = 0;
    for (uint64_t w : w_)
      n += static_cast<uint32_t>(std::popcount(w));
    return n;
  }
  // Calls f(port) for every member, lowest first.
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < kWords; i++) {
      uint64_t w = w_[i];
      while (w != 0) {
        f(static_cast<uint16_t>(i * 64 + std::countr_zero(w)));
        w &= w - 1;
      }
    }
  }
  constexpr PortMask& operator&=(const PortMask& o) {
    for (uint32_t i = 0; i < kWords; i++)
      w_[i] &= o.w_[i];
    return *this;
  }

 private:
  uint64_t w_[kWords] = {};
};

}  // namespace ferry::runtime
