// SerialQueue: a channel's mailbox. Items posted to it are run on the
// dispatcher one at a time, in the order posted, which gives every consumer
// of the channel ordered, non-overlapping callbacks (as AMQP clients
// dispatch per channel).
//
// Posting is one short critical section and no allocation: items go into a
// vector whose storage is reused, and the runner takes them all at once, so
// producer and runner meet on the lock once per batch rather than once per
// item. The order is the order of the lock, so items posted by different
// threads keep the order in which the posts happened (a lock-free
// multi-producer queue would not keep it). A batch holds the thread for at
// most kMaxItemsPerTurn items while other tasks wait.
//
// Under a seeded dispatcher it runs one item per turn instead of a batch,
// so the seed decides how channels interleave.
//
// Owns only its pending items; it must not call into queues or channels
// itself: the run function does that, with no lock of this class held.
#ifndef WARREN_LIB_DISPATCH_SERIAL_QUEUE_H_
#define WARREN_LIB_DISPATCH_SERIAL_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "dispatch/dispatcher.h"

namespace warren::dispatch {

template <typename Item>
class SerialQueue : public std::enable_shared_from_this<SerialQueue<Item>> {
 public:
  using RunFunction = absl::AnyInvocable<void(Item&)>;

  // `dispatcher` must outlive every turn this queue schedules; the broker
  // guarantees it by shutting the dispatcher down last. `run` is called for
  // each item, one at a time.
  SerialQueue(Dispatcher* dispatcher, RunFunction run)
      : dispatcher_(dispatcher), run_(std::move(run)), one_per_turn_(dispatcher->shuffled()) {}

  // Appends `item`; dropped once closed.
  void Post(Item item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_.load(std::memory_order_relaxed)) return;
      incoming_.push_back(std::move(item));
      if (scheduled_) return;
      scheduled_ = true;
    }
    ScheduleTurn();
  }

  // Ignores later posts and drops the pending items, but for those `keep`
  // (if given) holds on to: they still run, in order. An item running now
  // finishes.
  void Close(bool (*keep)(const Item&) = nullptr) {
    std::vector<Item> dropped;
    std::lock_guard<std::mutex> lock(mu_);
    keep_ = keep;
    closed_.store(true, std::memory_order_release);
    dropped.swap(incoming_);
    if (keep == nullptr) return;
    for (Item& item : dropped) {
      if (keep(item)) incoming_.push_back(std::move(item));
    }
  }

 private:
  static constexpr size_t kMaxItemsPerTurn = 256;

  void ScheduleTurn() {
    dispatcher_->Schedule([self = this->shared_from_this()] { self->RunTurn(); });
  }

  // Only one turn runs at a time (scheduled_), so batch_ and next_ need no
  // lock. A closed queue runs what it kept in one turn and schedules no
  // other, so that it never reaches a dispatcher that may be gone.
  void RunTurn() {
    const size_t limit = one_per_turn_ ? 1 : kMaxItemsPerTurn;
    for (size_t ran = 0; ran < limit;) {
      if (next_ == batch_.size()) {
        batch_.clear();
        next_ = 0;
        std::lock_guard<std::mutex> lock(mu_);
        if (incoming_.empty()) {
          scheduled_ = false;
          return;
        }
        batch_.swap(incoming_);
      }
      Item item = std::move(batch_[next_++]);
      if (closed_.load(std::memory_order_acquire)) {
        if (keep_ != nullptr && keep_(item)) {
          run_(item);
          Dispatcher::NoteCallbackRan();
        }
        continue;
      }
      run_(item);
      Dispatcher::NoteCallbackRan();
      ++ran;
      // Keep the thread while nothing else waits for it: a new turn costs
      // a trip through the dispatcher.
      if (ran == limit && !one_per_turn_ && !dispatcher_->others_waiting()) ran = 0;
    }
    ScheduleTurn();
  }

  Dispatcher* const dispatcher_;
  RunFunction run_;
  // Read from the dispatcher once: a turn left on the application's
  // executor may run after the broker and its dispatcher are gone, and a
  // closed queue must then touch nothing but itself.
  const bool one_per_turn_;
  std::mutex mu_;
  std::vector<Item> incoming_;  // guarded by mu_
  bool scheduled_ = false;      // guarded by mu_: a turn is scheduled or running
  std::atomic<bool> closed_{false};
  bool (*keep_)(const Item&) = nullptr;  // set before closed_
  std::vector<Item> batch_;  // taken from incoming_ by the running turn
  size_t next_ = 0;
};

// The mailbox of plain tasks (confirms, returns, the amqp backend's
// callbacks).
using TaskQueue = SerialQueue<Task>;

inline std::shared_ptr<TaskQueue> MakeTaskQueue(Dispatcher* dispatcher) {
  return std::make_shared<TaskQueue>(dispatcher, [](Task& task) { std::move(task)(); });
}

}  // namespace warren::dispatch

#endif  // WARREN_LIB_DISPATCH_SERIAL_QUEUE_H_
