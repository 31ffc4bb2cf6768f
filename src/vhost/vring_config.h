#pragma once

// VringConfig: what the front-end told the back-end about one virtqueue, kept until the
// datapath attaches a ring to it. Addresses arrive in the front-end's user address space
// (SET_VRING_ADDR) and are translated through the memory table; the host pointers are
// null until the addresses, the ring size and a memory table covering them are all known.
//
// For a split ring desc/avail/used are the descriptor table, available ring and used
// ring; for a packed ring desc is the descriptor ring, avail the driver event suppression
// area and used the device event suppression area (the vhost-user field names).

// vhost_types.h pulls in virtio_ring.h, whose legacy vring_init() is C only.
#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <cstdint>

#include <linux/vhost_types.h>

#include "vhost/unique_fd.h"

namespace ferry::vhost {

struct VringConfig {
  uint32_t num = 0;   // ring size (SET_VRING_NUM)
  uint32_t base = 0;  // SET_VRING_BASE value: split: last_avail_idx; packed: idx | wrap << 15
  vhost_vring_addr addr{};
  bool addr_set = false;
  uint8_t* desc = nullptr;
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  UniqueFd kick;  // eventfd the driver kicks; invalid with kick_polling
  UniqueFd call;  // eventfd to interrupt the driver; invalid: no interrupts
  UniqueFd err;
  bool kick_set = false;      // SET_VRING_KICK seen (with an fd or NOFD)
  bool kick_polling = false;  // NOFD: the back-end must poll the ring
  bool call_set = false;
  bool enabled = false;  // SET_VRING_ENABLE (or implicitly, without protocol features)

  bool translated() const { return desc != nullptr && avail != nullptr && used != nullptr; }
  // Everything the datapath needs to attach the ring.
  bool ready() const { return num != 0 && translated() && kick_set && call_set; }
  bool logging() const { return (addr.flags & (1u << VHOST_VRING_F_LOG)) != 0; }
};

}  // namespace ferry::vhost
