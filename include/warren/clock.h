// warren/clock.h: the time source of every timed behaviour of a broker.
//
// Message TTLs, queue expiry and delayed retries all read the broker's Clock.
// The default is the system's steady clock. A ManualClock lets a test move
// time by hand: nothing expires until the test advances it, and advancing it
// fires exactly what became due, with no sleep in the test.
//
// Example:
//
//   warren::ManualClock clock;
//   auto broker = warren::Broker::Create({.clock = &clock});
//   ... publish a message with expiration "1000" ...
//   clock.Advance(absl::Seconds(1));  // the message is now expired
//
// Thread-safety: Now() and Advance() may be called from any thread.
#ifndef WARREN_CLOCK_H_
#define WARREN_CLOCK_H_

#include <functional>
#include <mutex>
#include <vector>

#include "absl/time/time.h"

namespace warren {

class Clock {
 public:
  virtual ~Clock() = default;

  // The current time. Never goes backwards.
  virtual absl::Time Now() const = 0;

  // Registers `listener`, called (on the advancing thread, without locks
  // held) after time jumps ahead by other means than its steady flow. The
  // broker uses it to fire timers when a ManualClock advances. Returns an id
  // for RemoveAdvanceListener.
  virtual int AddAdvanceListener(std::function<void()> listener) = 0;
  virtual void RemoveAdvanceListener(int id) = 0;

  // The process-wide steady clock.
  static Clock* System();
};

// A clock that moves only when told to. Starts at the Unix epoch plus one
// day, so that subtracting a TTL from Now() never underflows.
class ManualClock final : public Clock {
 public:
  // A clock at the Unix epoch plus one day, with no listener.
  ManualClock();
  // The time the clock was set to by construction and every Advance so far.
  absl::Time Now() const override;
  // Registers `listener`, called by each Advance once the time has moved
  // (see Clock::AddAdvanceListener).
  int AddAdvanceListener(std::function<void()> listener) override;
  // Removes a listener; an id not registered (or removed already) is ignored.
  void RemoveAdvanceListener(int id) override;

  // Moves time forward by `d` (negative durations are ignored) and notifies
  // the listeners, which fire every timer that became due.
  void Advance(absl::Duration d);

 private:
  mutable std::mutex mu_;
  absl::Time now_;
  int next_listener_id_ = 0;
  std::vector<std::pair<int, std::function<void()>>> listeners_;
};

}  // namespace warren

#endif  // WARREN_CLOCK_H_
