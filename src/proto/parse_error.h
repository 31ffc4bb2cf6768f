#pragma once

#include <cstdint>

namespace ferry::proto {

// Why a frame was rejected. Every reason is counted where frames enter Ferry (ParseStats).
//
// The length reasons split as follows: a fixed-size header that does not fit in what
// encloses it is kTruncated; a header whose own length field claims more bytes than
// enclose it (IHL > total length, TCP data offset past the segment, an IPv6 extension
// header past the payload) is kBadHeaderLength; an IP datagram longer than the frame, or a
// UDP length that does not fit, is kLengthMismatch.
enum class ParseError : uint8_t {
  kOk = 0,
  kTruncated,        // a header runs past the end of the data
  kBadVersion,       // IP version field does not match the EtherType; Geneve version != 0
  kBadHeaderLength,  // IHL < 5, TCP data offset < 5, extension length impossible, ...
  kLengthMismatch,   // IP total/payload length larger than the frame, or UDP length bad
  kTooManyHeaders,   // VLAN tags, MPLS labels or IPv6 extension headers over the limit
  kBadOption,        // an IPv4/TCP/IPv6/Geneve/ND option runs past its header or has a
                     // length its kind does not allow
  kBadFragment,      // fragment offset/length impossible
  kUnsupported,      // well-formed but not handled: IPv6 jumbograms (RFC 2675)
  kHeadersTooLong,   // headers reach past what the parser may examine: the header bytes
                     // of a chained packet (kMaxChainedHeaderBytes) or 16-bit offsets
  kCount,
};

const char* to_string(ParseError error);

}  // namespace ferry::proto
