#include "base/cpu_features.h"

#include <cstdlib>
#include <cstring>

#include <cpuid.h>

namespace ferry {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    __builtin_cpu_init();
    CpuFeatures f;
    f.avx2 = __builtin_cpu_supports("avx2");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.vpclmulqdq = __builtin_cpu_supports("vpclmulqdq");
    f.gfni = __builtin_cpu_supports("gfni");
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx)) f.prefetchw = (ecx >> 8) & 1;
    return f;
  }();
  return features;
}

SimdLevel simd_level() {
  const CpuFeatures& f = cpu_features();
  SimdLevel best = SimdLevel::kScalar;
  if (f.avx2) best = SimdLevel::kAvx2;
  if (f.avx512f && f.avx512bw && f.avx512vl) best = SimdLevel::kAvx512;

  const char* cap = std::getenv("FERRY_CPU");
  if (cap == nullptr) return best;
  SimdLevel limit = best;
  if (std::strcmp(cap, "scalar") == 0) limit = SimdLevel::kScalar;
  if (std::strcmp(cap, "avx2") == 0) limit = SimdLevel::kAvx2;
  if (std::strcmp(cap, "avx512") == 0) limit = SimdLevel::kAvx512;
  return limit < best ? limit : best;
}

const char* to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "?";
}

}  // namespace ferry
