// Queue: one AMQP queue's state — ready messages in order (per priority
// level), consumers and their credit, length limits, TTL expiry — and the
// dispatch of its messages to consumers.
//
// Publishers hand messages to a lock-free intake (a moodycamel
// ConcurrentQueue; one producer token per channel keeps each channel's order)
// and signal the queue. Whoever raises the signal count from zero becomes the
// queue's owner and drains the intake into the ordered structure under the
// queue's lock, dispatching to consumers, until no signal is left; other
// publishers return at once. Every other operation takes the lock, draining
// the intake first, so it sees every publish that happened before it.
//
// Owns the messages it holds and the consumer list. It must not touch
// channel state (tags, unacked records): it hands deliveries to each
// consumer's DeliverySink, and it must not route: dead letters and expiry
// timers go to its QueueHost.
//
// Under a seeded dispatcher (QueueHost::DeliversInTurns) the queue still
// decides every delivery at once, but hands each to its channel in a
// delivery turn of its own, one per turn (delivery_turns.cc), so that the
// seed decides how the deliveries of several queues interleave, as
// RabbitMQ's queues, each a process, send to a channel in any interleaving
// while each keeps its order.
//
// For the test kit (lib/testing/) it also shows copies of its ready messages
// and of its consumers' state, taken under its lock without changing either.
#ifndef WARREN_LIB_QUEUE_QUEUE_H_
#define WARREN_LIB_QUEUE_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "absl/time/time.h"
#include "concurrentqueue/concurrentqueue.h"
#include "queue/consumer.h"
#include "queue/envelope.h"
#include "queue/queue_arguments.h"
#include "warren/clock.h"
#include "warren/field_table.h"
#include "warren/stats.h"

namespace warren::queue {

enum class DeadLetterReason { kRejected, kExpired, kMaxLen, kDeliveryLimit };

struct DeadLetter {
  Envelope envelope;
  DeadLetterReason reason;
};

class Queue;

// What a queue needs from its virtual host.
class QueueHost {
 public:
  virtual ~QueueHost() = default;
  virtual Clock& clock() = 0;
  // Republishes `letters` through the queue's dead-letter exchange. Called
  // with no queue lock held.
  virtual void DeadLetter(const Queue& from, std::vector<queue::DeadLetter> letters) = 0;
  // Calls queue->OnTimer() at `at` or soon after, unless the queue is gone.
  virtual void ScheduleTimer(std::weak_ptr<Queue> queue, absl::Time at) = 0;
  // Deletes `queue` from the topology (auto-delete, x-expires).
  virtual void DeleteUnused(const std::shared_ptr<Queue>& queue) = 0;
  // The bodies the queue holds (ready and unacked) grew by `delta` bytes
  // (shrank, when negative). Called with the queue's lock held: must only
  // take leaf locks.
  virtual void MemoryChanged(int64_t delta) = 0;
  // True when the queue is to hand its deliveries to channels only in
  // delivery turns it asks for (BrokerOptions::dispatch_seed). Asked once,
  // when the queue is made.
  virtual bool DeliversInTurns() { return false; }
  // Calls queue->RunDeliveryTurn() later, unless the queue is gone. Called
  // with the queue's lock held: must only take leaf locks.
  virtual void ScheduleDeliveryTurn(std::weak_ptr<Queue> /*queue*/) {}
};

struct QueueConfig {
  std::string name;
  bool durable = false;
  bool auto_delete = false;
  uint64_t exclusive_owner = 0;  // connection id, 0 when not exclusive
  FieldTable arguments;
  QueueArguments policy;
};

// How a settled delivery leaves its channel.
enum class Settlement { kAck, kRequeue, kDeadLetter };

struct Unsettled {
  Envelope envelope;
  std::shared_ptr<Consumer> consumer;  // null for basic.get
};

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  using ProducerToken = moodycamel::ProducerToken;

  Queue(uint32_t id, QueueConfig config, QueueHost* host);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  uint32_t id() const { return id_; }
  const QueueConfig& config() const { return config_; }
  bool deleted() const { return deleted_.load(std::memory_order_acquire); }

  // A token for one publishing channel; must not outlive the queue.
  std::unique_ptr<ProducerToken> NewProducerToken();

  // Takes `envelopes`, in order, leaving them moved-from (a confirm is
  // settled when the queue accepts or refuses its message). Lock-free
  // unless this thread becomes the owner.
  void Publish(std::span<Envelope> envelopes, ProducerToken* token);
  void Publish(Envelope envelope, ProducerToken* token) {
    Publish(std::span<Envelope>(&envelope, 1), token);
  }

  struct Counts {
    uint32_t messages = 0;  // ready
    uint32_t consumers = 0;
  };
  Counts GetCounts();

  // basic.get: the head and the number of ready messages left after it.
  // Unless `no_ack`, the message stays the queue's (unacked) until settled.
  struct Got {
    Envelope envelope;
    uint32_t message_count = 0;
  };
  std::optional<Got> Get(bool no_ack);

  uint32_t Purge();

  // Errors: 403 ACCESS_REFUSED for exclusivity conflicts.
  absl::Status AddConsumer(std::shared_ptr<Consumer> consumer);
  // Removes the consumer; an auto-delete queue that has lost its last
  // consumer deletes itself.
  void RemoveConsumer(const Consumer* consumer);

  // Applies `how` to deliveries of this queue that a channel settled, in tag
  // order, returning their credit to their consumers.
  void Settle(absl::Span<Unsettled> deliveries, Settlement how);

  // queue.delete: errors 406 for if_unused/if_empty conflicts. Returns the
  // number of ready messages dropped. Cancels the consumers.
  absl::StatusOr<uint32_t> Delete(bool if_unused, bool if_empty);

  // Marks the queue as used now (for x-expires).
  void Touch();

  // Expiry timers land here.
  void OnTimer();

  // The ready messages in the order consumers would get them (highest
  // priority first, then by position): a copy, for inspection. Messages a
  // racing publisher has put in the intake but no owner has drained yet are
  // not shown, and nothing expires or moves.
  std::vector<Envelope> ReadyMessages();

  // A consumer's state as the queue sees it, for inspection.
  struct ConsumerState {
    std::string tag;
    int64_t priority = 0;
    uint32_t prefetch = 0;
    uint32_t unacked = 0;
    bool no_ack = false;
    bool exclusive = false;
  };
  // In the order the queue tries them.
  std::vector<ConsumerState> Consumers();

  // What Broker::Stats reports of this queue (all but vhost and name).
  QueueStats Stats();

  // Asks for a dispatch pass (a consumer's credit was freed elsewhere).
  // Runs it on this thread unless another thread owns the queue right now.
  void Kick();

  // Delivering in turns: hands the oldest delivery decided but not yet
  // handed over to its channel, and asks for another turn while any is
  // left. A delivery whose channel has closed meanwhile is requeued (one
  // to a no_ack consumer is lost with its channel, as in RabbitMQ).
  void RunDeliveryTurn();

  // Cancels `consumer` from the broker's side, as when its queue goes away:
  // what the queue already decided to deliver reaches the channel first,
  // then the consumer is removed (RemoveConsumer) and its channel told.
  void CancelConsumer(const std::shared_ptr<Consumer>& consumer);

 private:
  struct Level {
    std::deque<Envelope> messages;  // ascending position
  };
  using DeadLetters = std::vector<DeadLetter>;

  // The owner's loop (see the top of this file): drains, accepts `arriving`
  // after what the intake held, and dispatches, until no signal is left.
  void OwnUntilIdle(std::span<Envelope> arriving);
  // Delivering in turns: hands over all of outbox_, and requeues what
  // closed channels refused: a cancel or a delete must follow what was
  // sent before it.
  void HandOverAll();

  // Everything below runs with mu_ held.
  void DrainIntakeLocked(DeadLetters* dead);
  void AcceptLocked(Envelope envelope, DeadLetters* dead);
  void InsertLocked(Envelope envelope);
  // RabbitMQ's will_overflow: would one more message of `body_size` bytes
  // exceed a limit?
  bool WouldOverflowLocked(size_t body_size) const;
  bool OverLimitLocked() const;
  // x-overflow drop-head: dead-letters heads (reason maxlen) while over a
  // limit.
  void DropHeadsOverLimitLocked(DeadLetters* dead);
  Envelope PopHeadLocked();
  // Keeps the counts right for a ready message that leaves.
  void ForgetReadyLocked(const Envelope& leaving);
  // A message leaves the queue for its host to dead-letter (or drop, when
  // the queue has no dead-letter exchange).
  void LeaveLocked(Envelope envelope, DeadLetterReason reason, DeadLetters* dead);
  // Tells the host how the bodies held changed since the last call.
  void ReportMemoryLocked();
  void ClearReadyLocked();
  // The envelope as a consumer gets it (quorum: with x-delivery-count).
  Envelope Outgoing(Envelope envelope) const;
  void ExpireHeadsLocked(DeadLetters* dead);
  void DispatchLocked();
  // The index in consumers_ of the consumer that gets the next message.
  std::optional<size_t> PickConsumerLocked();
  // Hands `envelope` to consumers_[index] (or holds it, delivering in
  // turns) and moves that consumer behind its equals in priority.
  void DeliverLocked(size_t index, Envelope envelope);
  // Delivering in turns: puts the delivery in outbox_ (delivery_turns.cc,
  // like the other members about turns).
  void HoldForDeliveryTurnLocked(const std::shared_ptr<Consumer>& consumer, Envelope&& envelope);
  // Delivering in turns: schedules a turn unless one is scheduled or
  // nothing waits in outbox_.
  void RequestDeliveryTurnLocked();
  // Hands the head of outbox_ to its channel; returns it when the channel
  // closed meanwhile and the delivery awaits an ack, for Settle to requeue.
  std::optional<Unsettled> HandOverOldestLocked();
  // After a locked section: timers and dead letters, with mu_ released.
  void AfterUnlock(DeadLetters dead, std::optional<absl::Time> timer);
  std::optional<absl::Time> TimerNeededLocked();
  bool UnusedLocked() const;

  const uint32_t id_;
  const QueueConfig config_;
  QueueHost* const host_;
  const bool delivers_in_turns_;
  moodycamel::ConcurrentQueue<Envelope> intake_;
  std::atomic<uint64_t> signals_{0};
  std::atomic<bool> deleted_{false};

  std::mutex mu_;
  std::vector<Envelope> intake_batch_;  // drained from intake_, then accepted
  std::vector<Level> levels_;  // by priority, lowest first
  uint64_t ready_count_ = 0;
  uint64_t ready_bytes_ = 0;
  uint64_t expiring_ready_ = 0;  // ready messages with an expiry time
  uint64_t unacked_count_ = 0;   // delivered or got, not settled
  uint64_t unacked_bytes_ = 0;
  int64_t reported_bytes_ = 0;   // ready and unacked bytes as last reported
  QueueStats counters_;          // the counters only; the rest is computed
  uint64_t next_position_ = 1;
  std::vector<std::shared_ptr<Consumer>> consumers_;  // by priority, then turn
  // Delivering in turns: deliveries decided, oldest first, not yet handed
  // to their channels (those from outbox_head_ on: a vector, which unlike a
  // deque allocates nothing for the queues that never use it), and whether
  // a turn to hand one over is scheduled.
  std::vector<Unsettled> outbox_;
  size_t outbox_head_ = 0;
  bool delivery_turn_scheduled_ = false;
  bool had_consumer_ = false;
  absl::Time last_used_;
  std::optional<absl::Time> timer_at_;  // earliest timer scheduled
};

}  // namespace warren::queue

#endif  // WARREN_LIB_QUEUE_QUEUE_H_
