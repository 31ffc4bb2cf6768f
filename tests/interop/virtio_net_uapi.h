#pragma once

// <linux/virtio_net.h> names a struct member `class`, which C++ cannot parse; include it
// with the keyword renamed so the feature-bit macros stay usable.
#define class class_
#include <linux/virtio_net.h>
#undef class
