#include "control/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace ferry::control {

namespace {

constexpr std::string_view kDefaultConfig =
    R"(# ferryd built-in configuration: one bridge, two TAP ports.
[ferryd]
workers = 1
log_level = "info"

[bridge]
ageing_time = 300

[[port]]
name = "tap0"
type = "tap"
ifname = "ferry-tap0"
offloads = true
coalesce = "off"   # "gro" or "rsc": coalesce received TCP segments (for offloads = false)

[[port]]
name = "tap1"
type = "tap"
ifname = "ferry-tap1"
offloads = true
)";

struct Ctx {
  const std::string& file;
  ConfigError* err;
  bool failed = false;
  bool fail(const toml::node* n, int fallback_line, const std::string& key,
            const std::string& msg) {
    if (failed) return false;
    failed = true;
    err->file = file;
    err->line = n != nullptr && n->source().begin.line != 0
                    ? static_cast<int>(n->source().begin.line)
                    : fallback_line;
    err->key = key;
    err->message = msg;
    return false;
  }
};

bool parse_ipv4(std::string_view text, uint32_t* ip) {
  uint32_t v = 0, part = 0;
  int parts = 0, digits = 0;
  for (size_t i = 0; i <= text.size(); i++) {
    if (i == text.size() || text[i] == '.') {
      if (digits == 0 || part > 255) return false;
      v = v << 8 | part;
      parts++;
      part = 0;
      digits = 0;
    } else if (text[i] >= '0' && text[i] <= '9' && digits < 3) {
      part = part * 10 + static_cast<uint32_t>(text[i] - '0');
      digits++;
    } else {
      return false;
    }
  }
  if (parts != 4) return false;
  *ip = v;
  return true;
}

int line_of(const toml::node& n) {
  return static_cast<int>(n.source().begin.line);
}

// Checks that a table has only known keys.
bool check_keys(Ctx& c, const toml::table& t, const std::string& prefix,
                const std::set<std::string>& known) {
  for (const auto& [k, v] : t) {
    if (known.count(std::string(k.str())) == 0) {
      return c.fail(&v, line_of(t), prefix + std::string(k.str()), "unknown key");
    }
  }
  return true;
}

bool get_bool(Ctx& c, const toml::table& t, const std::string& prefix, const char* key, bool* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  if (!n->is_boolean()) return c.fail(n, line_of(t), prefix + key, "expected true or false");
  *out = n->as_boolean()->get();
  return true;
}

bool get_string(Ctx& c, const toml::table& t, const std::string& prefix, const char* key,
                std::string* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  if (!n->is_string()) return c.fail(n, line_of(t), prefix + key, "expected a string");
  *out = n->as_string()->get();
  return true;
}

template <typename T>
bool get_int(Ctx& c, const toml::table& t, const std::string& prefix, const char* key, int64_t lo,
             int64_t hi, T* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  if (!n->is_integer()) return c.fail(n, line_of(t), prefix + key, "expected an integer");
  int64_t v = n->as_integer()->get();
  if (v < lo || v > hi) {
    return c.fail(n, line_of(t), prefix + key,
                  "out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  *out = static_cast<T>(v);
  return true;
}

bool get_int_list(Ctx& c, const toml::table& t, const std::string& prefix, const char* key,
                  int64_t lo, int64_t hi, std::vector<uint16_t>* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  if (!n->is_array()) return c.fail(n, line_of(t), prefix + key, "expected an array of integers");
  for (const toml::node& e : *n->as_array()) {
    if (!e.is_integer() || e.as_integer()->get() < lo || e.as_integer()->get() > hi) {
      return c.fail(&e, line_of(t), prefix + key,
                    "expected integers " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    out->push_back(static_cast<uint16_t>(e.as_integer()->get()));
  }
  return true;
}

bool parse_port(Ctx& c, const toml::table& t, size_t index, PortSpec* p) {
  std::string prefix = "port[" + std::to_string(index) + "].";
  p->line = line_of(t);
  if (!check_keys(c, t, prefix,
                  {"name",
                   "type",
                   "worker",
                   "queues",
                   "offloads",
                   "gro",
                   "coalesce",
                   "rsc_interval_us",
                   "rsc_tcp_options",
                   "ifname",
                   "socket",
                   "mode",
                   "mac",
                   "interface",
                   "xdp_mode",
                   "rx",
                   "tx",
                   "loop",
                   "vlan_mode",
                   "tag",
                   "trunks",
                   "allowed_macs",
                   "flood",
                   "learning",
                   "enabled"})) {
    return false;
  }
  std::string type;
  if (!get_string(c, t, prefix, "name", &p->name)) return false;
  if (p->name.empty())
    return c.fail(&t, p->line, prefix + "name", "missing (every port needs a name)");
  prefix = "port." + p->name + ".";
  if (!get_string(c, t, prefix, "type", &type)) return false;
  if (type == "tap") {
    p->kind = PortKind::kTap;
  } else if (type == "vhost-user" || type == "vhost_user") {
    p->kind = PortKind::kVhostUser;
  } else if (type == "af_xdp" || type == "af-xdp") {
    p->kind = PortKind::kAfXdp;
  } else if (type == "af_packet" || type == "af-packet") {
    p->kind = PortKind::kAfPacket;
  } else if (type == "pcap") {
    p->kind = PortKind::kPcap;
  } else {
    return c.fail(t.get("type"), p->line, prefix + "type",
                  type.empty() ? "missing (tap, vhost-user, af_xdp, af_packet or pcap)"
                               : "unknown port type '" + type +
                                     "' (tap, vhost-user, af_xdp, af_packet or pcap)");
  }
  std::string mode, vlan_mode, coalesce;
  bool gro = false;
  std::vector<uint16_t> trunks;
  if (!get_int(c, t, prefix, "worker", -1, 255, &p->worker) ||
      !get_int(c, t, prefix, "queues", 1, 16, &p->queues) ||
      !get_bool(c, t, prefix, "offloads", &p->offloads) || !get_bool(c, t, prefix, "gro", &gro) ||
      !get_string(c, t, prefix, "coalesce", &coalesce) ||
      !get_int(c, t, prefix, "rsc_interval_us", 1, 1'000'000, &p->rsc_interval_us) ||
      !get_bool(c, t, prefix, "rsc_tcp_options", &p->rsc_tcp_options) ||
      !get_string(c, t, prefix, "ifname", &p->ifname) ||
      !get_string(c, t, prefix, "socket", &p->socket) || !get_string(c, t, prefix, "mode", &mode) ||
      !get_string(c, t, prefix, "mac", &p->mac) ||
      !get_string(c, t, prefix, "interface", &p->interface) ||
      !get_string(c, t, prefix, "xdp_mode", &p->xdp_mode) ||
      !get_string(c, t, prefix, "rx", &p->rx_path) ||
      !get_string(c, t, prefix, "tx", &p->tx_path) || !get_bool(c, t, prefix, "loop", &p->loop) ||
      !get_string(c, t, prefix, "vlan_mode", &vlan_mode) ||
      !get_int(c, t, prefix, "tag", 0, 4094, &p->forwarding.tag) ||
      !get_int_list(c, t, prefix, "trunks", 0, 4094, &trunks) ||
      !get_bool(c, t, prefix, "flood", &p->forwarding.flood) ||
      !get_bool(c, t, prefix, "learning", &p->forwarding.learning) ||
      !get_bool(c, t, prefix, "enabled", &p->forwarding.enabled) ||
      !get_int(c, t, prefix, "native_vlan", -1, 4094, &p->forwarding.native_vlan) ||
      !get_bool(c, t, prefix, "native_tagged", &p->forwarding.native_tagged) ||
      !get_bool(c, t, prefix, "provider", &p->forwarding.provider) ||
      !get_bool(c, t, prefix, "arp_suppress", &p->forwarding.arp_suppress) ||
      !get_bool(c, t, prefix, "drop_l3_unicast_in_l2_multicast",
                &p->forwarding.drop_l3_unicast_in_l2_multicast)) {
    return false;
  }
  if (t.get("coalesce") != nullptr) {
    if (!runtime::parse_coalesce(coalesce, &p->coalesce)) {
      return c.fail(t.get("coalesce"), p->line, prefix + "coalesce",
                    "unknown mode '" + coalesce + "' (expected \"off\", \"gro\" or \"rsc\")");
    }
    if (t.get("gro") != nullptr && gro != (p->coalesce == runtime::Coalesce::kGro)) {
      return c.fail(t.get("gro"), p->line, prefix + "gro",
                    "contradicts coalesce = \"" + coalesce +
                        "\" (gro is the older spelling; "
                        "keep only coalesce)");
    }
  } else if (gro) {
    p->coalesce = runtime::Coalesce::kGro;
  }
  p->forwarding.name = p->name;
  p->forwarding.trunks = trunks;
  if (vlan_mode.empty() || vlan_mode == "access") {
    p->forwarding.vlan_mode = runtime::VlanMode::kAccess;
  } else if (vlan_mode == "trunk") {
    p->forwarding.vlan_mode = runtime::VlanMode::kTrunk;
  } else if (vlan_mode == "dot1q-tunnel") {
    p->forwarding.vlan_mode = runtime::VlanMode::kDot1qTunnel;
  } else {
    return c.fail(t.get("vlan_mode"), p->line, prefix + "vlan_mode",
                  "expected \"access\", \"trunk\" or \"dot1q-tunnel\"");
  }
  if (mode == "client") {
    p->client = true;
  } else if (!mode.empty() && mode != "server") {
    return c.fail(t.get("mode"), p->line, prefix + "mode", "expected \"server\" or \"client\"");
  }
  if (const toml::node* n = t.get("allowed_macs")) {
    if (!n->is_array())
      return c.fail(n, p->line, prefix + "allowed_macs", "expected an array of MAC strings");
    for (const toml::node& e : *n->as_array()) {
      uint64_t mac = 0;
      if (!e.is_string() || !parse_mac(e.as_string()->get(), &mac)) {
        return c.fail(&e, p->line, prefix + "allowed_macs", "expected \"aa:bb:cc:dd:ee:ff\"");
      }
      p->forwarding.allowed_macs.push_back(mac);
    }
  }
  if (const toml::node* n = t.get("allowed_ips")) {
    if (!n->is_array())
      return c.fail(n, p->line, prefix + "allowed_ips", "expected an array of IPv4 strings");
    for (const toml::node& e : *n->as_array()) {
      uint32_t ip = 0;
      if (!e.is_string() || !parse_ipv4(e.as_string()->get(), &ip)) {
        return c.fail(&e, p->line, prefix + "allowed_ips", "expected \"a.b.c.d\"");
      }
      p->forwarding.allowed_ipv4.push_back(ip);
    }
  }
  uint64_t mac_value = 0;
  if (!p->mac.empty() && !parse_mac(p->mac, &mac_value)) {
    return c.fail(t.get("mac"), p->line, prefix + "mac", "expected \"aa:bb:cc:dd:ee:ff\"");
  }
  switch (p->kind) {
    case PortKind::kVhostUser:
      if (p->socket.empty())
        return c.fail(&t, p->line, prefix + "socket", "missing (vhost-user needs a socket path)");
      break;
    case PortKind::kAfXdp:
    case PortKind::kAfPacket:
      if (p->interface.empty())
        return c.fail(&t, p->line, prefix + "interface", "missing (the interface to attach to)");
      if (p->xdp_mode != "auto" && p->xdp_mode != "native" && p->xdp_mode != "skb") {
        return c.fail(t.get("xdp_mode"), p->line, prefix + "xdp_mode",
                      "expected auto, native or skb");
      }
      break;
    case PortKind::kPcap:
      if (p->rx_path.empty() && p->tx_path.empty()) {
        return c.fail(&t, p->line, prefix + "rx", "a pcap port needs rx and/or tx");
      }
      if (p->queues != 1)
        return c.fail(t.get("queues"), p->line, prefix + "queues", "a pcap port has one queue");
      break;
    case PortKind::kTap:
      if (p->ifname.size() > 15)
        return c.fail(t.get("ifname"), p->line, prefix + "ifname", "longer than 15 characters");
      break;
  }
  return true;
}

}  // namespace

const char* to_string(PortKind k) {
  switch (k) {
    case PortKind::kTap:
      return "tap";
    case PortKind::kVhostUser:
      return "vhost-user";
    case PortKind::kAfXdp:
      return "af_xdp";
    case PortKind::kAfPacket:
      return "af_packet";
    case PortKind::kPcap:
      return "pcap";
  }
  return "?";
}

std::string ConfigError::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

bool parse_mac(std::string_view text, uint64_t* mac) {
  if (text.size() != 17) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 17; i++) {
    char ch = text[i];
    if (i % 3 == 2) {
      if (ch != ':' && ch != '-') return false;
      continue;
    }
    int d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *mac = v;
  return true;
}

std::string_view default_config_text() {
  return kDefaultConfig;
}

std::optional<FerrydConfig> parse_config(std::string_view text, const std::string& file,
                                         ConfigError* error) {
  Ctx c{file, error};
  toml::table parsed;
  try {
    parsed = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    error->file = file;
    error->line = static_cast<int>(e.source().begin.line);
    error->key = "";
    error->message = std::string(e.description());
    return std::nullopt;
  }
  const toml::table& root = parsed;
  FerrydConfig cfg;
  if (!check_keys(c, root, "", {"ferryd", "bridge", "port"})) return std::nullopt;
  if (const toml::node* n = root.get("ferryd")) {
    if (!n->is_table()) return c.fail(n, 0, "ferryd", "expected a table"), std::nullopt;
    const toml::table& t = *n->as_table();
    if (!check_keys(
            c, t, "ferryd.",
            {"workers", "cpus", "log_level", "stats_interval", "stats_json", "pool_buffers"}) ||
        !get_int(c, t, "ferryd.", "workers", 1, 64, &cfg.workers) ||
        !get_string(c, t, "ferryd.", "log_level", &cfg.log_level) ||
        !get_int(c, t, "ferryd.", "stats_interval", 0, 86400, &cfg.stats_interval_s) ||
        !get_string(c, t, "ferryd.", "stats_json", &cfg.stats_json) ||
        !get_int(c, t, "ferryd.", "pool_buffers", 1024, 1 << 22, &cfg.pool_buffers)) {
      return std::nullopt;
    }
    std::vector<uint16_t> cpus;
    if (!get_int_list(c, t, "ferryd.", "cpus", 0, 4095, &cpus)) return std::nullopt;
    for (uint16_t cpu : cpus)
      cfg.cpus.push_back(cpu);
    static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
    if (levels.count(cfg.log_level) == 0) {
      c.fail(t.get("log_level"), 0, "ferryd.log_level",
             "expected trace, debug, info, warn, error, critical or off");
      return std::nullopt;
    }
  }
  // Ports first: static FDB entries name them.
  if (const toml::node* n = root.get("port")) {
    if (!n->is_array_of_tables()) {
      c.fail(n, 0, "port", "expected [[port]] tables");
      return std::nullopt;
    }
    size_t i = 0;
    std::set<std::string> names;
    for (const toml::node& e : *n->as_array()) {
      PortSpec p;
      if (!parse_port(c, *e.as_table(), i++, &p)) return std::nullopt;
      if (!names.insert(p.name).second) {
        c.fail(e.as_table()->get("name"), p.line, "port." + p.name + ".name",
               "duplicate port name");
        return std::nullopt;
      }
      cfg.ports.push_back(std::move(p));
    }
  }
  if (const toml::node* n = root.get("bridge")) {
    if (!n->is_table()) return c.fail(n, 0, "bridge", "expected a table"), std::nullopt;
    const toml::table& t = *n->as_table();
    if (!check_keys(c, t, "bridge.", {"ageing_time", "arp_suppression", "fdb"}) ||
        !get_int(c, t, "bridge.", "ageing_time", 1, 1000000, &cfg.ageing_time_s) ||
        !get_bool(c, t, "bridge.", "arp_suppression", &cfg.arp_suppression)) {
      return std::nullopt;
    }
    if (const toml::node* f = t.get("fdb")) {
      if (!f->is_array_of_tables())
        return c.fail(f, 0, "bridge.fdb", "expected [[bridge.fdb]] tables"), std::nullopt;
      size_t i = 0;
      for (const toml::node& e : *f->as_array()) {
        const toml::table& ft = *e.as_table();
        std::string prefix = "bridge.fdb[" + std::to_string(i++) + "].";
        std::string mac, port;
        runtime::StaticFdbEntry entry;
        if (!check_keys(c, ft, prefix, {"mac", "vlan", "port"}) ||
            !get_string(c, ft, prefix, "mac", &mac) || !get_string(c, ft, prefix, "port", &port) ||
            !get_int(c, ft, prefix, "vlan", 0, 4094, &entry.vlan)) {
          return std::nullopt;
        }
        if (!parse_mac(mac, &entry.mac)) {
          c.fail(ft.get("mac"), line_of(ft), prefix + "mac", "expected \"aa:bb:cc:dd:ee:ff\"");
          return std::nullopt;
        }
        bool found = false;
        for (size_t p = 0; p < cfg.ports.size(); p++) {
          if (cfg.ports[p].name == port) {
            entry.port = static_cast<uint16_t>(p);
            found = true;
          }
        }
        if (!found) {
          c.fail(ft.get("port"), line_of(ft), prefix + "port", "no port named '" + port + "'");
          return std::nullopt;
        }
        cfg.static_fdb.push_back(entry);
      }
    }
  }
  if (cfg.ports.empty()) {
    c.fail(nullptr, 1, "port", "no ports configured");
    return std::nullopt;
  }
  return cfg;
}

std::optional<FerrydConfig> load_config(const std::string& path, ConfigError* error) {
  std::ifstream in(path);
  if (!in) {
    error->file = path;
    error->line = 0;
    error->key = "";
    error->message = "cannot read the file";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, error);
}

}  // namespace ferry::control
