// tests/testing_inspection_test.cc: the test kit's views of a broker
// (warren/testing.h) — queue contents, unacked deliveries, bindings,
// consumers, the publish log with the broker's own dead letters — show what
// the broker holds and change none of it.
#include <memory>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using ::testing::SizeIs;

class InspectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    connection_ = broker_.Connect().value();
    channel_ = connection_->OpenChannel().value();
  }

  TestBroker broker_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;
};

TEST_F(InspectionTest, MessagesInShowsAQueueInOrderWithProperties) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  BasicProperties props;
  props.correlation_id = "c-2";
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("first")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("second", props)).ok());
  EXPECT_THAT(broker_.MessagesIn("q"),
              ElementsAre(AllOf(HasBody("first"), HasExchange(""), HasRoutingKey("q")),
                          AllOf(HasBody("second"), HasCorrelationId("c-2"))));
}

TEST_F(InspectionTest, MessagesInDoesNotConsume) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  EXPECT_THAT(broker_.MessagesIn("q"), SizeIs(1));
  EXPECT_THAT(broker_.MessagesIn("q"), SizeIs(1));
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("q", {.no_ack = true});
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, Optional(HasBody("m")));
}

TEST_F(InspectionTest, MessagesInShowsHigherPrioritiesFirstAsConsumersWouldGetThem) {
  ASSERT_TRUE(channel_->QueueDeclare("q", {.arguments = {{"x-max-priority", int32_t{5}}}}).ok());
  for (uint8_t priority : {1, 5, 3}) {
    BasicProperties props;
    props.priority = priority;
    ASSERT_TRUE(channel_->BasicPublish("", "q", Message(std::to_string(priority), props)).ok());
  }
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("5"), HasBody("3"), HasBody("1")));
}

TEST_F(InspectionTest, MessagesInShowsRequeuedMessagesAsRedeliveredInTheirPlace) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("a")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("b")).ok());
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("q");
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE(channel_->BasicNack((*got)->delivery.delivery_tag, {.requeue = true}).ok());
  EXPECT_THAT(broker_.MessagesIn("q"),
              ElementsAre(AllOf(HasBody("a"), IsRedelivered()),
                          AllOf(HasBody("b"), Not(IsRedelivered()))));
}

TEST_F(InspectionTest, MessagesInOfAMissingQueueFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(broker_.MessagesIn("nowhere"), "no queue 'nowhere'");
  EXPECT_FALSE(broker_.HasQueue("nowhere"));
}

TEST_F(InspectionTest, UnackedOnAChannelOfAnotherBrokerFailsTheTest) {
  TestBroker other;
  std::unique_ptr<Connection> connection = other.Connect().value();
  std::unique_ptr<Channel> foreign = connection->OpenChannel().value();
  EXPECT_NONFATAL_FAILURE(broker_.UnackedOn(*foreign), "not one of this TestBroker's");
}

TEST_F(InspectionTest, ConsumersOfAMissingQueueFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(broker_.ConsumersOf("nowhere"), "no queue 'nowhere'");
}

TEST_F(InspectionTest, UnackedOnShowsAChannelsUnsettledDeliveriesInTagOrder) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  for (std::string body : {"a", "b", "c"}) {
    ASSERT_TRUE(channel_->BasicPublish("", "q", Message(body)).ok());
  }
  absl::StatusOr<std::string> tag = channel_->BasicConsume("q", [](const Delivery&) {});
  ASSERT_TRUE(tag.ok());
  broker_.RunUntilIdle();
  ASSERT_TRUE(channel_->BasicAck(2).ok());
  EXPECT_THAT(broker_.UnackedOn(*channel_),
              ElementsAre(AllOf(HasBody("a"), Field(&Delivery::delivery_tag, 1u),
                                Field(&Delivery::consumer_tag, *tag)),
                          AllOf(HasBody("c"), Field(&Delivery::delivery_tag, 3u))));
  EXPECT_THAT(broker_.MessagesIn("q"), IsEmpty());
}

TEST_F(InspectionTest, UnackedOnShowsBasicGetsWithoutAConsumerTag) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("got")).ok());
  ASSERT_TRUE(channel_->BasicGet("q").ok());
  EXPECT_THAT(broker_.UnackedOn(*channel_),
              ElementsAre(AllOf(HasBody("got"), Field(&Delivery::consumer_tag, ""))));
}

TEST_F(InspectionTest, BindingsOfListsQueueAndExchangeBindingsInOrder) {
  ASSERT_TRUE(channel_->ExchangeDeclare("orders", kTopic).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare("audit", kFanout).ok());
  ASSERT_TRUE(channel_->QueueDeclare("billing").ok());
  ASSERT_TRUE(channel_->QueueBind("billing", "orders", "order.*").ok());
  ASSERT_TRUE(channel_->ExchangeBind("audit", "orders", "#").ok());
  EXPECT_THAT(broker_.BindingsOf("orders"),
              ElementsAre(Binding{.destination = "billing", .routing_key = "order.*"},
                          Binding{.destination = "audit", .routing_key = "#",
                                  .to_exchange = true}));
  EXPECT_THAT(broker_.BindingsOf("audit"), IsEmpty());
}

TEST_F(InspectionTest, BindingsOfTheDefaultExchangeNameEveryQueue) {
  ASSERT_TRUE(channel_->QueueDeclare("b").ok());
  ASSERT_TRUE(channel_->QueueDeclare("a").ok());
  EXPECT_THAT(broker_.BindingsOf(""),
              ElementsAre(Binding{.destination = "a", .routing_key = "a"},
                          Binding{.destination = "b", .routing_key = "b"}));
}

TEST_F(InspectionTest, BindingsOfAMissingExchangeFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(broker_.BindingsOf("nowhere"), "no exchange 'nowhere'");
}

TEST_F(InspectionTest, ConsumersOfShowsTagsPrefetchAndUnackedCounts) {
  ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  ASSERT_TRUE(channel_->BasicQos(2).ok());
  ASSERT_TRUE(channel_
                  ->BasicConsume("q", [](const Delivery&) {},
                                 {.consumer_tag = "worker", .arguments = {{"x-priority", 3}}})
                  .ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(broker_.ConsumersOf("q"),
              ElementsAre(AllOf(Field(&ConsumerInfo::tag, "worker"),
                                Field(&ConsumerInfo::priority, 3),
                                Field(&ConsumerInfo::prefetch, 2u),
                                Field(&ConsumerInfo::unacked, 1u))));
  ASSERT_TRUE(channel_->BasicCancel("worker").ok());
  EXPECT_THAT(broker_.ConsumersOf("q"), IsEmpty());
}

TEST_F(InspectionTest, PublishedRecordsEveryAcceptedPublishInOrder) {
  ASSERT_TRUE(channel_->ExchangeDeclare("orders", kTopic).ok());
  ASSERT_TRUE(channel_->BasicPublish("orders", "order.placed", Message("1")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "nowhere", Message("2"), {.mandatory = true}).ok());
  ASSERT_TRUE(channel_->BasicPublish("orders", "order.paid", Message("3")).ok());
  EXPECT_THAT(broker_.Published(),
              ElementsAre(HasBody("1"),
                          AllOf(HasBody("2"), Field(&PublishedMessage::mandatory, true)),
                          HasBody("3")));
  EXPECT_THAT(broker_.PublishedTo("orders"),
              ElementsAre(HasRoutingKey("order.placed"), HasRoutingKey("order.paid")));
  EXPECT_THAT(broker_.PublishedTo(""), ElementsAre(HasRoutingKey("nowhere")));
}

TEST_F(InspectionTest, PublishedRecordsDeadLettersAsTheBrokersOwnPublishes) {
  ASSERT_TRUE(channel_->ExchangeDeclare("dlx", kFanout).ok());
  ASSERT_TRUE(channel_->QueueDeclare("dead").ok());
  ASSERT_TRUE(channel_->QueueBind("dead", "dlx", "").ok());
  ASSERT_TRUE(channel_->QueueDeclare("q", {.arguments = {{"x-dead-letter-exchange", "dlx"}}}).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("q");
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE(channel_->BasicReject((*got)->delivery.delivery_tag, {.requeue = false}).ok());

  const auto by_client = Field(&PublishedMessage::dead_lettered, false);
  const auto by_broker = Field(&PublishedMessage::dead_lettered, true);
  EXPECT_THAT(broker_.Published(),
              ElementsAre(AllOf(HasBody("m"), HasExchange(""), by_client),
                          AllOf(HasBody("m"), HasExchange("dlx"), HasRoutingKey("q"),
                                HasXDeathReason("rejected"), by_broker)));
  EXPECT_THAT(broker_.PublishedTo("dlx"), ElementsAre(by_broker));
  EXPECT_THAT(::testing::PrintToString(broker_.PublishedTo("dlx")),
              ::testing::HasSubstr("dead-lettered"));
}

TEST_F(InspectionTest, PublishedLeavesOutDeadLettersToAMissingExchange) {
  ASSERT_TRUE(channel_->QueueDeclare("q", {.arguments = {{"x-dead-letter-exchange", "gone"}}}).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("q");
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE(channel_->BasicReject((*got)->delivery.delivery_tag, {.requeue = false}).ok());
  EXPECT_THAT(broker_.Published(), ElementsAre(HasExchange("")));
}

TEST_F(InspectionTest, PublishedLeavesOutRefusedPublishes) {
  EXPECT_FALSE(channel_->BasicPublish("missing", "k", Message("refused")).ok());
  EXPECT_THAT(broker_.Published(), IsEmpty());
}

TEST_F(InspectionTest, ClearPublishedForgetsTheLog) {
  ASSERT_TRUE(broker_.Publish("", "k", Message("x")).ok());
  broker_.ClearPublished();
  EXPECT_THAT(broker_.Published(), IsEmpty());
}

TEST_F(InspectionTest, PublishedToTellsVirtualHostsApart) {
  ASSERT_TRUE(broker_.broker().AddVirtualHost("other").ok());
  auto other = broker_.Connect({.vhost = "other"}).value();
  auto other_channel = other->OpenChannel().value();
  ASSERT_TRUE(other_channel->BasicPublish("", "k", Message("there")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "k", Message("here")).ok());
  EXPECT_THAT(broker_.PublishedTo(""), ElementsAre(HasBody("here")));
  EXPECT_THAT(broker_.PublishedTo("", "other"), ElementsAre(HasBody("there")));
}

}  // namespace
}  // namespace warren::testkit
