// SerialQueue: one RunBatch scheduled at a time keeps tasks serial.
#include "dispatch/serial_queue.h"

#include <utility>

namespace warren::dispatch {

namespace {
// Bounds how long one mailbox holds a pool thread before yielding it.
constexpr int kMaxTasksPerBatch = 64;
}  // namespace

SerialQueue::SerialQueue(Dispatcher* dispatcher)
    : dispatcher_(dispatcher), batch_limit_(dispatcher->shuffled() ? 1 : kMaxTasksPerBatch) {}

void SerialQueue::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    pending_.push_back(std::move(task));
    if (scheduled_) return;
    scheduled_ = true;
  }
  dispatcher_->Schedule([self = shared_from_this()]() mutable { self->RunBatch(); });
}

void SerialQueue::Close() {
  std::deque<Task> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  dropped.swap(pending_);
}

void SerialQueue::RunBatch() {
  for (int i = 0; i < batch_limit_; ++i) {
    Task task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty()) {
        scheduled_ = false;
        return;
      }
      task = std::move(pending_.front());
      pending_.pop_front();
    }
    std::move(task)();
    Dispatcher::NoteCallbackRan();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.empty()) {
      scheduled_ = false;
      return;
    }
  }
  dispatcher_->Schedule([self = shared_from_this()]() mutable { self->RunBatch(); });
}

}  // namespace warren::dispatch
