// warren::Connect for inproc:// URLs and the broker registry; amqp:// URLs
// are tested against a live broker in amqp_channel_test.cc.
#include "warren/connect.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/status.h"

namespace warren {
namespace {

TEST(ConnectInproc, VhostOfTheDefaultBrokerIsSharedByConnections) {
  auto publisher = Connect("inproc://connect-test-shared");
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  auto consumer = Connect("inproc://connect-test-shared");
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto pub = (*publisher)->OpenChannel().value();
  auto sub = (*consumer)->OpenChannel().value();
  ASSERT_TRUE(pub->QueueDeclare("q").ok());
  ASSERT_TRUE(pub->BasicPublish("", "q", Message("hello")).ok());
  auto got = sub->BasicGet("q", {.no_ack = true});
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->delivery.message.body(), "hello");
}

TEST(ConnectInproc, VhostsOfTheDefaultBrokerAreSeparate) {
  auto in_a = Connect("inproc://connect-test-a").value();
  auto in_b = Connect("inproc://connect-test-b").value();
  auto a = in_a->OpenChannel().value();
  auto b = in_b->OpenChannel().value();
  ASSERT_TRUE(a->QueueDeclare("only-in-a").ok());
  EXPECT_EQ(ReplyCodeOf(b->QueueDeclare("only-in-a", {.passive = true}).status()),
            ReplyCode::kNotFound);
}

TEST(ConnectInproc, EmptyAndEscapedVhostsMeanSlash) {
  auto plain = Connect("inproc://");
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto escaped = Connect("inproc://%2F");
  ASSERT_TRUE(escaped.ok()) << escaped.status();
  auto a = (*plain)->OpenChannel().value();
  auto b = (*escaped)->OpenChannel().value();
  ASSERT_TRUE(a->QueueDeclare("connect-test-slash").ok());
  EXPECT_TRUE(b->QueueDeclare("connect-test-slash", {.passive = true}).ok());
}

TEST(ConnectInproc, RegisteredBrokerByNameAndVhost) {
  auto broker = Broker::Create().value();
  ASSERT_TRUE(broker->AddVirtualHost("orders").ok());
  ASSERT_TRUE(RegisterBroker("connect-test-bus", broker.get()).ok());
  auto to_slash = Connect("inproc://connect-test-bus");
  ASSERT_TRUE(to_slash.ok()) << to_slash.status();
  auto to_orders = Connect("inproc://connect-test-bus/orders");
  ASSERT_TRUE(to_orders.ok()) << to_orders.status();
  auto direct_connection = broker->Connect({.vhost = "orders"}).value();
  auto direct = direct_connection->OpenChannel().value();
  ASSERT_TRUE(direct->QueueDeclare("q").ok());
  auto via_url = (*to_orders)->OpenChannel().value();
  EXPECT_TRUE(via_url->QueueDeclare("q", {.passive = true}).ok());
  auto missing = Connect("inproc://connect-test-bus/nope");
  EXPECT_EQ(ReplyCodeOf(missing.status()), ReplyCode::kNotAllowed);
  EXPECT_TRUE(UnregisterBroker("connect-test-bus").ok());
}

TEST(ConnectInproc, UserIsTheOneUserIdIsComparedWith) {
  auto broker = Broker::Create().value();
  ASSERT_TRUE(RegisterBroker("connect-test-users", broker.get()).ok());
  auto connection = Connect("inproc://connect-test-users", {.user = "alice"}).value();
  auto channel = connection->OpenChannel();
  ASSERT_TRUE(channel.ok());
  ASSERT_TRUE((*channel)->QueueDeclare("q").ok());
  BasicProperties props;
  props.user_id = "bob";
  EXPECT_EQ(ReplyCodeOf((*channel)->BasicPublish("", "q", Message("m", props))),
            ReplyCode::kPreconditionFailed);
  EXPECT_TRUE(UnregisterBroker("connect-test-users").ok());
}

TEST(ConnectInproc, PathAfterAnUnregisteredNameIsInvalid) {
  EXPECT_EQ(Connect("inproc://not-registered/vhost").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConnectInproc, BadEscapeIsInvalid) {
  EXPECT_EQ(Connect("inproc://%zz").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BrokerRegistry, NamesAreUniqueAndValidated) {
  auto broker = Broker::Create().value();
  EXPECT_EQ(RegisterBroker("", broker.get()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterBroker("has/slash", broker.get()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterBroker("ok-name", nullptr).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(RegisterBroker("registry-test", broker.get()).ok());
  EXPECT_EQ(RegisterBroker("registry-test", broker.get()).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(UnregisterBroker("registry-test").ok());
  EXPECT_EQ(UnregisterBroker("registry-test").code(), absl::StatusCode::kNotFound);
}

TEST(Connect, UnknownSchemeIsInvalid) {
  EXPECT_EQ(Connect("tcp://localhost").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace warren
