#pragma once

// Small compiler helpers used across Ferry's fast paths.

#define FERRY_LIKELY(x) __builtin_expect(!!(x), 1)
#define FERRY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FERRY_ALWAYS_INLINE inline __attribute__((always_inline))
#define FERRY_NOINLINE __attribute__((noinline))

namespace ferry {

inline constexpr unsigned kCacheLineSize = 64;

}  // namespace ferry
