#pragma once

// SplitVirtqueue: the device side of a virtio 1.x split ring (spec 2.7).
//
//   descriptor table  16 B x size     driver writes; device reads (never trusted)
//   avail ring        flags idx ring[size] used_event     driver -> device
//   used ring         flags idx ring[size] avail_event    device -> driver
//
// The vhost layer maps the three areas (map_ring() translates and bounds-checks them as a
// whole) and hands the host pointers in a SplitVirtqueueConfig. Then, per burst:
//
//   n = q.pop_burst(chains, 32);            // checked, translated chains
//   ... copy data, q.add_used(chains[i], written) ...
//   q.flush();                              // one release store of used->idx
//   if (q.needs_interrupt()) signal callfd;
//
// Every descriptor is copied out of guest memory once and checked before use; the first
// violation breaks the queue (broken_reason(), broken_detail(), errors()), after which the
// queue neither reads nor writes guest memory. Chains are never partially consumed: a
// failed pop leaves last_avail_idx where it was.
//
// IN_ORDER: with in_order_batching set (tx queues, whose used lengths the driver
// ignores) a flush writes one used entry for all chains completed since the last flush,
// carrying the id of the last one, as spec 2.7.9 allows.
//
// Inflight tracking (inflight.h): with an inflight area in the config every pop flags its
// head in the area and every used publication retires the flags in the crash-safe order.
// On construction the area is recovered: chains a previous device left inflight are popped
// again (in their original order) before any new available chain, and the avail ring
// continues past them. in_order_batching is ignored then (recovery counts used entries as
// chains). Without an area the only cost is the existing unlikely branch per pop and one
// per used publication.

#include <cstdint>
#include <string>
#include <vector>

#include "virtio/desc_chain.h"
#include "virtio/guest_memory.h"
#include "virtio/inflight.h"
#include "virtio/notify_policy.h"
#include "virtio/queue_error.h"
#include "virtio/ring_types.h"

namespace ferry::virtio {

struct RawDesc;  // chain_builder.h

struct SplitVirtqueueConfig {
  uint16_t size = 0;        // power of two, <= 32768
  uint8_t* desc = nullptr;  // host pointers to the three areas (map_ring())
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  uint64_t used_gpa = 0;           // guest-physical address of the used ring (dirty log)
  uint16_t last_avail_idx = 0;     // VHOST_USER_SET_VRING_BASE
  uint16_t used_idx = 0;           // the used->idx to continue from
  bool indirect = false;           // VIRTIO_RING_F_INDIRECT_DESC
  bool event_idx = false;          // VIRTIO_RING_F_EVENT_IDX
  bool in_order_batching = false;  // VIRTIO_F_IN_ORDER, one used entry per flush
  // Inflight tracking area of this ring (vhost-user INFLIGHT_SHMFD) with room for
  // inflight_capacity entries, or null. It must stay mapped while the queue exists.
  InflightQueueSplit* inflight = nullptr;
  uint32_t inflight_capacity = 0;
};

class SplitVirtqueue {
 public:
  // Area sizes of a split ring of `size` entries (spec 2.7), with the event index words.
  static uint64_t desc_bytes(uint16_t size) { return 16ull * size; }
  static uint64_t avail_bytes(uint16_t size) { return 6ull + 2ull * size; }
  static uint64_t used_bytes(uint16_t size) { return 6ull + 8ull * size; }
  static bool valid_size(uint32_t size) {
    return size != 0 && size <= kMaxQueueSize && (size & (size - 1)) == 0;
  }

  // Translates the ring addresses and checks that each whole area lies inside one guest
  // memory region and is aligned (16/2/4). On success fills size, the host pointers and
  // (for guest-physical addresses) used_gpa in *cfg; else false and *error. With front-end
  // addresses the caller sets used_gpa from the vring's log_guest_addr.
  static bool map_ring(const GuestMemory& mem, RingAddressSpace space, uint32_t size, uint64_t desc,
                       uint64_t avail, uint64_t used, SplitVirtqueueConfig* cfg,
                       std::string* error);

  SplitVirtqueue(GuestMemory* mem, const SplitVirtqueueConfig& cfg);

  uint16_t size() const { return size_; }

  // --- available side --------------------------------------------------------------------
  PopStatus pop(DescChain* chain);
  // Pops up to max chains; stops early on empty or broken. Returns the number popped.
  // Each chain's readable data, from data_offset on, starts loading as soon as the chain
  // is popped: those lines were written on the driver's core, and their misses then
  // overlap the walks of the chains after it.
  uint16_t pop_burst(DescChain* chains, uint16_t max, uint32_t data_offset = 0);
  // Starts loading the descriptors of the next n available chains, which the driver wrote
  // on its own core, so that popping them does not stall on each line in turn. The heads
  // read here are only hints (pop reads and checks them again).
  void prefetch_avail(uint16_t n);
  // True if the driver made chains available that were not popped (re-reads avail->idx).
  bool has_available();
  uint16_t last_avail_idx() const { return last_avail_idx_; }  // VHOST_USER_GET_VRING_BASE
  // Where popping stands, to give chains back (mergeable rx that ran out of buffers):
  // last_avail_idx, and in the upper half how many resubmitted chains were popped.
  uint32_t avail_position() const { return uint32_t{resubmit_pos_} << 16 | last_avail_idx_; }
  void rewind_avail(uint32_t position);

  // --- used side -------------------------------------------------------------------------
  // Completes a chain; `written` bytes were written to its writable pieces (marked dirty
  // when the dirty log is on). Becomes visible to the driver at flush().
  void add_used(const DescChain& chain, uint32_t written);
  // The same by head id; the caller logs its own writes.
  void add_used(uint16_t id, uint32_t len);
  // Publishes the used entries with a single release store of used->idx; with EVENT_IDX
  // and kicks enabled also publishes avail_event.
  void flush();
  // After flush(): should the driver be interrupted? (fence, then used_event or flags.)
  bool needs_interrupt();
  uint16_t used_idx() const { return used_idx_; }

  // --- kicks -----------------------------------------------------------------------------
  // Enables or disables driver kicks (NO_NOTIFY flag, or avail_event with EVENT_IDX).
  void set_kick_enabled(bool on);
  // Enables kicks and re-checks for chains that raced with it: true means poll again.
  bool enable_kick_and_recheck();
  NotifyPolicy& notify_policy() { return policy_; }

  // --- errors ----------------------------------------------------------------------------
  bool broken() const { return broken_ != QueueError::kNone; }
  QueueError broken_reason() const { return broken_; }
  const char* broken_detail() const { return detail_; }  // for the log
  const QueueErrorCounters& errors() const { return errors_; }
  void set_broken(QueueError reason, uint32_t where);

  // --- inflight tracking -----------------------------------------------------------------
  bool inflight_tracked() const { return area_ != nullptr; }
  // What recovery found when the queue was built (error: the area was reinitialized and
  // the queue started from the config's indices).
  InflightError inflight_error() const { return inflight_error_; }
  bool inflight_fresh() const { return inflight_fresh_; }
  uint16_t inflight_batch_cleared() const { return batch_cleared_; }
  uint16_t resubmit_total() const { return static_cast<uint16_t>(resubmit_.size()); }
  uint16_t resubmit_pending() const {
    return static_cast<uint16_t>(resubmit_.size() - resubmit_pos_);
  }

 private:
  PopStatus pop_avail(DescChain* chain);
  PopStatus pop_slow(DescChain* chain);
  void attach_inflight(const SplitVirtqueueConfig& cfg);
  void publish_tracked();
  // Walks the chain whose first descriptor, at index head, the caller has loaded as d.
  QueueError walk(uint16_t head, RawDesc d, DescChain* chain, uint32_t* where);
  RawDesc desc_at(uint16_t idx) const;
  void write_used(uint16_t slot, uint32_t id, uint32_t len);
  void log_used(uint64_t offset, uint64_t len);

  GuestMemory* mem_;
  uint8_t* desc_;
  uint8_t* avail_;
  uint8_t* used_;
  uint64_t used_gpa_;
  uint16_t size_;
  uint16_t mask_;
  uint16_t last_avail_idx_;
  uint16_t avail_idx_shadow_;  // last avail->idx read
  uint16_t used_idx_;          // next used slot (free running)
  uint16_t published_used_;    // used->idx as last stored
  uint16_t inflight_ = 0;      // popped, not yet completed
  bool indirect_;
  bool in_order_batching_;
  bool batch_pending_ = false;  // in-order batch entry not yet written
  uint16_t batch_id_ = 0;
  uint32_t batch_len_ = 0;
  uint32_t batch_frames_ = 0;
  QueueError broken_ = QueueError::kNone;
  bool slow_ = false;  // broken or tracked: pop() takes pop_slow()
  QueueErrorCounters errors_;
  // Inflight tracking (null area: off).
  InflightQueueSplit* area_ = nullptr;
  InflightDescSplit* area_desc_ = nullptr;
  uint64_t counter_ = 1;
  std::vector<uint16_t> resubmit_;  // heads to pop first, in counter order
  uint16_t resubmit_pos_ = 0;
  std::vector<uint16_t> batch_ids_;  // heads of the batch being published
  std::vector<uint16_t> pop_log_;    // head popped at avail position p, at p & mask (rewind)
  InflightError inflight_error_ = InflightError::kNone;
  bool inflight_fresh_ = false;
  uint16_t batch_cleared_ = 0;
  NotifyPolicy policy_;
  char detail_[128] = "";
};

}  // namespace ferry::virtio
