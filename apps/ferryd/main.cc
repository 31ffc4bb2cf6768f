// ferryd: the Ferry switch daemon.
//
//   ferryd [--config FILE] [--log-level LEVEL] [--workers N] [--stats-interval S]
//          [--stats-json FILE] [--check] [--print-default-config]
//
// Reads a TOML configuration (docs/ferryd.md; without --config the built-in one: a bridge
// of two TAP ports), creates the ports, starts the poll-mode workers and runs until
// SIGTERM or SIGINT, then stops the workers, closes the ports and removes the vhost-user
// sockets it created. SIGUSR1 (or every --stats-interval seconds) logs the statistics.
// Exit status: 0 after a clean stop, 1 when a port cannot be created, 2 for a bad
// configuration (one line: file, line, key, problem).

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include "control/config.h"
#include "port/af_packet_port.h"
#include "port/af_xdp_port.h"
#include "port/pcap_port.h"
#include "port/tap_port.h"
#include "port/vhost_user_port.h"
#include "runtime/datapath.h"
#include "runtime/stats_report.h"
#include "virtio/features.h"

using namespace ferry;

namespace {

struct Built {
  std::unique_ptr<port::Port> port;
  runtime::PortOptions options;
  port::VhostUserPort* vhost = nullptr;
  port::PcapPort* pcap = nullptr;
};

std::function<void(std::string_view)> port_logger(const std::string& name) {
  return [name](std::string_view line) { spdlog::info("{}: {}", name, std::string(line)); };
}

// Creates the port of spec on worker w; nullptr and *error on failure.
bool build_port(const control::PortSpec& s, runtime::Worker& w, Built* out, std::string* error) {
  out->options.worker = w.index();
  out->options.coalesce = s.coalesce;
  out->options.rsc.interval_ns = uint64_t{s.rsc_interval_us} * 1000;
  out->options.rsc.coalesce_tcp_options = s.rsc_tcp_options;
  switch (s.kind) {
    case control::PortKind::kTap: {
      port::TapPortConfig c;
      c.name = s.name;
      c.ifname = s.ifname;
      c.queues = s.queues;
      c.offloads = s.offloads;
      c.pool = &w.pool();
      c.log = port_logger(s.name);
      auto p = port::TapPort::create(c, error);
      if (!p) return false;
      for (uint16_t q = 0; q < p->num_queues(); q++)
        out->options.wait_fds.push_back(p->fd(q));
      spdlog::info("port {}: tap {} ({} queues, offloads {}, kernel offloads 0x{:x})", s.name,
                   p->ifname(), p->num_queues(), s.offloads ? "on" : "off", p->kernel_offloads());
      out->port = std::move(p);
      return true;
    }
    case control::PortKind::kVhostUser: {
      port::VhostUserPortConfig c;
      c.name = s.name;
      c.socket_path = s.socket;
      c.client = s.client;
      c.queue_pairs = s.queues;
      c.pool = &w.pool();
      c.log = port_logger(s.name);
      if (!s.mac.empty()) {
        uint64_t mac = 0;
        control::parse_mac(s.mac, &mac);
        for (int i = 0; i < 6; i++)
          c.mac[i] = static_cast<uint8_t>(mac >> (40 - 8 * i));
      }
      if (!s.offloads) {
        c.features &= ~((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
                        (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |
                        (1ull << VIRTIO_NET_F_HOST_ECN) | (1ull << VIRTIO_NET_F_HOST_UFO) |
                        (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |
                        (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_GUEST_UFO) |
                        (1ull << VIRTIO_NET_F_RSC_EXT));
      }
      auto p = std::make_unique<port::VhostUserPort>(w.loop(), c);
      if (!p->start(error)) return false;
      spdlog::info("port {}: vhost-user {} on {} ({} queue pairs)", s.name,
                   s.client ? "client" : "server", s.socket, s.queues);
      out->vhost = p.get();
      out->port = std::move(p);
      return true;
    }
    case control::PortKind::kAfXdp: {
      port::AfXdpPortConfig c;
      c.name = s.name;
      c.ifname = s.interface;
      c.queues = s.queues;
      c.mode = s.xdp_mode == "native" ? port::XdpAttachMode::kNative
               : s.xdp_mode == "skb"  ? port::XdpAttachMode::kSkb
                                      : port::XdpAttachMode::kAuto;
      c.pool = &w.pool();
      c.log = port_logger(s.name);
      auto p = port::AfXdpPort::create(c, error);
      if (!p) return false;
      for (uint16_t q = 0; q < p->num_queues(); q++)
        out->options.wait_fds.push_back(p->fd(q));
      spdlog::info("port {}: af_xdp on {}", s.name, s.interface);
      out->port = std::move(p);
      return true;
    }
    case control::PortKind::kAfPacket: {
      port::AfPacketPortConfig c;
      c.name = s.name;
      c.ifname = s.interface;
      c.queues = s.queues;
      c.offloads = s.offloads;
      c.pool = &w.pool();
      c.log = port_logger(s.name);
      auto p = port::AfPacketPort::create(c, error);
      if (!p) return false;
      for (uint16_t q = 0; q < p->num_queues(); q++)
        out->options.wait_fds.push_back(p->fd(q));
      spdlog::info("port {}: af_packet on {}", s.name, s.interface);
      out->port = std::move(p);
      return true;
    }
    case control::PortKind::kPcap: {
      port::PcapPortConfig c;
      c.name = s.name;
      c.rx_path = s.rx_path;
      c.tx_path = s.tx_path;
      c.loop = s.loop;
      c.pool = &w.pool();
      auto p = port::PcapPort::create(c, error);
      if (!p) return false;
      spdlog::info("port {}: pcap rx '{}' tx '{}'", s.name, s.rx_path, s.tx_path);
      out->pcap = p.get();
      out->port = std::move(p);
      return true;
    }
  }
  *error = "unknown port kind";
  return false;
}

void dump_stats(const runtime::Datapath& dp, const std::string& json_path) {
  std::string text = runtime::stats_text(dp);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    spdlog::info("stats: {}", text.substr(pos, end - pos));
    pos = end + 1;
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path + ".tmp");
    out << runtime::stats_json(dp).dump(2) << "\n";
    out.close();
    std::rename((json_path + ".tmp").c_str(), json_path.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferryd: the Ferry userspace virtual switch"};
  std::string config_path, log_level, stats_json;
  int workers = 0;
  int stats_interval = -1;
  bool check_only = false, print_default = false;
  app.add_option("-c,--config", config_path,
                 "TOML configuration file (default: built-in bridge of two TAPs)");
  app.add_option("-l,--log-level", log_level, "trace, debug, info, warn, error, critical, off");
  app.add_option("-w,--workers", workers, "poll-mode worker threads (overrides the file)")
      ->check(CLI::Range(1, 64));
  app.add_option("-s,--stats-interval", stats_interval,
                 "log statistics every S seconds (0: only on SIGUSR1)")
      ->check(CLI::Range(0, 86400));
  app.add_option("--stats-json", stats_json,
                 "write the statistics as JSON to this file at every dump and at exit");
  app.add_flag("--check", check_only, "only check the configuration");
  app.add_flag("--print-default-config", print_default,
               "print the built-in configuration and exit");
  CLI11_PARSE(app, argc, argv);

  if (print_default) {
    std::fputs(std::string(control::default_config_text()).c_str(), stdout);
    return 0;
  }
  control::ConfigError err;
  std::optional<control::FerrydConfig> cfg =
      config_path.empty()
          ? control::parse_config(control::default_config_text(), "<built-in>", &err)
          : control::load_config(config_path, &err);
  if (!cfg) {
    std::fprintf(stderr, "ferryd: %s\n", err.to_string().c_str());
    return 2;
  }
  if (!log_level.empty()) cfg->log_level = log_level;
  if (workers > 0) cfg->workers = static_cast<uint16_t>(workers);
  if (stats_interval >= 0) cfg->stats_interval_s = static_cast<uint32_t>(stats_interval);
  if (!stats_json.empty()) cfg->stats_json = stats_json;
  auto level = spdlog::level::from_str(cfg->log_level);
  if (level == spdlog::level::off && cfg->log_level != "off") {
    std::fprintf(stderr, "ferryd: --log-level: unknown level '%s'\n", cfg->log_level.c_str());
    return 2;
  }
  if (check_only) {
    std::printf("ferryd: %s: ok (%zu ports)\n",
                config_path.empty() ? "<built-in>" : config_path.c_str(), cfg->ports.size());
    return 0;
  }
  auto logger = spdlog::stderr_color_mt("ferryd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");

  // Signals are taken synchronously by the main thread; every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  runtime::DatapathConfig dc;
  dc.workers = cfg->workers;
  dc.cpus = cfg->cpus;
  dc.pool_buffers = cfg->pool_buffers;
  dc.log = [](const std::string& line) { spdlog::warn("{}", line); };
  auto dp = std::make_unique<runtime::Datapath>(dc);

  std::vector<port::VhostUserPort*> vhosts;
  std::vector<port::PcapPort*> pcaps;
  int status = 0;
  for (const control::PortSpec& s : cfg->ports) {
    uint16_t w = s.worker >= 0 && s.worker < dp->worker_count() ? static_cast<uint16_t>(s.worker)
                                                                : dp->next_worker();
    Built b;
    std::string error;
    if (!build_port(s, dp->worker(w), &b, &error)) {
      spdlog::error("port {} ({}): {}", s.name, control::to_string(s.kind), error);
      status = 1;
      break;
    }
    if (b.vhost) vhosts.push_back(b.vhost);
    if (b.pcap) pcaps.push_back(b.pcap);
    dp->add_port(std::move(b.port), b.options);
  }
  if (status != 0) {
    for (port::VhostUserPort* v : vhosts)
      v->stop();
    return status;
  }

  runtime::ForwardingConfig fc;
  for (const control::PortSpec& s : cfg->ports)
    fc.ports.push_back(s.forwarding);
  fc.static_fdb = cfg->static_fdb;
  fc.ageing_ns = uint64_t{cfg->ageing_time_s} * 1'000'000'000ull;
  fc.arp_suppression = cfg->arp_suppression;
  dp->publish(fc);
  dp->start();
  spdlog::info("ferryd: running: {} ports, {} workers (config {})", dp->port_count(),
               dp->worker_count(), config_path.empty() ? "built-in" : config_path);

  uint64_t last_dump = runtime::monotonic_ns();
  for (;;) {
    struct timespec timeout {
      1, 0
    };
    int sig = sigtimedwait(&sigs, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("ferryd: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (sig == SIGUSR1) dump_stats(*dp, cfg->stats_json);
    uint64_t now = runtime::monotonic_ns();
    if (cfg->stats_interval_s != 0 && now - last_dump >= cfg->stats_interval_s * 1'000'000'000ull) {
      last_dump = now;
      dump_stats(*dp, cfg->stats_json);
    }
  }
  dp->stop();
  dump_stats(*dp, cfg->stats_json);
  for (port::PcapPort* p : pcaps)
    p->flush();
  for (port::VhostUserPort* v : vhosts)
    v->stop();
  dp.reset();
  spdlog::info("ferryd: stopped");
  return 0;
}
