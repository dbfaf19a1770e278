// lib/broker/snapshot_cell.h: where the virtual host puts the current
// routing snapshot for publishers to take, without a lock.
//
// Owns only the hand-over of a shared_ptr between one writer at a time and
// any number of readers. Must not know what the snapshot holds.
//
// Why not a mutex or std::atomic<std::shared_ptr>: the first is a lock that
// topology changes hold; the second is, in libstdc++ 12, a spin lock in the
// pointer that every reader takes. Here a reader never waits: it announces
// itself, reads the pointer and takes its own reference. The writer swaps the
// pointer and, before it drops its reference to the old value, waits for the
// readers that may still be taking one; topology changes are the slow path,
// publishing is not.
//
// Example:
//
//   SnapshotCell<RoutingSnapshot> cell(std::make_shared<RoutingSnapshot>());
//   cell.Store(std::move(next));                              // the host, locked
//   std::shared_ptr<const RoutingSnapshot> now = cell.Load();  // any publisher
//
// Thread-safety: Load() from any thread at any time; Store() from one thread
// at a time (the virtual host calls it under its lock).
#ifndef WARREN_LIB_BROKER_SNAPSHOT_CELL_H_
#define WARREN_LIB_BROKER_SNAPSHOT_CELL_H_

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

namespace warren::broker {

template <typename T>
class SnapshotCell {
 public:
  explicit SnapshotCell(std::shared_ptr<const T> value)
      : current_(new std::shared_ptr<const T>(std::move(value))) {}
  ~SnapshotCell() { delete current_.load(); }
  SnapshotCell(const SnapshotCell&) = delete;
  SnapshotCell& operator=(const SnapshotCell&) = delete;

  // The value of the latest Store(). Never waits.
  std::shared_ptr<const T> Load() const {
    // Sequentially consistent with Store(): a reader that read the old
    // pointer had already announced itself when the writer looked.
    readers_.fetch_add(1, std::memory_order_seq_cst);
    std::shared_ptr<const T> value = *current_.load(std::memory_order_seq_cst);
    readers_.fetch_sub(1, std::memory_order_release);
    return value;
  }

  // Makes `value` what Load() returns. Waits only for Load()s under way.
  void Store(std::shared_ptr<const T> value) {
    std::shared_ptr<const T>* old = current_.exchange(
        new std::shared_ptr<const T>(std::move(value)), std::memory_order_seq_cst);
    while (readers_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    delete old;
  }

 private:
  std::atomic<std::shared_ptr<const T>*> current_;
  mutable std::atomic<int> readers_{0};
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_SNAPSHOT_CELL_H_
