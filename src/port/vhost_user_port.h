#pragma once

// VhostUserPort: a virtio-net device served over vhost-user (QEMU, DPDK virtio-user,
// cloud-hypervisor), as a Port.
//
// It owns a VhostUserBackend and its socket (server mode: Ferry listens; client mode:
// Ferry connects and reconnects). When the back-end reports the device started, each
// enabled ring gets a SplitVirtqueue or PackedVirtqueue; rings enabled later (queue pairs
// after the first, MQ_VQ_PAIRS_SET) attach as they come. Port queue q is queue pair q:
//
//   rx_burst(q)  guest tx ring 2q+1 -> Packets: the virtio-net header becomes the packet's
//                offload state (net_header.h), the frame is copied into pool buffers (a
//                chain of segments when it is larger than one buffer, e.g. TSO frames).
//   tx_burst(q)  Packets -> guest rx ring 2q: offload state -> header; with MRG_RXBUF a
//                frame spans as many rx buffers as it needs (num_buffers). A partial
//                checksum is finished in software for a guest without GUEST_CSUM; a GSO
//                packet for a guest without the matching GUEST_* offload is segmented in
//                software (offload::GsoEngine), or dropped as kOffloadUnsupported if it
//                cannot be.
//
// Guest memory was last written by the driver's core, so its lines are misses: receive
// starts loading each frame as soon as its chain is popped, and transmit pops one rx chain per
// packet up front (virtio::RxChainReserve) and prefetches them for writing, so the misses
// of a burst overlap. Headers are read and written in place when the first buffer holds
// them, as it does with every driver we know, and only the header fields that changed are
// written: a driver whose header has a line of its own then keeps it. A driver that negotiated no
// offload for its transmissions has nothing to say in them, so then receive reads only the frame:
// for a small frame that is one line of guest memory instead of two.
//
// Every burst ends with one used-index publication and at most one interrupt (call
// eventfd, decided by the ring's NotifyPolicy: EVENT_IDX or flags). The port polls:
// it keeps the guest's kicks disabled. With CTRL_VQ the control queue (the last ring) is
// serviced from rx_burst(0); its commands set control_state().
//
// Receive filter (Port::rx_filter): what the guest programmed through the control queue,
// with a virtio-net device's semantics. From reset the device is promiscuous (QEMU's
// virtio-net does the same); a driver with CTRL_RX then sets its mode and MAC table
// (Linux does at open), with CTRL_VLAN tagged frames need a VLAN_ADD first. A device
// reset (the front-end stops the rings, a new negotiation, a reconnect) restores that
// default, and the generation changes at each start, stop and filter command.
// Note that QEMU (7.2) and DPDK's virtio-user keep the control queue of a vhost-user
// device to themselves: only front-ends that hand it to the back-end program this filter.
//
// Writes into guest memory are logged in the dirty log while one is set (migration).
// Inflight tracking (INFLIGHT_SHMFD): split rings attach with their part of the inflight
// area (virtio/inflight.h). A Ferry restarted after a crash resumes each ring from it:
// chains the crashed one had popped but not completed are popped again first (guest tx:
// received again; guest rx: buffers used again), so no chain is lost or completed twice.
// Packed rings are not tracked (the back-end hands them no area).
//
// Threading: the control events (socket messages, through the EventLoop) and the bursts
// must run on the same thread, e.g. a worker that runs loop.run_once(0) between bursts.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "offload/gso.h"
#include "packet/buffer_pool.h"
#include "port/net_control.h"
#include "port/port.h"
#include "vhost/backend.h"
#include "vhost/event_loop.h"
#include "vhost/socket.h"
#include "virtio/desc_chain.h"
#include "virtio/mergeable_rx.h"
#include "virtio/packed_virtqueue.h"
#include "virtio/split_virtqueue.h"

namespace ferry::port {

// The virtio-net features a VhostUserPort offers by default.
uint64_t vhost_user_port_default_features();

struct VhostUserPortConfig {
  std::string name = "vhost0";
  std::string socket_path;
  bool client = false;       // connect to a listening front-end instead of listening
  uint16_t queue_pairs = 1;  // offered (MQ when > 1)
  uint64_t features = vhost_user_port_default_features();
  MacAddress mac{0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
  uint16_t mtu = 1500;
  BufferPool* pool = nullptr;                 // packets received from the guest come from here
  std::function<void(std::string_view)> log;  // default: stderr
};

class VhostUserPort final : public Port, private vhost::BackendObserver {
 public:
  VhostUserPort(vhost::EventLoop& loop, VhostUserPortConfig config);
  ~VhostUserPort() override;

  // Starts listening (server) or connecting (client). False and *error if the socket fails.
  bool start(std::string* error);
  // Closes the connection (the device stops) and removes the socket file in server mode.
  void stop();

  uint16_t num_queues() const override;
  uint16_t max_queues() const override { return static_cast<uint16_t>(stats_.size()); }
  bool link_up() const override { return started_; }
  uint32_t capabilities() const override { return caps_; }
  uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) override;
  const QueueStats& queue_stats(uint16_t queue) const override { return stats_[queue]; }
  uint64_t rx_filter_generation() const override { return filter_generation_; }
  void rx_filter(ReceiveFilter* out) const override;

  // Negotiated virtio features (0 before SET_FEATURES).
  uint64_t features() const { return backend_.features(); }
  bool packed() const { return packed_; }
  // What the guest's control queue set (rx mode, MAC table, VLANs, queue pairs, ...).
  const NetControlState& control_state() const { return control_.state(); }
  const vhost::VhostUserBackend& backend() const { return backend_; }
  // Rings that went broken (hostile or buggy driver) since the port was created.
  uint64_t broken_rings() const { return broken_rings_; }
  // Times the device was started (reboots and reconnects add one each).
  uint64_t starts() const { return starts_; }
  // Inflight areas rejected at ring attach, by reason, and chains resubmitted from them.
  uint64_t inflight_rejects(virtio::InflightError e) const {
    return inflight_rejects_[static_cast<unsigned>(e)];
  }
  uint64_t inflight_resubmitted() const { return inflight_resubmitted_; }
  // Software segmentation for guests without the matching GUEST_TSO/UFO/USO offload.
  const offload::GsoStats& gso_stats() const { return gso_->stats(); }

 private:
  struct Ring {
    std::unique_ptr<virtio::SplitVirtqueue> split;
    std::unique_ptr<virtio::PackedVirtqueue> packed;
    int call_fd = -1;
    bool active = false;
    bool broken_logged = false;
    bool base_saved = false;
    // Position when detached, for GET_VRING_BASE, or to resume from when the device
    // restarts without one (a new memory table); forgotten at a new negotiation.
    uint32_t saved_base = 0;
    uint32_t attached_base = 0;  // the front-end's base when the ring was attached
  };

  // BackendObserver
  void on_features_set(uint64_t features) override;
  void on_device_started() override;
  void on_device_stopped() override;
  void on_ring_enabled(uint32_t ring, bool enabled) override;
  void on_ring_fds_changed(uint32_t ring) override;
  uint32_t on_ring_stopped(uint32_t ring, uint32_t base) override;

  bool attach_ring(uint32_t index);
  void detach_ring(uint32_t index);
  void note_inflight(const virtio::SplitVirtqueue& q, uint32_t index);
  void compute_offloads();
  void log(const std::string& line) const;
  template <typename Queue>
  void check_broken(Queue& q, Ring& r, uint32_t index);
  template <typename Queue>
  void notify(Queue& q, Ring& r, QueueStats& s, bool published);
  template <typename Queue>
  uint16_t receive(Queue& q, Ring& r, uint32_t index, QueueStats& s, Packet** pkts, uint16_t max);
  template <typename Queue>
  uint16_t transmit(Queue& q, Ring& r, uint32_t index, QueueStats& s, Packet** pkts, uint16_t n);
  template <typename Queue>
  void service_control(Queue& q, Ring& r);
  enum class Delivery : uint8_t { kSent, kDropped, kStop };
  // Puts one packet (no GSO the guest cannot take) into the guest's rx ring; frees it.
  template <typename Queue>
  Delivery deliver(Queue& q, virtio::RxChainReserve<Queue>& reserve, QueueStats& s, Packet* p,
                   uint64_t* bytes);
  Packet* copy_frame(const virtio::DescChain& c, uint32_t offset, uint32_t len);
  // Reads the virtio-net header of a frame the driver sent into p's offload state; false
  // if the header is invalid.
  bool apply_tx_header(const virtio::DescChain& c, uint32_t frame_len, Packet* p) const;
  // Which gso types the guest takes, as a mask over GsoTypeBits base types.
  bool guest_takes_gso(uint16_t gso_type) const;

  VhostUserPortConfig config_;
  vhost::EventLoop& loop_;
  vhost::VhostUserBackend backend_;
  std::unique_ptr<vhost::VhostUserServer> server_;
  std::unique_ptr<vhost::VhostUserClient> client_;

  std::vector<Ring> rings_;
  std::vector<QueueStats> stats_;
  std::vector<virtio::DescChain> chains_;
  std::vector<uint32_t> written_;
  std::vector<uint8_t> ctrl_buf_;
  std::unique_ptr<offload::GsoEngine> gso_;
  std::vector<Packet*> segments_;
  NetControl control_;
  uint32_t ctrl_index_ = 0;
  bool ctrl_enabled_ = false;
  bool started_ = false;
  bool packed_ = false;
  bool mergeable_ = false;
  bool version_1_ = false;
  uint32_t hdr_len_ = 12;
  // The driver may put something in the headers it sends (CSUM or a HOST_* GSO feature
  // negotiated); without one, spec 5.1.6.2 leaves every field zero and receive skips them.
  bool tx_header_used_ = true;
  uint64_t guest_offloads_ = 0;  // GUEST_* bits in force (negotiated, then the control queue)
  uint32_t caps_ = 0;
  uint64_t broken_rings_ = 0;
  uint64_t starts_ = 0;
  std::array<uint64_t, virtio::kInflightErrorCount> inflight_rejects_{};
  uint64_t inflight_resubmitted_ = 0;
  uint64_t filter_generation_ = 0;  // see rx_filter_generation()
};

}  // namespace ferry::port
