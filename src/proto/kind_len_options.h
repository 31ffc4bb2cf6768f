#pragma once

// The option encoding shared by IPv4 (RFC 791) and TCP (RFC 9293): kind 0 ends the list,
// kind 1 is a one-byte no-op, any other kind is followed by a length byte that counts the
// kind and length bytes too. KindLenIterator walks such a list without trusting it.

#include <cstdint>
#include <span>

namespace ferry::proto {

struct KindLenOption {
  uint8_t kind = 0;
  uint8_t len = 0;                // whole option, kind and length bytes included
  const uint8_t* data = nullptr;  // the value bytes after kind and length
  uint8_t data_len() const { return len >= 2 ? static_cast<uint8_t>(len - 2) : 0; }
};

class KindLenIterator {
 public:
  static constexpr uint8_t kEnd = 0;
  static constexpr uint8_t kNop = 1;

  explicit KindLenIterator(std::span<const uint8_t> options)
      : p_(options.data()), left_(static_cast<uint32_t>(options.size())) {}

  // Stores the next option and returns true; false at the end of the list or when the
  // list is malformed (then malformed() is true). After an end-of-list option the
  // remaining bytes are padding and are not looked at.
  bool next(KindLenOption* option) {
    if (left_ == 0) return false;
    const uint8_t kind = p_[0];
    option->kind = kind;
    option->data = nullptr;
    if (kind == kEnd || kind == kNop) {
      option->len = 1;
      p_++;
      left_ = kind == kEnd ? 0 : left_ - 1;
      return true;
    }
    if (left_ < 2 || p_[1] < 2 || p_[1] > left_) {
      malformed_ = true;
      left_ = 0;
      return false;
    }
    option->len = p_[1];
    option->data = p_ + 2;
    p_ += option->len;
    left_ -= option->len;
    return true;
  }
  bool malformed() const { return malformed_; }

 private:
  const uint8_t* p_;
  uint32_t left_;
  bool malformed_ = false;
};

}  // namespace ferry::proto
