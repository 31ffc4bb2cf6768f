#include "base/cpu_features.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace ferry {
namespace {

TEST(CpuFeatures, FerryCpuCapsTheLevel) {
  setenv("FERRY_CPU", "scalar", 1);
  EXPECT_EQ(simd_level(), SimdLevel::kScalar);
  setenv("FERRY_CPU", "avx512", 1);
  SimdLevel capped = simd_level();
  unsetenv("FERRY_CPU");
  EXPECT_EQ(capped, simd_level());  // a cap above the CPU's level changes nothing
}

TEST(CpuFeatures, Avx512ImpliesAvx2) {
  const CpuFeatures& f = cpu_features();
  if (f.avx512bw) {
    EXPECT_TRUE(f.avx2);
  }
  EXPECT_STRNE(to_string(simd_level()), "?");
}

}  // namespace
}  // namespace ferry
