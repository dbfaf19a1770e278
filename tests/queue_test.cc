// tests/queue_test.cc: one AMQP queue (lib/queue/queue.*) on its own: order,
// priorities, consumers and credit, length limits, TTL, expiry, deletion,
// concurrent intake, and delivering in turns (under a seed). A fake QueueHost and fake DeliverySinks record what the
// queue asks of its virtual host and its channels; time moves only through a
// ManualClock, so nothing here sleeps.
#include "queue/queue.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue/consumer.h"
#include "queue/envelope.h"
#include "queue/queue_arguments.h"
#include "warren/clock.h"
#include "warren/field_table.h"
#include "warren/message.h"
#include "warren/status.h"

namespace warren::queue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Queue::Settle takes a span of what the channel took; tests list them.
void Settle(Queue& q, std::vector<Unsettled> deliveries, Settlement how) {
  q.Settle(absl::MakeSpan(deliveries), how);
}

class FakeHost : public QueueHost {
 public:
  // `delivers_in_turns`: as under a seeded dispatcher, the queue's delivery
  // turns wait here until RunDeliveryTurns.
  explicit FakeHost(bool delivers_in_turns = false) : delivers_in_turns_(delivers_in_turns) {}

  struct Letter {
    std::string body;
    DeadLetterReason reason;
  };
  struct Timer {
    std::weak_ptr<Queue> queue;
    absl::Time at;
  };

  Clock& clock() override { return clock_; }

  void DeadLetter(const Queue&, std::vector<queue::DeadLetter> letters) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (queue::DeadLetter& l : letters) {
      letters_.push_back({std::string(l.envelope.publication->message.body()), l.reason});
    }
  }

  void ScheduleTimer(std::weak_ptr<Queue> queue, absl::Time at) override {
    std::lock_guard<std::mutex> lock(mu_);
    timers_.push_back({std::move(queue), at});
  }

  void DeleteUnused(const std::shared_ptr<Queue>& queue) override {
    std::lock_guard<std::mutex> lock(mu_);
    deleted_unused_.push_back(queue.get());
  }

  void MemoryChanged(int64_t delta) override { held_bytes_ += delta; }
  int64_t held_bytes() const { return held_bytes_; }

  bool DeliversInTurns() override { return delivers_in_turns_; }
  void ScheduleDeliveryTurn(std::weak_ptr<Queue> queue) override {
    std::lock_guard<std::mutex> lock(mu_);
    turns_.push_back(std::move(queue));
  }
  // Runs up to `limit` delivery turns, oldest first, the turns they schedule
  // included; returns how many ran.
  size_t RunDeliveryTurns(size_t limit = SIZE_MAX) {
    size_t ran = 0;
    for (; ran < limit; ++ran) {
      std::weak_ptr<Queue> next;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (turns_.empty()) break;
        next = std::move(turns_.front());
        turns_.erase(turns_.begin());
      }
      if (std::shared_ptr<Queue> q = next.lock()) q->RunDeliveryTurn();
    }
    return ran;
  }

  // Moves the clock and calls OnTimer for each timer that came due, as the
  // virtual host's TimerService does.
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    std::vector<Timer> due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto not_due = std::stable_partition(timers_.begin(), timers_.end(), [&](const Timer& t) {
        return t.at <= clock_.Now();
      });
      due.assign(timers_.begin(), not_due);
      timers_.erase(timers_.begin(), not_due);
    }
    for (Timer& t : due) {
      if (std::shared_ptr<Queue> q = t.queue.lock()) q->OnTimer();
    }
  }

  std::vector<Letter> letters() {
    std::lock_guard<std::mutex> lock(mu_);
    return letters_;
  }
  std::vector<absl::Time> timer_times() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<absl::Time> at;
    for (const Timer& t : timers_) at.push_back(t.at);
    return at;
  }
  std::vector<const Queue*> deleted_unused() {
    std::lock_guard<std::mutex> lock(mu_);
    return deleted_unused_;
  }

  ManualClock clock_;

 private:
  const bool delivers_in_turns_;
  std::atomic<int64_t> held_bytes_{0};
  std::mutex mu_;
  std::vector<std::weak_ptr<Queue>> turns_;
  std::vector<Letter> letters_;
  std::vector<Timer> timers_;
  std::vector<const Queue*> deleted_unused_;
};

class FakeSink : public DeliverySink {
 public:
  struct Delivered {
    std::string tag;
    std::string body;
    bool redelivered;
    Unsettled unsettled;
  };

  // nullopt: no channel-wide prefetch.
  explicit FakeSink(std::optional<int> channel_credit = std::nullopt)
      : channel_credit_(channel_credit) {}

  bool TryTakeChannelCredit() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!channel_credit_) return true;
    if (*channel_credit_ == 0) return false;
    --*channel_credit_;
    return true;
  }

  void Deliver(const std::shared_ptr<Consumer>& consumer, Queue*, Envelope envelope) override {
    std::lock_guard<std::mutex> lock(mu_);
    delivered_.push_back({consumer->tag, std::string(envelope.publication->message.body()),
                          envelope.redelivered, Unsettled{envelope, consumer}});
    history_.push_back(consumer->tag + ":" + delivered_.back().body);
  }

  bool DeliverIfOpen(const std::shared_ptr<Consumer>& consumer, Queue* queue,
                     Envelope& envelope) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
    }
    Deliver(consumer, queue, envelope);
    return true;
  }

  // As a closed channel: DeliverIfOpen refuses.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

  void Cancelled(const std::shared_ptr<Consumer>& consumer) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(consumer->tag);
    history_.push_back("cancelled " + consumer->tag);
  }

  void GiveChannelCredit(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    *channel_credit_ += n;
  }
  std::vector<Delivered> delivered() {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const Delivered& d : delivered_) out.push_back(d.body);
    return out;
  }
  // "tag:body" per delivery, in delivery order.
  std::vector<std::string> tagged() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const Delivered& d : delivered_) out.push_back(d.tag + ":" + d.body);
    return out;
  }
  std::vector<std::string> cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }
  // Deliveries ("tag:body") and cancels ("cancelled tag") in the order the
  // channel heard of them.
  std::vector<std::string> history() {
    std::lock_guard<std::mutex> lock(mu_);
    return history_;
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  std::optional<int> channel_credit_;
  std::vector<Delivered> delivered_;
  std::vector<std::string> cancelled_;
  std::vector<std::string> history_;
};

struct QueueOptions {
  FieldTable arguments = {};
  bool auto_delete = false;
};

std::shared_ptr<Queue> NewQueue(FakeHost& host, QueueOptions options = {}) {
  absl::StatusOr<QueueArguments> policy = ParseQueueArguments(options.arguments, "q", "/");
  EXPECT_TRUE(policy.ok()) << policy.status();
  QueueConfig config{.name = "q",
                     .auto_delete = options.auto_delete,
                     .arguments = options.arguments,
                     .policy = policy.ok() ? *policy : QueueArguments{}};
  return std::make_shared<Queue>(1, std::move(config), &host);
}

Envelope NewEnvelope(std::string body, BasicProperties properties = {},
                     std::shared_ptr<PendingConfirm> confirm = nullptr) {
  return Envelope{.publication = std::make_shared<const Publication>(
                      Publication{"", "q", Message(std::move(body), std::move(properties))}),
                  .confirm = std::move(confirm)};
}

void Publish(Queue& q, std::string body, BasicProperties properties = {}) {
  q.Publish(NewEnvelope(std::move(body), std::move(properties)), nullptr);
}

BasicProperties WithPriority(uint8_t priority) {
  BasicProperties p;
  p.priority = priority;
  return p;
}

BasicProperties WithExpiration(std::string ms) {
  BasicProperties p;
  p.expiration = std::move(ms);
  return p;
}

struct ConsumerOptions {
  int64_t priority = 0;
  uint32_t prefetch = 0;
  bool no_ack = false;
  bool exclusive = false;
};

// The consumer does not own `sink`, which the test keeps for its whole
// length: the sink keeps each delivery's consumer (to settle it later), so
// owning it back would make a cycle that leaks both.
std::shared_ptr<Consumer> NewConsumer(std::string tag, const std::shared_ptr<FakeSink>& sink,
                                      ConsumerOptions options = {}) {
  auto c = std::make_shared<Consumer>();
  c->tag = std::move(tag);
  c->no_ack = options.no_ack;
  c->exclusive = options.exclusive;
  c->priority = options.priority;
  c->prefetch = options.prefetch;
  c->sink = std::shared_ptr<DeliverySink>(std::shared_ptr<DeliverySink>(), sink.get());
  return c;
}

// The bodies basic.get takes until the queue is empty.
std::vector<std::string> GetAll(Queue& q) {
  std::vector<std::string> bodies;
  while (std::optional<Queue::Got> got = q.Get(/*no_ack=*/false)) {
    bodies.emplace_back(got->envelope.publication->message.body());
  }
  return bodies;
}

std::vector<std::string> LetterBodies(FakeHost& host) {
  std::vector<std::string> bodies;
  for (const FakeHost::Letter& l : host.letters()) bodies.push_back(l.body);
  return bodies;
}

// A confirm whose outcome the test reads: nullopt until settled.
struct ConfirmProbe {
  std::shared_ptr<std::optional<bool>> outcome = std::make_shared<std::optional<bool>>();
  std::shared_ptr<PendingConfirm> confirm = std::make_shared<PendingConfirm>(
      1, [outcome = outcome](bool ack) { *outcome = ack; });
};

TEST(Queue, GetTakesMessagesInPublishOrder) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "a");
  Publish(*q, "b");
  Publish(*q, "c");
  EXPECT_THAT(GetAll(*q), ElementsAre("a", "b", "c"));
  EXPECT_FALSE(q->Get(/*no_ack=*/false).has_value());
}

TEST(Queue, CountsAndGetReportReadyMessagesLeft) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "a");
  Publish(*q, "b");
  Publish(*q, "c");
  EXPECT_EQ(q->GetCounts().messages, 3u);
  std::optional<Queue::Got> got = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->message_count, 2u);
  EXPECT_FALSE(got->envelope.redelivered);
  Queue::Counts counts = q->GetCounts();
  EXPECT_EQ(counts.messages, 2u);
  EXPECT_EQ(counts.consumers, 0u);
}

TEST(Queue, RequeueRestoresOriginalPositionAndMarksRedelivered) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "a");
  Publish(*q, "b");
  Publish(*q, "c");
  std::optional<Queue::Got> a = q->Get(/*no_ack=*/false);
  std::optional<Queue::Got> b = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(a && b);
  // Requeued out of order, they still go back ahead of "c", in their order.
  Settle(*q, {Unsettled{b->envelope, nullptr}}, Settlement::kRequeue);
  Settle(*q, {Unsettled{a->envelope, nullptr}}, Settlement::kRequeue);

  std::vector<std::pair<std::string, bool>> got;
  while (std::optional<Queue::Got> g = q->Get(/*no_ack=*/false)) {
    got.emplace_back(std::string(g->envelope.publication->message.body()),
                     g->envelope.redelivered);
  }
  EXPECT_THAT(got, ElementsAre(std::pair<std::string, bool>("a", true),
                               std::pair<std::string, bool>("b", true),
                               std::pair<std::string, bool>("c", false)));
}

TEST(Queue, AckedDeliveriesDoNotComeBack) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "a");
  Publish(*q, "b");
  std::optional<Queue::Got> a = q->Get(/*no_ack=*/false);
  std::optional<Queue::Got> b = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(a && b);
  Settle(*q, {Unsettled{a->envelope, nullptr}, Unsettled{b->envelope, nullptr}}, Settlement::kAck);
  EXPECT_EQ(q->GetCounts().messages, 0u);
  EXPECT_THAT(host.letters(), IsEmpty());
}

TEST(Queue, StatsCountEveryWayAMessageLeaves) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  for (const char* body : {"acked", "requeued", "rejected", "purged", "unacked"}) {
    Publish(*q, body);
  }
  std::optional<Queue::Got> acked = q->Get(/*no_ack=*/false);
  std::optional<Queue::Got> requeued = q->Get(/*no_ack=*/false);
  std::optional<Queue::Got> rejected = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(acked && requeued && rejected);
  Settle(*q, {Unsettled{acked->envelope, nullptr}}, Settlement::kAck);
  Settle(*q, {Unsettled{requeued->envelope, nullptr}}, Settlement::kRequeue);
  Settle(*q, {Unsettled{rejected->envelope, nullptr}}, Settlement::kDeadLetter);
  std::optional<Queue::Got> again = q->Get(/*no_ack=*/false);  // "requeued", redelivered
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(q->Purge(), 2u);  // "purged" and "unacked" were still ready
  const QueueStats stats = q->Stats();
  EXPECT_EQ(stats.published, 5u);
  EXPECT_EQ(stats.delivered, 4u);
  EXPECT_EQ(stats.acked, 1u);
  EXPECT_EQ(stats.requeued, 1u);
  EXPECT_EQ(stats.dead_lettered, 0u);
  EXPECT_EQ(stats.dropped, 3u);  // rejected without a dead-letter exchange, and the purge
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.unacked, 1u);
  EXPECT_EQ(stats.bytes, again->envelope.publication->message.body().size());
}

TEST(Queue, RejectedMessagesCountAsDeadLetteredWithADeadLetterExchange) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-dead-letter-exchange", "dlx"}}});
  Publish(*q, "m");
  std::optional<Queue::Got> got = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(got.has_value());
  Settle(*q, {Unsettled{got->envelope, nullptr}}, Settlement::kDeadLetter);
  EXPECT_EQ(q->Stats().dead_lettered, 1u);
  EXPECT_EQ(q->Stats().dropped, 0u);
}

TEST(Queue, ReportsTheBodiesItHoldsReadyOrUnackedToItsHost) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "12345");
  Publish(*q, "123");
  EXPECT_EQ(host.held_bytes(), 8);
  std::optional<Queue::Got> unacked = q->Get(/*no_ack=*/false);
  EXPECT_EQ(host.held_bytes(), 8);  // delivered but not settled
  std::optional<Queue::Got> gone = q->Get(/*no_ack=*/true);
  EXPECT_EQ(host.held_bytes(), 5);
  ASSERT_TRUE(unacked && gone);
  Settle(*q, {Unsettled{unacked->envelope, nullptr}}, Settlement::kAck);
  EXPECT_EQ(host.held_bytes(), 0);
}

TEST(Queue, KeepsMessagesReadyWhileAConsumersCallbacksLagAndResumesWhenTheyCatchUp) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> c = NewConsumer("c", sink, {.no_ack = true});
  c->queue = q;
  c->in_mailbox = Consumer::kMailboxCredit;  // as many callbacks as allowed wait to run
  ASSERT_TRUE(q->AddConsumer(c).ok());
  Publish(*q, "held back");
  EXPECT_THAT(sink->delivered(), IsEmpty());
  EXPECT_EQ(q->GetCounts().messages, 1u);
  // The callbacks run down to half the credit: the last one asks for more.
  bool kick = false;
  for (uint32_t i = 0; i < Consumer::kMailboxCredit / 2; ++i) kick = c->MailboxRan();
  EXPECT_TRUE(kick);
  q->Kick();
  ASSERT_EQ(sink->delivered().size(), 1u);
  EXPECT_EQ(sink->delivered()[0].body, "held back");
}

TEST(Queue, SettleDeadLetterHandsMessagesToHostAsRejected) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "a");
  Publish(*q, "b");
  std::optional<Queue::Got> a = q->Get(/*no_ack=*/false);
  std::optional<Queue::Got> b = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(a && b);
  Settle(*q, {Unsettled{a->envelope, nullptr}, Unsettled{b->envelope, nullptr}},
            Settlement::kDeadLetter);
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].body, "a");
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kRejected);
  EXPECT_EQ(letters[1].body, "b");
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

// Found by tests/fuzz/channel_ops_fuzzer.cc: a message nacked after its
// queue was deleted reappeared in the dead-letter queue.
TEST(Queue, SettleDeadLetterAfterDeleteDeadLettersNothing) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "a");
  std::optional<Queue::Got> a = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(a);
  ASSERT_TRUE(q->Delete(/*if_unused=*/false, /*if_empty=*/false).ok());
  Settle(*q, {Unsettled{a->envelope, nullptr}}, Settlement::kDeadLetter);
  EXPECT_TRUE(host.letters().empty());
}

TEST(Queue, PurgeDropsReadyMessagesWithoutDeadLettering) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-dead-letter-exchange", "dlx"}}});
  Publish(*q, "a");
  Publish(*q, "b");
  EXPECT_EQ(q->Purge(), 2u);
  EXPECT_EQ(q->GetCounts().messages, 0u);
  EXPECT_THAT(host.letters(), IsEmpty());
}

TEST(Queue, HigherPriorityMessagesGoFirst) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-priority", int32_t{10}}}});
  Publish(*q, "p1", WithPriority(1));
  Publish(*q, "p5", WithPriority(5));
  Publish(*q, "p3", WithPriority(3));
  Publish(*q, "p5-second", WithPriority(5));
  EXPECT_THAT(GetAll(*q), ElementsAre("p5", "p5-second", "p3", "p1"));
}

TEST(Queue, PriorityAboveMaxCountsAsMax) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-priority", int32_t{5}}}});
  Publish(*q, "at-max", WithPriority(5));
  Publish(*q, "above-max", WithPriority(200));
  Publish(*q, "below", WithPriority(4));
  // 200 shares the top level with 5, so publish order holds between them.
  EXPECT_THAT(GetAll(*q), ElementsAre("at-max", "above-max", "below"));
}

TEST(Queue, MessageWithoutPriorityHasPriorityZero) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-priority", int32_t{5}}}});
  Publish(*q, "none");
  Publish(*q, "zero", WithPriority(0));
  Publish(*q, "one", WithPriority(1));
  EXPECT_THAT(GetAll(*q), ElementsAre("one", "none", "zero"));
}

TEST(Queue, PriorityIsIgnoredWithoutMaxPriority) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "low", WithPriority(0));
  Publish(*q, "high", WithPriority(9));
  EXPECT_THAT(GetAll(*q), ElementsAre("low", "high"));
}

TEST(Queue, RequeueInPriorityQueueReturnsToPositionWithinItsLevel) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-priority", int32_t{5}}}});
  Publish(*q, "a", WithPriority(2));
  Publish(*q, "b", WithPriority(2));
  Publish(*q, "c", WithPriority(2));
  std::optional<Queue::Got> a = q->Get(/*no_ack=*/false);
  std::optional<Queue::Got> b = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(a && b);
  Publish(*q, "high", WithPriority(5));
  Settle(*q, {Unsettled{b->envelope, nullptr}}, Settlement::kRequeue);
  Settle(*q, {Unsettled{a->envelope, nullptr}}, Settlement::kRequeue);
  EXPECT_THAT(GetAll(*q), ElementsAre("high", "a", "b", "c"));
}

TEST(Queue, QuorumDeliveryLimitDeadLettersAMessageReturnedTooOften) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(
      host, {.arguments = {{"x-queue-type", "quorum"}, {"x-delivery-limit", int32_t{1}}}});
  Publish(*q, "m");
  std::optional<Queue::Got> first = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(first.has_value());
  Settle(*q, {Unsettled{first->envelope, nullptr}}, Settlement::kRequeue);  // 1 return: kept
  EXPECT_THAT(host.letters(), IsEmpty());
  std::optional<Queue::Got> second = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(second.has_value());
  Settle(*q, {Unsettled{second->envelope, nullptr}}, Settlement::kRequeue);  // 2 > 1
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kDeliveryLimit);
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, QuorumRedeliveryShowsHowOftenTheMessageCameBack) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-queue-type", "quorum"}}});
  Publish(*q, "m");
  std::optional<Queue::Got> first = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(first.has_value());
  Settle(*q, {Unsettled{first->envelope, nullptr}}, Settlement::kRequeue);
  std::optional<Queue::Got> again = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(again.has_value());
  ASSERT_NE(again->envelope.shown, nullptr);
  const std::optional<FieldTable>& headers = again->envelope.shown->message.properties().headers;
  ASSERT_TRUE(headers.has_value());
  ASSERT_NE(headers->Find("x-delivery-count"), nullptr);
  EXPECT_EQ(headers->Find("x-delivery-count")->AsInteger(), 1);
  // The stored message itself is unchanged.
  EXPECT_FALSE(again->envelope.publication->message.properties().headers.has_value());
}

TEST(Queue, ConsumersOfEqualPriorityTakeTurns) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c1", sink)).ok());
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c2", sink)).ok());
  for (const char* body : {"m1", "m2", "m3", "m4"}) Publish(*q, body);
  EXPECT_THAT(sink->tagged(), ElementsAre("c1:m1", "c2:m2", "c1:m3", "c2:m4"));
  EXPECT_EQ(q->GetCounts().consumers, 2u);
}

TEST(Queue, BacklogGoesToANewConsumer) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "m1");
  Publish(*q, "m2");
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c1", sink)).ok());
  EXPECT_THAT(sink->bodies(), ElementsAre("m1", "m2"));
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, HigherPriorityConsumerIsServedWhileItHasCredit) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("low", sink)).ok());
  ASSERT_TRUE(q->AddConsumer(NewConsumer("high", sink, {.priority = 5, .prefetch = 2})).ok());
  for (const char* body : {"m1", "m2", "m3", "m4"}) Publish(*q, body);
  EXPECT_THAT(sink->tagged(), ElementsAre("high:m1", "high:m2", "low:m3", "low:m4"));

  // Freed credit goes to the high-priority consumer again.
  std::vector<FakeSink::Delivered> d = sink->delivered();
  Settle(*q, {d[0].unsettled}, Settlement::kAck);
  Publish(*q, "m5");
  EXPECT_EQ(sink->tagged().back(), "high:m5");
}

TEST(Queue, PrefetchLimitsUnackedAndSettleReleasesCredit) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> c = NewConsumer("c", sink, {.prefetch = 2});
  ASSERT_TRUE(q->AddConsumer(c).ok());
  for (const char* body : {"m1", "m2", "m3"}) Publish(*q, body);
  EXPECT_THAT(sink->bodies(), ElementsAre("m1", "m2"));
  EXPECT_EQ(c->unacked, 2u);
  EXPECT_EQ(q->GetCounts().messages, 1u);

  Settle(*q, {sink->delivered()[0].unsettled}, Settlement::kAck);
  EXPECT_THAT(sink->bodies(), ElementsAre("m1", "m2", "m3"));
  EXPECT_EQ(c->unacked, 2u);
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, NoAckConsumerIgnoresPrefetch) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>(/*channel_credit=*/0);
  std::shared_ptr<Consumer> c = NewConsumer("c", sink, {.prefetch = 1, .no_ack = true});
  ASSERT_TRUE(q->AddConsumer(c).ok());
  for (const char* body : {"m1", "m2", "m3"}) Publish(*q, body);
  EXPECT_THAT(sink->bodies(), ElementsAre("m1", "m2", "m3"));
  EXPECT_EQ(c->unacked, 0u);
}

TEST(Queue, ChannelCreditGatesDeliveryUntilKicked) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>(/*channel_credit=*/1);
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  Publish(*q, "m1");
  Publish(*q, "m2");
  EXPECT_THAT(sink->bodies(), ElementsAre("m1"));
  sink->GiveChannelCredit(1);
  q->Kick();
  EXPECT_THAT(sink->bodies(), ElementsAre("m1", "m2"));
}

TEST(Queue, RequeuedDeliveryGoesToTheNextConsumerRedelivered) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> first = NewConsumer("first", sink);
  ASSERT_TRUE(q->AddConsumer(first).ok());
  Publish(*q, "m1");
  q->RemoveConsumer(first.get());
  ASSERT_TRUE(q->AddConsumer(NewConsumer("second", sink)).ok());
  Settle(*q, {sink->delivered()[0].unsettled}, Settlement::kRequeue);
  std::vector<FakeSink::Delivered> d = sink->delivered();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].tag, "second");
  EXPECT_EQ(d[1].body, "m1");
  EXPECT_TRUE(d[1].redelivered);
}

TEST(Queue, SingleActiveConsumerOnlyFirstConsumerReceives) {
  FakeHost host;
  std::shared_ptr<Queue> q =
      NewQueue(host, {.arguments = {{"x-single-active-consumer", true}}});
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("active", sink, {.prefetch = 1})).ok());
  ASSERT_TRUE(q->AddConsumer(NewConsumer("standby", sink)).ok());
  Publish(*q, "m1");
  Publish(*q, "m2");
  // The standby has credit but is not active: m2 waits.
  EXPECT_THAT(sink->tagged(), ElementsAre("active:m1"));
  EXPECT_EQ(q->GetCounts().messages, 1u);
}

TEST(Queue, SingleActiveConsumerHandsOverWhenActiveLeaves) {
  FakeHost host;
  std::shared_ptr<Queue> q =
      NewQueue(host, {.arguments = {{"x-single-active-consumer", true}}});
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> active = NewConsumer("active", sink, {.prefetch = 1});
  ASSERT_TRUE(q->AddConsumer(active).ok());
  ASSERT_TRUE(q->AddConsumer(NewConsumer("standby", sink)).ok());
  Publish(*q, "m1");
  Publish(*q, "m2");
  q->RemoveConsumer(active.get());
  EXPECT_THAT(sink->tagged(), ElementsAre("active:m1", "standby:m2"));
  // The old active consumer's unacked message goes to the new one.
  Settle(*q, {sink->delivered()[0].unsettled}, Settlement::kRequeue);
  EXPECT_THAT(sink->tagged(), ElementsAre("active:m1", "standby:m2", "standby:m1"));
}

TEST(Queue, ExclusiveConsumerRefusesOtherConsumers) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("owner", sink, {.exclusive = true})).ok());
  absl::Status s = q->AddConsumer(NewConsumer("other", sink));
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kAccessRefused) << s;
  s = q->AddConsumer(NewConsumer("other-exclusive", sink, {.exclusive = true}));
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kAccessRefused) << s;
  EXPECT_EQ(q->GetCounts().consumers, 1u);
}

TEST(Queue, ExclusiveConsumerRefusedWhenQueueHasConsumers) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("first", sink)).ok());
  absl::Status s = q->AddConsumer(NewConsumer("exclusive", sink, {.exclusive = true}));
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kAccessRefused) << s;
  EXPECT_EQ(q->GetCounts().consumers, 1u);
}

TEST(Queue, MaxLengthDropsHeadAsMaxLenDeadLetter) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-length", int32_t{2}}}});
  Publish(*q, "a");
  Publish(*q, "b");
  EXPECT_THAT(host.letters(), IsEmpty());
  Publish(*q, "c");
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].body, "a");
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kMaxLen);
  EXPECT_THAT(GetAll(*q), ElementsAre("b", "c"));
}

TEST(Queue, MaxLengthZeroStillDeliversToAWaitingConsumer) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-length", int32_t{0}}}});
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  Publish(*q, "m1");
  EXPECT_THAT(sink->bodies(), ElementsAre("m1"));
  EXPECT_THAT(host.letters(), IsEmpty());
}

TEST(Queue, RequeuePastMaxLengthDropsHead) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-length", int32_t{1}}}});
  Publish(*q, "m1");
  std::optional<Queue::Got> m1 = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(m1.has_value());
  Publish(*q, "m2");
  Settle(*q, {Unsettled{m1->envelope, nullptr}}, Settlement::kRequeue);
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].body, "m1");  // requeued to the head, so dropped first
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kMaxLen);
  EXPECT_THAT(GetAll(*q), ElementsAre("m2"));
}

TEST(Queue, MaxLengthZeroWithoutConsumerDeadLettersEveryMessage) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-length", int32_t{0}}}});
  Publish(*q, "m1");
  EXPECT_THAT(LetterBodies(host), ElementsAre("m1"));
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, MaxLengthBytesCountsBodiesOnly) {
  FakeHost host;
  std::shared_ptr<Queue> q =
      NewQueue(host, {.arguments = {{"x-max-length-bytes", int32_t{10}}}});
  BasicProperties heavy;
  heavy.content_type = std::string(1000, 't');
  heavy.headers = FieldTable{{"h", std::string(1000, 'h')}};
  Publish(*q, "12345", heavy);
  Publish(*q, "67890", heavy);
  EXPECT_THAT(host.letters(), IsEmpty());  // exactly 10 body bytes fit
  Publish(*q, "x");
  EXPECT_THAT(LetterBodies(host), ElementsAre("12345"));
  EXPECT_THAT(GetAll(*q), ElementsAre("67890", "x"));
}

TEST(Queue, MaxLengthBytesFreedByGetMakesRoom) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(
      host, {.arguments = {{"x-max-length-bytes", int32_t{4}}, {"x-overflow", "reject-publish"}}});
  ConfirmProbe first, second, third;
  q->Publish(NewEnvelope("abcd", {}, first.confirm), nullptr);
  q->Publish(NewEnvelope("e", {}, second.confirm), nullptr);
  ASSERT_TRUE(q->Get(/*no_ack=*/false).has_value());
  q->Publish(NewEnvelope("efgh", {}, third.confirm), nullptr);
  EXPECT_EQ(*first.outcome, std::optional<bool>(true));
  EXPECT_EQ(*second.outcome, std::optional<bool>(false));
  EXPECT_EQ(*third.outcome, std::optional<bool>(true));
}

TEST(Queue, RejectPublishNacksTheConfirmAndKeepsTheQueue) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(
      host, {.arguments = {{"x-max-length", int32_t{1}}, {"x-overflow", "reject-publish"}}});
  ConfirmProbe accepted, refused;
  q->Publish(NewEnvelope("a", {}, accepted.confirm), nullptr);
  q->Publish(NewEnvelope("b", {}, refused.confirm), nullptr);
  EXPECT_EQ(*accepted.outcome, std::optional<bool>(true));
  EXPECT_EQ(*refused.outcome, std::optional<bool>(false));
  EXPECT_THAT(host.letters(), IsEmpty());
  EXPECT_THAT(GetAll(*q), ElementsAre("a"));
}

TEST(Queue, RejectPublishCountsOnlyReadyMessages) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(
      host, {.arguments = {{"x-max-length", int32_t{1}}, {"x-overflow", "reject-publish"}}});
  ConfirmProbe second;
  Publish(*q, "a");
  std::optional<Queue::Got> a = q->Get(/*no_ack=*/false);  // unacked, no longer ready
  ASSERT_TRUE(a.has_value());
  q->Publish(NewEnvelope("b", {}, second.confirm), nullptr);
  EXPECT_EQ(*second.outcome, std::optional<bool>(true));
}

TEST(Queue, RejectPublishDlxNacksAndDeadLetters) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(
      host, {.arguments = {{"x-max-length", int32_t{1}}, {"x-overflow", "reject-publish-dlx"}}});
  ConfirmProbe accepted, refused;
  q->Publish(NewEnvelope("a", {}, accepted.confirm), nullptr);
  q->Publish(NewEnvelope("b", {}, refused.confirm), nullptr);
  EXPECT_EQ(*accepted.outcome, std::optional<bool>(true));
  EXPECT_EQ(*refused.outcome, std::optional<bool>(false));
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].body, "b");
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kMaxLen);
  EXPECT_THAT(GetAll(*q), ElementsAre("a"));
}

TEST(Queue, DropHeadAcksTheConfirmOfTheNewMessage) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-max-length", int32_t{1}}}});
  ConfirmProbe first, second;
  q->Publish(NewEnvelope("a", {}, first.confirm), nullptr);
  q->Publish(NewEnvelope("b", {}, second.confirm), nullptr);
  EXPECT_EQ(*first.outcome, std::optional<bool>(true));
  EXPECT_EQ(*second.outcome, std::optional<bool>(true));
}

TEST(Queue, MessageTtlExpiresHeadWhenTimerFires) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{1000}}}});
  const absl::Time published = host.clock_.Now();
  Publish(*q, "m");
  EXPECT_THAT(host.timer_times(), ElementsAre(published + absl::Seconds(1)));

  host.Advance(absl::Milliseconds(999));
  q->OnTimer();  // an early call expires nothing
  EXPECT_THAT(host.letters(), IsEmpty());

  host.Advance(absl::Milliseconds(1));  // fires the timer
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].body, "m");
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kExpired);
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, ExpiryTimerMovesOnToTheNextHead) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{1000}}}});
  const absl::Time start = host.clock_.Now();
  Publish(*q, "first");
  host.Advance(absl::Milliseconds(400));
  Publish(*q, "second");
  host.Advance(absl::Milliseconds(600));
  EXPECT_THAT(LetterBodies(host), ElementsAre("first"));
  EXPECT_THAT(host.timer_times(), ElementsAre(start + absl::Milliseconds(1400)));
  host.Advance(absl::Milliseconds(400));
  EXPECT_THAT(LetterBodies(host), ElementsAre("first", "second"));
}

TEST(Queue, ExpiredMessageIsNotGot) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{100}}}});
  Publish(*q, "m");
  host.clock_.Advance(absl::Milliseconds(100));  // time passes, no timer fires
  EXPECT_FALSE(q->Get(/*no_ack=*/false).has_value());
  EXPECT_THAT(LetterBodies(host), ElementsAre("m"));
}

TEST(Queue, PerMessageExpirationLowerThanQueueTtlWins) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{10000}}}});
  const absl::Time published = host.clock_.Now();
  Publish(*q, "m", WithExpiration("100"));
  EXPECT_THAT(host.timer_times(), ElementsAre(published + absl::Milliseconds(100)));
  host.Advance(absl::Milliseconds(100));
  EXPECT_THAT(LetterBodies(host), ElementsAre("m"));
}

TEST(Queue, QueueTtlLowerThanPerMessageExpirationWins) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{100}}}});
  const absl::Time published = host.clock_.Now();
  Publish(*q, "m", WithExpiration("10000"));
  EXPECT_THAT(host.timer_times(), ElementsAre(published + absl::Milliseconds(100)));
  host.Advance(absl::Milliseconds(100));
  EXPECT_THAT(LetterBodies(host), ElementsAre("m"));
}

TEST(Queue, TtlZeroMessageGoesToAWaitingConsumer) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{0}}}});
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  Publish(*q, "m");
  EXPECT_THAT(sink->bodies(), ElementsAre("m"));
  EXPECT_THAT(host.letters(), IsEmpty());
}

TEST(Queue, TtlZeroMessageWithoutConsumerIsExpiredAtOnce) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{0}}}});
  Publish(*q, "m");
  std::vector<FakeHost::Letter> letters = host.letters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, DeadLetterReason::kExpired);
  EXPECT_FALSE(q->Get(/*no_ack=*/false).has_value());
}

TEST(Queue, TtlZeroMessageIsExpiredWhenTheConsumerHasNoCredit) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-message-ttl", int32_t{0}}}});
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink, {.prefetch = 1})).ok());
  Publish(*q, "taken");
  Publish(*q, "no-credit");
  EXPECT_THAT(sink->bodies(), ElementsAre("taken"));
  EXPECT_THAT(LetterBodies(host), ElementsAre("no-credit"));
}

TEST(Queue, ExpiresDeletesAnUnusedQueueThroughTheHost) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-expires", int32_t{5000}}}});
  const absl::Time declared = host.clock_.Now();
  q->Touch();  // the declare
  EXPECT_THAT(host.timer_times(), ElementsAre(declared + absl::Seconds(5)));
  host.Advance(absl::Milliseconds(4999));
  EXPECT_THAT(host.deleted_unused(), IsEmpty());
  host.Advance(absl::Milliseconds(1));
  EXPECT_THAT(host.deleted_unused(), ElementsAre(q.get()));
}

TEST(Queue, ExpiresCountsFromTheLastGet) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-expires", int32_t{5000}}}});
  q->Touch();
  host.Advance(absl::Seconds(3));
  EXPECT_FALSE(q->Get(/*no_ack=*/false).has_value());  // a use, even of an empty queue
  host.Advance(absl::Seconds(2));      // the first timer finds it used
  EXPECT_THAT(host.deleted_unused(), IsEmpty());
  host.Advance(absl::Seconds(3));
  EXPECT_THAT(host.deleted_unused(), ElementsAre(q.get()));
}

TEST(Queue, ExpiresSparesAQueueWithAConsumer) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-expires", int32_t{1000}}}});
  q->Touch();
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> c = NewConsumer("c", sink);
  ASSERT_TRUE(q->AddConsumer(c).ok());
  host.Advance(absl::Seconds(10));
  EXPECT_THAT(host.deleted_unused(), IsEmpty());

  // Unused from the moment the consumer leaves.
  q->RemoveConsumer(c.get());
  host.Advance(absl::Milliseconds(999));
  EXPECT_THAT(host.deleted_unused(), IsEmpty());
  host.Advance(absl::Milliseconds(1));
  EXPECT_THAT(host.deleted_unused(), ElementsAre(q.get()));
}

TEST(Queue, AutoDeleteQueueGoesWhenItsLastConsumerLeaves) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.auto_delete = true});
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> c1 = NewConsumer("c1", sink);
  std::shared_ptr<Consumer> c2 = NewConsumer("c2", sink);
  ASSERT_TRUE(q->AddConsumer(c1).ok());
  ASSERT_TRUE(q->AddConsumer(c2).ok());
  q->RemoveConsumer(c1.get());
  EXPECT_THAT(host.deleted_unused(), IsEmpty());
  q->RemoveConsumer(c2.get());
  EXPECT_THAT(host.deleted_unused(), ElementsAre(q.get()));
}

TEST(Queue, QueueWithoutAutoDeleteStaysAfterLastConsumer) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> c = NewConsumer("c", sink);
  ASSERT_TRUE(q->AddConsumer(c).ok());
  q->RemoveConsumer(c.get());
  EXPECT_THAT(host.deleted_unused(), IsEmpty());
  EXPECT_EQ(q->GetCounts().consumers, 0u);
}

TEST(Queue, DeleteIfUnusedRefusesWhileConsumed) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  absl::StatusOr<uint32_t> deleted = q->Delete(/*if_unused=*/true, /*if_empty=*/false);
  EXPECT_EQ(ReplyCodeOf(deleted.status()), ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(q->deleted());
  EXPECT_THAT(sink->cancelled(), IsEmpty());
}

TEST(Queue, DeleteIfEmptyRefusesWithReadyMessages) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "m");
  absl::StatusOr<uint32_t> deleted = q->Delete(/*if_unused=*/false, /*if_empty=*/true);
  EXPECT_EQ(ReplyCodeOf(deleted.status()), ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(q->deleted());
  EXPECT_EQ(q->GetCounts().messages, 1u);
}

TEST(Queue, DeleteDropsMessagesAndCancelsConsumers) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host, {.arguments = {{"x-dead-letter-exchange", "dlx"}}});
  auto sink = std::make_shared<FakeSink>(/*channel_credit=*/0);
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c1", sink)).ok());
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c2", sink)).ok());
  Publish(*q, "a");
  Publish(*q, "b");
  absl::StatusOr<uint32_t> deleted = q->Delete(/*if_unused=*/false, /*if_empty=*/false);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2u);
  EXPECT_TRUE(q->deleted());
  EXPECT_THAT(sink->cancelled(), ElementsAre("c1", "c2"));
  EXPECT_THAT(host.letters(), IsEmpty());  // deletion does not dead-letter
  EXPECT_EQ(q->GetCounts().consumers, 0u);
}

TEST(Queue, RequeueIntoADeletedQueueIsDropped) {
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  Publish(*q, "m");
  std::optional<Queue::Got> got = q->Get(/*no_ack=*/false);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(q->Delete(false, false).ok());
  Settle(*q, {Unsettled{got->envelope, nullptr}}, Settlement::kRequeue);
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, ConcurrentPublishersAreEachAcceptedOnceInTheirOrder) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3000;
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink, {.no_ack = true})).ok());

  std::vector<std::atomic<int>> acks(kThreads * kPerThread);
  std::atomic<int> nacks{0};
  std::vector<std::thread> publishers;
  for (int t = 0; t < kThreads; ++t) {
    publishers.emplace_back([&, t] {
      std::unique_ptr<Queue::ProducerToken> token = q->NewProducerToken();
      for (int i = 0; i < kPerThread; ++i) {
        const int index = t * kPerThread + i;
        auto confirm = std::make_shared<PendingConfirm>(1, [&, index](bool ack) {
          if (ack) {
            acks[index].fetch_add(1);
          } else {
            nacks.fetch_add(1);
          }
        });
        q->Publish(NewEnvelope(std::to_string(t) + ":" + std::to_string(i), {}, confirm),
                   token.get());
      }
    });
  }
  for (std::thread& p : publishers) p.join();

  for (int i = 0; i < kThreads * kPerThread; ++i) {
    ASSERT_EQ(acks[i].load(), 1) << "message " << i;
  }
  EXPECT_EQ(nacks.load(), 0);
  std::vector<std::string> bodies = sink->bodies();
  ASSERT_EQ(bodies.size(), static_cast<size_t>(kThreads * kPerThread));
  std::vector<int> next(kThreads, 0);
  for (const std::string& body : bodies) {
    const size_t colon = body.find(':');
    const int t = std::stoi(body.substr(0, colon));
    const int i = std::stoi(body.substr(colon + 1));
    ASSERT_EQ(i, next[t]) << "publisher " << t << " out of order";
    ++next[t];
  }
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, ConcurrentPublishersWithoutConsumerAreAllQueued) {
  constexpr int kThreads = 3;
  constexpr int kPerThread = 2000;
  FakeHost host;
  std::shared_ptr<Queue> q = NewQueue(host);
  std::vector<std::thread> publishers;
  for (int t = 0; t < kThreads; ++t) {
    publishers.emplace_back([&, t] {
      std::unique_ptr<Queue::ProducerToken> token = q->NewProducerToken();
      for (int i = 0; i < kPerThread; ++i) {
        q->Publish(NewEnvelope(std::to_string(t) + ":" + std::to_string(i)), token.get());
      }
    });
  }
  for (std::thread& p : publishers) p.join();
  EXPECT_EQ(q->GetCounts().messages, static_cast<uint32_t>(kThreads * kPerThread));
  std::vector<int> next(kThreads, 0);
  for (const std::string& body : GetAll(*q)) {
    const size_t colon = body.find(':');
    const int t = std::stoi(body.substr(0, colon));
    ASSERT_EQ(std::stoi(body.substr(colon + 1)), next[t]);
    ++next[t];
  }
  EXPECT_EQ(next, std::vector<int>(kThreads, kPerThread));
}

TEST(Queue, DeliveringInTurnsDecidesOnArrivalButHandsOverOneDeliveryPerTurn) {
  FakeHost host(/*delivers_in_turns=*/true);
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  Publish(*q, "a");
  Publish(*q, "b");
  // Decided: no longer ready, held by the consumer, not yet on the channel.
  EXPECT_EQ(q->GetCounts().messages, 0u);
  EXPECT_EQ(q->Consumers().front().unacked, 2u);
  EXPECT_THAT(sink->bodies(), IsEmpty());
  EXPECT_EQ(host.RunDeliveryTurns(1), 1u);
  EXPECT_THAT(sink->bodies(), ElementsAre("a"));
  EXPECT_EQ(host.RunDeliveryTurns(), 1u);
  EXPECT_THAT(sink->bodies(), ElementsAre("a", "b"));
}

TEST(Queue, DeliveringInTurnsKeepsLimitsAsIfDeliveredOnArrival) {
  FakeHost host(/*delivers_in_turns=*/true);
  std::shared_ptr<Queue> q = NewQueue(
      host, {.arguments = {{"x-max-length", int32_t{1}}, {"x-overflow", "reject-publish"}}});
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  ConfirmProbe first;
  ConfirmProbe second;
  q->Publish(NewEnvelope("a", {}, first.confirm), nullptr);
  q->Publish(NewEnvelope("b", {}, second.confirm), nullptr);
  // "a" went to the consumer on arrival, so "b" fits.
  EXPECT_EQ(*first.outcome, std::optional<bool>(true));
  EXPECT_EQ(*second.outcome, std::optional<bool>(true));
  host.RunDeliveryTurns();
  EXPECT_THAT(sink->bodies(), ElementsAre("a", "b"));
}

// A queue delivering in turns decides "a" for a consumer with `options`,
// whose channel then closes before the delivery's turn comes; the turn runs.
std::shared_ptr<Queue> DecideForAChannelThatClosesBeforeItsTurn(FakeHost& host,
                                                               ConsumerOptions options) {
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> consumer = NewConsumer("c", sink, options);
  EXPECT_TRUE(q->AddConsumer(consumer).ok());
  Publish(*q, "a");
  sink->Close();
  q->RemoveConsumer(consumer.get());
  host.RunDeliveryTurns();
  EXPECT_THAT(sink->bodies(), IsEmpty());
  return q;
}

TEST(Queue, DeliveringInTurnsRequeuesADeliveryWhoseChannelClosedMeanwhile) {
  FakeHost host(/*delivers_in_turns=*/true);
  std::shared_ptr<Queue> q = DecideForAChannelThatClosesBeforeItsTurn(host, {});
  std::optional<Queue::Got> got = q->Get(/*no_ack=*/true);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->envelope.publication->message.body(), "a");
  EXPECT_TRUE(got->envelope.redelivered);
}

TEST(Queue, DeliveringInTurnsLosesANoAckDeliveryWithItsClosedChannel) {
  FakeHost host(/*delivers_in_turns=*/true);
  std::shared_ptr<Queue> q = DecideForAChannelThatClosesBeforeItsTurn(host, {.no_ack = true});
  EXPECT_EQ(q->GetCounts().messages, 0u);
}

TEST(Queue, DeliveringInTurnsDeleteHandsOverWhatItDecidedBeforeCancelling) {
  FakeHost host(/*delivers_in_turns=*/true);
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  ASSERT_TRUE(q->AddConsumer(NewConsumer("c", sink)).ok());
  Publish(*q, "a");
  ASSERT_TRUE(q->Delete(/*if_unused=*/false, /*if_empty=*/false).ok());
  EXPECT_THAT(sink->history(), ElementsAre("c:a", "cancelled c"));
  EXPECT_EQ(host.RunDeliveryTurns(), 1u);  // the turn asked for finds nothing left
  EXPECT_THAT(sink->history(), ElementsAre("c:a", "cancelled c"));
}

TEST(Queue, CancelConsumerHandsOverWhatItDecidedThenTellsTheChannel) {
  FakeHost host(/*delivers_in_turns=*/true);
  std::shared_ptr<Queue> q = NewQueue(host);
  auto sink = std::make_shared<FakeSink>();
  std::shared_ptr<Consumer> consumer = NewConsumer("c", sink);
  ASSERT_TRUE(q->AddConsumer(consumer).ok());
  Publish(*q, "a");
  q->CancelConsumer(consumer);
  EXPECT_THAT(sink->history(), ElementsAre("c:a", "cancelled c"));
  EXPECT_THAT(q->Consumers(), IsEmpty());
  Publish(*q, "b");
  host.RunDeliveryTurns();
  EXPECT_THAT(sink->bodies(), ElementsAre("a"));
  EXPECT_EQ(q->GetCounts().messages, 1u);
}

}  // namespace
}  // namespace warren::queue
