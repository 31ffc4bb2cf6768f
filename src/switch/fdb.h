#pragma once

// Fdb: the forwarding database of one bridge, (MAC, VLAN) -> port.
//
// Entries are learned from the source address of received frames, refreshed by every
// frame, and aged out ageing_ns (300 s by default, as in Linux and Open vSwitch) after
// the last one. Static entries come from the control plane: they never age, are never
// moved by traffic, and a frame claiming a static address from another port is refused
// (learn() says kStaticConflict, the bridge drops and counts it). A learned address seen
// on another port moves there (kMoved, counted).
//
// Bounds: the table holds at most Config::max_entries entries, and each port learns at
// most its limit (Config::port_learn_limit unless set_port_limit() says otherwise), so a
// guest flooding random source MACs fills its own quota, not the table. With limits
// whose sum stays below max_entries no port can starve another.
//
// Layout: open addressing in buckets of 8 slots, every key in one of two buckets chosen
// by a keyed hash (seeded per table, so a guest cannot aim its MACs at one bucket). The 8
// keys of a bucket share one cache line; a lookup reads at most two lines of keys and one
// value. Keys pack MAC (48 bits), VID (12 bits) and a valid bit into one 64-bit word.
// Nothing is allocated after construction.
//
// Threading model. One Fdb per bridge, shared by every worker that switches for it.
//  - lookup() is wait-free and takes no lock; it may run on any thread at any time.
//  - learn() on an address already known on the same port only stores the last-seen
//    time (a relaxed store, skipped when the time moved less than kRefreshGranularityNs),
//    so the steady state writes nothing shared and takes no lock.
//  - Changes (insert, move, delete) are made by one writer at a time under writer_lock_.
//    Workers only try_lock(): when another writer holds it, the change is skipped
//    (kBusy, counted) and happens on a later frame; a worker never waits. The control
//    plane (add_static, remove, flush_port, age, set_port_limit) takes the lock.
//  - Readers see either the old or the new state of a slot: a writer stores the value
//    before publishing the key (release), and clears the key before the value; a reader
//    loads key, value, key (acquire) and only trusts the value if the key did not change.
//    A reader racing a change may miss an entry (the frame is flooded once) but never
//    gets the port of another address.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/compiler.h"
#include "packet/packet.h"
#include "proto/ethernet.h"
#include "switch/port_set.h"

namespace ferry::sw {

using proto::MacAddress;

inline constexpr uint64_t kDefaultAgeingNs = 300ull * 1000 * 1000 * 1000;

// What learn() did.
enum class LearnResult : uint8_t {
  kRefreshed,       // known on this port; last-seen updated
  kLearned,         // new entry
  kMoved,           // a learned entry moved to this port
  kStaticConflict,  // a static entry names another port: the frame should be dropped
  kPortLimit,       // the port reached its learning limit
  kTableFull,       // the table reached max_entries or both buckets are full
  kBusy,            // another writer held the lock; try again on a later frame
  kInvalid,         // multicast or zero source MAC, or a bad port/VID: never learned
};
const char* to_string(LearnResult r);

struct FdbEntry {
  MacAddress mac;
  uint16_t vid = 0;
  uint16_t port = 0;
  bool is_static = false;
  uint64_t last_seen_ns = 0;
};

class Fdb {
 public:
  struct Config {
    uint32_t max_entries = 65536;
    uint32_t port_learn_limit = 4096;  // per port, 0 = learning off by default
    uint64_t ageing_ns = kDefaultAgeingNs;
    uint64_t hash_seed = 0;  // 0: pick one from std::random_device
  };
  static constexpr uint64_t kRefreshGranularityNs = 100ull * 1000 * 1000;

  explicit Fdb(const Config& config);
  Fdb() : Fdb(Config{}) {}
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // The port of (mac, vid), or kNoPort. Any thread, no lock.
  uint16_t lookup(const MacAddress& mac, uint16_t vid) const {
    return lookup_key(make_key(mac, vid));
  }
  uint16_t lookup_key(uint64_t key) const;

  // Learns that mac is behind port in vlan vid (a worker, per received frame).
  LearnResult learn(const MacAddress& mac, uint16_t vid, uint16_t port, uint64_t now_ns);

  // Control plane. A static entry replaces a learned one; false if the table is full or
  // the arguments are invalid.
  bool add_static(const MacAddress& mac, uint16_t vid, uint16_t port);
  // Removes an entry, static or learned; false if there was none.
  bool remove(const MacAddress& mac, uint16_t vid);
  // Removes the learned (and, with statics_too, the static) entries of a port.
  uint32_t flush_port(uint16_t port, bool statics_too = false);
  // Removes learned entries of one VLAN (after a VLAN is removed from a port, say).
  uint32_t flush_vlan(uint16_t vid);
  // Removes learned entries not seen for ageing_ns; returns how many. Call periodically
  // (every second or so) from one thread.
  uint32_t age(uint64_t now_ns);
  void set_ageing_ns(uint64_t ns) { ageing_ns_.store(ns, std::memory_order_relaxed); }
  uint64_t ageing_ns() const { return ageing_ns_.load(std::memory_order_relaxed); }
  // Per-port learning limit (0 turns learning off for the port).
  void set_port_limit(uint16_t port, uint32_t limit);
  uint32_t port_limit(uint16_t port) const;

  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  uint32_t learned_on(uint16_t port) const {
    return port < kMaxPorts ? learned_[port].load(std::memory_order_relaxed) : 0;
  }
  uint32_t max_entries() const { return max_entries_; }
  uint32_t capacity_slots() const { return bucket_mask_ * kBucketSlots + kBucketSlots; }

  // Copies of every entry (control plane; consistent per entry, not across entries).
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < slots_; i++) {
      uint64_t k = key_at(i).load(std::memory_order_acquire);
      if (k == 0) continue;
      uint64_t v = values_[i].load(std::memory_order_acquire);
      if (key_at(i).load(std::memory_order_acquire) != k) continue;
      f(to_entry(k, v, last_seen_[i].load(std::memory_order_relaxed)));
    }
  }

  static uint64_t make_key(const MacAddress& mac, uint16_t vid) {
    return kValidBit | (uint64_t{vid & 0xfffu} << 48) | mac.to_u64();
  }

 private:
  static constexpr uint32_t kBucketSlots = 8;
  static constexpr uint64_t kValidBit = 1ull << 63;
  static constexpr uint64_t kStaticBit = 1ull << 16;

  struct alignas(64) KeyBucket {
    std::atomic<uint64_t> keys[kBucketSlots];
  };

  uint64_t hash(uint64_t key) const {
    uint64_t h = (key ^ seed_) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  }
  uint32_t bucket1(uint64_t h) const { return static_cast<uint32_t>(h) & bucket_mask_; }
  uint32_t bucket2(uint64_t h) const {
    uint32_t b = static_cast<uint32_t>(h >> 32) & bucket_mask_;
    return b == bucket1(h) ? (b ^ 1) & bucket_mask_ : b;
  }
  std::atomic<uint64_t>& key_at(uint32_t slot) const {
    return buckets_[slot / kBucketSlots].keys[slot % kBucketSlots];
  }
  // Slot index of key, or -1. Writers (or racy readers re-checking) only.
  int64_t find_slot(uint64_t key) const;
  int64_t free_slot(uint64_t key) const;
  void erase_slot(uint32_t slot);  // writer_lock_ held
  static FdbEntry to_entry(uint64_t k, uint64_t v, uint64_t seen);
  LearnResult insert_locked(uint64_t key, uint16_t port, uint64_t now_ns);

  uint32_t max_entries_;
  uint32_t bucket_mask_;
  uint32_t slots_;
  uint64_t seed_;
  std::atomic<uint64_t> ageing_ns_;
  std::unique_ptr<KeyBucket[]> buckets_;
  std::unique_ptr<std::atomic<uint64_t>[]> values_;     // port | kStaticBit
  std::unique_ptr<std::atomic<uint64_t>[]> last_seen_;  // ns
  std::atomic<uint32_t> size_{0};
  std::atomic<uint32_t> learned_[kMaxPorts];
  std::atomic<uint32_t> limit_[kMaxPorts];
  std::mutex writer_lock_;
};

}  // namespace ferry::sw
