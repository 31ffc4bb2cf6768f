#pragma once

// Packet: Ferry's packet descriptor, one 64-byte cache line.
//
// A Packet describes one segment of packet data in a buffer. The buffer usually comes
// from a BufferPool, which places the descriptor and its data room together (like a DPDK
// mbuf), so allocating a packet is one pop from a free list:
//
//     buf_                        data()                      data() + data_len()
//      |<------- headroom() ------>|<-------- data_len() -------->|<-- tailroom() -->|
//      +---------------------------+------------------------------+------------------+
//      |   room to push headers    |  Ethernet | IP | L4 | ...    |                  |
//      +---------------------------+------------------------------+------------------+
//      |<------------------------------ buffer_len() ---------------------------------->|
//
// Non-linear packets: a packet may own a chain of further segments through next(). The
// first segment is the head; only the head's metadata (lengths across the chain, offsets,
// type, offload state) is meaningful. pkt_len() is the sum of data_len() over the chain.
// SegmentReader reads across segment borders without linearising. In header/data split
// mode (seed 002) the head is a small header buffer and the payload lives in page-sized
// data segments, so header edits and realignment never touch the payload.
//
// Alignment (seed 004): the default headroom is 128 + 2 bytes, so that with 64-byte
// aligned buffers the IP header behind a 14-byte Ethernet header starts on a 4-byte
// boundary. align_network_header() restores that after a tunnel header is pushed or
// stripped, moving only the head segment.
//
// Offsets: l3/l4 are relative to data() of the head; for tunnelled packets inner_l2,
// inner_l3, inner_l4 locate the encapsulated frame. An offset of kNoOffset means "absent".
//
// Offload state (the vocabulary of Linux's skbuff.h and the virtio-net header):
//  - csum_state() kPartial: the L4 checksum is still to be computed over the bytes from
//    csum_start() to the end, the result stored at csum_start() + csum_offset(); the
//    checksum field holds the pseudo-header sum (virtio NEEDS_CSUM, CHECKSUM_PARTIAL).
//  - kComplete: csum_value() is the folded one's-complement sum of the bytes from
//    csum_start() to the end as received (CHECKSUM_COMPLETE); a checksum can be verified
//    from it without re-reading the payload.
//  - kUnnecessary: the checksums were verified already (virtio DATA_VALID); with
//    kFlagCsumLevelInner the inner L4 checksum of a tunnelled packet too.
//  - kNone: nothing is known; checksums in the packet are what they are.
//  - gso_type() and gso_size(): the packet is larger than the MTU and must be segmented
//    into gso_size()-byte payloads (TSO/USO/UFO), as in virtio_net_hdr and skb_shinfo.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "base/compiler.h"
#include "packet/packet_type.h"

namespace ferry {

enum class CsumState : uint8_t { kNone = 0, kPartial, kComplete, kUnnecessary };

// GSO type bits; combinable, after Linux's SKB_GSO_*. Exactly one of the kGsoTcpv4,
// kGsoTcpv6, kGsoUdp, kGsoUdpL4 bits names the segmentation; the others qualify it.
enum GsoTypeBits : uint16_t {
  kGsoNone = 0,
  kGsoTcpv4 = 1u << 0,           // TSO over IPv4
  kGsoTcpv6 = 1u << 1,           // TSO over IPv6
  kGsoUdp = 1u << 2,             // UFO: IP fragmentation of one large UDP datagram
  kGsoUdpL4 = 1u << 3,           // USO: gso_size-byte UDP datagrams
  kGsoTcpEcn = 1u << 4,          // the first segment has CWR set (virtio GSO_ECN)
  kGsoTcpFixedId = 1u << 5,      // keep the IPv4 ID of every segment equal
  kGsoUdpTunnel = 1u << 6,       // the segmentation applies to the inner packet of VXLAN/Geneve
  kGsoUdpTunnelCsum = 1u << 7,   // ... and the outer UDP checksum is to be filled per segment
  kGsoGre = 1u << 8,             // the segmentation applies to the inner packet of GRE
  kGsoGreCsum = 1u << 9,         // ... and the GRE checksum is to be filled per segment
  kGsoPartial = 1u << 10,        // only the inner packet is segmented; outer headers are copied
  kGsoTunnelRemcsum = 1u << 11,  // remote checksum offload (VXLAN RCO) is in use
};

// Packet flags.
enum PacketFlagBits : uint8_t {
  kFlagVlanTciValid = 1u << 0,    // vlan_tci() holds a tag stripped from the packet
  kFlagRssHashValid = 1u << 1,    // rss_hash() holds the Toeplitz hash of the flow
  kFlagRscInfo = 1u << 2,         // rsc_coalesced()/rsc_dup_acks() are set (virtio RSC_INFO)
  kFlagCsumLevelInner = 1u << 3,  // kUnnecessary covers the inner L4 checksum as well
};

inline constexpr uint16_t kNoOffset = 0xffff;
inline constexpr uint16_t kNoPool = 0xffff;
inline constexpr uint16_t kNoPort = 0xffff;
// IP headers land on a 4-byte boundary when data() is 2 bytes past one (Linux NET_IP_ALIGN).
inline constexpr uint16_t kNetIpAlign = 2;
// Room to push Ethernet + VLAN + IPv6 + UDP + Geneve (+ options) in front of a frame.
inline constexpr uint16_t kDefaultHeadroom = 128 + kNetIpAlign;

class Packet {
 public:
  // Makes this descriptor describe an empty segment of the buffer [buf, buf + buf_len).
  void init(uint8_t* buf, uint32_t buf_len, uint16_t headroom, uint16_t pool_id) {
    std::memset(static_cast<void*>(this), 0, sizeof(*this));
    data_ = buf + headroom;
    buffer_len_ = buf_len;
    headroom_ = headroom;
    pool_id_ = pool_id;
    reset_metadata();
  }

  // Forgets everything the parser and offloads recorded; keeps data and chain.
  void reset_metadata() {
    rss_hash_ = 0;
    packet_type_ = PacketType();
    in_port_ = kNoPort;
    vlan_tci_ = 0;
    l3_offset_ = l4_offset_ = kNoOffset;
    inner_l2_offset_ = inner_l3_offset_ = inner_l4_offset_ = kNoOffset;
    csum_start_ = csum_offset_ = 0;
    gso_size_ = 0;
    csum_state_ = CsumState::kNone;
    flags_ = 0;
    gso_type_ = kGsoNone;
  }

  // --- Data of this segment -------------------------------------------------------------
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  template <typename T>
  T* data_at(uint32_t offset) {
    return reinterpret_cast<T*>(data_ + offset);
  }
  template <typename T>
  const T* data_at(uint32_t offset) const {
    return reinterpret_cast<const T*>(data_ + offset);
  }
  uint32_t data_len() const { return data_len_; }
  uint16_t headroom() const { return headroom_; }
  uint32_t tailroom() const { return buffer_len_ - headroom_ - data_len_; }
  uint32_t buffer_len() const { return buffer_len_; }
  uint8_t* buffer_start() { return data_ - headroom_; }

  // Grows the head segment at the front by n bytes; nullptr if the headroom is too small.
  uint8_t* prepend(uint16_t n) {
    if (FERRY_UNLIKELY(n > headroom_)) return nullptr;
    data_ -= n;
    headroom_ = static_cast<uint16_t>(headroom_ - n);
    data_len_ += n;
    pkt_len_ += n;
    return data_;
  }
  // Removes n bytes from the front of the head segment; nullptr if it holds fewer.
  uint8_t* adj(uint32_t n) {
    if (FERRY_UNLIKELY(n > data_len_ || headroom_ + n > 0xffff)) return nullptr;
    data_ += n;
    headroom_ = static_cast<uint16_t>(headroom_ + n);
    data_len_ -= n;
    pkt_len_ -= n;
    return data_;
  }
  // Appends n bytes at the end of this (last) segment; returns where they start, or
  // nullptr if the tailroom is too small. Call on the last segment; updates only this
  // segment's pkt_len, so append to a chain through the head with append_to_chain().
  uint8_t* append(uint32_t n) {
    if (FERRY_UNLIKELY(n > tailroom())) return nullptr;
    uint8_t* tail = data_ + data_len_;
    data_len_ += n;
    pkt_len_ += n;
    return tail;
  }
  // Appends n bytes at the end of the last segment of this packet (call on the head);
  // keeps the head's pkt_len() right. nullptr if the last segment's tailroom is too small.
  uint8_t* append_to_chain(uint32_t n) {
    Packet* last = last_segment();
    uint8_t* tail = last->append(n);
    if (tail != nullptr && last != this) pkt_len_ += n;
    return tail;
  }
  // Moves this segment's bytes by delta within its buffer (memmove): negative into the
  // headroom, positive into the tailroom. data_len() and the bytes stay the same, so the
  // offsets, which are relative to data(), stay valid. False if the room is too small.
  bool move_data(int32_t delta) {
    if (delta < 0 ? static_cast<uint32_t>(-delta) > headroom_
                  : static_cast<uint32_t>(delta) > tailroom() || headroom_ + delta > 0xffff) {
      return false;
    }
    std::memmove(data_ + delta, data_, data_len_);
    data_ += delta;
    headroom_ = static_cast<uint16_t>(headroom_ + delta);
    return true;
  }
  // Sets this segment's length (and pkt_len() for a segment that is not chained).
  void set_data_len(uint32_t len) {
    pkt_len_ = pkt_len_ - data_len_ + len;
    data_len_ = len;
  }

  // --- Chain -----------------------------------------------------------------------------
  Packet* next() { return next_; }
  const Packet* next() const { return next_; }
  bool is_chained() const { return next_ != nullptr; }
  uint32_t pkt_len() const { return pkt_len_; }
  // Links `tail` (and its chain) after the last segment of this packet.
  void append_segment(Packet* tail) {
    Packet* last = this;
    while (last->next_ != nullptr)
      last = last->next_;
    last->next_ = tail;
    pkt_len_ += tail->pkt_len_;
  }
  // append_segment() when the caller knows `last`, the last segment of this packet:
  // links `tail` (and its chain) after it without walking the chain (for engines that
  // grow long chains one segment at a time).
  void append_segment_after(Packet* last, Packet* tail) {
    last->next_ = tail;
    pkt_len_ += tail->pkt_len_;
  }
  // Unlinks and returns the segments after this one (the caller owns them).
  Packet* detach_next() {
    Packet* rest = next_;
    next_ = nullptr;
    pkt_len_ = data_len_;
    return rest;
  }
  Packet* last_segment() {
    Packet* last = this;
    while (last->next_ != nullptr)
      last = last->next_;
    return last;
  }
  uint32_t segment_count() const {
    uint32_t n = 0;
    for (const Packet* s = this; s != nullptr; s = s->next_)
      n++;
    return n;
  }
  // Where the buffer came from: BufferPool::from_id(pool_id()).
  uint16_t pool_id() const { return pool_id_; }

  // --- Parser results --------------------------------------------------------------------
  PacketType packet_type() const { return packet_type_; }
  void set_packet_type(PacketType t) { packet_type_ = t; }
  uint16_t l3_offset() const { return l3_offset_; }
  uint16_t l4_offset() const { return l4_offset_; }
  uint16_t inner_l2_offset() const { return inner_l2_offset_; }
  uint16_t inner_l3_offset() const { return inner_l3_offset_; }
  uint16_t inner_l4_offset() const { return inner_l4_offset_; }
  void set_l3_offset(uint16_t v) { l3_offset_ = v; }
  void set_l4_offset(uint16_t v) { l4_offset_ = v; }
  void set_inner_l2_offset(uint16_t v) { inner_l2_offset_ = v; }
  void set_inner_l3_offset(uint16_t v) { inner_l3_offset_ = v; }
  void set_inner_l4_offset(uint16_t v) { inner_l4_offset_ = v; }
  // Moves every recorded offset by delta (after pushing or stripping front headers).
  void shift_offsets(int delta) {
    for (uint16_t* o :
         {&l3_offset_, &l4_offset_, &inner_l2_offset_, &inner_l3_offset_, &inner_l4_offset_}) {
      if (*o != kNoOffset) *o = static_cast<uint16_t>(*o + delta);
    }
    if (csum_state_ == CsumState::kPartial || csum_state_ == CsumState::kComplete) {
      csum_start_ = static_cast<uint16_t>(csum_start_ + delta);
    }
  }

  // --- Offload state ---------------------------------------------------------------------
  CsumState csum_state() const { return csum_state_; }
  uint16_t csum_start() const { return csum_start_; }
  uint16_t csum_offset() const { return csum_offset_; }
  uint16_t csum_value() const { return csum_offset_; }  // kComplete shares the field
  void set_csum_none() { csum_state_ = CsumState::kNone; }
  void set_csum_partial(uint16_t start, uint16_t offset) {
    csum_state_ = CsumState::kPartial;
    csum_start_ = start;
    csum_offset_ = offset;
  }
  void set_csum_complete(uint16_t start, uint16_t folded_sum) {
    csum_state_ = CsumState::kComplete;
    csum_start_ = start;
    csum_offset_ = folded_sum;
  }
  void set_csum_unnecessary(bool inner_too = false) {
    csum_state_ = CsumState::kUnnecessary;
    flags_ = inner_too ? (flags_ | kFlagCsumLevelInner) : (flags_ & ~kFlagCsumLevelInner);
  }

  uint16_t gso_type() const { return gso_type_; }
  uint16_t gso_size() const { return gso_size_; }
  bool is_gso() const { return gso_type_ != kGsoNone; }
  void set_gso(uint16_t type, uint16_t size) {
    gso_type_ = type;
    gso_size_ = size;
  }
  void clear_gso() { set_gso(kGsoNone, 0); }

  // RSC info (virtio VIRTIO_NET_HDR_F_RSC_INFO): a coalesced packet's checksum is not
  // valid, so, as in the virtio spec, the csum fields carry the segment and dup-ACK counts.
  bool has_rsc_info() const { return (flags_ & kFlagRscInfo) != 0; }
  uint16_t rsc_coalesced() const { return csum_start_; }
  uint16_t rsc_dup_acks() const { return csum_offset_; }
  void set_rsc_info(uint16_t coalesced, uint16_t dup_acks) {
    flags_ |= kFlagRscInfo;
    csum_state_ = CsumState::kNone;
    csum_start_ = coalesced;
    csum_offset_ = dup_acks;
  }
  // Drops the RSC info (the csum fields then hold counts: set a checksum state next).
  void clear_rsc_info() { flags_ &= static_cast<uint8_t>(~kFlagRscInfo); }

  // --- Steering and switching metadata ---------------------------------------------------
  uint32_t rss_hash() const { return rss_hash_; }
  bool has_rss_hash() const { return (flags_ & kFlagRssHashValid) != 0; }
  void set_rss_hash(uint32_t h) {
    rss_hash_ = h;
    flags_ |= kFlagRssHashValid;
  }
  uint16_t vlan_tci() const { return vlan_tci_; }
  bool has_vlan_tci() const { return (flags_ & kFlagVlanTciValid) != 0; }
  void set_vlan_tci(uint16_t tci) {
    vlan_tci_ = tci;
    flags_ |= kFlagVlanTciValid;
  }
  void clear_vlan_tci() { flags_ &= static_cast<uint8_t>(~kFlagVlanTciValid); }
  uint16_t in_port() const { return in_port_; }
  void set_in_port(uint16_t port) { in_port_ = port; }
  uint8_t flags() const { return flags_; }

 private:
  // Layout pinned below: hot fields (data, length, chain) first.
  uint8_t* data_;             // 0: first byte of this segment's data
  Packet* next_;              // 8: next segment, or nullptr
  uint32_t data_len_;         // 16: bytes in this segment
  uint32_t pkt_len_;          // 20: bytes in the whole chain (head only)
  uint32_t buffer_len_;       // 24: size of the buffer from buffer_start()
  uint32_t rss_hash_;         // 28
  PacketType packet_type_;    // 32
  uint16_t headroom_;         // 36: data_ - buffer_start()
  uint16_t pool_id_;          // 38: BufferPool::from_id(), kNoPool when not pooled
  uint16_t in_port_;          // 40
  uint16_t vlan_tci_;         // 42
  uint16_t l3_offset_;        // 44
  uint16_t l4_offset_;        // 46
  uint16_t inner_l2_offset_;  // 48
  uint16_t inner_l3_offset_;  // 50
  uint16_t inner_l4_offset_;  // 52
  uint16_t csum_start_;       // 54
  uint16_t csum_offset_;      // 56: or the folded sum for kComplete
  uint16_t gso_size_;         // 58
  CsumState csum_state_;      // 60
  uint8_t flags_;             // 61: PacketFlagBits
  uint16_t gso_type_;         // 62: GsoTypeBits

  friend struct PacketLayoutCheck;
};

struct PacketLayoutCheck {
  static_assert(sizeof(Packet) <= kCacheLineSize, "Packet must fit one cache line");
  static_assert(offsetof(Packet, data_) == 0 && offsetof(Packet, next_) == 8);
  static_assert(offsetof(Packet, gso_type_) == 62);
};

}  // namespace ferry
