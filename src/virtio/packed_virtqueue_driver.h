#pragma once

// PackedVirtqueueDriver: the driver side of a packed ring. It lays out the descriptor ring
// and the two event areas, adds chains (NEXT-linked or one INDIRECT descriptor; the head's
// flags are written last, with release semantics), publishes with the kick decision of
// the device event area (enable / disable / descriptor event), and reads used
// descriptors (advancing by the chain's descriptor count; with IN_ORDER a used descriptor
// may complete several chains).

#include <cstdint>
#include <deque>
#include <vector>

#include "virtio/guest_memory.h"
#include "virtio/virtqueue_driver.h"

namespace ferry::virtio {

class PackedVirtqueueDriver {
 public:
  static constexpr uint16_t kMaxIndirect = 64;

  struct Options {
    uint16_t size = 256;
    uint64_t desc_gpa = 0;
    uint64_t driver_event_gpa = 0;
    uint64_t device_event_gpa = 0;
    uint64_t indirect_gpa = 0;  // size * kMaxIndirect * 16 bytes (or 0: no indirect)
    uint16_t start_idx = 0;     // initial position of both sides
    bool start_wrap = true;
    bool event_idx = false;
    bool in_order = false;
  };
  static uint64_t indirect_bytes(uint16_t size) { return uint64_t{size} * kMaxIndirect * 16; }

  PackedVirtqueueDriver(const GuestMemory& mem, const Options& opts);
  bool ok() const { return ok_; }
  uint16_t size() const { return size_; }
  uint16_t free_descs() const { return free_count_; }

  // Adds a chain; returns its buffer id or -1 if there is no room. Visible at once.
  int add_chain(const DriverBuffer* bufs, uint16_t n, bool indirect = false);
  // True if the device wants a kick for the chains added since the last publish().
  bool publish();
  bool get_used(DriverUsed* out);

  // Driver event area: interrupts on, off, or (EVENT_IDX) at a used position.
  void set_interrupts(bool on);
  void set_interrupt_at(uint16_t pos, bool wrap);
  uint16_t avail_idx() const { return avail_idx_; }
  bool avail_wrap() const { return avail_wrap_; }
  uint16_t used_idx() const { return used_idx_; }
  bool used_wrap() const { return used_wrap_; }

  // Raw access for hostile tests: a descriptor made available with the current wrap.
  uint8_t* desc_area() { return desc_; }
  void write_avail_desc(uint16_t pos, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags,
                        bool wrap);

 private:
  void write_desc(uint16_t pos, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);
  uint16_t avail_flags(bool wrap) const;

  const GuestMemory& mem_;
  uint8_t* desc_ = nullptr;
  uint8_t* driver_event_ = nullptr;
  uint8_t* device_event_ = nullptr;
  uint64_t indirect_gpa_;
  uint16_t size_;
  bool event_idx_;
  bool in_order_;
  bool ok_ = false;
  uint16_t avail_idx_;
  bool avail_wrap_;
  uint16_t published_idx_;
  uint16_t used_idx_;
  bool used_wrap_;
  uint16_t free_count_;
  std::vector<uint16_t> free_ids_;
  std::vector<uint16_t> id_descs_;  // per buffer id: ring slots of its chain
  std::deque<uint16_t> outstanding_;
};

}  // namespace ferry::virtio
