// Tests of warren/rpc.h: RpcClient over direct reply-to, and ServeRpc.
#include "warren/rpc.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/status.h"

namespace warren {
namespace {

Message Double(const Delivery& d) {
  return Message(std::to_string(2 * std::stoi(std::string(d.message.body()))));
}

class RpcTest : public ::testing::TestWithParam<Dispatch> {
 protected:
  void SetUp() override {
    broker_ = *Broker::Create({.dispatch = GetParam(), .clock = &clock_});
    server_connection_ = *broker_->Connect();
    client_connection_ = *broker_->Connect();
    server_ = *server_connection_->OpenChannel();
    ASSERT_TRUE(server_->QueueDeclare("rpc").ok());
    RpcClientOptions options;
    if (GetParam() == Dispatch::kManual) {
      options.process_events = [this] { broker_->ProcessEvents(); };
    }
    client_ = *RpcClient::Create(*client_connection_, options);
  }

  // The server's callback may still be acking when the last reply arrives:
  // the broker goes first, letting running callbacks finish, before the
  // channel they use is destroyed.
  void TearDown() override { broker_.reset(); }

  ManualClock clock_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> server_connection_;
  std::unique_ptr<Connection> client_connection_;
  std::unique_ptr<Channel> server_;
  std::unique_ptr<RpcClient> client_;
};

TEST_P(RpcTest, CallReturnsTheServersReply) {
  ASSERT_TRUE(ServeRpc(*server_, "rpc", Double).ok());
  absl::StatusOr<Message> reply = client_->Call("", "rpc", Message("21"), absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body(), "42");
}

TEST_P(RpcTest, RepliesMatchTheirRequestsByCorrelationId) {
  ASSERT_TRUE(ServeRpc(*server_, "rpc", Double).ok());
  for (int i = 1; i <= 20; ++i) {
    absl::StatusOr<Message> reply =
        client_->Call("", "rpc", Message(std::to_string(i)), absl::Seconds(5));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->body(), std::to_string(2 * i));
    EXPECT_TRUE(reply->properties().correlation_id.has_value());
  }
}

TEST_P(RpcTest, UnroutableRequestIsUnavailable) {
  absl::StatusOr<Message> reply = client_->Call("", "nobody", Message("1"), absl::Seconds(5));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
}

TEST_P(RpcTest, NoServerTimesOut) {
  absl::StatusOr<Message> reply = client_->Call("", "rpc", Message("1"), absl::Milliseconds(20));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_P(RpcTest, ServerSeesDirectReplyToName) {
  std::string reply_to;
  ASSERT_TRUE(ServeRpc(*server_, "rpc", [&](const Delivery& d) {
                reply_to = d.message.properties().reply_to.value_or("");
                return Message("ok");
              }).ok());
  ASSERT_TRUE(client_->Call("", "rpc", Message("x"), absl::Seconds(5)).ok());
  EXPECT_THAT(reply_to, ::testing::StartsWith("amq.rabbitmq.reply-to."));
}

INSTANTIATE_TEST_SUITE_P(Dispatch, RpcTest,
                         ::testing::Values(Dispatch::kThreadPool, Dispatch::kManual));

TEST(DirectReplyTo, PublishingWithoutReplyConsumerIs406) {
  auto broker = *Broker::Create({.dispatch = Dispatch::kManual});
  auto connection = *broker->Connect();
  auto channel = *connection->OpenChannel();
  BasicProperties props;
  props.reply_to = "amq.rabbitmq.reply-to";
  absl::Status s = channel->BasicPublish("", "q", Message("x", props));
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed);
  EXPECT_FALSE(channel->is_open());
}

TEST(DirectReplyTo, ReplyConsumerMustBeNoAck) {
  auto broker = *Broker::Create({.dispatch = Dispatch::kManual});
  auto connection = *broker->Connect();
  auto channel = *connection->OpenChannel();
  absl::StatusOr<std::string> tag =
      channel->BasicConsume("amq.rabbitmq.reply-to", [](const Delivery&) {});
  EXPECT_EQ(ReplyCodeOf(tag.status()), ReplyCode::kPreconditionFailed);
}

}  // namespace
}  // namespace warren
