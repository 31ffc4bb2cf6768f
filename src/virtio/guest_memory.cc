#include "virtio/guest_memory.h"

namespace ferry::virtio {

namespace {
constexpr uint64_t kLogPageShift = 12;  // the vhost dirty log tracks 4 KiB pages

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

// True if [addr, addr + len) lies within [start, start + size); no overflow for any input.
bool contains(uint64_t start, uint64_t size, uint64_t addr, uint64_t len) {
  if (addr < start) return false;
  uint64_t off = addr - start;
  return off < size && len <= size - off;
}
}  // namespace

bool GuestMemory::add_region(const MemoryRegion& r, std::string* error) {
  if (regions_.size() >= kMaxRegions) {
    *error = "too many memory regions (limit " + std::to_string(kMaxRegions) + ")";
    return false;
  }
  if (r.size == 0 || r.host_addr == nullptr) {
    *error = "empty memory region";
    return false;
  }
  if (r.guest_phys_addr + r.size < r.guest_phys_addr || r.user_addr + r.size < r.user_addr) {
    *error = "memory region wraps around the address space";
    return false;
  }
  for (const MemoryRegion& other : regions_) {
    if (overlaps(r.guest_phys_addr, r.size, other.guest_phys_addr, other.size) ||
        overlaps(r.user_addr, r.size, other.user_addr, other.size)) {
      *error = "memory region overlaps another";
      return false;
    }
  }
  regions_.push_back(r);
  return true;
}

void GuestMemory::clear() {
  regions_.clear();
}
size_t GuestMemory::region_count() const {
  return regions_.size();
}
const MemoryRegion& GuestMemory::region(size_t i) const {
  return regions_[i];
}

uint8_t* GuestMemory::translate(uint64_t gpa, uint64_t len) const {
  if (len == 0) len = 1;
  for (const MemoryRegion& r : regions_) {
    if (contains(r.guest_phys_addr, r.size, gpa, len)) {
      return r.host_addr + (gpa - r.guest_phys_addr);
    }
  }
  return nullptr;
}

uint8_t* GuestMemory::translate_prefix(uint64_t gpa, uint64_t len, uint64_t* contiguous) const {
  if (len == 0) len = 1;
  for (const MemoryRegion& r : regions_) {
    if (contains(r.guest_phys_addr, r.size, gpa, 1)) {
      uint64_t off = gpa - r.guest_phys_addr;
      uint64_t room = r.size - off;
      *contiguous = len < room ? len : room;
      return r.host_addr + off;
    }
  }
  *contiguous = 0;
  return nullptr;
}

uint8_t* GuestMemory::translate_user(uint64_t uva, uint64_t len) const {
  if (len == 0) len = 1;
  for (const MemoryRegion& r : regions_) {
    if (contains(r.user_addr, r.size, uva, len)) return r.host_addr + (uva - r.user_addr);
  }
  return nullptr;
}

void GuestMemory::set_dirty_log(uint8_t* bitmap, uint64_t size_bytes) {
  log_ = bitmap;
  log_size_ = size_bytes;
}

void GuestMemory::clear_dirty_log() {
  set_dirty_log(nullptr, 0);
}

void GuestMemory::mark_dirty(uint64_t gpa, uint64_t len) {
  if (log_ == nullptr || len == 0) return;
  uint64_t first = gpa >> kLogPageShift;
  uint64_t last = (gpa + len - 1) >> kLogPageShift;
  for (uint64_t page = first; page <= last; page++) {
    uint64_t byte = page / 8;
    if (byte >= log_size_) return;  // pages past the log are not tracked (and never written)
    __atomic_fetch_or(&log_[byte], static_cast<uint8_t>(1u << (page % 8)), __ATOMIC_RELAXED);
  }
}

}  // namespace ferry::virtio
