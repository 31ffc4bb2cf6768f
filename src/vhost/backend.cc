#include "vhost/backend.h"

#include <cstdio>
#include <utility>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <unistd.h>

namespace ferry::vhost {

namespace {

using virtio::kInflightAlign;
// The dirty log has one bit per 4 KiB page: 1 GiB of log covers 32 TiB of guest memory.
constexpr uint64_t kMaxLogSize = 1ull << 30;
// A front-end stalling inside a message may hold the control thread this long at most.
constexpr int kReceiveTimeoutMs = 1000;

bool expects_reply_payload(Request r) {
  switch (r) {
    case Request::GET_FEATURES:
    case Request::GET_PROTOCOL_FEATURES:
    case Request::GET_VRING_BASE:
    case Request::GET_QUEUE_NUM:
    case Request::GET_CONFIG:
    case Request::GET_INFLIGHT_FD:
    case Request::GET_STATUS:
    case Request::SET_LOG_BASE:
      return true;
    default:
      return false;
  }
}

bool add_overflows(uint64_t a, uint64_t b) {
  return a + b < a;
}

// Maps [offset, offset + size) of a shared file read-write. The mapping starts at the
// file's alignment boundary (page size, or the huge page size on hugetlbfs) below offset;
// *data points at offset inside it. Checks the range against the file size first.
RejectReason map_file_range(int fd, uint64_t offset, uint64_t size, Mapping* out, uint8_t** data) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return RejectReason::kBadFd;
  if (add_overflows(offset, size)) return RejectReason::kRegionOverflow;
  if (offset + size > static_cast<uint64_t>(st.st_size)) return RejectReason::kBeyondFile;
  uint64_t align = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t blk = static_cast<uint64_t>(st.st_blksize);
  if (blk > align && (blk & (blk - 1)) == 0) align = blk;
  uint64_t map_off = offset & ~(align - 1);
  uint64_t map_len = offset + size - map_off;
  map_len = (map_len + align - 1) & ~(align - 1);
  if (map_len > SIZE_MAX || map_off > static_cast<uint64_t>(INT64_MAX)) {
    return RejectReason::kRegionOverflow;
  }
  void* p =
      ::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(map_off));
  if (p == MAP_FAILED) return RejectReason::kMmapFailed;
  *out = Mapping(p, map_len);
  *data = out->base() + (offset - map_off);
  return RejectReason::kNone;
}

}  // namespace

VhostUserBackend::VhostUserBackend(BackendConfig config, BackendObserver* observer)
    : config_(std::move(config)), observer_(observer ? observer : &null_observer_) {
  if (config_.max_queue_pairs == 0) config_.max_queue_pairs = 1;
  if (config_.max_queue_pairs > kMaxQueuePairs) config_.max_queue_pairs = kMaxQueuePairs;
  config_.protocol_features &= kSupportedProtocolFeatures;
  offered_features_ = config_.device_features | (1ull << kFeatureProtocolFeatures);
  // Migration needs the dirty log; offer LOG_ALL only with a way to share the log.
  if (config_.protocol_features & (1ull << kProtocolLogShmfd)) {
    offered_features_ |= 1ull << VHOST_F_LOG_ALL;
  }
  rings_.resize(2 * config_.max_queue_pairs + (config_.control_queue ? 1 : 0));
}

VhostUserBackend::~VhostUserBackend() {
  // The owner may be gone already: no callbacks from the destructor.
  observer_ = &null_observer_;
  detach();
}

void VhostUserBackend::attach(UniqueFd connection) {
  detach();
  conn_ = std::move(connection);
  timeval tv{kReceiveTimeoutMs / 1000, (kReceiveTimeoutMs % 1000) * 1000};
  setsockopt(conn_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(conn_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void VhostUserBackend::detach() {
  stop_device();
  for (VringConfig& r : rings_)
    r = VringConfig{};
  unmap_memory();
  log_map_.reset();
  log_data_ = nullptr;
  log_size_ = 0;
  log_fd_.reset();
  inflight_map_.reset();
  inflight_base_ = nullptr;
  inflight_num_queues_ = inflight_queue_size_ = 0;
  inflight_stride_ = 0;
  inflight_from_frontend_ = false;
  features_ = 0;
  features_set_ = false;
  protocol_features_ = 0;
  status_ = 0;
  owner_set_ = false;
  mtu_ = 0;
  conn_.reset();
}

uint64_t VhostUserBackend::total_rejects() const {
  uint64_t sum = 0;
  for (uint64_t n : rejects_)
    sum += n;
  return sum;
}

InflightQueueSplit* VhostUserBackend::inflight_queue(uint32_t ring) const {
  if (inflight_base_ == nullptr || ring >= inflight_num_queues_ || packed()) return nullptr;
  // The split layout fits in either stride (an area sized before packed was negotiated).
  return reinterpret_cast<InflightQueueSplit*>(inflight_base_ + ring * inflight_stride_);
}

void VhostUserBackend::log(const std::string& line) const {
  if (config_.log) {
    config_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

void VhostUserBackend::reject(const Message& msg, RejectReason reason, bool closing) {
  rejects_[static_cast<size_t>(reason)]++;
  last_reject_ = reason;
  log(config_.name + ": rejected " + std::string(to_string(msg.request())) + " (request " +
      std::to_string(msg.header.request) + ", size " + std::to_string(msg.header.size) + ", " +
      std::to_string(msg.fds.size()) + " fds): " + std::string(to_string(reason)) +
      (closing ? "; closing the connection" : ""));
}

bool VhostUserBackend::on_readable() {
  if (!conn_.valid()) return false;
  Message msg;
  RejectReason reason = RejectReason::kNone;
  switch (read_message(conn_.get(), &msg, &reason)) {
    case ReadStatus::kClosed:
      log(config_.name + ": front-end closed the connection");
      return false;
    case ReadStatus::kError:
      reject(msg, reason, true);
      return false;
    case ReadStatus::kOk:
      break;
  }
  return process(msg);
}

bool VhostUserBackend::process(Message& msg) {
  messages_++;
  if (config_.trace) config_.trace(msg.header);
  Reply reply;
  RejectReason reason = validate_message(msg, num_rings());
  if (reason == RejectReason::kNone) reason = handle(msg, &reply);
  if (reason != RejectReason::kNone) {
    // The front-end waits for a reply we cannot give: end the connection rather than
    // leave it hanging.
    bool closing = !reply.send && expects_reply_payload(msg.request());
    reject(msg, reason, closing);
    msg.fds.clear();
    if (reply.send) return send_reply(msg, reply);
    if (closing) return false;
    if (msg.need_reply()) {
      reply.msg.set<uint64_t>(1);
      reply.send = true;
      return send_reply(msg, reply);
    }
    return true;
  }
  msg.fds.clear();  // fds the handler did not take
  if (!reply.send && msg.need_reply()) {
    reply.msg.set<uint64_t>(0);
    reply.send = true;
  }
  return reply.send ? send_reply(msg, reply) : true;
}

bool VhostUserBackend::send_reply(const Message& request, Reply& reply) {
  reply.msg.header.request = request.header.request;
  reply.msg.header.flags = kFlagVersion | kFlagReply;
  if (!conn_.valid()) return true;  // processing without a connection (tests, fuzzing)
  if (!write_message(conn_.get(), reply.msg.header, reply.msg.payload.data(), reply.fd.get())) {
    log(config_.name + ": failed to send the reply to " +
        std::string(to_string(request.request())));
    return false;
  }
  return true;
}

bool VhostUserBackend::packed() const {
  return (features_ >> VIRTIO_F_RING_PACKED) & 1;
}

void VhostUserBackend::translate_ring(uint32_t index) {
  VringConfig& r = rings_[index];
  r.desc = r.avail = r.used = nullptr;
  if (!r.addr_set || r.num == 0 || memory_.region_count() == 0) return;
  uint64_t n = r.num;
  uint64_t desc_len = 16 * n;
  uint64_t avail_len = packed() ? 4 : 4 + 2 * n + 2;  // + used_event
  uint64_t used_len = packed() ? 4 : 4 + 8 * n + 2;   // + avail_event
  uint8_t* desc = memory_.translate_user(r.addr.desc_user_addr, desc_len);
  uint8_t* avail = memory_.translate_user(r.addr.avail_user_addr, avail_len);
  uint8_t* used = memory_.translate_user(r.addr.used_user_addr, used_len);
  if (desc && avail && used) {
    r.desc = desc;
    r.avail = avail;
    r.used = used;
  }
}

void VhostUserBackend::stop_device() {
  if (!started_) return;
  started_ = false;
  observer_->on_device_stopped();
}

void VhostUserBackend::quiesce_ring(uint32_t index) {
  // The datapath may be using this ring: stop the device before its geometry changes.
  // It starts again once every enabled ring is ready.
  if (started_ && rings_[index].enabled) stop_device();
}

void VhostUserBackend::update_started() {
  if (started_ || !features_set_ || memory_.region_count() == 0) return;
  if (has_protocol_feature(kProtocolStatus) && !(status_ & VIRTIO_CONFIG_S_DRIVER_OK)) return;
  if (rings_.size() < 2) return;
  for (uint32_t i = 0; i < 2; i++) {
    if (!rings_[i].enabled || !rings_[i].ready()) return;
  }
  for (const VringConfig& r : rings_) {
    if (r.enabled && !r.ready()) return;
  }
  started_ = true;
  observer_->on_device_started();
}

void VhostUserBackend::unmap_memory() {
  memory_.clear_dirty_log();
  memory_.clear();
  region_maps_.clear();
  region_descs_.clear();
  for (uint32_t i = 0; i < rings_.size(); i++)
    translate_ring(i);
}

void VhostUserBackend::reset_device_state() {
  stop_device();
  for (VringConfig& r : rings_)
    r = VringConfig{};
  features_ = 0;
  features_set_ = false;
  status_ = 0;
  memory_.clear_dirty_log();
}

RejectReason VhostUserBackend::set_features(uint64_t features) {
  if (features & ~offered_features_) return RejectReason::kUnsupportedFeatures;
  uint64_t changed = (features ^ features_) & ~(1ull << VHOST_F_LOG_ALL);
  if (features_set_ && changed) stop_device();
  features_ = features;
  features_set_ = true;
  // Dirty logging is on exactly while LOG_ALL is negotiated and a log is mapped.
  if (log_map_.valid() && (features_ >> VHOST_F_LOG_ALL) & 1) {
    memory_.set_dirty_log(log_data_, log_size_);
  } else {
    memory_.clear_dirty_log();
  }
  for (uint32_t i = 0; i < rings_.size(); i++)
    translate_ring(i);
  observer_->on_features_set(features_);
  update_started();
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::set_mem_table(Message& msg) {
  auto table = msg.get<MemoryTable>();
  uint32_t n = table.num_regions;
  // QEMU sends the same table again on unrelated memory-topology changes: keep the
  // running device and its mappings.
  if (n == region_descs_.size() && n > 0) {
    bool same = true;
    for (uint32_t i = 0; i < n && same; i++) {
      same = std::memcmp(&table.regions[i], &region_descs_[i], sizeof(MemoryRegionDesc)) == 0;
    }
    if (same) return RejectReason::kNone;
  }
  std::vector<Mapping> maps;
  virtio::GuestMemory mem;
  for (uint32_t i = 0; i < n; i++) {
    const MemoryRegionDesc& d = table.regions[i];
    if (d.memory_size == 0) return RejectReason::kEmptyRegion;
    if (add_overflows(d.guest_phys_addr, d.memory_size) ||
        add_overflows(d.userspace_addr, d.memory_size) ||
        add_overflows(d.mmap_offset, d.memory_size)) {
      return RejectReason::kRegionOverflow;
    }
    // Check overlap before mapping anything.
    for (uint32_t j = 0; j < i; j++) {
      const MemoryRegionDesc& o = table.regions[j];
      bool gpa = d.guest_phys_addr < o.guest_phys_addr + o.memory_size &&
                 o.guest_phys_addr < d.guest_phys_addr + d.memory_size;
      bool uva = d.userspace_addr < o.userspace_addr + o.memory_size &&
                 o.userspace_addr < d.userspace_addr + d.memory_size;
      if (gpa || uva) return RejectReason::kRegionOverlap;
    }
    Mapping map;
    uint8_t* host = nullptr;
    RejectReason r = map_file_range(msg.fds[i].get(), d.mmap_offset, d.memory_size, &map, &host);
    if (r != RejectReason::kNone) return r;
    virtio::MemoryRegion region{d.guest_phys_addr, d.memory_size, d.userspace_addr, host};
    std::string error;
    if (!mem.add_region(region, &error)) return RejectReason::kRegionOverlap;
    maps.push_back(std::move(map));
  }
  // The new table is good: stop the datapath before the old mappings go away.
  stop_device();
  unmap_memory();
  memory_ = std::move(mem);
  region_maps_ = std::move(maps);
  region_descs_.assign(table.regions, table.regions + n);
  if (log_map_.valid() && (features_ >> VHOST_F_LOG_ALL) & 1) {
    // The dirty log survives a memory table change.
    memory_.set_dirty_log(log_data_, log_size_);
  }
  for (uint32_t i = 0; i < rings_.size(); i++)
    translate_ring(i);
  update_started();
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::set_log_base(Message& msg, Reply* reply) {
  if (!has_protocol_feature(kProtocolLogShmfd)) return RejectReason::kNotNegotiated;
  auto d = msg.get<LogDesc>();
  // CVE-2020-10722: size + offset must not wrap.
  if (d.mmap_size == 0 || d.mmap_size > kMaxLogSize || add_overflows(d.mmap_offset, d.mmap_size)) {
    return RejectReason::kBadLogBase;
  }
  Mapping map;
  uint8_t* data = nullptr;
  RejectReason r = map_file_range(msg.fds[0].get(), d.mmap_offset, d.mmap_size, &map, &data);
  if (r == RejectReason::kRegionOverflow) r = RejectReason::kBadLogBase;
  if (r != RejectReason::kNone) return r;
  memory_.clear_dirty_log();
  log_map_ = std::move(map);
  log_data_ = data;
  log_size_ = d.mmap_size;
  if ((features_ >> VHOST_F_LOG_ALL) & 1) memory_.set_dirty_log(log_data_, log_size_);
  // The front-end waits for an empty reply (QEMU vhost_user_set_log_base).
  reply->msg.header.size = 0;
  reply->send = true;
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::get_inflight_fd(const Message& msg, Reply* reply) {
  if (!has_protocol_feature(kProtocolInflightShmfd)) return RejectReason::kNotNegotiated;
  auto d = msg.get<InflightDesc>();
  // CVE-2020-10726 / 2022-0669: the area's size follows from bounded counts only.
  if (d.num_queues == 0 || d.num_queues > num_rings() || d.queue_size == 0 ||
      d.queue_size > kMaxRingSize) {
    return RejectReason::kBadInflight;
  }
  // Sized for the layout of the negotiated ring type (split before SET_FEATURES).
  inflight_stride_ = inflight_queue_bytes(d.queue_size, packed());
  uint64_t size = inflight_stride_ * d.num_queues;
  UniqueFd fd(memfd_create("ferry-vhost-inflight", MFD_CLOEXEC));
  if (!fd.valid() || ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return RejectReason::kMmapFailed;
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return RejectReason::kMmapFailed;
  inflight_map_ = Mapping(p, size);
  inflight_base_ = inflight_map_.base();
  inflight_num_queues_ = d.num_queues;
  inflight_queue_size_ = d.queue_size;
  inflight_from_frontend_ = false;
  InflightDesc out{};
  out.mmap_size = size;
  out.mmap_offset = 0;
  out.num_queues = d.num_queues;
  out.queue_size = d.queue_size;
  reply->msg.set(out);
  reply->fd = std::move(fd);
  reply->send = true;
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::set_inflight_fd(Message& msg) {
  if (!has_protocol_feature(kProtocolInflightShmfd)) return RejectReason::kNotNegotiated;
  auto d = msg.get<InflightDesc>();
  if (d.num_queues == 0 || d.num_queues > num_rings() || d.queue_size == 0 ||
      d.queue_size > kMaxRingSize || add_overflows(d.mmap_offset, d.mmap_size)) {
    return RejectReason::kBadInflight;
  }
  // The area this back-end (or its previous instance) handed out: split or packed layout
  // per ring. Its size tells which.
  uint64_t split = inflight_queue_bytes(d.queue_size, false);
  uint64_t packed_bytes = inflight_queue_bytes(d.queue_size, true);
  uint64_t stride = d.mmap_size >= packed_bytes * d.num_queues ? packed_bytes : split;
  uint64_t need = stride * d.num_queues;
  if (d.mmap_size < need || d.mmap_size > need + kInflightAlign * d.num_queues) {
    return RejectReason::kBadInflight;
  }
  Mapping map;
  uint8_t* data = nullptr;
  RejectReason r = map_file_range(msg.fds[0].get(), d.mmap_offset, d.mmap_size, &map, &data);
  if (r != RejectReason::kNone) return r;
  inflight_map_ = std::move(map);
  inflight_base_ = data;
  inflight_num_queues_ = d.num_queues;
  inflight_queue_size_ = d.queue_size;
  inflight_stride_ = stride;
  inflight_from_frontend_ = true;
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::set_vring_fd(Message& msg) {
  uint64_t v = msg.u64();
  uint32_t index = static_cast<uint32_t>(v & kVringIndexMask);
  bool nofd = (v & kVringNoFd) != 0;
  VringConfig& r = rings_[index];
  UniqueFd fd = nofd ? UniqueFd() : std::move(msg.fds[0]);
  UniqueFd old;
  bool was_ready = r.ready();
  switch (msg.request()) {
    case Request::SET_VRING_KICK:
      old = std::exchange(r.kick, std::move(fd));
      r.kick_set = true;
      r.kick_polling = nofd;
      // Without protocol features a ring is enabled once it is kicked.
      if (!((features_ >> kFeatureProtocolFeatures) & 1) && !r.enabled) {
        r.enabled = true;
        observer_->on_ring_enabled(index, true);
      }
      break;
    case Request::SET_VRING_CALL:
      old = std::exchange(r.call, std::move(fd));
      r.call_set = true;
      break;
    default:
      old = std::exchange(r.err, std::move(fd));
      break;
  }
  // QEMU swaps the call fd of a running ring when the guest masks its interrupt vector:
  // tell the owner while the old fd is still open.
  if (started_ && was_ready) observer_->on_ring_fds_changed(index);
  update_started();
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::get_config(const Message& msg, Reply* reply) {
  if (!has_protocol_feature(kProtocolConfig)) return RejectReason::kNotNegotiated;
  auto h = msg.get<ConfigHeader>();
  const auto& cs = config_.config_space;
  if (h.offset > cs.size() || h.size > cs.size() - h.offset) {
    // An empty config answer is the error QEMU understands (size mismatch).
    ConfigHeader empty{h.offset, 0, h.flags};
    reply->msg.set(empty);
    reply->send = true;
    return RejectReason::kBadConfig;
  }
  std::memcpy(reply->msg.payload.data(), &h, kConfigHeaderSize);
  std::memcpy(reply->msg.payload.data() + kConfigHeaderSize, cs.data() + h.offset, h.size);
  reply->msg.header.size = kConfigHeaderSize + h.size;
  reply->send = true;
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::set_config(const Message& msg) {
  if (!has_protocol_feature(kProtocolConfig)) return RejectReason::kNotNegotiated;
  auto h = msg.get<ConfigHeader>();
  auto& cs = config_.config_space;
  if (h.offset > cs.size() || h.size > cs.size() - h.offset) return RejectReason::kBadConfig;
  std::span<const uint8_t> data(msg.payload.data() + kConfigHeaderSize, h.size);
  if (!observer_->on_config_write(h.offset, data)) return RejectReason::kConfigRejected;
  std::memcpy(cs.data() + h.offset, data.data(), h.size);
  return RejectReason::kNone;
}

RejectReason VhostUserBackend::handle(Message& msg, Reply* reply) {
  switch (msg.request()) {
    case Request::GET_FEATURES:
      reply->msg.set<uint64_t>(offered_features_);
      reply->send = true;
      return RejectReason::kNone;
    case Request::SET_FEATURES:
      return set_features(msg.u64());
    case Request::SET_OWNER:
      owner_set_ = true;
      return RejectReason::kNone;
    case Request::RESET_OWNER:
      reset_device_state();
      protocol_features_ = 0;
      owner_set_ = false;
      return RejectReason::kNone;
    case Request::RESET_DEVICE:
      if (!has_protocol_feature(kProtocolResetDevice)) return RejectReason::kNotNegotiated;
      reset_device_state();
      return RejectReason::kNone;
    case Request::SET_MEM_TABLE:
      return set_mem_table(msg);
    case Request::SET_LOG_BASE:
      return set_log_base(msg, reply);
    case Request::SET_LOG_FD:
      if (!has_protocol_feature(kProtocolLogShmfd)) return RejectReason::kNotNegotiated;
      log_fd_ = std::move(msg.fds[0]);
      return RejectReason::kNone;
    case Request::SET_VRING_NUM: {
      auto s = msg.get<vhost_vring_state>();
      if (s.num == 0 || s.num > kMaxRingSize) return RejectReason::kBadRingSize;
      if (!packed() && (s.num & (s.num - 1)) != 0) return RejectReason::kBadRingSize;
      quiesce_ring(s.index);
      rings_[s.index].num = s.num;
      translate_ring(s.index);
      update_started();
      return RejectReason::kNone;
    }
    case Request::SET_VRING_ADDR: {
      auto a = msg.get<vhost_vring_addr>();
      // Alignment the virtio spec requires (split: 16/2/4, packed: 16/4/4).
      uint64_t avail_align = packed() ? 4 : 2;
      if ((a.desc_user_addr & 15) || (a.avail_user_addr & (avail_align - 1)) ||
          (a.used_user_addr & 3)) {
        return RejectReason::kBadRingAddress;
      }
      quiesce_ring(a.index);
      VringConfig& r = rings_[a.index];
      r.addr = a;
      r.addr_set = true;
      translate_ring(a.index);
      if (memory_.region_count() != 0 && r.num != 0 && !r.translated()) {
        r.addr_set = false;
        return RejectReason::kBadRingAddress;
      }
      update_started();
      return RejectReason::kNone;
    }
    case Request::SET_VRING_BASE: {
      auto s = msg.get<vhost_vring_state>();
      quiesce_ring(s.index);
      rings_[s.index].base = s.num;
      return RejectReason::kNone;
    }
    case Request::GET_VRING_BASE: {
      auto s = msg.get<vhost_vring_state>();
      stop_device();
      uint32_t base = observer_->on_ring_stopped(s.index, rings_[s.index].base);
      VringConfig& r = rings_[s.index];
      // The ring is stopped: the front-end sends addresses and fds again to restart it.
      r.base = base;
      r.addr_set = false;
      r.desc = r.avail = r.used = nullptr;
      r.kick.reset();
      r.call.reset();
      r.kick_set = r.call_set = r.kick_polling = false;
      reply->msg.set(vhost_vring_state{s.index, base});
      reply->send = true;
      return RejectReason::kNone;
    }
    case Request::SET_VRING_KICK:
    case Request::SET_VRING_CALL:
    case Request::SET_VRING_ERR:
      return set_vring_fd(msg);
    case Request::GET_PROTOCOL_FEATURES:
      reply->msg.set<uint64_t>(config_.protocol_features);
      reply->send = true;
      return RejectReason::kNone;
    case Request::SET_PROTOCOL_FEATURES: {
      uint64_t p = msg.u64();
      if (p & ~config_.protocol_features) return RejectReason::kUnsupportedProtocolFeatures;
      protocol_features_ = p;
      return RejectReason::kNone;
    }
    case Request::GET_QUEUE_NUM:
      reply->msg.set<uint64_t>(config_.max_queue_pairs);
      reply->send = true;
      return RejectReason::kNone;
    case Request::SET_VRING_ENABLE: {
      auto s = msg.get<vhost_vring_state>();
      if (s.num > 1) return RejectReason::kReservedBits;
      VringConfig& r = rings_[s.index];
      bool enable = s.num != 0;
      if (r.enabled != enable) {
        r.enabled = enable;
        observer_->on_ring_enabled(s.index, enable);
      }
      update_started();
      return RejectReason::kNone;
    }
    case Request::SEND_RARP:
      std::memcpy(rarp_mac_.data(), msg.payload.data(), rarp_mac_.size());
      observer_->on_rarp(rarp_mac_);
      return RejectReason::kNone;
    case Request::NET_SET_MTU: {
      if (!has_protocol_feature(kProtocolNetMtu)) return RejectReason::kNotNegotiated;
      uint64_t mtu = msg.u64();
      if (mtu < 68 || mtu > 65535) return RejectReason::kBadMtu;
      mtu_ = static_cast<uint16_t>(mtu);
      return RejectReason::kNone;
    }
    case Request::GET_CONFIG:
      return get_config(msg, reply);
    case Request::SET_CONFIG:
      return set_config(msg);
    case Request::GET_INFLIGHT_FD:
      return get_inflight_fd(msg, reply);
    case Request::SET_INFLIGHT_FD:
      return set_inflight_fd(msg);
    case Request::SET_STATUS: {
      if (!has_protocol_feature(kProtocolStatus)) return RejectReason::kNotNegotiated;
      uint64_t v = msg.u64();
      if (v > 0xff) return RejectReason::kBadStatus;
      status_ = static_cast<uint8_t>(v);
      if (!(status_ & VIRTIO_CONFIG_S_DRIVER_OK)) stop_device();
      update_started();
      return RejectReason::kNone;
    }
    case Request::GET_STATUS:
      if (!has_protocol_feature(kProtocolStatus)) return RejectReason::kNotNegotiated;
      reply->msg.set<uint64_t>(status_);
      reply->send = true;
      return RejectReason::kNone;
    default:
      return RejectReason::kUnsupportedRequest;
  }
}

}  // namespace ferry::vhost
