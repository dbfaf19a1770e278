// Dispatcher: the three dispatch modes behind one Schedule().
#include "dispatch/dispatcher.h"

#include <utility>

namespace warren::dispatch {

Dispatcher::Dispatcher(const BrokerOptions& options)
    : mode_(options.dispatch), executor_(options.executor) {
  // mt19937_64 and a plain modulo, not a distribution: the standard fixes
  // both, so a seed replays the same order with any standard library.
  if (mode_ == Dispatch::kManual && options.dispatch_seed) {
    shuffle_.emplace(*options.dispatch_seed);
  }
  if (mode_ == Dispatch::kThreadPool) {
    for (int i = 0; i < options.dispatch_threads; ++i) {
      threads_.emplace_back([this] { PoolThread(); });
    }
  }
}

Dispatcher::~Dispatcher() { Shutdown(); }

void Dispatcher::Schedule(Task task) {
  if (mode_ == Dispatch::kExecutor) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) return;
    }
    executor_->Schedule(std::move(task));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
}

namespace {
thread_local size_t callbacks_run_here = 0;
}  // namespace

void Dispatcher::NoteCallbackRan() { ++callbacks_run_here; }

size_t Dispatcher::CallbacksRunOnThisThread() { return callbacks_run_here; }

size_t Dispatcher::ProcessEvents(absl::Duration timeout) {
  if (mode_ != Dispatch::kManual) return 0;
  const absl::Time deadline = absl::Now() + timeout;
  size_t ran = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (tasks_.empty()) {
      if (ran > 0 || shut_down_) break;
      const absl::Time now = absl::Now();
      if (now >= deadline) break;
      ready_.wait_for(lock, absl::ToChronoNanoseconds(deadline - now));
      continue;
    }
    const size_t next = shuffle_ ? (*shuffle_)() % tasks_.size() : 0;
    Task task = std::move(tasks_[next]);
    tasks_.erase(tasks_.begin() + next);
    lock.unlock();
    std::move(task)();
    ++ran;
    lock.lock();
  }
  return ran;
}

void Dispatcher::Shutdown() {
  std::deque<Task> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    dropped.swap(tasks_);
  }
  ready_.notify_all();
  idle_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Dispatcher::PoolThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ready_.wait(lock, [this] { return shut_down_ || !tasks_.empty(); });
    if (shut_down_) return;
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    ++running_;
    lock.unlock();
    std::move(task)();
    lock.lock();
    // A task's follow-up work is queued before it returns, so this moment
    // is idle only if nothing was queued meanwhile.
    if (--running_ == 0 && tasks_.empty()) idle_.notify_all();
  }
}

bool Dispatcher::WaitUntilIdle(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (mode_ != Dispatch::kThreadPool) return tasks_.empty();
  return idle_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                        [this] { return shut_down_ || (tasks_.empty() && running_ == 0); });
}

}  // namespace warren::dispatch
