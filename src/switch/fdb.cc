#include "switch/fdb.h"

#include <bit>
#include <random>

namespace ferry::sw {

const char* to_string(LearnResult r) {
  switch (r) {
    case LearnResult::kRefreshed:
      return "refreshed";
    case LearnResult::kLearned:
      return "learned";
    case LearnResult::kMoved:
      return "moved";
    case LearnResult::kStaticConflict:
      return "static_conflict";
    case LearnResult::kPortLimit:
      return "port_limit";
    case LearnResult::kTableFull:
      return "table_full";
    case LearnResult::kBusy:
      return "busy";
    case LearnResult::kInvalid:
      return "invalid";
  }
  return "?";
}

Fdb::Fdb(const Config& config)
    : max_entries_(config.max_entries == 0 ? 1 : config.max_entries), ageing_ns_(config.ageing_ns) {
  // Twice as many slots as entries: with two 8-slot bucket choices per key, a half-full
  // table essentially never finds both buckets full.
  uint64_t buckets = std::bit_ceil((uint64_t{max_entries_} * 2 + kBucketSlots - 1) / kBucketSlots);
  if (buckets < 2) buckets = 2;
  bucket_mask_ = static_cast<uint32_t>(buckets - 1);
  slots_ = static_cast<uint32_t>(buckets * kBucketSlots);
  seed_ = config.hash_seed;
  if (seed_ == 0) {
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) | rd();
  }
  buckets_ = std::make_unique<KeyBucket[]>(buckets);
  values_ = std::make_unique<std::atomic<uint64_t>[]>(slots_);
  last_seen_ = std::make_unique<std::atomic<uint64_t>[]>(slots_);
  for (uint32_t i = 0; i < slots_; i++) {
    key_at(i).store(0, std::memory_order_relaxed);
    values_[i].store(0, std::memory_order_relaxed);
    last_seen_[i].store(0, std::memory_order_relaxed);
  }
  for (uint32_t p = 0; p < kMaxPorts; p++) {
    learned_[p].store(0, std::memory_order_relaxed);
    limit_[p].store(config.port_learn_limit, std::memory_order_relaxed);
  }
}

uint16_t Fdb::lookup_key(uint64_t key) const {
  uint64_t h = hash(key);
  for (uint32_t b : {bucket1(h), bucket2(h)}) {
    const KeyBucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kBucketSlots; i++) {
      if (bucket.keys[i].load(std::memory_order_acquire) != key) continue;
      uint32_t slot = b * kBucketSlots + i;
      uint64_t v = values_[slot].load(std::memory_order_acquire);
      if (FERRY_UNLIKELY(bucket.keys[i].load(std::memory_order_acquire) != key)) return kNoPort;
      return static_cast<uint16_t>(v);
    }
  }
  return kNoPort;
}

int64_t Fdb::find_slot(uint64_t key) const {
  uint64_t h = hash(key);
  for (uint32_t b : {bucket1(h), bucket2(h)})
    for (uint32_t i = 0; i < kBucketSlots; i++)
      if (buckets_[b].keys[i].load(std::memory_order_acquire) == key) return b * kBucketSlots + i;
  return -1;
}

int64_t Fdb::free_slot(uint64_t key) const {
  uint64_t h = hash(key);
  // The emptier of the two buckets, the first one on a tie (so most keys sit in the
  // bucket a lookup reads first).
  int64_t best = -1;
  uint32_t best_free = 0;
  for (uint32_t b : {bucket1(h), bucket2(h)}) {
    uint32_t n = 0;
    int64_t first = -1;
    for (uint32_t i = 0; i < kBucketSlots; i++) {
      if (buckets_[b].keys[i].load(std::memory_order_relaxed) == 0) {
        if (first < 0) first = b * kBucketSlots + i;
        n++;
      }
    }
    if (n > best_free) {
      best_free = n;
      best = first;
    }
  }
  return best;
}

void Fdb::erase_slot(uint32_t slot) {
  uint64_t v = values_[slot].load(std::memory_order_relaxed);
  key_at(slot).store(0, std::memory_order_release);
  values_[slot].store(0, std::memory_order_release);
  if ((v & kStaticBit) == 0) {
    uint16_t port = static_cast<uint16_t>(v);
    if (port < kMaxPorts) learned_[port].fetch_sub(1, std::memory_order_relaxed);
  }
  size_.fetch_sub(1, std::memory_order_relaxed);
}

FdbEntry Fdb::to_entry(uint64_t k, uint64_t v, uint64_t seen) {
  FdbEntry e;
  e.mac = MacAddress::from_u64(k & 0xffffffffffffull);
  e.vid = static_cast<uint16_t>((k >> 48) & 0xfff);
  e.port = static_cast<uint16_t>(v);
  e.is_static = (v & kStaticBit) != 0;
  e.last_seen_ns = seen;
  return e;
}

LearnResult Fdb::learn(const MacAddress& mac, uint16_t vid, uint16_t port, uint64_t now_ns) {
  if (FERRY_UNLIKELY(mac.is_multicast() || mac.is_zero() || port >= kMaxPorts || vid > 0xfff)) {
    return LearnResult::kInvalid;
  }
  uint64_t key = make_key(mac, vid);
  int64_t slot = find_slot(key);
  if (FERRY_LIKELY(slot >= 0)) {
    uint64_t v = values_[slot].load(std::memory_order_acquire);
    if (FERRY_LIKELY(static_cast<uint16_t>(v) == port)) {
      if ((v & kStaticBit) == 0) {
        // Write the shared line only when the time moved noticeably (ageing is in seconds).
        uint64_t seen = last_seen_[slot].load(std::memory_order_relaxed);
        if (now_ns - seen >= kRefreshGranularityNs) {
          last_seen_[slot].store(now_ns, std::memory_order_relaxed);
        }
      }
      return LearnResult::kRefreshed;
    }
    if (v & kStaticBit) return LearnResult::kStaticConflict;
  } else {
    // Cheap refusals before touching the lock.
    if (learned_[port].load(std::memory_order_relaxed) >=
        limit_[port].load(std::memory_order_relaxed)) {
      return LearnResult::kPortLimit;
    }
    if (size_.load(std::memory_order_relaxed) >= max_entries_) return LearnResult::kTableFull;
  }
  std::unique_lock lock(writer_lock_, std::try_to_lock);
  if (!lock.owns_lock()) return LearnResult::kBusy;
  return insert_locked(key, port, now_ns);
}

LearnResult Fdb::insert_locked(uint64_t key, uint16_t port, uint64_t now_ns) {
  uint32_t limit = limit_[port].load(std::memory_order_relaxed);
  int64_t slot = find_slot(key);
  if (slot >= 0) {
    uint64_t v = values_[slot].load(std::memory_order_relaxed);
    uint16_t old = static_cast<uint16_t>(v);
    if (v & kStaticBit) return old == port ? LearnResult::kRefreshed : LearnResult::kStaticConflict;
    if (old == port) {
      last_seen_[slot].store(now_ns, std::memory_order_relaxed);
      return LearnResult::kRefreshed;
    }
    if (learned_[port].load(std::memory_order_relaxed) >= limit) return LearnResult::kPortLimit;
    last_seen_[slot].store(now_ns, std::memory_order_relaxed);
    values_[slot].store(port, std::memory_order_release);
    if (old < kMaxPorts) learned_[old].fetch_sub(1, std::memory_order_relaxed);
    learned_[port].fetch_add(1, std::memory_order_relaxed);
    return LearnResult::kMoved;
  }
  if (learned_[port].load(std::memory_order_relaxed) >= limit) return LearnResult::kPortLimit;
  if (size_.load(std::memory_order_relaxed) >= max_entries_) return LearnResult::kTableFull;
  slot = free_slot(key);
  if (slot < 0) return LearnResult::kTableFull;
  values_[slot].store(port, std::memory_order_release);
  last_seen_[slot].store(now_ns, std::memory_order_relaxed);
  key_at(static_cast<uint32_t>(slot)).store(key, std::memory_order_release);
  learned_[port].fetch_add(1, std::memory_order_relaxed);
  size_.fetch_add(1, std::memory_order_relaxed);
  return LearnResult::kLearned;
}

bool Fdb::add_static(const MacAddress& mac, uint16_t vid, uint16_t port) {
  if (mac.is_zero() || port >= kMaxPorts || vid > 0xfff) return false;
  uint64_t key = make_key(mac, vid);
  std::lock_guard lock(writer_lock_);
  int64_t slot = find_slot(key);
  if (slot >= 0) {
    uint64_t v = values_[slot].load(std::memory_order_relaxed);
    if ((v & kStaticBit) == 0) {
      uint16_t old = static_cast<uint16_t>(v);
      if (old < kMaxPorts) learned_[old].fetch_sub(1, std::memory_order_relaxed);
    }
    values_[slot].store(port | kStaticBit, std::memory_order_release);
    return true;
  }
  if (size_.load(std::memory_order_relaxed) >= max_entries_) return false;
  slot = free_slot(key);
  if (slot < 0) return false;
  values_[slot].store(port | kStaticBit, std::memory_order_release);
  last_seen_[slot].store(0, std::memory_order_relaxed);
  key_at(static_cast<uint32_t>(slot)).store(key, std::memory_order_release);
  size_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Fdb::remove(const MacAddress& mac, uint16_t vid) {
  std::lock_guard lock(writer_lock_);
  int64_t slot = find_slot(make_key(mac, vid));
  if (slot < 0) return false;
  erase_slot(static_cast<uint32_t>(slot));
  return true;
}

uint32_t Fdb::flush_port(uint16_t port, bool statics_too) {
  std::lock_guard lock(writer_lock_);
  uint32_t n = 0;
  for (uint32_t i = 0; i < slots_; i++) {
    if (key_at(i).load(std::memory_order_relaxed) == 0) continue;
    uint64_t v = values_[i].load(std::memory_order_relaxed);
    if (static_cast<uint16_t>(v) != port) continue;
    if ((v & kStaticBit) && !statics_too) continue;
    erase_slot(i);
    n++;
  }
  return n;
}

uint32_t Fdb::flush_vlan(uint16_t vid) {
  std::lock_guard lock(writer_lock_);
  uint32_t n = 0;
  for (uint32_t i = 0; i < slots_; i++) {
    uint64_t k = key_at(i).load(std::memory_order_relaxed);
    if (k == 0 || ((k >> 48) & 0xfff) != vid) continue;
    if (values_[i].load(std::memory_order_relaxed) & kStaticBit) continue;
    erase_slot(i);
    n++;
  }
  return n;
}

uint32_t Fdb::age(uint64_t now_ns) {
  uint64_t ageing = ageing_ns();
  std::lock_guard lock(writer_lock_);
  uint32_t n = 0;
  for (uint32_t i = 0; i < slots_; i++) {
    if (key_at(i).load(std::memory_order_relaxed) == 0) continue;
    if (values_[i].load(std::memory_order_relaxed) & kStaticBit) continue;
    uint64_t seen = last_seen_[i].load(std::memory_order_relaxed);
    if (now_ns > seen && now_ns - seen >= ageing) {
      erase_slot(i);
      n++;
    }
  }
  return n;
}

void Fdb::set_port_limit(uint16_t port, uint32_t limit) {
  if (port < kMaxPorts) limit_[port].store(limit, std::memory_order_relaxed);
}

uint32_t Fdb::port_limit(uint16_t port) const {
  return port < kMaxPorts ? limit_[port].load(std::memory_order_relaxed) : 0;
}

}  // namespace ferry::sw
