#pragma once

// Small types shared by the split and packed virtqueues.

#include <cstdint>

namespace ferry::virtio {

enum class PopStatus : uint8_t {
  kOk,      // a chain was popped
  kEmpty,   // nothing available
  kBroken,  // the queue is broken (now or earlier); see broken_reason()
};

// Which address space ring addresses are in: guest-physical (virtio-pci, descriptors) or
// the front-end's virtual addresses (VHOST_USER_SET_VRING_ADDR without IOMMU).
enum class RingAddressSpace : uint8_t { kGuestPhysical, kFrontendVirtual };

// Largest queue size virtio allows (split and packed).
inline constexpr uint32_t kMaxQueueSize = 32768;

}  // namespace ferry::virtio
