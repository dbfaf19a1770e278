// The floor every warren throughput figure is read against: moodycamel's
// ConcurrentQueue, one producer thread to one consumer thread that spins on
// try_dequeue, with payloads copied by value (no allocation per message, no
// tokens), at 64 B and 4 KiB: the raw-queue case the design notes measured
// before warren existed. Must not use warren itself: it is the raw
// baseline.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "benchmark/benchmark.h"
#include "concurrentqueue/concurrentqueue.h"

namespace {

// Messages per benchmark iteration. The producer waits for the consumer to
// drain each batch, so the measured time covers delivery, not just enqueue;
// the batch is large enough that the drain at its end is noise.
constexpr int64_t kBatch = 4096;

template <size_t kBytes>
struct Payload {
  std::array<std::byte, kBytes> bytes{};
};

template <size_t kBytes>
void BM_RawQueueOneProducerOneSpinningConsumer(benchmark::State& state) {
  moodycamel::ConcurrentQueue<Payload<kBytes>> queue;
  std::atomic<int64_t> consumed{0};
  std::atomic<bool> stop{false};

  std::thread consumer([&] {
    Payload<kBytes> received;
    int64_t count = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (queue.try_dequeue(received)) {
        benchmark::DoNotOptimize(received.bytes.data());
        consumed.store(++count, std::memory_order_release);
      }
    }
  });

  const Payload<kBytes> message;
  int64_t produced = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < kBatch; ++i) queue.enqueue(message);
    produced += kBatch;
    while (consumed.load(std::memory_order_acquire) < produced) {
    }
  }
  stop.store(true, std::memory_order_relaxed);
  consumer.join();

  state.counters["messages/s"] =
      benchmark::Counter(static_cast<double>(produced), benchmark::Counter::kIsRate);
  state.counters["bytes/s"] = benchmark::Counter(
      static_cast<double>(produced * kBytes), benchmark::Counter::kIsRate,
      benchmark::Counter::kIs1024);
}

// Real time: the work is split across two threads, so the main thread's CPU
// time says nothing about throughput.
BENCHMARK_TEMPLATE(BM_RawQueueOneProducerOneSpinningConsumer, 64)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RawQueueOneProducerOneSpinningConsumer, 4096)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
