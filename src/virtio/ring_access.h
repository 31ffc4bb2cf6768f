#pragma once

// Loads and stores of ring words shared with the driver. The rings are little-endian
// (virtio 1.x); Ferry runs on little-endian hosts only. The accesses are atomic so that
// the compiler reads each shared word exactly once and orders them as written.

#include <cstdint>
#include <cstring>

#include "base/compiler.h"

namespace ferry::virtio {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio 1.x rings are little-endian");

FERRY_ALWAYS_INLINE uint16_t load16_acquire(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE);
}
FERRY_ALWAYS_INLINE uint16_t load16(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_RELAXED);
}
FERRY_ALWAYS_INLINE uint32_t load32(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_RELAXED);
}
FERRY_ALWAYS_INLINE void store16_release(uint8_t* p, uint16_t v) {
  __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, __ATOMIC_RELEASE);
}
FERRY_ALWAYS_INLINE void store16(uint8_t* p, uint16_t v) {
  __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, __ATOMIC_RELAXED);
}
FERRY_ALWAYS_INLINE void store32(uint8_t* p, uint32_t v) {
  __atomic_store_n(reinterpret_cast<uint32_t*>(p), v, __ATOMIC_RELAXED);
}
FERRY_ALWAYS_INLINE void store64(uint8_t* p, uint64_t v) {
  __atomic_store_n(reinterpret_cast<uint64_t*>(p), v, __ATOMIC_RELAXED);
}

}  // namespace ferry::virtio
