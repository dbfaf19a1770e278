// tests/concurrency_test.cc: the broker under concurrent publishers and
// consumers on its thread pool, through the public API. Every message
// carries an id; the tests count each id per queue (nothing lost, nothing
// duplicated), check per-publisher and delivery-tag order and that one
// consumer's callbacks never overlap, and check the redelivered flag under
// random requeues. Waits are condition variables with a deadline that fails
// the test; there is no sleep. Owns nothing outside this file; it must not
// reach into lib/.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <latch>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/message.h"

namespace warren {
namespace {

constexpr int kPublishers = 4;
constexpr int kPerPublisher = 4000;
constexpr int kTotal = kPublishers * kPerPublisher;
constexpr uint16_t kPrefetch = 16;
// Bounds a failure (a lost message) only; a passing run takes far less.
constexpr absl::Duration kDeadline = absl::Seconds(30);

// A message id is publisher * kPerPublisher + sequence, sent as the body.
int IdOf(const Delivery& d) { return std::stoi(std::string(d.message.body())); }
int PublisherOf(int id) { return id / kPerPublisher; }
int SequenceOf(int id) { return id % kPerPublisher; }

// How many times each message id reached each queue, shared by the consumer
// callbacks (on pool threads) and the test thread, which waits for it to
// fill up.
class Ledger {
 public:
  explicit Ledger(int queues) : counts_(queues, std::vector<int>(kTotal, 0)), seen_(queues, 0) {}

  // Records one arrival of `id` on `queue`; returns how many came before it.
  int Record(int queue, int id) {
    int before;
    {
      std::lock_guard<std::mutex> lock(mu_);
      before = counts_[queue][id]++;
      if (before == 0 && ++seen_[queue] == kTotal) changed_.notify_all();
    }
    return before;
  }

  // True once every queue has seen every id; false at the deadline.
  bool WaitUntilComplete() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(kDeadline), [&] {
      for (int seen : seen_) {
        if (seen < kTotal) return false;
      }
      return true;
    });
  }

  // Ids of `queue` that arrived more than once, and that never arrived.
  int Duplicated(int queue) { return CountIf(queue, [](int n) { return n > 1; }); }
  int Missing(int queue) { return CountIf(queue, [](int n) { return n == 0; }); }

 private:
  template <typename Predicate>
  int CountIf(int queue, Predicate predicate) {
    std::lock_guard<std::mutex> lock(mu_);
    int matching = 0;
    for (int n : counts_[queue]) matching += predicate(n) ? 1 : 0;
    return matching;
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::vector<int>> counts_;  // [queue][id]
  std::vector<int> seen_;                 // distinct ids per queue
};

// Per-publisher order as one consumer sees it: each publisher's sequence
// numbers must rise. Callbacks of one consumer never overlap, so it needs no
// lock of its own.
class OrderCheck {
 public:
  // `contiguous`: also no gap (the consumer is its queue's only one).
  explicit OrderCheck(bool contiguous) : contiguous_(contiguous), last_(kPublishers, -1) {}

  // Returns false when `id` breaks the order.
  bool Accept(int id) {
    int& last = last_[PublisherOf(id)];
    const int seq = SequenceOf(id);
    const bool in_order = contiguous_ ? seq == last + 1 : seq > last;
    last = seq;
    return in_order;
  }

 private:
  const bool contiguous_;
  std::vector<int> last_;
};

// What one consumer's callbacks record about themselves: how many ran, and
// whether one is running now, so that a second one entering meanwhile (on
// another pool thread) is caught.
struct ConsumerProbe {
  std::atomic<int> received{0};
  std::atomic<bool> in_callback{false};
};

// A thread-pool broker (the default unless `options` say otherwise) with its
// connections and channels. The broker goes first on teardown: that waits
// for running callbacks, which use the test's state.
class ConcurrencyTest : public testing::Test {
 protected:
  explicit ConcurrencyTest(BrokerOptions options = {})
      : broker_(Broker::Create(std::move(options)).value()),
        connection_(broker_->Connect().value()) {}
  ~ConcurrencyTest() override { broker_.reset(); }

  Channel& NewChannel() {
    channels_.push_back(connection_->OpenChannel().value());
    return *channels_.back();
  }

  // kPublishers threads, each on its own channel, publish their ids in order
  // to `exchange` with `routing_key`, starting together.
  void PublishConcurrently(std::string_view exchange, std::string_view routing_key) {
    std::vector<Channel*> publishers;
    for (int p = 0; p < kPublishers; ++p) publishers.push_back(&NewChannel());
    std::latch start(kPublishers);
    std::vector<std::thread> threads;
    for (int p = 0; p < kPublishers; ++p) {
      threads.emplace_back([&, p] {
        start.arrive_and_wait();
        for (int seq = 0; seq < kPerPublisher; ++seq) {
          absl::Status s = publishers[p]->BasicPublish(
              exchange, routing_key, Message(std::to_string(p * kPerPublisher + seq)));
          if (!s.ok()) publish_failures_.fetch_add(1);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(publish_failures_.load(), 0);
  }

  // Declares `queues` queues bound to `exchange` (of `type`) with one key.
  std::vector<std::string> DeclareBoundQueues(std::string_view exchange, std::string_view type,
                                              int queues) {
    Channel& setup = NewChannel();
    EXPECT_TRUE(setup.ExchangeDeclare(exchange, type).ok());
    std::vector<std::string> names;
    for (int q = 0; q < queues; ++q) {
      names.push_back("q" + std::to_string(q));
      EXPECT_TRUE(setup.QueueDeclare(names.back()).ok());
      EXPECT_TRUE(setup.QueueBind(names.back(), exchange, "key").ok());
    }
    return names;
  }

  // Starts a manual-ack consumer with kPrefetch on its own channel; each
  // delivery is checked for overlap with another callback of the consumer,
  // for its delivery tag (one more than the last: the channel's order) and
  // by a fresh OrderCheck, recorded in `ledger_` under `queue_index`, then
  // acked.
  void ConsumeAndAck(const std::string& queue, int queue_index, bool contiguous) {
    Channel& channel = NewChannel();
    ASSERT_TRUE(channel.BasicQos(kPrefetch).ok());
    ConsumerProbe& probe = consumers_.emplace_back();
    auto callback = [this, &channel, &probe, queue_index, order = OrderCheck(contiguous),
                     last_tag = uint64_t{0}](const Delivery& d) mutable {
      if (probe.in_callback.exchange(true)) overlapping_callbacks_.fetch_add(1);
      probe.received.fetch_add(1);
      if (d.delivery_tag != ++last_tag) tag_order_violations_.fetch_add(1);
      const int id = IdOf(d);
      if (!order.Accept(id)) order_violations_.fetch_add(1);
      if (d.redelivered) unexpected_redeliveries_.fetch_add(1);
      if (!channel.BasicAck(d.delivery_tag).ok()) ack_failures_.fetch_add(1);
      ledger_->Record(queue_index, id);
      probe.in_callback.store(false);
    };
    ASSERT_TRUE(channel.BasicConsume(queue, std::move(callback)).ok());
  }

  void ExpectEveryIdExactlyOncePerQueue(int queues) {
    ASSERT_TRUE(ledger_->WaitUntilComplete()) << "not every message arrived within the deadline";
    for (int q = 0; q < queues; ++q) {
      EXPECT_EQ(ledger_->Duplicated(q), 0) << "queue " << q;
      EXPECT_EQ(ledger_->Missing(q), 0) << "queue " << q;
    }
    EXPECT_EQ(ack_failures_.load(), 0);
    EXPECT_EQ(unexpected_redeliveries_.load(), 0);
    EXPECT_EQ(overlapping_callbacks_.load(), 0);
    EXPECT_EQ(tag_order_violations_.load(), 0);
    // Consumers of one queue take turns, so none is left idle.
    for (const ConsumerProbe& consumer : consumers_) EXPECT_GT(consumer.received.load(), 0);
  }

  // The state callbacks touch lives here, not in test bodies, so that it
  // outlives the broker even when a test returns early.
  std::unique_ptr<Ledger> ledger_;  // ids acked (or received) per queue
  std::unique_ptr<Ledger> deliveries_;  // every delivery, for redelivery checks
  std::deque<ConsumerProbe> consumers_;  // one per ConsumeAndAck
  std::atomic<int> nacks_{0};
  std::atomic<int> wrong_redelivered_flags_{0};
  std::atomic<int> publish_failures_{0};
  std::atomic<int> ack_failures_{0};
  std::atomic<int> order_violations_{0};
  std::atomic<int> unexpected_redeliveries_{0};
  std::atomic<int> overlapping_callbacks_{0};  // a consumer's callback entered while one ran
  std::atomic<int> tag_order_violations_{0};

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> connection_;
  std::vector<std::unique_ptr<Channel>> channels_;
};

// The exchange type is the parameter: direct (every queue bound with the
// same key) and fanout must both deliver every message to every queue.
class FanInTest : public ConcurrencyTest,
                  public testing::WithParamInterface<std::string_view> {};

TEST_P(FanInTest, SingleConsumerPerQueueGetsEveryMessageOnceInPublisherOrder) {
  constexpr int kQueues = 3;
  ledger_ = std::make_unique<Ledger>(kQueues);
  std::vector<std::string> queues = DeclareBoundQueues("x", GetParam(), kQueues);
  for (int q = 0; q < kQueues; ++q) ConsumeAndAck(queues[q], q, /*contiguous=*/true);

  PublishConcurrently("x", "key");

  ExpectEveryIdExactlyOncePerQueue(kQueues);
  EXPECT_EQ(order_violations_.load(), 0);
}

TEST_P(FanInTest, CompetingConsumersGetEveryMessageOncePerQueue) {
  constexpr int kQueues = 2;
  constexpr int kConsumersPerQueue = 3;
  ledger_ = std::make_unique<Ledger>(kQueues);
  std::vector<std::string> queues = DeclareBoundQueues("x", GetParam(), kQueues);
  for (int q = 0; q < kQueues; ++q) {
    for (int c = 0; c < kConsumersPerQueue; ++c) {
      // Each consumer sees a subsequence of its queue: rising, with gaps.
      ConsumeAndAck(queues[q], q, /*contiguous=*/false);
    }
  }

  PublishConcurrently("x", "key");

  ExpectEveryIdExactlyOncePerQueue(kQueues);
  EXPECT_EQ(order_violations_.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(ExchangeTypes, FanInTest, testing::Values(kDirect, kFanout),
                         [](const testing::TestParamInfo<std::string_view>& info) {
                           return std::string(info.param);
                         });

// More pool threads than consumers' channels need, so that a consumer's
// next callback could start on a second thread while the first still runs,
// were the dispatcher to let it.
class SeveralDispatchThreadsTest : public ConcurrencyTest {
 protected:
  static constexpr int kDispatchThreads = 4;
  SeveralDispatchThreadsTest() : ConcurrencyTest({.dispatch_threads = kDispatchThreads}) {}
};

TEST_F(SeveralDispatchThreadsTest, OneConsumersCallbacksNeverOverlapAndComeInOrder) {
  constexpr int kQueues = kDispatchThreads;
  ledger_ = std::make_unique<Ledger>(kQueues);
  std::vector<std::string> queues = DeclareBoundQueues("x", kFanout, kQueues);
  for (int q = 0; q < kQueues; ++q) ConsumeAndAck(queues[q], q, /*contiguous=*/true);

  PublishConcurrently("x", "key");

  ExpectEveryIdExactlyOncePerQueue(kQueues);
  for (const ConsumerProbe& consumer : consumers_) EXPECT_EQ(consumer.received.load(), kTotal);
  EXPECT_EQ(overlapping_callbacks_.load(), 0);
  EXPECT_EQ(tag_order_violations_.load(), 0);
  EXPECT_EQ(order_violations_.load(), 0);
}

TEST_F(ConcurrencyTest, RandomNackRequeueStillAcksEveryMessageExactlyOnce) {
  constexpr int kConsumers = 3;
  ledger_ = std::make_unique<Ledger>(1);  // acks
  deliveries_ = std::make_unique<Ledger>(1);
  ASSERT_TRUE(NewChannel().QueueDeclare("work").ok());
  for (int c = 0; c < kConsumers; ++c) {
    Channel& channel = NewChannel();
    ASSERT_TRUE(channel.BasicQos(kPrefetch).ok());
    auto callback = [this, &channel, rng = std::mt19937(c + 1)](const Delivery& d) mutable {
      const int id = IdOf(d);
      // Recorded before the nack, so that the redelivery finds it.
      const bool delivered_before = deliveries_->Record(0, id) > 0;
      if (d.redelivered != delivered_before) wrong_redelivered_flags_.fetch_add(1);
      if (std::bernoulli_distribution(0.25)(rng)) {
        nacks_.fetch_add(1);
        if (!channel.BasicNack(d.delivery_tag, {.requeue = true}).ok()) {
          ack_failures_.fetch_add(1);
        }
        return;
      }
      if (!channel.BasicAck(d.delivery_tag).ok()) ack_failures_.fetch_add(1);
      ledger_->Record(0, id);
    };
    ASSERT_TRUE(channel.BasicConsume("work", std::move(callback)).ok());
  }

  PublishConcurrently("", "work");

  ASSERT_TRUE(ledger_->WaitUntilComplete()) << "not every message was acked within the deadline";
  EXPECT_EQ(ledger_->Duplicated(0), 0);
  EXPECT_EQ(ledger_->Missing(0), 0);
  EXPECT_EQ(ack_failures_.load(), 0);
  EXPECT_EQ(wrong_redelivered_flags_.load(), 0);
  EXPECT_GT(nacks_.load(), 0);
  absl::StatusOr<QueueDeclareResult> work = NewChannel().QueueDeclare("work", {.passive = true});
  ASSERT_TRUE(work.ok()) << work.status();
  EXPECT_EQ(work->message_count, 0u);
}

}  // namespace
}  // namespace warren
