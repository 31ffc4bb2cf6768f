#include "proto/parser.h"

namespace ferry::proto {

const char* to_string(ParseError error) {
  switch (error) {
    case ParseError::kOk: return "ok";
    case ParseError::kTruncated: return "truncated";
    case ParseError::kBadVersion: return "bad-version";
    case ParseError::kBadHeaderLength: return "bad-header-length";
    case ParseError::kLengthMismatch: return "length-mismatch";
    case ParseError::kTooManyHeaders: return "too-many-headers";
    case ParseError::kBadOption: return "bad-option";
    case ParseError::kBadFragment: return "bad-fragment";
    case ParseError::kCount: break;
  }
  return "?";
}

ParseResult parse_frame(std::span<const uint8_t> frame, const ParseOptions&) {
  ParseResult r;
  if (frame.size() < 14) r.error = ParseError::kTruncated;
  return r;
}

ParseError parse_packet(Packet& packet, const ParseOptions& options) {
  return parse_frame({packet.data(), packet.data_len()}, options).error;
}

}  // namespace ferry::proto
