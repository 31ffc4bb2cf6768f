#include "steer/flow_table.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace ferry::steer {

namespace {

uint32_t next_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v)
    p <<= 1;
  return static_cast<uint32_t>(p);
}

// Buckets for n entries at a load of 7/8 at most; at least two, so b1 and b2 can differ.
uint32_t buckets_for(uint64_t n) {
  return std::max<uint32_t>(2, next_pow2((n * 8 / 7 + 7) / 8));
}

}  // namespace

FlowTable::Buckets* FlowTable::alloc_buckets(uint32_t count) {
  void* mem = std::aligned_alloc(64, sizeof(Bucket) * count);
  if (mem == nullptr) throw std::bad_alloc();
  Bucket* b = static_cast<Bucket*>(mem);
  for (uint32_t i = 0; i < count; i++) {
    new (&b[i]) Bucket;
    for (auto& s : b[i].slot)
      s.store(0, std::memory_order_relaxed);
  }
  return new Buckets{count - 1, b};
}

void FlowTable::free_buckets(Buckets* t) {
  std::free(t->b);
  delete t;
}

FlowTable::FlowTable(Qsbr* qsbr, const FlowTableOptions& options) : qsbr_(qsbr) {
  max_entries_ = std::max<uint32_t>(options.max_entries, 16);
  max_buckets_ = buckets_for(max_entries_);
  const uint32_t initial = std::clamp<uint32_t>(options.initial_entries, 16, max_entries_);
  buckets_.store(alloc_buckets(buckets_for(initial)), std::memory_order_relaxed);
  entry_capacity_ = max_entries_ + std::max<uint32_t>(64, max_entries_ / 8);
  chunks_ = std::make_unique<FlowEntry*[]>((entry_capacity_ >> kChunkShift) + 1);
}

FlowTable::~FlowTable() {
  free_buckets(buckets_.load());
  for (auto& [token, t] : retired_buckets_)
    free_buckets(t);
  for (uint32_t c = 0; c <= (entry_capacity_ >> kChunkShift); c++)
    delete[] chunks_[c];
}

size_t FlowTable::slot_count() const {
  return (size_t{buckets_.load(std::memory_order_acquire)->mask} + 1) * kSlots;
}

FlowEntry* FlowTable::lookup(const FlowKey& key, uint64_t hash) const {
  const Buckets* t = buckets_.load(std::memory_order_acquire);
  const uint32_t sig = sig_of(hash);
  const uint32_t bs[2] = {b1_of(hash, t->mask), b2_of(hash, t->mask)};
  for (uint32_t b : bs) {
    const Bucket& bucket = t->b[b];
    for (int s = 0; s < kSlots; s++) {
      const uint64_t w = bucket.slot[s].load(std::memory_order_acquire);
      if (static_cast<uint32_t>(w >> 32) != sig || static_cast<uint32_t>(w) == 0) continue;
      FlowEntry* e = entry(static_cast<uint32_t>(w) - 1);
      if (e->key == key) return e;
    }
  }
  return nullptr;
}

void FlowTable::lookup_burst(const FlowKey* keys, uint32_t n, FlowEntry** out) const {
  // Three passes over groups of 16 keys so that their cache misses overlap: prefetch both
  // buckets; find the first signature match and prefetch its entry; compare keys (a
  // signature collision falls back to the full lookup).
  constexpr uint32_t kStep = 16;
  uint64_t hashes[kStep];
  FlowEntry* cand[kStep];
  for (uint32_t base = 0; base < n; base += kStep) {
    const uint32_t m = std::min(kStep, n - base);
    const Buckets* t = buckets_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < m; i++) {
      hashes[i] = flow_hash(keys[base + i]);
      __builtin_prefetch(&t->b[b1_of(hashes[i], t->mask)]);
      __builtin_prefetch(&t->b[b2_of(hashes[i], t->mask)]);
    }
    for (uint32_t i = 0; i < m; i++) {
      cand[i] = nullptr;
      const uint32_t sig = sig_of(hashes[i]);
      const uint32_t bs[2] = {b1_of(hashes[i], t->mask), b2_of(hashes[i], t->mask)};
      for (uint32_t b : bs) {
        for (int s = 0; s < kSlots && cand[i] == nullptr; s++) {
          const uint64_t w = t->b[b].slot[s].load(std::memory_order_acquire);
          if (static_cast<uint32_t>(w >> 32) == sig && static_cast<uint32_t>(w) != 0) {
            cand[i] = entry(static_cast<uint32_t>(w) - 1);
            __builtin_prefetch(cand[i]);
          }
        }
      }
    }
    for (uint32_t i = 0; i < m; i++) {
      if (cand[i] != nullptr && cand[i]->key == keys[base + i]) {
        out[base + i] = cand[i];
      } else {
        out[base + i] = cand[i] == nullptr ? nullptr : lookup(keys[base + i], hashes[i]);
      }
    }
  }
}

std::atomic<uint64_t>* FlowTable::find_slot(const FlowKey& key, uint64_t hash) {
  Buckets* t = buckets_.load(std::memory_order_relaxed);
  const uint32_t sig = sig_of(hash);
  const uint32_t bs[2] = {b1_of(hash, t->mask), b2_of(hash, t->mask)};
  for (uint32_t b : bs) {
    for (auto& slot : t->b[b].slot) {
      const uint64_t w = slot.load(std::memory_order_relaxed);
      if (static_cast<uint32_t>(w >> 32) != sig || static_cast<uint32_t>(w) == 0) continue;
      if (entry(static_cast<uint32_t>(w) - 1)->key == key) return &slot;
    }
  }
  return nullptr;
}

bool FlowTable::place(Buckets* t, uint64_t hash, uint64_t word) {
  const uint32_t b1 = b1_of(hash, t->mask);
  const uint32_t b2 = b2_of(hash, t->mask);
  // The emptier of the two buckets keeps both short.
  int free1 = 0, free2 = 0;
  std::atomic<uint64_t>* s1 = nullptr;
  std::atomic<uint64_t>* s2 = nullptr;
  for (auto& s : t->b[b1].slot) {
    if (s.load(std::memory_order_relaxed) == 0 && free1++ == 0) s1 = &s;
  }
  for (auto& s : t->b[b2].slot) {
    if (s.load(std::memory_order_relaxed) == 0 && free2++ == 0) s2 = &s;
  }
  std::atomic<uint64_t>* dst = free1 >= free2 ? s1 : s2;
  if (dst == nullptr) return false;
  dst->store(word, std::memory_order_release);
  return true;
}

bool FlowTable::grow() {
  Buckets* old = buckets_.load(std::memory_order_relaxed);
  for (uint32_t count = 2 * (old->mask + 1); count <= max_buckets_; count *= 2) {
    Buckets* t = alloc_buckets(count);
    bool ok = true;
    for (uint32_t b = 0; b <= old->mask && ok; b++) {
      for (auto& s : old->b[b].slot) {
        const uint64_t w = s.load(std::memory_order_relaxed);
        if (w == 0) continue;
        if (!place(t, entry(static_cast<uint32_t>(w) - 1)->hash, w)) {
          ok = false;
          break;
        }
      }
    }
    if (!ok) {
      free_buckets(t);
      continue;
    }
    // Readers switch to the new array at their next lookup; the old one stays intact for
    // those still in it until a grace period has passed.
    buckets_.store(t, std::memory_order_seq_cst);
    retired_buckets_.emplace_back(qsbr_->start_grace_period(), old);
    stats_.resizes++;
    return true;
  }
  return false;
}

void FlowTable::reclaim() {
  while (!retired_entries_.empty() && qsbr_->grace_period_done(retired_entries_.front().first)) {
    free_.push_back(retired_entries_.front().second);
    retired_entries_.pop_front();
  }
  while (!retired_buckets_.empty() && qsbr_->grace_period_done(retired_buckets_.front().first)) {
    free_buckets(retired_buckets_.front().second);
    retired_buckets_.pop_front();
  }
}

void FlowTable::synchronize() {
  qsbr_->synchronize();
  reclaim();
}

int32_t FlowTable::alloc_entry() {
  if (free_.empty()) reclaim();
  if (!free_.empty()) {
    uint32_t idx = free_.back();
    free_.pop_back();
    return static_cast<int32_t>(idx);
  }
  if (next_unused_ >= entry_capacity_) return -1;
  const uint32_t c = next_unused_ >> kChunkShift;
  if (chunks_[c] == nullptr) chunks_[c] = new FlowEntry[kChunkSize];
  return static_cast<int32_t>(next_unused_++);
}

void FlowTable::retire_entry(uint32_t idx, uint64_t token) {
  retired_entries_.emplace_back(token, idx);
}

bool FlowTable::evict_for(uint64_t hash, uint64_t now) {
  (void)now;
  Buckets* t = buckets_.load(std::memory_order_relaxed);
  std::atomic<uint64_t>* victim = nullptr;
  uint64_t oldest = UINT64_MAX;
  auto consider = [&](uint32_t b) {
    for (auto& s : t->b[b].slot) {
      const uint64_t w = s.load(std::memory_order_relaxed);
      if (w == 0) continue;
      const uint64_t seen =
          entry(static_cast<uint32_t>(w) - 1)->last_seen.load(std::memory_order_relaxed);
      if (victim == nullptr || seen < oldest) {
        victim = &s;
        oldest = seen;
      }
    }
  };
  consider(b1_of(hash, t->mask));
  consider(b2_of(hash, t->mask));
  // Both candidates empty (only possible below full load): look a bounded distance further.
  for (uint32_t d = 1; victim == nullptr && d <= 8; d++) {
    consider((b1_of(hash, t->mask) + d) & t->mask);
  }
  if (victim == nullptr) return false;
  const uint32_t idx = static_cast<uint32_t>(victim->load(std::memory_order_relaxed)) - 1;
  victim->store(0, std::memory_order_release);
  retire_entry(idx, qsbr_->start_grace_period());
  size_--;
  stats_.evictions++;
  return true;
}

FlowEntry* FlowTable::insert(const FlowKey& key, uint16_t queue, uint64_t now) {
  const uint64_t hash = flow_hash(key);
  if (std::atomic<uint64_t>* s = find_slot(key, hash)) {
    return entry(static_cast<uint32_t>(s->load(std::memory_order_relaxed)) - 1);
  }
  if (size_ >= max_entries_) {
    evict_for(hash, now);
  } else if ((size_ + 1) * 8 > slot_count() * 7) {
    grow();
  }
  const int32_t idx = alloc_entry();
  if (idx < 0) {
    stats_.insert_failures++;
    return nullptr;
  }
  FlowEntry* e = entry(static_cast<uint32_t>(idx));
  e->key = key;
  e->hash = hash;
  e->queue.store(queue, std::memory_order_relaxed);
  e->packets.store(0, std::memory_order_relaxed);
  e->bytes.store(0, std::memory_order_relaxed);
  e->last_seen.store(now, std::memory_order_relaxed);
  const uint64_t word = make_slot(hash, static_cast<uint32_t>(idx));
  // Both candidate buckets full: grow if allowed, else make room in them.
  while (!place(buckets_.load(std::memory_order_relaxed), hash, word)) {
    if (!grow() && !evict_for(hash, now)) {
      free_.push_back(static_cast<uint32_t>(idx));
      stats_.insert_failures++;
      return nullptr;
    }
  }
  size_++;
  stats_.inserts++;
  return e;
}

bool FlowTable::erase(const FlowKey& key) {
  std::atomic<uint64_t>* s = find_slot(key, flow_hash(key));
  if (s == nullptr) return false;
  const uint32_t idx = static_cast<uint32_t>(s->load(std::memory_order_relaxed)) - 1;
  s->store(0, std::memory_order_release);
  retire_entry(idx, qsbr_->start_grace_period());
  size_--;
  stats_.erases++;
  return true;
}

uint32_t FlowTable::expire(uint64_t now, uint64_t max_idle, uint32_t max_buckets) {
  Buckets* t = buckets_.load(std::memory_order_relaxed);
  const uint32_t count = t->mask + 1;
  const uint32_t visit = max_buckets == 0 ? count : std::min(max_buckets, count);
  std::vector<uint32_t> removed;
  for (uint32_t i = 0; i < visit; i++) {
    Bucket& bucket = t->b[(expire_cursor_ + i) & t->mask];
    for (auto& s : bucket.slot) {
      const uint64_t w = s.load(std::memory_order_relaxed);
      if (w == 0) continue;
      const uint32_t idx = static_cast<uint32_t>(w) - 1;
      const uint64_t seen = entry(idx)->last_seen.load(std::memory_order_relaxed);
      if (seen + max_idle < now) {
        s.store(0, std::memory_order_release);
        removed.push_back(idx);
      }
    }
  }
  expire_cursor_ = (expire_cursor_ + visit) & t->mask;
  if (!removed.empty()) {
    const uint64_t token = qsbr_->start_grace_period();
    for (uint32_t idx : removed)
      retire_entry(idx, token);
    size_ -= removed.size();
    stats_.expirations += removed.size();
  }
  return static_cast<uint32_t>(removed.size());
}

}  // namespace ferry::steer
