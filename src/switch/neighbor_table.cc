#include "switch/neighbor_table.h"

#include <bit>
#include <cstring>
#include <random>

namespace ferry::sw {

namespace {
constexpr uint64_t kValid = 1ull << 63;
constexpr uint64_t kFamily6 = 1ull << 62;
}  // namespace

NeighborKey NeighborKey::ipv4(uint32_t ip, uint16_t vid) {
  NeighborKey k;
  k.w[0] = ip;
  k.w[2] = kValid | (vid & 0xfffu);
  return k;
}

NeighborKey NeighborKey::ipv6(const proto::Ipv6Address& ip, uint16_t vid) {
  NeighborKey k;
  std::memcpy(&k.w[0], ip.bytes, 8);
  std::memcpy(&k.w[1], ip.bytes + 8, 8);
  k.w[2] = kValid | kFamily6 | (vid & 0xfffu);
  return k;
}

NeighborTable::NeighborTable(uint32_t max_entries, uint64_t ageing_ns, uint64_t seed)
    : max_entries_(max_entries == 0 ? 1 : max_entries), ageing_ns_(ageing_ns) {
  uint64_t buckets = std::bit_ceil((uint64_t{max_entries_} * 2 + kBucketSlots - 1) / kBucketSlots);
  if (buckets < 2) buckets = 2;
  bucket_mask_ = static_cast<uint32_t>(buckets - 1);
  seed_ = seed;
  if (seed_ == 0) {
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) | rd() | 1;
  }
  slots_ = std::make_unique<Slot[]>(buckets * kBucketSlots);
  for (uint64_t i = 0; i < buckets * kBucketSlots; i++) {
    for (auto& w : slots_[i].k)
      w.store(0, std::memory_order_relaxed);
    slots_[i].value.store(0, std::memory_order_relaxed);
    slots_[i].last_seen.store(0, std::memory_order_relaxed);
  }
}

uint64_t NeighborTable::hash(const NeighborKey& key) const {
  uint64_t h = seed_;
  for (uint64_t w : key.w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 31;
  }
  return h;
}

bool NeighborTable::lookup(const NeighborKey& key, proto::MacAddress* mac) const {
  uint64_t h = hash(key);
  uint32_t b1 = static_cast<uint32_t>(h) & bucket_mask_;
  uint32_t b2 = static_cast<uint32_t>(h >> 32) & bucket_mask_;
  for (uint32_t b : {b1, b2}) {
    for (uint32_t i = 0; i < kBucketSlots; i++) {
      const Slot& s = slots_[b * kBucketSlots + i];
      uint32_t seq = s.seq.load(std::memory_order_acquire);
      if (seq & 1) continue;
      if (s.k[2].load(std::memory_order_relaxed) != key.w[2] ||
          s.k[0].load(std::memory_order_relaxed) != key.w[0] ||
          s.k[1].load(std::memory_order_relaxed) != key.w[1]) {
        continue;
      }
      uint64_t v = s.value.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (s.seq.load(std::memory_order_relaxed) != seq) return false;
      *mac = proto::MacAddress::from_u64(v & 0xffffffffffffull);
      return true;
    }
  }
  return false;
}

int64_t NeighborTable::find(const NeighborKey& key, uint64_t h) const {
  uint32_t b1 = static_cast<uint32_t>(h) & bucket_mask_;
  uint32_t b2 = static_cast<uint32_t>(h >> 32) & bucket_mask_;
  for (uint32_t b : {b1, b2})
    for (uint32_t i = 0; i < kBucketSlots; i++) {
      const Slot& s = slots_[b * kBucketSlots + i];
      if (s.k[2].load(std::memory_order_relaxed) == key.w[2] &&
          s.k[0].load(std::memory_order_relaxed) == key.w[0] &&
          s.k[1].load(std::memory_order_relaxed) == key.w[1]) {
        return b * kBucketSlots + i;
      }
    }
  return -1;
}

void NeighborTable::write_slot(Slot& s, const NeighborKey& key, uint64_t value, uint64_t now_ns) {
  uint32_t seq = s.seq.load(std::memory_order_relaxed);
  s.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int i = 0; i < 3; i++)
    s.k[i].store(key.w[i], std::memory_order_relaxed);
  s.value.store(value, std::memory_order_relaxed);
  s.last_seen.store(now_ns, std::memory_order_relaxed);
  s.seq.store(seq + 2, std::memory_order_release);
}

bool NeighborTable::store_locked(const NeighborKey& key, uint64_t value, uint64_t now_ns) {
  uint64_t h = hash(key);
  int64_t idx = find(key, h);
  if (idx >= 0) {
    Slot& s = slots_[idx];
    uint64_t old = s.value.load(std::memory_order_relaxed);
    if ((old & kStaticBit) && !(value & kStaticBit)) return false;
    if (old == value) {
      s.last_seen.store(now_ns, std::memory_order_relaxed);
      return true;
    }
    write_slot(s, key, value, now_ns);
    return true;
  }
  if (size_.load(std::memory_order_relaxed) >= max_entries_) return false;
  uint32_t b1 = static_cast<uint32_t>(h) & bucket_mask_;
  uint32_t b2 = static_cast<uint32_t>(h >> 32) & bucket_mask_;
  for (uint32_t b : {b1, b2})
    for (uint32_t i = 0; i < kBucketSlots; i++) {
      Slot& s = slots_[b * kBucketSlots + i];
      if (s.k[2].load(std::memory_order_relaxed) != 0) continue;
      write_slot(s, key, value, now_ns);
      size_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  return false;
}

bool NeighborTable::learn(const NeighborKey& key, const proto::MacAddress& mac, uint64_t now_ns) {
  if (mac.is_multicast() || mac.is_zero()) return false;
  proto::MacAddress known;
  if (lookup(key, &known) && known == mac) {
    // Refresh without the lock; ageing tolerates a racy timestamp.
    std::unique_lock lock(writer_lock_, std::try_to_lock);
    if (!lock.owns_lock()) return true;
    return store_locked(key, mac.to_u64(), now_ns);
  }
  std::unique_lock lock(writer_lock_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  return store_locked(key, mac.to_u64(), now_ns);
}

bool NeighborTable::add_static(const NeighborKey& key, const proto::MacAddress& mac) {
  std::lock_guard lock(writer_lock_);
  return store_locked(key, mac.to_u64() | kStaticBit, 0);
}

bool NeighborTable::remove(const NeighborKey& key) {
  std::lock_guard lock(writer_lock_);
  int64_t idx = find(key, hash(key));
  if (idx < 0) return false;
  write_slot(slots_[idx], NeighborKey{}, 0, 0);
  size_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

uint32_t NeighborTable::age(uint64_t now_ns) {
  std::lock_guard lock(writer_lock_);
  uint32_t n = 0;
  uint64_t count = uint64_t{bucket_mask_ + 1} * kBucketSlots;
  for (uint64_t i = 0; i < count; i++) {
    Slot& s = slots_[i];
    if (s.k[2].load(std::memory_order_relaxed) == 0) continue;
    if (s.value.load(std::memory_order_relaxed) & kStaticBit) continue;
    uint64_t seen = s.last_seen.load(std::memory_order_relaxed);
    if (now_ns > seen && now_ns - seen >= ageing_ns_) {
      write_slot(s, NeighborKey{}, 0, 0);
      size_.fetch_sub(1, std::memory_order_relaxed);
      n++;
    }
  }
  return n;
}

}  // namespace ferry::sw
