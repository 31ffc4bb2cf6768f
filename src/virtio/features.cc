#include "virtio/features.h"

namespace ferry::virtio {

namespace {
struct Name {
  unsigned bit;
  const char* name;
};

constexpr Name kNames[] = {
    {VIRTIO_NET_F_CSUM, "CSUM"},
    {VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM"},
    {VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, "CTRL_GUEST_OFFLOADS"},
    {VIRTIO_NET_F_MTU, "MTU"},
    {VIRTIO_NET_F_MAC, "MAC"},
    {VIRTIO_NET_F_GSO, "GSO"},
    {VIRTIO_NET_F_GUEST_TSO4, "GUEST_TSO4"},
    {VIRTIO_NET_F_GUEST_TSO6, "GUEST_TSO6"},
    {VIRTIO_NET_F_GUEST_ECN, "GUEST_ECN"},
    {VIRTIO_NET_F_GUEST_UFO, "GUEST_UFO"},
    {VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4"},
    {VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6"},
    {VIRTIO_NET_F_HOST_ECN, "HOST_ECN"},
    {VIRTIO_NET_F_HOST_UFO, "HOST_UFO"},
    {VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"},
    {VIRTIO_NET_F_STATUS, "STATUS"},
    {VIRTIO_NET_F_CTRL_VQ, "CTRL_VQ"},
    {VIRTIO_NET_F_CTRL_RX, "CTRL_RX"},
    {VIRTIO_NET_F_CTRL_VLAN, "CTRL_VLAN"},
    {VIRTIO_NET_F_CTRL_RX_EXTRA, "CTRL_RX_EXTRA"},
    {VIRTIO_NET_F_GUEST_ANNOUNCE, "GUEST_ANNOUNCE"},
    {VIRTIO_NET_F_MQ, "MQ"},
    {VIRTIO_NET_F_CTRL_MAC_ADDR, "CTRL_MAC_ADDR"},
    {VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY"},
    {VHOST_F_LOG_ALL, "LOG_ALL"},
    {VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT"},
    {VIRTIO_RING_F_INDIRECT_DESC, "RING_INDIRECT_DESC"},
    {VIRTIO_RING_F_EVENT_IDX, "RING_EVENT_IDX"},
    {30, "PROTOCOL_FEATURES"},  // VHOST_USER_F_PROTOCOL_FEATURES (vhost-user spec)
    {VIRTIO_F_VERSION_1, "VERSION_1"},
    {VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM"},
    {VIRTIO_F_RING_PACKED, "RING_PACKED"},
    {VIRTIO_F_IN_ORDER, "IN_ORDER"},
    {VIRTIO_F_ORDER_PLATFORM, "ORDER_PLATFORM"},
    {VIRTIO_F_SR_IOV, "SR_IOV"},
    {VIRTIO_F_NOTIFICATION_DATA, "NOTIFICATION_DATA"},
    {VIRTIO_F_RING_RESET, "RING_RESET"},
    {VIRTIO_NET_F_NOTF_COAL, "NOTF_COAL"},
    {VIRTIO_NET_F_GUEST_USO4, "GUEST_USO4"},
    {VIRTIO_NET_F_GUEST_USO6, "GUEST_USO6"},
    {VIRTIO_NET_F_HOST_USO, "HOST_USO"},
    {VIRTIO_NET_F_HASH_REPORT, "HASH_REPORT"},
    {VIRTIO_NET_F_GUEST_HDRLEN, "GUEST_HDRLEN"},
    {VIRTIO_NET_F_RSS, "RSS"},
    {VIRTIO_NET_F_RSC_EXT, "RSC_EXT"},
    {VIRTIO_NET_F_STANDBY, "STANDBY"},
    {VIRTIO_NET_F_SPEED_DUPLEX, "SPEED_DUPLEX"},
};

struct Dependency {
  unsigned feature;
  uint64_t needs_any;
};

constexpr uint64_t b(unsigned bit) {
  return feature_bit(bit);
}

// Spec 5.1.3.1 (feature bit requirements). RSC_EXT is about coalesced packets the guest
// receives, so it is checked against GUEST_TSO4/6 as QEMU enables it (the spec's table
// names the HOST_TSO bits).
constexpr Dependency kDependencies[] = {
    {VIRTIO_NET_F_GUEST_TSO4, b(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_TSO6, b(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_ECN, b(VIRTIO_NET_F_GUEST_TSO4) | b(VIRTIO_NET_F_GUEST_TSO6)},
    {VIRTIO_NET_F_GUEST_UFO, b(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_USO4, b(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_USO6, b(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_HOST_TSO4, b(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_TSO6, b(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_ECN, b(VIRTIO_NET_F_HOST_TSO4) | b(VIRTIO_NET_F_HOST_TSO6)},
    {VIRTIO_NET_F_HOST_UFO, b(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_USO, b(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_CTRL_RX, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_VLAN, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_GUEST_ANNOUNCE, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_MQ, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_MAC_ADDR, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_CTRL_RX_EXTRA, b(VIRTIO_NET_F_CTRL_RX)},
    {VIRTIO_NET_F_NOTF_COAL, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_RSS, b(VIRTIO_NET_F_CTRL_VQ)},
    {VIRTIO_NET_F_RSC_EXT, b(VIRTIO_NET_F_GUEST_TSO4) | b(VIRTIO_NET_F_GUEST_TSO6)},
};
}  // namespace

const char* feature_name(unsigned bit) {
  for (const Name& n : kNames) {
    if (n.bit == bit) return n.name;
  }
  return nullptr;
}

std::string features_to_string(uint64_t features) {
  std::string out;
  for (unsigned bit = 0; bit < 64; bit++) {
    if (!has_feature(features, bit)) continue;
    if (!out.empty()) out += '|';
    const char* name = feature_name(bit);
    out += name != nullptr ? std::string(name) : "bit" + std::to_string(bit);
  }
  return out.empty() ? "none" : out;
}

FeatureDependencyError check_feature_dependencies(uint64_t features) {
  for (const Dependency& d : kDependencies) {
    if (has_feature(features, d.feature) && (features & d.needs_any) == 0) {
      return {d.feature, d.needs_any};
    }
  }
  return {};
}

std::string to_string(const FeatureDependencyError& e) {
  if (e.ok()) return "ok";
  const char* name = feature_name(e.feature);
  std::string out = std::string(name ? name : "?") + " requires ";
  std::string needs = features_to_string(e.needs_any);
  for (char& c : needs) {
    if (c == '|') c = '/';
  }
  return out + needs;
}

}  // namespace ferry::virtio
