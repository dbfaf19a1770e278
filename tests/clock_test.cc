// tests/clock_test.cc: the system clock and ManualClock (lib/clock.cc).

#include "warren/clock.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace warren {
namespace {

const absl::Time kManualStart = absl::UnixEpoch() + absl::Hours(24);

TEST(ManualClock, StartsOneDayAfterTheEpoch) {
  ManualClock clock;
  EXPECT_EQ(clock.Now(), kManualStart);
}

TEST(ManualClock, StandsStillUntilAdvanced) {
  ManualClock clock;
  absl::Time before = clock.Now();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(clock.Now(), before);
}

TEST(ManualClock, AdvanceMovesNowForward) {
  ManualClock clock;
  clock.Advance(absl::Seconds(1));
  clock.Advance(absl::Milliseconds(500));
  EXPECT_EQ(clock.Now(), kManualStart + absl::Milliseconds(1500));
}

TEST(ManualClock, AdvanceIgnoresZeroAndNegativeDurations) {
  ManualClock clock;
  int calls = 0;
  clock.AddAdvanceListener([&calls] { ++calls; });
  clock.Advance(absl::ZeroDuration());
  clock.Advance(absl::Seconds(-5));
  EXPECT_EQ(clock.Now(), kManualStart);
  EXPECT_EQ(calls, 0);
}

TEST(ManualClock, AdvanceCallsEveryListenerOnce) {
  ManualClock clock;
  int first = 0;
  int second = 0;
  clock.AddAdvanceListener([&first] { ++first; });
  clock.AddAdvanceListener([&second] { ++second; });
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

TEST(ManualClock, ListenerSeesTheNewTime) {
  ManualClock clock;
  absl::Time seen;
  clock.AddAdvanceListener([&] { seen = clock.Now(); });
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(seen, kManualStart + absl::Minutes(1));
}

TEST(ManualClock, ListenerIdsAreDistinct) {
  ManualClock clock;
  int a = clock.AddAdvanceListener([] {});
  int b = clock.AddAdvanceListener([] {});
  EXPECT_NE(a, b);
}

TEST(ManualClock, RemovedListenerIsNotCalled) {
  ManualClock clock;
  int removed_calls = 0;
  int kept_calls = 0;
  int id = clock.AddAdvanceListener([&removed_calls] { ++removed_calls; });
  clock.AddAdvanceListener([&kept_calls] { ++kept_calls; });
  clock.RemoveAdvanceListener(id);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(removed_calls, 0);
  EXPECT_EQ(kept_calls, 1);
}

TEST(ManualClock, RemovingUnknownIdChangesNothing) {
  ManualClock clock;
  int calls = 0;
  int id = clock.AddAdvanceListener([&calls] { ++calls; });
  clock.RemoveAdvanceListener(id + 1000);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(calls, 1);
}

// The listener runs without the clock's lock: re-entering the clock from it
// would deadlock otherwise.
TEST(ManualClock, ListenerMayReenterTheClock) {
  ManualClock clock;
  int calls = 0;
  int id = 0;
  id = clock.AddAdvanceListener([&] {
    ++calls;
    clock.RemoveAdvanceListener(id);
    clock.AddAdvanceListener([] {});
    clock.Advance(absl::Seconds(1));
  });
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(clock.Now(), kManualStart + absl::Seconds(2));
}

TEST(ManualClock, ConcurrentAdvancesAllCount) {
  ManualClock clock;
  std::atomic<int> calls{0};
  clock.AddAdvanceListener([&calls] { calls.fetch_add(1, std::memory_order_relaxed); });
  constexpr int kThreads = 4;
  constexpr int kAdvancesPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < kAdvancesPerThread; ++i) clock.Advance(absl::Milliseconds(1));
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(clock.Now(), kManualStart + absl::Milliseconds(kThreads * kAdvancesPerThread));
  EXPECT_EQ(calls.load(), kThreads * kAdvancesPerThread);
}

TEST(SystemClock, IsOneInstance) { EXPECT_EQ(Clock::System(), Clock::System()); }

TEST(SystemClock, MapsTheSteadyClockOntoTheEpoch) {
  absl::Time before = Clock::System()->Now();
  absl::Time steady =
      absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  absl::Time after = Clock::System()->Now();
  EXPECT_LE(before, steady);
  EXPECT_LE(steady, after);
}

TEST(SystemClock, FollowsRealTime) {
  absl::Time before = Clock::System()->Now();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(Clock::System()->Now() - before, absl::Milliseconds(5));
}

TEST(SystemClock, NeverGoesBackwards) {
  absl::Time previous = Clock::System()->Now();
  for (int i = 0; i < 10000; ++i) {
    absl::Time now = Clock::System()->Now();
    ASSERT_GE(now, previous);
    previous = now;
  }
}

TEST(SystemClock, ListenerIdsAreDistinctAndRemovable) {
  Clock* clock = Clock::System();
  int a = clock->AddAdvanceListener([] {});
  int b = clock->AddAdvanceListener([] {});
  EXPECT_NE(a, b);
  clock->RemoveAdvanceListener(a);
  clock->RemoveAdvanceListener(b);
}

}  // namespace
}  // namespace warren
