#pragma once

// Counters of parse outcomes, one per ParseError, for the places where frames enter Ferry.
// Plain integers: each worker keeps its own and they are merged for reporting.

#include <array>
#include <cstdint>

#include "proto/parse_error.h"

namespace ferry::proto {

struct ParseStats {
  std::array<uint64_t, static_cast<size_t>(ParseError::kCount)> by_error{};

  void count(ParseError e) { by_error[static_cast<size_t>(e)]++; }
  uint64_t operator[](ParseError e) const { return by_error[static_cast<size_t>(e)]; }
  uint64_t accepted() const { return (*this)[ParseError::kOk]; }
  uint64_t total() const {
    uint64_t n = 0;
    for (uint64_t v : by_error)
      n += v;
    return n;
  }
  uint64_t rejected() const { return total() - accepted(); }
  void merge(const ParseStats& other) {
    for (size_t i = 0; i < by_error.size(); i++)
      by_error[i] += other.by_error[i];
  }
  void clear() { by_error.fill(0); }
};

}  // namespace ferry::proto
