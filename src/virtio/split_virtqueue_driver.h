#pragma once

// SplitVirtqueueDriver: the driver side of a split ring. It lays the three areas out in
// guest memory, adds chains (direct or through an indirect table), publishes the avail
// index with the kick decision the device asked for (VRING_USED_F_NO_NOTIFY or
// avail_event), and reads used entries. With IN_ORDER it allocates descriptors in ring
// order and understands a used entry that completes several chains.
//
// Raw accessors let tests write hostile rings on purpose.

#include <cstdint>
#include <deque>
#include <vector>

#include "virtio/guest_memory.h"
#include "virtio/virtqueue_driver.h"

namespace ferry::virtio {

class SplitVirtqueueDriver {
 public:
  static constexpr uint16_t kMaxIndirect = 64;  // entries per indirect table

  struct Options {
    uint16_t size = 256;
    uint64_t desc_gpa = 0;
    uint64_t avail_gpa = 0;
    uint64_t used_gpa = 0;
    uint64_t indirect_gpa = 0;  // size * kMaxIndirect * 16 bytes for indirect tables (or 0)
    uint16_t start_idx = 0;     // initial avail and used index (wrap-around tests)
    bool event_idx = false;
    bool in_order = false;
  };

  // Bytes to reserve for each area.
  static uint64_t indirect_bytes(uint16_t size) { return uint64_t{size} * kMaxIndirect * 16; }

  // Zeroes the rings; ok() is false if an area is not inside `mem`.
  SplitVirtqueueDriver(const GuestMemory& mem, const Options& opts);
  bool ok() const { return ok_; }
  uint16_t size() const { return size_; }
  uint16_t free_descs() const { return free_count_; }

  // Adds a chain; returns its head index, or -1 if there is no room. Not visible to the
  // device before publish().
  int add_chain(const DriverBuffer* bufs, uint16_t n, bool indirect = false);
  // Publishes the avail index; true if the device wants a kick.
  bool publish();
  // Reads the next used entry; false if none.
  bool get_used(DriverUsed* out);

  // Interrupt suppression: flags (no EVENT_IDX) or used_event = next used index (EVENT_IDX).
  void set_interrupts(bool on);
  void set_used_event(uint16_t idx);
  uint16_t avail_idx() const { return avail_idx_; }
  uint16_t last_used_idx() const { return last_used_; }

  // Raw access for hostile tests.
  uint8_t* desc_area() { return desc_; }
  uint8_t* avail_area() { return avail_; }
  uint8_t* used_area() { return used_; }
  void write_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
  void push_head(uint16_t head);  // avail ring entry, no checks
  void set_avail_idx_raw(uint16_t idx);

 private:
  uint16_t alloc_desc();

  const GuestMemory& mem_;
  uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint64_t indirect_gpa_;
  uint16_t size_;
  bool event_idx_;
  bool in_order_;
  bool ok_ = false;
  uint16_t avail_idx_;
  uint16_t published_avail_;
  uint16_t last_used_;
  uint16_t free_count_;
  uint16_t next_in_order_ = 0;
  std::vector<uint16_t> free_;                      // free descriptor stack
  std::vector<std::vector<uint16_t>> chain_descs_;  // per head: descriptors it holds
  std::deque<uint16_t> outstanding_;                // heads in the order they were added
};

}  // namespace ferry::virtio
