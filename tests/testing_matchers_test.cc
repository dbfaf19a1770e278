// tests/testing_matchers_test.cc: the test kit's GoogleMock matchers
// (warren/testing.h) match what they name, refuse what they do not, on every
// value that carries a message, and describe themselves as a sentence.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/message.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

using ::testing::AllOf;
using ::testing::DescribeMatcher;
using ::testing::ExplainMatchResult;
using ::testing::HasSubstr;
using ::testing::Matcher;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::StringMatchResultListener;

Message OrderPlaced() {
  BasicProperties props;
  props.correlation_id = "order-42";
  props.message_id = "m-1";
  props.content_type = "application/json";
  props.reply_to = "replies";
  props.delivery_mode = 2;
  props.headers = FieldTable{{"x-attempt", int8_t{2}},
                             {"tenant", "acme"},
                             {"flag", true}};
  return Message(R"({"id":42})", props);
}

Delivery DeliveryOf(Message message, bool redelivered = false) {
  return Delivery{"ctag", 7, redelivered, "orders", "order.placed", std::move(message)};
}

// A dead letter as the broker writes it: rejected from "work" once, after
// expiring twice in "wait".
Message DeadLetter() {
  FieldTable rejected{{"count", int64_t{1}}, {"reason", "rejected"}, {"queue", "work"},
                      {"exchange", "orders"}, {"routing-keys", FieldArray{"order.placed"}}};
  FieldTable expired{{"count", int64_t{2}}, {"reason", "expired"}, {"queue", "wait"},
                     {"exchange", ""}, {"routing-keys", FieldArray{"wait"}}};
  BasicProperties props;
  props.headers = FieldTable{{"x-death", FieldArray{rejected, expired}}};
  return Message("dead", props);
}

TEST(Matchers, HasBodyTakesAValueOrAStringMatcher) {
  EXPECT_THAT(OrderPlaced(), HasBody(R"({"id":42})"));
  EXPECT_THAT(OrderPlaced(), HasBody(HasSubstr("42")));
  EXPECT_THAT(OrderPlaced(), Not(HasBody("{}")));
}

TEST(Matchers, HasRoutingKeyAndHasExchangeMatchWhereItWasPublished) {
  const Delivery d = DeliveryOf(OrderPlaced());
  EXPECT_THAT(d, AllOf(HasExchange("orders"), HasRoutingKey("order.placed")));
  EXPECT_THAT(d, HasRoutingKey(StartsWith("order.")));
  EXPECT_THAT(d, Not(HasRoutingKey("order.paid")));
  EXPECT_THAT(d, Not(HasExchange("")));
}

TEST(Matchers, HasHeaderMatchesPresenceIntegersOfAnyWidthStringsAndExactValues) {
  const Message m = OrderPlaced();
  EXPECT_THAT(m, HasHeader("tenant"));
  EXPECT_THAT(m, Not(HasHeader("missing")));
  EXPECT_THAT(m, HasHeader("x-attempt", 2));            // stored as an int8
  EXPECT_THAT(m, HasHeader("x-attempt", int64_t{2}));
  EXPECT_THAT(m, Not(HasHeader("x-attempt", 3)));
  EXPECT_THAT(m, HasHeader("tenant", "acme"));
  EXPECT_THAT(m, HasHeader("tenant", std::string("acme")));
  EXPECT_THAT(m, Not(HasHeader("tenant", "other")));
  EXPECT_THAT(m, HasHeader("x-attempt", FieldValue(int8_t{2})));      // exact type
  EXPECT_THAT(m, Not(HasHeader("x-attempt", FieldValue(int32_t{2}))));
  EXPECT_THAT(m, HasHeader("flag", FieldValue(true)));
  EXPECT_THAT(Message("no headers"), Not(HasHeader("tenant")));
}

TEST(Matchers, NamedPropertyMatchersMatchSetProperties) {
  const Message m = OrderPlaced();
  EXPECT_THAT(m, AllOf(HasCorrelationId("order-42"), HasMessageId("m-1"),
                       HasContentType("application/json"), HasReplyTo("replies")));
  EXPECT_THAT(m, Not(HasCorrelationId("order-43")));
  EXPECT_THAT(Message("bare"), Not(HasCorrelationId(::testing::_)));
}

TEST(Matchers, HasPropertyTakesAnyPropertyByMember) {
  const Message m = OrderPlaced();
  EXPECT_THAT(m, HasProperty(&BasicProperties::delivery_mode, 2));
  EXPECT_THAT(m, HasProperty(&BasicProperties::correlation_id, StartsWith("order-")));
  EXPECT_THAT(m, HasProperty(&BasicProperties::headers));
  EXPECT_THAT(m, Not(HasProperty(&BasicProperties::expiration)));
  EXPECT_THAT(m, Not(HasProperty(&BasicProperties::priority, 0)));
}

TEST(Matchers, IsRedeliveredReadsTheRedeliveredFlag) {
  EXPECT_THAT(DeliveryOf(OrderPlaced(), /*redelivered=*/true), IsRedelivered());
  EXPECT_THAT(DeliveryOf(OrderPlaced()), Not(IsRedelivered()));
  EXPECT_THAT((QueuedMessage{"", "q", Message("m"), true}), IsRedelivered());
}

TEST(Matchers, HasXDeathReasonFindsAnyEntryWithTheReason) {
  EXPECT_THAT(DeadLetter(), HasXDeathReason("rejected"));
  EXPECT_THAT(DeadLetter(), HasXDeathReason("expired"));
  EXPECT_THAT(DeadLetter(), Not(HasXDeathReason("maxlen")));
  EXPECT_THAT(OrderPlaced(), Not(HasXDeathReason("rejected")));
}

TEST(Matchers, HasXDeathCountMatchesTheCountOfOneQueueAndReason) {
  EXPECT_THAT(DeadLetter(), HasXDeathCount("wait", "expired", 2));
  EXPECT_THAT(DeadLetter(), HasXDeathCount("wait", "expired", ::testing::Ge(2)));
  EXPECT_THAT(DeadLetter(), Not(HasXDeathCount("work", "expired", ::testing::_)));
  EXPECT_THAT(DeadLetter(), Not(HasXDeathCount("wait", "expired", 3)));
}

TEST(Matchers, XDeathsOfReadsEveryEntryMostRecentFirst) {
  const std::vector<XDeath> deaths = XDeathsOf(DeadLetter());
  ASSERT_EQ(deaths.size(), 2u);
  EXPECT_EQ(deaths[0].queue, "work");
  EXPECT_EQ(deaths[0].reason, "rejected");
  EXPECT_EQ(deaths[0].exchange, "orders");
  EXPECT_EQ(deaths[0].count, 1);
  EXPECT_EQ(deaths[0].routing_keys, std::vector<std::string>{"order.placed"});
  EXPECT_EQ(deaths[1].count, 2);
}

TEST(Matchers, WorkOnEveryValueThatCarriesAMessage) {
  const Message m = OrderPlaced();
  EXPECT_THAT(m, HasBody(HasSubstr("42")));
  EXPECT_THAT(DeliveryOf(m), HasBody(HasSubstr("42")));
  EXPECT_THAT((GetResult{DeliveryOf(m), 0}), AllOf(HasBody(HasSubstr("42")),
                                                    HasRoutingKey("order.placed")));
  EXPECT_THAT((QueuedMessage{"orders", "order.placed", m, false}),
              AllOf(HasBody(HasSubstr("42")), HasRoutingKey("order.placed")));
  EXPECT_THAT((PublishedMessage{"/", "orders", "order.placed", m, false}),
              AllOf(HasCorrelationId("order-42"), HasExchange("orders")));
  EXPECT_THAT((ReturnedMessage{312, "NO_ROUTE", "orders", "order.lost", m}),
              AllOf(HasHeader("tenant", "acme"), HasRoutingKey("order.lost")));
}

TEST(Matchers, DescribeThemselvesAsSentences) {
  EXPECT_EQ(DescribeMatcher<Message>(HasBody("hi")), "has body that is equal to \"hi\"");
  EXPECT_EQ(DescribeMatcher<Delivery>(HasRoutingKey("k"), /*negation=*/true),
            "has no routing key that is equal to \"k\"");
  EXPECT_EQ(DescribeMatcher<Message>(HasHeader("x-attempt", 2)),
            "has header \"x-attempt\" that is an integer equal to 2");
  EXPECT_EQ(DescribeMatcher<Message>(HasCorrelationId("c")),
            "has correlation_id that is equal to \"c\"");
  EXPECT_EQ(DescribeMatcher<Delivery>(IsRedelivered()), "is redelivered");
  EXPECT_EQ(DescribeMatcher<Message>(HasXDeathReason("expired")),
            "has x-death entry with reason \"expired\" whose count is anything");
}

TEST(Matchers, ExplainWhatTheyFound) {
  StringMatchResultListener listener;
  EXPECT_FALSE(ExplainMatchResult(HasCorrelationId("a"), Message("bare"), &listener));
  EXPECT_EQ(listener.str(), "which has no correlation_id");

  StringMatchResultListener body_listener;
  EXPECT_FALSE(ExplainMatchResult(HasBody("a"), Message("b"), &body_listener));
  EXPECT_EQ(body_listener.str(), "whose body is \"b\"");
}

TEST(Matchers, PrintMessagesReadably) {
  EXPECT_EQ(::testing::PrintToString(Message("hi")), "{body: \"hi\"}");
  BasicProperties props;
  props.correlation_id = "c";
  props.headers = FieldTable{{"n", int32_t{1}}};
  EXPECT_EQ(::testing::PrintToString(Message("hi", props)),
            "{body: \"hi\", headers: {\"n\": 1}, correlation_id: \"c\"}");
}

TEST(Matchers, AreMatchersOfThePublishLogForFaults) {
  const Matcher<const PublishedMessage&> which = HasRoutingKey("order.placed");
  EXPECT_TRUE(which.Matches(PublishedMessage{"/", "orders", "order.placed", Message(), false}));
  EXPECT_FALSE(which.Matches(PublishedMessage{"/", "orders", "order.paid", Message(), false}));
}

}  // namespace
}  // namespace warren::testkit
