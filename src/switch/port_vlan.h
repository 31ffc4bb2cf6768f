#pragma once

// How a bridge port takes part in VLANs (the Open vSwitch vlan_mode vocabulary).
//
//  - kAccess: untagged frames belong to `tag`; frames arriving with a 802.1Q tag of a
//    non-zero VID are dropped (priority-tagged frames, VID 0, are accepted and their tag
//    removed). Frames leave untagged.
//  - kTrunk: frames carry a tag whose TPID is `tpid` (0x8100, or 0x88a8 for a provider
//    trunk carrying S-tags); its VID must be in `allowed`. Untagged and priority-tagged
//    frames belong to `native_vid` if set (kNoVlan: dropped). Frames leave tagged, except
//    in the native VLAN unless native_tagged (OVS native-untagged / native-tagged).
//  - kDot1qTunnel: 802.1ad QinQ customer port (OVS dot1q-tunnel). Every frame, tagged by
//    the customer or not, belongs to the service VLAN `tag`; customer tags stay in the
//    frame as payload. Towards a trunk the frame gets an outer tag with that trunk's TPID
//    (0x88a8 on a provider trunk): the S-tag. Frames leave with the S-tag removed and the
//    customer tags untouched.
//
// Inside the bridge a frame is untagged in its bytes, with its VLAN in the forwarding
// decision: the tag that classified it is removed on ingress and the egress port's tag
// is pushed (or handed to the port's VLAN insert offload) on the way out.

#include <array>
#include <bit>
#include <cstdint>

#include <linux/if_ether.h>

namespace ferry::sw {

inline constexpr uint16_t kNoVlan = 0xffff;
inline constexpr uint16_t kMaxVid = 4094;

enum class VlanMode : uint8_t { kAccess, kTrunk, kDot1qTunnel };
const char* to_string(VlanMode m);

// A set of VIDs 0..4095.
class VlanSet {
 public:
  void add(uint16_t vid) {
    if (vid < 4096) bits_[vid >> 6] |= uint64_t{1} << (vid & 63);
  }
  void remove(uint16_t vid) {
    if (vid < 4096) bits_[vid >> 6] &= ~(uint64_t{1} << (vid & 63));
  }
  void add_range(uint16_t first, uint16_t last) {
    for (uint32_t v = first; v <= last && v < 4096; v++)
      add(static_cast<uint16_t>(v));
  }
  bool contains(uint16_t vid) const { return vid < 4096 && ((bits_[vid >> 6] >> (vid & 63)) & 1); }
  // f(vid) for each VID in the set, ascending.
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < bits_.size(); i++) {
      uint64_t w = bits_[i];
      while (w != 0) {
        f(static_cast<uint16_t>(i * 64 + std::countr_zero(w)));
        w &= w - 1;
      }
    }
  }
  static VlanSet all() {
    VlanSet s;
    s.add_range(1, kMaxVid);
    return s;
  }

 private:
  std::array<uint64_t, 64> bits_{};
};

struct PortVlan {
  VlanMode mode = VlanMode::kAccess;
  uint16_t tag = 1;                  // access / dot1q-tunnel VLAN
  VlanSet allowed;                   // trunk: VIDs carried tagged
  uint16_t native_vid = kNoVlan;     // trunk: VLAN of untagged frames
  bool native_tagged = false;        // trunk: send the native VLAN tagged too
  uint16_t tpid = ETH_P_8021Q;       // trunk: TPID of the tags it carries
  bool vlan_insert_offload = false;  // the port inserts tags itself from Packet::vlan_tci

  static PortVlan access(uint16_t vid) {
    PortVlan v;
    v.mode = VlanMode::kAccess;
    v.tag = vid;
    return v;
  }
  static PortVlan trunk(const VlanSet& allowed, uint16_t native = kNoVlan,
                        uint16_t tpid = ETH_P_8021Q) {
    PortVlan v;
    v.mode = VlanMode::kTrunk;
    v.allowed = allowed;
    v.native_vid = native;
    v.tpid = tpid;
    return v;
  }
  static PortVlan dot1q_tunnel(uint16_t svid) {
    PortVlan v;
    v.mode = VlanMode::kDot1qTunnel;
    v.tag = svid;
    return v;
  }

  // May a frame of VLAN vid leave (or enter) through this port?
  bool carries(uint16_t vid) const {
    if (mode != VlanMode::kTrunk) return vid == tag;
    return vid == native_vid || allowed.contains(vid);
  }
  // Does a frame of VLAN vid leave this port with a tag pushed by the bridge?
  bool egress_tagged(uint16_t vid) const {
    return mode == VlanMode::kTrunk && (vid != native_vid || native_tagged);
  }
};

}  // namespace ferry::sw
