// vhost_probe: a Ferry vhost-user back-end in server mode that reports what a real
// front-end negotiated, for the interop tests.
//
//   vhost_probe --socket PATH [--queues N] [--timeout SECONDS]
//
// Prints one JSON object per line on stdout:
//   {"event":"driver_ok", ...state...}       when the device starts
//   {"event":"running", ...state...}         when a ring is enabled while started
//   {"event":"stopping", ...state...}        at the first GET_VRING_BASE (all rings set up)
//   {"event":"disconnect","messages":[...],"vring_base":[...],"rejects":N}
// and exits 0 when the front-end disconnects after having connected, 2 on timeout.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// virtio_ring.h's legacy vring_init() is C only.
#define VIRTIO_RING_NO_LEGACY
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhost/socket.h"
#include "virtio_net_uapi.h"

using namespace ferry::vhost;

namespace {

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "\"0x%llx\"", static_cast<unsigned long long>(v));
  return buf;
}

class Probe : public BackendObserver {
 public:
  VhostUserBackend* backend = nullptr;
  std::vector<std::string> messages;
  std::vector<std::string> vring_bases;
  bool stopping_printed = false;

  std::string state(const char* event) const {
    const VhostUserBackend& b = *backend;
    std::string s = std::string("{\"event\":\"") + event + "\"";
    s += ",\"offered_features\":" + hex(b.offered_features());
    s += ",\"features\":" + hex(b.features());
    s += ",\"protocol_features\":" + hex(b.protocol_features());
    s += ",\"status\":" + std::to_string(b.status());
    s += ",\"regions\":[";
    for (size_t i = 0; i < b.memory().region_count(); i++) {
      const auto& r = b.memory().region(i);
      if (i) s += ",";
      s += "{\"gpa\":" + hex(r.guest_phys_addr) + ",\"size\":" + std::to_string(r.size) +
           ",\"uaddr\":" + hex(r.user_addr) + "}";
    }
    s += "],\"rings\":[";
    for (uint32_t i = 0; i < b.num_rings(); i++) {
      const VringConfig& r = b.ring(i);
      if (i) s += ",";
      s += "{\"index\":" + std::to_string(i) + ",\"num\":" + std::to_string(r.num) +
           ",\"base\":" + std::to_string(r.base) + ",\"desc\":" + hex(r.addr.desc_user_addr) +
           ",\"avail\":" + hex(r.addr.avail_user_addr) + ",\"used\":" + hex(r.addr.used_user_addr) +
           ",\"translated\":" + (r.translated() ? "true" : "false") +
           ",\"kick\":" + (r.kick.valid() ? "true" : "false") +
           ",\"call\":" + (r.call.valid() ? "true" : "false") +
           ",\"enabled\":" + (r.enabled ? "true" : "false") +
           ",\"ready\":" + (r.ready() ? "true" : "false") + "}";
    }
    s += "],\"rejects\":" + std::to_string(b.total_rejects()) + "}";
    return s;
  }

  void on_device_started() override { emit(state("driver_ok")); }
  // DPDK enables queue pairs after the first one only after DRIVER_OK, and disables all
  // rings before stopping them: the last "running" line shows every ring in use.
  void on_ring_enabled(uint32_t, bool enabled) override {
    if (enabled && backend->started()) emit(state("running"));
  }
  void on_device_stopped() override {
    if (!stopping_printed) emit(state("stopping"));
    stopping_printed = true;
  }
  uint32_t on_ring_stopped(uint32_t ring, uint32_t base) override {
    vring_bases.push_back("{\"ring\":" + std::to_string(ring) +
                          ",\"base\":" + std::to_string(base) + "}");
    return base;
  }
  void emit(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  uint32_t queues = 1;
  int timeout_s = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--socket") path = argv[i + 1];
    if (a == "--queues") queues = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    if (a == "--timeout") timeout_s = std::atoi(argv[i + 1]);
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: vhost_probe --socket PATH [--queues N] [--timeout S]\n");
    return 1;
  }
  auto bit = [](unsigned n) { return 1ull << n; };
  BackendConfig config;
  config.name = "probe";
  config.max_queue_pairs = queues;
  config.device_features =
      bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_NET_F_MRG_RXBUF) | bit(VIRTIO_RING_F_INDIRECT_DESC) |
      bit(VIRTIO_RING_F_EVENT_IDX) | bit(VIRTIO_F_RING_PACKED) | bit(VIRTIO_F_IN_ORDER) |
      bit(VIRTIO_NET_F_MQ) | bit(VIRTIO_NET_F_CTRL_VQ) | bit(VIRTIO_NET_F_CTRL_RX) |
      bit(VIRTIO_NET_F_CSUM) | bit(VIRTIO_NET_F_GUEST_CSUM) | bit(VIRTIO_NET_F_HOST_TSO4) |
      bit(VIRTIO_NET_F_HOST_TSO6) | bit(VIRTIO_NET_F_GUEST_TSO4) | bit(VIRTIO_NET_F_GUEST_TSO6) |
      bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS);
  config.config_space = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0, static_cast<uint8_t>(queues),
                         0,    0xdc, 0x05};
  Probe probe;
  config.trace = [&probe](const Header& h) {
    probe.messages.push_back(std::string(to_string(static_cast<Request>(h.request))) +
                             ((h.flags & kFlagNeedReply) ? "+ack" : ""));
  };
  VhostUserBackend backend(std::move(config), &probe);
  probe.backend = &backend;
  EventLoop loop;
  VhostUserServer server(loop, path, backend);
  std::string error;
  if (!server.start(&error)) {
    std::fprintf(stderr, "vhost_probe: %s\n", error.c_str());
    return 1;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool was_connected = false;
  while (std::chrono::steady_clock::now() < deadline) {
    loop.run_once(100);
    if (backend.connected()) was_connected = true;
    if (was_connected && !backend.connected()) {
      std::string s = "{\"event\":\"disconnect\",\"messages\":[";
      for (size_t i = 0; i < probe.messages.size(); i++) {
        s += (i ? ",\"" : "\"") + probe.messages[i] + "\"";
      }
      s += "],\"vring_base\":[";
      for (size_t i = 0; i < probe.vring_bases.size(); i++) {
        s += (i ? "," : "") + probe.vring_bases[i];
      }
      s += "],\"rejects\":" + std::to_string(backend.total_rejects()) + "}";
      probe.emit(s);
      server.stop();
      return 0;
    }
  }
  std::fprintf(stderr, "vhost_probe: timed out after %d s\n", timeout_s);
  server.stop();
  return 2;
}
