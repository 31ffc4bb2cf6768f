#include "control/config.h"

#include <gtest/gtest.h>

namespace ferry::control {
namespace {

TEST(Config, BuiltInConfigParses) {
  ConfigError e;
  auto c = parse_config(default_config_text(), "<built-in>", &e);
  ASSERT_TRUE(c) << e.to_string();
  ASSERT_EQ(c->ports.size(), 2u);
  EXPECT_EQ(c->ports[0].kind, PortKind::kTap);
  EXPECT_EQ(c->ageing_time_s, 300u);
}

TEST(Config, EveryPortKindAndBridgeSettings) {
  const char* text = R"(
[ferryd]
workers = 2
cpus = [0, 1]
stats_interval = 5

[bridge]
ageing_time = 60
arp_suppression = true
[[bridge.fdb]]
mac = "52:54:00:00:00:01"
vlan = 10
port = "vm1"

[[port]]
name = "vm1"
type = "vhost-user"
socket = "/tmp/vm1.sock"
mode = "client"
queues = 2
tag = 10
allowed_macs = ["52:54:00:00:00:01"]

[[port]]
name = "t"
type = "tap"
ifname = "ferry-t"
offloads = false
gro = true
vlan_mode = "trunk"
trunks = [10, 20]

[[port]]
name = "x"
type = "af_xdp"
interface = "veth0"
xdp_mode = "skb"

[[port]]
name = "p"
type = "af_packet"
interface = "veth1"

[[port]]
name = "cap"
type = "pcap"
rx = "in.pcap"
tx = "out.pcap"
loop = true
)";
  ConfigError e;
  auto c = parse_config(text, "f.toml", &e);
  ASSERT_TRUE(c) << e.to_string();
  EXPECT_EQ(c->workers, 2);
  EXPECT_EQ(c->cpus, (std::vector<int>{0, 1}));
  ASSERT_EQ(c->ports.size(), 5u);
  EXPECT_EQ(c->ports[0].kind, PortKind::kVhostUser);
  EXPECT_TRUE(c->ports[0].client);
  EXPECT_EQ(c->ports[0].queues, 2);
  EXPECT_EQ(c->ports[0].forwarding.tag, 10);
  EXPECT_EQ(c->ports[0].forwarding.allowed_macs, (std::vector<uint64_t>{0x525400000001ull}));
  EXPECT_FALSE(c->ports[1].offloads);
  EXPECT_EQ(c->ports[1].coalesce, runtime::Coalesce::kGro);  // gro = true: the older spelling
  EXPECT_EQ(c->ports[0].coalesce, runtime::Coalesce::kOff);
  EXPECT_EQ(c->ports[1].forwarding.vlan_mode, runtime::VlanMode::kTrunk);
  EXPECT_EQ(c->ports[2].kind, PortKind::kAfXdp);
  EXPECT_EQ(c->ports[3].kind, PortKind::kAfPacket);
  EXPECT_EQ(c->ports[4].kind, PortKind::kPcap);
  ASSERT_EQ(c->static_fdb.size(), 1u);
  EXPECT_EQ(c->static_fdb[0].port, 0);
  EXPECT_EQ(c->static_fdb[0].vlan, 10);
  EXPECT_TRUE(c->arp_suppression);
}

struct Bad {
  const char* text;
  int line;
  const char* key;
};

TEST(Config, ErrorsNameFileLineAndKey) {
  const Bad cases[] = {
      {"[ferryd]\nworkers = 0\n[[port]]\nname=\"a\"\ntype=\"tap\"\n", 2, "ferryd.workers"},
      {"[ferryd]\nbogus = 1\n", 2, "ferryd.bogus"},
      {"[[port]]\nname = \"a\"\ntype = \"tap\"\n\n[[port]]\nname = \"b\"\ntype = \"warp\"\n", 7,
       "port.b.type"},
      {"[[port]]\nname = \"a\"\ntype = \"vhost-user\"\n", 1, "port.a.socket"},
      {"[[port]]\nname = \"a\"\ntype = \"tap\"\nqueues = \"two\"\n", 4, "port.a.queues"},
      {"[[port]]\nname = \"a\"\ntype = \"tap\"\n[[port]]\nname = \"a\"\ntype = \"tap\"\n", 5,
       "port.a.name"},
      {"[[port]]\nname = \"a\"\ntype = \"tap\"\n[bridge]\n[[bridge.fdb]]\nmac = \"zz\"\nport = "
       "\"a\"\n",
       6, "bridge.fdb[0].mac"},
      {"[[port]]\nname = \"a\"\ntype = \"tap\"\n[[bridge.fdb]]\nmac = \"52:54:00:00:00:01\"\nport "
       "= \"q\"\n",
       6, "bridge.fdb[0].port"},
  };
  for (const Bad& b : cases) {
    ConfigError e;
    EXPECT_FALSE(parse_config(b.text, "cfg.toml", &e)) << b.text;
    EXPECT_EQ(e.file, "cfg.toml");
    EXPECT_EQ(e.line, b.line) << e.to_string();
    EXPECT_EQ(e.key, b.key) << e.to_string();
    EXPECT_EQ(e.to_string().find('\n'), std::string::npos);
  }
}

TEST(Config, CoalesceModes) {
  const char* text = R"(
[[port]]
name = "a"
type = "tap"
coalesce = "rsc"
rsc_interval_us = 50
rsc_tcp_options = false

[[port]]
name = "b"
type = "tap"
coalesce = "gro"
gro = true

[[port]]
name = "c"
type = "tap"
coalesce = "off"
gro = false

[[port]]
name = "d"
type = "tap"
)";
  ConfigError e;
  auto c = parse_config(text, "f.toml", &e);
  ASSERT_TRUE(c) << e.to_string();
  ASSERT_EQ(c->ports.size(), 4u);
  EXPECT_EQ(c->ports[0].coalesce, runtime::Coalesce::kRsc);
  EXPECT_EQ(c->ports[0].rsc_interval_us, 50u);
  EXPECT_FALSE(c->ports[0].rsc_tcp_options);
  EXPECT_EQ(c->ports[1].coalesce, runtime::Coalesce::kGro);
  EXPECT_EQ(c->ports[2].coalesce, runtime::Coalesce::kOff);
  EXPECT_EQ(c->ports[3].coalesce, runtime::Coalesce::kOff);
  EXPECT_EQ(c->ports[3].rsc_interval_us, 300u);  // the reference device's default
  EXPECT_TRUE(c->ports[3].rsc_tcp_options);
}

TEST(Config, BadCoalesceValuesAreNamed) {
  struct Case {
    const char* body;
    int line;
    const char* key;
    const char* message;
  };
  const Case cases[] = {
      {"coalesce = \"lro\"\n", 4, "port.a.coalesce",
       "unknown mode 'lro' (expected \"off\", \"gro\" or \"rsc\")"},
      {"coalesce = \"RSC\"\n", 4, "port.a.coalesce", "unknown mode 'RSC'"},
      {"coalesce = \"\"\n", 4, "port.a.coalesce", "unknown mode ''"},
      {"coalesce = true\n", 4, "port.a.coalesce", "expected a string"},
      {"coalesce = \"rsc\"\ngro = true\n", 5, "port.a.gro", "contradicts coalesce = \"rsc\""},
      {"coalesce = \"gro\"\ngro = false\n", 5, "port.a.gro", "contradicts coalesce = \"gro\""},
      {"gro = \"yes\"\n", 4, "port.a.gro", "expected true or false"},
      {"rsc_interval_us = 0\n", 4, "port.a.rsc_interval_us", "out of range (1..1000000)"},
      {"rsc_interval_us = 2000000\n", 4, "port.a.rsc_interval_us", "out of range"},
      {"rsc_tcp_options = 1\n", 4, "port.a.rsc_tcp_options", "expected true or false"},
  };
  for (const Case& k : cases) {
    std::string text = std::string("[[port]]\nname = \"a\"\ntype = \"tap\"\n") + k.body;
    ConfigError e;
    EXPECT_FALSE(parse_config(text, "cfg.toml", &e)) << text;
    EXPECT_EQ(e.line, k.line) << e.to_string();
    EXPECT_EQ(e.key, k.key) << e.to_string();
    EXPECT_NE(e.message.find(k.message), std::string::npos) << e.to_string();
  }
}

TEST(Config, SyntaxErrorHasALine) {
  ConfigError e;
  EXPECT_FALSE(parse_config("[ferryd]\nworkers = = 2\n", "x.toml", &e));
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.to_string().find("x.toml:2:"), std::string::npos);
}

TEST(Config, MissingFile) {
  ConfigError e;
  EXPECT_FALSE(load_config("/nonexistent/ferryd.toml", &e));
  EXPECT_NE(e.to_string().find("/nonexistent/ferryd.toml"), std::string::npos);
}

TEST(Config, ParseMac) {
  uint64_t m = 0;
  EXPECT_TRUE(parse_mac("aa:BB:cc:00:01:ff", &m));
  EXPECT_EQ(m, 0xaabbcc0001ffull);
  EXPECT_FALSE(parse_mac("aa:bb:cc:00:01", &m));
  EXPECT_FALSE(parse_mac("aa:bb:cc:00:01:fg", &m));
}

}  // namespace
}  // namespace ferry::control
