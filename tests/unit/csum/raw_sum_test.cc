#include "csum/raw_sum.h"

#include <cstring>
#include <ostream>
#include <random>
#include <vector>

#include <sys/mman.h>

#include <gtest/gtest.h>
#include <unistd.h>

namespace ferry::csum {
namespace {

// The definition, byte by byte: even bytes are the low halves of the words.
uint64_t reference_sum(const uint8_t* p, size_t len) {
  uint64_t s = 0;
  for (size_t i = 0; i < len; i++)
    s += (i & 1) ? uint64_t{p[i]} << 8 : p[i];
  return s;
}

uint16_t fold64(uint64_t s) {
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

std::vector<RawSumKernel> kernels() {
  auto k = raw_sum_kernels();
  return {k.begin(), k.end()};
}

}  // namespace

void PrintTo(const RawSumKernel& k, std::ostream* os) {
  *os << k.name;
}

namespace {

class RawSumVariant : public ::testing::TestWithParam<RawSumKernel> {};

// Every length 0..2048 at every alignment 0..63 with random data and initial values.
// One buffer per alignment serves all lengths; the reference grows with the length.
TEST_P(RawSumVariant, MatchesReferenceForEveryLengthAndAlignment) {
  RawSumFn fn = GetParam().fn;
  ASSERT_NE(fn, nullptr);
  constexpr size_t kMaxLen = 2048;
  std::mt19937_64 rng(1071);
  // Exactly sized so that ASan sees any read past the end of the buffer.
  for (size_t align = 0; align < 64; align++) {
    std::vector<uint8_t> storage(kMaxLen + 64 + 64);
    uintptr_t base = (reinterpret_cast<uintptr_t>(storage.data()) + 63) & ~uintptr_t{63};
    uint8_t* p = reinterpret_cast<uint8_t*>(base) + align;
    for (size_t i = 0; i < kMaxLen; i++)
      p[i] = static_cast<uint8_t>(rng());
    uint64_t ref = 0;
    for (size_t len = 0; len <= kMaxLen; len++) {
      uint32_t initial = static_cast<uint32_t>(rng());
      if (len % 7 == 0) initial = 0;
      uint32_t got = fn(p, len, initial);
      uint16_t want = fold64(ref + initial);
      ASSERT_EQ(fold(got), want) << "len " << len << " align " << align;
      if (len < kMaxLen) ref += (len & 1) ? uint64_t{p[len]} << 8 : p[len];
    }
  }
}

// Zero bytes with a zero initial value are the only input that folds to 0.
TEST_P(RawSumVariant, ZeroAndAllOnes) {
  RawSumFn fn = GetParam().fn;
  std::vector<uint8_t> zeros(4096, 0), ones(4096, 0xff);
  for (size_t len : {0, 1, 2, 63, 64, 65, 1500, 4096}) {
    EXPECT_EQ(fold(fn(zeros.data(), len, 0)), 0) << len;
    if (len > 0) {
      EXPECT_EQ(fold(fn(ones.data(), len, 0)), (len & 1) ? 0xff : 0xffff) << len;
    }
  }
}

// Buffers long enough to overflow 32-bit lane accumulators if they were not flushed.
TEST_P(RawSumVariant, LongBuffersDoNotOverflowLanes) {
  RawSumFn fn = GetParam().fn;
  constexpr size_t kLen = (size_t{17} << 20) + 77;
  std::vector<uint8_t> buf(kLen + 1, 0xff);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; i++)
    buf[rng() % kLen] = static_cast<uint8_t>(rng());
  for (size_t off : {0, 1}) {
    uint64_t ref = reference_sum(buf.data() + off, kLen);
    EXPECT_EQ(fold(fn(buf.data() + off, kLen, 0)), fold64(ref));
  }
}

// Buffers that end right before, or start right after, an inaccessible page: a kernel
// that touched a byte outside its buffer would fault (masked loads must not).
TEST_P(RawSumVariant, NoAccessOutsideTheBuffer) {
  RawSumFn fn = GetParam().fn;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  uint8_t* base = static_cast<uint8_t*>(map);
  ASSERT_EQ(mprotect(base, page, PROT_NONE), 0);
  ASSERT_EQ(mprotect(base + 2 * page, page, PROT_NONE), 0);
  uint8_t* mid = base + page;
  for (size_t i = 0; i < page; i++)
    mid[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t len = 0; len <= 600; len++) {
    uint8_t* at_end = mid + page - len;
    EXPECT_EQ(fold(fn(at_end, len, 0)), fold64(reference_sum(at_end, len))) << len;
    EXPECT_EQ(fold(fn(mid, len, 0)), fold64(reference_sum(mid, len))) << len;
  }
  munmap(map, 3 * page);
}

INSTANTIATE_TEST_SUITE_P(Kernels, RawSumVariant, ::testing::ValuesIn(kernels()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(RawSum, KernelsAndLevels) {
  auto k = raw_sum_kernels();
  ASSERT_FALSE(k.empty());
  EXPECT_STREQ(k[0].name, "scalar");
  for (const RawSumKernel& kernel : k) {
    EXPECT_TRUE(raw_sum_supported(kernel.level));
    EXPECT_NE(raw_sum_variant(kernel.level), nullptr);
  }
  EXPECT_EQ(raw_sum_variant(SimdLevel::kScalar), &raw_sum_scalar);
}

TEST(RawSum, DispatchFollowsSimdLevel) {
  SimdLevel level = raw_sum_level();
  EXPECT_TRUE(raw_sum_supported(level));
  EXPECT_LE(static_cast<int>(level), static_cast<int>(simd_level()));
  uint8_t data[5] = {1, 2, 3, 4, 5};
  EXPECT_EQ(fold(raw_sum(data, 5)), 0x0201 + 0x0403 + 0x05);
}

TEST(RawSum, FoldAndFinish) {
  EXPECT_EQ(fold(0), 0);
  EXPECT_EQ(fold(0xffff), 0xffff);
  EXPECT_EQ(fold(0x1ffff), 0x0001);
  EXPECT_EQ(fold(0xffffffff), 0xffff);
  EXPECT_EQ(fold(0x12345678), 0x5678 + 0x1234);
  EXPECT_EQ(finish(0x12345678), static_cast<uint16_t>(~(0x5678 + 0x1234)));
  EXPECT_EQ(add(0xffffffff, 1), 1u);
  EXPECT_EQ(fold(sub(add(0x1234, 0x5678), 0x5678)), 0x1234);
}

// Sums of pieces combined at their offsets equal the sum of the whole, odd offsets too.
TEST(RawSum, CombineAtOddOffsets) {
  std::mt19937_64 rng(8);
  std::vector<uint8_t> buf(3000);
  for (auto& b : buf)
    b = static_cast<uint8_t>(rng());
  for (int trial = 0; trial < 2000; trial++) {
    size_t len = rng() % buf.size();
    uint32_t initial = static_cast<uint32_t>(rng());
    uint32_t whole = raw_sum(buf.data(), len, initial);
    uint32_t acc = initial;
    size_t pos = 0;
    while (pos < len) {
      size_t n = 1 + rng() % 64;
      if (n > len - pos) n = len - pos;
      acc = add_at(acc, raw_sum(buf.data() + pos, n), pos);
      pos += n;
    }
    ASSERT_EQ(fold(acc), fold(whole)) << trial;
  }
  // A byte-swapped block is the sum seen from the other parity.
  uint8_t ab[2] = {0x12, 0x34}, ba[2] = {0x34, 0x12};
  EXPECT_EQ(fold(swap_parity(raw_sum(ab, 2))), fold(raw_sum(ba, 2)));
}

}  // namespace
}  // namespace ferry::csum
