// Fuzzes the frame parser: the input is one frame, parsed linearly with parse_frame and as
// a chained Packet of 2-3 segments with parse_packet. Checks that an accepted frame's
// offsets are increasing, inside the frame and consistent with its type, and that linear
// and chained parsing agree.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "packet/packet.h"
#include "proto/parser.h"

namespace {

using ferry::kNoOffset;
using ferry::Packet;
using namespace ferry::proto;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      __builtin_printf("check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

void check_invariants(const ParseResult& r, size_t size) {
  if (!r.ok()) {
    FUZZ_CHECK(r.type == ferry::PacketType());
    FUZZ_CHECK(r.l3_offset == kNoOffset && r.l4_offset == kNoOffset);
    FUZZ_CHECK(r.inner_l2_offset == kNoOffset && r.inner_l3_offset == kNoOffset);
    FUZZ_CHECK(r.inner_l4_offset == kNoOffset);
    return;
  }
  FUZZ_CHECK(r.headers_len <= size);
  FUZZ_CHECK(r.type.l2() != ferry::L2Type::kNone);
  // Present offsets increase from layer to layer and lie inside the frame and headers.
  int prev = -1;
  for (uint16_t off :
       {r.l3_offset, r.l4_offset, r.inner_l2_offset, r.inner_l3_offset, r.inner_l4_offset}) {
    if (off == kNoOffset) continue;
    FUZZ_CHECK(static_cast<int>(off) > prev);
    FUZZ_CHECK(off < size);
    FUZZ_CHECK(off <= r.headers_len);
    prev = off;
  }
  FUZZ_CHECK(r.l3_offset == kNoOffset || r.l3_offset >= 14);
  // An offset is present exactly when its layer has a type (fragments have no L4 offset).
  FUZZ_CHECK((r.l3_offset == kNoOffset) == (r.type.l3() == ferry::L3Type::kNone));
  FUZZ_CHECK((r.inner_l3_offset == kNoOffset) == (r.type.inner_l3() == ferry::L3Type::kNone));
  FUZZ_CHECK((r.inner_l2_offset == kNoOffset) == (r.type.inner_l2() == ferry::L2Type::kNone));
  if (r.type.l4() != ferry::L4Type::kFragment) {
    FUZZ_CHECK((r.l4_offset == kNoOffset) == (r.type.l4() == ferry::L4Type::kNone));
  }
  if (r.type.inner_l4() != ferry::L4Type::kFragment) {
    FUZZ_CHECK((r.inner_l4_offset == kNoOffset) == (r.type.inner_l4() == ferry::L4Type::kNone));
  }
  if (r.type.tunnel() == ferry::TunnelType::kNone) {
    FUZZ_CHECK(r.inner_l2_offset == kNoOffset && r.inner_l3_offset == kNoOffset);
  }
  if (r.l4_offset != kNoOffset) FUZZ_CHECK(r.l3_offset != kNoOffset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  const ParseResult r = parse_frame({data, size});
  check_invariants(r, size);

  // The same bytes as a chain of three segments; the cut points come from the last byte so
  // the fuzzer explores them along with the frame. Each segment has its own heap buffer so
  // that ASan sees any read past a segment.
  const uint8_t knob = size > 0 ? data[size - 1] : 0;
  const size_t cut1 = size == 0 ? 0 : (knob * 37u) % (size + 1);
  const size_t cut2 = cut1 + (size - cut1 == 0 ? 0 : (knob * 11u + 5) % (size - cut1 + 1));
  const size_t cuts[4] = {0, cut1, cut2, size};
  std::vector<uint8_t> bufs[3];
  Packet segs[3];
  for (int i = 0; i < 3; i++) {
    const size_t len = cuts[i + 1] - cuts[i];
    // 4 bytes of headroom and no tailroom: ASan sees any read past the segment.
    bufs[i].resize(len + 4);
    segs[i].init(bufs[i].data(), static_cast<uint32_t>(len + 4), 4, ferry::kNoPool);
    segs[i].append(static_cast<uint32_t>(len));
    if (len > 0) std::memcpy(segs[i].data(), data + cuts[i], len);
    if (i > 0) segs[0].append_segment(&segs[i]);
  }
  const ParseError e = parse_packet(segs[0]);
  if (e == ParseError::kHeadersTooLong) {
    // Only when the headers really reach past the bytes a chain may copy.
    FUZZ_CHECK(size > kMaxChainedHeaderBytes);
  } else {
    FUZZ_CHECK(e == r.error);
    FUZZ_CHECK(segs[0].packet_type() == r.type);
    FUZZ_CHECK(segs[0].l3_offset() == r.l3_offset);
    FUZZ_CHECK(segs[0].l4_offset() == r.l4_offset);
    FUZZ_CHECK(segs[0].inner_l2_offset() == r.inner_l2_offset);
    FUZZ_CHECK(segs[0].inner_l3_offset() == r.inner_l3_offset);
    FUZZ_CHECK(segs[0].inner_l4_offset() == r.inner_l4_offset);
  }

  // Tight limits and no tunnels must not break the invariants either.
  ParseOptions tight;
  tight.max_vlan_tags = 1;
  tight.max_mpls_labels = 1;
  tight.max_ipv6_ext_headers = 1;
  tight.descend_tunnels = false;
  const ParseResult t = parse_frame({data, size}, tight);
  check_invariants(t, size);
  FUZZ_CHECK(t.type.tunnel() == ferry::TunnelType::kNone);
  return 0;
}
