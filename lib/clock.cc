// lib/clock.cc: the system steady clock and the hand-moved ManualClock
// (warren/clock.h).
//
// Owns reading time and telling listeners that time jumped. Must not know
// what the listeners do (the broker's timers live in lib/broker/).

#include "warren/clock.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace warren {
namespace {

using AdvanceListeners = std::vector<std::pair<int, std::function<void()>>>;

int AddListener(AdvanceListeners& listeners, int& next_id, std::function<void()> listener) {
  const int id = next_id++;
  listeners.emplace_back(id, std::move(listener));
  return id;
}

void RemoveListener(AdvanceListeners& listeners, int id) {
  listeners.erase(std::remove_if(listeners.begin(), listeners.end(),
                                 [id](const auto& entry) { return entry.first == id; }),
                  listeners.end());
}

// The steady clock never jumps, so its listeners are never called; they are
// kept anyway so that registering and removing behave as on any Clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override {
    return absl::UnixEpoch() +
           absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }

  int AddAdvanceListener(std::function<void()> listener) override {
    std::lock_guard<std::mutex> lock(mu_);
    return AddListener(listeners_, next_listener_id_, std::move(listener));
  }

  void RemoveAdvanceListener(int id) override {
    std::lock_guard<std::mutex> lock(mu_);
    RemoveListener(listeners_, id);
  }

 private:
  std::mutex mu_;
  int next_listener_id_ = 0;
  AdvanceListeners listeners_;
};

}  // namespace

Clock* Clock::System() {
  // Leaked: brokers may read it during static destruction.
  static SystemClock* const kClock = new SystemClock;
  return kClock;
}

ManualClock::ManualClock() : now_(absl::UnixEpoch() + absl::Hours(24)) {}

absl::Time ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

int ManualClock::AddAdvanceListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  return AddListener(listeners_, next_listener_id_, std::move(listener));
}

void ManualClock::RemoveAdvanceListener(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  RemoveListener(listeners_, id);
}

void ManualClock::Advance(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return;
  AdvanceListeners to_notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    to_notify = listeners_;
  }
  // Called on a copy and without the lock, so that a listener may read Now(),
  // add or remove listeners, or advance again. A listener removed by another
  // thread meanwhile may still get this one last call.
  for (const auto& [id, listener] : to_notify) listener();
}

}  // namespace warren
