#include "runtime/snapshot.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace ferry::runtime {
namespace {

struct Cfg {
  int value;
  int check;  // always value * 2: a torn or half-built snapshot would break it
};

TEST(Snapshot, ReaderSeesPublishedSnapshotsOnlyAtRefresh) {
  SnapshotCell<Cfg> cell(std::make_shared<const Cfg>(Cfg{1, 2}));
  SnapshotReader<Cfg> r(cell);
  EXPECT_EQ(r->value, 1);
  EXPECT_FALSE(r.refresh());
  cell.publish(std::make_shared<const Cfg>(Cfg{2, 4}));
  EXPECT_EQ(r->value, 1);  // still the old one until the reader refreshes
  EXPECT_TRUE(r.refresh());
  EXPECT_EQ(r->value, 2);
  EXPECT_FALSE(r.refresh());
}

TEST(Snapshot, OldSnapshotLivesWhileAReaderHoldsIt) {
  auto first = std::make_shared<const Cfg>(Cfg{1, 2});
  std::weak_ptr<const Cfg> weak = first;
  SnapshotCell<Cfg> cell(std::move(first));
  SnapshotReader<Cfg> r(cell);
  cell.publish(std::make_shared<const Cfg>(Cfg{2, 4}));
  EXPECT_FALSE(weak.expired());  // the reader still uses it
  r.refresh();
  EXPECT_TRUE(weak.expired());  // freed once the last reader moved on
}

TEST(Snapshot, ConcurrentPublishAndRead) {
  SnapshotCell<Cfg> cell(std::make_shared<const Cfg>(Cfg{0, 0}));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> last{0};
  std::thread reader([&] {
    SnapshotReader<Cfg> r(cell);
    int prev = 0;
    while (!stop.load()) {
      r.refresh();
      if (r->check != r->value * 2 || r->value < prev) bad++;
      prev = r->value;
    }
    last = prev;
  });
  for (int i = 1; i <= 20000; i++)
    cell.publish(std::make_shared<const Cfg>(Cfg{i, 2 * i}));
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(cell.epoch(), 20001u);
}

}  // namespace
}  // namespace ferry::runtime
