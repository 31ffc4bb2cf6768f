#pragma once

// Quiescent-state-based reclamation (QSBR, the flavour of RCU that suits poll-mode workers).
//
// Readers (workers) never lock or block: between bursts, when they hold no pointer into a
// shared structure, they announce a quiescent state (one store). A writer that unpublished
// some memory takes a grace period token; once every online reader has announced a
// quiescent state after the token was taken, no reader can still hold the old memory and
// it may be freed or reused. A reader that goes idle (sleeps on its kick fd) goes offline
// so that it does not hold writers up, and online again before touching shared data.
//
//   reader:  id = qsbr.register_reader();
//            loop { burst: lookups ...; qsbr.quiescent(id); }
//   writer:  unpublish x; t = qsbr.start_grace_period(); ... later:
//            if (qsbr.grace_period_done(t)) free(x);
//
// A thread must not call synchronize() while it is itself an online reader.

#include <atomic>
#include <cstdint>

namespace ferry::steer {

class Qsbr {
 public:
  static constexpr int kMaxReaders = 64;

  Qsbr();

  // Registers the calling reader (online). -1 when kMaxReaders are registered.
  int register_reader();
  void unregister_reader(int id);

  // Reader: holds no pointer into shared data any more (call between bursts).
  void quiescent(int id) {
    readers_[id].seen.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }
  // Reader: stops / resumes taking part (idle sleep). Offline readers hold no pointers.
  void offline(int id) { readers_[id].seen.store(0, std::memory_order_seq_cst); }
  void online(int id) { quiescent(id); }

  // Writer: after unpublishing, returns the token of a grace period.
  uint64_t start_grace_period() { return epoch_.fetch_add(1, std::memory_order_seq_cst) + 1; }
  // Writer: every reader online at the time has been quiescent since the token was taken.
  bool grace_period_done(uint64_t token) const;
  // Writer: waits for a full grace period (yields while waiting).
  void synchronize();

 private:
  struct alignas(64) Reader {
    std::atomic<uint64_t> seen{0};  // epoch at the last quiescent state; 0: offline
    std::atomic<bool> in_use{false};
  };
  alignas(64) std::atomic<uint64_t> epoch_{1};
  Reader readers_[kMaxReaders];
};

}  // namespace ferry::steer
