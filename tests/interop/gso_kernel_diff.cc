// Differential test of Ferry's GSO against the Linux kernel's.
//
// In a network namespace made for the test, two TAP devices are ports of a Linux bridge.
// A 64 KB TCP frame with a virtio_net_hdr asking for TSO (and NEEDS_CSUM) is written
// into TAP A (IFF_VNET_HDR); TAP B has no offloads, so the kernel segments the frame and
// finishes the checksums in software (validate_xmit_skb -> skb_gso_segment) before TAP
// B's reader gets it. The same frame is segmented by Ferry's GsoEngine, and the two
// sets of segments are compared byte for byte: every header field and the payload.
//
// Fields that may legitimately differ are listed in kAllowedDifferences below (none is
// expected for plain TCPv4/TCPv6 TSO: both sides increment the IPv4 ID from the input's,
// clear PSH/FIN on all but the last segment, keep the options, and fill all checksums).
//
// Exit codes: 0 pass, 1 mismatch or error, 77 skipped (not root, no /dev/net/tun, or the
// namespace/TAP/bridge cannot be created). The namespace is removed in every case.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
// The UAPI header names a member `class`; rename it for C++.
#define class class_
#include <linux/virtio_net.h>
#undef class

// Newer than the installed UAPI headers; accepted by the kernels this runs on.
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#include <sys/ioctl.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "csum/ip_checksum.h"
#include "offload/gso.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"

namespace {

using Bytes = std::vector<uint8_t>;

constexpr int kSkip = 77;
constexpr uint16_t kMss = 1448;

// Differences that are allowed, by frame offset range, with the reason. Empty: the
// kernel and Ferry agree on every byte for TCPv4 and TCPv6 TSO.
struct AllowedDifference {
  const char* field;
  const char* why;
};
constexpr AllowedDifference kAllowedDifferences[] = {
    {"(none)", "Ferry follows tcp_gso_segment()/inet_gso_segment() field for field"},
};

std::string g_ns;

void remove_namespace() {
  if (!g_ns.empty()) {
    std::string cmd = "ip netns del " + g_ns + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "warning: could not delete namespace %s\n", g_ns.c_str());
    }
    g_ns.clear();
  }
}

void on_signal(int sig) {
  remove_namespace();
  signal(sig, SIG_DFL);
  raise(sig);
}

int skip(const char* why) {
  std::printf("SKIP: %s\n", why);
  remove_namespace();
  return kSkip;
}

int run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

int open_tap(const std::string& name, bool vnet) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
  if (fd < 0) return -1;
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    close(fd);
    return -1;
  }
  if (vnet) {
    int sz = sizeof(virtio_net_hdr);
    unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, off) < 0) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

// A TSO frame: Ethernet, IPv4 or IPv6, TCP with timestamps, `payload` bytes; the TCP
// checksum field holds the pseudo-header sum (NEEDS_CSUM), as a guest sends it.
Bytes tso_frame(bool v6, bool udp, uint32_t payload) {
  const uint32_t ip_hl = v6 ? 40 : 20, tcp_hl = udp ? 8 : 32;
  const uint8_t proto = udp ? 17 : 6;
  Bytes f(14 + ip_hl + tcp_hl + payload, 0);
  const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(f.data(), macs, 12);
  ferry::store_be16(&f[12], v6 ? ETH_P_IPV6 : ETH_P_IP);
  uint8_t* ip = &f[14];
  uint8_t* tcp = ip + ip_hl;
  const uint32_t l4_len = tcp_hl + payload;
  uint32_t ps;
  if (v6) {
    ferry::store_be32(ip, 0x60000000 | 0x2345);
    ferry::store_be16(ip + 4, static_cast<uint16_t>(l4_len));
    ip[6] = proto;
    ip[7] = 64;
    ip[8] = ip[24] = 0xfd;
    ip[23] = 1;
    ip[39] = 2;
    ps = ferry::csum::pseudo_sum_ipv6(ip + 8, ip + 24, proto, l4_len);
  } else {
    ip[0] = 0x45;
    ferry::store_be16(ip + 2, static_cast<uint16_t>(ip_hl + l4_len));
    ferry::store_be16(ip + 4, 0x4d2c);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t addrs[8] = {10, 9, 0, 1, 10, 9, 0, 2};
    std::memcpy(ip + 12, addrs, 8);
    ferry::csum::ipv4_header_fill(ip, 20);
    ps = ferry::csum::pseudo_sum_ipv4(ip + 12, ip + 16, proto, static_cast<uint16_t>(l4_len));
  }
  ferry::store_be16(tcp, 45678);
  ferry::store_be16(tcp + 2, 5201);
  if (udp) {
    ferry::store_be16(tcp + 4, static_cast<uint16_t>(l4_len));
    ferry::store_unaligned<uint16_t>(tcp + 6, ferry::csum::fold(ps));
  } else {
    ferry::store_be32(tcp + 4, 0xfffe0000);
    ferry::store_be32(tcp + 8, 0x11223344);
    tcp[12] = (tcp_hl / 4) << 4;
    tcp[13] = 0x18 | 0x01;  // ACK PSH FIN: PSH and FIN must end up on the last segment only
    ferry::store_be16(tcp + 14, 1024);
    const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78};
    std::memcpy(tcp + 20, ts, 12);
    ferry::store_unaligned<uint16_t>(tcp + 16, ferry::csum::fold(ps));
  }
  uint32_t x = 12345;
  for (uint32_t i = 0; i < payload; i++) {
    x = x * 1103515245u + 12345u;
    tcp[tcp_hl + i] = static_cast<uint8_t>(x >> 16);
  }
  return f;
}

bool is_our_frame(const Bytes& b, bool v6) {
  if (b.size() < 14 + 20 + 8) return false;
  if (ferry::load_be16(&b[12]) != (v6 ? ETH_P_IPV6 : ETH_P_IP)) return false;
  const size_t tcp = 14 + (v6 ? 40 : 20);
  const uint8_t proto = v6 ? b[14 + 6] : b[14 + 9];
  if ((proto != 6 && proto != 17) || b.size() < tcp + 4) return false;
  return ferry::load_be16(&b[tcp]) == 45678 && ferry::load_be16(&b[tcp + 2]) == 5201;
}

std::vector<Bytes> kernel_segments(int fd_a, int fd_b, const Bytes& frame, bool v6, bool udp) {
  virtio_net_hdr h{};
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.gso_type =
      udp ? VIRTIO_NET_HDR_GSO_UDP_L4 : (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
  h.hdr_len = static_cast<uint16_t>(14 + (v6 ? 40 : 20) + (udp ? 8 : 32));
  h.gso_size = kMss;
  h.csum_start = static_cast<uint16_t>(14 + (v6 ? 40 : 20));
  h.csum_offset = udp ? 6 : 16;
  Bytes out(sizeof(h) + frame.size());
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + sizeof(h), frame.data(), frame.size());
  std::vector<Bytes> segs;
  if (write(fd_a, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    std::fprintf(stderr, "write to TAP A: %s\n", std::strerror(errno));
    return segs;
  }
  Bytes buf(70000);
  for (;;) {
    pollfd p{fd_b, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) break;
    ssize_t n = read(fd_b, buf.data(), buf.size());
    if (n <= 0) continue;
    Bytes b(buf.begin(), buf.begin() + n);
    if (is_our_frame(b, v6)) segs.push_back(std::move(b));
  }
  return segs;
}

std::vector<Bytes> ferry_segments(ferry::BufferPool& pool, const Bytes& frame, bool v6, bool udp) {
  std::vector<Bytes> segs;
  ferry::Packet* p = ferry::packet_from_bytes(pool, frame);  // chained: 2 KB buffers
  if (p == nullptr || ferry::proto::parse_packet(*p) != ferry::proto::ParseError::kOk) {
    std::fprintf(stderr, "Ferry: cannot parse the frame\n");
    ferry::free_packet(p);
    return segs;
  }
  p->set_gso(udp ? ferry::kGsoUdpL4 : (v6 ? ferry::kGsoTcpv6 : ferry::kGsoTcpv4), kMss);
  p->set_csum_partial(p->l4_offset(), udp ? 6 : 16);
  ferry::offload::GsoEngine gso(pool);
  std::vector<ferry::Packet*> out(128);
  uint32_t n = 0;
  ferry::offload::GsoError e = gso.segment(*p, out.data(), 128, &n);
  if (e != ferry::offload::GsoError::kOk) {
    std::fprintf(stderr, "Ferry GSO: %s\n", ferry::offload::to_string(e));
  }
  for (uint32_t i = 0; i < n; i++)
    segs.push_back(ferry::packet_to_bytes(*out[i]));
  ferry::free_packets(out.data(), n);
  ferry::free_packet(p);
  return segs;
}

const char* field_name(size_t off, bool v6, bool udp) {
  if (off < 14) return "ethernet";
  const size_t ip_hl = v6 ? 40 : 20;
  if (off < 14 + ip_hl) {
    const size_t o = off - 14;
    if (v6) return o < 4 ? "ipv6.vtc_flow" : o < 6 ? "ipv6.payload_length" : "ipv6.other";
    return o < 2    ? "ipv4.ver_tos"
           : o < 4  ? "ipv4.total_length"
           : o < 6  ? "ipv4.id"
           : o < 8  ? "ipv4.frag_off"
           : o < 10 ? "ipv4.ttl_proto"
           : o < 12 ? "ipv4.checksum"
                    : "ipv4.addresses";
  }
  const size_t o = off - 14 - ip_hl;
  if (udp) return o < 4 ? "udp.ports" : o < 6 ? "udp.length" : o < 8 ? "udp.checksum" : "payload";
  if (o < 32) {
    return o < 4    ? "tcp.ports"
           : o < 8  ? "tcp.seq"
           : o < 12 ? "tcp.ack"
           : o < 14 ? "tcp.flags"
           : o < 16 ? "tcp.window"
           : o < 18 ? "tcp.checksum"
           : o < 20 ? "tcp.urg"
                    : "tcp.options";
  }
  return "payload";
}

int compare(const char* name, const std::vector<Bytes>& k, const std::vector<Bytes>& f, bool v6,
            bool udp) {
  int bad = 0;
  std::printf("%s: kernel %zu segments, Ferry %zu segments\n", name, k.size(), f.size());
  if (k.size() != f.size()) {
    std::printf("  FAIL: segment counts differ\n");
    return 1;
  }
  size_t bytes = 0;
  for (size_t i = 0; i < k.size(); i++) {
    bytes += k[i].size();
    if (k[i].size() != f[i].size()) {
      std::printf("  FAIL: segment %zu: kernel %zu bytes, Ferry %zu\n", i, k[i].size(),
                  f[i].size());
      bad++;
      continue;
    }
    for (size_t j = 0; j < k[i].size(); j++) {
      if (k[i][j] != f[i][j]) {
        std::printf("  FAIL: segment %zu byte %zu (%s): kernel %02x, Ferry %02x\n", i, j,
                    field_name(j, v6, udp), k[i][j], f[i][j]);
        if (++bad > 20) return 1;
      }
    }
  }
  if (bad == 0) std::printf("  identical: %zu segments, %zu bytes\n", k.size(), bytes);
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main() {
  if (geteuid() != 0) return skip("needs root (network namespace, TAP devices)");
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return skip("/dev/net/tun is not available");
  const std::string id = std::to_string(getpid() % 100000);
  g_ns = "ferry-gso-" + id;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (run("ip netns add " + g_ns) != 0) {
    g_ns.clear();
    return skip("cannot create a network namespace (ip netns add)");
  }
  const std::string ta = "fgsoa" + id, tb = "fgsob" + id;
  int fd_a = open_tap(ta, true);
  int fd_b = open_tap(tb, false);
  if (fd_a < 0 || fd_b < 0) {
    if (fd_a >= 0) close(fd_a);
    if (fd_b >= 0) close(fd_b);
    return skip("cannot create TAP devices with IFF_VNET_HDR and offloads");
  }
  const std::string in_ns = "ip netns exec " + g_ns + " ";
  const bool setup_ok = run("ip link set " + ta + " netns " + g_ns) == 0 &&
                        run("ip link set " + tb + " netns " + g_ns) == 0 &&
                        run(in_ns + "sysctl -w net.ipv6.conf.all.disable_ipv6=1") == 0 &&
                        run(in_ns + "ip link add br0 type bridge") == 0 &&
                        run(in_ns + "ip link set " + ta + " master br0") == 0 &&
                        run(in_ns + "ip link set " + tb + " master br0") == 0 &&
                        run(in_ns + "ip link set br0 up") == 0 &&
                        run(in_ns + "ip link set " + ta + " up") == 0 &&
                        run(in_ns + "ip link set " + tb + " up") == 0;
  if (!setup_ok) {
    close(fd_a);
    close(fd_b);
    return skip("cannot set up the bridge in the namespace");
  }
  // TAP B must not take TSO or checksum offload, so that the kernel segments in software.
  run(in_ns + "ethtool -K " + tb + " tx off tso off gso off sg off");
  usleep(200 * 1000);
  for (const AllowedDifference& d : kAllowedDifferences) {
    std::printf("allowed difference: %s: %s\n", d.field, d.why);
  }

  ferry::BufferPool::Config pc;
  pc.name = "gso_kernel_diff";
  pc.buffer_count = 1024;
  auto pool = ferry::BufferPool::create(pc);
  int failures = 0;
  struct Case {
    const char* name;
    bool v6;
    bool udp;
    uint32_t payload;
  };
  const Case cases[] = {
      {"TCPv4 64KB", false, false, 65535 - 20 - 32},
      {"TCPv4 44*MSS+100", false, false, 44 * kMss + 100},
      {"TCPv6 64KB", true, false, 65535 - 32},
      {"TCPv6 10*MSS", true, false, 10 * kMss},
      {"UDPv4 USO 40*1448+7", false, true, 40 * kMss + 7},
      {"UDPv6 USO 20*1448", true, true, 20 * kMss},
  };
  for (const Case& c : cases) {
    // Drain anything the namespace sent on its own.
    Bytes junk(70000);
    while (read(fd_b, junk.data(), junk.size()) > 0) {
    }
    Bytes frame = tso_frame(c.v6, c.udp, c.payload);
    std::vector<Bytes> k = kernel_segments(fd_a, fd_b, frame, c.v6, c.udp);
    std::vector<Bytes> f = ferry_segments(*pool, frame, c.v6, c.udp);
    if (k.empty()) {
      std::printf("%s: the kernel delivered no segments to TAP B\n", c.name);
      failures++;
      continue;
    }
    failures += compare(c.name, k, f, c.v6, c.udp);
  }
  close(fd_a);
  close(fd_b);
  remove_namespace();
  std::printf(failures == 0 ? "PASS\n" : "FAIL\n");
  return failures == 0 ? 0 : 1;
}
