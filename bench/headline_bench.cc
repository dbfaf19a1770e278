// The headline targets of issue 5, one benchmark each, every one comparing
// two cases run alternately in the same process; bench/headline runs them
// for several rounds (--benchmark_repetitions) and prints the median of the
// per-round ratios against each goal. The counter "ratio" (p50_vs_raw for
// the latency) reads as the target does:
//   direct_64B_vs_raw, direct_4KiB_vs_raw: warren direct 1x1 auto-ack
//     deliveries/s over the raw queue's;
//   batch_vs_raw: BasicPublishBatch, 256 messages a call, to a consumer
//     that drains every ready callback per ProcessEvents() call, over the
//     raw queue's single-message rate;
//   manual_ack_vs_auto_ack: warren with BasicAck per message under
//     prefetch 100 over warren auto-ack;
//   fanout64_per_delivery_vs_direct: time per delivery of a 64-queue fanout
//     over time per message of the direct case;
//   topic_100k_vs_10_bindings: route time per publish with 100,000 topic
//     bindings over 10 (the route alone, see routing_bench.cc);
//   latency_p50_vs_raw: median publish-to-handler latency of an awake
//     warren consumer over the raw queue's spinning consumer.
//
// Owns only the list of headline cases.
#include <string>

#include "benchmark/benchmark.h"
#include "support/harness.h"
#include "support/raw_queues.h"
#include "support/warren_routing.h"
#include "support/warren_subjects.h"

namespace warren_bench {
namespace {

void RegisterThroughput(const std::string& target, SubjectFactory subject,
                        SubjectFactory reference, size_t body_bytes, RatioOf ratio_of) {
  benchmark::RegisterBenchmark(("headline/" + target).c_str(),
                               [=](benchmark::State& state) {
                                 CompareThroughput(state, subject, reference, body_bytes, "ratio",
                                                   ratio_of);
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

SubjectFactory Raw(const Shape& shape) {
  return [shape](std::string* error) { return MakeRawQueueSubject(shape, error); };
}

SubjectFactory Warren(const WarrenConfig& config) {
  return [config](std::string* error) { return MakeWarrenSubject(config, error); };
}

SubjectFactory TopicRoute(int bindings) {
  return [bindings](std::string* error) -> std::unique_ptr<Subject> {
    std::function<void(int64_t)> op = SnapshotRouteOp(warren::kTopic, bindings, error);
    if (!op) return nullptr;
    return std::make_unique<OperationSubject>(std::move(op));
  };
}

void RegisterAll() {
  const Shape small{.body_bytes = 64};
  const Shape large{.body_bytes = 4096};
  RegisterThroughput("direct_64B_vs_raw", Warren({.shape = small}), Raw(small), 64,
                     RatioOf::kRate);
  RegisterThroughput("direct_4KiB_vs_raw", Warren({.shape = large}), Raw(large), 4096,
                     RatioOf::kRate);
  RegisterThroughput("batch_vs_raw",
                     Warren({.shape = small, .spinning_consumer = true, .publish_batch = 256}),
                     Raw(small), 64, RatioOf::kRate);
  RegisterThroughput("manual_ack_vs_auto_ack",
                     Warren({.shape = small, .manual_ack = true, .prefetch = 100}),
                     Warren({.shape = small}), 64, RatioOf::kRate);
  RegisterThroughput("fanout64_per_delivery_vs_direct",
                     Warren({.shape = {.body_bytes = 64, .fanout = 64},
                             .exchange_type = warren::kFanout}),
                     Warren({.shape = small}), 64, RatioOf::kCost);
  RegisterThroughput("topic_100k_vs_10_bindings", TopicRoute(100000), TopicRoute(10), 64,
                     RatioOf::kCost);
  benchmark::RegisterBenchmark("headline/latency_p50_vs_raw",
                               [](benchmark::State& state) {
                                 CompareLatency(
                                     state,
                                     [](std::string* error) {
                                       return MakeWarrenPinger(/*spinning_consumer=*/true, /*url=*/"", error);
                                     },
                                     MakeRawSpinningPinger);
                               })
      ->UseManualTime()
      ->Iterations(4)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace warren_bench

int main(int argc, char** argv) {
  return warren_bench::BenchmarkMain(argc, argv, warren_bench::RegisterAll);
}
