// TimerService: runs work at a time of the broker's Clock — message and queue
// expiry. With the system clock a thread of its own waits for the next
// deadline; with any clock, an advance of the clock (ManualClock::Advance)
// fires what became due on the advancing thread, so a test that moves time
// sees the expiry done when Advance returns. Timers due at the same instant
// fire in the order they were scheduled, or, under a seeded dispatcher
// (BrokerOptions::dispatch_seed), in an order the seed draws: they belong
// to queues that RabbitMQ runs independently.
//
// Owns the pending timers; it must not know what the work is.
#ifndef WARREN_LIB_DISPATCH_TIMER_SERVICE_H_
#define WARREN_LIB_DISPATCH_TIMER_SERVICE_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "dispatch/dispatcher.h"
#include "warren/clock.h"

namespace warren::dispatch {

class TimerService {
 public:
  // `dispatcher` (for its seed) must outlive this service.
  TimerService(Clock* clock, Dispatcher* dispatcher);
  ~TimerService();  // Shutdown()
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Runs `work` once Now() >= at. Work runs without locks of this class held.
  void Schedule(absl::Time at, absl::AnyInvocable<void() &&> work);

  // Runs every timer that is due now.
  void FireDue();

  // Drops pending timers and joins the thread.
  void Shutdown();

 private:
  void WaitLoop();

  Clock* const clock_;
  Dispatcher* const dispatcher_;
  int listener_id_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::multimap<absl::Time, absl::AnyInvocable<void() &&>> timers_;
  bool shut_down_ = false;
  std::thread thread_;
};

}  // namespace warren::dispatch

#endif  // WARREN_LIB_DISPATCH_TIMER_SERVICE_H_
