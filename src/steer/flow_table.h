#pragma once

// FlowTable: exact-match flows (FlowKey) to FlowEntry (steering queue, counters, last seen),
// for RFS-style steering and per-flow state.
//
// Layout: open addressing in 64-byte buckets of 8 slots; a slot is one 64-bit word holding
// 32 bits of the key's hash (the signature) and the index of the entry, so a reader sees a
// slot whole or not at all. Each key has two candidate buckets (two-choice hashing): a
// lookup reads at most two buckets (16 signatures) and one entry; an insert that finds
// both full grows the table, or at full size evicts the least recently seen entry of the
// two buckets. No chains and no probe sequences: the worst case is bounded, whatever the
// keys. Entries live in fixed chunks that never move, so an entry pointer stays valid
// across resizes.
//
// Concurrency: one writer (inserts, erases, ageing, resizes), any number of lock-free
// readers (lookups, FlowEntry::touch). Readers never block and never retry:
//  - the writer fills an entry, then publishes its slot (release); readers load slots with
//    acquire, so a reader that sees the slot sees the whole key;
//  - a resize builds a new bucket array beside the old one and publishes it with one
//    pointer store; readers use whichever array they loaded, both are complete;
//  - erased entries and old bucket arrays are reused or freed only after a grace period of
//    the Qsbr domain (qsbr.h): workers announce quiescent states between bursts, so a
//    pointer a reader got from lookup() stays valid until its next quiescent state.
// Writer calls may come from any one thread at a time (the control thread, or a worker
// that owns a per-worker table); they never wait for readers except in synchronize().
//
// Counters of an entry are relaxed atomics updated by readers; with RSS, one flow is
// handled by one worker, so the line stays in that worker's cache.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "steer/flow_key.h"
#include "steer/qsbr.h"

namespace ferry::steer {

struct FlowEntry {
  FlowKey key;                     // immutable while the entry is published
  std::atomic<uint16_t> queue{0};  // where the flow is steered (RFS: the consuming queue)
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> last_seen{0};  // the caller's clock (e.g. ns)
  uint64_t hash = 0;                   // flow_hash(key); writer only

  void touch(uint32_t len, uint64_t now) {
    packets.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(len, std::memory_order_relaxed);
    last_seen.store(now, std::memory_order_relaxed);
  }
};

struct FlowTableStats {
  uint64_t inserts = 0;
  uint64_t erases = 0;
  uint64_t evictions = 0;    // entries dropped to make room (table at max size)
  uint64_t expirations = 0;  // entries aged out by expire()
  uint64_t resizes = 0;
  uint64_t insert_failures = 0;  // no entry free (all held by readers' grace periods)
};

struct FlowTableOptions {
  uint32_t initial_entries = 1024;  // sized for this many flows at the start
  uint32_t max_entries = 1u << 20;  // bound on live flows; beyond it inserts evict
};

class FlowTable {
 public:
  FlowTable(Qsbr* qsbr, const FlowTableOptions& options = {});
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // --- Readers (lock-free; pointers valid until the reader's next quiescent state) ------
  FlowEntry* lookup(const FlowKey& key) const { return lookup(key, flow_hash(key)); }
  FlowEntry* lookup(const FlowKey& key, uint64_t hash) const;
  // Looks up n keys, overlapping their cache misses; out[i] is nullptr when absent.
  void lookup_burst(const FlowKey* keys, uint32_t n, FlowEntry** out) const;

  // --- Writer -----------------------------------------------------------------------------
  // The entry of `key`, inserted (queue, last_seen = now) if absent. nullptr only when every
  // entry is held by a grace period (insert_failures counts it).
  FlowEntry* insert(const FlowKey& key, uint16_t queue, uint64_t now);
  bool erase(const FlowKey& key);
  // Removes entries not seen for more than max_idle (last_seen + max_idle < now), visiting at
  // most `max_buckets` buckets from where the previous call stopped (0: all). Returns the
  // number removed.
  uint32_t expire(uint64_t now, uint64_t max_idle, uint32_t max_buckets = 0);
  // Frees/reuses memory whose grace period has ended (insert() calls it as needed).
  void reclaim();
  // Waits for a grace period and reclaims everything retired (tests, shutdown).
  void synchronize();

  size_t size() const { return size_; }
  size_t max_entries() const { return max_entries_; }
  size_t slot_count() const;  // current capacity of the bucket array
  const FlowTableStats& stats() const { return stats_; }

 private:
  static constexpr int kSlots = 8;
  static constexpr uint32_t kChunkShift = 12;
  static constexpr uint32_t kChunkSize = 1u << kChunkShift;

  struct alignas(64) Bucket {
    std::atomic<uint64_t> slot[kSlots];
  };
  struct Buckets {
    uint32_t mask;  // bucket count - 1
    Bucket* b;
  };

  static uint32_t sig_of(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
  static uint32_t b1_of(uint64_t hash, uint32_t mask) { return static_cast<uint32_t>(hash) & mask; }
  static uint32_t b2_of(uint64_t hash, uint32_t mask) {
    uint32_t s = sig_of(hash) * 0x9e3779b1u;
    return (static_cast<uint32_t>(hash) ^ (s >> 7) ^ 1u) & mask;
  }
  static uint64_t make_slot(uint64_t hash, uint32_t idx) {
    return (uint64_t{sig_of(hash)} << 32) | (idx + 1u);
  }

  FlowEntry* entry(uint32_t idx) const {
    return &chunks_[idx >> kChunkShift][idx & (kChunkSize - 1)];
  }
  static Buckets* alloc_buckets(uint32_t count);
  static void free_buckets(Buckets* b);
  // Places slot word into b1 or b2 of `t` (writer); false if both are full.
  static bool place(Buckets* t, uint64_t hash, uint64_t word);
  bool grow();
  int32_t alloc_entry();
  void retire_entry(uint32_t idx, uint64_t token);
  bool evict_for(uint64_t hash, uint64_t now);
  std::atomic<uint64_t>* find_slot(const FlowKey& key, uint64_t hash);

  Qsbr* qsbr_;
  std::atomic<Buckets*> buckets_;
  uint32_t max_entries_;
  uint32_t max_buckets_;
  uint32_t entry_capacity_;  // max_entries_ + room for entries awaiting a grace period
  std::unique_ptr<FlowEntry*[]> chunks_;
  uint32_t next_unused_ = 0;
  std::vector<uint32_t> free_;
  std::deque<std::pair<uint64_t, uint32_t>> retired_entries_;  // (token, index)
  std::deque<std::pair<uint64_t, Buckets*>> retired_buckets_;
  size_t size_ = 0;
  uint32_t expire_cursor_ = 0;
  FlowTableStats stats_;
};

}  // namespace ferry::steer
