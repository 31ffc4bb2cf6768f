// Fuzzes the device side of the split and packed rings (and the virtio-net header checks)
// with a guest that controls every byte of its memory.
//
// Input: [mode][start lo][start hi][n_ops][ops ...][guest memory image ...]
//   mode bit 0: packed; 1: INDIRECT_DESC; 2: EVENT_IDX; 3: IN_ORDER batching;
//        bits 4-7: queue size selector
//   The guest memory is two adjacent 1 KiB regions in separate heap blocks (ASan flags any
//   access past either); the rings sit at fixed addresses in the first (descriptors at
//   +0, avail ring / driver event at +0x100, used ring / device event at +0x180), so the
//   image lays out the descriptor table and avail ring (or the packed descriptor ring),
//   indirect tables and buffers; bytes it does not cover are zero.
//   Ops (one byte each): pop a burst, complete it, flush, interrupt check, kick toggles,
//   gather for mergeable rx, or poke a ring byte. No ops: a default pop/complete script.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "virtio/mergeable_rx.h"
#include "virtio/net_header.h"
#include "virtio/packed_virtqueue.h"
#include "virtio/split_virtqueue.h"

using namespace ferry::virtio;

namespace {

constexpr uint64_t kRegion = 1024;
constexpr uint64_t kBase = 0x10000;
constexpr uint64_t kDesc = kBase;           // 16 entries * 16 bytes
constexpr uint64_t kAvail = kBase + 0x100;  // split avail / packed driver event
constexpr uint64_t kUsed = kBase + 0x180;   // split used / packed device event
constexpr size_t kImage = 2 * kRegion;
constexpr size_t kPrefix = 4;

struct Memory {
  Memory() {
    for (int i = 0; i < 2; i++) {
      host[i] = static_cast<uint8_t*>(std::malloc(kRegion));
      MemoryRegion r;
      r.guest_phys_addr = kBase + i * kRegion;
      r.size = kRegion;
      r.user_addr = r.guest_phys_addr;
      r.host_addr = host[i];
      std::string error;
      mem.add_region(r, &error);
    }
  }
  ~Memory() {
    std::free(host[0]);
    std::free(host[1]);
  }
  uint8_t* host[2];
  GuestMemory mem;
};

// Reads every byte of the chain and writes every writable byte, so ASan sees a piece that
// reaches outside its region.
uint32_t touch(const DescChain& c) {
  uint32_t sum = 0;
  for (uint16_t i = 0; i < c.count; i++) {
    const VirtqBuffer& b = c.buffers[i];
    for (uint32_t j = 0; j < b.len; j++)
      sum += b.addr[j];
    if (b.writable) std::memset(b.addr, 0xab, b.len);
  }
  virtio_net_hdr_v1 h;
  if (read_net_header(c, &h, sizeof(h)) == NetHdrError::kNone) {
    alignas(64) uint8_t buf[256];
    ferry::Packet p;
    p.init(buf, sizeof(buf), 0, ferry::kNoPool);
    header_to_packet(h, static_cast<uint32_t>(c.readable_len - sizeof(h)), &p);
  }
  return sum;
}

template <typename Queue>
void run(Queue& q, Memory& m, const uint8_t* ops, size_t n_ops) {
  static DescChain chains[16];
  uint16_t held = 0;  // chains popped and not yet completed
  for (size_t i = 0; i < n_ops && i < 256; i++) {
    uint8_t op = ops[i];
    switch (op & 7) {
      case 0:
      case 1: {
        uint16_t want = static_cast<uint16_t>(1 + (op >> 3) % 8);
        if (held + want > 16) want = static_cast<uint16_t>(16 - held);
        uint16_t got = q.pop_burst(chains + held, want);
        for (uint16_t k = held; k < held + got; k++)
          touch(chains[k]);
        held = static_cast<uint16_t>(held + got);
        break;
      }
      case 2:  // complete what is held, in order or reversed
        for (uint16_t k = 0; k < held; k++) {
          const DescChain& c = chains[(op & 8) ? held - 1 - k : k];
          q.add_used(c, static_cast<uint32_t>(c.writable_len));
        }
        held = 0;
        break;
      case 3:
        q.flush();
        break;
      case 4:
        (void)q.needs_interrupt();
        break;
      case 5:
        if (op & 8) {
          (void)q.enable_kick_and_recheck();
        } else {
          q.set_kick_enabled(false);
        }
        break;
      case 6: {
        if (held > 8) break;
        RxGather g = gather_rx_buffers(q, 64u * (op >> 4), chains + held, 8, (op & 8) != 0);
        for (uint16_t k = held; k < held + g.count; k++)
          touch(chains[k]);
        held = static_cast<uint16_t>(held + g.count);
        break;
      }
      case 7: {  // the guest rewrites a ring word under the device
        if (i + 2 >= n_ops) break;
        uint64_t off = (static_cast<uint64_t>(op >> 3) * 16 + ops[i + 1]) % 0x200;
        uint8_t* w = m.mem.translate(kBase + (off & ~uint64_t{1}), 2);
        if (w != nullptr) w[0] = ops[i + 2];
        i += 2;
        break;
      }
    }
  }
  for (uint16_t k = 0; k < held; k++)
    q.add_used(chains[k], 0);
  q.flush();
  (void)q.needs_interrupt();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kPrefix) return 0;
  uint8_t mode = data[0];
  uint16_t start = static_cast<uint16_t>(data[1] | (data[2] << 8));
  size_t n_ops = data[3] < size - kPrefix ? data[3] : size - kPrefix;
  const uint8_t* ops = data + kPrefix;
  static const uint8_t kDefaultOps[] = {0x38, 2, 3, 4, 0x38, 2, 3, 4, 0x38, 2, 3, 4};
  if (n_ops == 0) {
    ops = kDefaultOps;
    n_ops = sizeof(kDefaultOps);
  }
  const uint8_t* image = data + kPrefix + (ops == kDefaultOps ? 0 : n_ops);
  size_t image_len = static_cast<size_t>(data + size - image);
  Memory m;
  for (size_t i = 0; i < kImage; i++) {
    m.host[i / kRegion][i % kRegion] = i < image_len ? image[i] : 0;
  }
  bool packed = mode & 1;
  std::string error;
  if (!packed) {
    uint16_t qsize = static_cast<uint16_t>(1u << ((mode >> 4) % 5));  // 1..16
    SplitVirtqueueConfig cfg;
    if (!SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, qsize, kDesc, kAvail,
                                  kUsed, &cfg, &error)) {
      return 0;
    }
    cfg.last_avail_idx = start;
    cfg.used_idx = start;
    cfg.indirect = mode & 2;
    cfg.event_idx = mode & 4;
    cfg.in_order_batching = mode & 8;
    SplitVirtqueue q(&m.mem, cfg);
    run(q, m, ops, n_ops);
  } else {
    uint16_t qsize = static_cast<uint16_t>(1 + (mode >> 4));  // 1..16
    PackedVirtqueueConfig cfg;
    if (!PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, qsize, kDesc, kAvail,
                                   kUsed, &cfg, &error)) {
      return 0;
    }
    PackedVirtqueue::apply_vring_base(start % qsize | (start & 0x8000), &cfg);
    cfg.indirect = mode & 2;
    cfg.event_idx = mode & 4;
    cfg.in_order_batching = mode & 8;
    PackedVirtqueue q(&m.mem, cfg);
    run(q, m, ops, n_ops);
  }
  return 0;
}
