// LatencyHistogram: log-linear buckets and their percentiles.
#include "broker/latency_histogram.h"

#include <bit>
#include <chrono>

namespace warren::broker {

int64_t LatencyHistogram::NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int LatencyHistogram::BucketOf(uint64_t nanos) {
  if (nanos < kSubBuckets) return static_cast<int>(nanos);
  // The top bit picks the power of two, the next three bits the sub-bucket.
  const int top = 63 - std::countl_zero(nanos);
  const int sub = static_cast<int>((nanos >> (top - 3)) & (kSubBuckets - 1));
  return (top - 2) * kSubBuckets + sub;
}

uint64_t LatencyHistogram::UpperBound(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket);
  const int top = bucket / kSubBuckets + 2;
  const uint64_t sub = static_cast<uint64_t>(bucket % kSubBuckets);
  const uint64_t low = (uint64_t{1} << top) | (sub << (top - 3));
  return low + (uint64_t{1} << (top - 3)) - 1;
}

void LatencyHistogram::Record(int64_t nanos) {
  const uint64_t value = nanos < 0 ? 0 : static_cast<uint64_t>(nanos);
  counts_[BucketOf(value)].fetch_add(1, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

LatencyStats LatencyHistogram::Read() const {
  std::array<uint64_t, kBuckets> counts;
  uint64_t total = 0;
  for (int b = 0; b < kBuckets; ++b) {
    counts[b] = counts_[b].load(std::memory_order_relaxed);
    total += counts[b];
  }
  LatencyStats stats;
  stats.samples = total;
  if (total == 0) return stats;
  const uint64_t max = max_.load(std::memory_order_relaxed);
  // The smallest bucket bound with at least q of the samples at or below it.
  auto quantile = [&](double q) {
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += counts[b];
      if (seen >= rank) return absl::Nanoseconds(std::min(UpperBound(b), max));
    }
    return absl::Nanoseconds(max);
  };
  stats.p50 = quantile(0.50);
  stats.p90 = quantile(0.90);
  stats.p99 = quantile(0.99);
  stats.p999 = quantile(0.999);
  stats.max = absl::Nanoseconds(max);
  return stats;
}

}  // namespace warren::broker
