#pragma once

// GuestMemory: the guest's RAM as the device sees it, a small table of regions.
//
// Every address a guest hands over (descriptor addresses, ring addresses) is untrusted and
// goes through translate(): the whole range [addr, addr + len) must lie inside the mapped
// regions, or the caller gets nullptr and treats the queue as broken (DPDK CVE-2018-1059
// checked only the start). The table does not own the mappings: the vhost layer mmaps the
// region fds from SET_MEM_TABLE and unmaps them; this class only maps addresses.
//
// Dirty-page logging for live migration (VHOST_USER_SET_LOG_BASE): while a log is set,
// every write the device makes into guest memory is recorded with mark_dirty().

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::virtio {

struct MemoryRegion {
  uint64_t guest_phys_addr = 0;  // guest-physical start (descriptor addresses)
  uint64_t size = 0;
  uint64_t user_addr = 0;        // the front-end's virtual address (vring addresses)
  uint8_t* host_addr = nullptr;  // where the region is mapped in this process
};

class GuestMemory {
 public:
  // vhost-user's baseline limit; VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS can raise it.
  static constexpr size_t kMaxRegions = 8;

  // Adds a region; false (and *error) if it is empty, wraps around, overlaps another in
  // guest-physical or user space, or the table is full.
  bool add_region(const MemoryRegion& region, std::string* error);
  void clear();
  size_t region_count() const;
  const MemoryRegion& region(size_t i) const;

  // Host pointer for the guest-physical range [gpa, gpa + len) if it lies within one
  // region, else nullptr. len == 0 is treated as 1 byte.
  uint8_t* translate(uint64_t gpa, uint64_t len) const;
  // For ranges that may cross from one region into the next: the host pointer for gpa and,
  // in *contiguous, how many of the len bytes follow it in the same region (>= 1).
  uint8_t* translate_prefix(uint64_t gpa, uint64_t len, uint64_t* contiguous) const;
  // The same for front-end user addresses (VHOST_USER_SET_VRING_ADDR).
  uint8_t* translate_user(uint64_t uva, uint64_t len) const;

  // Dirty log: a bitmap of 4 KiB guest pages, bit n for page n (vhost log layout).
  void set_dirty_log(uint8_t* bitmap, uint64_t size_bytes);
  void clear_dirty_log();
  bool logging() const { return log_ != nullptr; }
  void mark_dirty(uint64_t gpa, uint64_t len);

 private:
  std::vector<MemoryRegion> regions_;
  uint8_t* log_ = nullptr;
  uint64_t log_size_ = 0;
};

}  // namespace ferry::virtio
