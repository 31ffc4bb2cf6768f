// Fuzzes RSC with bursts of frames and timer polls. Frames are either raw bytes or built
// from a TCP template whose sequence, ACK, window, flags and sizes come from the input, so
// the fuzzer reaches the merge, ACK and finalize paths as well as the sanity checks.
// Invariants: no out-of-bounds access (ASan), every frame is output, merged, freed or
// purged (the counters add up, the pool ends empty), outputs have consistent lengths.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include <linux/if_ether.h>
#include <netinet/in.h>

#include "base/byteorder.h"
#include "offload/rsc.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"

namespace {

using ferry::BufferPool;
using ferry::Packet;
using ferry::offload::Rsc;
using ferry::offload::RscConfig;

struct Input {
  const uint8_t* p;
  size_t left;
  uint8_t u8() {
    if (left == 0) return 0;
    left--;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
};

// A TCP frame over IPv4 or IPv6 from a few fuzzed fields; lengths are made consistent
// unless the input asks otherwise.
std::vector<uint8_t> template_frame(Input& in, uint32_t* seq, uint32_t* ack) {
  const uint8_t kind = in.u8();
  const bool v6 = kind & 1;
  const uint8_t flow = (kind >> 1) & 3;
  const uint8_t step = in.u8();
  if (step & 1) *seq += in.u16();
  if (step & 2) *seq -= in.u8();
  if (step & 4) *ack += in.u8();
  const uint8_t flags = (step & 8) ? in.u8() : 0x10;
  const uint16_t win = (step & 16) ? in.u16() : 1000;
  const uint32_t payload = (step & 32) ? in.u16() % 9000 : 1448;
  const uint8_t opt_words = (step & 64) ? in.u8() % 11 : 0;
  const int8_t len_delta = (step & 128) ? static_cast<int8_t>(in.u8()) : 0;
  const uint8_t tos = (kind & 8) ? in.u8() : 0;

  std::vector<uint8_t> f(14, 0);
  f[0] = 2;
  ferry::store_be16(&f[12], v6 ? ETH_P_IPV6 : ETH_P_IP);
  const uint32_t tcp_len = 20 + 4u * opt_words;
  const uint32_t l3 = 14;
  if (!v6) {
    f.resize(l3 + 20, 0);
    f[l3] = 0x45;
    f[l3 + 1] = tos;
    ferry::store_be16(&f[l3 + 2], static_cast<uint16_t>(20 + tcp_len + payload + len_delta));
    ferry::store_be16(&f[l3 + 6], (kind & 16) ? 0 : 0x4000);
    f[l3 + 8] = 64;
    f[l3 + 9] = IPPROTO_TCP;
    f[l3 + 12] = 10;
    f[l3 + 15] = flow;
  } else {
    f.resize(l3 + 40, 0);
    ferry::store_be32(&f[l3], 0x60000000u | uint32_t{tos} << 20);
    ferry::store_be16(&f[l3 + 4], static_cast<uint16_t>(tcp_len + payload + len_delta));
    f[l3 + 6] = IPPROTO_TCP;
    f[l3 + 7] = 64;
    f[l3 + 23] = flow;
  }
  const size_t l4 = f.size();
  f.resize(l4 + tcp_len, 1);  // options: NOPs
  ferry::store_be16(&f[l4], 1000);
  ferry::store_be16(&f[l4 + 2], 80);
  ferry::store_be32(&f[l4 + 4], *seq);
  ferry::store_be32(&f[l4 + 8], *ack);
  f[l4 + 12] = static_cast<uint8_t>((tcp_len / 4) << 4);
  f[l4 + 13] = flags;
  ferry::store_be16(&f[l4 + 14], win);
  f.resize(f.size() + payload, static_cast<uint8_t>(*seq));
  if (kind & 32) f.resize(f.size() + in.u8() % 16, 0);                   // padding
  if (kind & 64 && !f.empty()) f.resize(f.size() - in.u8() % f.size());  // truncation
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<BufferPool> pool = [] {
    BufferPool::Config c;
    c.name = "rsc_fuzz";
    c.buffer_count = 8192;
    c.data_room = 1024;  // larger frames become chains
    return BufferPool::create(c);
  }();
  Input in{data, size};
  const uint8_t cfg = in.u8();
  RscConfig config;
  config.interval_ns = uint64_t{in.u8()} * 1000;
  config.require_df = cfg & 1;
  config.coalesce_tcp_options = cfg & 2;
  config.max_flows = (cfg >> 2) % 8 + 1;
  config.ipv4 = !(cfg & 64);
  config.ipv6 = !(cfg & 128);
  Rsc rsc(config);

  uint64_t now = 0;
  uint32_t seq = 1000, ack = 5000;
  std::vector<Packet*> burst;
  Packet* out[96];
  auto check_and_free = [&](uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
      uint64_t len = 0;
      for (const Packet* s = out[i]; s != nullptr; s = s->next())
        len += s->data_len();
      if (len != out[i]->pkt_len()) abort();
      ferry::free_packet(out[i]);
    }
  };
  auto run_burst = [&] {
    if (burst.empty()) return;
    const Rsc::Result r =
        rsc.process(burst.data(), static_cast<uint32_t>(burst.size()), now, out, 96);
    if (r.consumed != burst.size()) abort();
    check_and_free(r.produced);
    burst.clear();
  };
  while (in.left > 0 && burst.size() < 4096) {
    const uint8_t op = in.u8();
    if (op >= 0xf0) {  // timer poll after some time
      run_burst();
      now += static_cast<uint64_t>(op & 0xf) * 50'000 + in.u8() * 1000u;
      if (now >= rsc.next_deadline_ns() && rsc.next_deadline_ns() != Rsc::kNoDeadline) {
        check_and_free(rsc.poll(now, out, 96));
      }
      continue;
    }
    std::vector<uint8_t> frame;
    if (op < 0x80) {
      frame = template_frame(in, &seq, &ack);
    } else {
      const size_t len = std::min<size_t>(in.u16() % 2048, in.left);
      frame.assign(in.p, in.p + len);
      in.p += len;
      in.left -= len;
    }
    Packet* p = ferry::packet_from_bytes(*pool, frame);
    if (p == nullptr) break;
    ferry::proto::parse_packet(*p);
    burst.push_back(p);
    if (burst.size() == 32 || (op & 0x40)) run_burst();
  }
  run_burst();
  const auto& st = rsc.stats();
  if (in.p != data && (data[0] & 32)) {
    check_and_free(rsc.flush(out, 96));
  }
  const uint64_t cached = rsc.cached_segments();
  rsc.purge();
  if (st.packets_in != st.packets_out + st.ipv4.coalesced + st.ipv6.coalesced +
                           st.ipv4.window_update + st.ipv6.window_update + st.ipv4.purged +
                           st.ipv6.purged ||
      st.ipv4.purged + st.ipv6.purged < cached) {
    abort();
  }
  if (pool->stats().in_use != 0) abort();
  return 0;
}
