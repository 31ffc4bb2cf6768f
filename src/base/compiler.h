#pragma once

// Small compiler helpers used across Ferry's fast paths.

#define FERRY_LIKELY(x) __builtin_expect(!!(x), 1)
#define FERRY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FERRY_ALWAYS_INLINE inline __attribute__((always_inline))
#define FERRY_NOINLINE __attribute__((noinline))

namespace ferry {

inline constexpr unsigned kCacheLineSize = 64;

// Prefetches the line at p for writing. With PREFETCHW (CpuFeatures::prefetchw; compilers
// emit it only for -march levels that have it) the line arrives owned, so the store that
// follows needs no second ownership request to the core that last wrote the line.
FERRY_ALWAYS_INLINE void prefetch_for_write(const void* p, bool prefetchw) {
  if (prefetchw) {
    asm volatile("prefetchw %0" ::"m"(*static_cast<const char*>(p)));
  } else {
    __builtin_prefetch(p, 1);
  }
}

}  // namespace ferry
