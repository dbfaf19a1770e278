// ZeroMQ inproc, the best-known in-process peer, in warren's shapes:
// PUSH/PULL for producers and competing consumers, PUB/SUB for fanout.
// Consumers block in zmq_recv/zmq_poll as ZeroMQ applications do.
//
// Owns the ZeroMQ contexts and sockets. Must not use warren.
#ifndef WARREN_BENCH_SUPPORT_ZMQ_SUBJECTS_H_
#define WARREN_BENCH_SUPPORT_ZMQ_SUBJECTS_H_

#include <memory>
#include <string>

#include "support/harness.h"

namespace warren_bench {

// Each producer's PUSH socket connects to every consumer's PULL socket and
// deals messages among them. Only shapes with fanout 1.
std::unique_ptr<Subject> MakeZmqPushPullSubject(const Shape& shape, std::string* error);

// One PUB socket, shape.fanout SUB sockets (each a queue), no high-water
// mark (PUB drops at it). Only shapes with one producer.
std::unique_ptr<Subject> MakeZmqPubSubSubject(const Shape& shape, std::string* error);

// 64 B pings over PUSH/PULL to a consumer blocked in zmq_recv.
std::unique_ptr<Pinger> MakeZmqPinger(std::string* error);

}  // namespace warren_bench

#endif  // WARREN_BENCH_SUPPORT_ZMQ_SUBJECTS_H_
