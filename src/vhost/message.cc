#include "vhost/message.h"

#include <sys/socket.h>

#include <errno.h>

namespace ferry::vhost {

std::string_view to_string(Request request) {
  switch (request) {
    case Request::NONE:
      return "NONE";
    case Request::GET_FEATURES:
      return "GET_FEATURES";
    case Request::SET_FEATURES:
      return "SET_FEATURES";
    case Request::SET_OWNER:
      return "SET_OWNER";
    case Request::RESET_OWNER:
      return "RESET_OWNER";
    case Request::SET_MEM_TABLE:
      return "SET_MEM_TABLE";
    case Request::SET_LOG_BASE:
      return "SET_LOG_BASE";
    case Request::SET_LOG_FD:
      return "SET_LOG_FD";
    case Request::SET_VRING_NUM:
      return "SET_VRING_NUM";
    case Request::SET_VRING_ADDR:
      return "SET_VRING_ADDR";
    case Request::SET_VRING_BASE:
      return "SET_VRING_BASE";
    case Request::GET_VRING_BASE:
      return "GET_VRING_BASE";
    case Request::SET_VRING_KICK:
      return "SET_VRING_KICK";
    case Request::SET_VRING_CALL:
      return "SET_VRING_CALL";
    case Request::SET_VRING_ERR:
      return "SET_VRING_ERR";
    case Request::GET_PROTOCOL_FEATURES:
      return "GET_PROTOCOL_FEATURES";
    case Request::SET_PROTOCOL_FEATURES:
      return "SET_PROTOCOL_FEATURES";
    case Request::GET_QUEUE_NUM:
      return "GET_QUEUE_NUM";
    case Request::SET_VRING_ENABLE:
      return "SET_VRING_ENABLE";
    case Request::SEND_RARP:
      return "SEND_RARP";
    case Request::NET_SET_MTU:
      return "NET_SET_MTU";
    case Request::SET_BACKEND_REQ_FD:
      return "SET_BACKEND_REQ_FD";
    case Request::IOTLB_MSG:
      return "IOTLB_MSG";
    case Request::SET_VRING_ENDIAN:
      return "SET_VRING_ENDIAN";
    case Request::GET_CONFIG:
      return "GET_CONFIG";
    case Request::SET_CONFIG:
      return "SET_CONFIG";
    case Request::CREATE_CRYPTO_SESSION:
      return "CREATE_CRYPTO_SESSION";
    case Request::CLOSE_CRYPTO_SESSION:
      return "CLOSE_CRYPTO_SESSION";
    case Request::POSTCOPY_ADVISE:
      return "POSTCOPY_ADVISE";
    case Request::POSTCOPY_LISTEN:
      return "POSTCOPY_LISTEN";
    case Request::POSTCOPY_END:
      return "POSTCOPY_END";
    case Request::GET_INFLIGHT_FD:
      return "GET_INFLIGHT_FD";
    case Request::SET_INFLIGHT_FD:
      return "SET_INFLIGHT_FD";
    case Request::GPU_SET_SOCKET:
      return "GPU_SET_SOCKET";
    case Request::RESET_DEVICE:
      return "RESET_DEVICE";
    case Request::VRING_KICK:
      return "VRING_KICK";
    case Request::GET_MAX_MEM_SLOTS:
      return "GET_MAX_MEM_SLOTS";
    case Request::ADD_MEM_REG:
      return "ADD_MEM_REG";
    case Request::REM_MEM_REG:
      return "REM_MEM_REG";
    case Request::SET_STATUS:
      return "SET_STATUS";
    case Request::GET_STATUS:
      return "GET_STATUS";
    case Request::GET_SHARED_OBJECT:
      return "GET_SHARED_OBJECT";
    case Request::SET_DEVICE_STATE_FD:
      return "SET_DEVICE_STATE_FD";
    case Request::CHECK_DEVICE_STATE:
      return "CHECK_DEVICE_STATE";
    case Request::MAX:
      break;
  }
  return "UNKNOWN";
}

std::string_view to_string(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone:
      return "none";
    case RejectReason::kTruncatedHeader:
      return "truncated header";
    case RejectReason::kBadVersion:
      return "bad protocol version";
    case RejectReason::kOversizedPayload:
      return "payload size field too large";
    case RejectReason::kTruncatedPayload:
      return "truncated payload";
    case RejectReason::kControlTruncated:
      return "more than 8 fds";
    case RejectReason::kUnknownRequest:
      return "unknown request";
    case RejectReason::kUnsupportedRequest:
      return "unsupported request";
    case RejectReason::kBadPayloadSize:
      return "wrong payload size";
    case RejectReason::kWrongFdCount:
      return "wrong number of fds";
    case RejectReason::kReservedBits:
      return "reserved bits set";
    case RejectReason::kBadQueueIndex:
      return "vring index out of range";
    case RejectReason::kNotNegotiated:
      return "protocol feature not negotiated";
    case RejectReason::kUnsupportedFeatures:
      return "features not offered";
    case RejectReason::kUnsupportedProtocolFeatures:
      return "protocol features not offered";
    case RejectReason::kTooManyRegions:
      return "too many memory regions";
    case RejectReason::kEmptyRegion:
      return "empty memory region";
    case RejectReason::kRegionOverflow:
      return "memory region wraps around";
    case RejectReason::kRegionOverlap:
      return "memory regions overlap";
    case RejectReason::kBadFd:
      return "fd is not a mappable file";
    case RejectReason::kBeyondFile:
      return "mapping beyond the end of the file";
    case RejectReason::kMmapFailed:
      return "mmap failed";
    case RejectReason::kBadRingSize:
      return "bad vring size";
    case RejectReason::kBadRingAddress:
      return "bad vring address";
    case RejectReason::kBadLogBase:
      return "bad log base";
    case RejectReason::kBadInflight:
      return "bad inflight description";
    case RejectReason::kBadConfig:
      return "config access out of range";
    case RejectReason::kConfigRejected:
      return "config write refused";
    case RejectReason::kBadMtu:
      return "bad MTU";
    case RejectReason::kBadStatus:
      return "bad status";
    case RejectReason::kCount:
      break;
  }
  return "?";
}

namespace {

enum class RecvResult { kOk, kEof, kError };

// Reads exactly len bytes, collecting any SCM_RIGHTS fds that arrive with them.
// *got says how many bytes arrived before EOF or an error.
RecvResult recv_exact(int fd, uint8_t* buf, size_t len, std::vector<UniqueFd>* fds, bool* ctrunc,
                      size_t* got) {
  *got = 0;
  while (*got < len) {
    alignas(cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))];
    iovec iov{buf + *got, len - *got};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    // Take ownership of every fd first, whatever else happened.
    if (n >= 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int received;
          std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds->emplace_back(received);
        }
      }
      if (mh.msg_flags & MSG_CTRUNC) *ctrunc = true;
    }
    if (n < 0) return RecvResult::kError;
    if (n == 0) return RecvResult::kEof;
    *got += static_cast<size_t>(n);
  }
  return RecvResult::kOk;
}

}  // namespace

ReadStatus read_message(int fd, Message* msg, RejectReason* reason) {
  msg->fds.clear();
  msg->header = Header{};
  bool ctrunc = false;
  size_t got = 0;
  uint8_t raw[kHeaderSize];
  RecvResult r = recv_exact(fd, raw, kHeaderSize, &msg->fds, &ctrunc, &got);
  if (r != RecvResult::kOk) {
    msg->fds.clear();
    if (got == 0 && (r == RecvResult::kEof || errno == ECONNRESET)) return ReadStatus::kClosed;
    *reason = RejectReason::kTruncatedHeader;
    return ReadStatus::kError;
  }
  std::memcpy(&msg->header, raw, kHeaderSize);
  if ((msg->header.flags & kFlagVersionMask) != kFlagVersion) {
    msg->fds.clear();
    *reason = RejectReason::kBadVersion;
    return ReadStatus::kError;
  }
  if (msg->header.size > kMaxPayloadSize) {
    msg->fds.clear();
    *reason = RejectReason::kOversizedPayload;
    return ReadStatus::kError;
  }
  r = recv_exact(fd, msg->payload.data(), msg->header.size, &msg->fds, &ctrunc, &got);
  if (r != RecvResult::kOk) {
    msg->fds.clear();
    *reason = RejectReason::kTruncatedPayload;
    return ReadStatus::kError;
  }
  if (ctrunc || msg->fds.size() > kMaxFds) {
    msg->fds.clear();
    *reason = RejectReason::kControlTruncated;
    return ReadStatus::kError;
  }
  return ReadStatus::kOk;
}

bool write_message(int fd, const Header& header, const void* payload, int send_fd) {
  iovec iov[2] = {{const_cast<Header*>(&header), kHeaderSize},
                  {const_cast<void*>(payload), header.size}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = header.size > 0 ? 2 : 1;
  if (send_fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
  }
  size_t total = kHeaderSize + header.size;
  ssize_t n;
  do {
    n = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  // Replies are small; a partial write on a blocking socket means the peer is gone.
  return n == static_cast<ssize_t>(total);
}

namespace {

// Expected payload: an exact size, or one of the variable-size forms.
enum class Shape { kExact, kMemoryTable, kConfig, kUnsupported };

struct Rule {
  Shape shape;
  uint32_t size;  // kExact
  int fds;        // exact fd count; -1: decided by the payload
};

Rule rule_for(Request r) {
  switch (r) {
    case Request::GET_FEATURES:
      return {Shape::kExact, 0, 0};
    case Request::SET_FEATURES:
      return {Shape::kExact, 8, 0};
    case Request::SET_OWNER:
      return {Shape::kExact, 0, 0};
    case Request::RESET_OWNER:
      return {Shape::kExact, 0, 0};
    case Request::SET_MEM_TABLE:
      return {Shape::kMemoryTable, 0, -1};
    case Request::SET_LOG_BASE:
      return {Shape::kExact, sizeof(LogDesc), 1};
    case Request::SET_LOG_FD:
      return {Shape::kExact, 0, 1};
    case Request::SET_VRING_NUM:
      return {Shape::kExact, sizeof(vhost_vring_state), 0};
    case Request::SET_VRING_ADDR:
      return {Shape::kExact, sizeof(vhost_vring_addr), 0};
    case Request::SET_VRING_BASE:
      return {Shape::kExact, sizeof(vhost_vring_state), 0};
    case Request::GET_VRING_BASE:
      return {Shape::kExact, sizeof(vhost_vring_state), 0};
    case Request::SET_VRING_KICK:
    case Request::SET_VRING_CALL:
    case Request::SET_VRING_ERR:
      return {Shape::kExact, 8, -1};
    case Request::GET_PROTOCOL_FEATURES:
      return {Shape::kExact, 0, 0};
    case Request::SET_PROTOCOL_FEATURES:
      return {Shape::kExact, 8, 0};
    case Request::GET_QUEUE_NUM:
      return {Shape::kExact, 0, 0};
    case Request::SET_VRING_ENABLE:
      return {Shape::kExact, sizeof(vhost_vring_state), 0};
    case Request::SEND_RARP:
      return {Shape::kExact, 8, 0};
    case Request::NET_SET_MTU:
      return {Shape::kExact, 8, 0};
    case Request::GET_CONFIG:
    case Request::SET_CONFIG:
      return {Shape::kConfig, 0, 0};
    case Request::GET_INFLIGHT_FD:
      return {Shape::kExact, sizeof(InflightDesc), 0};
    case Request::SET_INFLIGHT_FD:
      return {Shape::kExact, sizeof(InflightDesc), 1};
    case Request::RESET_DEVICE:
      return {Shape::kExact, 0, 0};
    case Request::SET_STATUS:
      return {Shape::kExact, 8, 0};
    case Request::GET_STATUS:
      return {Shape::kExact, 0, 0};
    default:
      return {Shape::kUnsupported, 0, 0};
  }
}

bool has_vring_state_index(Request r) {
  return r == Request::SET_VRING_NUM || r == Request::SET_VRING_BASE ||
         r == Request::GET_VRING_BASE || r == Request::SET_VRING_ENABLE ||
         r == Request::SET_VRING_ADDR;
}

}  // namespace

RejectReason validate_message(const Message& msg, uint32_t num_rings) {
  Request req = msg.request();
  if (msg.header.request == 0 || msg.header.request >= static_cast<uint32_t>(Request::MAX)) {
    return RejectReason::kUnknownRequest;
  }
  Rule rule = rule_for(req);
  uint32_t size = msg.header.size;
  int fds = -1;
  switch (rule.shape) {
    case Shape::kUnsupported:
      return RejectReason::kUnsupportedRequest;
    case Shape::kExact:
      if (size != rule.size) return RejectReason::kBadPayloadSize;
      fds = rule.fds;
      break;
    case Shape::kMemoryTable: {
      if (size < kMemoryTableHeaderSize) return RejectReason::kBadPayloadSize;
      uint32_t n = msg.get<uint32_t>();
      if (n > kMaxMemoryRegions) return RejectReason::kTooManyRegions;
      if (size != kMemoryTableHeaderSize + n * sizeof(MemoryRegionDesc)) {
        return RejectReason::kBadPayloadSize;
      }
      fds = static_cast<int>(n);
      break;
    }
    case Shape::kConfig: {
      if (size < kConfigHeaderSize) return RejectReason::kBadPayloadSize;
      auto cfg = msg.get<ConfigHeader>();
      if (cfg.size > kMaxConfigSize || size != kConfigHeaderSize + cfg.size) {
        return RejectReason::kBadPayloadSize;
      }
      fds = 0;
      break;
    }
  }
  if (req == Request::SET_VRING_KICK || req == Request::SET_VRING_CALL ||
      req == Request::SET_VRING_ERR) {
    uint64_t v = msg.u64();
    if (v & ~(kVringIndexMask | kVringNoFd)) return RejectReason::kReservedBits;
    if ((v & kVringIndexMask) >= num_rings) return RejectReason::kBadQueueIndex;
    fds = (v & kVringNoFd) ? 0 : 1;
  }
  if (static_cast<size_t>(fds) != msg.fds.size()) return RejectReason::kWrongFdCount;
  if (has_vring_state_index(req) && msg.get<uint32_t>() >= num_rings) {
    return RejectReason::kBadQueueIndex;
  }
  return RejectReason::kNone;
}

}  // namespace ferry::vhost
