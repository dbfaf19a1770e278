// Dispatcher: the three dispatch modes behind one Schedule().
#include "dispatch/dispatcher.h"

#include <chrono>
#include <utility>

namespace warren::dispatch {
namespace {

// How long an idle pool thread looks for work before it parks: longer than
// the gap between two messages of a busy publisher, much shorter than a
// scheduler tick.
constexpr std::chrono::microseconds kSpinFor(50);
// Busy-wait rounds before the spinner starts yielding its core, which on a
// machine with fewer cores than threads the publisher may need.
constexpr int kPauseRounds = 256;

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

thread_local size_t callbacks_run_here = 0;

}  // namespace

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
    if (shut_down_.load(std::memory_order_acquire)) return;
    executor_->Schedule(std::move(task));
    return;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_.load(std::memory_order_relaxed)) return;
    tasks_.push_back(std::move(task));
    queued_.store(tasks_.size(), std::memory_order_relaxed);
    // A spinner takes one task; a parked thread is needed for any more.
    wake = sleepers_ > 0 &&
           (!spinning_.load(std::memory_order_relaxed) || tasks_.size() > 1);
  }
  if (wake) ready_.notify_one();
}

void Dispatcher::NoteCallbackRan() { ++callbacks_run_here; }

size_t Dispatcher::CallbacksRunOnThisThread() { return callbacks_run_here; }

Task Dispatcher::PopLocked() {
  const size_t next = shuffle_ ? (*shuffle_)() % tasks_.size() : 0;
  Task task = std::move(tasks_[next]);
  tasks_.erase(tasks_.begin() + next);
  queued_.store(tasks_.size(), std::memory_order_relaxed);
  return task;
}

size_t Dispatcher::DrawBelow(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  return (*shuffle_)() % n;
}

size_t Dispatcher::ProcessEvents(absl::Duration timeout) {
  if (mode_ != Dispatch::kManual) return 0;
  // A caller polling in a loop must not contend with publishers for mu_.
  if (timeout == absl::ZeroDuration() && queued_.load(std::memory_order_relaxed) == 0) return 0;
  const absl::Time deadline = absl::Now() + timeout;
  size_t ran = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (tasks_.empty()) {
      if (ran > 0 || shut_down_.load(std::memory_order_relaxed)) break;
      const absl::Time now = absl::Now();
      if (now >= deadline) break;
      ++sleepers_;
      ready_.wait_for(lock, absl::ToChronoNanoseconds(deadline - now));
      --sleepers_;
      continue;
    }
    Task task = PopLocked();
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
    if (shut_down_.load(std::memory_order_relaxed)) return;
    shut_down_.store(true, std::memory_order_release);
    dropped.swap(tasks_);
    queued_.store(0, std::memory_order_relaxed);
  }
  ready_.notify_all();
  idle_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Dispatcher::SpinForWork() {
  if (spinning_.exchange(true, std::memory_order_acq_rel)) return;
  const auto give_up = std::chrono::steady_clock::now() + kSpinFor;
  for (int round = 0; queued_.load(std::memory_order_relaxed) == 0 &&
                      !shut_down_.load(std::memory_order_relaxed);
       ++round) {
    if (round < kPauseRounds) {
      CpuRelax();
    } else if (std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    } else {
      break;
    }
  }
  spinning_.store(false, std::memory_order_release);
}

void Dispatcher::PoolThread() {
  while (true) {
    if (queued_.load(std::memory_order_relaxed) == 0) SpinForWork();
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++sleepers_;
      ready_.wait(lock, [this] {
        return shut_down_.load(std::memory_order_relaxed) || !tasks_.empty();
      });
      --sleepers_;
      if (shut_down_.load(std::memory_order_relaxed)) return;
      task = PopLocked();
      running_.fetch_add(1, std::memory_order_relaxed);
    }
    std::move(task)();
    // A task's follow-up work is queued before it returns, so this moment
    // is idle only if nothing was queued meanwhile.
    if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
        queued_.load(std::memory_order_relaxed) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.notify_all();
    }
  }
}

bool Dispatcher::WaitUntilIdle(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (mode_ != Dispatch::kThreadPool) return tasks_.empty();
  return idle_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
    return shut_down_.load(std::memory_order_relaxed) ||
           (tasks_.empty() && running_.load(std::memory_order_acquire) == 0);
  });
}

}  // namespace warren::dispatch
