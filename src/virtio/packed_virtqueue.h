#pragma once

// PackedVirtqueue: the device side of a virtio 1.1 packed ring (spec 2.8).
//
//   descriptor ring     16 B x size {addr, len, id, flags}; the driver makes a descriptor
//                       available by flipping AVAIL/USED to match its wrap counter, the
//                       device returns it used by making both equal its own wrap counter
//   driver event area   {off_wrap, flags}: when the driver wants interrupts
//   device event area   {off_wrap, flags}: when the device wants kicks
//
// The device keeps two positions with wrap counters (both start at 1): where the next
// available chain begins, and where the next used descriptor is written. A chain is the
// run of descriptors linked with NEXT (buffer id in its last descriptor) or one INDIRECT
// descriptor whose table is read in order. Used descriptors carry the buffer id and the
// written length and advance the used position by the chain's descriptor count.
//
// Publication is batched: flush() writes ids and lengths, a release fence, the flags of
// all but the first used descriptor, and the first one's flags last, so the driver sees
// the whole burst at once. With in_order_batching one used descriptor (the last buffer id)
// covers all chains completed since the last flush (spec 2.8.9 IN_ORDER).
//
// Size need not be a power of two (1..32768). The same hostile-input checks as the split
// ring apply; the first violation breaks the queue.

#include <cstdint>
#include <string>
#include <vector>

#include "virtio/desc_chain.h"
#include "virtio/guest_memory.h"
#include "virtio/notify_policy.h"
#include "virtio/queue_error.h"
#include "virtio/ring_types.h"
#include "virtio/vring.h"

namespace ferry::virtio {

struct PackedVirtqueueConfig {
  uint16_t size = 0;
  uint8_t* desc = nullptr;  // host pointers (map_ring())
  uint8_t* driver_event = nullptr;
  uint8_t* device_event = nullptr;
  uint64_t desc_gpa = 0;  // guest-physical address of the ring (dirty log)
  uint16_t last_avail_idx = 0;
  bool avail_wrap = true;
  uint16_t last_used_idx = 0;
  bool used_wrap = true;
  bool indirect = false;
  bool event_idx = false;
  bool in_order_batching = false;
};

// Where popping stands, to give chains back (mergeable rx).
struct PackedAvailPosition {
  uint16_t idx;
  bool wrap;
  uint16_t inflight;
  uint32_t inflight_descs;
};

class PackedVirtqueue {
 public:
  static uint64_t desc_bytes(uint16_t size) { return 16ull * size; }
  static constexpr uint64_t kEventBytes = 4;
  static bool valid_size(uint32_t size) { return size != 0 && size <= kMaxQueueSize; }

  // Translates and checks the descriptor ring and both event areas (whole, aligned). With
  // front-end addresses the caller sets desc_gpa from the vring's log_guest_addr.
  static bool map_ring(const GuestMemory& mem, RingAddressSpace space, uint32_t size, uint64_t desc,
                       uint64_t driver_event, uint64_t device_event, PackedVirtqueueConfig* cfg,
                       std::string* error);

  // VHOST_USER_GET/SET_VRING_BASE for packed rings: bits 0-14 last avail index, bit 15
  // its wrap counter (the used position restarts there, as in DPDK).
  uint32_t vring_base() const {
    return last_avail_idx_ | (static_cast<uint32_t>(avail_wrap_) << 15);
  }
  static void apply_vring_base(uint32_t base, PackedVirtqueueConfig* cfg) {
    cfg->last_avail_idx = cfg->last_used_idx = base & 0x7fff;
    cfg->avail_wrap = cfg->used_wrap = ((base >> 15) & 1) != 0;
  }

  PackedVirtqueue(GuestMemory* mem, const PackedVirtqueueConfig& cfg);

  uint16_t size() const { return size_; }

  // --- available side --------------------------------------------------------------------
  PopStatus pop(DescChain* chain);
  // As SplitVirtqueue::pop_burst: each chain's readable data, from data_offset on,
  // starts loading as soon as the chain is popped.
  uint16_t pop_burst(DescChain* chains, uint16_t max, uint32_t data_offset = 0);
  // Starts loading the lines of the next n descriptors, which the driver wrote on its own
  // core, so that popping them does not stall on each line in turn.
  void prefetch_avail(uint16_t n) const;
  bool has_available();
  uint16_t last_avail_idx() const { return last_avail_idx_; }
  bool avail_wrap() const { return avail_wrap_; }
  PackedAvailPosition avail_position() const {
    return {last_avail_idx_, avail_wrap_, inflight_, inflight_descs_};
  }
  void rewind_avail(const PackedAvailPosition& pos);

  // --- used side -------------------------------------------------------------------------
  // Inline: called once per chain on the fast path.
  void add_used(const DescChain& chain, uint32_t written) {
    if (FERRY_UNLIKELY(mem_->logging()) && written != 0) log_written(*mem_, chain, written);
    add_used(chain.id, written, chain.desc_count);
  }
  void add_used(uint16_t id, uint32_t len, uint16_t desc_count);
  void flush();
  bool needs_interrupt();
  uint16_t last_used_idx() const { return used_idx_; }
  bool used_wrap() const { return used_wrap_; }

  // --- kicks -----------------------------------------------------------------------------
  void set_kick_enabled(bool on);
  bool enable_kick_and_recheck();
  NotifyPolicy& notify_policy() { return policy_; }

  // --- errors ----------------------------------------------------------------------------
  bool broken() const { return broken_ != QueueError::kNone; }
  QueueError broken_reason() const { return broken_; }
  const char* broken_detail() const { return detail_; }
  const QueueErrorCounters& errors() const { return errors_; }
  void set_broken(QueueError reason, uint32_t where);

 private:
  struct UsedEntry {
    uint16_t pos;
    uint16_t id;
    uint32_t len;
    uint16_t flags;
  };
  QueueError walk(DescChain* chain, uint32_t* where, uint16_t* pos, bool* wrap);
  void advance_used(uint16_t count) {
    uint32_t next = uint32_t{used_idx_} + count;
    if (next >= size_) {
      next -= size_;
      used_wrap_ = !used_wrap_;
    }
    used_idx_ = static_cast<uint16_t>(next);
  }
  // AVAIL and USED both equal to the used wrap counter; WRITE when the device wrote data.
  static uint16_t used_flags(bool wrap, uint32_t len) {
    constexpr uint16_t kBoth = (1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED);
    uint16_t f = wrap ? kBoth : 0;
    if (len != 0) f |= VRING_DESC_F_WRITE;
    return f;
  }
  void write_device_event();

  GuestMemory* mem_;
  uint8_t* desc_;
  uint8_t* driver_event_;
  uint8_t* device_event_;
  uint64_t desc_gpa_;
  uint16_t size_;
  uint16_t last_avail_idx_;
  bool avail_wrap_;
  uint16_t used_idx_;
  bool used_wrap_;
  uint16_t published_used_idx_;
  bool published_used_wrap_;
  bool indirect_;
  bool in_order_batching_;
  uint16_t inflight_ = 0;          // chains popped, not completed
  uint32_t inflight_descs_ = 0;    // ring slots they hold
  std::vector<UsedEntry> shadow_;  // used descriptors not yet published
  uint32_t shadow_count_ = 0;
  uint32_t batch_frames_ = 0;  // in-order: chains folded into shadow_[0]
  QueueError broken_ = QueueError::kNone;
  QueueErrorCounters errors_;
  NotifyPolicy policy_;
  char detail_[128] = "";
};

inline void PackedVirtqueue::add_used(uint16_t id, uint32_t len, uint16_t desc_count) {
  if (FERRY_UNLIKELY(broken() || inflight_ == 0 || desc_count == 0 ||
                     desc_count > inflight_descs_)) {
    return;
  }
  inflight_--;
  inflight_descs_ -= desc_count;
  if (in_order_batching_ && shadow_count_ != 0) {
    // One used descriptor, at the batch's first position, names the last buffer.
    UsedEntry& first = shadow_[0];
    first.id = id;
    first.len = len;
    first.flags = used_flags((first.flags & (1u << VRING_PACKED_DESC_F_USED)) != 0, len);
  } else {
    // More completions than the ring holds since the last flush (the driver re-offered
    // slots early): publish what is there rather than overrun the shadow.
    if (FERRY_UNLIKELY(shadow_count_ == shadow_.size())) flush();
    shadow_[shadow_count_++] = UsedEntry{used_idx_, id, len, used_flags(used_wrap_, len)};
  }
  batch_frames_++;
  advance_used(desc_count);
}

}  // namespace ferry::virtio
