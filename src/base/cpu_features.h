#pragma once

// What the CPU Ferry runs on can do, read once at start-up.
//
// SIMD kernels (checksum, Toeplitz hash, parsing) come in per-ISA sibling files, DPDK
// style; each picks its variant from these flags. FERRY_CPU (scalar|avx2|avx512) caps the
// level for tests and benchmarks, so every variant can be run on one machine.

namespace ferry {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool vpclmulqdq = false;
  bool gfni = false;
  bool prefetchw = false;  // PREFETCHW (CPUID 0x80000001 ECX.PRFCHW)
};

// The CPU's features as detected (ignores FERRY_CPU).
const CpuFeatures& cpu_features();

// The best SIMD level the CPU supports, capped by FERRY_CPU if set.
SimdLevel simd_level();

const char* to_string(SimdLevel level);

}  // namespace ferry
