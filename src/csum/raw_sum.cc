#include "csum/raw_sum.h"

#include <vector>

namespace ferry::csum {

bool raw_sum_supported(SimdLevel level) {
  const CpuFeatures& f = cpu_features();
  switch (level) {
    case SimdLevel::kScalar:
      return true;
    case SimdLevel::kAvx2:
      return f.avx2;
    case SimdLevel::kAvx512:
      return f.avx512f && f.avx512bw;
  }
  return false;
}

namespace {

bool has_vnni() {
  static const bool vnni = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return vnni;
}

}  // namespace

std::span<const RawSumKernel> raw_sum_kernels() {
  static const std::vector<RawSumKernel> kernels = [] {
    std::vector<RawSumKernel> k;
    k.push_back({"scalar", SimdLevel::kScalar, &raw_sum_scalar});
    if (raw_sum_supported(SimdLevel::kAvx2)) k.push_back({"avx2", SimdLevel::kAvx2, &raw_sum_avx2});
    if (raw_sum_supported(SimdLevel::kAvx512)) {
      k.push_back({"avx512", SimdLevel::kAvx512, &raw_sum_avx512});
      if (has_vnni()) k.push_back({"avx512vnni", SimdLevel::kAvx512, &raw_sum_avx512_vnni});
    }
    return k;
  }();
  return kernels;
}

RawSumFn raw_sum_variant(SimdLevel level) {
  if (!raw_sum_supported(level)) return nullptr;
  switch (level) {
    case SimdLevel::kScalar:
      return &raw_sum_scalar;
    case SimdLevel::kAvx2:
      return &raw_sum_avx2;
    case SimdLevel::kAvx512:
      return has_vnni() ? &raw_sum_avx512_vnni : &raw_sum_avx512;
  }
  return nullptr;
}

namespace {

SimdLevel chosen_level() {
  static const SimdLevel level = [] {
    SimdLevel l = simd_level();
    while (l != SimdLevel::kScalar && !raw_sum_supported(l)) {
      l = static_cast<SimdLevel>(static_cast<int>(l) - 1);
    }
    return l;
  }();
  return level;
}

}  // namespace

SimdLevel raw_sum_level() {
  return chosen_level();
}

namespace detail {

uint32_t raw_sum_resolve(const void* data, size_t len, uint32_t initial) {
  RawSumFn fn = raw_sum_variant(chosen_level());
  g_raw_sum.store(fn, std::memory_order_relaxed);
  return fn(data, len, initial);
}

}  // namespace detail

}  // namespace ferry::csum
