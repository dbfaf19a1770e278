// SerialQueue: a channel's mailbox. Tasks posted to it run on the dispatcher
// one at a time, in the order posted, which gives every consumer of the
// channel ordered, non-overlapping callbacks (as AMQP clients dispatch per
// channel).
//
// Under a seeded dispatcher it runs one task per turn instead of a batch,
// so the seed decides how channels interleave.
//
// Owns only its pending tasks; it must not call into queues or channels
// itself: the tasks do that, with no lock of this class held.
#ifndef WARREN_LIB_DISPATCH_SERIAL_QUEUE_H_
#define WARREN_LIB_DISPATCH_SERIAL_QUEUE_H_

#include <deque>
#include <memory>
#include <mutex>

#include "dispatch/dispatcher.h"

namespace warren::dispatch {

class SerialQueue : public std::enable_shared_from_this<SerialQueue> {
 public:
  // `dispatcher` must outlive every task this queue schedules; the broker
  // guarantees it by shutting the dispatcher down last.
  explicit SerialQueue(Dispatcher* dispatcher);

  // Appends `task`; ignored once closed.
  void Post(Task task);

  // Drops the pending tasks and ignores later posts. A task running now
  // finishes.
  void Close();

 private:
  void RunBatch();

  Dispatcher* const dispatcher_;
  // Read from the dispatcher once: a RunBatch left on the application's
  // executor may run after the broker and its dispatcher are gone, and a
  // closed queue must then touch nothing but itself.
  const int batch_limit_;
  std::mutex mu_;
  std::deque<Task> pending_;
  bool scheduled_ = false;  // a RunBatch is scheduled or running
  bool closed_ = false;
};

}  // namespace warren::dispatch

#endif  // WARREN_LIB_DISPATCH_SERIAL_QUEUE_H_
