// Fuzzes inflight tracking of split rings: recovery of a hostile inflight area, and the
// exactly-once promise across crashes at any point.
//
// Input: [mode][ops ...] then, with mode bit 4, an inflight area image at the end
//   mode bits 0-1: ring size 4 / 8 / 16 / 32; bits 2-3: start index selector;
//        bit 4: overwrite the area with the image (hostile front-end) before one restart
//   Ops (one byte: low 3 bits the action, the rest its argument): post chains, pop,
//   complete a subset of the popped chains, flush, drain used entries, crash (the device
//   object is dropped, a new one is built from the same memory and area, with used->idx
//   as base, as a front-end sends), crash in the middle of a publication (flags put back,
//   area used_idx or used->idx left behind), rewind (mergeable rx giving chains back).
// Without a hostile image every chain posted must be completed exactly once in the end:
// the target aborts otherwise. With one, the queue must only stay in bounds (ASan).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "virtio/inflight.h"
#include "virtio/split_virtqueue.h"
#include "virtio/split_virtqueue_driver.h"
#include "virtio/vring.h"

using namespace ferry::virtio;

namespace {

constexpr uint64_t kBase = 0x10000;
constexpr uint64_t kSize = 0x10000;
constexpr uint64_t kDesc = kBase;
constexpr uint64_t kAvail = kBase + 0x1000;
constexpr uint64_t kUsed = kBase + 0x2000;
constexpr uint64_t kBufs = kBase + 0x4000;  // 64 bytes per slot
constexpr uint16_t kMaxRing = 32;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "inflight_fuzz: %s\n", what);
  std::abort();
}

class Sim {
 public:
  Sim(uint16_t size, uint16_t start) : size_(size) {
    host_ = static_cast<uint8_t*>(std::calloc(1, kSize));
    MemoryRegion r{kBase, kSize, kBase, host_};
    std::string error;
    mem_.add_region(r, &error);
    SplitVirtqueueDriver::Options o;
    o.size = size;
    o.desc_gpa = kDesc;
    o.avail_gpa = kAvail;
    o.used_gpa = kUsed;
    o.start_idx = start;
    drv_ = std::make_unique<SplitVirtqueueDriver>(mem_, o);
    area_mem_.assign(inflight_queue_bytes(kMaxRing, false) / 8, 0);
    for (uint16_t i = 0; i < size; i++)
      free_slots_.push_back(i);
    restart(start);
  }
  ~Sim() {
    dev_.reset();
    drv_.reset();
    std::free(host_);
  }

  InflightQueueSplit* area() { return reinterpret_cast<InflightQueueSplit*>(area_mem_.data()); }
  size_t area_bytes() const { return area_mem_.size() * 8; }
  uint8_t* area_raw() { return reinterpret_cast<uint8_t*>(area_mem_.data()); }

  uint16_t used_idx() {
    uint16_t v;
    std::memcpy(&v, host_ + (kUsed - kBase) + 2, 2);
    return v;
  }
  void set_used_idx(uint16_t v) { std::memcpy(host_ + (kUsed - kBase) + 2, &v, 2); }

  void restart(uint16_t base) {
    popped_.clear();
    SplitVirtqueueConfig cfg;
    std::string error;
    if (!SplitVirtqueue::map_ring(mem_, RingAddressSpace::kGuestPhysical, size_, kDesc, kAvail,
                                  kUsed, &cfg, &error)) {
      fail("map_ring");
    }
    cfg.last_avail_idx = cfg.used_idx = base;
    cfg.inflight = area();
    cfg.inflight_capacity = kMaxRing;
    dev_ = std::make_unique<SplitVirtqueue>(&mem_, cfg);
  }
  void crash() { restart(used_idx()); }

  void post(unsigned n) {
    for (unsigned i = 0; i < n && !free_slots_.empty() && drv_->free_descs() > 0; i++) {
      uint16_t slot = free_slots_.back();
      free_slots_.pop_back();
      uint32_t token = next_token_++;
      uint64_t gpa = kBufs + 64ull * slot;
      std::memcpy(host_ + (gpa - kBase), &token, 4);
      DriverBuffer b{gpa, 64, (token & 1) != 0};
      int head = drv_->add_chain(&b, 1);
      if (head < 0) fail("add_chain");
      outstanding_[static_cast<uint16_t>(head)] = {token, slot};
    }
    drv_->publish();
  }
  void pop(unsigned n) {
    for (unsigned i = 0; i < n; i++) {
      DescChain c;
      if (dev_->pop(&c) != PopStatus::kOk) break;
      popped_.push_back(static_cast<uint16_t>(c.id));
    }
  }
  void complete(unsigned pattern) {
    std::vector<uint16_t> keep;
    for (size_t i = 0; i < popped_.size(); i++) {
      if ((pattern >> (i % 5)) & 1) {
        dev_->add_used(popped_[i], 0);
      } else {
        keep.push_back(popped_[i]);
      }
    }
    popped_ = keep;
  }
  void flush() { dev_->flush(); }
  void crash_mid_publication(unsigned how) {
    if (popped_.empty()) return crash();
    dev_->flush();  // the batch interrupted is exactly {h}
    uint16_t area_used = area()->used_idx;
    uint16_t ring_used = used_idx();
    uint16_t h = popped_[0];
    popped_.erase(popped_.begin());
    dev_->add_used(h, 0);
    dev_->flush();
    switch (how % 3) {
      case 0:  // the batch list written, used->idx not stored
        set_used_idx(ring_used);
        area()->desc()[h].inflight = 1;
        area()->used_idx = area_used;
        break;
      case 1:  // used->idx stored, flag not cleared
        area()->desc()[h].inflight = 1;
        area()->used_idx = area_used;
        break;
      default:  // flag cleared, area used_idx not stored
        area()->used_idx = area_used;
        break;
    }
    crash();
  }
  void rewind(unsigned n) {
    // Pops more and gives them back (mergeable rx short of buffers).
    size_t before = popped_.size();
    uint32_t pos = dev_->avail_position();
    pop(n);
    dev_->rewind_avail(pos);
    popped_.resize(before);
  }
  void drain() {
    DriverUsed u;
    while (drv_->get_used(&u)) {
      auto it = outstanding_.find(u.id);
      if (it == outstanding_.end()) {
        if (hostile_) continue;
        fail("used entry for a chain that is not outstanding (completed twice?)");
      }
      completed_.push_back(it->second.token);
      free_slots_.push_back(it->second.slot);
      outstanding_.erase(it);
    }
  }
  void finish() {
    // Complete everything popped, crash once more, then drain the ring completely.
    complete(~0u);
    flush();
    crash();
    for (int round = 0; round < 4 * kMaxRing; round++) {
      size_t before = popped_.size();
      pop(4);
      if (popped_.size() == before) break;
      complete(~0u);
      flush();
    }
    drain();
    if (hostile_) return;
    if (dev_->broken()) fail("queue broken without a hostile area");
    std::vector<uint32_t> c = completed_;
    std::sort(c.begin(), c.end());
    if (c.size() != next_token_) fail("a chain was lost or completed twice");
    for (uint32_t i = 0; i < next_token_; i++) {
      if (c[i] != i) fail("a chain was lost or completed twice");
    }
  }
  void set_hostile() { hostile_ = true; }

 private:
  struct Out {
    uint32_t token;
    uint16_t slot;
  };
  uint16_t size_;
  uint8_t* host_;
  GuestMemory mem_;
  std::unique_ptr<SplitVirtqueueDriver> drv_;
  std::vector<uint64_t> area_mem_;
  std::unique_ptr<SplitVirtqueue> dev_;
  std::vector<uint16_t> free_slots_;
  std::map<uint16_t, Out> outstanding_;
  std::vector<uint16_t> popped_;
  std::vector<uint32_t> completed_;
  uint32_t next_token_ = 0;
  bool hostile_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  uint16_t ring = static_cast<uint16_t>(4u << (mode & 3));
  static const uint16_t kStarts[] = {0, 1, 65530, 32768};
  Sim sim(ring, kStarts[(mode >> 2) & 3]);
  const uint8_t* ops = data + 1;
  size_t n_ops = size - 1;
  const uint8_t* image = nullptr;
  if (mode & 16) {
    size_t img = std::min(n_ops, sim.area_bytes());
    image = data + size - img;
    n_ops -= img;
  }
  for (size_t i = 0; i < n_ops && i < 256; i++) {
    unsigned arg = ops[i] >> 3;
    switch (ops[i] & 7) {
      case 0:
        sim.post(1 + arg % 8);
        break;
      case 1:
        sim.pop(1 + arg % 8);
        break;
      case 2:
        sim.complete(arg);
        break;
      case 3:
        sim.flush();
        break;
      case 4:
        sim.drain();
        break;
      case 5:
        if (image != nullptr && (arg & 1)) {
          // A hostile front-end rewrites the area while the back-end is down.
          size_t img = static_cast<size_t>(data + size - image);
          std::memcpy(sim.area_raw(), image, img);
          sim.set_hostile();
          image = nullptr;
        }
        sim.crash();
        break;
      case 6:
        sim.crash_mid_publication(arg);
        break;
      default:
        sim.rewind(1 + arg % 4);
        break;
    }
  }
  sim.finish();

  // The recovery function alone, over the raw image with fuzzed indices.
  if (mode & 16 && size >= 5) {
    std::vector<uint64_t> raw(inflight_queue_bytes(kMaxRing, false) / 8, 0);
    std::memcpy(raw.data(), data + 1, std::min(size - 1, raw.size() * 8));
    uint16_t used = static_cast<uint16_t>(data[1] | data[2] << 8);
    uint16_t avail = static_cast<uint16_t>(data[3] | data[4] << 8);
    InflightRecovery rec = recover_split_inflight(reinterpret_cast<InflightQueueSplit*>(raw.data()),
                                                  kMaxRing, ring, used, avail);
    if (rec.error == InflightError::kNone && rec.resubmit.size() > ring) fail("resubmit > ring");
    for (uint16_t h : rec.resubmit) {
      if (h >= ring) fail("resubmitted head out of range");
    }
  }
  return 0;
}
