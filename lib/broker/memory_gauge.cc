// MemoryGauge: a count that wakes waiters as it falls back under a limit.
#include "broker/memory_gauge.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace warren::broker {

void MemoryGauge::Add(int64_t delta) {
  if (delta == 0) return;
  const int64_t before = held_.fetch_add(delta);
  if (limit_ == 0 || delta > 0) return;
  const int64_t limit = static_cast<int64_t>(limit_);
  // A waiter counts itself before it checks the count (both sequentially
  // consistent), so either it sees this drop or this sees it.
  if (before > limit && before + delta <= limit && waiters_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    under_limit_.notify_all();
  }
}

uint64_t MemoryGauge::held() const {
  return static_cast<uint64_t>(std::max<int64_t>(0, held_.load(std::memory_order_relaxed)));
}

bool MemoryGauge::WaitUntilUnderLimit(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  waiters_.fetch_add(1);
  bool under = true;
  while (held_.load() > static_cast<int64_t>(limit_)) {
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      under = false;
      break;
    }
    under_limit_.wait_for(lock, absl::ToChronoNanoseconds(deadline - now));
  }
  waiters_.fetch_sub(1);
  return under;
}

}  // namespace warren::broker
