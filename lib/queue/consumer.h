// Consumer: a basic.consume as its queue sees it, and DeliverySink, the
// channel-side interface the queue pushes deliveries through.
//
// The queue owns the dispatch decision (which consumer, credit); the channel
// owns delivery tags, unacked records and running the callback. Neither
// reaches into the other's state.
#ifndef WARREN_LIB_QUEUE_CONSUMER_H_
#define WARREN_LIB_QUEUE_CONSUMER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "queue/envelope.h"
#include "warren/channel.h"

namespace warren::broker {
class LatencyHistogram;
}  // namespace warren::broker

namespace warren::queue {

class Queue;
struct Consumer;

class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  // Channel-wide prefetch (basic.qos global): takes one slot if one is free.
  virtual bool TryTakeChannelCredit() = 0;
  // Records the delivery (a tag; an unacked entry unless no_ack) and posts the
  // consumer's callback. `queue` is null for a direct reply-to delivery.
  // Called with the queue's lock held: must only take leaf locks.
  virtual void Deliver(const std::shared_ptr<Consumer>& consumer, Queue* queue,
                       Envelope envelope) = 0;
  // Deliver, for a delivery its queue decided earlier and hands over only
  // now (in delivery turns, see QueueHost::DeliversInTurns): false, leaving
  // `envelope` as it was unless the consumer is no_ack, when the channel
  // has closed meanwhile. Called with the queue's lock held.
  virtual bool DeliverIfOpen(const std::shared_ptr<Consumer>& consumer, Queue* queue,
                             Envelope& envelope) = 0;
  // The broker cancelled the consumer (its queue went away).
  virtual void Cancelled(const std::shared_ptr<Consumer>& consumer) = 0;
};

struct Consumer {
  std::string tag;
  bool no_ack = false;
  bool exclusive = false;
  int64_t priority = 0;   // x-priority
  uint32_t prefetch = 0;  // per-consumer limit, 0 for none
  uint32_t unacked = 0;   // guarded by the queue's lock
  std::shared_ptr<DeliverySink> sink;
  ConsumerCallback callback;
  std::function<void(std::string_view)> on_cancel;
  // What the callback is handed, refilled for each delivery so that a
  // delivery allocates nothing. Only the channel's mailbox, which runs one
  // callback at a time, touches it.
  Delivery shown;

  // Deliveries whose callback has not run yet are bounded, as RabbitMQ's
  // credit flow bounds what a queue sends ahead to a channel: past
  // kMailboxCredit the queue keeps the consumer's messages ready (counted,
  // and subject to its limits and TTLs) until the callbacks catch up.
  // Counted when the channel is handed a delivery (ChannelCore::Deliver), or
  // when a queue holds one for a delivery turn, as it is on its way.
  static constexpr uint32_t kMailboxCredit = 1000;
  std::atomic<uint32_t> in_mailbox{0};
  std::atomic<bool> starved{false};  // the queue held a message back
  std::weak_ptr<Queue> queue;        // kicked when the callbacks catch up
  // Where sampled publish-to-callback latencies go; the broker's, which
  // outlives every callback.
  broker::LatencyHistogram* latency = nullptr;

  // Asked by the queue before each delivery. A refusal marks the consumer
  // starved; marking, then looking again, makes sure that either this
  // sees the room the mailbox made or MailboxRan sees the mark.
  bool HasMailboxRoom() {
    if (in_mailbox.load(std::memory_order_relaxed) < kMailboxCredit) return true;
    starved.store(true);
    return in_mailbox.load() < kMailboxCredit;
  }
  // Called by the channel after each callback; true when the queue held
  // messages back and should now dispatch again.
  bool MailboxRan() {
    const uint32_t left = in_mailbox.fetch_sub(1) - 1;
    return left <= kMailboxCredit / 2 && starved.load() && starved.exchange(false);
  }
};

}  // namespace warren::queue

#endif  // WARREN_LIB_QUEUE_CONSUMER_H_
