#pragma once

// Mapping: sole owner of one mmap()ed range (guest memory region, dirty log, inflight
// area); munmap()s it when destroyed or reset.

#include <cstddef>
#include <cstdint>
#include <utility>

#include <sys/mman.h>

namespace ferry::vhost {

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* base, size_t length) : base_(static_cast<uint8_t*>(base)), length_(length) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), length_(std::exchange(other.length_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      reset();
      base_ = std::exchange(other.base_, nullptr);
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  ~Mapping() { reset(); }

  uint8_t* base() const { return base_; }
  size_t length() const { return length_; }
  bool valid() const { return base_ != nullptr; }
  void reset() {
    if (base_ != nullptr) ::munmap(base_, length_);
    base_ = nullptr;
    length_ = 0;
  }

 private:
  uint8_t* base_ = nullptr;
  size_t length_ = 0;
};

}  // namespace ferry::vhost
