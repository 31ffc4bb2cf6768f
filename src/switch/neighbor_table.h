#pragma once

// NeighborTable: IP -> MAC bindings per VLAN, for ARP and ND suppression. Bindings are
// configured by the control plane (static: never aged or overwritten by traffic) or
// learned from ARP packets and neighbour advertisements the bridge forwards (after the
// anti-spoofing check of the port they came from), and age like FDB entries.
//
// Threading: as the Fdb. lookup() takes no lock and may run on any thread; a slot is
// guarded by a sequence counter (odd while a writer changes it), so a reader retries or
// misses, never mixes two entries. Changes are made under writer_lock_; workers only
// try_lock() and skip the update when it is busy.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "proto/ethernet.h"
#include "proto/ipv6.h"

namespace ferry::sw {

struct NeighborKey {
  uint64_t w[3] = {};  // address words, then family | vid | valid

  static NeighborKey ipv4(uint32_t ip, uint16_t vid);
  static NeighborKey ipv6(const proto::Ipv6Address& ip, uint16_t vid);
  friend bool operator==(const NeighborKey&, const NeighborKey&) = default;
};

class NeighborTable {
 public:
  // seed keys the hash (0: pick one from std::random_device).
  explicit NeighborTable(uint32_t max_entries = 16384, uint64_t ageing_ns = 300ull * 1000000000,
                         uint64_t seed = 0);

  // The MAC bound to key, or false.
  bool lookup(const NeighborKey& key, proto::MacAddress* mac) const;
  // A worker saw a binding in traffic; false if not stored (busy, full, static).
  bool learn(const NeighborKey& key, const proto::MacAddress& mac, uint64_t now_ns);
  // Control plane.
  bool add_static(const NeighborKey& key, const proto::MacAddress& mac);
  bool remove(const NeighborKey& key);
  uint32_t age(uint64_t now_ns);
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kBucketSlots = 4;
  static constexpr uint64_t kStaticBit = 1ull << 48;
  struct Slot {
    std::atomic<uint32_t> seq{0};
    std::atomic<uint64_t> k[3];
    std::atomic<uint64_t> value;  // MAC | kStaticBit
    std::atomic<uint64_t> last_seen;
  };
  uint64_t hash(const NeighborKey& key) const;
  int64_t find(const NeighborKey& key, uint64_t h) const;  // writer side
  bool store_locked(const NeighborKey& key, uint64_t value, uint64_t now_ns);
  void write_slot(Slot& s, const NeighborKey& key, uint64_t value, uint64_t now_ns);

  uint32_t max_entries_;
  uint32_t bucket_mask_;
  uint64_t ageing_ns_;
  uint64_t seed_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint32_t> size_{0};
  std::mutex writer_lock_;
};

}  // namespace ferry::sw
