#pragma once

// Inflight I/O tracking (vhost-user protocol feature INFLIGHT_SHMFD).
//
// A device that completes chains out of order cannot find, after a crash, which chains it
// had taken from the avail ring but not yet returned: their avail ring entries may have
// been overwritten already. So it keeps one record per descriptor head in a memory area
// that outlives it (a memfd the front-end holds and hands to the restarted device):
//
//   InflightQueueSplit   features version desc_num last_batch_head used_idx
//   InflightDescSplit[]  per head: inflight flag, next (batch list), pop counter
//
// Per chain popped:    desc[head].counter = counter++; desc[head].inflight = 1
// Per used publication (a batch of used entries):
//   1. desc[id].next = last_batch_head; last_batch_head = id   (each id of the batch)
//   2. used->idx += batch                                       (release store)
//   3. desc[id].inflight = 0                                    (each id of the batch)
//   4. used_idx = used->idx
// A crash between any two steps is recoverable (recover_split_inflight): if used_idx
// differs from used->idx the last batch was published, and its inflight flags (found
// through the list from last_batch_head) are cleared. The chains still flagged are
// resubmitted in counter order, and the avail ring continues at used->idx + their number
// (every chain popped was either used or is still flagged).
//
// The area comes from outside (the front-end process, which also controls the guest):
// recovery reads each field once, checks everything and rejects a bad area with a reason.
//
// The packed-ring layout (InflightQueuePacked) is defined for sizing only: packed rings
// are not tracked.

#include <cstdint>
#include <vector>

namespace ferry::virtio {

// --- split ring layout (vhost-user specification, "Inflight I/O tracking") -------------
struct InflightDescSplit {
  uint8_t inflight;  // 1: popped, not yet used (head descriptors only)
  uint8_t padding[5];
  uint16_t next;     // list of the last used batch
  uint64_t counter;  // pop order
};
struct InflightQueueSplit {
  uint64_t features;  // 0
  uint16_t version;   // kInflightVersion; 0: not initialized yet
  uint16_t desc_num;  // ring size
  uint16_t last_batch_head;
  uint16_t used_idx;  // used->idx once the last batch's flags were cleared
  // followed by InflightDescSplit desc[desc_num]
  InflightDescSplit* desc() { return reinterpret_cast<InflightDescSplit*>(this + 1); }
};
static_assert(sizeof(InflightDescSplit) == 16 && sizeof(InflightQueueSplit) == 16);

// --- packed ring layout (sizing only) --------------------------------------------------
struct InflightDescPacked {
  uint8_t inflight;
  uint8_t padding;
  uint16_t next;
  uint16_t last;
  uint16_t num;
  uint64_t counter;
  uint16_t id;
  uint16_t flags;
  uint32_t len;
  uint64_t addr;
};
struct InflightQueuePacked {
  uint64_t features;
  uint16_t version;
  uint16_t desc_num;
  uint16_t free_head;
  uint16_t old_free_head;
  uint16_t used_idx;
  uint16_t old_used_idx;
  uint8_t used_wrap_counter;
  uint8_t old_used_wrap_counter;
  uint8_t padding[7];
  // followed by InflightDescPacked desc[desc_num] (8-byte aligned)
};
static_assert(sizeof(InflightDescPacked) == 32 && sizeof(InflightQueuePacked) == 32);

inline constexpr uint16_t kInflightVersion = 1;
inline constexpr uint64_t kInflightAlign = 64;

// Bytes one ring of queue_size entries takes in the inflight area (64-byte aligned).
inline constexpr uint64_t inflight_queue_bytes(uint32_t queue_size, bool packed) {
  uint64_t bytes = packed ? sizeof(InflightQueuePacked) + uint64_t{queue_size} * 32
                          : sizeof(InflightQueueSplit) + uint64_t{queue_size} * 16;
  return (bytes + kInflightAlign - 1) & ~(kInflightAlign - 1);
}

// Why an inflight area was not used for recovery (it is reinitialized instead).
enum class InflightError : uint8_t {
  kNone = 0,
  kBadVersion,        // version neither 0 (fresh) nor kInflightVersion
  kBadDescNum,        // desc_num differs from the ring size, or the area is too small
  kBadBatch,          // last batch longer than the ring, or its list leaves the ring / loops
  kBadEntry,          // an inflight flag other than 0 or 1
  kTooManyInflight,   // more chains flagged than the driver has outstanding
  kDuplicateCounter,  // two flagged chains with the same counter (order unknown)
  kCount
};
inline constexpr unsigned kInflightErrorCount = static_cast<unsigned>(InflightError::kCount);
const char* to_string(InflightError e);

struct InflightRecovery {
  InflightError error = InflightError::kNone;
  bool fresh = false;              // the area was not initialized (first start): set up
  uint16_t batch_cleared = 0;      // entries of an interrupted last batch cleared
  uint16_t last_avail_idx = 0;     // where the avail ring continues (unless fresh or error)
  uint64_t next_counter = 1;       // the counter for the next chain popped
  std::vector<uint16_t> resubmit;  // heads still inflight, in counter order
};

// Recovery on attach. `area` has room for `capacity` entries; the ring has `size` entries,
// the driver's used->idx is `used_idx` and avail->idx `avail_idx`. A fresh area (version 0)
// is initialized; a bad one is rejected (error) and reinitialized; otherwise the
// interrupted last batch is completed in the area and the chains to resubmit are listed.
InflightRecovery recover_split_inflight(InflightQueueSplit* area, uint32_t capacity, uint16_t size,
                                        uint16_t used_idx, uint16_t avail_idx);

// Sets up an empty area for a ring of `size` entries whose used->idx is `used_idx`.
void init_split_inflight(InflightQueueSplit* area, uint16_t size, uint16_t used_idx);

}  // namespace ferry::virtio
