// Dispatcher: runs callback work (consumer deliveries, confirms, returns) on
// the broker's thread pool, on a user Executor, or on the thread that calls
// ProcessEvents() (Dispatch::kManual).
//
// Owns the pool threads and, in manual mode, the queue of ready tasks. It
// knows nothing of channels or queues: ordering per consumer comes from
// SerialQueue, built on top of it.
//
// Waking a parked thread costs tens of microseconds on a VM, more than a
// whole delivery, so an idle pool thread first spins for a short while; one
// at a time, so that an idle pool never burns more than one core, and
// Schedule() wakes a parked thread only when no spinner will take the task.
//
// For the test kit (lib/testing/) it also offers a seeded order of manual
// tasks (BrokerOptions::dispatch_seed), the same seeded draws for other
// units that vary an order by the seed (Shuffle), and a wait for an idle
// thread pool.
#ifndef WARREN_LIB_DISPATCH_DISPATCHER_H_
#define WARREN_LIB_DISPATCH_DISPATCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "warren/broker.h"

namespace warren::dispatch {

using Task = absl::AnyInvocable<void() &&>;

class Dispatcher {
 public:
  // `options` must have been validated by Broker::Create.
  explicit Dispatcher(const BrokerOptions& options);
  ~Dispatcher();  // Shutdown()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Runs `task` later, never inline. After Shutdown() tasks are dropped.
  void Schedule(Task task);

  // Dispatch::kManual: runs tasks as Broker::ProcessEvents describes and
  // returns how many tasks ran. With a seed, each next task is drawn from
  // the ready ones by the PRNG.
  size_t ProcessEvents(absl::Duration timeout);

  // SerialQueue counts each callback it runs here: a task may run several,
  // or none (a closed channel's turn), and Broker::ProcessEvents reports
  // callbacks.
  static void NoteCallbackRan();
  static size_t CallbacksRunOnThisThread();

  // True when ProcessEvents draws tasks by a seed; SerialQueue then runs one
  // task per turn, so that channels can interleave at every callback.
  bool shuffled() const { return shuffle_.has_value(); }

  // With a seed: reorders `items` by draws from the PRNG that orders the
  // tasks, so that the units which decide an order RabbitMQ leaves open
  // (which queue takes a message first, which timer fires first) vary it by
  // the same seed, and replay it. Without a seed: leaves them as they are.
  template <typename T>
  void Shuffle(std::span<T> items) {
    if (!shuffled()) return;
    for (size_t i = items.size(); i > 1; --i) {
      using std::swap;
      swap(items[i - 1], items[DrawBelow(i)]);
    }
  }

  // True when tasks wait for a thread: a SerialQueue with work left yields
  // its thread then, and otherwise keeps it.
  bool others_waiting() const { return queued_.load(std::memory_order_relaxed) > 0; }

  // Dispatch::kThreadPool: waits until no task is queued or running, for at
  // most `timeout`, and returns whether that happened. It proves quiescence
  // only while no thread outside the pool schedules work. In the other modes
  // nothing runs by itself: it returns at once whether no task is queued.
  bool WaitUntilIdle(absl::Duration timeout);

  // Runs or drops nothing more: joins the pool threads after the tasks they
  // are running return; pending tasks are destroyed unrun.
  void Shutdown();

 private:
  void PoolThread();
  // Busy-waits (then yields) a short while for a task, unless another
  // thread is doing so already. Returns with nothing locked.
  void SpinForWork();
  Task PopLocked();
  // A draw from shuffle_ below `n`, under mu_.
  size_t DrawBelow(size_t n);

  const Dispatch mode_;
  Executor* const executor_;

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;                  // kThreadPool and kManual
  std::atomic<size_t> queued_{0};           // tasks_.size(), readable unlocked
  std::optional<std::mt19937_64> shuffle_;  // kManual with a dispatch_seed
  int sleepers_ = 0;                        // threads waiting on ready_
  std::atomic<bool> spinning_{false};       // an idle pool thread spins
  std::atomic<int> running_{0};             // kThreadPool tasks running now
  std::condition_variable idle_;
  std::atomic<bool> shut_down_{false};
  std::vector<std::thread> threads_;
};

}  // namespace warren::dispatch

#endif  // WARREN_LIB_DISPATCH_DISPATCHER_H_
