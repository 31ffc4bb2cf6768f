#pragma once

#include <cstdint>

namespace ferry::proto {

// Why a frame was rejected. Every reason is counted where frames enter Ferry.
enum class ParseError : uint8_t {
  kOk = 0,
  kTruncated,          // a header runs past the end of the data
  kBadVersion,         // IP version field does not match the EtherType
  kBadHeaderLength,    // IHL < 5, TCP data offset < 5, extension length impossible, ...
  kLengthMismatch,     // IP total/payload length larger than the frame, or UDP length bad
  kTooManyHeaders,     // VLAN tags, MPLS labels or IPv6 extension headers over the limit
  kBadOption,          // an IPv4/TCP/IPv6 option runs past its header
  kBadFragment,        // fragment offset/length impossible
  kCount,
};

const char* to_string(ParseError error);

}  // namespace ferry::proto
