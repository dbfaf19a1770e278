// tests/connection_test.cc: Connection through the public API, on a
// manual-dispatch broker: exclusive queues, what closing (or destroying) a
// connection does to its channels, deliveries and queues. Owns nothing outside
// this file; it must not reach into lib/.

#include "warren/connection.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/clock.h"
#include "warren/message.h"
#include "warren/status.h"

namespace warren {

// Failure messages show "404 NOT_FOUND" rather than raw bytes.
void PrintTo(ReplyCode code, std::ostream* os) {
  *os << static_cast<int>(code) << " " << ReplyCodeName(code);
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A manual-dispatch broker with two connections ("owner" and "other"), each
// with a channel.
class ConnectionTest : public testing::Test {
 protected:
  ConnectionTest()
      : broker_(Broker::Create({.dispatch = Dispatch::kManual, .clock = &clock_}).value()),
        owner_(broker_->Connect().value()),
        other_(broker_->Connect().value()),
        owner_channel_(owner_->OpenChannel().value()),
        other_channel_(other_->OpenChannel().value()) {}

  void Publish(Channel& channel, std::string_view queue, std::string body) {
    absl::Status s = channel.BasicPublish("", queue, Message(std::move(body)));
    ASSERT_TRUE(s.ok()) << s;
  }

  std::optional<GetResult> Get(Channel& channel, std::string_view queue,
                               const GetOptions& options = {}) {
    absl::StatusOr<std::optional<GetResult>> got = channel.BasicGet(queue, options);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }

  // The code `channel` answers a passive declare of `queue` with (kNone: OK).
  static ReplyCode PassiveDeclareCode(Channel& channel, std::string_view queue) {
    return ReplyCodeOf(channel.QueueDeclare(queue, {.passive = true}).status());
  }

  ManualClock clock_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> owner_;
  std::unique_ptr<Connection> other_;
  std::unique_ptr<Channel> owner_channel_;
  std::unique_ptr<Channel> other_channel_;
};

// ---- exclusive queues ----

TEST_F(ConnectionTest, ExclusiveQueueRedeclaredFromAnotherConnectionIs405) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("q", {.exclusive = true}).ok());
  EXPECT_EQ(ReplyCodeOf(other_channel_->QueueDeclare("q").status()), ReplyCode::kResourceLocked);
  EXPECT_FALSE(other_channel_->is_open());
  EXPECT_TRUE(other_->is_open());
  auto retry = other_->OpenChannel().value();
  EXPECT_EQ(ReplyCodeOf(retry->QueueDeclare("q", {.exclusive = true}).status()),
            ReplyCode::kResourceLocked);
}

TEST_F(ConnectionTest, ExclusiveQueuePassiveDeclareFromAnotherConnectionIs405) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("q", {.exclusive = true}).ok());
  EXPECT_EQ(PassiveDeclareCode(*other_channel_, "q"), ReplyCode::kResourceLocked);
  EXPECT_EQ(PassiveDeclareCode(*owner_channel_, "q"), ReplyCode::kNone);
}

TEST_F(ConnectionTest, ExclusiveQueueRefusesEveryUseFromAnotherConnection) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("q", {.exclusive = true}).ok());
  ASSERT_TRUE(owner_channel_->ExchangeDeclare("x", kDirect).ok());
  // Each refusal closes the channel, so each gets a fresh one.
  auto code_of = [&](auto call) {
    std::unique_ptr<Channel> channel = other_->OpenChannel().value();
    return ReplyCodeOf(call(*channel));
  };
  EXPECT_EQ(code_of([](Channel& c) { return c.BasicGet("q").status(); }),
            ReplyCode::kResourceLocked);
  EXPECT_EQ(code_of([](Channel& c) {
              return c.BasicConsume("q", [](const Delivery&) {}).status();
            }),
            ReplyCode::kResourceLocked);
  EXPECT_EQ(code_of([](Channel& c) { return c.QueuePurge("q").status(); }),
            ReplyCode::kResourceLocked);
  EXPECT_EQ(code_of([](Channel& c) { return c.QueueDelete("q").status(); }),
            ReplyCode::kResourceLocked);
  EXPECT_EQ(code_of([](Channel& c) { return c.QueueBind("q", "x", "k"); }),
            ReplyCode::kResourceLocked);
  EXPECT_EQ(code_of([](Channel& c) { return c.QueueUnbind("q", "x", "k"); }),
            ReplyCode::kResourceLocked);
  EXPECT_EQ(PassiveDeclareCode(*owner_channel_, "q"), ReplyCode::kNone);
}

TEST_F(ConnectionTest, AnotherConnectionMayPublishToAnExclusiveQueue) {
  absl::StatusOr<QueueDeclareResult> declared =
      owner_channel_->QueueDeclare("", {.exclusive = true});
  ASSERT_TRUE(declared.ok()) << declared.status();
  Publish(*other_channel_, declared->queue, "m");
  std::optional<GetResult> got = Get(*owner_channel_, declared->queue);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->delivery.message.body(), "m");
}

TEST_F(ConnectionTest, OwnerMayRedeclareItsExclusiveQueueOnlyAsExclusive) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("q", {.exclusive = true}).ok());
  auto second = owner_->OpenChannel().value();
  EXPECT_TRUE(second->QueueDeclare("q", {.exclusive = true}).ok());
  EXPECT_EQ(ReplyCodeOf(second->QueueDeclare("q").status()), ReplyCode::kResourceLocked);
}

TEST_F(ConnectionTest, ExclusiveQueueSurvivesTheChannelThatDeclaredIt) {
  auto declaring = owner_->OpenChannel().value();
  ASSERT_TRUE(declaring->QueueDeclare("q", {.exclusive = true}).ok());
  Publish(*declaring, "q", "m");
  ASSERT_TRUE(declaring->Close().ok());
  std::optional<GetResult> got = Get(*owner_channel_, "q");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->delivery.message.body(), "m");
}

TEST_F(ConnectionTest, ExclusiveQueueIsDeletedWhenItsConnectionCloses) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("q", {.exclusive = true}).ok());
  Publish(*owner_channel_, "q", "m");
  ASSERT_TRUE(owner_->Close().ok());
  EXPECT_EQ(PassiveDeclareCode(*other_channel_, "q"), ReplyCode::kNotFound);
  auto retry = other_->OpenChannel().value();
  absl::StatusOr<QueueDeclareResult> taken_over = retry->QueueDeclare("q");
  ASSERT_TRUE(taken_over.ok()) << taken_over.status();
  EXPECT_EQ(taken_over->message_count, 0u);
}

TEST_F(ConnectionTest, ClosingAConnectionKeepsOtherConnectionsQueues) {
  ASSERT_TRUE(other_channel_->QueueDeclare("theirs", {.exclusive = true}).ok());
  ASSERT_TRUE(other_channel_->QueueDeclare("shared").ok());
  ASSERT_TRUE(owner_->Close().ok());
  EXPECT_EQ(PassiveDeclareCode(*other_channel_, "theirs"), ReplyCode::kNone);
  EXPECT_EQ(PassiveDeclareCode(*other_channel_, "shared"), ReplyCode::kNone);
  EXPECT_TRUE(other_->is_open());
}

// ---- closing ----

TEST_F(ConnectionTest, CloseRequeuesUnackedDeliveriesOfAllItsChannelsAsRedelivered) {
  ASSERT_TRUE(other_channel_->QueueDeclare("q").ok());
  for (const char* body : {"m1", "m2", "m3"}) Publish(*other_channel_, "q", body);
  auto second = owner_->OpenChannel().value();
  ASSERT_TRUE(Get(*owner_channel_, "q").has_value());
  ASSERT_TRUE(Get(*second, "q").has_value());
  std::vector<Delivery> consumed;
  ASSERT_TRUE(
      second->BasicConsume("q", [&](const Delivery& d) { consumed.push_back(d); }).ok());
  broker_->ProcessEvents();
  ASSERT_EQ(consumed.size(), 1u);
  absl::StatusOr<QueueDeclareResult> before = other_channel_->QueueDeclare("q");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->message_count, 0u);  // all three are unacked on `owner_`

  ASSERT_TRUE(owner_->Close().ok());

  std::vector<std::string> bodies;
  while (std::optional<GetResult> got = Get(*other_channel_, "q", {.no_ack = true})) {
    EXPECT_TRUE(got->delivery.redelivered) << got->delivery.message.body();
    bodies.emplace_back(got->delivery.message.body());
  }
  EXPECT_THAT(bodies, ElementsAre("m1", "m2", "m3"));
}

TEST_F(ConnectionTest, CloseHandsUnackedDeliveriesToAnotherConnectionsConsumer) {
  ASSERT_TRUE(other_channel_->QueueDeclare("q").ok());
  Publish(*other_channel_, "q", "m");
  std::vector<Delivery> first, second;
  ASSERT_TRUE(
      owner_channel_->BasicConsume("q", [&](const Delivery& d) { first.push_back(d); }).ok());
  broker_->ProcessEvents();
  ASSERT_TRUE(
      other_channel_->BasicConsume("q", [&](const Delivery& d) { second.push_back(d); }).ok());
  ASSERT_TRUE(owner_->Close().ok());
  broker_->ProcessEvents();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].redelivered);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message.body(), "m");
  EXPECT_TRUE(second[0].redelivered);
}

// Found by tests/fuzz/channel_ops_fuzzer.cc: closing the channels one by one
// requeued the first channel's delivery to the second channel's no_ack
// consumer, which settled it and then dropped its callback.
TEST_F(ConnectionTest, CloseLosesNoUnackedDeliveryToANoAckConsumerOfItsOwnChannels) {
  ASSERT_TRUE(other_channel_->QueueDeclare("q").ok());
  Publish(*other_channel_, "q", "m");
  ASSERT_TRUE(Get(*owner_channel_, "q").has_value());  // unacked on `owner_`
  auto second = owner_->OpenChannel().value();
  std::vector<Delivery> consumed;
  ASSERT_TRUE(second
                  ->BasicConsume("q", [&](const Delivery& d) { consumed.push_back(d); },
                                 {.no_ack = true})
                  .ok());

  ASSERT_TRUE(owner_->Close().ok());
  broker_->ProcessEvents();

  EXPECT_THAT(consumed, IsEmpty());
  std::optional<GetResult> requeued = Get(*other_channel_, "q");
  ASSERT_TRUE(requeued.has_value());
  EXPECT_EQ(requeued->delivery.message.body(), "m");
  EXPECT_TRUE(requeued->delivery.redelivered);
}

TEST_F(ConnectionTest, CloseDropsCallbacksNotYetRun) {
  ASSERT_TRUE(other_channel_->QueueDeclare("q").ok());
  std::vector<Delivery> consumed;
  ASSERT_TRUE(
      owner_channel_->BasicConsume("q", [&](const Delivery& d) { consumed.push_back(d); }).ok());
  Publish(*other_channel_, "q", "m");
  ASSERT_TRUE(owner_->Close().ok());
  broker_->ProcessEvents();
  EXPECT_THAT(consumed, IsEmpty());
  std::optional<GetResult> requeued = Get(*other_channel_, "q");
  ASSERT_TRUE(requeued.has_value());
  EXPECT_EQ(requeued->delivery.message.body(), "m");
}

TEST_F(ConnectionTest, CloseDeletesAutoDeleteQueuesItConsumed) {
  ASSERT_TRUE(other_channel_->QueueDeclare("q", {.auto_delete = true}).ok());
  ASSERT_TRUE(owner_channel_->BasicConsume("q", [](const Delivery&) {}).ok());
  ASSERT_TRUE(owner_->Close().ok());
  EXPECT_EQ(PassiveDeclareCode(*other_channel_, "q"), ReplyCode::kNotFound);
}

TEST_F(ConnectionTest, CloseClosesItsChannelsWhichThenAnswer504) {
  auto second = owner_->OpenChannel().value();
  ASSERT_TRUE(owner_->Close().ok());
  EXPECT_FALSE(owner_->is_open());
  EXPECT_TRUE(owner_->close_reason().ok());
  for (Channel* channel : {owner_channel_.get(), second.get()}) {
    EXPECT_FALSE(channel->is_open());
    EXPECT_EQ(ReplyCodeOf(channel->QueueDeclare("q").status()), ReplyCode::kChannelError);
    EXPECT_EQ(ReplyCodeOf(channel->BasicPublish("", "q", Message("m"))),
              ReplyCode::kChannelError);
    EXPECT_TRUE(channel->Close().ok());
  }
  EXPECT_TRUE(other_->is_open());
  EXPECT_TRUE(other_channel_->is_open());
}

TEST_F(ConnectionTest, CloseIsIdempotent) {
  EXPECT_TRUE(owner_->Close().ok());
  EXPECT_TRUE(owner_->Close().ok());
  EXPECT_FALSE(owner_->is_open());
  EXPECT_TRUE(owner_->close_reason().ok());
}

TEST_F(ConnectionTest, OpenChannelOnClosedConnectionIs504) {
  ASSERT_TRUE(owner_->Close().ok());
  absl::StatusOr<std::unique_ptr<Channel>> channel = owner_->OpenChannel();
  EXPECT_EQ(ReplyCodeOf(channel.status()), ReplyCode::kChannelError);
}

TEST_F(ConnectionTest, ConnectionErrorIsTheCloseReasonAndNamedByLaterOpenChannel) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(owner_channel_->BasicConsume("q", [](const Delivery&) {}, {.consumer_tag = "ct"})
                  .ok());
  absl::Status refused =
      owner_channel_->BasicConsume("q", [](const Delivery&) {}, {.consumer_tag = "ct"}).status();
  ASSERT_EQ(ReplyCodeOf(refused), ReplyCode::kNotAllowed);
  EXPECT_FALSE(owner_->is_open());
  EXPECT_EQ(owner_->close_reason(), refused);
  absl::StatusOr<std::unique_ptr<Channel>> channel = owner_->OpenChannel();
  EXPECT_EQ(ReplyCodeOf(channel.status()), ReplyCode::kChannelError);
  EXPECT_THAT(channel.status().message(), ::testing::HasSubstr(std::string(refused.message())));
  EXPECT_TRUE(other_->is_open());
}

TEST_F(ConnectionTest, ChannelErrorLeavesTheConnectionOpen) {
  ASSERT_EQ(PassiveDeclareCode(*owner_channel_, "missing"), ReplyCode::kNotFound);
  EXPECT_TRUE(owner_->is_open());
  EXPECT_TRUE(owner_->close_reason().ok());
  EXPECT_TRUE(owner_->OpenChannel().ok());
}

// ---- destruction ----

TEST_F(ConnectionTest, DestroyingAConnectionClosesIt) {
  ASSERT_TRUE(owner_channel_->QueueDeclare("exclusive", {.exclusive = true}).ok());
  ASSERT_TRUE(other_channel_->QueueDeclare("q").ok());
  Publish(*other_channel_, "q", "m");
  ASSERT_TRUE(Get(*owner_channel_, "q").has_value());

  owner_.reset();

  EXPECT_FALSE(owner_channel_->is_open());
  EXPECT_EQ(ReplyCodeOf(owner_channel_->BasicAck(1)), ReplyCode::kChannelError);
  EXPECT_EQ(PassiveDeclareCode(*other_channel_, "exclusive"), ReplyCode::kNotFound);
  auto fresh = other_->OpenChannel().value();
  std::optional<GetResult> requeued = Get(*fresh, "q");
  ASSERT_TRUE(requeued.has_value());
  EXPECT_TRUE(requeued->delivery.redelivered);
}

TEST_F(ConnectionTest, ChannelMayOutliveItsConnection) {
  std::unique_ptr<Channel> orphan = owner_->OpenChannel().value();
  owner_.reset();
  EXPECT_FALSE(orphan->is_open());
  EXPECT_EQ(ReplyCodeOf(orphan->QueueDeclare("q").status()), ReplyCode::kChannelError);
  EXPECT_TRUE(orphan->Close().ok());
  orphan.reset();
  EXPECT_TRUE(other_channel_->QueueDeclare("q").ok());
}

}  // namespace
}  // namespace warren
