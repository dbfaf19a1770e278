// tests/dispatch_test.cc: where callback work runs (lib/dispatch/*): the
// Dispatcher's three modes, its shutdown and its seeded order, SerialQueue's
// one-at-a-time order on a thread pool, and TimerService firing on
// ManualClock advances.
// Threads are waited for with latches and futures, never with sleeps.
#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "dispatch/dispatcher.h"
#include "dispatch/serial_queue.h"
#include "dispatch/timer_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/clock.h"
#include "warren/executor.h"

namespace warren::dispatch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

BrokerOptions Manual() { return BrokerOptions{.dispatch = Dispatch::kManual}; }

BrokerOptions Pool(int threads) {
  return BrokerOptions{.dispatch = Dispatch::kThreadPool, .dispatch_threads = threads};
}

class FakeExecutor : public Executor {
 public:
  void Schedule(absl::AnyInvocable<void() &&> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return tasks_.size();
  }
  void RunAll() {
    std::vector<absl::AnyInvocable<void() &&>> tasks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) std::move(task)();
  }

 private:
  std::mutex mu_;
  std::vector<absl::AnyInvocable<void() &&>> tasks_;
};

// Whether a task was destroyed (run or not): the task owns `guard`.
struct DestructionProbe {
  std::shared_ptr<int> guard = std::make_shared<int>(0);
  std::weak_ptr<int> watch = guard;
  bool destroyed() const { return watch.expired(); }
};

TEST(Dispatcher, ManualModeRunsNothingUntilProcessEvents) {
  Dispatcher d(Manual());
  std::vector<int> ran;
  d.Schedule([&] { ran.push_back(1); });
  d.Schedule([&] { ran.push_back(2); });
  d.Schedule([&] { ran.push_back(3); });
  EXPECT_THAT(ran, IsEmpty());
  EXPECT_EQ(d.ProcessEvents(absl::ZeroDuration()), 3u);
  EXPECT_THAT(ran, ElementsAre(1, 2, 3));
  EXPECT_EQ(d.ProcessEvents(absl::ZeroDuration()), 0u);
}

TEST(Dispatcher, ProcessEventsAlsoRunsTasksScheduledWhileItRuns) {
  Dispatcher d(Manual());
  std::vector<std::string> ran;
  d.Schedule([&] {
    ran.push_back("outer");
    d.Schedule([&] { ran.push_back("inner"); });
  });
  EXPECT_EQ(d.ProcessEvents(absl::ZeroDuration()), 2u);
  EXPECT_THAT(ran, ElementsAre("outer", "inner"));
}

TEST(Dispatcher, ProcessEventsWaitsForATaskFromAnotherThread) {
  Dispatcher d(Manual());
  std::atomic<bool> ran{false};
  std::thread scheduler([&] { d.Schedule([&] { ran = true; }); });
  // Returns as soon as the task has run; the long timeout only bounds a failure.
  size_t count = 0;
  while (count == 0) count = d.ProcessEvents(absl::Seconds(30));
  scheduler.join();
  EXPECT_EQ(count, 1u);
  EXPECT_TRUE(ran);
}

TEST(Dispatcher, ProcessEventsDoesNothingOutsideManualMode) {
  FakeExecutor executor;
  Dispatcher d({.dispatch = Dispatch::kExecutor, .executor = &executor});
  d.Schedule([] {});
  EXPECT_EQ(d.ProcessEvents(absl::ZeroDuration()), 0u);
  EXPECT_EQ(executor.pending(), 1u);
}

TEST(Dispatcher, ThreadPoolRunsEveryTask) {
  constexpr int kTasks = 200;
  std::atomic<int> ran{0};
  std::latch done(kTasks);
  Dispatcher d(Pool(2));
  for (int i = 0; i < kTasks; ++i) {
    d.Schedule([&] {
      ran.fetch_add(1);
      done.count_down();
    });
  }
  done.wait();
  EXPECT_EQ(ran.load(), kTasks);
}

TEST(Dispatcher, ThreadPoolRunsTasksOffTheSchedulingThread) {
  std::promise<std::thread::id> ran_on;
  std::future<std::thread::id> id = ran_on.get_future();
  Dispatcher d(Pool(1));
  d.Schedule([&] { ran_on.set_value(std::this_thread::get_id()); });
  EXPECT_NE(id.get(), std::this_thread::get_id());
}

TEST(Dispatcher, ExecutorModeForwardsTasksToTheExecutor) {
  FakeExecutor executor;
  Dispatcher d({.dispatch = Dispatch::kExecutor, .executor = &executor});
  int ran = 0;
  d.Schedule([&] { ++ran; });
  d.Schedule([&] { ++ran; });
  EXPECT_EQ(ran, 0);  // never inline
  EXPECT_EQ(executor.pending(), 2u);
  executor.RunAll();
  EXPECT_EQ(ran, 2);
}

TEST(Dispatcher, ExecutorModeForwardsNothingAfterShutdown) {
  FakeExecutor executor;
  Dispatcher d({.dispatch = Dispatch::kExecutor, .executor = &executor});
  d.Shutdown();
  DestructionProbe probe;
  d.Schedule([guard = std::move(probe.guard)] {});
  EXPECT_EQ(executor.pending(), 0u);
  EXPECT_TRUE(probe.destroyed());
}

TEST(Dispatcher, ShutdownDropsPendingTasksUnrun) {
  Dispatcher d(Manual());
  bool ran = false;
  DestructionProbe probe;
  d.Schedule([&ran, guard = std::move(probe.guard)] { ran = true; });
  d.Shutdown();
  EXPECT_TRUE(probe.destroyed());
  EXPECT_EQ(d.ProcessEvents(absl::ZeroDuration()), 0u);
  EXPECT_FALSE(ran);
}

TEST(Dispatcher, ScheduleAfterShutdownIsDropped) {
  Dispatcher d(Manual());
  d.Shutdown();
  bool ran = false;
  d.Schedule([&] { ran = true; });
  EXPECT_EQ(d.ProcessEvents(absl::ZeroDuration()), 0u);
  EXPECT_FALSE(ran);
}

TEST(Dispatcher, ShutdownWaitsForTheRunningTaskAndDropsQueuedOnes) {
  Dispatcher d(Pool(1));
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> running_finished{false};
  std::atomic<bool> queued_ran{false};
  d.Schedule([&] {
    started.set_value();
    released.wait();
    running_finished = true;
  });
  started.get_future().wait();
  d.Schedule([&] { queued_ran = true; });

  std::atomic<bool> shutdown_returned{false};
  bool finished_before_shutdown_returned = false;
  std::thread stopper([&] {
    d.Shutdown();
    finished_before_shutdown_returned = running_finished.load();
    shutdown_returned = true;
  });
  // Shutdown has begun once a newly scheduled task is destroyed at once
  // instead of being queued.
  while (true) {
    DestructionProbe probe;
    d.Schedule([guard = std::move(probe.guard)] {});
    if (probe.destroyed()) break;
    std::this_thread::yield();
  }
  EXPECT_FALSE(shutdown_returned.load());  // still joining the busy thread
  release.set_value();
  stopper.join();
  EXPECT_TRUE(finished_before_shutdown_returned);
  EXPECT_FALSE(queued_ran.load());
}

// The order a seeded dispatcher gives 0..n-1 by Shuffle.
std::vector<int> ShuffledUnder(std::optional<uint64_t> seed, int n) {
  Dispatcher d({.dispatch = Dispatch::kManual, .dispatch_seed = seed});
  std::vector<int> items;
  for (int i = 0; i < n; ++i) items.push_back(i);
  d.Shuffle(std::span(items));
  return items;
}

TEST(Dispatcher, ShuffleWithoutASeedLeavesTheOrder) {
  EXPECT_THAT(ShuffledUnder(std::nullopt, 4), ElementsAre(0, 1, 2, 3));
}

TEST(Dispatcher, ShuffleDrawsAnOrderThatTheSeedReplays) {
  std::set<std::vector<int>> seen;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    std::vector<int> order = ShuffledUnder(seed, 4);
    EXPECT_EQ(order, ShuffledUnder(seed, 4)) << "seed " << seed;
    EXPECT_THAT(order, UnorderedElementsAre(0, 1, 2, 3)) << "seed " << seed;
    seen.insert(order);
  }
  // 24 orders are possible; 30 seeds find far more than a few.
  EXPECT_GE(seen.size(), 8u);
}

TEST(SerialQueue, RunsTasksOneAtATimeInOrderOnAThreadPool) {
  constexpr int kTasks = 1000;  // several batches of the queue
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  std::mutex mu;
  std::vector<int> order;
  std::latch done(kTasks);
  std::atomic<int> other_ran{0};
  Dispatcher d(Pool(2));
  auto serial = MakeTaskQueue(&d);
  // A second queue keeps the other pool thread busy at the same time.
  auto other = MakeTaskQueue(&d);
  for (int i = 0; i < kTasks; ++i) {
    serial->Post([&, i] {
      const int now = running.fetch_add(1) + 1;
      int seen = most_running.load();
      while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      running.fetch_sub(1);
      done.count_down();
    });
    other->Post([&] { other_ran.fetch_add(1); });
  }
  done.wait();
  EXPECT_EQ(most_running.load(), 1);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(order.size(), static_cast<size_t>(kTasks));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(SerialQueue, PostedTasksRunOnlyThroughTheDispatcher) {
  Dispatcher d(Manual());
  auto serial = MakeTaskQueue(&d);
  std::vector<int> ran;
  serial->Post([&] { ran.push_back(1); });
  serial->Post([&] { ran.push_back(2); });
  EXPECT_THAT(ran, IsEmpty());
  d.ProcessEvents(absl::ZeroDuration());
  EXPECT_THAT(ran, ElementsAre(1, 2));
}

TEST(SerialQueue, CloseDropsPendingTasksAndLaterPosts) {
  Dispatcher d(Manual());
  auto serial = MakeTaskQueue(&d);
  std::vector<int> ran;
  DestructionProbe pending;
  serial->Post([&ran, guard = std::move(pending.guard)] { ran.push_back(1); });
  serial->Close();
  EXPECT_TRUE(pending.destroyed());
  DestructionProbe late;
  serial->Post([&ran, guard = std::move(late.guard)] { ran.push_back(2); });
  EXPECT_TRUE(late.destroyed());
  d.ProcessEvents(absl::ZeroDuration());
  EXPECT_THAT(ran, IsEmpty());
}

TEST(SerialQueue, CloseFromARunningTaskLetsItFinishAndDropsTheRest) {
  Dispatcher d(Manual());
  auto serial = MakeTaskQueue(&d);
  std::vector<std::string> ran;
  serial->Post([&] {
    serial->Close();
    ran.push_back("closing");
  });
  serial->Post([&] { ran.push_back("after"); });
  d.ProcessEvents(absl::ZeroDuration());
  EXPECT_THAT(ran, ElementsAre("closing"));
}

TEST(TimerService, FiresOnAdvanceInDeadlineOrder) {
  ManualClock clock;
  Dispatcher unseeded(Manual());
  TimerService timers(&clock, &unseeded);
  const absl::Time start = clock.Now();
  std::vector<std::string> fired;
  timers.Schedule(start + absl::Seconds(3), [&] { fired.push_back("3s"); });
  timers.Schedule(start + absl::Seconds(1), [&] { fired.push_back("1s"); });
  timers.Schedule(start + absl::Seconds(2), [&] { fired.push_back("2s"); });
  timers.Schedule(start + absl::Seconds(1), [&] { fired.push_back("1s-second"); });
  clock.Advance(absl::Seconds(5));
  EXPECT_THAT(fired, ElementsAre("1s", "1s-second", "2s", "3s"));
}

// Fires two timers due at one instant and a later one, under `seed`.
std::vector<std::string> FiringOrderUnder(uint64_t seed) {
  ManualClock clock;
  Dispatcher seeded({.dispatch = Dispatch::kManual, .dispatch_seed = seed});
  TimerService timers(&clock, &seeded);
  const absl::Time start = clock.Now();
  std::vector<std::string> fired;
  timers.Schedule(start + absl::Seconds(2), [&] { fired.push_back("later"); });
  timers.Schedule(start + absl::Seconds(1), [&] { fired.push_back("a"); });
  timers.Schedule(start + absl::Seconds(1), [&] { fired.push_back("b"); });
  clock.Advance(absl::Seconds(5));
  return fired;
}

TEST(TimerService, UnderASeedTimersDueAtOneInstantFireInADrawnOrderBeforeLaterOnes) {
  std::set<std::vector<std::string>> seen;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<std::string> fired = FiringOrderUnder(seed);
    EXPECT_EQ(fired, FiringOrderUnder(seed)) << "seed " << seed;
    ASSERT_THAT(fired, SizeIs(3)) << "seed " << seed;
    EXPECT_EQ(fired.back(), "later") << "seed " << seed;
    seen.insert(fired);
  }
  EXPECT_THAT(seen, UnorderedElementsAre(ElementsAre("a", "b", "later"),
                                         ElementsAre("b", "a", "later")));
}

TEST(TimerService, DoesNotFireBeforeTheDeadline) {
  ManualClock clock;
  Dispatcher unseeded(Manual());
  TimerService timers(&clock, &unseeded);
  int fired = 0;
  timers.Schedule(clock.Now() + absl::Seconds(1), [&] { ++fired; });
  clock.Advance(absl::Milliseconds(999));
  EXPECT_EQ(fired, 0);
  timers.FireDue();
  EXPECT_EQ(fired, 0);
  clock.Advance(absl::Milliseconds(1));  // due exactly at the deadline
  EXPECT_EQ(fired, 1);
  clock.Advance(absl::Seconds(10));  // once only
  EXPECT_EQ(fired, 1);
}

TEST(TimerService, FiresOnlyWhatBecameDue) {
  ManualClock clock;
  Dispatcher unseeded(Manual());
  TimerService timers(&clock, &unseeded);
  const absl::Time start = clock.Now();
  std::vector<int> fired;
  timers.Schedule(start + absl::Seconds(1), [&] { fired.push_back(1); });
  timers.Schedule(start + absl::Seconds(2), [&] { fired.push_back(2); });
  clock.Advance(absl::Milliseconds(1500));
  EXPECT_THAT(fired, ElementsAre(1));
  clock.Advance(absl::Milliseconds(500));
  EXPECT_THAT(fired, ElementsAre(1, 2));
}

TEST(TimerService, TimerAlreadyDueFiresOnFireDue) {
  ManualClock clock;
  Dispatcher unseeded(Manual());
  TimerService timers(&clock, &unseeded);
  int fired = 0;
  timers.Schedule(clock.Now() - absl::Seconds(1), [&] { ++fired; });
  EXPECT_EQ(fired, 0);  // Schedule does not run work inline
  timers.FireDue();
  EXPECT_EQ(fired, 1);
}

TEST(TimerService, ShutdownDropsPendingTimersAndStopsListening) {
  ManualClock clock;
  Dispatcher unseeded(Manual());
  TimerService timers(&clock, &unseeded);
  int fired = 0;
  DestructionProbe probe;
  timers.Schedule(clock.Now() + absl::Seconds(1),
                  [&fired, guard = std::move(probe.guard)] { ++fired; });
  timers.Shutdown();
  EXPECT_TRUE(probe.destroyed());
  timers.Schedule(clock.Now() + absl::Seconds(1), [&] { ++fired; });
  clock.Advance(absl::Seconds(2));
  timers.FireDue();
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace warren::dispatch
