// Publish-to-consume throughput: warren for each exchange type, body size,
// ack mode and producer x consumer shape, next to the baselines in the same
// shapes (raw moodycamel queue, mutex + condition variable queue, ZeroMQ,
// RabbitMQ over loopback through warren's amqp:// backend, and through
// rabbitmq-c alone to show what the backend adds); a sweep over consumers;
// fanout widths. Each
// benchmark runs its raw-queue counterpart alternately with it and reports
// the ratio as the counter vs_raw.
//
// Names: <group>/<transport>[/<exchange>/<ack>]/<size>/<producers>x<consumers>[/fanout<n>].
// Owns only the list of cases; the transports live in support/.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "support/harness.h"
#include "support/rabbitmq_subjects.h"
#include "support/raw_queues.h"
#include "support/warren_subjects.h"
#include "support/zmq_subjects.h"

namespace warren_bench {
namespace {

constexpr uint16_t kPrefetch = 100;

void Register(const std::string& name, SubjectFactory subject, SubjectFactory reference,
              size_t body_bytes) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [=](benchmark::State& state) {
                                 CompareThroughput(state, subject, reference, body_bytes,
                                                   "vs_raw", RatioOf::kRate);
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

// RabbitMQ through warren's amqp:// backend: the same subject as warren's
// own, pointed at the broker by its URL, as an application moves a module
// out.
SubjectFactory Rabbit(const Shape& shape, bool manual_ack,
                      std::string_view exchange_type = warren::kDirect) {
  return Warren({.shape = shape,
                 .url = std::string(kRabbitUrl),
                 .exchange_type = exchange_type,
                 .manual_ack = manual_ack,
                 .prefetch = kPrefetch});
}

// RabbitMQ through rabbitmq-c alone.
SubjectFactory RabbitC(const Shape& shape, bool manual_ack) {
  return [shape, manual_ack](std::string* error) {
    return MakeRabbitSubject(shape, manual_ack, kPrefetch, error);
  };
}

// Every exchange type, ack mode and baseline for one shape.
void RegisterShape(const Shape& shape) {
  const std::string at = shape.Name();
  const size_t bytes = shape.body_bytes;
  Register(absl::StrCat("throughput/raw/", at), Raw(shape), nullptr, bytes);
  for (std::string_view type : {warren::kDirect, warren::kFanout, warren::kTopic,
                                warren::kHeaders}) {
    for (bool manual_ack : {false, true}) {
      Register(absl::StrCat("throughput/warren/", std::string(type), "/",
                            manual_ack ? "manual_prefetch100" : "auto", "/", at),
               Warren({.shape = shape, .exchange_type = type, .manual_ack = manual_ack,
                       .prefetch = kPrefetch}),
               Raw(shape), bytes);
    }
  }
  Register(absl::StrCat("throughput/mutex_condvar/", at),
           [shape](std::string* error) { return MakeMutexQueueSubject(shape, error); },
           Raw(shape), bytes);
  Register(absl::StrCat("throughput/zmq_push_pull/", at),
           [shape](std::string* error) { return MakeZmqPushPullSubject(shape, error); },
           Raw(shape), bytes);
  Register(absl::StrCat("throughput/rabbitmq/auto/", at), Rabbit(shape, false), Raw(shape), bytes);
  Register(absl::StrCat("throughput/rabbitmq/manual_prefetch100/", at), Rabbit(shape, true),
           Raw(shape), bytes);
}

// Variants of the 1x1 64 B case that say where warren's time goes.
void RegisterVariants() {
  const Shape shape{.body_bytes = 64};
  // No raw queue runs beside it: for profilers (see README.md).
  Register("variant/warren/direct/alone/64B/1x1", Warren({.shape = shape}), nullptr, 64);
  Register("variant/warren/direct/fresh_message/64B/1x1",
           Warren({.shape = shape, .fresh_message = true}), Raw(shape), 64);
  Register("variant/warren/direct/spinning_consumer/64B/1x1",
           Warren({.shape = shape, .spinning_consumer = true}), Raw(shape), 64);
  // BasicPublishBatch, 256 messages a call, to the default thread pool and
  // to a consumer thread draining with ProcessEvents().
  Register("variant/warren/direct/batch256/64B/1x1",
           Warren({.shape = shape, .publish_batch = 256}), Raw(shape), 64);
  Register("variant/warren/direct/batch256_spinning_consumer/64B/1x1",
           Warren({.shape = shape, .spinning_consumer = true, .publish_batch = 256}), Raw(shape),
           64);
  // What warren's amqp:// backend costs over rabbitmq-c alone.
  Register("variant/rabbitmq_c/auto/64B/1x1", RabbitC(shape, false), Raw(shape), 64);
  Register("variant/rabbitmq_c/manual_prefetch100/64B/1x1", RabbitC(shape, true), Raw(shape), 64);
  Register("variant/raw_bulk32_tokens/64B/1x1",
           [shape](std::string* error) { return MakeRawBulkQueueSubject(shape, error); },
           Raw(shape), 64);
}

// One producer, 1 to 8 competing consumers on one queue: the plot's
// throughput-against-consumers curve.
void RegisterConsumerSweep() {
  for (int consumers : {1, 2, 4, 8}) {
    const Shape shape{.consumers = consumers, .body_bytes = 64};
    const std::string at = shape.Name();
    Register(absl::StrCat("consumers/raw/", at), Raw(shape), nullptr, 64);
    Register(absl::StrCat("consumers/warren/", at), Warren({.shape = shape}), Raw(shape), 64);
    Register(absl::StrCat("consumers/mutex_condvar/", at),
             [shape](std::string* error) { return MakeMutexQueueSubject(shape, error); },
             Raw(shape), 64);
    Register(absl::StrCat("consumers/zmq_push_pull/", at),
             [shape](std::string* error) { return MakeZmqPushPullSubject(shape, error); },
             Raw(shape), 64);
    Register(absl::StrCat("consumers/rabbitmq/", at), Rabbit(shape, false), Raw(shape), 64);
  }
}

// One message to 1, 8 and 64 queues, one consumer draining them all. At
// 4 KiB, a delivered-bytes rate above what copying could reach shows the
// body is shared.
void RegisterFanout() {
  for (size_t bytes : {size_t{64}, size_t{4096}}) {
    for (int fanout : {1, 8, 64}) {
      const Shape shape{.body_bytes = bytes, .fanout = fanout};
      const std::string at = absl::StrCat(Shape{.body_bytes = bytes}.Name(), "/fanout", fanout);
      Register(absl::StrCat("fanout/raw/", at), Raw(shape), nullptr, bytes);
      Register(absl::StrCat("fanout/warren/", at),
               Warren({.shape = shape, .exchange_type = warren::kFanout}), Raw(shape), bytes);
      Register(absl::StrCat("fanout/zmq_pub_sub/", at),
               [shape](std::string* error) { return MakeZmqPubSubSubject(shape, error); },
               Raw(shape), bytes);
      Register(absl::StrCat("fanout/rabbitmq/", at), Rabbit(shape, false, warren::kFanout),
               Raw(shape), bytes);
    }
  }
}

void RegisterAll() {
  for (size_t bytes : {size_t{64}, size_t{4096}}) {
    for (auto [producers, consumers] : std::vector<std::pair<int, int>>{{1, 1}, {4, 1}, {1, 4},
                                                                         {4, 4}}) {
      RegisterShape({.producers = producers, .consumers = consumers, .body_bytes = bytes});
    }
  }
  RegisterVariants();
  RegisterConsumerSweep();
  RegisterFanout();
}

}  // namespace
}  // namespace warren_bench

int main(int argc, char** argv) {
  return warren_bench::BenchmarkMain(argc, argv, warren_bench::RegisterAll);
}
