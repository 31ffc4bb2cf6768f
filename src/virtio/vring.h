#pragma once

// <linux/virtio_ring.h> without its legacy C helpers (vring_init() does not compile as
// C++); every Ferry file includes the ring ABI through here.

#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <linux/virtio_ring.h>
