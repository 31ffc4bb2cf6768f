#pragma once

// A guest memory for tests: two adjacent guest-physical regions backed by two separate
// heap allocations, so that a buffer crossing the border is two host pieces (and ASan
// catches any access that runs over a region's end).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "virtio/guest_memory.h"

namespace ferry::virtio::test {

class TestMemory {
 public:
  static constexpr uint64_t kBase = 0x100000;
  static constexpr uint64_t kRegionSize = 1 << 20;
  static constexpr uint64_t kBorder = kBase + kRegionSize;  // gpa where region 1 begins
  static constexpr uint64_t kEnd = kBase + 2 * kRegionSize;
  static constexpr uint64_t kUserOffset = 0x7f0000000000;  // uva = gpa + kUserOffset

  TestMemory() {
    for (int i = 0; i < 2; i++) {
      host_[i] = static_cast<uint8_t*>(std::aligned_alloc(4096, kRegionSize));
      std::memset(host_[i], 0, kRegionSize);
      MemoryRegion r;
      r.guest_phys_addr = kBase + i * kRegionSize;
      r.size = kRegionSize;
      r.user_addr = r.guest_phys_addr + kUserOffset;
      r.host_addr = host_[i];
      std::string error;
      mem.add_region(r, &error);
    }
  }
  ~TestMemory() {
    std::free(host_[0]);
    std::free(host_[1]);
  }
  TestMemory(const TestMemory&) = delete;
  TestMemory& operator=(const TestMemory&) = delete;

  // Bump allocation of guest-physical space in region 0 (rings, tables).
  uint64_t alloc(uint64_t len, uint64_t align = 64) {
    next_ = (next_ + align - 1) & ~(align - 1);
    uint64_t gpa = next_;
    next_ += len;
    return gpa;
  }

  // Byte-wise access across regions.
  void write(uint64_t gpa, const void* src, uint64_t len) {
    const uint8_t* s = static_cast<const uint8_t*>(src);
    for (uint64_t i = 0; i < len; i++)
      *mem.translate(gpa + i, 1) = s[i];
  }
  void read(uint64_t gpa, void* dst, uint64_t len) const {
    uint8_t* d = static_cast<uint8_t*>(dst);
    for (uint64_t i = 0; i < len; i++)
      d[i] = *mem.translate(gpa + i, 1);
  }
  void fill(uint64_t gpa, uint64_t len, uint8_t seed) {
    for (uint64_t i = 0; i < len; i++) {
      uint8_t v = static_cast<uint8_t>(seed + i * 7);
      write(gpa + i, &v, 1);
    }
  }

  GuestMemory mem;

 private:
  uint8_t* host_[2] = {};
  uint64_t next_ = kBase;
};

}  // namespace ferry::virtio::test
