// Routing cost per publish against 10, 1,000 and 100,000 bindings for topic
// and headers exchanges, three ways: the route alone (RoutingSnapshot::Route
// on a hand-built snapshot); a whole BasicPublish through the API onto a
// queue that refuses it (for topic, the channel keeps the route it found
// while the bindings stay the same, so this shows the kept route); and the
// cost of QueueBind itself as bindings grow. Each cost is reported against
// the raw queue's single-threaded enqueue+dequeue (vs_raw, a rate ratio).
//
// Owns only the list of cases; the fixtures live in support/warren_routing.
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "support/harness.h"
#include "support/raw_queues.h"
#include "support/warren_routing.h"
#include "warren/channel.h"

namespace warren_bench {
namespace {

using OpFactory = std::function<std::function<void(int64_t)>(std::string* error)>;

SubjectFactory FromOp(OpFactory make_op) {
  return [make_op](std::string* error) -> std::unique_ptr<Subject> {
    std::function<void(int64_t)> op = make_op(error);
    if (!op) return nullptr;
    return std::make_unique<OperationSubject>(std::move(op));
  };
}

void Register(const std::string& name, OpFactory op) {
  const SubjectFactory raw = FromOp([](std::string*) { return RawEnqueueDequeue; });
  benchmark::RegisterBenchmark(name.c_str(),
                               [subject = FromOp(std::move(op)), raw](benchmark::State& state) {
                                 CompareThroughput(state, subject, raw, 64, "vs_raw",
                                                   RatioOf::kRate);
                                 if (auto it = state.counters.find("deliveries/s");
                                     it != state.counters.end() && it->second.value > 0) {
                                   state.counters["ns/publish"] = 1e9 / it->second.value;
                                 }
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

void RegisterAll() {
  for (std::string_view type : {warren::kTopic, warren::kHeaders}) {
    const std::string type_name(type);
    for (int bindings : {10, 1000, 100000}) {
      Register(absl::StrCat("route/", type_name, "/bindings:", bindings),
               [type, bindings](std::string* error) {
                 return SnapshotRouteOp(type, bindings, error);
               });
    }
    for (int bindings : {10, 1000, 100000}) {
      Register(absl::StrCat("publish/", type_name, "/bindings:", bindings),
               [type, bindings](std::string* error) {
                 return PublishRoutedOp(type, bindings, error);
               });
    }
    for (int bindings : {1000, 100000}) {
      benchmark::RegisterBenchmark(
          absl::StrCat("bind/", type_name, "/bindings:", bindings).c_str(),
          [type, bindings](benchmark::State& state) {
            double seconds = 0;
            for (auto _ : state) {
              seconds = SecondsPerBind(type, bindings);
              state.SetIterationTime(seconds * bindings);
            }
            if (seconds < 0) {
              state.SkipWithError("QueueBind failed");
              return;
            }
            state.counters["us/bind"] = seconds * 1e6;
          })
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace warren_bench

int main(int argc, char** argv) {
  return warren_bench::BenchmarkMain(argc, argv, warren_bench::RegisterAll);
}
