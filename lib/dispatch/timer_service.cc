// TimerService: a deadline map, fired by a waiting thread or a clock advance.
#include "dispatch/timer_service.h"

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

namespace warren::dispatch {

TimerService::TimerService(Clock* clock, Dispatcher* dispatcher)
    : clock_(clock), dispatcher_(dispatcher) {
  listener_id_ = clock_->AddAdvanceListener([this] { FireDue(); });
  if (clock_ == Clock::System()) thread_ = std::thread([this] { WaitLoop(); });
}

TimerService::~TimerService() { Shutdown(); }

void TimerService::Schedule(absl::Time at, absl::AnyInvocable<void() &&> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    timers_.emplace(at, std::move(work));
  }
  changed_.notify_one();
}

void TimerService::FireDue() {
  std::vector<std::pair<absl::Time, absl::AnyInvocable<void() &&>>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = clock_->Now();
    auto end = timers_.upper_bound(now);
    for (auto it = timers_.begin(); it != end; ++it) {
      due.emplace_back(it->first, std::move(it->second));
    }
    timers_.erase(timers_.begin(), end);
  }
  for (auto same = due.begin(); same != due.end();) {
    auto later = std::find_if(same, due.end(),
                              [at = same->first](const auto& timer) { return timer.first != at; });
    dispatcher_->Shuffle(std::span(same, later));
    same = later;
  }
  for (auto& [at, work] : due) std::move(work)();
}

void TimerService::Shutdown() {
  decltype(timers_) dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    dropped.swap(timers_);
  }
  clock_->RemoveAdvanceListener(listener_id_);
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerService::WaitLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shut_down_) {
    if (timers_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const absl::Duration wait = timers_.begin()->first - clock_->Now();
    if (wait > absl::ZeroDuration()) {
      changed_.wait_for(lock, absl::ToChronoNanoseconds(wait));
      continue;
    }
    lock.unlock();
    FireDue();
    lock.lock();
  }
}

}  // namespace warren::dispatch
