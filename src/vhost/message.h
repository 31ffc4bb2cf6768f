#pragma once

// The vhost-user wire format (QEMU docs/interop/vhost-user.rst): a 12-byte header
// (request, flags, payload size, all little-endian u32), a payload of `size` bytes, and
// up to 8 file descriptors passed as SCM_RIGHTS ancillary data with the header.
//
// The protocol has no UAPI header of its own; the few structures that match the vhost
// ioctls (vring state, vring address) use <linux/vhost_types.h>.

// vhost_types.h pulls in virtio_ring.h, whose legacy vring_init() is C only.
#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <linux/vhost_types.h>

#include "vhost/reject_reason.h"
#include "vhost/unique_fd.h"

namespace ferry::vhost {

// Front-end requests, named as in the specification (VHOST_USER_ prefix dropped).
enum class Request : uint32_t {
  NONE = 0,
  GET_FEATURES = 1,
  SET_FEATURES = 2,
  SET_OWNER = 3,
  RESET_OWNER = 4,
  SET_MEM_TABLE = 5,
  SET_LOG_BASE = 6,
  SET_LOG_FD = 7,
  SET_VRING_NUM = 8,
  SET_VRING_ADDR = 9,
  SET_VRING_BASE = 10,
  GET_VRING_BASE = 11,
  SET_VRING_KICK = 12,
  SET_VRING_CALL = 13,
  SET_VRING_ERR = 14,
  GET_PROTOCOL_FEATURES = 15,
  SET_PROTOCOL_FEATURES = 16,
  GET_QUEUE_NUM = 17,
  SET_VRING_ENABLE = 18,
  SEND_RARP = 19,
  NET_SET_MTU = 20,
  SET_BACKEND_REQ_FD = 21,
  IOTLB_MSG = 22,
  SET_VRING_ENDIAN = 23,
  GET_CONFIG = 24,
  SET_CONFIG = 25,
  CREATE_CRYPTO_SESSION = 26,
  CLOSE_CRYPTO_SESSION = 27,
  POSTCOPY_ADVISE = 28,
  POSTCOPY_LISTEN = 29,
  POSTCOPY_END = 30,
  GET_INFLIGHT_FD = 31,
  SET_INFLIGHT_FD = 32,
  GPU_SET_SOCKET = 33,
  RESET_DEVICE = 34,
  VRING_KICK = 35,
  GET_MAX_MEM_SLOTS = 36,
  ADD_MEM_REG = 37,
  REM_MEM_REG = 38,
  SET_STATUS = 39,
  GET_STATUS = 40,
  GET_SHARED_OBJECT = 41,
  SET_DEVICE_STATE_FD = 42,
  CHECK_DEVICE_STATE = 43,
  MAX
};

std::string_view to_string(Request request);

// Protocol feature bits (GET/SET_PROTOCOL_FEATURES), as bit numbers.
enum ProtocolFeature : uint32_t {
  kProtocolMq = 0,
  kProtocolLogShmfd = 1,
  kProtocolRarp = 2,
  kProtocolReplyAck = 3,
  kProtocolNetMtu = 4,
  kProtocolBackendReq = 5,
  kProtocolCrossEndian = 6,
  kProtocolCryptoSession = 7,
  kProtocolPagefault = 8,
  kProtocolConfig = 9,
  kProtocolBackendSendFd = 10,
  kProtocolHostNotifier = 11,
  kProtocolInflightShmfd = 12,
  kProtocolResetDevice = 13,
  kProtocolInbandNotifications = 14,
  kProtocolConfigureMemSlots = 15,
  kProtocolStatus = 16,
};

// Virtio feature bit 30: the back-end speaks GET/SET_PROTOCOL_FEATURES.
constexpr uint32_t kFeatureProtocolFeatures = 30;

constexpr uint32_t kHeaderSize = 12;
constexpr uint32_t kFlagVersionMask = 0x3;
constexpr uint32_t kFlagVersion = 0x1;
constexpr uint32_t kFlagReply = 0x4;
constexpr uint32_t kFlagNeedReply = 0x8;
constexpr size_t kMaxFds = 8;
constexpr size_t kMaxMemoryRegions = 8;
constexpr uint32_t kMaxConfigSize = 256;
// SET_VRING_KICK/CALL/ERR payload: ring index in bits 0-7, "no fd" (polling) in bit 8.
constexpr uint64_t kVringIndexMask = 0xff;
constexpr uint64_t kVringNoFd = 0x100;

struct Header {
  uint32_t request = 0;
  uint32_t flags = 0;
  uint32_t size = 0;
};
static_assert(sizeof(Header) == kHeaderSize);

struct MemoryRegionDesc {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};

struct MemoryTable {
  uint32_t num_regions;
  uint32_t padding;
  MemoryRegionDesc regions[kMaxMemoryRegions];
};
constexpr uint32_t kMemoryTableHeaderSize = 8;
static_assert(sizeof(MemoryTable) == kMemoryTableHeaderSize + 8 * sizeof(MemoryRegionDesc));

struct LogDesc {
  uint64_t mmap_size;
  uint64_t mmap_offset;
};

struct InflightDesc {
  uint64_t mmap_size;
  uint64_t mmap_offset;
  uint16_t num_queues;
  uint16_t queue_size;
  uint32_t padding;  // the front-ends send the C struct's size, 24 bytes
};
static_assert(sizeof(InflightDesc) == 24);

struct ConfigHeader {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
};
constexpr uint32_t kConfigHeaderSize = sizeof(ConfigHeader);

static_assert(sizeof(vhost_vring_state) == 8);
static_assert(sizeof(vhost_vring_addr) == 40);

constexpr uint32_t kMaxPayloadSize = kConfigHeaderSize + kMaxConfigSize;
static_assert(kMaxPayloadSize >= sizeof(MemoryTable));

// One message as read from (or to be written to) the socket. Payload accessors copy, so
// no alignment or aliasing assumptions are made about the received bytes.
struct Message {
  Header header;
  alignas(8) std::array<uint8_t, kMaxPayloadSize> payload{};
  std::vector<UniqueFd> fds;

  Request request() const { return static_cast<Request>(header.request); }
  bool need_reply() const { return (header.flags & kFlagNeedReply) != 0; }

  template <typename T>
  T get() const {
    static_assert(sizeof(T) <= kMaxPayloadSize);
    T value;
    std::memcpy(&value, payload.data(), sizeof(T));
    return value;
  }
  template <typename T>
  void set(const T& value) {
    static_assert(sizeof(T) <= kMaxPayloadSize);
    std::memcpy(payload.data(), &value, sizeof(T));
    header.size = sizeof(T);
  }
  uint64_t u64() const { return get<uint64_t>(); }
};

enum class ReadStatus {
  kOk,      // a whole message is in *msg
  kClosed,  // the peer closed the connection between messages
  kError,   // framing error; *reason says which. The connection must be closed.
};

// Reads one message from a connected stream socket. Blocks until the header arrives; the
// socket's SO_RCVTIMEO bounds how long a front-end may stall inside a message. Received
// fds are close-on-exec; fds beyond kMaxFds are closed by the kernel and flagged.
ReadStatus read_message(int fd, Message* msg, RejectReason* reason);

// Writes header + payload (and optionally one fd) in one sendmsg. False on error.
bool write_message(int fd, const Header& header, const void* payload, int send_fd = -1);

// Shape checks that need no device state: payload size for the request type, fd count,
// reserved bits, and the vring index against num_rings. kNone if the message is well-formed.
RejectReason validate_message(const Message& msg, uint32_t num_rings);

}  // namespace ferry::vhost
