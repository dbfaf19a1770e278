// warren in the benchmark shapes, through its public API only: a broker,
// one exchange of the chosen type, shape.fanout queues bound to it, a
// channel per producer and per consumer, and consumers that count
// deliveries in their callbacks. The same code runs against RabbitMQ
// through warren's amqp:// backend when given a URL.
//
// Owns the setup of these brokers. Must not reach into lib/: what is
// measured is what an application gets.
#ifndef WARREN_BENCH_SUPPORT_WARREN_SUBJECTS_H_
#define WARREN_BENCH_SUPPORT_WARREN_SUBJECTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "support/harness.h"
#include "warren/channel.h"

namespace warren_bench {

// RabbitMQ on this machine, as scripts/rabbitmq starts it.
inline constexpr std::string_view kRabbitUrl = "amqp://guest:guest@127.0.0.1:5672/";

struct WarrenConfig {
  Shape shape;
  // Empty: an in-process broker of the subject's own. Otherwise the
  // amqp:// URL of a RabbitMQ, reached through warren::Connect; the
  // subject deletes what it declared there when it goes.
  std::string url;
  std::string_view exchange_type = warren::kDirect;
  // Manual acks, one BasicAck per delivery from the callback, under
  // BasicQos(prefetch); otherwise no_ack consumers.
  bool manual_ack = false;
  uint16_t prefetch = 100;
  // Dispatch::kManual with a consumer thread that calls ProcessEvents() in
  // a loop: an awake consumer that drains every ready callback per call.
  // Otherwise the default: callbacks on the broker's thread pool, whose
  // threads sleep on a condition variable when idle.
  bool spinning_consumer = false;
  // A new Message (and body) for every publish, as an application that
  // builds each message does; otherwise one Message is published again and
  // again, its body shared.
  bool fresh_message = false;
  // Publishes through BasicPublishBatch, this many messages a call (the
  // same Message, its body shared); 1 publishes one BasicPublish a message.
  int publish_batch = 1;
};

std::unique_ptr<Subject> MakeWarrenSubject(const WarrenConfig& config, std::string* error);

// 64 B pings through a direct exchange to one consumer: with a spinning
// consumer as above, or on the default thread pool; to the broker at `url`
// when it is not empty (RabbitMQ, where only the thread pool applies).
std::unique_ptr<Pinger> MakeWarrenPinger(bool spinning_consumer, std::string_view url,
                                         std::string* error);

}  // namespace warren_bench

#endif  // WARREN_BENCH_SUPPORT_WARREN_SUBJECTS_H_
