#include "steer/qsbr.h"

#include <thread>

namespace ferry::steer {

Qsbr::Qsbr() = default;

int Qsbr::register_reader() {
  for (int i = 0; i < kMaxReaders; i++) {
    bool expected = false;
    if (readers_[i].in_use.compare_exchange_strong(expected, true)) {
      online(i);
      return i;
    }
  }
  return -1;
}

void Qsbr::unregister_reader(int id) {
  offline(id);
  readers_[id].in_use.store(false);
}

bool Qsbr::grace_period_done(uint64_t token) const {
  for (const Reader& r : readers_) {
    uint64_t seen = r.seen.load(std::memory_order_seq_cst);
    if (seen != 0 && seen < token) return false;
  }
  return true;
}

void Qsbr::synchronize() {
  const uint64_t token = start_grace_period();
  while (!grace_period_done(token))
    std::this_thread::yield();
}

}  // namespace ferry::steer
