// The baselines a user could pick instead of a bus, in warren's shapes: the
// raw moodycamel ConcurrentQueue (the ceiling every warren figure is read
// against; spinning consumers, payloads copied by value, no allocation, no
// tokens), the same with tokens and bulk operations (what a batch API could
// reach), and the mutex + deque + condition variable queue users write by
// hand.
//
// Owns these queues and their consumer threads. Must not use warren: they
// are what warren is measured against.
#ifndef WARREN_BENCH_SUPPORT_RAW_QUEUES_H_
#define WARREN_BENCH_SUPPORT_RAW_QUEUES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "support/harness.h"

namespace warren_bench {

// Each producer enqueues every message into each of shape.fanout queues;
// consumers spin on try_dequeue. Bodies of 64 B and 4 KiB only.
std::unique_ptr<Subject> MakeRawQueueSubject(const Shape& shape, std::string* error);

// One producer and one consumer moving bulks of 32 with producer and
// consumer tokens.
std::unique_ptr<Subject> MakeRawBulkQueueSubject(const Shape& shape, std::string* error);

// Consumers block on the condition variable; producers notify on every
// message. Only shapes with fanout 1.
std::unique_ptr<Subject> MakeMutexQueueSubject(const Shape& shape, std::string* error);

// 64 B pings through a ConcurrentQueue to a consumer spinning on it.
std::unique_ptr<Pinger> MakeRawSpinningPinger(std::string* error);
// 64 B pings through a moodycamel BlockingConcurrentQueue whose consumer
// sleeps in wait_dequeue: the raw cost of waking a thread.
std::unique_ptr<Pinger> MakeRawBlockingPinger(std::string* error);
// 64 B pings through the mutex + condition variable queue.
std::unique_ptr<Pinger> MakeMutexPinger(std::string* error);

// One thread enqueues and dequeues `n` 64 B payloads: the raw cost of
// handing over a message, without a second thread, for single-threaded
// figures such as routing cost per publish.
void RawEnqueueDequeue(int64_t n);

}  // namespace warren_bench

#endif  // WARREN_BENCH_SUPPORT_RAW_QUEUES_H_
