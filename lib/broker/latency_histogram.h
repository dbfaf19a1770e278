// LatencyHistogram: publish-to-callback latencies of one broker, in
// logarithmic buckets (eight per power of two, so a percentile is within
// about 9% of the true value), recorded from any thread and summed when
// read.
//
// Owns the buckets; it must not know where the samples come from. Which
// messages are sampled is the channel's business (one in kSampleEvery).
#ifndef WARREN_LIB_BROKER_LATENCY_HISTOGRAM_H_
#define WARREN_LIB_BROKER_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "warren/stats.h"

namespace warren::broker {

class LatencyHistogram {
 public:
  // Publishes sampled per channel: one in this many.
  static constexpr uint64_t kSampleEvery = 16;

  // Monotonic nanoseconds, the time base of samples.
  static int64_t NowNanos();

  // Thread-safe and wait-free.
  void Record(int64_t nanos);

  LatencyStats Read() const;

 private:
  static constexpr int kSubBuckets = 8;  // per power of two
  static constexpr int kBuckets = 64 * kSubBuckets;
  static int BucketOf(uint64_t nanos);
  // The largest value that falls into `bucket`.
  static uint64_t UpperBound(int bucket);

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> max_{0};
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_LATENCY_HISTOGRAM_H_
