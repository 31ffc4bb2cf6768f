#pragma once

// BackendObserver: how VhostUserBackend tells its owner (the vhost-user port) that the
// device changed state. All calls come from the control thread that runs the back-end,
// while the back-end processes a message. The owner must have detached the datapath from
// the rings and memory before returning from on_device_stopped(): the back-end unmaps
// memory and closes ring fds right after.

#include <array>
#include <cstdint>
#include <span>

namespace ferry::vhost {

class BackendObserver {
 public:
  virtual ~BackendObserver() = default;

  // SET_FEATURES accepted (bit 30, PROTOCOL_FEATURES, included when negotiated).
  virtual void on_features_set(uint64_t /*features*/) {}
  // The driver set DRIVER_OK (or, without the STATUS protocol feature, the first queue
  // pair became ready) and every enabled ring is ready: the datapath may start.
  virtual void on_device_started() {}
  // The device left the started state (GET_VRING_BASE, reset, new memory table,
  // status without DRIVER_OK, new features, disconnect).
  virtual void on_device_stopped() {}
  // SET_VRING_ENABLE (or the implicit enable at SET_VRING_KICK without protocol features).
  virtual void on_ring_enabled(uint32_t /*ring*/, bool /*enabled*/) {}
  // A kick or call fd of a ring in use was replaced (QEMU swaps the call fd when the guest
  // masks the ring's interrupt vector). The old fds stay open until this returns.
  virtual void on_ring_fds_changed(uint32_t /*ring*/) {}
  // GET_VRING_BASE stopped the ring. `base` is the value last given by SET_VRING_BASE; the
  // owner returns the ring's current position (split: last_avail_idx) to hand back.
  virtual uint32_t on_ring_stopped(uint32_t /*ring*/, uint32_t base) { return base; }
  // SEND_RARP after a migration: announce this MAC.
  virtual void on_rarp(const std::array<uint8_t, 6>& /*mac*/) {}
  // SET_CONFIG: the driver writes [offset, offset + data.size()) of the config space.
  // Return false to refuse (virtio-net's config space is read-only for the driver).
  virtual bool on_config_write(uint32_t /*offset*/, std::span<const uint8_t> /*data*/) {
    return false;
  }
};

}  // namespace ferry::vhost
