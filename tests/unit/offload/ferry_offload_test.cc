// Runs the ferry-offload binary: error handling (one line on stderr, exit status 2), the
// summary as text and JSON, and the frames it writes.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "base/byteorder.h"
#include "pcap/pcap_file.h"
#include "proto/parser.h"

namespace {

namespace fs = std::filesystem;

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("ferry_offload_test." + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  // Removed when the test binary exits.
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

RunResult run(const std::string& args) {
  const fs::path err_file = temp_dir() / "stderr.txt";
  const std::string cmd = std::string(FERRY_OFFLOAD_BIN) + " " + args + " 2>" + err_file.string();
  RunResult r;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    r.out.append(buf, n);
  const int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

std::string capture(const std::string& name) {
  return std::string(FERRY_TEST_DATA) + "/captures/" + name;
}

// An error: exit status 2, exactly one line on stderr, nothing on stdout.
void expect_usage_error(const std::string& args, const std::string& mentions) {
  const RunResult r = run(args);
  EXPECT_EQ(r.status, 2) << args;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  EXPECT_EQ(r.err.rfind("ferry-offload: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << args << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(FerryOffload, MissingFile) {
  expect_usage_error("/nonexistent/in.pcap -o " + (temp_dir() / "o.pcap").string(), "No such file");
}

TEST(FerryOffload, GarbageFile) {
  const fs::path g = temp_dir() / "garbage.pcap";
  {
    std::ofstream f(g, std::ios::binary);
    for (int i = 0; i < 4000; i++)
      f.put(static_cast<char>((i * 131 + 7) & 0xff));
  }
  expect_usage_error(g.string() + " -o " + (temp_dir() / "o.pcap").string(), "garbage.pcap");
  // An empty file and a pcap cut in the middle of a record.
  const fs::path e = temp_dir() / "empty.pcap";
  std::ofstream(e).close();
  expect_usage_error(e.string() + " -o " + (temp_dir() / "o.pcap").string(), "empty.pcap");
  const fs::path t = temp_dir() / "truncated.pcap";
  {
    std::ifstream src(capture("one_tcp_stream.pcap"), std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(src)), {});
    std::ofstream dst(t, std::ios::binary);
    dst.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2 + 3));
  }
  expect_usage_error(t.string() + " -o " + (temp_dir() / "o.pcap").string(), "truncated");
}

TEST(FerryOffload, NonEthernetPcap) {
  // A classic pcap header with link type 105 (IEEE 802.11) and one record.
  const fs::path w = temp_dir() / "wifi.pcap";
  {
    const uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 105};
    const uint32_t record[4] = {0, 0, 4, 4};
    std::ofstream f(w, std::ios::binary);
    f.write(reinterpret_cast<const char*>(header), sizeof(header));
    f.write(reinterpret_cast<const char*>(record), sizeof(record));
    f.write("\x08\x00\x00\x00", 4);
  }
  expect_usage_error(w.string() + " -o " + (temp_dir() / "o.pcap").string(),
                     "neither Ethernet nor raw IP");
}

TEST(FerryOffload, BadArguments) {
  const std::string in = capture("one_tcp_stream.pcap") + " -o " + (temp_dir() / "o.pcap").string();
  expect_usage_error(in + " --gso=0", "--gso");
  expect_usage_error(in + " --gso=abc", "--gso");
  expect_usage_error(in + " --gso=-1", "--gso");
  expect_usage_error(in + " --gso=70000", "--gso");
  expect_usage_error(in + " --encap foo", "--encap");
  expect_usage_error(in + " --csum=maybe", "--csum");
  expect_usage_error(in + " --rsc=soon", "--rsc");
  expect_usage_error(in + " --encap vxlan --outer-src 300.1.1.1", "--outer-src");
  expect_usage_error(in + " --encap gre --outer-dst 2001:db8::1", "IPv4 or IPv6");
  expect_usage_error(in + " --encap geneve --outer-dmac 02:00", "--outer-dmac");
  expect_usage_error(in + " --encap vxlan --vni 16777216", "--vni");
  expect_usage_error(in + " --no-such-option", "no-such-option");
  expect_usage_error(capture("one_tcp_stream.pcap"), "--output");
  expect_usage_error("", "input");
  expect_usage_error(capture("one_tcp_stream.pcap") + " -o /nonexistent/dir/o.pcap",
                     "/nonexistent/dir/o.pcap");
}

TEST(FerryOffload, HelpExitsZero) {
  const RunResult r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--rsc"), std::string::npos);
}

TEST(FerryOffload, TextSummaryListsEveryRscCounter) {
  const std::string out = (temp_dir() / "rsc.pcap").string();
  const RunResult r = run(capture("three_http_streams.pcap") + " -o " + out + " --rsc=100");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("packets in:  28"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("coalescing ratio:"), std::string::npos);
  EXPECT_NE(r.out.find("[rsc]"), std::string::npos);
  for (const char* c : {"ipv4.coalesced", "ipv4.bypass_syn", "ipv4.finalize_ctrl", "ipv6.dup_ack",
                        "ipv4.timer_drained", "ipv4.purged"}) {
    EXPECT_NE(r.out.find(c), std::string::npos) << c;
  }
}

// TCP payload per flow (addresses + ports as bytes), in frame order.
std::map<std::string, std::string> streams(const std::string& pcap_path, uint64_t* frames) {
  std::vector<ferry::pcap::Frame> all;
  std::string error;
  EXPECT_TRUE(ferry::pcap::PcapReader::read_all(pcap_path, &all, &error)) << error;
  std::map<std::string, std::string> s;
  *frames = all.size();
  for (const auto& f : all) {
    const auto r = ferry::proto::parse_frame(f.data, {.descend_tunnels = false});
    if (!r.ok() || r.type.l4() != ferry::L4Type::kTcp) continue;
    const bool v6 = r.type.is_ipv6();
    const uint32_t l3 = r.l3_offset, l4 = r.l4_offset;
    const uint32_t end =
        v6 ? l3 + 40 + ferry::load_be16(&f.data[l3 + 4]) : l3 + ferry::load_be16(&f.data[l3 + 2]);
    const uint32_t data = l4 + 4u * (f.data[l4 + 12] >> 4);
    if (end > f.data.size() || data > end) continue;
    std::string key(f.data.begin() + l3 + (v6 ? 8 : 12), f.data.begin() + l3 + (v6 ? 40 : 20));
    key.append(f.data.begin() + l4, f.data.begin() + l4 + 4);
    s[key].append(f.data.begin() + data, f.data.begin() + end);
  }
  return s;
}

TEST(FerryOffload, JsonSummaryAndPayloadUnchanged) {
  for (const char* name :
       {"one_tcp_stream.pcap", "three_http_streams.pcap", "650HttpResponses.pcap",
        "one_http_stream_fin.pcap", "one_ipv6_http_stream.pcap", "four_ipv6_http_streams.pcap"}) {
    const std::string out = (temp_dir() / "json.pcap").string();
    const RunResult r = run(capture(name) + " -o " + out + " --rsc --csum=fill --json");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    uint64_t in_frames = 0, out_frames = 0;
    const auto want = streams(capture(name), &in_frames);
    const auto got = streams(out, &out_frames);
    EXPECT_TRUE(got == want) << name;
    EXPECT_EQ(j["packets_in"].get<uint64_t>(), in_frames);
    EXPECT_EQ(j["packets_out"].get<uint64_t>(), out_frames);
    const auto& rsc = j["counters"]["rsc"];
    EXPECT_EQ(rsc["packets_in"].get<uint64_t>(), in_frames);
    EXPECT_EQ(rsc["packets_in"].get<uint64_t>(), rsc["packets_out"].get<uint64_t>() +
                                                     rsc["ipv4.coalesced"].get<uint64_t>() +
                                                     rsc["ipv6.coalesced"].get<uint64_t>() +
                                                     rsc["ipv4.window_update"].get<uint64_t>() +
                                                     rsc["ipv6.window_update"].get<uint64_t>());
    EXPECT_EQ(j["engines"], nlohmann::json({"parse", "rsc", "csum_fill"}));
    // What was filled verifies.
    const RunResult v =
        run(out + " -o " + (temp_dir() / "v.pcap").string() + " --csum=verify --json");
    ASSERT_EQ(v.status, 0) << v.err;
    const nlohmann::json jv = nlohmann::json::parse(v.out);
    EXPECT_EQ(jv["counters"]["csum_verify"]["bad_checksum"], 0) << name << v.out;
  }
}

TEST(FerryOffload, EveryEngineKeepsThePayloadStream) {
  for (const char* name :
       {"one_tcp_stream.pcap", "three_http_streams.pcap", "650HttpResponses.pcap",
        "tcp-reassembly.pcap", "four_ipv6_http_streams.pcap"}) {
    for (const char* args : {"--gro", "--gso=536", "--gro --gso=700", "--rsc=20 --gso=1000",
                             "--gro --rsc --gso=300 --csum=fill", "--decap"}) {
      const std::string out = (temp_dir() / "engines.pcap").string();
      const RunResult r = run(capture(name) + " -o " + out + " " + args + " --json");
      ASSERT_EQ(r.status, 0) << args << ": " << r.err;
      uint64_t in_frames = 0, out_frames = 0;
      EXPECT_TRUE(streams(out, &out_frames) == streams(capture(name), &in_frames))
          << name << " " << args;
      const nlohmann::json j = nlohmann::json::parse(r.out);
      EXPECT_EQ(j["counters"]["parse"]["dropped_by_stages"], 0) << name << " " << args;
    }
  }
}

TEST(FerryOffload, EncapThenDecapRoundTrip) {
  for (const char* kind : {"vxlan", "geneve", "gre"}) {
    const std::string mid = (temp_dir() / "encap.pcap").string();
    const std::string out = (temp_dir() / "decap.pcap").string();
    const std::string in = capture("three_http_streams.pcap");
    RunResult r = run(in + " -o " + mid + " --encap " + kind + " --gso=400 --csum=fill --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["counters"]["encap"]["encapsulated"],
              nlohmann::json::parse(r.out)["packets_out"]);
    r = run(mid + " -o " + out + " --decap --gro --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["counters"]["decap"]["decapsulated"],
              nlohmann::json::parse(r.out)["packets_in"]);
    uint64_t a = 0, b = 0;
    EXPECT_TRUE(streams(out, &a) == streams(in, &b)) << kind;
  }
}

}  // namespace
