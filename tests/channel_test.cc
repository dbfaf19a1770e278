// tests/channel_test.cc: every Channel method through the public API, on a
// manual-dispatch broker, with its success path and its refusals (reply codes,
// and what a refusal closes). Owns nothing outside this file; it must not
// reach into lib/.

#include "warren/channel.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/clock.h"
#include "warren/connection.h"
#include "warren/field_table.h"
#include "warren/message.h"
#include "warren/status.h"

namespace warren {

// Failure messages show "404 NOT_FOUND" rather than raw bytes.
void PrintTo(ReplyCode code, std::ostream* os) {
  *os << static_cast<int>(code) << " " << ReplyCodeName(code);
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Copies of the deliveries a consumer callback received, in order.
struct Inbox {
  std::vector<Delivery> deliveries;

  ConsumerCallback Callback() {
    return [this](const Delivery& d) { deliveries.push_back(d); };
  }
  std::vector<std::string> Bodies() const {
    std::vector<std::string> bodies;
    for (const Delivery& d : deliveries) bodies.emplace_back(d.message.body());
    return bodies;
  }
};

// RabbitMQ's predeclared exchanges, each durable, with its type.
constexpr std::pair<std::string_view, std::string_view> kPredeclaredExchanges[] = {
    {"amq.direct", kDirect},   {"amq.fanout", kFanout}, {"amq.topic", kTopic},
    {"amq.headers", kHeaders}, {"amq.match", kHeaders},
};

// One manual-dispatch broker with a connection and a channel: callbacks run
// only inside ProcessEvents(), so every test sees a fixed order of events.
class ChannelTest : public testing::Test {
 protected:
  ChannelTest()
      : broker_(Broker::Create({.dispatch = Dispatch::kManual, .clock = &clock_}).value()),
        connection_(broker_->Connect().value()),
        channel_(connection_->OpenChannel().value()) {}

  std::unique_ptr<Channel> OpenChannel() { return connection_->OpenChannel().value(); }

  void DeclareQueue(std::string_view queue, const QueueDeclareOptions& options = {}) {
    absl::StatusOr<QueueDeclareResult> declared = channel_->QueueDeclare(queue, options);
    ASSERT_TRUE(declared.ok()) << declared.status();
  }

  void Publish(std::string_view exchange, std::string_view routing_key, std::string body,
               BasicProperties properties = {}) {
    absl::Status s = channel_->BasicPublish(exchange, routing_key,
                                            Message(std::move(body), std::move(properties)));
    ASSERT_TRUE(s.ok()) << s;
  }

  // basic.get on `channel` (default: the fixture's); nullopt when empty or
  // refused (the refusal fails the test).
  std::optional<GetResult> Get(std::string_view queue, Channel* channel = nullptr,
                               const GetOptions& options = {}) {
    absl::StatusOr<std::optional<GetResult>> got =
        (channel ? channel : channel_.get())->BasicGet(queue, options);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }

  // The body of basic.get with no_ack, "" when the queue is empty.
  std::string TakeBody(std::string_view queue) {
    std::optional<GetResult> got = Get(queue, nullptr, {.no_ack = true});
    return got ? std::string(got->delivery.message.body()) : "";
  }

  // What `call` returns on a channel of its own: a refusal closes the
  // channel it came on, so each of several refusals needs a fresh one.
  template <typename Call>
  absl::Status OnNewChannel(Call call) {
    return call(*OpenChannel());
  }

  uint32_t ReadyCount(std::string_view queue) {
    absl::StatusOr<QueueDeclareResult> r = channel_->QueueDeclare(queue, {.passive = true});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->message_count : 0;
  }

  // "a1" in q1 and "b1" in q2, consumed by `first` and `second` on this
  // channel under a channel-wide prefetch of 1: `first` gets "a1", and
  // `second` waits.
  void ConsumeTwoQueuesUnderGlobalQosOfOne(Inbox& first, Inbox& second) {
    DeclareQueue("q1");
    DeclareQueue("q2");
    Publish("", "q1", "a1");
    Publish("", "q2", "b1");
    ASSERT_TRUE(channel_->BasicQos(1, {.global = true}).ok());
    ASSERT_TRUE(channel_->BasicConsume("q1", first.Callback()).ok());
    ASSERT_TRUE(channel_->BasicConsume("q2", second.Callback()).ok());
    broker_->ProcessEvents();
  }

  ManualClock clock_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;
};

// ---- exchange.declare / exchange.delete ----

TEST_F(ChannelTest, ExchangeRedeclareSucceedsAndPassiveDeclareIgnoresTheType) {
  EXPECT_TRUE(channel_->ExchangeDeclare("x", kTopic).ok());
  EXPECT_TRUE(channel_->ExchangeDeclare("x", kTopic).ok());
  EXPECT_TRUE(channel_->ExchangeDeclare("x", kDirect, {.passive = true}).ok());
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(ChannelTest, ExchangePassiveDeclareOfMissingIs404AndClosesOnlyTheChannel) {
  absl::Status s = channel_->ExchangeDeclare("missing", kDirect, {.passive = true});
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kNotFound);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(ChannelTest, ExchangeRedeclareWithAnotherTypeIs406) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDeclare("x", kFanout)),
            ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(channel_->is_open());
}

TEST_F(ChannelTest, ExchangeRedeclareWithAnotherDurableFlagIs406) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDeclare("x", kDirect, {.durable = true})),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, ExchangeRedeclareWithAnotherInternalFlagIs406) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDeclare("x", kDirect, {.internal = true})),
            ReplyCode::kPreconditionFailed);
  auto fresh = OpenChannel();
  ASSERT_TRUE(fresh->ExchangeDeclare("inner", kDirect, {.internal = true}).ok());
  EXPECT_EQ(ReplyCodeOf(fresh->ExchangeDeclare("inner", kDirect)),
            ReplyCode::kPreconditionFailed);
}

// A redeclare must match the type and flags of the exchange exactly, so its
// success shows the type.
TEST_F(ChannelTest, PredeclaredExchangesExistWithTheirTypes) {
  for (auto [name, type] : kPredeclaredExchanges) {
    EXPECT_TRUE(channel_->ExchangeDeclare(name, type, {.passive = true}).ok()) << name;
    EXPECT_TRUE(channel_->ExchangeDeclare(name, type, {.durable = true}).ok()) << name;
  }
  EXPECT_TRUE(channel_->is_open());
}

// The "amq." prefix is refused only for new names (the exchange__amq_prefix
// conformance case); an existing exchange is compared, as RabbitMQ's
// exchange.declare does for any exchange it finds.
TEST_F(ChannelTest, PredeclaredExchangeRedeclaredWithAnotherTypeIs406) {
  for (const auto& predeclared : kPredeclaredExchanges) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string_view name = predeclared.first;
    const std::string_view other_type = predeclared.second == kFanout ? kDirect : kFanout;
    absl::Status s = OnNewChannel([&](Channel& c) {
      return c.ExchangeDeclare(name, other_type, {.durable = true});
    });
    EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed) << name << ": " << s;
  }
}

TEST_F(ChannelTest, ExchangeDeclareWithAmqPrefixIs403) {
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDeclare("amq.mine", kDirect)),
            ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, ExchangeDeclareOfUnknownTypeIs503AndClosesTheConnection) {
  absl::Status s = channel_->ExchangeDeclare("x", "no-such-type");
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kCommandInvalid);
  EXPECT_FALSE(connection_->is_open());
}

TEST_F(ChannelTest, ExchangeDeleteRemovesTheExchange) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kFanout).ok());
  EXPECT_TRUE(channel_->ExchangeDelete("x").ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDeclare("x", kFanout, {.passive = true})),
            ReplyCode::kNotFound);
}

TEST_F(ChannelTest, ExchangeDeleteOfMissingSucceeds) {
  EXPECT_TRUE(channel_->ExchangeDelete("missing").ok());
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(ChannelTest, ExchangeDeleteOfPredeclaredIs403) {
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDelete("amq.direct")), ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, ExchangeDeleteIfUnusedWhileSourceOfBindingIs406) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kFanout).ok());
  DeclareQueue("q");
  ASSERT_TRUE(channel_->QueueBind("q", "x", "").ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDelete("x", {.if_unused = true})),
            ReplyCode::kPreconditionFailed);
}

// ---- exchange.bind / exchange.unbind ----

TEST_F(ChannelTest, ExchangeBindRoutesThroughTheDestination) {
  ASSERT_TRUE(channel_->ExchangeDeclare("src", kDirect).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare("dst", kFanout).ok());
  DeclareQueue("q");
  ASSERT_TRUE(channel_->QueueBind("q", "dst", "").ok());
  EXPECT_TRUE(channel_->ExchangeBind("dst", "src", "k").ok());
  Publish("src", "k", "routed");
  Publish("src", "other", "dropped");
  EXPECT_EQ(TakeBody("q"), "routed");
  EXPECT_EQ(TakeBody("q"), "");
}

TEST_F(ChannelTest, InternalExchangeRoutesWhatReachesItThroughAnExchangeBinding) {
  ASSERT_TRUE(channel_->ExchangeDeclare("front", kDirect).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare("inner", kFanout, {.internal = true}).ok());
  DeclareQueue("q");
  ASSERT_TRUE(channel_->QueueBind("q", "inner", "").ok());
  ASSERT_TRUE(channel_->ExchangeBind("inner", "front", "k").ok());
  Publish("front", "k", "through the binding");
  EXPECT_EQ(TakeBody("q"), "through the binding");
}

TEST_F(ChannelTest, ExchangeUnbindStopsRouting) {
  ASSERT_TRUE(channel_->ExchangeDeclare("src", kDirect).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare("dst", kFanout).ok());
  DeclareQueue("q");
  ASSERT_TRUE(channel_->QueueBind("q", "dst", "").ok());
  ASSERT_TRUE(channel_->ExchangeBind("dst", "src", "k").ok());
  EXPECT_TRUE(channel_->ExchangeUnbind("dst", "src", "k").ok());
  Publish("src", "k", "m");
  EXPECT_EQ(ReadyCount("q"), 0u);
}

TEST_F(ChannelTest, ExchangeUnbindOfMissingBindingSucceeds) {
  ASSERT_TRUE(channel_->ExchangeDeclare("src", kDirect).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare("dst", kDirect).ok());
  EXPECT_TRUE(channel_->ExchangeUnbind("dst", "src", "never-bound").ok());
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(ChannelTest, ExchangeBindWithMissingSourceIs404) {
  ASSERT_TRUE(channel_->ExchangeDeclare("dst", kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeBind("dst", "missing", "k")), ReplyCode::kNotFound);
}

TEST_F(ChannelTest, ExchangeBindWithMissingDestinationIs404) {
  ASSERT_TRUE(channel_->ExchangeDeclare("src", kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeBind("missing", "src", "k")), ReplyCode::kNotFound);
}

// ---- queue.declare ----

TEST_F(ChannelTest, QueueDeclareReportsReadyMessagesAndConsumers) {
  DeclareQueue("q");
  Publish("", "q", "a");
  Publish("", "q", "b");
  Inbox inbox;
  auto consumer_channel = OpenChannel();
  ASSERT_TRUE(consumer_channel->BasicQos(1).ok());
  ASSERT_TRUE(consumer_channel->BasicConsume("q", inbox.Callback()).ok());
  absl::StatusOr<QueueDeclareResult> r = channel_->QueueDeclare("q");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->queue, "q");
  EXPECT_EQ(r->message_count, 1u);  // the other one is unacked
  EXPECT_EQ(r->consumer_count, 1u);
}

TEST_F(ChannelTest, QueueRedeclareWithSameFlagsSucceeds) {
  DeclareQueue("q", {.durable = true});
  EXPECT_TRUE(channel_->QueueDeclare("q", {.durable = true}).ok());
}

TEST_F(ChannelTest, QueueRedeclareWithOtherFlagsIs406) {
  DeclareQueue("q", {.durable = true});
  absl::Status s = channel_->QueueDeclare("q").status();
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(ChannelTest, QueueRedeclareWithOtherArgumentsIs406) {
  DeclareQueue("q", {.arguments = {{"x-max-length", int32_t{10}}}});
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDeclare(
                                     "q", {.arguments = {{"x-max-length", int32_t{20}}}})
                            .status()),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, QueuePassiveDeclareIgnoresFlags) {
  DeclareQueue("q", {.durable = true});
  EXPECT_TRUE(channel_->QueueDeclare("q", {.passive = true, .auto_delete = true}).ok());
}

TEST_F(ChannelTest, QueuePassiveDeclareOfMissingIs404) {
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDeclare("missing", {.passive = true}).status()),
            ReplyCode::kNotFound);
  EXPECT_FALSE(channel_->is_open());
}

TEST_F(ChannelTest, QueueDeclareWithAmqPrefixIs403) {
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDeclare("amq.mine").status()),
            ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, QueueDeclareWithInvalidArgumentIs406) {
  EXPECT_EQ(ReplyCodeOf(
                channel_->QueueDeclare("q", {.arguments = {{"x-max-length", "ten"}}}).status()),
            ReplyCode::kPreconditionFailed);
}

// ---- queue.bind / queue.unbind ----

TEST_F(ChannelTest, QueueBindRoutesAndUnbindStopsRouting) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  DeclareQueue("q");
  EXPECT_TRUE(channel_->QueueBind("q", "x", "k").ok());
  Publish("x", "k", "bound");
  EXPECT_TRUE(channel_->QueueUnbind("q", "x", "k").ok());
  Publish("x", "k", "unbound");
  EXPECT_EQ(TakeBody("q"), "bound");
  EXPECT_EQ(TakeBody("q"), "");
}

TEST_F(ChannelTest, QueueBindTwiceIsOneBindingThatOneUnbindRemoves) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  DeclareQueue("q");
  EXPECT_TRUE(channel_->QueueBind("q", "x", "k").ok());
  EXPECT_TRUE(channel_->QueueBind("q", "x", "k").ok());
  EXPECT_TRUE(channel_->QueueUnbind("q", "x", "k").ok());
  Publish("x", "k", "unbound");
  EXPECT_EQ(TakeBody("q"), "");
}

TEST_F(ChannelTest, BindingsDifferingOnlyInArgumentsAreUnboundOneAtATime) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  DeclareQueue("q");
  const FieldTable tagged{{"tag", 1}};
  EXPECT_TRUE(channel_->QueueBind("q", "x", "k").ok());
  EXPECT_TRUE(channel_->QueueBind("q", "x", "k", tagged).ok());
  EXPECT_TRUE(channel_->QueueUnbind("q", "x", "k").ok());
  Publish("x", "k", "still bound");
  EXPECT_TRUE(channel_->QueueUnbind("q", "x", "k", tagged).ok());
  Publish("x", "k", "unbound");
  EXPECT_TRUE(channel_->QueueBind("q", "x", "k").ok());
  Publish("x", "k", "bound again");
  EXPECT_EQ(TakeBody("q"), "still bound");
  EXPECT_EQ(TakeBody("q"), "bound again");
  EXPECT_EQ(TakeBody("q"), "");
}

TEST_F(ChannelTest, QueueBindToMissingExchangeIs404) {
  DeclareQueue("q");
  EXPECT_EQ(ReplyCodeOf(channel_->QueueBind("q", "missing", "k")), ReplyCode::kNotFound);
}

TEST_F(ChannelTest, QueueBindOfMissingQueueIs404) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->QueueBind("missing", "x", "k")), ReplyCode::kNotFound);
}

TEST_F(ChannelTest, QueueBindToDefaultExchangeIs403) {
  DeclareQueue("q");
  EXPECT_EQ(ReplyCodeOf(channel_->QueueBind("q", "", "k")), ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, QueueUnbindFromMissingExchangeIs404) {
  DeclareQueue("q");
  EXPECT_EQ(ReplyCodeOf(channel_->QueueUnbind("q", "missing", "k")), ReplyCode::kNotFound);
}

// ---- queue.purge / queue.delete ----

TEST_F(ChannelTest, QueuePurgeDropsReadyMessagesButNotUnackedOnes) {
  DeclareQueue("q");
  for (const char* body : {"a", "b", "c"}) Publish("", "q", body);
  std::optional<GetResult> unacked = Get("q");
  ASSERT_TRUE(unacked.has_value());
  absl::StatusOr<uint32_t> purged = channel_->QueuePurge("q");
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2u);
  EXPECT_EQ(ReadyCount("q"), 0u);
  ASSERT_TRUE(channel_->BasicNack(unacked->delivery.delivery_tag, {.requeue = true}).ok());
  EXPECT_EQ(TakeBody("q"), "a");
}

TEST_F(ChannelTest, QueuePurgeOfMissingQueueIs404) {
  EXPECT_EQ(ReplyCodeOf(channel_->QueuePurge("missing").status()), ReplyCode::kNotFound);
}

TEST_F(ChannelTest, QueueDeleteReturnsReadyCountAndRemovesTheQueue) {
  DeclareQueue("q");
  Publish("", "q", "a");
  Publish("", "q", "b");
  absl::StatusOr<uint32_t> deleted = channel_->QueueDelete("q");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDeclare("q", {.passive = true}).status()),
            ReplyCode::kNotFound);
}

TEST_F(ChannelTest, QueueDeleteOfMissingQueueReturnsZero) {
  absl::StatusOr<uint32_t> deleted = channel_->QueueDelete("missing");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
}

TEST_F(ChannelTest, QueueDeleteIfEmptyWithReadyMessagesIs406) {
  DeclareQueue("q");
  Publish("", "q", "a");
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDelete("q", {.if_empty = true}).status()),
            ReplyCode::kPreconditionFailed);
  auto other = OpenChannel();
  EXPECT_TRUE(other->QueueDeclare("q", {.passive = true}).ok());
}

TEST_F(ChannelTest, QueueDeleteIfUnusedWithConsumerIs406) {
  DeclareQueue("q");
  Inbox inbox;
  auto consumer_channel = OpenChannel();
  ASSERT_TRUE(consumer_channel->BasicConsume("q", inbox.Callback()).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDelete("q", {.if_unused = true}).status()),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, QueueDeleteCancelsItsConsumers) {
  DeclareQueue("q");
  auto consumer_channel = OpenChannel();
  Inbox inbox;
  std::vector<std::string> cancelled;
  ConsumeOptions options{.consumer_tag = "ct"};
  options.on_cancel = [&](std::string_view tag) { cancelled.emplace_back(tag); };
  ASSERT_TRUE(consumer_channel->BasicConsume("q", inbox.Callback(), options).ok());
  ASSERT_TRUE(channel_->QueueDelete("q").ok());
  broker_->ProcessEvents();
  EXPECT_THAT(cancelled, ElementsAre("ct"));
  EXPECT_TRUE(consumer_channel->is_open());
}

// ---- basic.qos ----

TEST_F(ChannelTest, QosLimitsUnackedDeliveriesOfEachConsumer) {
  DeclareQueue("q1");
  DeclareQueue("q2");
  for (const char* body : {"a", "b", "c"}) {
    Publish("", "q1", body);
    Publish("", "q2", body);
  }
  ASSERT_TRUE(channel_->BasicQos(2).ok());
  Inbox first, second;
  ASSERT_TRUE(channel_->BasicConsume("q1", first.Callback()).ok());
  ASSERT_TRUE(channel_->BasicConsume("q2", second.Callback()).ok());
  broker_->ProcessEvents();
  EXPECT_THAT(first.Bodies(), ElementsAre("a", "b"));
  EXPECT_THAT(second.Bodies(), ElementsAre("a", "b"));
  ASSERT_TRUE(channel_->BasicAck(first.deliveries[0].delivery_tag).ok());
  broker_->ProcessEvents();
  EXPECT_THAT(first.Bodies(), ElementsAre("a", "b", "c"));
  EXPECT_EQ(second.deliveries.size(), 2u);
}

TEST_F(ChannelTest, QosAppliesOnlyToConsumersStartedAfterIt) {
  DeclareQueue("before");
  DeclareQueue("after");
  for (const char* body : {"a", "b", "c"}) {
    Publish("", "before", body);
    Publish("", "after", body);
  }
  Inbox unlimited, limited;
  ASSERT_TRUE(channel_->BasicConsume("before", unlimited.Callback()).ok());
  ASSERT_TRUE(channel_->BasicQos(1).ok());
  ASSERT_TRUE(channel_->BasicConsume("after", limited.Callback()).ok());
  broker_->ProcessEvents();
  EXPECT_EQ(unlimited.deliveries.size(), 3u);
  EXPECT_EQ(limited.deliveries.size(), 1u);
}

TEST_F(ChannelTest, GlobalQosIsSharedByTheChannelsConsumers) {
  Inbox first, second;
  ASSERT_NO_FATAL_FAILURE(ConsumeTwoQueuesUnderGlobalQosOfOne(first, second));
  EXPECT_THAT(first.Bodies(), ElementsAre("a1"));
  EXPECT_THAT(second.Bodies(), IsEmpty());
  ASSERT_TRUE(channel_->BasicAck(first.deliveries[0].delivery_tag).ok());
  broker_->ProcessEvents();
  EXPECT_THAT(second.Bodies(), ElementsAre("b1"));
}

TEST_F(ChannelTest, LiftingGlobalQosLetsTheWaitingConsumersGoOnWithoutAnAck) {
  Inbox first, second;
  ASSERT_NO_FATAL_FAILURE(ConsumeTwoQueuesUnderGlobalQosOfOne(first, second));
  ASSERT_THAT(second.Bodies(), IsEmpty());
  ASSERT_TRUE(channel_->BasicQos(0, {.global = true}).ok());
  broker_->ProcessEvents();
  EXPECT_THAT(second.Bodies(), ElementsAre("b1"));
  // Acks after the limit is gone settle as usual.
  ASSERT_TRUE(channel_->BasicAck(first.deliveries[0].delivery_tag).ok());
  ASSERT_TRUE(channel_->BasicAck(second.deliveries[0].delivery_tag).ok());
}

TEST_F(ChannelTest, QosWithPrefetchSizeIs540AndClosesTheConnection) {
  EXPECT_EQ(ReplyCodeOf(channel_->BasicQos(1, {.prefetch_size = 4096})),
            ReplyCode::kNotImplemented);
  EXPECT_FALSE(connection_->is_open());
}

TEST_F(ChannelTest, BasicGetIsNotLimitedByQos) {
  DeclareQueue("q");
  Publish("", "q", "a");
  Publish("", "q", "b");
  ASSERT_TRUE(channel_->BasicQos(1).ok());
  EXPECT_TRUE(Get("q").has_value());
  EXPECT_TRUE(Get("q").has_value());
}

// ---- basic.publish ----

TEST_F(ChannelTest, PublishToMissingExchangeIs404) {
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("missing", "k", Message("m"))),
            ReplyCode::kNotFound);
  EXPECT_FALSE(channel_->is_open());
}

TEST_F(ChannelTest, PublishToInternalExchangeIs403) {
  ASSERT_TRUE(channel_->ExchangeDeclare("inner", kFanout, {.internal = true}).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("inner", "", Message("m"))),
            ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, PublishImmediateIs540) {
  DeclareQueue("q");
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("", "q", Message("m"), {.immediate = true})),
            ReplyCode::kNotImplemented);
}

TEST_F(ChannelTest, PublishWithInvalidExpirationIs406) {
  DeclareQueue("q");
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("", "q", Message("m", {.expiration = "-1"}))),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, PublishWithAnotherUsersIdIs406) {
  DeclareQueue("q");
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("", "q", Message("m", {.user_id = "mallory"}))),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, PublishWithTheConnectionsUserIdIsDelivered) {
  DeclareQueue("q");
  Publish("", "q", "m", {.user_id = "guest"});
  EXPECT_EQ(TakeBody("q"), "m");
}

TEST_F(ChannelTest, PublishSharesOneBodyAmongTheQueuesItReaches) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kFanout).ok());
  DeclareQueue("q1");
  DeclareQueue("q2");
  ASSERT_TRUE(channel_->QueueBind("q1", "x", "").ok());
  ASSERT_TRUE(channel_->QueueBind("q2", "x", "").ok());
  Message published("shared body");
  ASSERT_TRUE(channel_->BasicPublish("x", "", published).ok());
  std::optional<GetResult> one = Get("q1");
  std::optional<GetResult> two = Get("q2");
  ASSERT_TRUE(one && two);
  EXPECT_TRUE(one->delivery.message.SharesBodyWith(published));
  EXPECT_TRUE(two->delivery.message.SharesBodyWith(published));
}

TEST_F(ChannelTest, CcHeaderAddsRoutingKeysAndIsDelivered) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  for (const char* q : {"a", "b", "c"}) {
    DeclareQueue(q);
    ASSERT_TRUE(channel_->QueueBind(q, "x", q).ok());
  }
  Publish("x", "a", "m", {.headers = FieldTable{{"CC", FieldArray{"b"}}}});
  std::optional<GetResult> at_b = Get("b");
  ASSERT_TRUE(at_b.has_value());
  EXPECT_EQ(at_b->delivery.routing_key, "a");
  ASSERT_TRUE(at_b->delivery.message.properties().headers.has_value());
  EXPECT_NE(at_b->delivery.message.properties().headers->Find("CC"), nullptr);
  EXPECT_EQ(TakeBody("a"), "m");
  EXPECT_EQ(TakeBody("c"), "");
}

TEST_F(ChannelTest, BccHeaderAddsRoutingKeysAndIsRemoved) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  for (const char* q : {"a", "b"}) {
    DeclareQueue(q);
    ASSERT_TRUE(channel_->QueueBind(q, "x", q).ok());
  }
  Publish("x", "a", "m", {.headers = FieldTable{{"BCC", FieldArray{"b"}}, {"keep", "yes"}}});
  for (const char* q : {"a", "b"}) {
    std::optional<GetResult> got = Get(q);
    ASSERT_TRUE(got.has_value()) << q;
    const std::optional<FieldTable>& headers = got->delivery.message.properties().headers;
    ASSERT_TRUE(headers.has_value());
    EXPECT_EQ(headers->Find("BCC"), nullptr) << q;
    EXPECT_NE(headers->Find("keep"), nullptr) << q;
  }
}

TEST_F(ChannelTest, MandatoryUnroutableMessageGoesToTheReturnHandler) {
  std::vector<ReturnedMessage> returned;
  channel_->SetReturnHandler([&](const ReturnedMessage& r) { returned.push_back(r); });
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  ASSERT_TRUE(
      channel_->BasicPublish("x", "nowhere", Message("lost"), {.mandatory = true}).ok());
  EXPECT_THAT(returned, IsEmpty());  // only on the dispatcher
  broker_->ProcessEvents();
  ASSERT_EQ(returned.size(), 1u);
  EXPECT_EQ(returned[0].reply_code, 312);
  EXPECT_EQ(returned[0].reply_text, "NO_ROUTE");
  EXPECT_EQ(returned[0].exchange, "x");
  EXPECT_EQ(returned[0].routing_key, "nowhere");
  EXPECT_EQ(returned[0].message.body(), "lost");
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(ChannelTest, UnroutableMessageWithoutMandatoryIsNotReturned) {
  int returns = 0;
  channel_->SetReturnHandler([&](const ReturnedMessage&) { ++returns; });
  ASSERT_TRUE(channel_->BasicPublish("", "no-such-queue", Message("m")).ok());
  broker_->ProcessEvents();
  EXPECT_EQ(returns, 0);
}

TEST_F(ChannelTest, RoutedMandatoryMessageIsNotReturned) {
  int returns = 0;
  channel_->SetReturnHandler([&](const ReturnedMessage&) { ++returns; });
  DeclareQueue("q");
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m"), {.mandatory = true}).ok());
  broker_->ProcessEvents();
  EXPECT_EQ(returns, 0);
  EXPECT_EQ(ReadyCount("q"), 1u);
}

TEST_F(ChannelTest, PublishBatchDeliversEveryMessageInOrder) {
  DeclareQueue("q");
  const std::vector<Message> batch = {Message("1"), Message("2"), Message("3")};
  ASSERT_TRUE(channel_->BasicPublishBatch("", "q", batch).ok());
  EXPECT_EQ(ReadyCount("q"), 3u);
  EXPECT_EQ(TakeBody("q"), "1");
  EXPECT_EQ(TakeBody("q"), "2");
  EXPECT_EQ(TakeBody("q"), "3");
}

TEST_F(ChannelTest, PublishBatchReachesEveryBoundQueueWithSharedBodies) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kFanout).ok());
  for (const char* q : {"q1", "q2"}) {
    DeclareQueue(q);
    ASSERT_TRUE(channel_->QueueBind(q, "x", "").ok());
  }
  const std::vector<Message> batch = {Message("a"), Message("b")};
  ASSERT_TRUE(channel_->BasicPublishBatch("x", "", batch).ok());
  for (const char* q : {"q1", "q2"}) {
    std::optional<GetResult> first = Get(q);
    ASSERT_TRUE(first.has_value()) << q;
    EXPECT_TRUE(first->delivery.message.SharesBodyWith(batch[0])) << q;
    EXPECT_EQ(TakeBody(q), "b") << q;
  }
}

TEST_F(ChannelTest, PublishBatchRoutesEachMessageByItsHeaders) {
  ASSERT_TRUE(channel_->ExchangeDeclare("h", kHeaders).ok());
  DeclareQueue("red");
  DeclareQueue("blue");
  ASSERT_TRUE(channel_->QueueBind("red", "h", "", {{"colour", "red"}}).ok());
  ASSERT_TRUE(channel_->QueueBind("blue", "h", "", {{"colour", "blue"}}).ok());
  const std::vector<Message> batch = {
      Message("r1", {.headers = FieldTable{{"colour", "red"}}}),
      Message("b1", {.headers = FieldTable{{"colour", "blue"}}}),
      Message("none"),
      Message("r2", {.headers = FieldTable{{"colour", "red"}}})};
  ASSERT_TRUE(channel_->BasicPublishBatch("h", "", batch).ok());
  EXPECT_EQ(TakeBody("red"), "r1");
  EXPECT_EQ(TakeBody("red"), "r2");
  EXPECT_EQ(TakeBody("blue"), "b1");
  EXPECT_EQ(ReadyCount("red") + ReadyCount("blue"), 0u);
}

TEST_F(ChannelTest, PublishBatchStopsAtTheFirstRefusedMessageAndClosesTheChannel) {
  DeclareQueue("q");
  const std::vector<Message> batch = {Message("before"), Message("bad", {.expiration = "-1"}),
                                      Message("after")};
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublishBatch("", "q", batch)),
            ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(channel_->is_open());
  channel_ = OpenChannel();
  EXPECT_EQ(ReadyCount("q"), 1u);
  EXPECT_EQ(TakeBody("q"), "before");
}

TEST_F(ChannelTest, PublishBatchConfirmsEachMessage) {
  DeclareQueue("q");
  std::vector<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.push_back(c); });
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  const std::vector<Message> batch(3, Message("m"));
  ASSERT_TRUE(channel_->BasicPublishBatch("", "q", batch).ok());
  EXPECT_EQ(channel_->NextPublishSeqNo(), 4u);
  EXPECT_TRUE(channel_->WaitForConfirms(absl::Seconds(5)).ok());
  broker_->ProcessEvents();
  ASSERT_EQ(confirms.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(confirms[i].delivery_tag, i + 1);
    EXPECT_TRUE(confirms[i].ack);
  }
}

TEST_F(ChannelTest, PublishBatchReturnsEachUnroutableMandatoryMessage) {
  std::vector<std::string> returned;
  channel_->SetReturnHandler(
      [&](const ReturnedMessage& r) { returned.emplace_back(r.message.body()); });
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  const std::vector<Message> batch = {Message("1"), Message("2")};
  ASSERT_TRUE(channel_->BasicPublishBatch("x", "nowhere", batch, {.mandatory = true}).ok());
  broker_->ProcessEvents();
  EXPECT_THAT(returned, ElementsAre("1", "2"));
}

TEST_F(ChannelTest, PublishBatchOfNothingSucceeds) {
  EXPECT_TRUE(channel_->BasicPublishBatch("", "q", {}).ok());
  EXPECT_TRUE(channel_->is_open());
}

// ---- basic.get ----

TEST_F(ChannelTest, GetReturnsTheHeadAndTheMessagesLeft) {
  DeclareQueue("q");
  Publish("", "q", "first", {.correlation_id = "c1"});
  Publish("", "q", "second");
  std::optional<GetResult> got = Get("q");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->message_count, 1u);
  EXPECT_EQ(got->delivery.consumer_tag, "");
  EXPECT_EQ(got->delivery.delivery_tag, 1u);
  EXPECT_FALSE(got->delivery.redelivered);
  EXPECT_EQ(got->delivery.exchange, "");
  EXPECT_EQ(got->delivery.routing_key, "q");
  EXPECT_EQ(got->delivery.message.body(), "first");
  EXPECT_EQ(got->delivery.message.properties().correlation_id, "c1");
}

TEST_F(ChannelTest, GetOnEmptyQueueReturnsNothing) {
  DeclareQueue("q");
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("q");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
}

TEST_F(ChannelTest, GetOnMissingQueueIs404) {
  EXPECT_EQ(ReplyCodeOf(channel_->BasicGet("missing").status()), ReplyCode::kNotFound);
  EXPECT_FALSE(channel_->is_open());
}

TEST_F(ChannelTest, DeliveryTagsCountPerChannel) {
  DeclareQueue("q");
  for (const char* body : {"a", "b", "c"}) Publish("", "q", body);
  auto other = OpenChannel();
  EXPECT_EQ(Get("q")->delivery.delivery_tag, 1u);
  EXPECT_EQ(Get("q", other.get())->delivery.delivery_tag, 1u);
  EXPECT_EQ(Get("q")->delivery.delivery_tag, 2u);
}

TEST_F(ChannelTest, GetWithNoAckLeavesNothingToAck) {
  DeclareQueue("q");
  Publish("", "q", "m");
  std::optional<GetResult> got = Get("q", nullptr, {.no_ack = true});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicAck(got->delivery.delivery_tag)),
            ReplyCode::kPreconditionFailed);
}

// ---- basic.consume / basic.cancel ----

TEST_F(ChannelTest, ConsumeDeliversBacklogThenNewMessagesInOrder) {
  DeclareQueue("q");
  Publish("", "q", "a");
  Inbox inbox;
  absl::StatusOr<std::string> tag =
      channel_->BasicConsume("q", inbox.Callback(), {.consumer_tag = "ct"});
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_EQ(*tag, "ct");
  Publish("", "q", "b");
  EXPECT_THAT(inbox.deliveries, IsEmpty());  // nothing runs before ProcessEvents
  broker_->ProcessEvents();
  EXPECT_THAT(inbox.Bodies(), ElementsAre("a", "b"));
  ASSERT_EQ(inbox.deliveries.size(), 2u);
  EXPECT_EQ(inbox.deliveries[0].consumer_tag, "ct");
  EXPECT_EQ(inbox.deliveries[0].delivery_tag, 1u);
  EXPECT_EQ(inbox.deliveries[1].delivery_tag, 2u);
  EXPECT_EQ(inbox.deliveries[1].routing_key, "q");
}

TEST_F(ChannelTest, ConsumeWithoutTagGetsAGeneratedOne) {
  DeclareQueue("q");
  Inbox inbox;
  absl::StatusOr<std::string> first = channel_->BasicConsume("q", inbox.Callback());
  absl::StatusOr<std::string> second = channel_->BasicConsume("q", inbox.Callback());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_THAT(*first, StartsWith("amq.ctag-"));
  EXPECT_NE(*first, *second);
  Publish("", "q", "m");
  broker_->ProcessEvents();
  ASSERT_EQ(inbox.deliveries.size(), 1u);
  EXPECT_EQ(inbox.deliveries[0].consumer_tag, *first);
}

TEST_F(ChannelTest, ConsumersOfOneQueueTakeTurns) {
  DeclareQueue("q");
  Inbox one, two;
  ASSERT_TRUE(channel_->BasicConsume("q", one.Callback()).ok());
  ASSERT_TRUE(channel_->BasicConsume("q", two.Callback()).ok());
  for (const char* body : {"a", "b", "c", "d"}) Publish("", "q", body);
  broker_->ProcessEvents();
  EXPECT_THAT(one.Bodies(), ElementsAre("a", "c"));
  EXPECT_THAT(two.Bodies(), ElementsAre("b", "d"));
}

TEST_F(ChannelTest, ConsumeOnMissingQueueIs404) {
  Inbox inbox;
  EXPECT_EQ(ReplyCodeOf(channel_->BasicConsume("missing", inbox.Callback()).status()),
            ReplyCode::kNotFound);
}

TEST_F(ChannelTest, ExclusiveConsumeOnQueueWithConsumersIs403) {
  DeclareQueue("q");
  Inbox inbox;
  auto other = OpenChannel();
  ASSERT_TRUE(other->BasicConsume("q", inbox.Callback()).ok());
  EXPECT_EQ(
      ReplyCodeOf(channel_->BasicConsume("q", inbox.Callback(), {.exclusive = true}).status()),
      ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, ConsumeBesideAnExclusiveConsumerIs403) {
  DeclareQueue("q");
  Inbox inbox;
  auto other = OpenChannel();
  ASSERT_TRUE(other->BasicConsume("q", inbox.Callback(), {.exclusive = true}).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicConsume("q", inbox.Callback()).status()),
            ReplyCode::kAccessRefused);
}

TEST_F(ChannelTest, ConsumeWithNoAckNeedsNoAck) {
  DeclareQueue("q");
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("q", inbox.Callback(), {.no_ack = true}).ok());
  Publish("", "q", "m");
  broker_->ProcessEvents();
  ASSERT_EQ(inbox.deliveries.size(), 1u);
  ASSERT_TRUE(channel_->Close().ok());
  auto other = OpenChannel();
  EXPECT_FALSE(Get("q", other.get()).has_value());  // nothing was requeued
}

TEST_F(ChannelTest, CancelStopsDeliveries) {
  DeclareQueue("q");
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("q", inbox.Callback(), {.consumer_tag = "ct"}).ok());
  Publish("", "q", "before");
  broker_->ProcessEvents();
  EXPECT_TRUE(channel_->BasicCancel("ct").ok());
  Publish("", "q", "after");
  broker_->ProcessEvents();
  EXPECT_THAT(inbox.Bodies(), ElementsAre("before"));
  EXPECT_EQ(ReadyCount("q"), 1u);
}

TEST_F(ChannelTest, CancelOfUnknownTagSucceeds) {
  EXPECT_TRUE(channel_->BasicCancel("never-used").ok());
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(ChannelTest, DuplicateConsumerTagIs530AndClosesTheConnectionAndItsChannels) {
  DeclareQueue("q");
  auto sibling = OpenChannel();
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("q", inbox.Callback(), {.consumer_tag = "ct"}).ok());
  absl::Status s =
      channel_->BasicConsume("q", inbox.Callback(), {.consumer_tag = "ct"}).status();
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kNotAllowed);
  EXPECT_FALSE(connection_->is_open());
  EXPECT_EQ(ReplyCodeOf(connection_->close_reason()), ReplyCode::kNotAllowed);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_FALSE(sibling->is_open());
  EXPECT_EQ(ReplyCodeOf(sibling->close_reason()), ReplyCode::kNotAllowed);
  absl::Status later = sibling->QueueDeclare("q", {.passive = true}).status();
  EXPECT_EQ(ReplyCodeOf(later), ReplyCode::kChannelError);
  EXPECT_THAT(later.message(), HasSubstr(std::string(s.message())));
}

TEST_F(ChannelTest, SameConsumerTagOnAnotherChannelIsAllowed) {
  DeclareQueue("q");
  auto other = OpenChannel();
  Inbox inbox;
  EXPECT_TRUE(channel_->BasicConsume("q", inbox.Callback(), {.consumer_tag = "ct"}).ok());
  EXPECT_TRUE(other->BasicConsume("q", inbox.Callback(), {.consumer_tag = "ct"}).ok());
  EXPECT_TRUE(connection_->is_open());
}

// ---- basic.ack / basic.nack / basic.reject / basic.recover ----

TEST_F(ChannelTest, AckSettlesTheDelivery) {
  DeclareQueue("q");
  Publish("", "q", "m");
  std::optional<GetResult> got = Get("q");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(channel_->BasicAck(got->delivery.delivery_tag).ok());
  ASSERT_TRUE(channel_->Close().ok());
  auto other = OpenChannel();
  EXPECT_FALSE(Get("q", other.get()).has_value());
}

TEST_F(ChannelTest, AckMultipleSettlesEveryEarlierTag) {
  DeclareQueue("q");
  for (const char* body : {"a", "b", "c"}) Publish("", "q", body);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Get("q").has_value());
  EXPECT_TRUE(channel_->BasicAck(2, {.multiple = true}).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicAck(1)), ReplyCode::kPreconditionFailed);
  auto fresh = OpenChannel();
  ASSERT_TRUE(channel_->Close().ok());
  std::optional<GetResult> left = Get("q", fresh.get());
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->delivery.message.body(), "c");
}

TEST_F(ChannelTest, AckMultipleWithTagZeroAcksEverything) {
  DeclareQueue("q");
  for (const char* body : {"a", "b"}) Publish("", "q", body);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Get("q").has_value());
  EXPECT_TRUE(channel_->BasicAck(0, {.multiple = true}).ok());
  ASSERT_TRUE(channel_->Close().ok());
  auto fresh = OpenChannel();
  EXPECT_FALSE(Get("q", fresh.get()).has_value());
}

TEST_F(ChannelTest, AckOfUnknownTagIs406AndLaterCallsAre504NamingTheCause) {
  DeclareQueue("q");
  absl::Status s = channel_->BasicAck(42);
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_EQ(ReplyCodeOf(channel_->close_reason()), ReplyCode::kPreconditionFailed);
  EXPECT_TRUE(connection_->is_open());
  absl::Status later = channel_->BasicGet("q").status();
  EXPECT_EQ(ReplyCodeOf(later), ReplyCode::kChannelError);
  EXPECT_THAT(later.message(), HasSubstr(std::string(s.message())));
  auto replacement = OpenChannel();
  EXPECT_TRUE(replacement->QueueDeclare("q", {.passive = true}).ok());
}

TEST_F(ChannelTest, AckTwiceIs406) {
  DeclareQueue("q");
  Publish("", "q", "m");
  std::optional<GetResult> got = Get("q");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(channel_->BasicAck(got->delivery.delivery_tag).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicAck(got->delivery.delivery_tag)),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, AckMultipleBeyondTheLastTagIs406) {
  DeclareQueue("q");
  Publish("", "q", "m");
  ASSERT_TRUE(Get("q").has_value());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicAck(5, {.multiple = true})),
            ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, NackWithRequeueRedeliversAtHead) {
  DeclareQueue("q");
  for (const char* body : {"m1", "m2", "m3"}) Publish("", "q", body);
  std::optional<GetResult> first = Get("q");
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(channel_->BasicNack(first->delivery.delivery_tag, {.requeue = true}).ok());
  std::optional<GetResult> again = Get("q");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->delivery.message.body(), "m1");
  EXPECT_TRUE(again->delivery.redelivered);
  EXPECT_EQ(again->delivery.delivery_tag, 2u);
  std::optional<GetResult> next = Get("q");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->delivery.message.body(), "m2");
  EXPECT_FALSE(next->delivery.redelivered);
}

TEST_F(ChannelTest, NackWithoutRequeueDropsTheMessage) {
  DeclareQueue("q");
  Publish("", "q", "m");
  std::optional<GetResult> got = Get("q");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(channel_->BasicNack(got->delivery.delivery_tag).ok());
  EXPECT_EQ(ReadyCount("q"), 0u);
  ASSERT_TRUE(channel_->Close().ok());
  auto fresh = OpenChannel();
  EXPECT_FALSE(Get("q", fresh.get()).has_value());
}

TEST_F(ChannelTest, NackMultipleWithRequeueRestoresTheOriginalOrder) {
  DeclareQueue("q");
  for (const char* body : {"a", "b", "c", "d"}) Publish("", "q", body);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Get("q").has_value());
  EXPECT_TRUE(channel_->BasicNack(3, {.multiple = true, .requeue = true}).ok());
  std::vector<std::string> order;
  while (std::optional<GetResult> got = Get("q", nullptr, {.no_ack = true})) {
    order.emplace_back(got->delivery.message.body());
  }
  EXPECT_THAT(order, ElementsAre("a", "b", "c", "d"));
}

TEST_F(ChannelTest, NackOfUnknownTagIs406) {
  EXPECT_EQ(ReplyCodeOf(channel_->BasicNack(7, {.requeue = true})),
            ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(channel_->is_open());
}

TEST_F(ChannelTest, RejectWithRequeueRedelivers) {
  DeclareQueue("q");
  Publish("", "q", "m");
  std::optional<GetResult> got = Get("q");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(channel_->BasicReject(got->delivery.delivery_tag, {.requeue = true}).ok());
  std::optional<GetResult> again = Get("q");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->delivery.message.body(), "m");
  EXPECT_TRUE(again->delivery.redelivered);
}

TEST_F(ChannelTest, RejectWithoutRequeueDropsTheMessage) {
  DeclareQueue("q");
  Publish("", "q", "m");
  std::optional<GetResult> got = Get("q");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(channel_->BasicReject(got->delivery.delivery_tag).ok());
  EXPECT_FALSE(Get("q").has_value());
}

TEST_F(ChannelTest, RejectOfUnknownTagIs406) {
  EXPECT_EQ(ReplyCodeOf(channel_->BasicReject(3)), ReplyCode::kPreconditionFailed);
}

TEST_F(ChannelTest, RecoverRequeuesEveryUnackedDeliveryAsRedelivered) {
  DeclareQueue("q");
  for (const char* body : {"a", "b"}) Publish("", "q", body);
  ASSERT_TRUE(Get("q").has_value());
  ASSERT_TRUE(Get("q").has_value());
  EXPECT_TRUE(channel_->BasicRecover({.requeue = true}).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicAck(1)), ReplyCode::kPreconditionFailed);
  auto fresh = OpenChannel();
  for (const char* body : {"a", "b"}) {
    std::optional<GetResult> got = Get("q", fresh.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->delivery.message.body(), body);
    EXPECT_TRUE(got->delivery.redelivered);
  }
}

TEST_F(ChannelTest, RecoverRedeliversToTheConsumer) {
  DeclareQueue("q");
  Publish("", "q", "m");
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("q", inbox.Callback()).ok());
  broker_->ProcessEvents();
  ASSERT_TRUE(channel_->BasicRecover({.requeue = true}).ok());
  broker_->ProcessEvents();
  ASSERT_EQ(inbox.deliveries.size(), 2u);
  EXPECT_FALSE(inbox.deliveries[0].redelivered);
  EXPECT_TRUE(inbox.deliveries[1].redelivered);
  EXPECT_EQ(inbox.deliveries[1].message.body(), "m");
}

TEST_F(ChannelTest, RecoverWithoutRequeueIs540) {
  EXPECT_EQ(ReplyCodeOf(channel_->BasicRecover()), ReplyCode::kNotImplemented);
}

// ---- channel.close ----

TEST_F(ChannelTest, CloseRequeuesUnackedDeliveries) {
  DeclareQueue("q");
  Publish("", "q", "m");
  ASSERT_TRUE(Get("q").has_value());
  EXPECT_TRUE(channel_->Close().ok());
  auto fresh = OpenChannel();
  std::optional<GetResult> got = Get("q", fresh.get());
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->delivery.redelivered);
}

TEST_F(ChannelTest, CloseRequeuesEachQueuesDeliveriesTogetherSoDropHeadDropsTheOldestFirst) {
  DeclareQueue("dead");
  DeclareQueue("other");
  DeclareQueue("q", {.arguments = {{"x-max-length", int32_t{1}},
                                   {"x-dead-letter-exchange", ""},
                                   {"x-dead-letter-routing-key", "dead"}}});
  // The channel holds, in tag order, "b" from q, "x" from another queue,
  // then "a", older than "b" in q, which another channel gave back.
  auto second = OpenChannel();
  Publish("", "q", "a");
  ASSERT_TRUE(Get("q", second.get()).has_value());
  Publish("", "q", "b");
  ASSERT_TRUE(Get("q").has_value());
  Publish("", "other", "x");
  ASSERT_TRUE(Get("other").has_value());
  ASSERT_TRUE(second->BasicReject(1, {.requeue = true}).ok());
  ASSERT_TRUE(Get("q").has_value());
  Publish("", "q", "c");

  ASSERT_TRUE(channel_->Close().ok());
  // As RabbitMQ, which requeues a queue's deliveries at once: both come
  // back, and the limit drops them oldest first, leaving the newest.
  auto body_of_head = [&](std::string_view queue) {
    std::optional<GetResult> got = Get(queue, second.get(), {.no_ack = true});
    return got ? std::string(got->delivery.message.body()) : "";
  };
  EXPECT_EQ(body_of_head("dead"), "a");
  EXPECT_EQ(body_of_head("dead"), "b");
  EXPECT_EQ(body_of_head("q"), "c");
}

TEST_F(ChannelTest, CleanCloseIsIdempotentWithAnOkReason) {
  EXPECT_TRUE(channel_->Close().ok());
  EXPECT_TRUE(channel_->Close().ok());
  EXPECT_FALSE(channel_->is_open());
  EXPECT_TRUE(channel_->close_reason().ok());
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(ChannelTest, EveryMethodOfAClosedChannelIs504) {
  ASSERT_TRUE(channel_->Close().ok());
  const std::vector<absl::Status> answers = {
      channel_->ExchangeDeclare("x", kDirect),
      channel_->ExchangeDelete("x"),
      channel_->ExchangeBind("x", "y", "k"),
      channel_->ExchangeUnbind("x", "y", "k"),
      channel_->QueueDeclare("q").status(),
      channel_->QueueBind("q", "x", "k"),
      channel_->QueueUnbind("q", "x", "k"),
      channel_->QueuePurge("q").status(),
      channel_->QueueDelete("q").status(),
      channel_->BasicQos(1),
      channel_->BasicPublish("", "q", Message("m")),
      channel_->BasicGet("q").status(),
      channel_->BasicConsume("q", [](const Delivery&) {}).status(),
      channel_->BasicCancel("ct"),
      channel_->BasicAck(1),
      channel_->BasicNack(1),
      channel_->BasicReject(1),
      channel_->BasicRecover({.requeue = true}),
      channel_->ConfirmSelect(),
  };
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(ReplyCodeOf(answers[i]), ReplyCode::kChannelError) << i << ": " << answers[i];
  }
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(ChannelTest, ClosedChannelRunsNoPendingCallbacks) {
  DeclareQueue("q");
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("q", inbox.Callback()).ok());
  Publish("", "q", "m");
  ASSERT_TRUE(channel_->Close().ok());
  broker_->ProcessEvents();
  EXPECT_THAT(inbox.deliveries, IsEmpty());
  auto fresh = OpenChannel();
  std::optional<GetResult> requeued = Get("q", fresh.get());
  ASSERT_TRUE(requeued.has_value());
  EXPECT_EQ(requeued->delivery.message.body(), "m");
}

// RabbitMQ sends the basic.return and the confirm it decided for a publish
// before the close-ok of a channel the client closes right after it (probed
// against 3.10.8: Basic.Return, Basic.Ack, Channel.CloseOk), so the
// publisher still learns that its message came back. Callbacks not yet run
// are dropped by the close, but these two are kept.
TEST_F(ChannelTest, ReturnAndConfirmDecidedBeforeCloseStillReachTheirHandlers) {
  int returns = 0;
  int confirms = 0;
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  channel_->SetReturnHandler([&](const ReturnedMessage&) { ++returns; });
  channel_->SetConfirmHandler([&](const Confirm&) { ++confirms; });
  ASSERT_TRUE(channel_->BasicPublish("", "nowhere", Message("m"), {.mandatory = true}).ok());
  ASSERT_TRUE(channel_->Close().ok());
  broker_->ProcessEvents();
  EXPECT_EQ(returns, 1);
  EXPECT_EQ(confirms, 1);
}

// ---- server-named queues and the "" shortcut ----

TEST_F(ChannelTest, ServerNamedQueuesGetDistinctAmqGenNames) {
  absl::StatusOr<QueueDeclareResult> one = channel_->QueueDeclare("");
  absl::StatusOr<QueueDeclareResult> two = channel_->QueueDeclare("");
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_THAT(one->queue, StartsWith("amq.gen-"));
  EXPECT_NE(one->queue, two->queue);
  Publish("", one->queue, "m");
  EXPECT_EQ(TakeBody(one->queue), "m");
}

TEST_F(ChannelTest, EmptyQueueNameMeansTheLastQueueDeclaredOnTheChannel) {
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  absl::StatusOr<QueueDeclareResult> declared = channel_->QueueDeclare("");
  ASSERT_TRUE(declared.ok()) << declared.status();
  const std::string name = declared->queue;
  // No queue and no key: bound with the queue's own name as key.
  ASSERT_TRUE(channel_->QueueBind("", "x", "").ok());
  Publish("x", name, "a");
  Publish("x", name, "b");
  absl::StatusOr<QueueDeclareResult> passive = channel_->QueueDeclare("", {.passive = true});
  ASSERT_TRUE(passive.ok()) << passive.status();
  EXPECT_EQ(passive->queue, name);
  EXPECT_EQ(passive->message_count, 2u);
  EXPECT_EQ(TakeBody(""), "a");
  absl::StatusOr<uint32_t> purged = channel_->QueuePurge("");
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1u);
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("", inbox.Callback(), {.no_ack = true}).ok());
  Publish("x", name, "c");
  broker_->ProcessEvents();
  EXPECT_THAT(inbox.Bodies(), ElementsAre("c"));
  ASSERT_TRUE(channel_->QueueUnbind("", "x", "").ok());
  Publish("x", name, "unrouted");
  broker_->ProcessEvents();
  EXPECT_THAT(inbox.Bodies(), ElementsAre("c"));
  ASSERT_TRUE(channel_->QueueDelete("").ok());
  auto other = OpenChannel();
  EXPECT_EQ(ReplyCodeOf(other->QueueDeclare(name, {.passive = true}).status()),
            ReplyCode::kNotFound);
}

TEST_F(ChannelTest, EmptyQueueNameWithoutADeclaredQueueIs404) {
  auto declaring = OpenChannel();
  ASSERT_TRUE(declaring->QueueDeclare("q").ok());
  EXPECT_EQ(ReplyCodeOf(channel_->BasicGet("", {.no_ack = true}).status()),
            ReplyCode::kNotFound);
  absl::StatusOr<std::optional<GetResult>> on_declaring = declaring->BasicGet("");
  ASSERT_TRUE(on_declaring.ok()) << on_declaring.status();
  EXPECT_FALSE(on_declaring->has_value());
}

// ---- publisher confirms ----

TEST_F(ChannelTest, NextPublishSeqNoCountsPublishesInConfirmMode) {
  DeclareQueue("q");
  EXPECT_EQ(channel_->NextPublishSeqNo(), 1u);
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  EXPECT_EQ(channel_->NextPublishSeqNo(), 1u);
  Publish("", "q", "a");
  Publish("", "q", "b");
  EXPECT_EQ(channel_->NextPublishSeqNo(), 3u);
}

TEST_F(ChannelTest, ConfirmsAckRoutedAndUnroutableMessages) {
  DeclareQueue("q");
  std::vector<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.push_back(c); });
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  Publish("", "q", "routed");
  Publish("", "nowhere", "unroutable");
  broker_->ProcessEvents();
  ASSERT_EQ(confirms.size(), 2u);
  EXPECT_EQ(confirms[0].delivery_tag, 1u);
  EXPECT_TRUE(confirms[0].ack);
  EXPECT_EQ(confirms[1].delivery_tag, 2u);
  EXPECT_TRUE(confirms[1].ack);
  EXPECT_TRUE(channel_->WaitForConfirms(absl::Seconds(5)).ok());
}

TEST_F(ChannelTest, ReturnComesBeforeTheConfirmOfAnUnroutableMandatoryMessage) {
  std::vector<std::string> events;
  channel_->SetReturnHandler([&](const ReturnedMessage&) { events.push_back("return"); });
  channel_->SetConfirmHandler([&](const Confirm& c) {
    events.push_back(c.ack ? "ack" : "nack");
  });
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  ASSERT_TRUE(channel_->BasicPublish("", "nowhere", Message("m"), {.mandatory = true}).ok());
  broker_->ProcessEvents();
  EXPECT_THAT(events, ElementsAre("return", "ack"));
}

TEST_F(ChannelTest, RejectPublishQueueNacksAndWaitForConfirmsReportsDataLoss) {
  DeclareQueue("q", {.arguments = {{"x-max-length", int32_t{1}},
                                   {"x-overflow", "reject-publish"}}});
  std::vector<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.push_back(c); });
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  Publish("", "q", "kept");
  Publish("", "q", "refused");
  absl::Status waited = channel_->WaitForConfirms(absl::Seconds(5));
  EXPECT_EQ(waited.code(), absl::StatusCode::kDataLoss) << waited;
  EXPECT_THAT(waited.message(), HasSubstr("2"));
  broker_->ProcessEvents();
  ASSERT_EQ(confirms.size(), 2u);
  EXPECT_TRUE(confirms[0].ack);
  EXPECT_EQ(confirms[1].delivery_tag, 2u);
  EXPECT_FALSE(confirms[1].ack);
  EXPECT_EQ(ReadyCount("q"), 1u);
  // A nack is reported once, by the wait that follows it.
  EXPECT_TRUE(channel_->WaitForConfirms(absl::Seconds(5)).ok());
}

TEST_F(ChannelTest, WaitForConfirmsOutsideConfirmModeIsFailedPrecondition) {
  EXPECT_EQ(channel_->WaitForConfirms(absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---- what refusals name ----
// A channel-level refusal names the queue or exchange it concerns, as
// RabbitMQ's reply texts do (the default exchange, which has no name, aside).

// Each refusal with the name its message must contain.
struct Refusal {
  absl::Status status;
  std::string name;
};

void ExpectEachNamed(const std::vector<Refusal>& refusals, ReplyCode code) {
  for (const Refusal& refusal : refusals) {
    EXPECT_EQ(ReplyCodeOf(refusal.status), code) << refusal.status;
    EXPECT_THAT(std::string(refusal.status.message()), HasSubstr(refusal.name));
  }
}

TEST_F(ChannelTest, NotFoundRefusalsNameTheMissingQueueOrExchange) {
  DeclareQueue("q");
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  Inbox inbox;
  ExpectEachNamed(
      {
          {OnNewChannel([](Channel& c) {
             return c.ExchangeDeclare("missing-x", kDirect, {.passive = true});
           }),
           "missing-x"},
          {OnNewChannel([](Channel& c) { return c.ExchangeBind("x", "missing-src", "k"); }),
           "missing-src"},
          {OnNewChannel([](Channel& c) { return c.ExchangeBind("missing-dst", "x", "k"); }),
           "missing-dst"},
          {OnNewChannel([](Channel& c) { return c.QueueBind("q", "missing-x", "k"); }),
           "missing-x"},
          {OnNewChannel([](Channel& c) { return c.QueueUnbind("q", "missing-x", "k"); }),
           "missing-x"},
          {OnNewChannel([](Channel& c) { return c.BasicPublish("missing-x", "k", Message()); }),
           "missing-x"},
          {OnNewChannel([](Channel& c) {
             return c.QueueDeclare("missing-q", {.passive = true}).status();
           }),
           "missing-q"},
          {OnNewChannel([](Channel& c) { return c.QueueBind("missing-q", "x", "k"); }),
           "missing-q"},
          {OnNewChannel([](Channel& c) { return c.QueuePurge("missing-q").status(); }),
           "missing-q"},
          {OnNewChannel([](Channel& c) { return c.BasicGet("missing-q").status(); }),
           "missing-q"},
          {OnNewChannel([&](Channel& c) {
             return c.BasicConsume("missing-q", inbox.Callback()).status();
           }),
           "missing-q"},
      },
      ReplyCode::kNotFound);
}

TEST_F(ChannelTest, ResourceLockedRefusalsNameTheExclusiveQueue) {
  std::unique_ptr<Connection> owner = broker_->Connect().value();
  ASSERT_TRUE(owner->OpenChannel().value()->QueueDeclare("theirs", {.exclusive = true}).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  Inbox inbox;
  ExpectEachNamed(
      {
          {OnNewChannel([](Channel& c) {
             return c.QueueDeclare("theirs", {.passive = true}).status();
           }),
           "theirs"},
          {OnNewChannel([](Channel& c) {
             return c.QueueDeclare("theirs", {.exclusive = true}).status();
           }),
           "theirs"},
          {OnNewChannel([](Channel& c) { return c.QueueBind("theirs", "x", "k"); }), "theirs"},
          {OnNewChannel([](Channel& c) { return c.QueueUnbind("theirs", "x", "k"); }), "theirs"},
          {OnNewChannel([](Channel& c) { return c.QueuePurge("theirs").status(); }), "theirs"},
          {OnNewChannel([](Channel& c) { return c.QueueDelete("theirs").status(); }), "theirs"},
          {OnNewChannel([](Channel& c) { return c.BasicGet("theirs").status(); }), "theirs"},
          {OnNewChannel([&](Channel& c) {
             return c.BasicConsume("theirs", inbox.Callback()).status();
           }),
           "theirs"},
      },
      ReplyCode::kResourceLocked);
}

TEST_F(ChannelTest, AccessRefusedRefusalsNameTheQueueOrExchange) {
  ASSERT_TRUE(channel_->ExchangeDeclare("inner", kFanout, {.internal = true}).ok());
  DeclareQueue("shared");
  DeclareQueue("solo");
  Inbox inbox;
  ASSERT_TRUE(channel_->BasicConsume("shared", inbox.Callback()).ok());
  ASSERT_TRUE(channel_->BasicConsume("solo", inbox.Callback(), {.exclusive = true}).ok());
  ExpectEachNamed(
      {
          {OnNewChannel([](Channel& c) { return c.ExchangeDeclare("amq.mine", kDirect); }),
           "amq.mine"},
          {OnNewChannel([](Channel& c) { return c.QueueDeclare("amq.mine").status(); }),
           "amq.mine"},
          {OnNewChannel([](Channel& c) { return c.ExchangeDelete("amq.direct"); }),
           "amq.direct"},
          {OnNewChannel([](Channel& c) { return c.BasicPublish("inner", "", Message()); }),
           "inner"},
          {OnNewChannel([&](Channel& c) {
             return c.BasicConsume("shared", inbox.Callback(), {.exclusive = true}).status();
           }),
           "shared"},
          {OnNewChannel([&](Channel& c) {
             return c.BasicConsume("solo", inbox.Callback()).status();
           }),
           "solo"},
      },
      ReplyCode::kAccessRefused);
}

// ---- short strings ----

TEST_F(ChannelTest, NamesOver255BytesAreInvalidArgumentsAndKeepTheChannelOpen) {
  const std::string long_name(256, 'n');
  Inbox inbox;
  DeclareQueue("q");
  ASSERT_TRUE(channel_->ExchangeDeclare("x", kDirect).ok());
  const std::vector<absl::Status> refused = {
      channel_->ExchangeDeclare(long_name, kDirect),
      channel_->ExchangeDelete(long_name),
      channel_->ExchangeBind(long_name, "x", "k"),
      channel_->ExchangeUnbind("x", "x", long_name),
      channel_->QueueDeclare(long_name).status(),
      channel_->QueueBind("q", "x", long_name),
      channel_->QueueUnbind(long_name, "x", "k"),
      channel_->QueuePurge(long_name).status(),
      channel_->QueueDelete(long_name).status(),
      channel_->BasicPublish("", long_name, Message("m")),
      channel_->BasicGet(long_name).status(),
      channel_->BasicConsume("q", inbox.Callback(), {.consumer_tag = long_name}).status(),
  };
  for (size_t i = 0; i < refused.size(); ++i) {
    EXPECT_EQ(refused[i].code(), absl::StatusCode::kInvalidArgument) << i << ": " << refused[i];
    EXPECT_EQ(ReplyCodeOf(refused[i]), ReplyCode::kNone) << i;
  }
  EXPECT_TRUE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(ChannelTest, NamesOf255BytesAreAccepted) {
  const std::string longest(255, 'n');
  DeclareQueue(longest);
  ASSERT_TRUE(channel_->ExchangeDeclare(longest, kDirect).ok());
  ASSERT_TRUE(channel_->QueueBind(longest, longest, longest).ok());
  Publish(longest, longest, "m");
  EXPECT_EQ(TakeBody(longest), "m");
}

// ---- calls from inside callbacks ----

TEST_F(ChannelTest, ConsumerCallbackCanPublishAndAckOnItsOwnChannel) {
  DeclareQueue("in");
  DeclareQueue("out");
  std::vector<absl::Status> results;
  auto echo = [&](const Delivery& d) {
    results.push_back(channel_->BasicPublish(
        "", "out", Message("echo " + std::string(d.message.body()))));
    results.push_back(channel_->BasicAck(d.delivery_tag));
  };
  Inbox echoes;
  ASSERT_TRUE(channel_->BasicConsume("in", echo).ok());
  ASSERT_TRUE(channel_->BasicConsume("out", echoes.Callback(), {.no_ack = true}).ok());
  Publish("", "in", "a");
  Publish("", "in", "b");
  // Deliveries that the callbacks cause run in the same ProcessEvents call.
  broker_->ProcessEvents();
  EXPECT_EQ(results.size(), 4u);
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(echoes.Bodies(), ElementsAre("echo a", "echo b"));
  ASSERT_TRUE(channel_->Close().ok());
  auto fresh = OpenChannel();
  EXPECT_FALSE(Get("in", fresh.get()).has_value());  // acked, so not requeued
}

TEST_F(ChannelTest, ConsumerCallbackCanUseAnotherChannel) {
  DeclareQueue("q");
  auto other = OpenChannel();
  std::vector<absl::Status> results;
  ASSERT_TRUE(channel_
                  ->BasicConsume("q",
                                 [&](const Delivery& d) {
                                   results.push_back(other->QueueDeclare("made-in-callback")
                                                         .status());
                                   results.push_back(channel_->BasicAck(d.delivery_tag));
                                 })
                  .ok());
  Publish("", "q", "m");
  broker_->ProcessEvents();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_TRUE(results[1].ok()) << results[1];
  EXPECT_TRUE(channel_->QueueDeclare("made-in-callback", {.passive = true}).ok());
}

}  // namespace
}  // namespace warren
