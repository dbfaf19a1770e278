// MemoryGauge: the message bodies a broker holds in its queues, against the
// limit BrokerOptions::memory_limit_bytes sets, and the wait of publishers
// for consumers to bring it back under the limit.
//
// Queues add what they take in and subtract what leaves them, once per
// locked section; publishers only read. Owns the count and the waiters; it
// must not know what is counted.
#ifndef WARREN_LIB_BROKER_MEMORY_GAUGE_H_
#define WARREN_LIB_BROKER_MEMORY_GAUGE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/time/time.h"

namespace warren::broker {

class MemoryGauge {
 public:
  explicit MemoryGauge(uint64_t limit) : limit_(limit) {}

  // Thread-safe. Wakes the waiters when the count falls back to the limit.
  void Add(int64_t delta);

  uint64_t held() const;
  uint64_t limit() const { return limit_; }
  bool over_limit() const {
    return limit_ != 0 && held_.load(std::memory_order_relaxed) > static_cast<int64_t>(limit_);
  }

  // Waits until the count is at or under the limit; false when `deadline`
  // passes first.
  bool WaitUntilUnderLimit(absl::Time deadline);

 private:
  const uint64_t limit_;
  std::atomic<int64_t> held_{0};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable under_limit_;
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_MEMORY_GAUGE_H_
