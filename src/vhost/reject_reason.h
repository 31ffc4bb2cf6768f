#pragma once

// Why the back-end refused a vhost-user message. Every rejection is counted per reason
// (VhostUserBackend::rejects()) and logged as one line. Framing errors leave the byte
// stream without a trustworthy message boundary, so they end the connection; the others
// refuse one message, answered with a non-zero REPLY_ACK when the front-end asked for one.
// A refused request whose reply carries a payload (GET_VRING_BASE, GET_INFLIGHT_FD,
// SET_LOG_BASE ...) also ends the connection: the front-end would otherwise wait forever.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry::vhost {

enum class RejectReason : uint8_t {
  kNone = 0,
  // Framing: the connection is closed.
  kTruncatedHeader,   // EOF, error or timeout inside the 12-byte header
  kBadVersion,        // flags do not carry protocol version 1
  kOversizedPayload,  // size field larger than any request's payload
  kTruncatedPayload,  // EOF, error or timeout inside the payload
  kControlTruncated,  // more fds than the 8 the protocol allows (MSG_CTRUNC)
  // One message refused.
  kUnknownRequest,               // request number not in the protocol
  kUnsupportedRequest,           // a valid request this back-end does not implement
  kBadPayloadSize,               // payload size wrong for the request type
  kWrongFdCount,                 // missing or extra file descriptors
  kReservedBits,                 // reserved bits set in a vring fd payload
  kBadQueueIndex,                // vring index >= the number of rings
  kNotNegotiated,                // needs a protocol feature that was not negotiated
  kUnsupportedFeatures,          // SET_FEATURES with bits the device did not offer
  kUnsupportedProtocolFeatures,  // SET_PROTOCOL_FEATURES with bits not offered
  kTooManyRegions,               // memory table with more than 8 regions
  kEmptyRegion,                  // memory region of size 0
  kRegionOverflow,               // address + size or mmap_offset + size wraps around
  kRegionOverlap,                // regions overlap in guest-physical or front-end space
  kBadFd,                        // fd cannot be inspected or is not a mappable file
  kBeyondFile,                   // mmap_offset + size past the end of the file
  kMmapFailed,                   // mmap() refused the fd
  kBadRingSize,                  // SET_VRING_NUM 0, > 32768, or not a power of two for split
  kBadRingAddress,               // ring addresses misaligned or not inside the memory table
  kBadLogBase,                   // log size 0, too large, or size + offset overflow
  kBadInflight,                  // inflight queue count or size out of range
  kBadConfig,                    // config offset/size outside the config space
  kConfigRejected,               // the device refused a config write
  kBadMtu,                       // MTU outside 68..65535
  kBadStatus,                    // status value with bits above the 8 the spec defines
  kCount
};

constexpr size_t kRejectReasonCount = static_cast<size_t>(RejectReason::kCount);

std::string_view to_string(RejectReason reason);

// True for reasons after which the connection cannot continue.
constexpr bool is_framing_error(RejectReason reason) {
  return reason >= RejectReason::kTruncatedHeader && reason <= RejectReason::kControlTruncated;
}

}  // namespace ferry::vhost
