#pragma once

// SnapshotCell<T>: configuration published as immutable snapshots.
//
// The control thread builds a new T and publish()es it; the cell's epoch goes up by one.
// A worker keeps a SnapshotReader: between bursts it calls refresh(), which costs one
// relaxed atomic load when nothing changed; only after a publish does it take the cell's
// mutex for the pointer copy (off the fast path, once per change). The reader then holds
// a shared_ptr to the snapshot for as long as it uses it, so a snapshot is freed only
// after the last worker moved on (the old one dies with the last reference). Snapshots
// are never modified after publication, so readers need no lock while they use them.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ferry::runtime {

template <typename T>
class SnapshotCell {
 public:
  explicit SnapshotCell(std::shared_ptr<const T> initial) : current_(std::move(initial)) {}

  void publish(std::shared_ptr<const T> next) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = std::move(next);
    }
    epoch_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const T> load() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;
  std::atomic<uint64_t> epoch_{1};
};

template <typename T>
class SnapshotReader {
 public:
  explicit SnapshotReader(const SnapshotCell<T>& cell) : cell_(&cell) { force_refresh(); }

  // Picks up a newer snapshot if one was published; true if it changed.
  bool refresh() {
    if (cell_->epoch() == seen_) return false;
    force_refresh();
    return true;
  }
  const T& get() const { return *snapshot_; }
  const T* operator->() const { return snapshot_.get(); }
  uint64_t epoch() const { return seen_; }

 private:
  void force_refresh() {
    // Epoch first: a publish racing with this load is seen again at the next refresh.
    seen_ = cell_->epoch();
    snapshot_ = cell_->load();
  }
  const SnapshotCell<T>* cell_;
  std::shared_ptr<const T> snapshot_;
  uint64_t seen_ = 0;
};

}  // namespace ferry::runtime
