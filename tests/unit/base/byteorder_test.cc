#include "base/byteorder.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ByteOrder, BigEndianStoresMostSignificantByteFirst) {
  Be32 v = Be32::from_host(0x0a000001);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&v);
  EXPECT_EQ(bytes[0], 0x0a);
  EXPECT_EQ(bytes[3], 0x01);
  EXPECT_EQ(v.value(), 0x0a000001u);
}

TEST(ByteOrder, RawIsTheMemoryImageAsAHostInteger) {
  Be16 v = Be16::from_host(0x0800);
  EXPECT_EQ(v.raw(), 0x0008);  // little-endian host
  EXPECT_EQ(Be16::from_raw(v.raw()), v);
}

TEST(ByteOrder, UnalignedLoadsAndStores) {
  uint8_t buf[8] = {0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0};
  EXPECT_EQ(load_be16(buf + 1), 0x1234);
  EXPECT_EQ(load_be32(buf + 1), 0x12345678u);
  store_be16(buf + 5, 0xabcd);
  EXPECT_EQ(buf[5], 0xab);
  EXPECT_EQ(buf[6], 0xcd);
}

}  // namespace
}  // namespace ferry
