// examples/testing/order_service_test.cc: the order service's tests, written
// with warren's test kit. Each runs on a deterministic broker: callbacks run
// at RunUntilIdle(), time moves only at AdvanceTime(), so TTLs and backoff
// are tested to the millisecond without a sleep, and every run is the same.
#include "order_service.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/status.h"
#include "warren/testing.h"

namespace orders {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using warren::BasicProperties;
using warren::Message;
using warren::testkit::ConsumerInfo;
using warren::testkit::HasBody;
using warren::testkit::HasCorrelationId;
using warren::testkit::HasHeader;
using warren::testkit::HasProperty;
using warren::testkit::HasRoutingKey;
using warren::testkit::HasXDeathCount;
using warren::testkit::HasXDeathReason;
using warren::testkit::TestBroker;

const Order kBook{.id = "42", .item = "book", .quantity = 2};

class OrderServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    connection_ = broker_.Connect().value();
    auto setup = broker_.OpenChannel().value();
    ASSERT_TRUE(DeclareOrderTopology(*setup).ok());
  }

  // Starts fulfilment with a handler that answers each call with the next
  // of `results` (the last one repeats), counting the calls.
  void StartFulfilment(std::vector<absl::Status> results) {
    results_ = std::move(results);
    fulfilment_ = Fulfilment::Start(*connection_, [this](const Order& order) {
                    fulfilled_ids_.push_back(order.id);
                    const size_t call = fulfilled_ids_.size() - 1;
                    return results_[std::min(call, results_.size() - 1)];
                  }).value();
  }

  TestBroker broker_;
  std::unique_ptr<warren::Connection> connection_;
  std::unique_ptr<Fulfilment> fulfilment_;
  std::vector<absl::Status> results_;
  std::vector<std::string> fulfilled_ids_;
};

TEST_F(OrderServiceTest, PlacingAnOrderPublishesOrderPlacedWithItsIdAsCorrelationId) {
  OrderPublisher publisher(*connection_);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  EXPECT_THAT(broker_.PublishedTo("orders"),
              ElementsAre(AllOf(HasRoutingKey("order.placed"), HasCorrelationId("42"),
                                HasBody(Encode(kBook)))));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment"), ElementsAre(HasCorrelationId("42")));
}

TEST_F(OrderServiceTest, AFulfilledOrderIsAckedAndLeavesNothingBehind) {
  StartFulfilment({absl::OkStatus()});
  OrderPublisher publisher(*connection_);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42"));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment"), IsEmpty());
  EXPECT_THAT(broker_.MessagesIn("orders.dead"), IsEmpty());
  EXPECT_THAT(broker_.ConsumersOf("orders.fulfilment"),
              ElementsAre(Field(&ConsumerInfo::unacked, 0u)));
}

TEST_F(OrderServiceTest, AnOrderThatFailsForGoodLandsInTheDeadLetterQueueWithXDeath) {
  StartFulfilment({absl::InvalidArgumentError("no such item")});
  OrderPublisher publisher(*connection_);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42"));
  EXPECT_THAT(broker_.MessagesIn("orders.dead"),
              ElementsAre(AllOf(HasCorrelationId("42"), HasXDeathReason("rejected"),
                                HasXDeathCount("orders.fulfilment", "rejected", 1))));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment.wait"), IsEmpty());
}

TEST_F(OrderServiceTest, AMalformedOrderIsDeadLetteredWithoutRetry) {
  StartFulfilment({absl::OkStatus()});
  ASSERT_TRUE(broker_.Publish("orders", "order.placed", Message("not an order")).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(fulfilled_ids_, IsEmpty());
  EXPECT_THAT(broker_.MessagesIn("orders.dead"),
              ElementsAre(AllOf(HasBody("not an order"), HasXDeathReason("rejected"))));
}

TEST_F(OrderServiceTest, AnOrderNobodyTakesExpiresAfterAMinute) {
  OrderPublisher publisher(*connection_);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  broker_.AdvanceTime(kFulfilmentTtl - absl::Milliseconds(1));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment"), ElementsAre(HasCorrelationId("42")));
  EXPECT_THAT(broker_.MessagesIn("orders.dead"), IsEmpty());
  broker_.AdvanceTime(absl::Milliseconds(1));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment"), IsEmpty());
  EXPECT_THAT(broker_.MessagesIn("orders.dead"),
              ElementsAre(AllOf(HasCorrelationId("42"), HasXDeathReason("expired"))));
}

TEST_F(OrderServiceTest, ATransientFailureIsRetriedAfterOneSecondThenTwo) {
  StartFulfilment({absl::UnavailableError("warehouse busy"),
                   absl::UnavailableError("warehouse busy"), absl::OkStatus()});
  OrderPublisher publisher(*connection_);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  broker_.RunUntilIdle();
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42"));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment.wait"),
              ElementsAre(AllOf(HasCorrelationId("42"), HasHeader("x-attempt", 1),
                                HasProperty(&BasicProperties::expiration, "1000"))));

  broker_.AdvanceTime(absl::Milliseconds(999));
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42"));
  broker_.AdvanceTime(absl::Milliseconds(1));
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42", "42"));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment.wait"),
              ElementsAre(AllOf(HasHeader("x-attempt", 2),
                                HasProperty(&BasicProperties::expiration, "2000"))));

  broker_.AdvanceTime(absl::Milliseconds(1999));
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42", "42"));
  broker_.AdvanceTime(absl::Milliseconds(1));
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42", "42", "42"));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment.wait"), IsEmpty());
  EXPECT_THAT(broker_.MessagesIn("orders.dead"), IsEmpty());
}

TEST_F(OrderServiceTest, AnOrderStillFailingOnItsLastAttemptIsDeadLettered) {
  StartFulfilment({absl::UnavailableError("warehouse down")});
  OrderPublisher publisher(*connection_);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  broker_.RunUntilIdle();
  broker_.AdvanceTime(absl::Seconds(1));
  broker_.AdvanceTime(absl::Seconds(2));
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42", "42", "42"));
  EXPECT_THAT(broker_.MessagesIn("orders.dead"),
              ElementsAre(AllOf(HasCorrelationId("42"), HasHeader("x-attempt", 2),
                                HasXDeathCount("orders.fulfilment", "rejected", 1),
                                HasXDeathCount("orders.fulfilment.wait", "expired", 2))));
  broker_.AdvanceTime(absl::Seconds(4));
  EXPECT_THAT(fulfilled_ids_, ElementsAre("42", "42", "42"));
}

TEST_F(OrderServiceTest, PlaceReportsAnOrderTheBrokerNacked) {
  broker_.NackNextConfirm();
  OrderPublisher publisher(*connection_);
  EXPECT_TRUE(absl::IsUnavailable(publisher.Place(kBook)));
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment"), IsEmpty());
  EXPECT_TRUE(publisher.Place(kBook).ok());
}

TEST_F(OrderServiceTest, PlaceRecoversFromAPublishTheBrokerRefused) {
  OrderPublisher publisher(*connection_);
  broker_.FailNextPublish(
      warren::AmqpError(warren::ReplyCode::kAccessRefused, "access to exchange refused"),
      HasRoutingKey("order.placed"));
  EXPECT_EQ(warren::ReplyCodeOf(publisher.Place(kBook)), warren::ReplyCode::kAccessRefused);
  ASSERT_TRUE(publisher.Place(kBook).ok());
  EXPECT_THAT(broker_.MessagesIn("orders.fulfilment"), ElementsAre(HasCorrelationId("42")));
}

TEST_F(OrderServiceTest, FulfilmentNoticesWhenTheBrokerCancelsItsConsumer) {
  StartFulfilment({absl::OkStatus()});
  ASSERT_THAT(broker_.ConsumersOf("orders.fulfilment"),
              ElementsAre(Field(&ConsumerInfo::tag, "fulfilment")));
  ASSERT_TRUE(fulfilment_->consuming());
  auto admin = broker_.OpenChannel().value();
  ASSERT_TRUE(admin->QueueDelete("orders.fulfilment").ok());
  broker_.RunUntilIdle();
  EXPECT_FALSE(fulfilment_->consuming());
}

}  // namespace
}  // namespace orders
