// Fuzzes GroTable with bursts of frames built from a template frame and per-packet
// records, so that inputs reach the merge paths (same flow, next sequence) as well as
// every rejection: the fuzzer picks the template (any bytes), payload lengths, TCP flags,
// sequence and IP ID steps, checksum states, chain splits, header byte flips and, now and
// then, hostile offsets in the descriptor.
//
// Input: [template length (2)] [template bytes] then records of 10 bytes:
//   len(2) flags(1) seq_mode(1) split(2) mode(1) flip_at(1) flip(1) burst_end(1)
//
// Checked: every packet given to GroTable comes back exactly once (as itself or inside a
// chain): the segments of the outputs are exactly the segments allocated, nothing leaks
// (the pool is empty after freeing the outputs), chains are well formed (pkt_len equals
// the bytes of the chain), and no byte is read outside a segment (ASan).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "csum/packet_checksum.h"
#include "offload/gro.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"
#include "proto/parser.h"

using namespace ferry;
using namespace ferry::offload;

namespace {

#define CHECK(cond) \
  do {              \
    if (!(cond)) {  \
      std::abort(); \
    }               \
  } while (0)

struct Pools {
  std::unique_ptr<BufferPool> big, small;
  Pools() {
    BufferPool::Config c;
    c.name = "gro_fuzz_big";
    c.buffer_count = 1024;
    c.data_room = 2048;
    big = BufferPool::create(c);
    c.name = "gro_fuzz_small";
    c.data_room = 128;
    c.buffer_count = 8192;
    small = BufferPool::create(c);
  }
};

Pools& pools() {
  static Pools p;
  return p;
}

void set16(std::vector<uint8_t>& f, size_t at, uint32_t v) {
  if (at + 2 <= f.size()) {
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
  }
}

// Rewrites the length fields of every layer the parser found so they match the frame.
void fix_lengths(std::vector<uint8_t>& f, const proto::ParseResult& r) {
  auto fix_ip = [&](uint16_t l3, bool v6) {
    if (l3 == kNoOffset) return;
    if (!v6) {
      set16(f, l3 + 2, static_cast<uint32_t>(f.size() - l3));
    } else {
      set16(f, l3 + 4, static_cast<uint32_t>(f.size() - l3 - 40));
    }
  };
  fix_ip(r.l3_offset, r.type.is_ipv6());
  if (r.type.l4() == L4Type::kUdp && r.l4_offset != kNoOffset) {
    set16(f, r.l4_offset + 4, static_cast<uint32_t>(f.size() - r.l4_offset));
  }
  if (r.type.tunnel() != TunnelType::kNone) {
    fix_ip(r.inner_l3_offset, r.type.is_inner_ipv6());
    if (r.type.inner_l4() == L4Type::kUdp && r.inner_l4_offset != kNoOffset) {
      set16(f, r.inner_l4_offset + 4, static_cast<uint32_t>(f.size() - r.inner_l4_offset));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t tlen = (data[0] | data[1] << 8) % 512;
  data += 2;
  size -= 2;
  if (tlen > size) tlen = size;
  const std::vector<uint8_t> tmpl(data, data + tlen);
  data += tlen;
  size -= tlen;
  const proto::ParseResult tr = proto::parse_frame(tmpl);
  const uint16_t l4 = tr.type.tunnel() != TunnelType::kNone ? tr.inner_l4_offset : tr.l4_offset;
  const bool tcp =
      (tr.type.tunnel() != TunnelType::kNone ? tr.type.inner_l4() : tr.type.l4()) == L4Type::kTcp;
  const size_t hdr_len = tr.ok() ? tr.headers_len : tmpl.size();

  GroConfig config;
  config.max_flows = 1 + (tlen % 8);
  config.max_segments = static_cast<uint16_t>(2 + (size % 50));
  GroTable table(config);
  Pools& p = pools();
  std::vector<Packet*> burst, out;
  std::set<const Packet*> allocated;
  uint32_t seq = 1;
  uint16_t id = 1;
  uint8_t fill = 0;

  auto run_burst = [&]() {
    std::vector<Packet*> o(burst.size() + table.held());
    GroBurst b = table.receive(burst.data(), static_cast<uint32_t>(burst.size()), o.data(),
                               static_cast<uint32_t>(o.size()));
    CHECK(b.consumed == burst.size());
    out.insert(out.end(), o.begin(), o.begin() + b.out);
    burst.clear();
  };

  while (size >= 10) {
    const uint32_t len = (data[0] | data[1] << 8) % 1700;
    const uint8_t flags = data[2], seq_mode = data[3];
    const uint32_t split = data[4] | data[5] << 8;
    const uint8_t mode = data[6], flip_at = data[7], flip = data[8], end = data[9];
    data += 10;
    size -= 10;

    std::vector<uint8_t> f(tmpl.begin(), tmpl.begin() + hdr_len);
    for (uint32_t i = 0; i < len; i++)
      f.push_back(fill++);
    if (tr.ok()) {
      fix_lengths(f, tr);
      if (tcp && l4 != kNoOffset && l4 + 20u <= f.size()) {
        f[l4 + 13] = flags;
        const uint32_t s = (seq_mode & 3) == 0 ? seq + (seq_mode >> 2) : seq;
        for (int i = 0; i < 4; i++)
          f[l4 + 4 + i] = static_cast<uint8_t>(s >> (24 - 8 * i));
        seq = s + len;
      }
      if (tr.type.is_ipv4() && tr.l3_offset != kNoOffset) {
        set16(f, tr.l3_offset + 4, id);
        id = static_cast<uint16_t>(id + ((seq_mode & 4) ? 0 : 1));
      }
    }
    Packet* pkt = nullptr;
    BufferPool& pool = (mode & 1) ? *p.small : *p.big;
    const uint32_t head = split % (f.size() + 1);
    if ((mode & 2) && head > 0 && head < f.size()) {
      pkt = packet_from_bytes(pool, std::span(f.data(), head));
      Packet* rest = segments_from_bytes(pool, std::span(f.data() + head, f.size() - head));
      if (pkt != nullptr && rest != nullptr) {
        pkt->append_segment(rest);
      } else {
        free_packet(pkt);
        free_packet(rest);
        pkt = nullptr;
      }
    } else {
      pkt = packet_from_bytes(pool, f);
    }
    if (pkt == nullptr) break;  // pool exhausted: stop here
    for (Packet* s = pkt; s != nullptr; s = s->next())
      allocated.insert(s);
    proto::parse_packet(*pkt);
    if (mode & 4) csum::fill_all(*pkt);
    if (mode & 8) pkt->set_csum_unnecessary((mode & 16) != 0);
    if ((mode & 32) && flip_at < pkt->data_len()) pkt->data()[flip_at] ^= flip;
    if ((mode & 0xc0) == 0xc0) {
      // Hostile descriptor offsets.
      pkt->set_l3_offset(flip_at);
      pkt->set_l4_offset(static_cast<uint16_t>(flip_at + flip));
      pkt->set_inner_l3_offset(static_cast<uint16_t>(split & 0x1ff));
      pkt->set_inner_l4_offset(static_cast<uint16_t>(split >> 7));
    }
    if ((mode & 0xc0) == 0x80) pkt->set_in_port(flip & 3);
    burst.push_back(pkt);
    if (end & 1) run_burst();
    if ((end & 6) == 6) {
      std::vector<Packet*> o(table.held());
      uint32_t m = table.flush(o.data(), static_cast<uint32_t>(o.size()));
      out.insert(out.end(), o.begin(), o.begin() + m);
    }
  }
  run_burst();
  std::vector<Packet*> o(table.held());
  uint32_t m = table.flush(o.data(), static_cast<uint32_t>(o.size()));
  out.insert(out.end(), o.begin(), o.begin() + m);
  CHECK(table.held() == 0);

  // Every allocated segment is in exactly one output chain.
  std::set<const Packet*> seen;
  for (const Packet* pk : out) {
    uint64_t bytes = 0;
    for (const Packet* s = pk; s != nullptr; s = s->next()) {
      CHECK(allocated.count(s) == 1);
      CHECK(seen.insert(s).second);
      bytes += s->data_len();
    }
    CHECK(bytes == pk->pkt_len());
    CHECK(chain_length(*pk) == pk->pkt_len());
    if (pk->is_gso()) CHECK(pk->gso_size() > 0 && pk->csum_state() == CsumState::kPartial);
  }
  CHECK(seen.size() == allocated.size());
  const GroStats& st = table.stats();
  uint64_t skips = 0;
  for (uint64_t v : st.skip)
    skips += v;
  CHECK(st.packets_in == st.merged + st.held + skips);
  CHECK(st.packets_out == out.size());
  free_packets(out.data(), static_cast<uint32_t>(out.size()));
  CHECK(p.big->stats().in_use == 0 && p.small->stats().in_use == 0);
  return 0;
}
