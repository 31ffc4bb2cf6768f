#pragma once

// BufferPool: a per-worker pool of fixed-size packet buffers.
//
// One 4 KiB-aligned arena holds `buffer_count` elements of `element_size()` bytes, each a
// multiple of 64. An element is a Packet descriptor followed by its buffer, like a DPDK
// mbuf, so a packet is one allocation and its descriptor and first data share a page:
//
//     element (64-byte aligned)
//     +-----------+--------------------+-----------------------------+---------+
//     |  Packet   |  headroom          |  data room                  | padding |
//     |  64 bytes |  (130 by default)  |  (2048 by default)          | to 64   |
//     +-----------+--------------------+-----------------------------+---------+
//                 ^ buffer_start()     ^ data() of a fresh packet
//
// With the default headroom of 128 + 2 (kDefaultHeadroom), data() of a fresh packet is 2
// bytes past a 64-byte boundary, so the IP header behind a 14-byte Ethernet header starts
// on a 16-byte boundary.
//
// Threading: a pool belongs to one worker thread. alloc*/free* take no lock and use no
// atomics; only that worker may call them. Packets that reach another worker must come
// back to the owner to be freed (or be copied). Debug builds check the thread: the first
// thread that allocates or frees claims the pool; hand a pool to another thread with
// release_owner(). Counters are plain integers read by the owner (or, approximately, by a
// stats reader that tolerates torn values).
//
// With Config::descriptors_apart the descriptors sit in a dense array of their own and the
// buffers in a second, page-aligned array: that is the layout for page-sized payload
// segments (SplitPacketAllocator), whose data then starts on a page boundary.
//
// Recycling is LIFO: the buffer freed last is allocated next, while it is still in cache.
//
// Hostile input: free() checks that the descriptor lies in this pool's arena at an element
// boundary and that the element is allocated, in release builds too (a few ALU operations
// and one byte load; no division). A double free or a foreign pointer is counted in
// bad_frees and ignored, never pushed onto the free stack; debug builds also assert.
//
// Pools are found by id: Packet::pool_id() is a 16-bit index into a process-wide registry
// (BufferPool::from_id), so free_packet() can return every segment of a chain to the pool
// it came from.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "base/compiler.h"
#include "packet/packet.h"

namespace ferry {

struct BufferPoolStats {
  uint64_t allocs = 0;      // buffers handed out
  uint64_t frees = 0;       // buffers returned
  uint64_t exhausted = 0;   // alloc()/alloc_bulk() calls that failed for want of buffers
  uint64_t bad_frees = 0;   // double frees and pointers not from this pool (ignored)
  uint32_t in_use = 0;      // buffers allocated now
  uint32_t high_water = 0;  // most buffers ever allocated at once
};

class BufferPool {
 public:
  struct Config {
    std::string name;
    uint32_t buffer_count = 4096;
    uint32_t data_room = 2048;             // bytes after the headroom
    uint16_t headroom = kDefaultHeadroom;  // bytes before data() in a fresh packet
    // Keep the descriptors in an array of their own and the buffers in a 4 KiB-aligned
    // array with a stride of the buffer length rounded up to 64. With headroom 0 and a
    // data room of 4096 every buffer is exactly one page (payload pools of header split).
    bool descriptors_apart = false;
  };

  // Largest number of pools alive at once (pool ids are 0 .. kMaxPools - 1).
  static constexpr uint16_t kMaxPools = 4096;

  // Builds a pool and registers it. nullptr if the config is invalid (no buffers, a
  // descriptor or buffer array of 4 GiB or more), memory is short, or kMaxPools pools exist.
  static std::unique_ptr<BufferPool> create(const Config& config);
  // The pool with this id, or nullptr (also for kNoPool). Safe from any thread while the
  // pool is alive.
  static BufferPool* from_id(uint16_t id) {
    return FERRY_LIKELY(id < kMaxPools) ? registry_[id].load(std::memory_order_acquire) : nullptr;
  }

  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A fresh single-segment packet (Packet::init'ed: empty, the pool's headroom, no metadata),
  // or nullptr if the pool is empty.
  Packet* alloc() {
    check_owner();
    if (FERRY_UNLIKELY(top_ == 0)) {
      stats_.exhausted++;
      return nullptr;
    }
    Packet* p = stack_[--top_];
    take(geo_, state_.get(), p);
    note_allocs(1);
    return p;
  }

  // n fresh packets into out[0..n), or none at all (false) if fewer than n are free.
  bool alloc_bulk(Packet** out, uint32_t n) {
    check_owner();
    if (FERRY_UNLIKELY(n > top_)) {
      stats_.exhausted++;
      return false;
    }
    // Locals: Packet::init's memset could alias the members and force reloads.
    Packet** src = stack_.get() + top_ - n;
    const Geometry g = geo_;
    ElementState* state = state_.get();
    for (uint32_t i = 0; i < n; i++) {
      Packet* p = src[n - 1 - i];  // top of the stack first: the warmest buffers
      take(g, state, p);
      out[i] = p;
    }
    top_ -= n;
    note_allocs(n);
    return true;
  }

  // Returns one segment (not its chain: see free_packet) to this pool.
  void free(Packet* p) {
    check_owner();
    uint32_t idx;
    if (FERRY_UNLIKELY(!index_of(geo_, p, &idx) || state_[idx] != ElementState::kAllocated)) {
      bad_free(p);
      return;
    }
    state_[idx] = ElementState::kFree;
    stack_[top_++] = p;
    stats_.frees++;
  }

  // Returns n segments of this pool (their next() pointers are not followed).
  void free_bulk(Packet* const* pkts, uint32_t n) {
    check_owner();
    const Geometry g = geo_;
    ElementState* state = state_.get();
    Packet** stack = stack_.get();
    uint32_t top = top_;
    uint32_t freed = 0;
    for (uint32_t i = 0; i < n; i++) {
      Packet* p = pkts[i];
      uint32_t idx;
      if (FERRY_UNLIKELY(!index_of(g, p, &idx) || state[idx] != ElementState::kAllocated)) {
        top_ = top;
        bad_free(p);
        continue;
      }
      state[idx] = ElementState::kFree;
      stack[top++] = p;
      freed++;
    }
    top_ = top;
    stats_.frees += freed;
  }

  // True if p is the descriptor of an element of this pool (allocated or not).
  bool owns(const Packet* p) const {
    uint32_t idx;
    return index_of(geo_, p, &idx);
  }
  // True if p is a descriptor of this pool that is currently allocated.
  bool is_allocated(const Packet* p) const {
    uint32_t idx;
    return index_of(geo_, p, &idx) && state_[idx] == ElementState::kAllocated;
  }

  // Lets another thread claim the pool (debug-build owner check); call on hand-over.
  void release_owner() { owner_ = std::thread::id(); }

  uint16_t id() const { return geo_.id; }
  const std::string& name() const { return name_; }
  uint32_t capacity() const { return geo_.count; }
  uint32_t available() const { return top_; }
  // Bytes per buffer, descriptor included.
  uint32_t element_size() const { return element_size_; }
  uint32_t buffer_len() const { return geo_.buffer_len; }  // headroom + data room
  uint16_t headroom() const { return geo_.headroom; }
  uint32_t data_room() const { return geo_.buffer_len - geo_.headroom; }
  BufferPoolStats stats() const {
    BufferPoolStats s = stats_;
    s.in_use = geo_.count - top_;
    return s;
  }

 private:
  BufferPool() = default;

  // A distinct type (not a char type), so stores to it do not alias everything.
  enum class ElementState : uint8_t { kFree = 0, kAllocated = 1 };

  // What the fast path needs, copied into locals by the bulk loops.
  struct Geometry {
    uint8_t* arena = nullptr;
    uintptr_t arena_size = 0;
    uintptr_t low_mask = 0;  // stride = 2^shift * odd; low_mask = 2^shift - 1
    uint32_t shift = 0;
    uint32_t odd_inverse = 0;  // odd^-1 mod 2^32
    uint32_t count = 0;
    uint32_t buffer_len = 0;
    uint16_t headroom = 0;
    uint16_t id = kNoPool;
    uint8_t* buffers = nullptr;  // buffer of element i: buffers + i * buffer_stride
    uint32_t buffer_stride = 0;
  };

  // Element index of p, if p is exactly the start of an element of the arena. The
  // stride is 2^shift * odd; x is a multiple of the odd part iff x * inverse(odd) mod 2^32
  // is small (<= (2^32 - 1) / odd), and then that product is the quotient. Since
  // count * stride < 2^32, "small" is implied by the index < count test. No division.
  static bool index_of(const Geometry& g, const Packet* p, uint32_t* idx) {
    uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g.arena);
    if (FERRY_UNLIKELY(off >= g.arena_size || (off & g.low_mask) != 0)) return false;
    uint32_t i = static_cast<uint32_t>(off >> g.shift) * g.odd_inverse;
    *idx = i;
    return FERRY_LIKELY(i < g.count);
  }

  static void take(const Geometry& g, ElementState* state, Packet* p) {
    // p came off the free stack, so it is an element boundary: the quotient is exact.
    uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g.arena);
    uint32_t idx = static_cast<uint32_t>(off >> g.shift) * g.odd_inverse;
    state[idx] = ElementState::kAllocated;
    p->init(g.buffers + uint64_t{idx} * g.buffer_stride, g.buffer_len, g.headroom, g.id);
  }

  void note_allocs(uint32_t n) {
    stats_.allocs += n;
    uint32_t in_use = geo_.count - top_;
    if (in_use > stats_.high_water) stats_.high_water = in_use;
  }

  void check_owner() {
#ifndef NDEBUG
    claim_or_check_owner();
#endif
  }
  void claim_or_check_owner();
  FERRY_NOINLINE void bad_free(const Packet* p);

  static std::atomic<BufferPool*> registry_[kMaxPools];

  Geometry geo_;
  std::unique_ptr<Packet*[]> stack_;       // free stack; [0, top_) are free
  std::unique_ptr<ElementState[]> state_;  // per element
  uint32_t top_ = 0;
  uint32_t element_size_ = 0;
  BufferPoolStats stats_;
  uint8_t* buffer_arena_ = nullptr;  // descriptors_apart only
  std::string name_;
  std::thread::id owner_;
};

// Returns every segment of the chain starting at p to the pool it came from. Segments
// with pool id kNoPool (stack or caller-owned buffers) are left alone; a segment whose
// pool id names no live pool is left alone too. p may be nullptr.
void free_packet(Packet* p);
// free_packet() for each of pkts[0..n).
void free_packets(Packet* const* pkts, uint32_t n);

}  // namespace ferry
