// tests/stats_test.cc: Broker::Stats through the public API on a
// manual-dispatch broker: the counters of exchanges and queues, the sampled
// publish-to-callback latency, and the text table.

#include "warren/stats.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/connection.h"

namespace warren {
namespace {

using ::testing::HasSubstr;

class StatsTest : public testing::Test {
 protected:
  StatsTest()
      : broker_(Broker::Create({.dispatch = Dispatch::kManual}).value()),
        connection_(broker_->Connect().value()),
        channel_(connection_->OpenChannel().value()) {}

  // Copies, so that a call on a temporary BrokerStats stays valid.
  QueueStats Queue(const BrokerStats& stats, const std::string& name) {
    for (const QueueStats& q : stats.queues) {
      if (q.name == name) return q;
    }
    ADD_FAILURE() << "no queue " << name;
    return {};
  }
  ExchangeStats Exchange(const BrokerStats& stats, const std::string& name) {
    for (const ExchangeStats& x : stats.exchanges) {
      if (x.name == name) return x;
    }
    ADD_FAILURE() << "no exchange '" << name << "'";
    return {};
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;
};

TEST_F(StatsTest, ExchangesCountRoutedUnroutableAndReturnedPublishes) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(channel_->QueueBind("q", "x", "k").ok());
  const std::vector<Message> three(3, Message("m"));
  ASSERT_TRUE(channel_->BasicPublishBatch("x", "k", three).ok());
  ASSERT_TRUE(channel_->BasicPublish("x", "nowhere", Message("lost")).ok());
  ASSERT_TRUE(channel_->BasicPublish("x", "nowhere", Message("back"), {.mandatory = true}).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("direct")).ok());

  const BrokerStats stats = broker_->Stats();
  const ExchangeStats x = Exchange(stats, "x");
  EXPECT_EQ(x.vhost, "/");
  EXPECT_EQ(x.published, 5u);
  EXPECT_EQ(x.routed, 3u);
  EXPECT_EQ(x.unroutable, 2u);
  EXPECT_EQ(x.returned, 1u);
  EXPECT_EQ(Exchange(stats, "").routed, 1u);
  EXPECT_EQ(Exchange(stats, "amq.direct").published, 0u);
}

TEST_F(StatsTest, QueuesCountDeliveriesAcksAndRequeuesAndShowDepthAndUnacked) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  std::vector<uint64_t> tags;
  ASSERT_TRUE(channel_->BasicConsume("q", [&](const Delivery& d) { tags.push_back(d.delivery_tag); })
                  .ok());
  const std::vector<Message> four(4, Message("1234"));
  ASSERT_TRUE(channel_->BasicPublishBatch("", "q", four).ok());
  broker_->ProcessEvents();
  ASSERT_EQ(tags.size(), 4u);
  ASSERT_TRUE(channel_->BasicAck(tags[0]).ok());
  ASSERT_TRUE(channel_->BasicNack(tags[1], {.requeue = true}).ok());  // redelivered at once
  broker_->ProcessEvents();

  const QueueStats q = Queue(broker_->Stats(), "q");
  EXPECT_EQ(q.published, 4u);
  EXPECT_EQ(q.delivered, 5u);
  EXPECT_EQ(q.acked, 1u);
  EXPECT_EQ(q.requeued, 1u);
  EXPECT_EQ(q.depth, 0u);
  EXPECT_EQ(q.unacked, 3u);
  EXPECT_EQ(q.consumers, 1u);
  EXPECT_EQ(q.bytes, 12u);
  EXPECT_EQ(broker_->Stats().memory_bytes, 12u);
}

TEST_F(StatsTest, OneMessageInSixteenIsTimedFromPublishToCallback) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(channel_->BasicConsume("q", [](const Delivery&) {}, {.no_ack = true}).ok());
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  broker_->ProcessEvents();
  const LatencyStats latency = broker_->Stats().publish_to_deliver;
  EXPECT_EQ(latency.samples, 2u);
  EXPECT_GT(latency.p50, absl::ZeroDuration());
  EXPECT_LE(latency.p50, latency.p99);
  EXPECT_LE(latency.p99, latency.max);
}

TEST_F(StatsTest, TableNamesEveryQueueAndExchangeAndTheLatency) {
  ASSERT_TRUE(channel_->ExchangeDeclare("orders", kTopic).ok());
  ASSERT_TRUE(channel_->QueueDeclare("billing").ok());
  const std::string table = broker_->Stats().ToTable();
  EXPECT_THAT(table, HasSubstr("/ billing"));
  EXPECT_THAT(table, HasSubstr("/ orders"));
  EXPECT_THAT(table, HasSubstr("/ (default)"));
  EXPECT_THAT(table, HasSubstr("publish to callback"));
  EXPECT_THAT(table, HasSubstr("memory: 0 bytes"));
}

}  // namespace
}  // namespace warren
