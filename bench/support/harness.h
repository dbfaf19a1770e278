// The measuring rig every benchmark shares: a Subject (one transport set up
// for one shape) runs batches of messages, a Pinger sends one message at a
// time for latency, and the Compare functions run a subject and its
// reference alternately in one Google Benchmark run, reporting both and
// their ratio as counters. Ratios are what the targets are written in,
// because on a shared 2-core VM absolute figures drift between runs while
// ratios taken side by side hold.
//
// Owns timing, thread start-up, waiting and the counters. It must not know
// any transport: warren, the raw queues, ZeroMQ and RabbitMQ live in their
// own files and are reached only through Subject and Pinger.
#ifndef WARREN_BENCH_SUPPORT_HARNESS_H_
#define WARREN_BENCH_SUPPORT_HARNESS_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"

namespace warren_bench {

inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Who publishes and who consumes. Each of the `fanout` queues gets every
// message; consumer c takes from the queues q with q % w == c % w, where
// w = min(fanout, consumers), so one consumer drains every queue of a
// fanout and several consumers compete on a single queue.
struct Shape {
  int producers = 1;
  int consumers = 1;
  size_t body_bytes = 64;
  int fanout = 1;

  std::vector<int> QueuesOf(int consumer) const;
  std::string Name() const;  // e.g. "64B/1x1", "4KiB/1x1/fanout8"
};

// Spins, then yields: what every busy-waiting thread here does, so that a
// shape with more threads than cores still makes progress.
class Backoff {
 public:
  void Idle();
  void Reset() { spins_ = 0; }

 private:
  int spins_ = 0;
};

// One delivery counter per consumer, each on its own cache line; written by
// one thread at a time, read by the waiting producer.
class DeliveryCounters {
 public:
  explicit DeliveryCounters(int consumers) : counters_(consumers) {}
  void Add(int consumer) {
    std::atomic<int64_t>& n = counters_[consumer].n;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  int64_t Total() const;
  // Busy-waits (with Backoff) until Total() >= target.
  void WaitFor(int64_t target) const;

 private:
  struct alignas(64) Slot {
    std::atomic<int64_t> n{0};
  };
  std::vector<Slot> counters_;
};

// Threads that start together: each runs body(index) once Release() is
// called, which returns after all of them have started.
class ThreadTeam {
 public:
  ThreadTeam(int threads, std::function<void(int)> body);
  ~ThreadTeam();  // joins
  void Release();

 private:
  std::atomic<int> ready_{0};
  std::atomic<bool> go_{false};
  std::vector<std::thread> threads_;
};

struct BatchResult {
  double seconds = 0;
  int64_t published = 0;
  int64_t delivered = 0;
};

// A transport set up for one shape, ready to move batches.
class Subject {
 public:
  virtual ~Subject() = default;
  // Moves about `messages` messages (rounded to a multiple of the producer
  // count) and returns when every delivery has reached a consumer.
  virtual BatchResult RunBatch(int64_t messages) = 0;
  // How many messages one batch should have: enough that the drain at the
  // end of a batch and the thread start-up around it are noise.
  virtual int64_t BatchSize() const = 0;
};

// A Subject whose batches are producer threads pushing messages to consumers
// that count deliveries: the common frame of every throughput transport.
// Producer 0 is the calling thread.
class ProducerConsumerSubject : public Subject {
 public:
  explicit ProducerConsumerSubject(Shape shape)
      : shape_(shape), delivered_(shape.consumers) {}
  BatchResult RunBatch(int64_t messages) override;
  int64_t BatchSize() const override;

 protected:
  // Publishes `count` messages as producer `producer`.
  virtual void Produce(int producer, int64_t count) = 0;
  // Around each batch, outside its timing: consumers that spin must only run
  // while a batch does.
  virtual void BeginBatch() {}
  virtual void EndBatch() {}

  const Shape shape_;
  DeliveryCounters delivered_;
};

// Runs a function as a single-threaded Subject: `op(n)` performs n
// operations (e.g. routes n messages) and each counts as one delivery.
// Batches are sized to take a few milliseconds, whatever one operation
// costs.
class OperationSubject : public Subject {
 public:
  explicit OperationSubject(std::function<void(int64_t)> op);
  BatchResult RunBatch(int64_t messages) override;
  int64_t BatchSize() const override { return batch_; }

 private:
  std::function<void(int64_t)> op_;
  int64_t batch_;
};

// Built inside the benchmark run; null with *error set when the transport
// cannot be had (e.g. no RabbitMQ broker answers).
using SubjectFactory = std::function<std::unique_ptr<Subject>(std::string* error)>;

// How the "ratio" counter reads: kRate is the subject's deliveries per second
// over the reference's (higher is better for the subject); kCost is the
// subject's time per delivery over the reference's (lower is better).
enum class RatioOf { kRate, kCost };

// One benchmark: subject and reference run one batch each per iteration, in
// alternating order; the manual time is the subject's. Counters: msgs/s and
// bytes/s (delivered body bytes) and deliveries/s of the subject, the
// reference's deliveries/s as ref_deliveries/s, and `ratio_name`. A null
// reference reports the subject alone.
void CompareThroughput(benchmark::State& state, const SubjectFactory& subject,
                       const SubjectFactory& reference, size_t body_bytes,
                       const std::string& ratio_name, RatioOf ratio_of);

// Sends one message at a time to one consumer, which calls Received() from
// its handler. Subclasses only move the message.
class Pinger {
 public:
  virtual ~Pinger() = default;
  // Around each phase of pings, outside timing (start or stop a spinning
  // consumer).
  virtual void BeginPhase() {}
  virtual void EndPhase() {}
  // Whether the consumer parks between messages; the harness then leaves it
  // time to fall asleep before the next ping, so that each ping pays the
  // wake-up a sleeping consumer costs.
  virtual bool ConsumerSleeps() const = 0;

  // One publish-to-handler latency in nanoseconds.
  int64_t Ping();

 protected:
  // Publishes one message; the consumer's handler must call Received().
  virtual void Send() = 0;
  void Received();

 private:
  std::atomic<int64_t> sent_at_{0};
  std::atomic<int64_t> received_{0};
  std::atomic<int64_t> latency_{0};
  int64_t sent_ = 0;
};

using PingerFactory = std::function<std::unique_ptr<Pinger>(std::string* error)>;

// One benchmark: per iteration a phase of pings on the subject and one on
// the reference, alternating which goes first. Counters: p50_ns, p99_ns,
// p999_ns of the subject, the same with ref_ for the reference, and
// p50_vs_raw (subject median over reference median). Manual time is the
// subject's median latency of the phase.
void CompareLatency(benchmark::State& state, const PingerFactory& subject,
                    const PingerFactory& reference);

// The q-quantile (0..1) of `samples`, which it sorts.
double Quantile(std::vector<int64_t>* samples, double q);

// main() of every benchmark executable: registers its cases, then runs
// Google Benchmark with the command line's flags.
int BenchmarkMain(int argc, char** argv, void (*register_all)());

}  // namespace warren_bench

#endif  // WARREN_BENCH_SUPPORT_HARNESS_H_
