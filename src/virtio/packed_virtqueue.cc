#include "virtio/packed_virtqueue.h"

#include <cinttypes>
#include <cstddef>
#include <cstdio>

#include "virtio/chain_builder.h"
#include "virtio/ring_access.h"
#include "virtio/vring.h"

namespace ferry::virtio {

namespace {
constexpr uint64_t kDescLen = offsetof(vring_packed_desc, len);
constexpr uint64_t kDescId = offsetof(vring_packed_desc, id);
constexpr uint64_t kDescFlags = offsetof(vring_packed_desc, flags);
constexpr uint64_t kEventOffWrap = offsetof(vring_packed_desc_event, off_wrap);
constexpr uint64_t kEventFlags = offsetof(vring_packed_desc_event, flags);
constexpr uint16_t kAvailBit = 1u << VRING_PACKED_DESC_F_AVAIL;
constexpr uint16_t kUsedBit = 1u << VRING_PACKED_DESC_F_USED;
static_assert(sizeof(vring_packed_desc) == sizeof(RawDesc));

// A descriptor is available when AVAIL matches the wrap counter and USED does not.
FERRY_ALWAYS_INLINE bool is_avail(uint16_t flags, bool wrap) {
  return ((flags & kAvailBit) != 0) == wrap && ((flags & kUsedBit) != 0) != wrap;
}

uint8_t* translate(const GuestMemory& mem, RingAddressSpace space, uint64_t addr, uint64_t len) {
  return space == RingAddressSpace::kGuestPhysical ? mem.translate(addr, len)
                                                   : mem.translate_user(addr, len);
}
}  // namespace

bool PackedVirtqueue::map_ring(const GuestMemory& mem, RingAddressSpace space, uint32_t size,
                               uint64_t desc, uint64_t driver_event, uint64_t device_event,
                               PackedVirtqueueConfig* cfg, std::string* error) {
  if (!valid_size(size)) {
    *error = "packed queue size " + std::to_string(size) + " is not in 1..32768";
    return false;
  }
  uint16_t n = static_cast<uint16_t>(size);
  struct Area {
    const char* name;
    uint64_t addr;
    uint64_t len;
    uint64_t align;
    uint8_t** out;
  } areas[] = {{"descriptor ring", desc, desc_bytes(n), 16, &cfg->desc},
               {"driver event area", driver_event, kEventBytes, 4, &cfg->driver_event},
               {"device event area", device_event, kEventBytes, 4, &cfg->device_event}};
  for (const Area& a : areas) {
    uint8_t* host = translate(mem, space, a.addr, a.len);
    if (host == nullptr) {
      *error = std::string(a.name) + " outside guest memory";
      return false;
    }
    if (a.addr % a.align != 0 || reinterpret_cast<uintptr_t>(host) % a.align != 0) {
      *error = std::string(a.name) + " misaligned";
      return false;
    }
    *a.out = host;
  }
  cfg->size = n;
  if (space == RingAddressSpace::kGuestPhysical) cfg->desc_gpa = desc;
  return true;
}

PackedVirtqueue::PackedVirtqueue(GuestMemory* mem, const PackedVirtqueueConfig& cfg)
    : mem_(mem),
      desc_(cfg.desc),
      driver_event_(cfg.driver_event),
      device_event_(cfg.device_event),
      desc_gpa_(cfg.desc_gpa),
      size_(cfg.size),
      last_avail_idx_(cfg.last_avail_idx),
      avail_wrap_(cfg.avail_wrap),
      used_idx_(cfg.last_used_idx),
      used_wrap_(cfg.used_wrap),
      published_used_idx_(cfg.last_used_idx),
      published_used_wrap_(cfg.used_wrap),
      indirect_(cfg.indirect),
      in_order_batching_(cfg.in_order_batching),
      shadow_(cfg.size) {
  policy_.reset(cfg.event_idx);
  if (last_avail_idx_ >= size_) set_broken(QueueError::kDescIndexOutOfRange, last_avail_idx_);
  if (used_idx_ >= size_) set_broken(QueueError::kDescIndexOutOfRange, used_idx_);
}

void PackedVirtqueue::set_broken(QueueError reason, uint32_t where) {
  if (broken_ != QueueError::kNone) return;
  broken_ = reason;
  errors_.add(reason);
  std::snprintf(detail_, sizeof(detail_),
                "packed queue broken: %s (at %" PRIu32 ", avail %u wrap %d)", to_string(reason),
                where, static_cast<unsigned>(last_avail_idx_), avail_wrap_ ? 1 : 0);
}

QueueError PackedVirtqueue::walk(DescChain* chain, uint32_t* where, uint16_t* pos, bool* wrap) {
  ChainBuilder builder(*mem_, chain);
  uint32_t steps = 0;
  uint32_t room = size_ - inflight_descs_;  // slots the driver can have made available
  for (;;) {
    *where = *pos;
    if (FERRY_UNLIKELY(++steps > room)) {
      return steps > size_ ? QueueError::kChainTooLong : QueueError::kAvailIdxJump;
    }
    RawDesc d = load_desc(desc_ + uint64_t{*pos} * sizeof(RawDesc));
    uint16_t flags = d.b;
    chain->id = d.a;  // the buffer id is the one in the chain's last descriptor
    if (++*pos == size_) {
      *pos = 0;
      *wrap = !*wrap;
    }
    if (FERRY_UNLIKELY(flags & VRING_DESC_F_INDIRECT)) {
      if (!indirect_) return QueueError::kIndirectNotNegotiated;
      if (flags & VRING_DESC_F_NEXT) return QueueError::kIndirectWithNext;
      IndirectTable table;
      QueueError err = table.open(*mem_, d.addr, d.len);
      if (err != QueueError::kNone) return err;
      for (uint32_t i = 0; i < table.entries(); i++) {
        *where = i;
        RawDesc e;
        if (!table.read(i, &e)) return QueueError::kIndirectOutOfMemory;
        if (e.b & VRING_DESC_F_INDIRECT) return QueueError::kIndirectNested;
        err = builder.add(e.addr, e.len, (e.b & VRING_DESC_F_WRITE) != 0);
        if (err != QueueError::kNone) return err;
      }
      break;
    }
    QueueError err = builder.add(d.addr, d.len, (flags & VRING_DESC_F_WRITE) != 0);
    if (FERRY_UNLIKELY(err != QueueError::kNone)) return err;
    if (!(flags & VRING_DESC_F_NEXT)) break;
  }
  chain->desc_count = static_cast<uint16_t>(steps);
  return QueueError::kNone;
}

PopStatus PackedVirtqueue::pop(DescChain* chain) {
  if (FERRY_UNLIKELY(broken())) return PopStatus::kBroken;
  const uint8_t* head = desc_ + uint64_t{last_avail_idx_} * sizeof(RawDesc);
  uint16_t head_flags = load16_acquire(head + kDescFlags);
  if (!is_avail(head_flags, avail_wrap_)) return PopStatus::kEmpty;
  uint16_t pos = last_avail_idx_;
  bool wrap = avail_wrap_;
  uint32_t where = pos;
  QueueError err;
  if (FERRY_LIKELY((head_flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT)) == 0 &&
                   inflight_descs_ < size_)) {
    // A chain of one descriptor (DPDK's frames, Linux's receive buffers): walk()'s checks
    // for one buffer, without its loop. The flags checked are the flags used.
    RawDesc d = load_desc(head);
    ChainBuilder builder(*mem_, chain);
    err = builder.add(d.addr, d.len, (head_flags & VRING_DESC_F_WRITE) != 0);
    chain->id = d.a;
    chain->desc_count = 1;
    if (++pos == size_) {
      pos = 0;
      wrap = !wrap;
    }
  } else {
    err = walk(chain, &where, &pos, &wrap);
  }
  if (FERRY_UNLIKELY(err != QueueError::kNone)) {
    set_broken(err, where);
    return PopStatus::kBroken;
  }
  last_avail_idx_ = pos;
  avail_wrap_ = wrap;
  inflight_++;
  inflight_descs_ += chain->desc_count;
  return PopStatus::kOk;
}

void PackedVirtqueue::prefetch_avail(uint16_t n) const {
  uint32_t pos = last_avail_idx_;
  for (uint32_t k = 0; k < n; k += 4) {  // four descriptors a line
    __builtin_prefetch(desc_ + uint64_t{pos} * 16);
    pos += 4;
    if (pos >= size_) pos -= size_;
  }
}

uint16_t PackedVirtqueue::pop_burst(DescChain* chains, uint16_t max, uint32_t data_offset) {
  prefetch_avail(max);
  uint16_t n = 0;
  while (n < max && pop(&chains[n]) == PopStatus::kOk) {
    prefetch_readable(chains[n], data_offset);
    n++;
  }
  return n;
}

bool PackedVirtqueue::has_available() {
  if (broken()) return false;
  uint16_t flags = load16_acquire(desc_ + uint64_t{last_avail_idx_} * 16 + kDescFlags);
  return is_avail(flags, avail_wrap_);
}

void PackedVirtqueue::rewind_avail(const PackedAvailPosition& pos) {
  if (pos.inflight > inflight_ || pos.inflight_descs > inflight_descs_ || pos.idx >= size_) {
    return;
  }
  last_avail_idx_ = pos.idx;
  avail_wrap_ = pos.wrap;
  inflight_ = pos.inflight;
  inflight_descs_ = pos.inflight_descs;
}

void PackedVirtqueue::flush() {
  if (FERRY_UNLIKELY(broken())) return;
  if (shadow_count_ != 0) {
    for (uint32_t i = 0; i < shadow_count_; i++) {
      uint8_t* d = desc_ + uint64_t{shadow_[i].pos} * 16;
      store16(d + kDescId, shadow_[i].id);
      store32(d + kDescLen, shadow_[i].len);
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (uint32_t i = 1; i < shadow_count_; i++) {
      store16(desc_ + uint64_t{shadow_[i].pos} * 16 + kDescFlags, shadow_[i].flags);
    }
    store16_release(desc_ + uint64_t{shadow_[0].pos} * 16 + kDescFlags, shadow_[0].flags);
    if (FERRY_UNLIKELY(mem_->logging())) {
      for (uint32_t i = 0; i < shadow_count_; i++) {
        mem_->mark_dirty(desc_gpa_ + uint64_t{shadow_[i].pos} * 16, 16);
      }
    }
    shadow_count_ = 0;
    published_used_idx_ = used_idx_;
    published_used_wrap_ = used_wrap_;
    policy_.note_used(batch_frames_);
    batch_frames_ = 0;
  }
  if (policy_.event_idx() && policy_.kick_enabled()) write_device_event();
}

bool PackedVirtqueue::needs_interrupt() {
  if (FERRY_UNLIKELY(broken())) return false;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint16_t flags = load16(driver_event_ + kEventFlags);
  uint16_t off_wrap = load16(driver_event_ + kEventOffWrap);
  return policy_.packed_interrupt(published_used_idx_, published_used_wrap_, size_, flags,
                                  off_wrap);
}

void PackedVirtqueue::write_device_event() {
  uint16_t off_wrap = static_cast<uint16_t>(
      last_avail_idx_ | (uint16_t{avail_wrap_} << VRING_PACKED_EVENT_F_WRAP_CTR));
  store16(device_event_ + kEventOffWrap, off_wrap);
  store16_release(device_event_ + kEventFlags, VRING_PACKED_EVENT_FLAG_DESC);
}

void PackedVirtqueue::set_kick_enabled(bool on) {
  if (broken()) return;
  policy_.set_kick_enabled(on);
  if (!on) {
    store16(device_event_ + kEventFlags, VRING_PACKED_EVENT_FLAG_DISABLE);
  } else if (policy_.event_idx()) {
    write_device_event();
  } else {
    store16(device_event_ + kEventFlags, VRING_PACKED_EVENT_FLAG_ENABLE);
  }
}

bool PackedVirtqueue::enable_kick_and_recheck() {
  set_kick_enabled(true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return has_available();
}

}  // namespace ferry::virtio
