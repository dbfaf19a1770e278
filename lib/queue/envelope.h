// Envelope: one message as a queue holds it. The Publication (body,
// properties, exchange and routing key) is shared by every queue a publish
// reached; the envelope adds what is per queue: position, redelivery, expiry.
//
// Owns nothing but these values; it must not know channels or routing.
#ifndef WARREN_LIB_QUEUE_ENVELOPE_H_
#define WARREN_LIB_QUEUE_ENVELOPE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "warren/message.h"

namespace warren::queue {

// What one basic.publish carried.
struct Publication {
  std::string exchange;
  std::string routing_key;
  Message message;
  // Monotonic nanoseconds at basic.publish, for the messages whose latency
  // is sampled; 0 otherwise.
  int64_t published_at_ns = 0;
};

// A publisher confirm waiting for every queue the publish reached. The last
// queue to accept or refuse the message fires it, from whichever thread that
// is: a nack if any queue refused it.
class PendingConfirm {
 public:
  PendingConfirm(int queues, absl::AnyInvocable<void(bool ack) &&> done)
      : remaining_(queues), done_(std::move(done)) {}

  void Settle(bool accepted) {
    if (!accepted) refused_.store(true, std::memory_order_relaxed);
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::move(done_)(!refused_.load(std::memory_order_relaxed));
    }
  }

 private:
  std::atomic<int> remaining_;
  std::atomic<bool> refused_{false};
  absl::AnyInvocable<void(bool ack) &&> done_;
};

struct Envelope {
  std::shared_ptr<const Publication> publication;
  // What a consumer is shown, when it differs from what the queue keeps
  // (quorum queues add x-delivery-count); null otherwise.
  std::shared_ptr<const Publication> shown;
  // Set while the message waits in a queue's intake; settled when the queue
  // takes or refuses it.
  std::shared_ptr<PendingConfirm> confirm;
  // Order within the queue: requeued messages go back to their position.
  uint64_t position = 0;
  bool redelivered = false;
  absl::Time expires_at = absl::InfiniteFuture();
  // Times it came back from a consumer (quorum queues count them).
  uint32_t returns = 0;
};

}  // namespace warren::queue

#endif  // WARREN_LIB_QUEUE_ENVELOPE_H_
