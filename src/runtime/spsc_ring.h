#pragma once

// SpscRing<T>: a bounded single-producer single-consumer ring of trivially copyable
// values (Packet pointers between workers). Lock-free; push/pop move bursts.

#include <atomic>
#include <cstdint>
#include <vector>

namespace ferry::runtime {

template <typename T>
class SpscRing {
 public:
  // size: a power of two.
  explicit SpscRing(uint32_t size) : slots_(size), mask_(size - 1) {}

  // Pushes up to n values; returns how many fit.
  uint32_t push(const T* v, uint32_t n) {
    uint32_t head = head_.load(std::memory_order_relaxed);
    uint32_t tail = tail_.load(std::memory_order_acquire);
    uint32_t room = static_cast<uint32_t>(slots_.size()) - (head - tail);
    if (n > room) n = room;
    for (uint32_t i = 0; i < n; i++)
      slots_[(head + i) & mask_] = v[i];
    head_.store(head + n, std::memory_order_release);
    return n;
  }
  // Pops up to max values; returns how many.
  uint32_t pop(T* v, uint32_t max) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    uint32_t head = head_.load(std::memory_order_acquire);
    uint32_t n = head - tail;
    if (n > max) n = max;
    for (uint32_t i = 0; i < n; i++)
      v[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }
  uint32_t size() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }
  // Values popped so far (progress, for the watchdog).
  uint32_t consumed() const { return tail_.load(std::memory_order_acquire); }

 private:
  std::vector<T> slots_;
  uint32_t mask_;
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
};

}  // namespace ferry::runtime
