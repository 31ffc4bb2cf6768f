#pragma once

// VhostUserBackend: the device side of one vhost-user connection.
//
// It reads messages from the connected socket, checks each one (message.h's shape checks,
// then the device's own), applies it to the device state and replies. The state it keeps
// is what the datapath needs to attach: negotiated features, the guest memory table
// (mmapped here, looked up through virtio::GuestMemory), the dirty log, the inflight area
// and one VringConfig per ring. It never touches the rings themselves.
//
// Threading: everything runs on the control thread that owns the connection; the owner
// hears about state changes through BackendObserver on that same thread.
//
// Front-ends it has been written against: QEMU (hw/virtio/vhost-user.c) and DPDK 22.11
// virtio-user. DPDK sends SET_VRING_CALL before SET_FEATURES and renegotiates after a port
// restart on the same connection with no reset in between; a new memory table or new
// features therefore stop the device and replace the old state rather than being refused.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vhost/backend_observer.h"
#include "vhost/mapping.h"
#include "vhost/message.h"
#include "vhost/reject_reason.h"
#include "vhost/unique_fd.h"
#include "vhost/vring_config.h"
#include "virtio/guest_memory.h"
#include "virtio/inflight.h"

namespace ferry::vhost {

// Protocol features this back-end implements.
constexpr uint64_t kSupportedProtocolFeatures =
    (1ull << kProtocolMq) | (1ull << kProtocolLogShmfd) | (1ull << kProtocolRarp) |
    (1ull << kProtocolReplyAck) | (1ull << kProtocolNetMtu) | (1ull << kProtocolConfig) |
    (1ull << kProtocolInflightShmfd) | (1ull << kProtocolResetDevice) | (1ull << kProtocolStatus);

constexpr uint32_t kMaxQueuePairs = 256;
constexpr uint32_t kMaxRingSize = 32768;

struct BackendConfig {
  std::string name = "vhost-user";  // prefix of log lines
  uint64_t device_features = 0;     // virtio feature bits offered; bit 30 is added
  // Protocol features offered, masked to the supported set. CONFIG is left out by default:
  // QEMU's virtio-net has no use for it and warns when a back-end offers it.
  uint64_t protocol_features = kSupportedProtocolFeatures & ~(1ull << kProtocolConfig);
  uint32_t max_queue_pairs = 1;       // 1..kMaxQueuePairs
  bool control_queue = false;         // ring 2 * max_queue_pairs is the control queue
  std::vector<uint8_t> config_space;  // device config space served by GET_CONFIG
  // Receives every log line (one per rejection, connection event). Default: stderr.
  std::function<void(std::string_view)> log;
  // Sees every well-framed message before it is processed (tracing, tests).
  std::function<void(const Header&)> trace;
};

// The inflight area layouts live with the rings (virtio/inflight.h).
using virtio::InflightDescSplit;
using virtio::InflightQueueSplit;

// Bytes one ring of queue_size entries takes in the inflight area (64-byte aligned), in
// the split or the packed layout.
inline uint64_t inflight_queue_bytes(uint32_t queue_size, bool packed = false) {
  return virtio::inflight_queue_bytes(queue_size, packed);
}

class VhostUserBackend {
 public:
  VhostUserBackend(BackendConfig config, BackendObserver* observer);
  ~VhostUserBackend();
  VhostUserBackend(const VhostUserBackend&) = delete;
  VhostUserBackend& operator=(const VhostUserBackend&) = delete;

  // Takes a connected stream socket. Sets a receive timeout so that a front-end stalling
  // inside a message cannot block the control thread for long.
  void attach(UniqueFd connection);
  // Closes the connection and returns the device to its initial state: stops it, unmaps
  // memory, log and inflight areas, closes every fd.
  void detach();
  bool connected() const { return conn_.valid(); }
  int connection_fd() const { return conn_.get(); }

  // Reads and processes one message (call when the socket is readable). False when the
  // connection must be closed (EOF, framing error, failed reply); then call detach().
  bool on_readable();

  // Processes one message already read; writes the reply to the connection if any.
  // Returns false if the connection must be closed.
  bool process(Message& msg);

  // State, for the owner and tests.
  uint64_t offered_features() const { return offered_features_; }
  uint64_t features() const { return features_; }
  bool features_set() const { return features_set_; }
  uint64_t protocol_features() const { return protocol_features_; }
  bool has_protocol_feature(uint32_t bit) const { return (protocol_features_ >> bit) & 1; }
  uint8_t status() const { return status_; }
  bool started() const { return started_; }
  bool owner_set() const { return owner_set_; }
  uint32_t num_rings() const { return static_cast<uint32_t>(rings_.size()); }
  const VringConfig& ring(uint32_t index) const { return rings_[index]; }
  const virtio::GuestMemory& memory() const { return memory_; }
  uint16_t mtu() const { return mtu_; }
  const std::array<uint8_t, 6>& rarp_mac() const { return rarp_mac_; }
  bool log_mapped() const { return log_map_.valid(); }
  int log_fd() const { return log_fd_.get(); }
  // Inflight area of one ring (split layout), or nullptr if none is set up or the rings
  // are packed (packed rings are not tracked). It has room for inflight_queue_size()
  // entries.
  InflightQueueSplit* inflight_queue(uint32_t ring) const;
  uint16_t inflight_queue_size() const { return inflight_queue_size_; }
  // True if the area came with SET_INFLIGHT_FD (it may hold a previous device's state),
  // false if this back-end made it (GET_INFLIGHT_FD).
  bool inflight_from_frontend() const { return inflight_from_frontend_; }

  uint64_t rejects(RejectReason reason) const { return rejects_[static_cast<size_t>(reason)]; }
  uint64_t total_rejects() const;
  RejectReason last_reject() const { return last_reject_; }
  uint64_t messages() const { return messages_; }

 private:
  struct Reply {
    bool send = false;
    Message msg;
    UniqueFd fd;
  };

  RejectReason handle(Message& msg, Reply* reply);
  RejectReason set_mem_table(Message& msg);
  RejectReason set_log_base(Message& msg, Reply* reply);
  RejectReason get_inflight_fd(const Message& msg, Reply* reply);
  RejectReason set_inflight_fd(Message& msg);
  RejectReason set_vring_fd(Message& msg);
  RejectReason set_features(uint64_t features);
  RejectReason get_config(const Message& msg, Reply* reply);
  RejectReason set_config(const Message& msg);

  bool send_reply(const Message& request, Reply& reply);
  // Counts and logs one rejection (one line); `closing` if the connection ends with it.
  void reject(const Message& msg, RejectReason reason, bool closing = false);
  void log(const std::string& line) const;
  void translate_ring(uint32_t index);
  void update_started();
  void quiesce_ring(uint32_t index);
  void stop_device();
  void reset_ring(uint32_t index);
  void reset_device_state();
  void unmap_memory();
  bool packed() const;

  BackendConfig config_;
  BackendObserver* observer_;
  BackendObserver null_observer_;
  UniqueFd conn_;

  uint64_t offered_features_ = 0;
  uint64_t features_ = 0;
  bool features_set_ = false;
  uint64_t protocol_features_ = 0;
  uint8_t status_ = 0;
  bool started_ = false;
  bool owner_set_ = false;
  uint16_t mtu_ = 0;
  std::array<uint8_t, 6> rarp_mac_{};

  std::vector<VringConfig> rings_;
  virtio::GuestMemory memory_;
  std::vector<MemoryRegionDesc> region_descs_;
  std::vector<Mapping> region_maps_;
  Mapping log_map_;
  uint8_t* log_data_ = nullptr;
  uint64_t log_size_ = 0;
  UniqueFd log_fd_;
  Mapping inflight_map_;
  uint8_t* inflight_base_ = nullptr;
  uint16_t inflight_num_queues_ = 0;
  uint16_t inflight_queue_size_ = 0;
  uint64_t inflight_stride_ = 0;  // bytes per ring
  bool inflight_from_frontend_ = false;

  std::array<uint64_t, kRejectReasonCount> rejects_{};
  RejectReason last_reject_ = RejectReason::kNone;
  uint64_t messages_ = 0;
};

}  // namespace ferry::vhost
