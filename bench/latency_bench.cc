// Publish-to-handler latency, one message in flight: median, p99 and p99.9
// as counters, each next to its raw counterpart from the same run.
//   awake/: the consumer is running when the message arrives. For the raw
//     queue, a thread spinning on try_dequeue; for warren, whose thread
//     pool parks its threads when idle, Dispatch::kManual with a thread
//     spinning on ProcessEvents() (user code spinning, as the raw consumer).
//   sleeping/: the consumer is parked and must be woken: warren's default
//     thread pool against moodycamel's BlockingConcurrentQueue, with the
//     mutex + condition variable queue, ZeroMQ and RabbitMQ (through
//     warren's amqp:// backend, and through rabbitmq-c alone) beside them.
//
// Owns only the list of cases; the pingers live in support/.
#include <string>

#include "benchmark/benchmark.h"
#include "support/harness.h"
#include "support/rabbitmq_subjects.h"
#include "support/raw_queues.h"
#include "support/warren_subjects.h"
#include "support/zmq_subjects.h"

namespace warren_bench {
namespace {

// Phases per benchmark (a phase is 2,000 awake or 500 sleeping pings).
constexpr int kPhases = 6;

void Register(const std::string& name, PingerFactory subject, PingerFactory reference) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [=](benchmark::State& state) {
                                 CompareLatency(state, subject, reference);
                               })
      ->UseManualTime()
      ->Iterations(kPhases)
      ->Unit(benchmark::kMicrosecond);
}

void RegisterAll() {
  Register("latency/awake/raw", MakeRawSpinningPinger, nullptr);
  Register("latency/awake/warren",
           [](std::string* error) { return MakeWarrenPinger(/*spinning_consumer=*/true, /*url=*/"", error); },
           MakeRawSpinningPinger);
  Register("latency/sleeping/raw_blocking", MakeRawBlockingPinger, nullptr);
  Register("latency/sleeping/warren",
           [](std::string* error) { return MakeWarrenPinger(/*spinning_consumer=*/false, /*url=*/"", error); },
           MakeRawBlockingPinger);
  Register("latency/sleeping/mutex_condvar", MakeMutexPinger, MakeRawBlockingPinger);
  Register("latency/sleeping/zmq_push_pull", MakeZmqPinger, MakeRawBlockingPinger);
  Register("latency/sleeping/rabbitmq",
           [](std::string* error) {
             return MakeWarrenPinger(/*spinning_consumer=*/false, kRabbitUrl, error);
           },
           MakeRawBlockingPinger);
  Register("latency/sleeping/rabbitmq_c", MakeRabbitPinger, MakeRawBlockingPinger);
}

}  // namespace
}  // namespace warren_bench

int main(int argc, char** argv) {
  return warren_bench::BenchmarkMain(argc, argv, warren_bench::RegisterAll);
}
