#pragma once

// Receive coalescing of a port: what the owning worker does with the frames the port
// receives before they are switched.
//
//   off  frames are switched as received.
//   gro  Linux-style GRO within each burst (offload::GroTable): merged packets leave as
//        TSO frames with partial checksums, nothing is held between bursts.
//   rsc  Windows-style RSC (offload::Rsc, virtio RSC_EXT): TCP segments are held per flow
//        up to rsc_interval and leave coalesced, with RSC info (segment and duplicate-ACK
//        counts) for guests that negotiated RSC_EXT and as plain TSO frames elsewhere.

#include <cstdint>
#include <string_view>

namespace ferry::runtime {

enum class Coalesce : uint8_t { kOff, kGro, kRsc };

constexpr const char* to_string(Coalesce c) {
  switch (c) {
    case Coalesce::kOff:
      return "off";
    case Coalesce::kGro:
      return "gro";
    case Coalesce::kRsc:
      return "rsc";
  }
  return "?";
}

// "off" | "gro" | "rsc"; false for anything else.
constexpr bool parse_coalesce(std::string_view text, Coalesce* out) {
  for (Coalesce c : {Coalesce::kOff, Coalesce::kGro, Coalesce::kRsc}) {
    if (text == to_string(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

}  // namespace ferry::runtime
