#pragma once

// RSC: receive segment coalescing for guests that negotiated VIRTIO_NET_F_RSC_EXT (the
// Windows driver, whose HCK tests define the behaviour). A mode of its own, not GRO:
//
//  - Two chains, one per protocol (IPv4, IPv6), each a list of cached segments, one per
//    TCP flow, in arrival order, with its own drain timer and counters.
//  - Sanity checks bypass a frame untouched: wrong IP version, IPv4 options, fragments
//    (and, like the reference device, IPv4 without DF), not TCP (IPv6 extension headers
//    included), lengths that disagree with the frame, ECN bits in TOS/traffic class.
//  - TCP control: SYN is bypassed; URG/FIN/RST/CWR/ECE (and, by default, any TCP option)
//    finalize: the flow's cached segment is output first, then the frame, so the flow
//    stays in order. A frame that is a GSO packet already finalizes too.
//  - A candidate for a cached flow is in the window (seq - cached seq <= 65535), has the
//    expected sequence number (cached seq + cached payload) and an ACK within the window.
//    Same seq and ACK with a new window is a window update, merged into the cache; same
//    seq, ACK and window is a duplicate ACK, counted in the RSC info of the segment it
//    ends; other ACK-only changes end the segment.
//  - Size limit: the IPv4 total length (header included) and the IPv6 payload length
//    (header excluded, so IPv6 carries 40 bytes more) stay within 65535.
//  - Timer: armed when a chain's cache goes from empty to non-empty, rsc_interval
//    (default 300 us) later; on expiry every cached segment of that chain is output.
//    The caller passes time in (now_ns) and asks next_deadline_ns(); nothing reads a clock.
//
// A coalesced packet is a chain: the first frame keeps its headers, with total/payload
// length, ACK, window and flags taken from the last merged frame; the following segments
// carry only payload. It is marked with Packet::set_rsc_info(segments, dup_acks) (the
// virtio header gets VIRTIO_NET_HDR_F_RSC_INFO; csum state none, not DATA_VALID, as the
// checksums are not recomputed) and gso_type TCPv4/TCPv6 with gso_size the largest merged
// payload. Frames are expected to be parsed (proto::parse_packet) first.
//
// Ownership: every frame handed to process() is output (alone or inside a coalesced
// chain), freed (a merged window update, a purge) with a counter, or stays cached until a
// finalize, flush, poll or purge.

#include <cstdint>
#include <vector>

#include "csum/csum_error.h"
#include "packet/packet.h"

namespace ferry::offload {

struct RscConfig {
  uint64_t interval_ns = 300'000;  // rsc_interval: drain timer, from the first cached frame
  bool ipv4 = true;                // coalesce TCPv4 (guest acked GUEST_TSO4)
  bool ipv6 = true;                // coalesce TCPv6 (guest acked GUEST_TSO6)
  bool require_df = true;          // IPv4 without DF counts as a fragment (reference device)
  // false: a segment with TCP options finalizes (reference device). true: it may merge
  // when its options are byte-identical to the cached segment's.
  bool coalesce_tcp_options = false;
  uint32_t max_flows = 256;  // cached segments per chain; the oldest drains when full
};

// Counters of one protocol chain.
struct RscChainStats {
  uint64_t received = 0;         // frames of this protocol seen
  uint64_t bypass_disabled = 0;  // protocol not enabled
  uint64_t bypass_ip_version = 0;
  uint64_t bypass_ip_options = 0;
  uint64_t bypass_ip_fragment = 0;
  uint64_t bypass_not_tcp = 0;
  uint64_t bypass_bad_length = 0;     // IP/TCP lengths disagree with the frame
  uint64_t bypass_split_headers = 0;  // headers not in the first buffer segment
  uint64_t bypass_ecn = 0;
  uint64_t bypass_syn = 0;
  uint64_t finalize_ctrl = 0;         // URG/FIN/RST/CWR/ECE
  uint64_t finalize_tcp_options = 0;  // options present (or not identical)
  uint64_t finalize_gso = 0;          // already a large (GSO) packet
  uint64_t cached = 0;                // frames that started a cached segment
  uint64_t cache_empty = 0;           // ... into an empty cache (timer armed)
  uint64_t no_match_cache = 0;        // ... next to other flows
  uint64_t cache_full = 0;            // oldest segment drained to make room
  uint64_t coalesced = 0;             // frames merged into a cached segment
  uint64_t data_after_pure_ack = 0;   // ... of them: data behind a cached pure ACK
  uint64_t window_update = 0;         // pure window updates merged (frame freed)
  uint64_t dup_ack = 0;
  uint64_t pure_ack = 0;
  uint64_t out_of_order = 0;   // unexpected sequence number
  uint64_t out_of_window = 0;  // sequence number outside the window
  uint64_t ack_out_of_window = 0;
  uint64_t oversize = 0;       // merging would pass the 65535 limit
  uint64_t finalized = 0;      // cached segments output by a finalize
  uint64_t timer_fired = 0;    // timer expiries that drained the chain
  uint64_t timer_drained = 0;  // cached segments output by the timer
  uint64_t flushed = 0;        // cached segments output by flush()
  uint64_t purged = 0;         // cached segments freed by purge()
  uint64_t purged_frames = 0;  // frames held in them (merged ones included)
  uint64_t rsc_out = 0;        // packets output with RSC info

  template <typename F>
  void for_each_counter(F&& f) const;
};

struct RscStats {
  uint64_t packets_in = 0;
  uint64_t packets_out = 0;
  uint64_t bypass_not_ip = 0;  // neither IPv4 nor IPv6 (or not parsed)
  RscChainStats ipv4;
  RscChainStats ipv6;

  // f("name", value) for every counter; chain counters are prefixed "ipv4."/"ipv6.".
  template <typename F>
  void for_each_counter(F&& f) const;
};

class Rsc {
 public:
  static constexpr uint64_t kNoDeadline = UINT64_MAX;
  // The largest IPv4 total length / IPv6 payload length of a coalesced packet.
  static constexpr uint32_t kMaxIpLength = 65535;
  // A sequence or ACK distance at or past this is outside the window.
  static constexpr uint32_t kMaxTcpPayload = 65535;

  explicit Rsc(const RscConfig& config = {});
  ~Rsc();  // purges
  Rsc(const Rsc&) = delete;
  Rsc& operator=(const Rsc&) = delete;

  struct Result {
    uint32_t consumed = 0;  // frames of the burst taken
    uint32_t produced = 0;  // packets written to out
  };
  // Runs a burst of parsed frames. Each frame writes at most 2 packets, so a capacity of
  // 2 * n takes the whole burst; with less, frames are taken while 2 slots remain.
  Result process(Packet** pkts, uint32_t n, uint64_t now_ns, Packet** out, uint32_t cap);

  // Earliest expiry of an armed chain timer; kNoDeadline when nothing is cached.
  uint64_t next_deadline_ns() const;
  // Drains every chain whose timer expired at now_ns. Returns the packets written (at
  // most cap; an expired chain that did not fit stays expired for the next call).
  uint32_t poll(uint64_t now_ns, Packet** out, uint32_t cap);
  // Outputs every cached segment (end of input). Returns the packets written (<= cap).
  uint32_t flush(Packet** out, uint32_t cap);
  // Frees everything cached (port reset or disable), counting every freed frame.
  void purge();

  // Cached segments (flows) and frames held in them.
  uint32_t cached_segments() const;
  uint64_t cached_frames() const;
  const RscStats& stats() const { return stats_; }
  const RscConfig& config() const { return config_; }

 private:
  struct Seg;
  struct Chain;
  struct Frame;

  bool handle(Packet* p, uint64_t now_ns, Packet** out, uint32_t* produced);
  void coalesce(Chain& chain, Packet* p, const Frame& f, uint64_t now_ns, Packet** out,
                uint32_t* produced);
  void cache(Chain& chain, Packet* p, const Frame& f, uint64_t now_ns, Packet** out,
             uint32_t* produced);
  Packet* finish(Chain& chain, uint32_t index);
  uint32_t finish_front(Chain& chain, uint32_t count, Packet** out);
  Packet* mark(Chain& chain, const Seg& s);
  void purge_chain(Chain& chain);

  RscConfig config_;
  RscStats stats_;
  Chain* chains_[2];  // IPv4, IPv6
};

// A packet marked with RSC info (Packet::has_rsc_info) turned into the form every output
// without RSC_EXT takes: the RSC info dropped, the IPv4 header checksum recomputed (the
// total length changed) and the TCP checksum left partial over the coalesced payload
// (pseudo-header sum in the field, csum::to_partial), keeping the TCPv4/TCPv6 GSO type,
// exactly like a GRO-merged packet. The output offload fix-up then passes it as TSO,
// segments it or fills the checksum. Only for frames whose checksums were verified before
// they were coalesced: the original checksums are gone. Packets without RSC info are left
// alone. kOk, or why the headers could not be located (the packet is then unchanged
// except for the RSC info, its checksum state kNone).
csum::CsumError rsc_strip_info(Packet& p);

template <typename F>
void RscChainStats::for_each_counter(F&& f) const {
  f("received", received);
  f("bypass_disabled", bypass_disabled);
  f("bypass_ip_version", bypass_ip_version);
  f("bypass_ip_options", bypass_ip_options);
  f("bypass_ip_fragment", bypass_ip_fragment);
  f("bypass_not_tcp", bypass_not_tcp);
  f("bypass_bad_length", bypass_bad_length);
  f("bypass_split_headers", bypass_split_headers);
  f("bypass_ecn", bypass_ecn);
  f("bypass_syn", bypass_syn);
  f("finalize_ctrl", finalize_ctrl);
  f("finalize_tcp_options", finalize_tcp_options);
  f("finalize_gso", finalize_gso);
  f("cached", cached);
  f("cache_empty", cache_empty);
  f("no_match_cache", no_match_cache);
  f("cache_full", cache_full);
  f("coalesced", coalesced);
  f("data_after_pure_ack", data_after_pure_ack);
  f("window_update", window_update);
  f("dup_ack", dup_ack);
  f("pure_ack", pure_ack);
  f("out_of_order", out_of_order);
  f("out_of_window", out_of_window);
  f("ack_out_of_window", ack_out_of_window);
  f("oversize", oversize);
  f("finalized", finalized);
  f("timer_fired", timer_fired);
  f("timer_drained", timer_drained);
  f("flushed", flushed);
  f("purged", purged);
  f("purged_frames", purged_frames);
  f("rsc_out", rsc_out);
}

template <typename F>
void RscStats::for_each_counter(F&& f) const {
  f("packets_in", packets_in);
  f("packets_out", packets_out);
  f("bypass_not_ip", bypass_not_ip);
  ipv4.for_each_counter([&](const char* name, uint64_t v) {
    char buf[64] = "ipv4.";
    for (unsigned i = 0; name[i] != '\0' && i + 6 < sizeof(buf); i++)
      buf[5 + i] = name[i];
    f(static_cast<const char*>(buf), v);
  });
  ipv6.for_each_counter([&](const char* name, uint64_t v) {
    char buf[64] = "ipv6.";
    for (unsigned i = 0; name[i] != '\0' && i + 6 < sizeof(buf); i++)
      buf[5 + i] = name[i];
    f(static_cast<const char*>(buf), v);
  });
}

}  // namespace ferry::offload
