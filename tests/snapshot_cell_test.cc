// tests/snapshot_cell_test.cc: the lock-free hand-over of routing snapshots
// (lib/broker/snapshot_cell.h). Under the sanitizer presets, a reader that
// took a value the writer had already freed is a reported failure.
#include "broker/snapshot_cell.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace warren::broker {
namespace {

TEST(SnapshotCell, LoadReturnsTheLatestStore) {
  SnapshotCell<int> cell(std::make_shared<int>(1));
  EXPECT_EQ(*cell.Load(), 1);
  cell.Store(std::make_shared<int>(2));
  EXPECT_EQ(*cell.Load(), 2);
}

TEST(SnapshotCell, AValueLoadedOutlivesTheStoresAfterIt) {
  SnapshotCell<int> cell(std::make_shared<int>(1));
  std::shared_ptr<const int> held = cell.Load();
  cell.Store(std::make_shared<int>(2));
  cell.Store(std::make_shared<int>(3));
  EXPECT_EQ(*held, 1);
}

TEST(SnapshotCell, ReadersRacingAWriterSeeEveryValueInOrderAndNoneFreed) {
  constexpr int kStores = 20000;
  SnapshotCell<int> cell(std::make_shared<int>(0));
  std::atomic<bool> done{false};
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int last = 0;
      while (!done.load()) {
        std::shared_ptr<const int> value = cell.Load();
        if (*value < last) out_of_order.fetch_add(1);
        last = *value;
      }
    });
  }
  for (int i = 1; i <= kStores; ++i) cell.Store(std::make_shared<int>(i));
  done.store(true);
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_EQ(*cell.Load(), kStores);
}

}  // namespace
}  // namespace warren::broker
