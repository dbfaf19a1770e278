// tests/testing_faults_test.cc: the test kit's fault injection
// (warren/testing.h) fails publishes, nacks confirms, closes channels and
// connections and cancels consumers the way the broker itself does, so that
// the code under test sees what it would see from RabbitMQ.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/status.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::Truly;

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    connection_ = broker_.Connect().value();
    channel_ = connection_->OpenChannel().value();
    ASSERT_TRUE(channel_->QueueDeclare("q").ok());
  }

  TestBroker broker_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;
};

TEST_F(FaultsTest, FailNextPublishRefusesItAndClosesTheChannelFor4xx) {
  broker_.FailNextPublish(AmqpError(ReplyCode::kAccessRefused, "injected"));
  absl::Status s = channel_->BasicPublish("", "q", Message("m"));
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kAccessRefused);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_EQ(ReplyCodeOf(channel_->close_reason()), ReplyCode::kAccessRefused);
  EXPECT_TRUE(connection_->is_open());
  EXPECT_THAT(broker_.MessagesIn("q"), IsEmpty());
  EXPECT_THAT(broker_.Published(), IsEmpty());
}

TEST_F(FaultsTest, FailNextPublishWithA5xxClosesTheConnection) {
  broker_.FailNextPublish(AmqpError(ReplyCode::kInternalError, "injected"));
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("", "q", Message("m"))),
            ReplyCode::kInternalError);
  EXPECT_FALSE(connection_->is_open());
  EXPECT_EQ(ReplyCodeOf(connection_->close_reason()), ReplyCode::kInternalError);
}

TEST_F(FaultsTest, FailNextPublishWithoutAReplyCodeLeavesTheChannelOpen) {
  broker_.FailNextPublish(absl::UnavailableError("injected"));
  EXPECT_TRUE(absl::IsUnavailable(channel_->BasicPublish("", "q", Message("m"))));
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(FaultsTest, FailNextPublishFiresOnceThenPublishesGoThrough) {
  broker_.FailNextPublish(absl::UnavailableError("injected"));
  EXPECT_FALSE(channel_->BasicPublish("", "q", Message("first")).ok());
  EXPECT_TRUE(channel_->BasicPublish("", "q", Message("second")).ok());
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("second")));
  EXPECT_EQ(broker_.pending_faults(), 0u);
}

TEST_F(FaultsTest, FailNextPublishWaitsForAPublishItMatches) {
  broker_.FailNextPublish(absl::UnavailableError("injected"), HasBody("poison"));
  EXPECT_TRUE(channel_->BasicPublish("", "q", Message("fine")).ok());
  EXPECT_EQ(broker_.pending_faults(), 1u);
  EXPECT_FALSE(channel_->BasicPublish("", "q", Message("poison")).ok());
  EXPECT_TRUE(channel_->BasicPublish("", "q", Message("poison")).ok());
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("fine"), HasBody("poison")));
}

TEST_F(FaultsTest, FaultsTakeAnyPredicateThroughTruly) {
  broker_.FailNextPublish(absl::UnavailableError("injected"),
                          Truly([](const PublishedMessage& p) { return p.mandatory; }));
  EXPECT_TRUE(channel_->BasicPublish("", "q", Message("a")).ok());
  EXPECT_FALSE(channel_->BasicPublish("", "q", Message("b"), {.mandatory = true}).ok());
}

TEST_F(FaultsTest, NackNextConfirmNacksAndDropsTheMessage) {
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  std::vector<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.push_back(c); });
  broker_.NackNextConfirm();
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("nacked")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("acked")).ok());
  EXPECT_TRUE(absl::IsDataLoss(channel_->WaitForConfirms(absl::Seconds(1))));
  broker_.RunUntilIdle();
  EXPECT_THAT(confirms, ElementsAre(AllOf(Field(&Confirm::delivery_tag, 1u),
                                          Field(&Confirm::ack, false)),
                                    AllOf(Field(&Confirm::delivery_tag, 2u),
                                          Field(&Confirm::ack, true))));
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("acked")));
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(FaultsTest, NackNextConfirmWaitsForAChannelInConfirmMode) {
  broker_.NackNextConfirm();
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("unconfirmed")).ok());
  EXPECT_EQ(broker_.pending_faults(), 1u);
  auto confirming = connection_->OpenChannel().value();
  ASSERT_TRUE(confirming->ConfirmSelect().ok());
  ASSERT_TRUE(confirming->BasicPublish("", "q", Message("nacked")).ok());
  EXPECT_TRUE(absl::IsDataLoss(confirming->WaitForConfirms(absl::Seconds(1))));
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("unconfirmed")));
}

TEST_F(FaultsTest, NackNextConfirmWaitsForAPublishItMatches) {
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  std::vector<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.push_back(c); });
  broker_.NackNextConfirm(HasBody("poison"));
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("fine")).ok());
  EXPECT_EQ(broker_.pending_faults(), 1u);
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("poison")).ok());
  EXPECT_EQ(broker_.pending_faults(), 0u);
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("poison")).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(confirms, ElementsAre(Field(&Confirm::ack, true), Field(&Confirm::ack, false),
                                    Field(&Confirm::ack, true)));
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("fine"), HasBody("poison")));
}

TEST_F(FaultsTest, FaultsNeverRefuseTheBrokersOwnDeadLetters) {
  ASSERT_TRUE(channel_->QueueDeclare("dead").ok());
  ASSERT_TRUE(channel_
                  ->QueueDeclare("work", {.arguments = {{"x-dead-letter-exchange", ""},
                                                        {"x-dead-letter-routing-key", "dead"}}})
                  .ok());
  ASSERT_TRUE(channel_->BasicPublish("", "work", Message("m")).ok());
  broker_.FailNextPublish(absl::UnavailableError("injected"), HasRoutingKey("dead"));
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("work");
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE(channel_->BasicReject((*got)->delivery.delivery_tag, {.requeue = false}).ok());
  EXPECT_THAT(broker_.MessagesIn("dead"), ElementsAre(HasXDeathReason("rejected")));
  EXPECT_EQ(broker_.pending_faults(), 1u);
}

TEST_F(FaultsTest, CloseChannelClosesWithTheReasonAndRequeuesUnacked) {
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("held")).ok());
  ASSERT_TRUE(channel_->BasicConsume("q", [](const Delivery&) {}).ok());
  broker_.RunUntilIdle();
  ASSERT_THAT(broker_.UnackedOn(*channel_), SizeIs(1));
  broker_.CloseChannel(*channel_, AmqpError(ReplyCode::kPreconditionFailed, "injected"));
  EXPECT_FALSE(channel_->is_open());
  EXPECT_EQ(channel_->close_reason().message(), "PRECONDITION_FAILED - injected");
  EXPECT_TRUE(connection_->is_open());
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(AllOf(HasBody("held"), IsRedelivered())));
  absl::Status later = channel_->BasicPublish("", "q", Message("after"));
  EXPECT_EQ(ReplyCodeOf(later), ReplyCode::kChannelError);
  EXPECT_THAT(std::string(later.message()), HasSubstr("injected"));
}

TEST_F(FaultsTest, CloseChannelWithA5xxClosesItsConnection) {
  broker_.CloseChannel(*channel_, AmqpError(ReplyCode::kInternalError, "injected"));
  EXPECT_FALSE(connection_->is_open());
  EXPECT_EQ(ReplyCodeOf(channel_->close_reason()), ReplyCode::kInternalError);
}

TEST_F(FaultsTest, CloseConnectionClosesEveryChannelWithTheReason) {
  auto second = connection_->OpenChannel().value();
  broker_.CloseConnection(*connection_,
                          AmqpError(ReplyCode::kConnectionForced, "broker restarting"));
  EXPECT_FALSE(connection_->is_open());
  EXPECT_EQ(connection_->close_reason().message(), "CONNECTION_FORCED - broker restarting");
  EXPECT_FALSE(channel_->is_open());
  EXPECT_FALSE(second->is_open());
  EXPECT_EQ(ReplyCodeOf(second->close_reason()), ReplyCode::kConnectionForced);
}

TEST_F(FaultsTest, CancelConsumerRunsOnCancelAndStopsDeliveries) {
  std::vector<std::string> cancelled;
  std::vector<std::string> got;
  ASSERT_TRUE(channel_
                  ->BasicConsume("q", [&](const Delivery& d) { got.emplace_back(d.message.body()); },
                                 {.consumer_tag = "c1",
                                  .on_cancel = [&](std::string_view tag) {
                                    cancelled.emplace_back(tag);
                                  }})
                  .ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("before")).ok());
  broker_.RunUntilIdle();
  broker_.CancelConsumer(*channel_, "c1");
  broker_.RunUntilIdle();
  EXPECT_THAT(cancelled, ElementsAre("c1"));
  EXPECT_THAT(broker_.ConsumersOf("q"), IsEmpty());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("after")).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(got, ElementsAre("before"));
  EXPECT_THAT(broker_.MessagesIn("q"), ElementsAre(HasBody("after")));
  // What it held stays unacked on the channel, and can still be acked.
  EXPECT_THAT(broker_.UnackedOn(*channel_), ElementsAre(HasBody("before")));
  EXPECT_TRUE(channel_->BasicAck(1).ok());
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(FaultsTest, CancelConsumerOfAnUnknownTagFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(broker_.CancelConsumer(*channel_, "nobody"), "no consumer 'nobody'");
}

TEST_F(FaultsTest, FailNextPublishNeedsAnError) {
  EXPECT_NONFATAL_FAILURE(broker_.FailNextPublish(absl::OkStatus()), "needs an error");
  EXPECT_EQ(broker_.pending_faults(), 0u);
}

TEST_F(FaultsTest, FaultsOnAnotherBrokersHandlesFailTheTestAndTouchNothing) {
  TestBroker other;
  std::unique_ptr<Connection> foreign_connection = other.Connect().value();
  std::unique_ptr<Channel> foreign = foreign_connection->OpenChannel().value();
  ASSERT_TRUE(foreign->QueueDeclare("q").ok());
  ASSERT_TRUE(foreign->BasicConsume("q", [](const Delivery&) {}, {.consumer_tag = "c"}).ok());
  const absl::Status reason = AmqpError(ReplyCode::kPreconditionFailed, "injected");
  EXPECT_NONFATAL_FAILURE(broker_.CloseChannel(*foreign, reason), "not one of this TestBroker's");
  EXPECT_NONFATAL_FAILURE(broker_.CloseConnection(*foreign_connection, reason),
                          "not one of this TestBroker's");
  EXPECT_NONFATAL_FAILURE(broker_.CancelConsumer(*foreign, "c"), "not one of this TestBroker's");
  EXPECT_TRUE(foreign->is_open());
  EXPECT_TRUE(foreign_connection->is_open());
  EXPECT_THAT(other.ConsumersOf("q"), SizeIs(1));
}

}  // namespace
}  // namespace warren::testkit
