#pragma once

// Types shared by the driver-side rings (SplitVirtqueueDriver, PackedVirtqueueDriver).
// The driver side plays the guest: tests run Ferry's device side against it in one
// process, and a virtio-user style client can use it to talk to a vhost-user back-end.

#include <cstdint>

namespace ferry::virtio {

// One buffer of a chain the driver makes available, by guest-physical address.
struct DriverBuffer {
  uint64_t gpa;
  uint32_t len;
  bool writable;  // device-writable (rx buffers)
};

// One used entry as the driver reads it.
struct DriverUsed {
  uint16_t id;      // head index (split) or buffer id (packed) of the (last) chain
  uint32_t len;     // bytes the device wrote
  uint16_t chains;  // chains this entry completes (> 1 only with IN_ORDER batching)
};

}  // namespace ferry::virtio
