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
  };

  // Largest number of pools alive at once (pool ids are 0 .. kMaxPools - 1).
  static constexpr uint16_t kMaxPools = 4096;

  // Builds a pool and registers it. nullptr if the config is invalid (no buffers, a
  // buffer larger than 4 GiB in total, ...), memory is short, or kMaxPools pools exist.
  static std::unique_ptr<BufferPool> create(const Config& config);
  // The pool with this id, or nullptr (also for kNoPool). Safe from any thread while the
  // pool is alive.
  static BufferPool* from_id(uint16_t id) {
    return FERRY_LIKELY(id < kMaxPools) ? registry_[id].load(std::memory_order_acquire) : nullptr;
  }

  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A fresh single-segment packet (Packet::init'ed: empty, default headroom, no metadata),
  // or nullptr if the pool is empty.
  Packet* alloc() {
    check_owner();
    if (FERRY_UNLIKELY(top_ == 0)) {
      stats_.exhausted++;
      return nullptr;
    }
    Packet* p = stack_[--top_];
    take(p);
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
    Packet** src = stack_.get() + top_ - n;
    for (uint32_t i = 0; i < n; i++) {
      Packet* p = src[n - 1 - i];  // top of the stack first: the warmest buffers
      take(p);
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
    if (FERRY_UNLIKELY(!index_of(p, &idx) || !allocated_[idx])) {
      bad_free(p);
      return;
    }
    allocated_[idx] = 0;
    stack_[top_++] = p;
    stats_.frees++;
  }

  // Returns n segments of this pool (their next() pointers are not followed).
  void free_bulk(Packet* const* pkts, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
      free(pkts[i]);
  }

  // True if p is the descriptor of an element of this pool (allocated or not).
  bool owns(const Packet* p) const {
    uint32_t idx;
    return index_of(p, &idx);
  }
  // True if p is a descriptor of this pool that is currently allocated.
  bool is_allocated(const Packet* p) const {
    uint32_t idx;
    return index_of(p, &idx) && allocated_[idx] != 0;
  }

  // Lets another thread claim the pool (debug-build owner check); call on hand-over.
  void release_owner() { owner_ = std::thread::id(); }

  uint16_t id() const { return id_; }
  const std::string& name() const { return name_; }
  uint32_t capacity() const { return count_; }
  uint32_t available() const { return top_; }
  uint32_t element_size() const { return stride_; }
  uint32_t buffer_len() const { return buffer_len_; }  // headroom + data room
  uint16_t headroom() const { return headroom_; }
  uint32_t data_room() const { return buffer_len_ - headroom_; }
  BufferPoolStats stats() const {
    BufferPoolStats s = stats_;
    s.in_use = count_ - top_;
    return s;
  }

 private:
  BufferPool() = default;

  // Element index of p, if p is exactly the start of an element of the arena. The
  // stride is 2^shift * odd; x is a multiple of the odd part iff x * inverse(odd) mod 2^32
  // is small (<= (2^32 - 1) / odd), and then that product is the quotient. Since
  // count * stride < 2^32, "small" is implied by the index < count test.
  bool index_of(const Packet* p, uint32_t* idx) const {
    uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(arena_);
    if (FERRY_UNLIKELY(off >= arena_size_ || (off & low_mask_) != 0)) return false;
    uint32_t i = static_cast<uint32_t>(off >> shift_) * odd_inverse_;
    *idx = i;
    return FERRY_LIKELY(i < count_);
  }

  void take(Packet* p) {
    // p came off the free stack, so it is an element boundary: the quotient is exact.
    uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(arena_);
    allocated_[static_cast<uint32_t>(off >> shift_) * odd_inverse_] = 1;
    p->init(reinterpret_cast<uint8_t*>(p) + sizeof(Packet), buffer_len_, headroom_, id_);
  }

  void note_allocs(uint32_t n) {
    stats_.allocs += n;
    uint32_t in_use = count_ - top_;
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

  uint8_t* arena_ = nullptr;
  uintptr_t arena_size_ = 0;
  std::unique_ptr<Packet*[]> stack_;      // free stack; [0, top_) are free
  std::unique_ptr<uint8_t[]> allocated_;  // per element: 1 while allocated
  uint32_t top_ = 0;
  uint32_t count_ = 0;
  uint32_t stride_ = 0;
  uint32_t buffer_len_ = 0;
  uint32_t shift_ = 0;
  uint32_t odd_inverse_ = 0;
  uintptr_t low_mask_ = 0;
  uint16_t headroom_ = 0;
  uint16_t id_ = kNoPool;
  BufferPoolStats stats_;
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
