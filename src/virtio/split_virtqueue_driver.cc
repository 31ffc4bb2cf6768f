#include "virtio/split_virtqueue_driver.h"

#include <cstddef>
#include <cstring>

#include "virtio/ring_access.h"
#include "virtio/split_virtqueue.h"
#include "virtio/vring.h"

namespace ferry::virtio {

namespace {
constexpr uint64_t kIdx = offsetof(vring_avail, idx);
constexpr uint64_t kFlags = offsetof(vring_avail, flags);
constexpr uint64_t kAvailRing = offsetof(vring_avail, ring);
constexpr uint64_t kUsedRing = offsetof(vring_used, ring);
}  // namespace

SplitVirtqueueDriver::SplitVirtqueueDriver(const GuestMemory& mem, const Options& o)
    : mem_(mem),
      indirect_gpa_(o.indirect_gpa),
      size_(o.size),
      event_idx_(o.event_idx),
      in_order_(o.in_order),
      avail_idx_(o.start_idx),
      published_avail_(o.start_idx),
      last_used_(o.start_idx),
      free_count_(o.size),
      chain_descs_(o.size) {
  desc_ = mem.translate(o.desc_gpa, SplitVirtqueue::desc_bytes(size_));
  avail_ = mem.translate(o.avail_gpa, SplitVirtqueue::avail_bytes(size_));
  used_ = mem.translate(o.used_gpa, SplitVirtqueue::used_bytes(size_));
  ok_ = desc_ && avail_ && used_ && size_ != 0;
  if (!ok_) return;
  std::memset(desc_, 0, SplitVirtqueue::desc_bytes(size_));
  std::memset(avail_, 0, SplitVirtqueue::avail_bytes(size_));
  std::memset(used_, 0, SplitVirtqueue::used_bytes(size_));
  store16(avail_ + kIdx, avail_idx_);
  store16(used_ + kIdx, last_used_);
  store16(avail_ + kAvailRing + 2u * size_, last_used_);  // used_event
  for (uint16_t i = size_; i > 0; i--)
    free_.push_back(static_cast<uint16_t>(i - 1));
}

uint16_t SplitVirtqueueDriver::alloc_desc() {
  free_count_--;
  if (in_order_) {
    uint16_t d = next_in_order_;
    next_in_order_ = static_cast<uint16_t>((next_in_order_ + 1) % size_);
    return d;
  }
  uint16_t d = free_.back();
  free_.pop_back();
  return d;
}

void SplitVirtqueueDriver::write_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                                      uint16_t next) {
  uint8_t* d = desc_ + 16ull * i;
  store64(d + offsetof(vring_desc, addr), addr);
  store32(d + offsetof(vring_desc, len), len);
  store16(d + offsetof(vring_desc, flags), flags);
  store16(d + offsetof(vring_desc, next), next);
}

int SplitVirtqueueDriver::add_chain(const DriverBuffer* bufs, uint16_t n, bool indirect) {
  if (n == 0) return -1;
  if (indirect) {
    if (n > kMaxIndirect || free_count_ < 1 || indirect_gpa_ == 0) return -1;
    uint16_t head = alloc_desc();
    uint64_t table_gpa = indirect_gpa_ + uint64_t{head} * kMaxIndirect * 16;
    uint8_t* table = mem_.translate(table_gpa, 16ull * n);
    if (table == nullptr) return -1;
    for (uint16_t i = 0; i < n; i++) {
      uint8_t* d = table + 16ull * i;
      uint16_t flags = static_cast<uint16_t>((bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
                                             (i + 1 < n ? VRING_DESC_F_NEXT : 0));
      store64(d + offsetof(vring_desc, addr), bufs[i].gpa);
      store32(d + offsetof(vring_desc, len), bufs[i].len);
      store16(d + offsetof(vring_desc, flags), flags);
      store16(d + offsetof(vring_desc, next), static_cast<uint16_t>(i + 1));
    }
    write_desc(head, table_gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
    chain_descs_[head] = {head};
    push_head(head);
    return head;
  }
  if (n > free_count_) return -1;
  std::vector<uint16_t> ids(n);
  for (uint16_t i = 0; i < n; i++)
    ids[i] = alloc_desc();
  for (uint16_t i = 0; i < n; i++) {
    uint16_t flags = static_cast<uint16_t>((bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
                                           (i + 1 < n ? VRING_DESC_F_NEXT : 0));
    write_desc(ids[i], bufs[i].gpa, bufs[i].len, flags, i + 1 < n ? ids[i + 1] : 0);
  }
  chain_descs_[ids[0]] = ids;
  push_head(ids[0]);
  return ids[0];
}

void SplitVirtqueueDriver::push_head(uint16_t head) {
  store16(avail_ + kAvailRing + 2u * (avail_idx_ & (size_ - 1)), head);
  avail_idx_++;
  outstanding_.push_back(head);
}

void SplitVirtqueueDriver::set_avail_idx_raw(uint16_t idx) {
  avail_idx_ = idx;
  store16_release(avail_ + kIdx, idx);
  published_avail_ = idx;
}

bool SplitVirtqueueDriver::publish() {
  uint16_t old = published_avail_;
  store16_release(avail_ + kIdx, avail_idx_);
  published_avail_ = avail_idx_;
  if (old == avail_idx_) return false;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (event_idx_) {
    uint16_t event = load16(used_ + kUsedRing + 8u * size_);
    return vring_need_event(event, avail_idx_, old) != 0;
  }
  return (load16(used_ + kFlags) & VRING_USED_F_NO_NOTIFY) == 0;
}

bool SplitVirtqueueDriver::get_used(DriverUsed* out) {
  if (load16_acquire(used_ + kIdx) == last_used_) return false;
  const uint8_t* e = used_ + kUsedRing + 8u * (last_used_ & (size_ - 1));
  uint32_t id = load32(e + offsetof(vring_used_elem, id));
  out->len = load32(e + offsetof(vring_used_elem, len));
  out->id = static_cast<uint16_t>(id);
  out->chains = 0;
  last_used_++;
  // Without IN_ORDER the entry completes exactly its chain; with it, every chain up to it.
  while (!outstanding_.empty()) {
    uint16_t head = in_order_ ? outstanding_.front() : static_cast<uint16_t>(id);
    if (!in_order_) {
      for (auto it = outstanding_.begin(); it != outstanding_.end(); ++it) {
        if (*it == head) {
          outstanding_.erase(it);
          break;
        }
      }
    } else {
      outstanding_.pop_front();
    }
    if (head < size_) {
      for (uint16_t d : chain_descs_[head]) {
        if (!in_order_) free_.push_back(d);
        free_count_++;
      }
      chain_descs_[head].clear();
    }
    out->chains++;
    if (!in_order_ || head == id) break;
  }
  return true;
}

void SplitVirtqueueDriver::set_interrupts(bool on) {
  if (event_idx_) {
    if (on) set_used_event(last_used_);
    return;
  }
  store16(avail_ + kFlags, on ? 0 : VRING_AVAIL_F_NO_INTERRUPT);
}

void SplitVirtqueueDriver::set_used_event(uint16_t idx) {
  store16(avail_ + kAvailRing + 2u * size_, idx);
}

}  // namespace ferry::virtio
