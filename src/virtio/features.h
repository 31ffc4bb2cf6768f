#pragma once

// Virtio and virtio-net feature bits: names for logs and the dependency rules of the
// virtio spec (5.1.3.1, 6) that a negotiated feature set must satisfy.
//
// Bit numbers come from <linux/virtio_net.h>, <linux/virtio_config.h>,
// <linux/virtio_ring.h> and <linux/vhost_types.h>; the few newer than Debian 12's
// headers are defined here only when absent.

#include <cstdint>
#include <string>

#include "virtio/virtio_net_abi.h"

// After the ring header (virtio_net_abi.h): vhost_types.h includes it too.
#include <linux/vhost_types.h>

// Newer than Linux 6.1's UAPI headers (virtio spec 1.2 / 1.3).
#ifndef VIRTIO_F_NOTIFICATION_DATA
#define VIRTIO_F_NOTIFICATION_DATA 38
#endif
#ifndef VIRTIO_NET_F_GUEST_USO4
#define VIRTIO_NET_F_GUEST_USO4 54  // guest can receive USO over IPv4
#endif
#ifndef VIRTIO_NET_F_GUEST_USO6
#define VIRTIO_NET_F_GUEST_USO6 55  // guest can receive USO over IPv6
#endif
#ifndef VIRTIO_NET_F_HOST_USO
#define VIRTIO_NET_F_HOST_USO 56  // device can receive USO
#endif
#ifndef VIRTIO_NET_F_GUEST_HDRLEN
#define VIRTIO_NET_F_GUEST_HDRLEN 59  // driver sets hdr_len exactly
#endif

namespace ferry::virtio {

constexpr uint64_t feature_bit(unsigned bit) {
  return uint64_t{1} << bit;
}
constexpr bool has_feature(uint64_t features, unsigned bit) {
  return (features & feature_bit(bit)) != 0;
}

// Name of one feature bit ("VIRTIO_NET_F_CSUM" without the prefix: "CSUM",
// "VERSION_1", "RING_PACKED", ...), or nullptr for a bit Ferry does not know.
const char* feature_name(unsigned bit);

// "CSUM|GUEST_CSUM|MRG_RXBUF|VERSION_1|bit44" for logs.
std::string features_to_string(uint64_t features);

// A violated dependency: `feature` is set but none of the bits in `needs_any` is.
struct FeatureDependencyError {
  unsigned feature = 0;
  uint64_t needs_any = 0;
  bool ok() const { return needs_any == 0; }
};

// Checks the spec's dependencies between negotiated features, e.g. GUEST_TSO4 needs
// GUEST_CSUM, HOST_TSO4 needs CSUM, CTRL_RX and MQ need CTRL_VQ, RSC_EXT needs a
// GUEST_TSO. Returns the first violation (ok() if none).
FeatureDependencyError check_feature_dependencies(uint64_t features);
// The violation as a sentence for the log: "GUEST_TSO4 requires GUEST_CSUM".
std::string to_string(const FeatureDependencyError& e);

}  // namespace ferry::virtio
