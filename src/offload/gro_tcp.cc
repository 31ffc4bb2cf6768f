// TCP rules of GRO (Linux tcp_gro_receive): which segment continues a held flow.

#include <cstring>

#include "base/byteorder.h"
#include "offload/gro_flow.h"
#include "proto/tcp.h"

namespace ferry::offload {

using proto::TcpHeader;

GroFlush gro_tcp_check(const GroFlow& f, const uint8_t* held_tcp, const GroSegment& s) {
  const uint8_t* t = s.pkt->data() + s.l4;
  // CWR starts a new merge (the merged packet records it once, as kGsoTcpEcn).
  if ((s.tcp_flags & proto::kTcpCwr) != 0) return GroFlush::kCwr;
  // The 32-bit word holding data offset, flags and window must match, except the flags
  // CWR, FIN and PSH (tcp_flag_word in Linux).
  constexpr uint32_t kLooseFlags = proto::kTcpCwr | proto::kTcpFin | proto::kTcpPsh;
  constexpr uint32_t kMask = ~(kLooseFlags << 8);  // flags are byte 13: bits 8..15 here
  if (((load_unaligned<uint32_t>(held_tcp + 12) ^ load_unaligned<uint32_t>(t + 12)) & kMask) != 0) {
    return GroFlush::kTcpHeader;
  }
  if (load_unaligned<uint32_t>(held_tcp + 8) != load_unaligned<uint32_t>(t + 8)) {
    return GroFlush::kAck;
  }
  // Options, timestamps included, must be byte-identical (same data offset checked above).
  // Compared in 32-bit words, as Linux does (the header length is a multiple of 4).
  const uint32_t hlen = reinterpret_cast<const TcpHeader*>(t)->header_len();
  uint32_t diff = 0;
  for (uint32_t i = proto::kTcpMinHeaderLen; i < hlen; i += 4) {
    diff |= load_unaligned<uint32_t>(held_tcp + i) ^ load_unaligned<uint32_t>(t + i);
  }
  if (diff != 0) return GroFlush::kOptions;
  if (load_be32(t + 4) != f.next_seq) return GroFlush::kSeq;
  if (s.payload_len > f.mss) return GroFlush::kLongSegment;
  return kGroMergeOk;
}

GroFlush gro_udp_check(const GroFlow& f, const GroSegment& s) {
  // Same-size datagrams; one shorter datagram may end the run (Linux UDP_L4 GRO).
  return s.payload_len > f.mss ? GroFlush::kUdpLength : kGroMergeOk;
}

}  // namespace ferry::offload
