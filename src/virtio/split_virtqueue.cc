#include "virtio/split_virtqueue.h"

#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <utility>

#include "virtio/chain_builder.h"
#include "virtio/ring_access.h"
#include "virtio/vring.h"

namespace ferry::virtio {

namespace {
// Offsets inside the avail and used areas (struct vring_avail / vring_used).
constexpr uint64_t kRingFlags = offsetof(vring_avail, flags);
constexpr uint64_t kRingIdx = offsetof(vring_avail, idx);
constexpr uint64_t kAvailRing = offsetof(vring_avail, ring);
constexpr uint64_t kUsedRing = offsetof(vring_used, ring);
static_assert(offsetof(vring_used, idx) == kRingIdx && offsetof(vring_used, flags) == kRingFlags);
static_assert(sizeof(vring_used_elem) == 8 && sizeof(vring_desc) == sizeof(RawDesc));

uint8_t* translate(const GuestMemory& mem, RingAddressSpace space, uint64_t addr, uint64_t len) {
  return space == RingAddressSpace::kGuestPhysical ? mem.translate(addr, len)
                                                   : mem.translate_user(addr, len);
}
}  // namespace

bool SplitVirtqueue::map_ring(const GuestMemory& mem, RingAddressSpace space, uint32_t size,
                              uint64_t desc, uint64_t avail, uint64_t used,
                              SplitVirtqueueConfig* cfg, std::string* error) {
  if (!valid_size(size)) {
    *error = "split queue size " + std::to_string(size) + " is not a power of two <= 32768";
    return false;
  }
  uint16_t n = static_cast<uint16_t>(size);
  struct Area {
    const char* name;
    uint64_t addr;
    uint64_t len;
    uint64_t align;
    uint8_t** out;
  } areas[] = {{"descriptor table", desc, desc_bytes(n), VRING_DESC_ALIGN_SIZE, &cfg->desc},
               {"avail ring", avail, avail_bytes(n), VRING_AVAIL_ALIGN_SIZE, &cfg->avail},
               {"used ring", used, used_bytes(n), VRING_USED_ALIGN_SIZE, &cfg->used}};
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
  if (space == RingAddressSpace::kGuestPhysical) cfg->used_gpa = used;
  return true;
}

SplitVirtqueue::SplitVirtqueue(GuestMemory* mem, const SplitVirtqueueConfig& cfg)
    : mem_(mem),
      desc_(cfg.desc),
      avail_(cfg.avail),
      used_(cfg.used),
      used_gpa_(cfg.used_gpa),
      size_(cfg.size),
      mask_(static_cast<uint16_t>(cfg.size - 1)),
      last_avail_idx_(cfg.last_avail_idx),
      avail_idx_shadow_(cfg.last_avail_idx),
      used_idx_(cfg.used_idx),
      published_used_(cfg.used_idx),
      indirect_(cfg.indirect),
      in_order_batching_(cfg.in_order_batching) {
  policy_.reset(cfg.event_idx);
  if (cfg.inflight != nullptr) attach_inflight(cfg);
}

namespace {
template <typename T>
FERRY_ALWAYS_INLINE void area_store(T& field, T v) {
  __atomic_store_n(&field, v, __ATOMIC_RELAXED);
}
}  // namespace

void SplitVirtqueue::attach_inflight(const SplitVirtqueueConfig& cfg) {
  if (cfg.inflight_capacity < size_) {
    inflight_error_ = InflightError::kBadDescNum;  // no room: not tracked
    return;
  }
  uint16_t used = load16_acquire(used_ + kRingIdx);
  uint16_t avail = load16_acquire(avail_ + kRingIdx);
  InflightRecovery rec =
      recover_split_inflight(cfg.inflight, cfg.inflight_capacity, size_, used, avail);
  area_ = cfg.inflight;
  area_desc_ = area_->desc();
  slow_ = true;
  in_order_batching_ = false;
  pop_log_.assign(size_, 0);
  batch_ids_.assign(size_, 0);
  inflight_error_ = rec.error;
  inflight_fresh_ = rec.fresh;
  if (rec.error != InflightError::kNone || rec.fresh) return;  // start from the config
  counter_ = rec.next_counter;
  batch_cleared_ = rec.batch_cleared;
  resubmit_ = std::move(rec.resubmit);
  last_avail_idx_ = avail_idx_shadow_ = rec.last_avail_idx;
  used_idx_ = published_used_ = used;
}

void SplitVirtqueue::set_broken(QueueError reason, uint32_t where) {
  if (broken_ != QueueError::kNone) return;
  broken_ = reason;
  slow_ = true;
  errors_.add(reason);
  std::snprintf(detail_, sizeof(detail_), "split queue broken: %s (at %" PRIu32 ", avail idx %u)",
                to_string(reason), where, static_cast<unsigned>(last_avail_idx_));
}

FERRY_ALWAYS_INLINE RawDesc SplitVirtqueue::desc_at(uint16_t idx) const {
  return load_desc(desc_ + uint64_t{idx} * sizeof(RawDesc));
}

QueueError SplitVirtqueue::walk(uint16_t head, RawDesc d, DescChain* chain, uint32_t* where) {
  ChainBuilder builder(*mem_, chain);
  uint16_t idx = head;
  uint32_t steps = 0;
  for (;;) {
    *where = idx;
    if (FERRY_UNLIKELY(++steps > size_)) return QueueError::kChainTooLong;
    uint16_t flags = d.a;
    if (FERRY_UNLIKELY(flags & VRING_DESC_F_INDIRECT)) {
      if (!indirect_) return QueueError::kIndirectNotNegotiated;
      if (flags & VRING_DESC_F_NEXT) return QueueError::kIndirectWithNext;
      IndirectTable table;
      QueueError err = table.open(*mem_, d.addr, d.len);
      if (err != QueueError::kNone) return err;
      uint32_t i = 0;
      for (uint32_t n = 1;; n++) {
        *where = i;
        if (n > table.entries()) return QueueError::kChainTooLong;
        RawDesc e;
        if (!table.read(i, &e)) return QueueError::kIndirectOutOfMemory;
        if (e.a & VRING_DESC_F_INDIRECT) return QueueError::kIndirectNested;
        err = builder.add(e.addr, e.len, (e.a & VRING_DESC_F_WRITE) != 0);
        if (err != QueueError::kNone) return err;
        if (!(e.a & VRING_DESC_F_NEXT)) break;
        i = e.b;
        if (i >= table.entries()) return QueueError::kDescIndexOutOfRange;
      }
      break;  // an indirect descriptor ends the chain (it cannot have NEXT)
    }
    QueueError err = builder.add(d.addr, d.len, (flags & VRING_DESC_F_WRITE) != 0);
    if (FERRY_UNLIKELY(err != QueueError::kNone)) return err;
    if (!(flags & VRING_DESC_F_NEXT)) break;
    idx = d.b;
    if (FERRY_UNLIKELY(idx >= size_)) return QueueError::kDescIndexOutOfRange;
    d = desc_at(idx);
  }
  chain->desc_count = static_cast<uint16_t>(steps);
  return QueueError::kNone;
}

FERRY_ALWAYS_INLINE PopStatus SplitVirtqueue::pop_avail(DescChain* chain) {
  if (last_avail_idx_ == avail_idx_shadow_) {
    avail_idx_shadow_ = load16_acquire(avail_ + kRingIdx);
    if (FERRY_UNLIKELY(static_cast<uint16_t>(avail_idx_shadow_ - last_avail_idx_) > size_)) {
      set_broken(QueueError::kAvailIdxJump, avail_idx_shadow_);
      return PopStatus::kBroken;
    }
    if (last_avail_idx_ == avail_idx_shadow_) return PopStatus::kEmpty;
  }
  uint16_t head = load16(avail_ + kAvailRing + 2u * (last_avail_idx_ & mask_));
  if (FERRY_UNLIKELY(head >= size_)) {
    set_broken(QueueError::kDescIndexOutOfRange, head);
    return PopStatus::kBroken;
  }
  uint32_t where = head;
  QueueError err;
  RawDesc d = desc_at(head);
  if (FERRY_LIKELY((d.a & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT)) == 0)) {
    // A chain of one descriptor (DPDK's frames, Linux's receive buffers): walk()'s checks
    // for one buffer, without its loop. The flags checked are the flags used.
    ChainBuilder builder(*mem_, chain);
    err = builder.add(d.addr, d.len, (d.a & VRING_DESC_F_WRITE) != 0);
    chain->desc_count = 1;
  } else {
    err = walk(head, d, chain, &where);
  }
  if (FERRY_UNLIKELY(err != QueueError::kNone)) {
    set_broken(err, where);
    return PopStatus::kBroken;
  }
  chain->id = head;
  last_avail_idx_++;
  inflight_++;
  return PopStatus::kOk;
}

PopStatus SplitVirtqueue::pop(DescChain* chain) {
  if (FERRY_UNLIKELY(slow_)) return pop_slow(chain);
  return pop_avail(chain);
}

PopStatus SplitVirtqueue::pop_slow(DescChain* chain) {
  if (broken()) return PopStatus::kBroken;
  if (resubmit_pos_ < resubmit_.size()) {
    // A chain the previous device left inflight: still flagged, same counter.
    uint16_t head = resubmit_[resubmit_pos_];
    uint32_t where = head;
    QueueError err = walk(head, desc_at(head), chain, &where);
    if (err != QueueError::kNone) {
      set_broken(err, where);
      return PopStatus::kBroken;
    }
    chain->id = head;
    resubmit_pos_++;
    inflight_++;
    return PopStatus::kOk;
  }
  PopStatus s = pop_avail(chain);
  if (s == PopStatus::kOk) {
    uint16_t head = static_cast<uint16_t>(chain->id);
    pop_log_[static_cast<uint16_t>(last_avail_idx_ - 1) & mask_] = head;
    area_store(area_desc_[head].counter, counter_++);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    area_store(area_desc_[head].inflight, uint8_t{1});
  }
  return s;
}

void SplitVirtqueue::prefetch_avail(uint16_t n) {
  if (FERRY_UNLIKELY(slow_)) return;
  uint16_t ready = static_cast<uint16_t>(avail_idx_shadow_ - last_avail_idx_);
  if (ready < n) {
    uint16_t idx = load16_acquire(avail_ + kRingIdx);
    ready = static_cast<uint16_t>(idx - last_avail_idx_);
    if (ready > size_) return;  // pop_avail() breaks the queue when it gets there
    avail_idx_shadow_ = idx;
  }
  if (n > ready) n = ready;
  uintptr_t last_line = 0;
  for (uint16_t i = 0; i < n; i++) {
    uint16_t slot = static_cast<uint16_t>(last_avail_idx_ + i) & mask_;
    uint16_t head = load16(avail_ + kAvailRing + 2u * slot) & mask_;
    uintptr_t line = reinterpret_cast<uintptr_t>(desc_ + uint64_t{head} * sizeof(RawDesc)) &
                     ~uintptr_t{kCacheLineSize - 1};
    if (line != last_line) __builtin_prefetch(reinterpret_cast<const void*>(line));
    last_line = line;
  }
}

uint16_t SplitVirtqueue::pop_burst(DescChain* chains, uint16_t max, uint32_t data_offset) {
  prefetch_avail(max);
  uint16_t n = 0;
  while (n < max && pop(&chains[n]) == PopStatus::kOk) {
    prefetch_readable(chains[n], data_offset);
    n++;
  }
  return n;
}

bool SplitVirtqueue::has_available() {
  if (broken()) return false;
  if (FERRY_UNLIKELY(resubmit_pos_ < resubmit_.size())) return true;
  avail_idx_shadow_ = load16_acquire(avail_ + kRingIdx);
  return avail_idx_shadow_ != last_avail_idx_;
}

void SplitVirtqueue::rewind_avail(uint32_t position) {
  uint16_t to_avail = static_cast<uint16_t>(position);
  uint16_t to_resubmit = static_cast<uint16_t>(position >> 16);
  if (to_resubmit > resubmit_pos_) return;
  uint32_t back = static_cast<uint16_t>(last_avail_idx_ - to_avail);
  back += resubmit_pos_ - to_resubmit;
  if (back > inflight_) return;  // not chains this queue handed out
  if (area_ != nullptr) {
    // Newest first: a crash in between leaves the flagged ones right after the used ones.
    for (uint16_t p = last_avail_idx_; p != to_avail;) {
      p--;
      area_store(area_desc_[pop_log_[p & mask_]].inflight, uint8_t{0});
    }
  }
  // Resubmitted chains given back stay flagged: they are still the previous device's.
  inflight_ = static_cast<uint16_t>(inflight_ - back);
  last_avail_idx_ = to_avail;
  resubmit_pos_ = to_resubmit;
}

void SplitVirtqueue::log_used(uint64_t offset, uint64_t len) {
  if (FERRY_UNLIKELY(mem_->logging())) mem_->mark_dirty(used_gpa_ + offset, len);
}

void SplitVirtqueue::write_used(uint16_t slot, uint32_t id, uint32_t len) {
  uint8_t* e = used_ + kUsedRing + 8ull * slot;
  store32(e + offsetof(vring_used_elem, id), id);
  store32(e + offsetof(vring_used_elem, len), len);
  log_used(kUsedRing + 8ull * slot, 8);
}

void SplitVirtqueue::add_used(uint16_t id, uint32_t len) {
  if (FERRY_UNLIKELY(broken() || inflight_ == 0)) return;
  inflight_--;
  if (in_order_batching_) {
    batch_pending_ = true;
    batch_id_ = id;
    batch_len_ = len;
    batch_frames_++;
    return;
  }
  // A full ring of unpublished entries: publish before overwriting the oldest.
  if (FERRY_UNLIKELY(static_cast<uint16_t>(used_idx_ - published_used_) == size_)) flush();
  write_used(used_idx_ & mask_, id, len);
  used_idx_++;
}

void SplitVirtqueue::add_used(const DescChain& chain, uint32_t written) {
  if (FERRY_UNLIKELY(mem_->logging()) && written != 0) log_written(*mem_, chain, written);
  add_used(chain.id, written);
}

void SplitVirtqueue::flush() {
  if (FERRY_UNLIKELY(broken())) return;
  uint32_t frames = static_cast<uint16_t>(used_idx_ - published_used_);
  if (batch_pending_) {
    write_used(used_idx_ & mask_, batch_id_, batch_len_);
    used_idx_++;
    frames = batch_frames_;
    batch_pending_ = false;
    batch_frames_ = 0;
  }
  if (used_idx_ != published_used_) {
    if (FERRY_UNLIKELY(area_ != nullptr)) {
      publish_tracked();
    } else {
      store16_release(used_ + kRingIdx, used_idx_);
    }
    log_used(kRingIdx, 2);
    published_used_ = used_idx_;
    policy_.note_used(frames);
  }
  if (policy_.event_idx() && policy_.kick_enabled()) {
    store16(used_ + kUsedRing + 8ull * size_, last_avail_idx_);
    log_used(kUsedRing + 8ull * size_, 2);
  }
}

void SplitVirtqueue::publish_tracked() {
  // The batch is what the used ring holds between the published and the new index (ids
  // this queue wrote; a driver overwriting them only confuses its own recovery).
  uint16_t n = static_cast<uint16_t>(used_idx_ - published_used_);
  uint16_t head = __atomic_load_n(&area_->last_batch_head, __ATOMIC_RELAXED);
  uint16_t k = 0;
  for (uint16_t i = 0; i < n; i++) {
    uint16_t slot = static_cast<uint16_t>(published_used_ + i) & mask_;
    uint32_t id = load32(used_ + kUsedRing + 8ull * slot + offsetof(vring_used_elem, id));
    if (id >= size_) continue;
    batch_ids_[k++] = static_cast<uint16_t>(id);
    area_store(area_desc_[id].next, head);
    head = static_cast<uint16_t>(id);
  }
  area_store(area_->last_batch_head, head);
  // The list is complete before used->idx moves (release), and the flags are cleared only
  // after it moved: a crash anywhere in between is repaired by recover_split_inflight().
  store16_release(used_ + kRingIdx, used_idx_);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  for (uint16_t i = 0; i < k; i++)
    area_store(area_desc_[batch_ids_[i]].inflight, uint8_t{0});
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  area_store(area_->used_idx, used_idx_);
}

bool SplitVirtqueue::needs_interrupt() {
  if (FERRY_UNLIKELY(broken())) return false;
  // The used->idx store must be visible before the driver's used_event is read, or an
  // interrupt can be lost (the driver re-enabled interrupts in between).
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint16_t used_event = load16(avail_ + kAvailRing + 2ull * size_);
  uint16_t flags = load16(avail_ + kRingFlags);
  return policy_.split_interrupt(published_used_, used_event, flags);
}

void SplitVirtqueue::set_kick_enabled(bool on) {
  if (broken()) return;
  policy_.set_kick_enabled(on);
  if (!policy_.event_idx()) {
    store16(used_ + kRingFlags, on ? 0 : VRING_USED_F_NO_NOTIFY);
    log_used(kRingFlags, 2);
  } else if (on) {
    store16(used_ + kUsedRing + 8ull * size_, last_avail_idx_);
    log_used(kUsedRing + 8ull * size_, 2);
  }
}

bool SplitVirtqueue::enable_kick_and_recheck() {
  set_kick_enabled(true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return has_available();
}

}  // namespace ferry::virtio
