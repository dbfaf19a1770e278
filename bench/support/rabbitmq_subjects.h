// RabbitMQ over loopback through rabbitmq-c, the broker whose semantics
// warren has, in warren's shapes: a connection per producer and per
// consumer, amq.direct or a fanout exchange, no_ack consumers or manual
// acks under basic.qos. Needs a broker at amqp://guest:guest@127.0.0.1:5672/;
// without one every factory fails with an error saying so, and the
// benchmark is skipped.
//
// Owns the AMQP connections and the queues it declares (deleted when the
// subject goes). Must not use warren.
#ifndef WARREN_BENCH_SUPPORT_RABBITMQ_SUBJECTS_H_
#define WARREN_BENCH_SUPPORT_RABBITMQ_SUBJECTS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "support/harness.h"

namespace warren_bench {

std::unique_ptr<Subject> MakeRabbitSubject(const Shape& shape, bool manual_ack,
                                           uint16_t prefetch, std::string* error);

// 64 B pings to a consumer blocked waiting for basic.deliver.
std::unique_ptr<Pinger> MakeRabbitPinger(std::string* error);

}  // namespace warren_bench

#endif  // WARREN_BENCH_SUPPORT_RABBITMQ_SUBJECTS_H_
