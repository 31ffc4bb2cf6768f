#pragma once

// ferryd's configuration: a TOML file (docs/ferryd.md describes the format) turned into
// plain structs. Parsing checks every key and value; the first problem is reported as
// one ConfigError naming the file, the line and the key.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/coalesce.h"
#include "runtime/forwarding.h"

namespace ferry::control {

enum class PortKind : uint8_t { kTap, kVhostUser, kAfXdp, kAfPacket, kPcap };
const char* to_string(PortKind k);

struct PortSpec {
  std::string name;
  PortKind kind = PortKind::kTap;
  int line = 0;     // where the port's table starts in the file
  int worker = -1;  // owning worker (-1: automatic)
  uint16_t queues = 1;
  bool offloads = true;  // tap: TUNSETOFFLOAD; vhost-user: offer checksum/TSO features
  // Coalescing of what the port receives: coalesce = "off" | "gro" | "rsc" (gro = true is
  // the older spelling of "gro"); RSC's timer and whether segments with (identical) TCP
  // options merge.
  runtime::Coalesce coalesce = runtime::Coalesce::kOff;
  uint32_t rsc_interval_us = 300;
  bool rsc_tcp_options = true;
  // tap
  std::string ifname;
  // vhost-user
  std::string socket;
  bool client = false;
  std::string mac;  // the guest's MAC (vhost-user config space), "" for the default
  // af_xdp / af_packet
  std::string interface;
  std::string xdp_mode = "auto";  // auto | native | skb (copy mode)
  // pcap
  std::string rx_path, tx_path;
  bool loop = false;
  // bridge settings of the port
  runtime::PortForwarding forwarding;
};

struct FerrydConfig {
  uint16_t workers = 1;
  std::vector<int> cpus;
  std::string log_level = "info";
  uint32_t stats_interval_s = 0;  // periodic stats dump (0: only on SIGUSR1)
  std::string stats_json;         // also write the JSON dump to this file ("" : no)
  uint32_t pool_buffers = 32768;
  std::vector<PortSpec> ports;
  uint32_t ageing_time_s = 300;
  bool arp_suppression = false;
  std::vector<runtime::StaticFdbEntry> static_fdb;  // port ids index `ports`
};

struct ConfigError {
  std::string file;
  int line = 0;
  std::string key;
  std::string message;
  // "FILE:LINE: KEY: MESSAGE"
  std::string to_string() const;
};

// Parses TOML text; `file` names it in errors. nullopt and *error on the first problem.
std::optional<FerrydConfig> parse_config(std::string_view text, const std::string& file,
                                         ConfigError* error);
// Reads and parses a file.
std::optional<FerrydConfig> load_config(const std::string& path, ConfigError* error);

// The configuration ferryd runs without --config: a bridge of two TAP ports.
std::string_view default_config_text();

// "aa:bb:cc:dd:ee:ff" -> 48-bit value (aa in the high byte); false if malformed.
bool parse_mac(std::string_view text, uint64_t* mac);

}  // namespace ferry::control
