#pragma once

// PortSet: a fixed bitmap of bridge port ids, the bridge's output format for one packet.
// Port ids are the uint16_t ids the runtime gives its ports, below kMaxPorts.

#include <bit>
#include <cstdint>

namespace ferry::sw {

inline constexpr uint16_t kMaxPorts = 256;

class PortSet {
 public:
  static constexpr uint32_t kWords = kMaxPorts / 64;

  constexpr PortSet() = default;
  static constexpr PortSet single(uint16_t port) {
    PortSet s;
    s.set(port);
    return s;
  }

  constexpr void set(uint16_t port) {
    if (port < kMaxPorts) w_[port >> 6] |= uint64_t{1} << (port & 63);
  }
  constexpr void reset(uint16_t port) {
    if (port < kMaxPorts) w_[port >> 6] &= ~(uint64_t{1} << (port & 63));
  }
  constexpr bool test(uint16_t port) const {
    return port < kMaxPorts && ((w_[port >> 6] >> (port & 63)) & 1) != 0;
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
  constexpr void clear() {
    for (uint64_t& w : w_)
      w = 0;
  }
  // The lowest port in the set, or kMaxPorts if empty.
  constexpr uint16_t first() const {
    for (uint32_t i = 0; i < kWords; i++)
      if (w_[i] != 0) return static_cast<uint16_t>(i * 64 + std::countr_zero(w_[i]));
    return kMaxPorts;
  }

  constexpr PortSet& operator&=(const PortSet& o) {
    for (uint32_t i = 0; i < kWords; i++)
      w_[i] &= o.w_[i];
    return *this;
  }
  constexpr PortSet& operator|=(const PortSet& o) {
    for (uint32_t i = 0; i < kWords; i++)
      w_[i] |= o.w_[i];
    return *this;
  }
  // Removes the ports of o.
  constexpr PortSet& subtract(const PortSet& o) {
    for (uint32_t i = 0; i < kWords; i++)
      w_[i] &= ~o.w_[i];
    return *this;
  }
  friend constexpr PortSet operator&(PortSet a, const PortSet& b) { return a &= b; }
  friend constexpr PortSet operator|(PortSet a, const PortSet& b) { return a |= b; }
  friend constexpr bool operator==(const PortSet& a, const PortSet& b) = default;

  // Calls f(port) for each port in ascending order.
  template <typename F>
  constexpr void for_each(F&& f) const {
    for (uint32_t i = 0; i < kWords; i++) {
      uint64_t w = w_[i];
      while (w != 0) {
        f(static_cast<uint16_t>(i * 64 + std::countr_zero(w)));
        w &= w - 1;
      }
    }
  }

  // Is p a subset of this set?
  constexpr bool contains(const PortSet& p) const {
    for (uint32_t i = 0; i < kWords; i++)
      if ((p.w_[i] & ~w_[i]) != 0) return false;
    return true;
  }

 private:
  uint64_t w_[kWords] = {};
};

}  // namespace ferry::sw
