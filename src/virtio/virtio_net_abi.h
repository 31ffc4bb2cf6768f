#pragma once

// <linux/virtio_net.h> for C++: its control-queue header has a member named `class`,
// which is renamed while the header is read. The layout does not change.

#include "virtio/vring.h"  // first, so that no one pulls in the legacy ring helpers

#define class class_
#include <linux/virtio_net.h>
#undef class
