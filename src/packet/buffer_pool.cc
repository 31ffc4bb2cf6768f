#include "packet/buffer_pool.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ferry {

std::atomic<BufferPool*> BufferPool::registry_[BufferPool::kMaxPools];

namespace {

// Guards id assignment only; lookups (from_id) are lock-free loads.
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

constexpr uint32_t kArenaAlign = 4096;

uint32_t inverse_mod_2_32(uint32_t odd) {
  uint32_t x = odd;  // correct to 3 bits; each Newton step doubles the correct bits
  for (int i = 0; i < 5; i++)
    x *= 2 - odd * x;
  return x;
}

}  // namespace

std::unique_ptr<BufferPool> BufferPool::create(const Config& config) {
  if (config.buffer_count == 0) return nullptr;
  uint64_t buffer_len = uint64_t{config.headroom} + config.data_room;
  if (buffer_len == 0 || buffer_len > UINT32_MAX) return nullptr;
  auto round_up = [](uint64_t v, uint64_t a) { return (v + a - 1) / a * a; };
  // Descriptor array stride, and where the buffers go.
  uint64_t stride = config.descriptors_apart
                        ? sizeof(Packet)
                        : round_up(sizeof(Packet) + buffer_len, kCacheLineSize);
  uint64_t buffer_stride = config.descriptors_apart ? round_up(buffer_len, kCacheLineSize) : stride;
  uint64_t size = stride * config.buffer_count;
  uint64_t buffers_size = buffer_stride * config.buffer_count;
  // index_of() works in 32 bits.
  if (size >= (uint64_t{1} << 32) || buffers_size >= (uint64_t{1} << 32)) return nullptr;

  std::unique_ptr<BufferPool> pool(new BufferPool());
  Geometry& g = pool->geo_;
  g.count = config.buffer_count;
  g.buffer_len = static_cast<uint32_t>(buffer_len);
  g.headroom = config.headroom;
  pool->element_size_ =
      static_cast<uint32_t>(config.descriptors_apart ? sizeof(Packet) + buffer_stride : stride);
  pool->name_ = config.name;
  g.shift = static_cast<uint32_t>(__builtin_ctzll(stride));
  g.low_mask = (uintptr_t{1} << g.shift) - 1;
  g.odd_inverse = inverse_mod_2_32(static_cast<uint32_t>(stride >> g.shift));

  uint64_t alloc_size = round_up(size, kArenaAlign);
  g.arena = static_cast<uint8_t*>(std::aligned_alloc(kArenaAlign, alloc_size));
  if (g.arena == nullptr) return nullptr;
  // Touch every page now rather than on the fast path.
  std::memset(g.arena, 0, alloc_size);
  g.arena_size = size;
  if (config.descriptors_apart) {
    uint64_t buffers_alloc = round_up(buffers_size, kArenaAlign);
    pool->buffer_arena_ = static_cast<uint8_t*>(std::aligned_alloc(kArenaAlign, buffers_alloc));
    if (pool->buffer_arena_ == nullptr) return nullptr;
    std::memset(pool->buffer_arena_, 0, buffers_alloc);
    g.buffers = pool->buffer_arena_;
  } else {
    g.buffers = g.arena + sizeof(Packet);
  }
  g.buffer_stride = static_cast<uint32_t>(buffer_stride);
  pool->stack_.reset(new (std::nothrow) Packet*[config.buffer_count]);
  pool->state_.reset(new (std::nothrow) ElementState[config.buffer_count]());
  if (!pool->stack_ || !pool->state_) return nullptr;
  // Element 0 on top, so a fresh pool hands out buffers in address order.
  for (uint32_t i = 0; i < config.buffer_count; i++) {
    pool->stack_[i] =
        reinterpret_cast<Packet*>(g.arena + uint64_t{config.buffer_count - 1 - i} * stride);
  }
  pool->top_ = config.buffer_count;

  std::lock_guard<std::mutex> lock(registry_mutex());
  for (uint16_t id = 0; id < kMaxPools; id++) {
    if (registry_[id].load(std::memory_order_relaxed) == nullptr) {
      g.id = id;
      registry_[id].store(pool.get(), std::memory_order_release);
      return pool;
    }
  }
  return nullptr;  // every id taken
}

BufferPool::~BufferPool() {
  if (geo_.id != kNoPool) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry_[geo_.id].store(nullptr, std::memory_order_release);
  }
  std::free(geo_.arena);
  std::free(buffer_arena_);
}

void BufferPool::claim_or_check_owner() {
  std::thread::id self = std::this_thread::get_id();
  if (owner_ == std::thread::id()) {
    owner_ = self;
  } else if (owner_ != self) {
    std::fprintf(stderr, "BufferPool '%s': used by a thread that does not own it\n", name_.c_str());
    std::abort();
  }
}

void BufferPool::bad_free(const Packet* p) {
  stats_.bad_frees++;
#ifndef NDEBUG
  std::fprintf(stderr, "BufferPool '%s': bad free of %p (%s)\n", name_.c_str(),
               static_cast<const void*>(p), owns(p) ? "double free" : "not from this pool");
  std::abort();
#else
  (void)p;
#endif
}

void free_packet(Packet* p) {
  while (p != nullptr) {
    Packet* next = p->next();
    if (p->pool_id() != kNoPool) {
      BufferPool* pool = BufferPool::from_id(p->pool_id());
      if (FERRY_LIKELY(pool != nullptr)) pool->free(p);
    }
    p = next;
  }
}

// Segments are gathered per pool and handed back with free_bulk(), so a burst from one
// pool costs one registry lookup per run of same-pool segments, not one per segment.
void free_packets(Packet* const* pkts, uint32_t n) {
  constexpr uint32_t kBatch = 64;
  Packet* batch[kBatch];
  uint32_t count = 0;
  uint16_t batch_pool = kNoPool;
  auto flush = [&] {
    BufferPool* pool = BufferPool::from_id(batch_pool);
    if (FERRY_LIKELY(pool != nullptr)) pool->free_bulk(batch, count);
    count = 0;
  };
  for (uint32_t i = 0; i < n; i++) {
    for (Packet* p = pkts[i]; p != nullptr;) {
      Packet* next = p->next();  // read before the segment goes back to its pool
      uint16_t id = p->pool_id();
      if (id != kNoPool) {
        if (id != batch_pool || count == kBatch) {
          if (count > 0) flush();
          batch_pool = id;
        }
        batch[count++] = p;
      }
      p = next;
    }
  }
  if (count > 0) flush();
}

}  // namespace ferry
