// The bad short strings of tests/bad_input_calls.h against a live RabbitMQ
// through the amqp:// backend: what RabbitMQ 3.10 answers to an empty or
// non-UTF-8 name, key or tag of every method (the recorder cannot send bytes
// that are not UTF-8, so this is where those answers are shown), and what
// the backend refuses before sending (over 255 bytes, as a short string, a
// table key or a property) without closing anything. The in-process broker
// answers the same: bad_input_test.cc. Needs a broker: scripts/rabbitmq
// start (see tests/amqp_test_support.h).
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "amqp_test_support.h"
#include "bad_input_calls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/connect.h"
#include "warren/connection.h"
#include "warren/message.h"
#include "warren/status.h"

namespace warren {
namespace {

using ::testing::HasSubstr;
using testing::ShortStringCall;
using testing::ShortStringCalls;

const std::string kTooLong(256, 'k');
const std::string kNotUtf8 = "q\xff";

class AmqpBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::TestVhostUrl();
    absl::StatusOr<std::unique_ptr<Connection>> connection = Connect(url_);
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = *std::move(connection);
    std::unique_ptr<Channel> setup = connection_->OpenChannel().value();
    ASSERT_TRUE(testing::DeclareBadInputTopology(*setup).ok());
    channel_ = connection_->OpenChannel().value();
  }

  // A new connection still declares, publishes and gets.
  void TearDown() override {
    std::unique_ptr<Connection> connection = Connect(url_).value();
    std::unique_ptr<Channel> channel = connection->OpenChannel().value();
    absl::StatusOr<QueueDeclareResult> declared = channel->QueueDeclare("", {.exclusive = true});
    ASSERT_TRUE(declared.ok()) << declared.status();
    ASSERT_TRUE(channel->BasicPublish("", declared->queue, Message("still usable")).ok());
    absl::StatusOr<std::optional<GetResult>> got =
        channel->BasicGet(declared->queue, {.no_ack = true});
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->delivery.message.body(), "still usable");
  }

  std::string url_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;  // has declared no queue
};

class AmqpShortString : public AmqpBadInput,
                        public ::testing::WithParamInterface<ShortStringCall> {
 protected:
  // The call's answer: RabbitMQ refuses a publish after it returned, so a
  // round trip on the channel shows the refusal that closed it.
  absl::Status Answer(const std::string& s) {
    absl::Status answer = GetParam().call(*channel_, s);
    if (!answer.ok()) return answer;
    if (channel_->ExchangeDeclare("amq.direct", kDirect, {.passive = true}).ok()) return answer;
    return channel_->close_reason();
  }
};

TEST_P(AmqpShortString, Over255BytesIsRefusedBeforeSendingAndClosesNothing) {
  absl::Status s = Answer(kTooLong);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
}

TEST_P(AmqpShortString, EmptyIsAnsweredAsTheTableSays) {
  absl::Status s = Answer("");
  EXPECT_EQ(ReplyCodeOf(s), GetParam().empty) << s;
  EXPECT_EQ(connection_->is_open(), !IsConnectionError(GetParam().empty));
}

TEST_P(AmqpShortString, NotUtf8IsAnsweredAsTheTableSays) {
  absl::Status s = Answer(kNotUtf8);
  EXPECT_EQ(ReplyCodeOf(s), GetParam().not_utf8) << s;
  EXPECT_EQ(connection_->is_open(), !IsConnectionError(GetParam().not_utf8));
}

INSTANTIATE_TEST_SUITE_P(EveryMethod, AmqpShortString, ::testing::ValuesIn(ShortStringCalls()),
                         [](const auto& info) { return std::string(info.param.name); });

// rabbitmq-c could not encode these: refused before anything is sent, so
// the connection neither drops nor reconnects.
TEST_F(AmqpBadInput, TableKeysAndPropertiesOver255BytesAreRefusedBeforeSending) {
  EXPECT_EQ(channel_->QueueDeclare("t", {.arguments = {{kTooLong, 1}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  BasicProperties headers;
  headers.headers = FieldTable{{"outer", FieldTable{{kTooLong, 1}}}};
  EXPECT_EQ(channel_->BasicPublish("", "q", Message("m", headers)).code(),
            absl::StatusCode::kInvalidArgument);
  BasicProperties message_id;
  message_id.message_id = kTooLong;
  EXPECT_EQ(channel_->BasicPublish("", "q", Message("m", message_id)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(channel_->QueueDeclare("q", {.passive = true}).ok());
  EXPECT_TRUE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
}

}  // namespace
}  // namespace warren
