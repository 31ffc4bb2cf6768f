#include "virtio/packed_virtqueue_driver.h"

#include <cstddef>
#include <cstring>

#include "virtio/notify_policy.h"
#include "virtio/packed_virtqueue.h"
#include "virtio/ring_access.h"
#include "virtio/vring.h"

namespace ferry::virtio {

namespace {
constexpr uint16_t kAvailBit = 1u << VRING_PACKED_DESC_F_AVAIL;
constexpr uint16_t kUsedBit = 1u << VRING_PACKED_DESC_F_USED;
constexpr uint64_t kFlags = offsetof(vring_packed_desc, flags);
constexpr uint64_t kEventFlags = offsetof(vring_packed_desc_event, flags);
constexpr uint64_t kEventOffWrap = offsetof(vring_packed_desc_event, off_wrap);
}  // namespace

PackedVirtqueueDriver::PackedVirtqueueDriver(const GuestMemory& mem, const Options& o)
    : mem_(mem),
      indirect_gpa_(o.indirect_gpa),
      size_(o.size),
      event_idx_(o.event_idx),
      in_order_(o.in_order),
      avail_idx_(o.start_idx),
      avail_wrap_(o.start_wrap),
      published_idx_(o.start_idx),
      used_idx_(o.start_idx),
      used_wrap_(o.start_wrap),
      free_count_(o.size),
      id_descs_(o.size) {
  desc_ = mem.translate(o.desc_gpa, PackedVirtqueue::desc_bytes(size_));
  driver_event_ = mem.translate(o.driver_event_gpa, PackedVirtqueue::kEventBytes);
  device_event_ = mem.translate(o.device_event_gpa, PackedVirtqueue::kEventBytes);
  ok_ = desc_ && driver_event_ && device_event_ && size_ != 0 && o.start_idx < size_;
  if (!ok_) return;
  // Slots start as "used in the previous lap": flags that are neither available nor used
  // for the current wrap counter.
  std::memset(desc_, 0, PackedVirtqueue::desc_bytes(size_));
  for (uint16_t i = 0; i < size_; i++) {
    bool lap_wrap = i < o.start_idx ? !o.start_wrap : o.start_wrap;
    store16(desc_ + 16ull * i + kFlags, lap_wrap ? 0 : (kAvailBit | kUsedBit));
  }
  std::memset(driver_event_, 0, PackedVirtqueue::kEventBytes);
  std::memset(device_event_, 0, PackedVirtqueue::kEventBytes);
  for (uint16_t i = size_; i > 0; i--)
    free_ids_.push_back(static_cast<uint16_t>(i - 1));
}

uint16_t PackedVirtqueueDriver::avail_flags(bool wrap) const {
  return wrap ? kAvailBit : kUsedBit;
}

void PackedVirtqueueDriver::write_desc(uint16_t pos, uint64_t addr, uint32_t len, uint16_t id,
                                       uint16_t flags) {
  uint8_t* d = desc_ + 16ull * pos;
  store64(d + offsetof(vring_packed_desc, addr), addr);
  store32(d + offsetof(vring_packed_desc, len), len);
  store16(d + offsetof(vring_packed_desc, id), id);
  store16(d + kFlags, flags);
}

void PackedVirtqueueDriver::write_avail_desc(uint16_t pos, uint64_t addr, uint32_t len, uint16_t id,
                                             uint16_t flags, bool wrap) {
  uint8_t* d = desc_ + 16ull * pos;
  store64(d + offsetof(vring_packed_desc, addr), addr);
  store32(d + offsetof(vring_packed_desc, len), len);
  store16(d + offsetof(vring_packed_desc, id), id);
  store16_release(d + kFlags, static_cast<uint16_t>(flags | avail_flags(wrap)));
}

int PackedVirtqueueDriver::add_chain(const DriverBuffer* bufs, uint16_t n, bool indirect) {
  if (n == 0 || free_ids_.empty()) return -1;
  uint16_t slots = indirect ? 1 : n;
  if (slots > free_count_) return -1;
  if (indirect && (n > kMaxIndirect || indirect_gpa_ == 0)) return -1;
  uint16_t id = free_ids_.back();
  free_ids_.pop_back();
  uint16_t head = avail_idx_;
  bool head_wrap = avail_wrap_;
  uint16_t head_flags = 0;
  auto advance = [&] {
    if (++avail_idx_ == size_) {
      avail_idx_ = 0;
      avail_wrap_ = !avail_wrap_;
    }
  };
  if (indirect) {
    uint64_t table_gpa = indirect_gpa_ + uint64_t{id} * kMaxIndirect * 16;
    uint8_t* table = mem_.translate(table_gpa, 16ull * n);
    if (table == nullptr) return -1;
    for (uint16_t i = 0; i < n; i++) {
      uint8_t* d = table + 16ull * i;
      store64(d + offsetof(vring_packed_desc, addr), bufs[i].gpa);
      store32(d + offsetof(vring_packed_desc, len), bufs[i].len);
      store16(d + offsetof(vring_packed_desc, id), 0);
      store16(d + kFlags, bufs[i].writable ? VRING_DESC_F_WRITE : 0);
    }
    write_desc(head, table_gpa, 16u * n, id, 0);
    head_flags = static_cast<uint16_t>(VRING_DESC_F_INDIRECT | avail_flags(head_wrap));
    advance();
  } else {
    for (uint16_t i = 0; i < n; i++) {
      uint16_t flags =
          static_cast<uint16_t>((bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
                                (i + 1 < n ? VRING_DESC_F_NEXT : 0) | avail_flags(avail_wrap_));
      // The head's flags are written last so the device never sees half a chain.
      write_desc(avail_idx_, bufs[i].gpa, bufs[i].len, id, i == 0 ? 0 : flags);
      if (i == 0) head_flags = flags;  // flags 0 is never "available"
      advance();
    }
  }
  store16_release(desc_ + 16ull * head + kFlags, head_flags);
  free_count_ = static_cast<uint16_t>(free_count_ - slots);
  id_descs_[id] = slots;
  outstanding_.push_back(id);
  return id;
}

bool PackedVirtqueueDriver::publish() {
  uint16_t old = published_idx_;
  published_idx_ = avail_idx_;
  if (old == avail_idx_) return false;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint16_t flags = load16(device_event_ + kEventFlags);
  if (flags == VRING_PACKED_EVENT_FLAG_DISABLE) return false;
  if (flags == VRING_PACKED_EVENT_FLAG_DESC && event_idx_) {
    return packed_need_event(load16(device_event_ + kEventOffWrap), old, avail_idx_, avail_wrap_,
                             size_);
  }
  return true;
}

bool PackedVirtqueueDriver::get_used(DriverUsed* out) {
  const uint8_t* d = desc_ + 16ull * used_idx_;
  uint16_t flags = load16_acquire(d + kFlags);
  bool avail = (flags & kAvailBit) != 0;
  bool used = (flags & kUsedBit) != 0;
  if (avail != used || used != used_wrap_) return false;
  out->id = load16(d + offsetof(vring_packed_desc, id));
  out->len = load32(d + offsetof(vring_packed_desc, len));
  out->chains = 0;
  uint32_t slots = 0;
  while (!outstanding_.empty()) {
    uint16_t id = in_order_ ? outstanding_.front() : out->id;
    if (in_order_) {
      outstanding_.pop_front();
    } else {
      bool found = false;
      for (auto it = outstanding_.begin(); it != outstanding_.end(); ++it) {
        if (*it == id) {
          outstanding_.erase(it);
          found = true;
          break;
        }
      }
      if (!found) return false;  // the device returned an id that is not outstanding
    }
    if (id < size_) {
      slots += id_descs_[id];
      id_descs_[id] = 0;
      free_ids_.push_back(id);
    }
    out->chains++;
    if (!in_order_ || id == out->id) break;
  }
  free_count_ = static_cast<uint16_t>(free_count_ + slots);
  uint32_t next = used_idx_ + slots;
  if (next >= size_) {
    next -= size_;
    used_wrap_ = !used_wrap_;
  }
  used_idx_ = static_cast<uint16_t>(next);
  return true;
}

void PackedVirtqueueDriver::set_interrupts(bool on) {
  store16(driver_event_ + kEventFlags,
          on ? VRING_PACKED_EVENT_FLAG_ENABLE : VRING_PACKED_EVENT_FLAG_DISABLE);
}

void PackedVirtqueueDriver::set_interrupt_at(uint16_t pos, bool wrap) {
  store16(driver_event_ + kEventOffWrap,
          static_cast<uint16_t>(pos | (uint16_t{wrap} << VRING_PACKED_EVENT_F_WRAP_CTR)));
  store16_release(driver_event_ + kEventFlags, VRING_PACKED_EVENT_FLAG_DESC);
}

}  // namespace ferry::virtio
