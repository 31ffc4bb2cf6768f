// ferry-offload: runs the frames of a pcap through Ferry's offload engines and writes the
// result to a pcap, with a summary of every engine's counters.
//
//   ferry-offload in.pcap -o out.pcap [--decap] [--gro] [--rsc[=interval_us]] [--gso=MSS]
//                 [--encap vxlan|geneve|gre] [--csum=fill|verify] [--json]
//
// The engines apply in that order whatever the order on the command line. Bad files or
// arguments print one line on stderr and exit with status 2.

#include <cstdio>
#include <exception>
#include <string>

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "pipeline.h"

namespace {

constexpr int kExitUsage = 2;

// "02:00:00:00:00:01" into 6 bytes.
bool parse_mac(const std::string& text, uint8_t* out) {
  unsigned b[6];
  char extra;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                  &b[5], &extra) != 6) {
    return false;
  }
  for (int i = 0; i < 6; i++)
    out[i] = static_cast<uint8_t>(b[i]);
  return true;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "ferry-offload: %s\n", message.c_str());
  return kExitUsage;
}

void print_text(const ferry::tools::Summary& s, double ratio) {
  std::printf("packets in:  %llu (%llu bytes)\n", static_cast<unsigned long long>(s.packets_in),
              static_cast<unsigned long long>(s.bytes_in));
  std::printf("packets out: %llu (%llu bytes)\n", static_cast<unsigned long long>(s.packets_out),
              static_cast<unsigned long long>(s.bytes_out));
  std::printf("coalescing ratio: %.3f (packets in per packet out)\n", ratio);
  for (const std::string& engine : s.engines) {
    std::printf("[%s]\n", engine.c_str());
    for (const ferry::tools::Counter& c : s.counters) {
      if (c.engine == engine) {
        std::printf("  %-28s %llu\n", c.name.c_str(), static_cast<unsigned long long>(c.value));
      }
    }
  }
}

void print_json(const ferry::tools::Summary& s, double ratio, const std::string& in,
                const std::string& out) {
  nlohmann::ordered_json j;
  j["input"] = in;
  j["output"] = out;
  j["packets_in"] = s.packets_in;
  j["packets_out"] = s.packets_out;
  j["bytes_in"] = s.bytes_in;
  j["bytes_out"] = s.bytes_out;
  j["coalescing_ratio"] = ratio;
  j["engines"] = s.engines;
  nlohmann::ordered_json counters = nlohmann::ordered_json::object();
  for (const ferry::tools::Counter& c : s.counters)
    counters[c.engine][c.name] = c.value;
  j["counters"] = counters;
  std::printf("%s\n", j.dump(2).c_str());
}

int run(int argc, char** argv) {
  CLI::App app{"Runs the frames of a pcap through Ferry's offload engines.", "ferry-offload"};
  std::string in_path, out_path;
  bool decap = false, gro = false, json = false;
  std::string rsc_arg;
  uint32_t gso_mss = 0;
  std::string encap, csum_mode;
  std::string outer_src = "192.0.2.1", outer_dst = "192.0.2.2";
  std::string outer_smac = "02:00:00:00:00:01", outer_dmac = "02:00:00:00:00:02";
  uint32_t vni = 42;
  std::string outer_csum = "on";
  uint32_t burst = 32;

  app.add_option("input", in_path, "pcap to read (Ethernet)")->required();
  app.add_option("-o,--output", out_path, "pcap to write")->required();
  app.add_flag("--decap", decap, "strip VXLAN/Geneve/GRE outer headers");
  app.add_flag("--gro", gro, "generic receive offload (Linux semantics)");
  CLI::Option* rsc_opt =
      app.add_option("--rsc", rsc_arg, "receive segment coalescing; drain interval in us")
          ->expected(0, 1)
          ->type_name("[INTERVAL_US]");
  CLI::Option* gso_opt =
      app.add_option("--gso", gso_mss, "segment to MSS-byte payloads")->check(CLI::Range(1, 65495));
  CLI::Option* encap_opt = app.add_option("--encap", encap, "encapsulate: vxlan, geneve or gre")
                               ->check(CLI::IsMember({"vxlan", "geneve", "gre"}));
  app.add_option("--csum", csum_mode, "fill or verify every checksum")
      ->check(CLI::IsMember({"fill", "verify"}));
  app.add_option("--outer-src", outer_src, "outer source IP for --encap")->capture_default_str();
  app.add_option("--outer-dst", outer_dst, "outer destination IP for --encap")
      ->capture_default_str();
  app.add_option("--outer-smac", outer_smac, "outer source MAC for --encap")->capture_default_str();
  app.add_option("--outer-dmac", outer_dmac, "outer destination MAC for --encap")
      ->capture_default_str();
  CLI::Option* vni_opt = app.add_option("--vni", vni, "VXLAN/Geneve VNI (GRE: the key)")
                             ->check(CLI::Range(0u, 0xffffffu))
                             ->capture_default_str();
  app.add_option("--outer-csum", outer_csum, "outer UDP checksum for --encap vxlan|geneve")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--burst", burst, "frames per burst")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_flag("--json", json, "print the summary as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }

  ferry::tools::PipelineOptions options;
  options.burst = burst;
  if (rsc_opt->count() > 0) {
    options.rsc = true;
    if (!rsc_arg.empty()) {
      uint64_t us = 0;
      try {
        size_t used = 0;
        us = std::stoull(rsc_arg, &used);
        if (used != rsc_arg.size() || us > 10'000'000) throw std::invalid_argument("range");
      } catch (const std::exception&) {
        return fail("--rsc: interval '" + rsc_arg +
                    "' is not a number of microseconds (0-10000000)");
      }
      options.rsc_interval_ns = us * 1000;
    }
  }
  if (csum_mode == "fill") options.csum = ferry::tools::CsumMode::kFill;
  if (csum_mode == "verify") options.csum = ferry::tools::CsumMode::kVerify;
  options.decap = decap;
  options.gro = gro;
  if (gso_opt->count() > 0) options.gso_mss = gso_mss;
  if (encap_opt->count() > 0) {
    ferry::offload::TunnelConfig& t = options.tunnel;
    t.kind = encap == "vxlan"    ? ferry::offload::TunnelKind::kVxlan
             : encap == "geneve" ? ferry::offload::TunnelKind::kGeneve
                                 : ferry::offload::TunnelKind::kGre;
    options.encap = true;
    const bool v6_src = outer_src.find(':') != std::string::npos;
    const bool v6_dst = outer_dst.find(':') != std::string::npos;
    if (v6_src != v6_dst) return fail("--outer-src and --outer-dst must both be IPv4 or IPv6");
    t.ipv6 = v6_src;
    if (t.ipv6) {
      if (inet_pton(AF_INET6, outer_src.c_str(), t.src_ip6.bytes) != 1) {
        return fail("--outer-src: '" + outer_src + "' is not an IP address");
      }
      if (inet_pton(AF_INET6, outer_dst.c_str(), t.dst_ip6.bytes) != 1) {
        return fail("--outer-dst: '" + outer_dst + "' is not an IP address");
      }
    } else {
      if (inet_pton(AF_INET, outer_src.c_str(), t.src_ip4.data()) != 1) {
        return fail("--outer-src: '" + outer_src + "' is not an IP address");
      }
      if (inet_pton(AF_INET, outer_dst.c_str(), t.dst_ip4.data()) != 1) {
        return fail("--outer-dst: '" + outer_dst + "' is not an IP address");
      }
    }
    if (!parse_mac(outer_smac, t.src_mac.bytes)) {
      return fail("--outer-smac: '" + outer_smac + "' is not a MAC address");
    }
    if (!parse_mac(outer_dmac, t.dst_mac.bytes)) {
      return fail("--outer-dmac: '" + outer_dmac + "' is not a MAC address");
    }
    t.vni = vni;
    t.gre_key = t.kind == ferry::offload::TunnelKind::kGre && vni_opt->count() > 0;
    t.udp_csum = outer_csum == "on";
  }

  std::string error;
  std::unique_ptr<ferry::tools::Pipeline> pipeline =
      ferry::tools::Pipeline::create(options, &error);
  if (!pipeline) return fail(error);
  if (!pipeline->run(in_path, out_path, &error)) return fail(error);
  const ferry::tools::Summary s = pipeline->summary();
  const double ratio = s.packets_out == 0 ? 0.0 : static_cast<double>(s.packets_in) / s.packets_out;
  if (json) {
    print_json(s, ratio, in_path, out_path);
  } else {
    print_text(s, ratio);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
