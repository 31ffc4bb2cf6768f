#include "virtio/guest_memory.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ferry::virtio {
namespace {

TEST(GuestMemory, RegionTableChecks) {
  std::vector<uint8_t> a(8192), b(8192);
  GuestMemory mem;
  std::string error;
  ASSERT_TRUE(mem.add_region({0x1000, 8192, 0x7000000, a.data()}, &error));
  EXPECT_FALSE(mem.add_region({0x2000, 4096, 0x9000000, b.data()}, &error));   // gpa overlap
  EXPECT_FALSE(mem.add_region({0x10000, 4096, 0x7001000, b.data()}, &error));  // uva overlap
  EXPECT_FALSE(mem.add_region({0x10000, 0, 0x9000000, b.data()}, &error));
  EXPECT_FALSE(mem.add_region({~uint64_t{0} - 10, 4096, 0x9000000, b.data()}, &error));
  ASSERT_TRUE(mem.add_region({0x3000, 8192, 0x9000000, b.data()}, &error));  // adjacent
  EXPECT_EQ(mem.region_count(), 2u);
  for (int i = 2; i < 8; i++) {
    EXPECT_TRUE(mem.add_region({0x100000u * i, 16, 0x100000u * i, b.data()}, &error));
  }
  EXPECT_FALSE(mem.add_region({0x10000000, 16, 0x10000000, b.data()}, &error));
  EXPECT_NE(error.find("too many"), std::string::npos);
  mem.clear();
  EXPECT_EQ(mem.region_count(), 0u);
}

TEST(GuestMemory, TranslateWholeRanges) {
  std::vector<uint8_t> a(4096), b(4096);
  GuestMemory mem;
  std::string error;
  mem.add_region({0x1000, 4096, 0x7000000, a.data()}, &error);
  mem.add_region({0x2000, 4096, 0x8000000, b.data()}, &error);
  EXPECT_EQ(mem.translate(0x1000, 4096), a.data());
  EXPECT_EQ(mem.translate(0x1fff, 1), a.data() + 4095);
  EXPECT_EQ(mem.translate(0x1fff, 2), nullptr);  // crosses into another mapping
  EXPECT_EQ(mem.translate(0xfff, 1), nullptr);
  EXPECT_EQ(mem.translate(0x3000, 1), nullptr);
  EXPECT_EQ(mem.translate(0x2000, ~uint64_t{0}), nullptr);
  EXPECT_EQ(mem.translate(0x2000, 0), b.data());
  uint64_t n = 0;
  EXPECT_EQ(mem.translate_prefix(0x1ff0, 100, &n), a.data() + 0xff0);
  EXPECT_EQ(n, 16u);
  EXPECT_EQ(mem.translate_prefix(0x2ff0, 100, &n), b.data() + 0xff0);
  EXPECT_EQ(n, 16u);
  EXPECT_EQ(mem.translate_prefix(0x3000, 100, &n), nullptr);
  EXPECT_EQ(mem.translate_user(0x8000010, 16), b.data() + 16);
  EXPECT_EQ(mem.translate_user(0x2000, 16), nullptr);
}

TEST(GuestMemory, DirtyLogStaysInBounds) {
  std::vector<uint8_t> a(1 << 20);
  GuestMemory mem;
  std::string error;
  mem.add_region({0, a.size(), 0, a.data()}, &error);
  EXPECT_FALSE(mem.logging());
  mem.mark_dirty(0, 4096);  // no log: nothing happens
  uint8_t log[2] = {};
  mem.set_dirty_log(log, sizeof(log));
  EXPECT_TRUE(mem.logging());
  mem.mark_dirty(4095, 2);  // pages 0 and 1
  EXPECT_EQ(log[0], 0x03);
  mem.mark_dirty(15 * 4096, 100 * 4096);  // runs past the log: only page 15 is inside
  EXPECT_EQ(log[1], 0x80);
  mem.clear_dirty_log();
  EXPECT_FALSE(mem.logging());
}

}  // namespace
}  // namespace ferry::virtio
