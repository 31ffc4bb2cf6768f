#include "virtio/inflight.h"

#include <algorithm>

namespace ferry::virtio {

namespace {
// The area is shared with another process: every field is read once, atomically.
template <typename T>
T load(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}
template <typename T>
void store(T& field, T v) {
  __atomic_store_n(&field, v, __ATOMIC_RELAXED);
}
}  // namespace

const char* to_string(InflightError e) {
  switch (e) {
    case InflightError::kNone:
      return "none";
    case InflightError::kBadVersion:
      return "bad version";
    case InflightError::kBadDescNum:
      return "desc_num differs from the ring size";
    case InflightError::kBadBatch:
      return "bad last batch";
    case InflightError::kBadEntry:
      return "bad inflight flag";
    case InflightError::kTooManyInflight:
      return "more inflight chains than outstanding";
    case InflightError::kDuplicateCounter:
      return "duplicate counter";
    case InflightError::kCount:
      break;
  }
  return "?";
}

void init_split_inflight(InflightQueueSplit* area, uint16_t size, uint16_t used_idx) {
  // Version last: an area with version 0 is set up again after a crash in here.
  store(area->version, uint16_t{0});
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  InflightDescSplit* d = area->desc();
  for (uint32_t i = 0; i < size; i++) {
    store(d[i].inflight, uint8_t{0});
    store(d[i].next, uint16_t{0});
    store(d[i].counter, uint64_t{0});
  }
  store(area->features, uint64_t{0});
  store(area->desc_num, size);
  store(area->last_batch_head, uint16_t{0});
  store(area->used_idx, used_idx);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  store(area->version, kInflightVersion);
}

InflightRecovery recover_split_inflight(InflightQueueSplit* area, uint32_t capacity, uint16_t size,
                                        uint16_t used_idx, uint16_t avail_idx) {
  InflightRecovery r;
  auto reject = [&](InflightError e) {
    r.error = e;
    r.resubmit.clear();
    r.batch_cleared = 0;
    if (size <= capacity) init_split_inflight(area, size, used_idx);
    return r;
  };
  if (size == 0 || size > capacity) return reject(InflightError::kBadDescNum);
  uint16_t version = load(area->version);
  if (version == 0) {
    init_split_inflight(area, size, used_idx);
    r.fresh = true;
    return r;
  }
  if (version != kInflightVersion) return reject(InflightError::kBadVersion);
  if (load(area->desc_num) != size) return reject(InflightError::kBadDescNum);
  InflightDescSplit* d = area->desc();

  // 1. The last batch: published (used->idx moved) but perhaps not retired in the area.
  std::vector<uint8_t> in_batch(size, 0);
  uint16_t batch = static_cast<uint16_t>(used_idx - load(area->used_idx));
  if (batch > size) return reject(InflightError::kBadBatch);
  uint16_t id = load(area->last_batch_head);
  for (uint16_t i = 0; i < batch; i++) {
    if (id >= size || in_batch[id]) return reject(InflightError::kBadBatch);
    in_batch[id] = 1;
    id = load(d[id].next);
  }

  // 2. The chains still inflight, each flag and counter read once.
  struct Entry {
    uint64_t counter;
    uint16_t head;
  };
  std::vector<Entry> live;
  for (uint16_t i = 0; i < size; i++) {
    uint8_t flag = load(d[i].inflight);
    if (flag > 1) return reject(InflightError::kBadEntry);
    if (flag == 1 && !in_batch[i]) live.push_back({load(d[i].counter), i});
  }
  // Every chain popped was used or is inflight, and the driver cannot have more chains
  // outstanding than it made available.
  uint16_t outstanding = static_cast<uint16_t>(avail_idx - used_idx);
  if (outstanding > size || live.size() > outstanding) {
    return reject(InflightError::kTooManyInflight);
  }
  std::sort(live.begin(), live.end(),
            [](const Entry& a, const Entry& b) { return a.counter < b.counter; });
  for (size_t i = 1; i < live.size(); i++) {
    if (live[i].counter == live[i - 1].counter) return reject(InflightError::kDuplicateCounter);
  }

  // 3. Apply: retire the last batch, as the crashed device would have.
  for (uint16_t i = 0; i < size; i++) {
    if (in_batch[i]) {
      store(d[i].inflight, uint8_t{0});
      r.batch_cleared++;
    }
  }
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  store(area->used_idx, used_idx);

  r.resubmit.reserve(live.size());
  for (const Entry& e : live)
    r.resubmit.push_back(e.head);
  r.next_counter = live.empty() ? 1 : live.back().counter + 1;
  r.last_avail_idx = static_cast<uint16_t>(used_idx + live.size());
  return r;
}

}  // namespace ferry::virtio
