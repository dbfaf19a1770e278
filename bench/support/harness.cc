// The measuring rig: batches, waiting, alternation and counters.
#include "support/harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace warren_bench {
namespace {

// Pings per phase: enough for a stable p99.9 over a few phases, few enough
// that a phase of sleeping-consumer pings stays near a tenth of a second.
constexpr int kPingsPerPhase = 2000;
constexpr int kSleepingPingsPerPhase = 500;

// How long a sleeping consumer is given to park before the next ping: the
// condition-variable or futex path back to sleep takes a few microseconds.
constexpr int64_t kParkNanos = 100'000;

// A delivery that has not come by then never will: a lost message or a
// stalled transport, which must fail the run rather than hang it.
constexpr int64_t kStallNanos = 30'000'000'000;

void SpinPause() { __builtin_ia32_pause(); }

// Waits with Backoff until done() holds.
template <typename Done>
void AwaitOrDie(Done done, const char* what) {
  Backoff backoff;
  const int64_t deadline = NowNanos() + kStallNanos;
  for (int64_t polls = 1; !done(); ++polls) {
    backoff.Idle();
    if (polls % 1024 == 0 && NowNanos() > deadline) {
      std::fprintf(stderr, "benchmark stalled: %s\n", what);
      std::abort();
    }
  }
}

void SpinFor(int64_t nanos) {
  const int64_t until = NowNanos() + nanos;
  while (NowNanos() < until) SpinPause();
}

std::string SizeName(size_t bytes) {
  return bytes % 1024 == 0 ? absl::StrCat(bytes / 1024, "KiB") : absl::StrCat(bytes, "B");
}

}  // namespace

std::vector<int> Shape::QueuesOf(int consumer) const {
  const int width = std::min(fanout, consumers);
  std::vector<int> queues;
  for (int q = 0; q < fanout; ++q) {
    if (q % width == consumer % width) queues.push_back(q);
  }
  return queues;
}

std::string Shape::Name() const {
  std::string name = absl::StrCat(SizeName(body_bytes), "/", producers, "x", consumers);
  if (fanout > 1) absl::StrAppend(&name, "/fanout", fanout);
  return name;
}

void Backoff::Idle() {
  // Long enough to catch a message that is a cache-line transfer away,
  // short enough not to hold a core another thread of the shape needs.
  if (++spins_ < 128) {
    SpinPause();
  } else {
    std::this_thread::yield();
  }
}

int64_t DeliveryCounters::Total() const {
  int64_t total = 0;
  for (const Slot& slot : counters_) total += slot.n.load(std::memory_order_acquire);
  return total;
}

void DeliveryCounters::WaitFor(int64_t target) const {
  AwaitOrDie([&] { return Total() >= target; }, "deliveries missing after 30 s");
}

ThreadTeam::ThreadTeam(int threads, std::function<void(int)> body) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, body, i] {
      ready_.fetch_add(1, std::memory_order_acq_rel);
      while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
      body(i);
    });
  }
}

ThreadTeam::~ThreadTeam() {
  go_.store(true, std::memory_order_release);
  for (std::thread& t : threads_) t.join();
}

void ThreadTeam::Release() {
  while (ready_.load(std::memory_order_acquire) < static_cast<int>(threads_.size())) {
    std::this_thread::yield();
  }
  go_.store(true, std::memory_order_release);
}

BatchResult ProducerConsumerSubject::RunBatch(int64_t messages) {
  const int64_t per_producer = std::max<int64_t>(1, messages / shape_.producers);
  const int64_t expected = per_producer * shape_.producers * shape_.fanout;
  BeginBatch();
  const int64_t before = delivered_.Total();
  BatchResult result;
  {
    ThreadTeam others(shape_.producers - 1,
                      [&](int i) { Produce(i + 1, per_producer); });
    others.Release();
    const int64_t start = NowNanos();
    Produce(0, per_producer);
    delivered_.WaitFor(before + expected);
    result.seconds = static_cast<double>(NowNanos() - start) * 1e-9;
  }
  EndBatch();
  result.published = per_producer * shape_.producers;
  result.delivered = expected;
  return result;
}

int64_t ProducerConsumerSubject::BatchSize() const {
  // About 5 ms for the raw queue at its fastest; transports 20x slower
  // still finish a batch in a tenth of a second. A fanout multiplies the
  // deliveries, so it divides the publishes.
  const int64_t deliveries = shape_.body_bytes <= 256 ? 32768 : 8192;
  return std::max<int64_t>(512, deliveries / shape_.fanout);
}

OperationSubject::OperationSubject(std::function<void(int64_t)> op) : op_(std::move(op)) {
  constexpr int64_t kBatchNanos = 2'000'000;
  for (batch_ = 16;; batch_ *= 2) {
    const int64_t start = NowNanos();
    op_(batch_);
    if (NowNanos() - start >= kBatchNanos || batch_ >= (int64_t{1} << 24)) break;
  }
}

BatchResult OperationSubject::RunBatch(int64_t messages) {
  const int64_t start = NowNanos();
  op_(messages);
  return {static_cast<double>(NowNanos() - start) * 1e-9, messages, messages};
}

void CompareThroughput(benchmark::State& state, const SubjectFactory& make_subject,
                       const SubjectFactory& make_reference, size_t body_bytes,
                       const std::string& ratio_name, RatioOf ratio_of) {
  std::string error;
  std::unique_ptr<Subject> subject = make_subject(&error);
  std::unique_ptr<Subject> reference;
  if (subject && make_reference) reference = make_reference(&error);
  if (!subject || (make_reference && !reference)) {
    state.SkipWithError(error.c_str());
    return;
  }
  BatchResult total;
  BatchResult reference_total;
  bool reference_first = false;
  for (auto _ : state) {
    auto run_reference = [&] {
      BatchResult r = reference->RunBatch(reference->BatchSize());
      reference_total.seconds += r.seconds;
      reference_total.delivered += r.delivered;
    };
    if (reference && reference_first) run_reference();
    const BatchResult r = subject->RunBatch(subject->BatchSize());
    if (reference && !reference_first) run_reference();
    reference_first = !reference_first;
    state.SetIterationTime(r.seconds);
    total.seconds += r.seconds;
    total.published += r.published;
    total.delivered += r.delivered;
  }
  if (total.seconds <= 0) return;
  const double deliveries_per_s = static_cast<double>(total.delivered) / total.seconds;
  state.counters["msgs/s"] = static_cast<double>(total.published) / total.seconds;
  state.counters["deliveries/s"] = deliveries_per_s;
  state.counters["bytes/s"] = deliveries_per_s * static_cast<double>(body_bytes);
  if (reference && reference_total.seconds > 0) {
    const double reference_per_s =
        static_cast<double>(reference_total.delivered) / reference_total.seconds;
    state.counters["ref_deliveries/s"] = reference_per_s;
    state.counters[ratio_name] = ratio_of == RatioOf::kRate ? deliveries_per_s / reference_per_s
                                                            : reference_per_s / deliveries_per_s;
  }
}

int64_t Pinger::Ping() {
  const int64_t seq = ++sent_;
  sent_at_.store(NowNanos(), std::memory_order_release);
  Send();
  AwaitOrDie([&] { return received_.load(std::memory_order_acquire) >= seq; },
             "a ping not delivered after 30 s");
  return latency_.load(std::memory_order_relaxed);
}

void Pinger::Received() {
  latency_.store(NowNanos() - sent_at_.load(std::memory_order_acquire),
                 std::memory_order_relaxed);
  received_.fetch_add(1, std::memory_order_release);
}

double Quantile(std::vector<int64_t>* samples, double q) {
  if (samples->empty()) return 0;
  std::sort(samples->begin(), samples->end());
  // Nearest rank: the smallest sample with at least q of them at or below it.
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples->size())));
  return static_cast<double>((*samples)[std::clamp<size_t>(rank, 1, samples->size()) - 1]);
}

void CompareLatency(benchmark::State& state, const PingerFactory& make_subject,
                    const PingerFactory& make_reference) {
  std::string error;
  std::unique_ptr<Pinger> subject = make_subject(&error);
  std::unique_ptr<Pinger> reference;
  if (subject && make_reference) reference = make_reference(&error);
  if (!subject || (make_reference && !reference)) {
    state.SkipWithError(error.c_str());
    return;
  }
  auto run_phase = [](Pinger& pinger, std::vector<int64_t>* samples) {
    const bool sleeps = pinger.ConsumerSleeps();
    const int pings = sleeps ? kSleepingPingsPerPhase : kPingsPerPhase;
    pinger.BeginPhase();
    std::vector<int64_t> phase;
    phase.reserve(pings);
    for (int i = 0; i < pings; ++i) {
      if (sleeps) SpinFor(kParkNanos);
      phase.push_back(pinger.Ping());
    }
    pinger.EndPhase();
    samples->insert(samples->end(), phase.begin(), phase.end());
    return Quantile(&phase, 0.5);
  };
  std::vector<int64_t> samples;
  std::vector<int64_t> reference_samples;
  bool reference_first = false;
  for (auto _ : state) {
    if (reference && reference_first) run_phase(*reference, &reference_samples);
    const double median = run_phase(*subject, &samples);
    if (reference && !reference_first) run_phase(*reference, &reference_samples);
    reference_first = !reference_first;
    state.SetIterationTime(median * 1e-9);
  }
  if (samples.empty()) return;
  const double p50 = Quantile(&samples, 0.5);
  state.counters["p50_ns"] = p50;
  state.counters["p99_ns"] = Quantile(&samples, 0.99);
  state.counters["p999_ns"] = Quantile(&samples, 0.999);
  if (reference && !reference_samples.empty()) {
    const double reference_p50 = Quantile(&reference_samples, 0.5);
    state.counters["ref_p50_ns"] = reference_p50;
    state.counters["ref_p99_ns"] = Quantile(&reference_samples, 0.99);
    state.counters["ref_p999_ns"] = Quantile(&reference_samples, 0.999);
    state.counters["p50_vs_raw"] = p50 / reference_p50;
  }
}

int BenchmarkMain(int argc, char** argv, void (*register_all)()) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace warren_bench
