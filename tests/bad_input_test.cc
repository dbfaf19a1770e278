// tests/bad_input_test.cc: every public entry point given bad input — empty,
// oversized, non-UTF-8 and malformed names, keys and properties, arguments
// of the wrong type, closed or foreign handles, and calls from inside a
// consumer callback — answers with a clear status, closes no more than
// RabbitMQ would, and leaves the broker usable: after every test a new
// client still declares, publishes and gets (BadInput's TearDown). Each test
// is a row of docs/bad-input.md. Where RabbitMQ decides the answer it was
// recorded (tests/conformance/cases/bad_input__*, and amqp_bad_input_test.cc
// for what the recorder cannot send). Owns nothing outside this file; it
// uses the public API only.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bad_input_calls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/connect.h"
#include "warren/connection.h"
#include "warren/field_table.h"
#include "warren/message.h"
#include "warren/rpc.h"
#include "warren/status.h"

namespace warren {

// Failure messages show "404 NOT_FOUND" rather than a number.
void PrintTo(ReplyCode code, std::ostream* os) {
  *os << static_cast<int>(code) << " " << ReplyCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using testing::ShortStringCall;
using testing::ShortStringCalls;

// Bounds the waits of a broken run only.
constexpr absl::Duration kWait = absl::Seconds(30);
const std::string kTooLong(256, 'k');
const std::string kNotUtf8 = "q\xff";

// A new client of `broker` can still declare a queue, publish to it and
// get the message back.
void ExpectUsable(Broker& broker) {
  absl::StatusOr<std::unique_ptr<Connection>> connection = broker.Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  absl::StatusOr<std::unique_ptr<Channel>> channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  absl::StatusOr<QueueDeclareResult> declared = (*channel)->QueueDeclare("");
  ASSERT_TRUE(declared.ok()) << declared.status();
  ASSERT_TRUE((*channel)->BasicPublish("", declared->queue, Message("still usable")).ok());
  absl::StatusOr<std::optional<GetResult>> got =
      (*channel)->BasicGet(declared->queue, {.no_ack = true});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->delivery.message.body(), "still usable");
}

// What a refusal closed: nothing (no reply code), the channel (4xx) or the
// connection (5xx), as RabbitMQ would.
void ExpectClosedAsRabbitMqWould(const absl::Status& s, Channel& channel,
                                 Connection& connection) {
  const ReplyCode code = ReplyCodeOf(s);
  EXPECT_EQ(channel.is_open(), s.ok() || code == ReplyCode::kNone) << s;
  EXPECT_EQ(connection.is_open(), !IsConnectionError(code)) << s;
  if (!s.ok() && code != ReplyCode::kNone) {
    EXPECT_EQ(channel.close_reason(), s);
  }
}

class BadInput : public ::testing::Test {
 protected:
  explicit BadInput(Dispatch dispatch = Dispatch::kManual)
      : broker_(Broker::Create({.dispatch = dispatch}).value()),
        connection_(broker_->Connect().value()),
        setup_(connection_->OpenChannel().value()),
        channel_(connection_->OpenChannel().value()) {}

  void SetUp() override { ASSERT_TRUE(testing::DeclareBadInputTopology(*setup_).ok()); }
  void TearDown() override { ExpectUsable(*broker_); }

  void Publish(const std::string& queue, std::string body) {
    ASSERT_TRUE(setup_->BasicPublish("", queue, Message(std::move(body))).ok());
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> setup_;
  std::unique_ptr<Channel> channel_;  // has declared no queue
};

// ---- short strings, method by method -------------------------------------

class ShortString : public BadInput, public ::testing::WithParamInterface<ShortStringCall> {};

TEST_P(ShortString, Over255BytesIsInvalidArgumentAndClosesNothing) {
  absl::Status s = GetParam().call(*channel_, kTooLong);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("256 bytes"));
  EXPECT_TRUE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
}

TEST_P(ShortString, EmptyIsAnsweredAsRabbitMqDoes) {
  absl::Status s = GetParam().call(*channel_, "");
  EXPECT_EQ(ReplyCodeOf(s), GetParam().empty) << s;
  EXPECT_EQ(s.ok(), GetParam().empty == ReplyCode::kNone) << s;
  ExpectClosedAsRabbitMqWould(s, *channel_, *connection_);
}

TEST_P(ShortString, NotUtf8IsAnsweredAsRabbitMqDoes) {
  absl::Status s = GetParam().call(*channel_, kNotUtf8);
  EXPECT_EQ(ReplyCodeOf(s), GetParam().not_utf8) << s;
  EXPECT_EQ(s.ok(), GetParam().not_utf8 == ReplyCode::kNone) << s;
  ExpectClosedAsRabbitMqWould(s, *channel_, *connection_);
  if (GetParam().not_utf8 == ReplyCode::kFrameError) {
    EXPECT_THAT(std::string(s.message()), HasSubstr("Malformed UTF-8 in shortstr"));
  }
}

TEST_P(ShortString, OnAClosedChannelIs504) {
  ASSERT_TRUE(channel_->Close().ok());
  absl::Status s = GetParam().call(*channel_, "q");
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kChannelError) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("channel is closed"));
}

TEST_P(ShortString, AfterItsConnectionClosedIs504NamingWhy) {
  // 540 closes the connection, and so this channel.
  ASSERT_EQ(ReplyCodeOf(channel_->BasicQos(1, {.prefetch_size = 1})), ReplyCode::kNotImplemented);
  absl::Status s = GetParam().call(*channel_, "q");
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kChannelError) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("prefetch_size"));
}

INSTANTIATE_TEST_SUITE_P(EveryMethod, ShortString, ::testing::ValuesIn(ShortStringCalls()),
                         [](const auto& info) { return std::string(info.param.name); });

// UTF-8 as RabbitMQ reads it (probed against 3.10.8): the bit patterns with
// overlong forms refused; surrogates and code points beyond U+10FFFF pass.
TEST_F(BadInput, Utf8IsJudgedByteForByteAsRabbitMqDoes) {
  for (std::string accepted : {"\xc2\x80", "\xe0\xa0\x80", "\xed\xa0\x80", "\xef\xbf\xbe",
                               "\xf0\x90\x80\x80", "\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf"}) {
    std::unique_ptr<Channel> ch = connection_->OpenChannel().value();
    EXPECT_TRUE(ch->QueueDeclare("a" + accepted).ok()) << ::testing::PrintToString(accepted);
  }
  for (std::string refused : {"\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xe2\x82",
                              "\xf0\x8f\xbf\xbf", "\xf8\x88\x80\x80\x80", "\xfe", "\xe2\x28\xa1"}) {
    std::unique_ptr<Connection> c = broker_->Connect().value();
    std::unique_ptr<Channel> ch = c->OpenChannel().value();
    EXPECT_EQ(ReplyCodeOf(ch->QueueDeclare("a" + refused).status()), ReplyCode::kFrameError)
        << ::testing::PrintToString(refused);
    EXPECT_FALSE(c->is_open());
  }
}

// ---- tables and properties -------------------------------------------------

TEST_F(BadInput, TableKeyOver255BytesIsInvalidArgumentAndClosesNothing) {
  FieldTable nested{{"outer", FieldArray{FieldTable{{kTooLong, 1}}}}};
  EXPECT_EQ(channel_->QueueDeclare("t", {.arguments = {{kTooLong, 1}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(channel_->ExchangeDeclare("t", kHeaders, {.arguments = nested}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(channel_->QueueBind("q", "x", "k", nested).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(channel_->BasicConsume("q", [](const Delivery&) {}, {.arguments = nested})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  BasicProperties props;
  props.headers = nested;
  absl::Status s = channel_->BasicPublish("", "q", Message("m", props));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("field table key"));
  EXPECT_TRUE(channel_->is_open());
}

TEST_F(BadInput, ShortStringPropertyOver255BytesIsInvalidArgumentAndClosesNothing) {
  for (std::optional<std::string> BasicProperties::*property :
       {&BasicProperties::content_type, &BasicProperties::content_encoding,
        &BasicProperties::correlation_id, &BasicProperties::reply_to,
        &BasicProperties::expiration, &BasicProperties::message_id, &BasicProperties::type,
        &BasicProperties::user_id, &BasicProperties::app_id}) {
    BasicProperties props;
    props.*property = kTooLong;
    absl::Status s = channel_->BasicPublish("", "q", Message("m", props));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("basic property"));
  }
  EXPECT_TRUE(channel_->is_open());
  EXPECT_EQ(setup_->QueueDeclare("q", {.passive = true})->message_count, 0u);
}

// RabbitMQ checks no UTF-8 in properties or table keys (probed): they are
// delivered byte for byte.
TEST_F(BadInput, PropertiesAndHeadersThatAreNotUtf8AreDeliveredAsPublished) {
  BasicProperties props;
  props.content_type = kNotUtf8;
  props.headers = FieldTable{{kNotUtf8, kNotUtf8}};
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message(kNotUtf8, props)).ok());
  absl::StatusOr<std::optional<GetResult>> got = channel_->BasicGet("q", {.no_ack = true});
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->delivery.message.properties(), props);
  EXPECT_EQ((*got)->delivery.message.body(), kNotUtf8);
}

// Recorded against RabbitMQ with a live client (a 128 MiB body does not fit
// a conformance case): max_message_size is 134217728 bytes.
TEST_F(BadInput, BodyOver128MibIs406) {
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message(std::string(134217728, 'b'))).ok());
  absl::Status s = channel_->BasicPublish("", "q", Message(std::string(134217729, 'b')));
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed) << s.code();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("message size 134217729 is larger than configured max size 134217728"));
  ExpectClosedAsRabbitMqWould(s, *channel_, *connection_);
  EXPECT_EQ(setup_->QueuePurge("q").value(), 1u);
}

// ---- other arguments -------------------------------------------------------

TEST_F(BadInput, ConsumeWithoutACallbackIsInvalidArgumentAndClosesNothing) {
  absl::StatusOr<std::string> tag = channel_->BasicConsume("q", nullptr);
  EXPECT_EQ(tag.status().code(), absl::StatusCode::kInvalidArgument) << tag.status();
  EXPECT_TRUE(channel_->is_open());
  EXPECT_EQ(setup_->QueueDeclare("q", {.passive = true})->consumer_count, 0u);
}

TEST_F(BadInput, QosWithAPrefetchSizeIs540ClosingTheConnection) {
  absl::Status s = channel_->BasicQos(10, {.prefetch_size = 4096});
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kNotImplemented) << s;
  ExpectClosedAsRabbitMqWould(s, *channel_, *connection_);
}

TEST_F(BadInput, ImmediatePublishIs540ClosingTheConnection) {
  absl::Status s = channel_->BasicPublish("", "q", Message("m"), {.immediate = true});
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kNotImplemented) << s;
  ExpectClosedAsRabbitMqWould(s, *channel_, *connection_);
}

TEST_F(BadInput, DeliveryTagOfAnotherChannelIs406ThereAndStaysUnackedOnItsOwn) {
  Publish("q", "m");
  absl::StatusOr<std::optional<GetResult>> got = setup_->BasicGet("q");
  ASSERT_TRUE(got.ok() && got->has_value());
  const uint64_t tag = (*got)->delivery.delivery_tag;
  absl::Status s = channel_->BasicAck(tag);
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed) << s;
  ExpectClosedAsRabbitMqWould(s, *channel_, *connection_);
  EXPECT_TRUE(setup_->BasicAck(tag).ok());
  EXPECT_EQ(setup_->QueueDeclare("q", {.passive = true})->message_count, 0u);
}

TEST_F(BadInput, WaitForConfirmsOutsideConfirmModeIsFailedPreconditionAndClosesNothing) {
  absl::Status s = channel_->WaitForConfirms(absl::Seconds(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(channel_->is_open());
  EXPECT_EQ(channel_->NextPublishSeqNo(), 1u);
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  EXPECT_EQ(channel_->NextPublishSeqNo(), 1u);  // only confirm mode counts
}

TEST_F(BadInput, WaitForConfirmsWithANegativeTimeoutReturnsAtOnce) {
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  ASSERT_TRUE(channel_->ConfirmSelect().ok());  // twice is fine
  EXPECT_TRUE(channel_->WaitForConfirms(-absl::Seconds(1)).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  EXPECT_TRUE(channel_->WaitForConfirms(-absl::Seconds(1)).ok());  // decided when published
}

TEST_F(BadInput, AckNackRejectAndRecoverOnAClosedChannelAre504) {
  ASSERT_TRUE(channel_->Close().ok());
  ASSERT_TRUE(channel_->Close().ok());  // twice is fine
  for (absl::Status s :
       {channel_->BasicQos(1), channel_->BasicAck(1), channel_->BasicNack(1),
        channel_->BasicReject(1), channel_->BasicRecover({.requeue = true}),
        channel_->ConfirmSelect()}) {
    EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kChannelError) << s;
  }
  EXPECT_FALSE(channel_->is_open());
  EXPECT_TRUE(channel_->close_reason().ok());  // closed cleanly
}

TEST_F(BadInput, DestroyingTheBrokerFirstLeavesHandlesThatAnswer504) {
  absl::StatusOr<std::string> tag = channel_->BasicConsume("q", [](const Delivery&) {});
  ASSERT_TRUE(tag.ok());
  std::unique_ptr<Broker> gone = std::move(broker_);
  gone.reset();
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("", "q", Message("m"))), ReplyCode::kChannelError);
  EXPECT_EQ(ReplyCodeOf(channel_->BasicCancel(*tag)), ReplyCode::kChannelError);
  EXPECT_EQ(ReplyCodeOf(connection_->OpenChannel().status()), ReplyCode::kChannelError);
  EXPECT_EQ(ReplyCodeOf(connection_->close_reason()), ReplyCode::kConnectionForced);
  EXPECT_TRUE(connection_->Close().ok());
  broker_ = Broker::Create({.dispatch = Dispatch::kManual}).value();  // for TearDown
}

// An empty handler removes it; it never runs as an empty std::function.
TEST_F(BadInput, EmptyConfirmAndReturnHandlersMeanNone) {
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  channel_->SetConfirmHandler(nullptr);
  channel_->SetReturnHandler(nullptr);
  ASSERT_TRUE(channel_->BasicPublish("x", "nowhere", Message("m"), {.mandatory = true}).ok());
  ASSERT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
  EXPECT_TRUE(channel_->WaitForConfirms(kWait).ok());
  EXPECT_EQ(broker_->ProcessEvents(), 0u);
  EXPECT_TRUE(channel_->is_open());
}

// ---- broker, connect, connection -------------------------------------------

TEST_F(BadInput, VirtualHostNameThatIsNotUtf8IsInvalidArgument) {
  EXPECT_EQ(broker_->AddVirtualHost(kNotUtf8).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReplyCodeOf(broker_->Connect({.vhost = kNotUtf8}).status()), ReplyCode::kNotAllowed);
  EXPECT_EQ(Connect("inproc://q%FF").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BadInput, DeletingTheEmptyOrAMissingVirtualHostIs404) {
  EXPECT_EQ(ReplyCodeOf(broker_->DeleteVirtualHost("")), ReplyCode::kNotFound);
  EXPECT_EQ(ReplyCodeOf(broker_->DeleteVirtualHost("nowhere")), ReplyCode::kNotFound);
}

TEST_F(BadInput, ProcessEventsOutsideManualDispatchOrWithANegativeTimeoutReturnsAtOnce) {
  EXPECT_EQ(broker_->ProcessEvents(-absl::Seconds(5)), 0u);
  std::unique_ptr<Broker> pool = Broker::Create().value();
  EXPECT_EQ(pool->ProcessEvents(absl::Seconds(5)), 0u);
  ExpectUsable(*pool);
}

TEST(BadInputConnect, MalformedUrlsAreInvalidArgument) {
  for (const char* url : {"", "inproc:/", "http://host/", "amqp://host:port/", "amqp://[::1/",
                          "inproc://%", "inproc://%zz", "inproc://%2"}) {
    EXPECT_EQ(Connect(url).status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
  EXPECT_EQ(Connect("inproc://" + std::string(256, 'v')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BadInputConnect, AmqpClientOptionsOutOfRangeAreInvalidArgument) {
  const std::string url = "amqp://guest:guest@127.0.0.1:1/";
  for (ClientOptions options :
       {ClientOptions{.dispatch = Dispatch::kManual},
        ClientOptions{.dispatch = Dispatch::kExecutor},
        ClientOptions{.dispatch_threads = 0}, ClientOptions{.heartbeat_seconds = -1},
        ClientOptions{.heartbeat_seconds = 65536}}) {
    EXPECT_EQ(Connect(url, options).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(BadInputConnect, UnreachableAmqpBrokerIsUnavailableWithoutCredentials) {
  absl::Status s = Connect("amqp://guest:secret@127.0.0.1:1/").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("secret")));
}

TEST_F(BadInput, RegisteredBrokerWithAMissingVirtualHostIs530) {
  ASSERT_TRUE(RegisterBroker("bad-input-test", broker_.get()).ok());
  EXPECT_EQ(ReplyCodeOf(Connect("inproc://bad-input-test/nowhere").status()),
            ReplyCode::kNotAllowed);
  EXPECT_EQ(RegisterBroker("bad input", broker_.get()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterBroker(kNotUtf8, broker_.get()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(UnregisterBroker("bad-input-test").ok());
}

TEST_F(BadInput, ChannelErrorsLeaveTheConnectionAndItsOtherChannelsOpen) {
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDeclare("missing", {.passive = true}).status()),
            ReplyCode::kNotFound);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_TRUE(connection_->is_open());
  EXPECT_TRUE(setup_->QueueDeclare("q", {.passive = true}).ok());
  EXPECT_TRUE(connection_->OpenChannel().ok());
}

// ---- RPC -------------------------------------------------------------------

TEST_F(BadInput, RpcClientOnAClosedConnectionIs504) {
  std::unique_ptr<Connection> closed = broker_->Connect().value();
  ASSERT_TRUE(closed->Close().ok());
  EXPECT_EQ(ReplyCodeOf(RpcClient::Create(*closed).status()), ReplyCode::kChannelError);
}

TEST_F(BadInput, RpcCallToAMissingExchangeIs404AndLaterCallsAre504) {
  std::unique_ptr<RpcClient> client =
      RpcClient::Create(*connection_, {.process_events = [this] { broker_->ProcessEvents(); }})
          .value();
  EXPECT_EQ(ReplyCodeOf(client->Call("missing", "k", Message("?"), kWait).status()),
            ReplyCode::kNotFound);
  EXPECT_EQ(ReplyCodeOf(client->Call("", "q", Message("?"), kWait).status()),
            ReplyCode::kChannelError);
  EXPECT_TRUE(connection_->is_open());
}

TEST_F(BadInput, RpcCallWithAZeroTimeoutAndNoServerIsDeadlineExceeded) {
  std::unique_ptr<RpcClient> client =
      RpcClient::Create(*connection_, {.process_events = [this] { broker_->ProcessEvents(); }})
          .value();
  EXPECT_EQ(client->Call("", "q", Message("?"), absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(setup_->QueuePurge("q").value(), 1u);  // the request itself was delivered
}

TEST_F(BadInput, ServeRpcOnAMissingQueueIs404) {
  absl::StatusOr<std::string> tag =
      ServeRpc(*channel_, "missing", [](const Delivery& d) { return d.message; });
  EXPECT_EQ(ReplyCodeOf(tag.status()), ReplyCode::kNotFound);
}

// ---- calls from inside a consumer callback ---------------------------------

// One call a consumer callback makes on its own channel or connection, with
// the status it must return.
struct ReentrantCall {
  const char* name;
  std::function<absl::Status(Broker&, Connection&, Channel&, const Delivery&)> call;
  ReplyCode expected;
};

std::vector<ReentrantCall> ReentrantCalls() {
  using B = Broker&;
  using N = Connection&;
  using C = Channel&;
  using D = const Delivery&;
  constexpr ReplyCode kOk = ReplyCode::kNone;
  return {
      {"Publish", [](B, N, C c, D) { return c.BasicPublish("", "q", Message("more")); }, kOk},
      {"Get", [](B, N, C c, D) { return c.BasicGet("q", {.no_ack = true}).status(); }, kOk},
      {"Declare", [](B, N, C c, D) { return c.QueueDeclare("another").status(); }, kOk},
      {"Bind", [](B, N, C c, D) { return c.QueueBind("q", "y", "k"); }, kOk},
      {"ConsumeAgain",
       [](B, N, C c, D) { return c.BasicConsume("q", [](const Delivery&) {}).status(); }, kOk},
      {"CancelItself", [](B, N, C c, D d) { return c.BasicCancel(d.consumer_tag); }, kOk},
      {"Ack", [](B, N, C c, D d) { return c.BasicAck(d.delivery_tag); }, kOk},
      {"NackRequeue",
       [](B, N, C c, D d) { return c.BasicNack(d.delivery_tag, {.requeue = true}); }, kOk},
      {"Recover", [](B, N, C c, D) { return c.BasicRecover({.requeue = true}); }, kOk},
      {"Qos", [](B, N, C c, D) { return c.BasicQos(5, {.global = true}); }, kOk},
      {"PublishAndWaitForConfirms",
       [](B, N, C c, D) {
         if (absl::Status s = c.ConfirmSelect(); !s.ok()) return s;
         if (absl::Status s = c.BasicPublish("", "q", Message("more")); !s.ok()) return s;
         return c.WaitForConfirms(kWait);
       },
       kOk},
      {"AckAnUnknownTag", [](B, N, C c, D) { return c.BasicAck(999); },
       ReplyCode::kPreconditionFailed},
      {"CloseItsChannel", [](B, N, C c, D) { return c.Close(); }, kOk},
      {"CloseItsConnection", [](B, N n, C, D) { return n.Close(); }, kOk},
      {"ProcessEvents",
       [](B b, N, C, D) {
         b.ProcessEvents();
         return absl::OkStatus();
       },
       kOk},
      {"DeleteItsVirtualHost", [](B b, N, C, D) { return b.DeleteVirtualHost("v"); }, kOk},
  };
}

class Reentrant
    : public ::testing::TestWithParam<std::tuple<ReentrantCall, Dispatch>> {
 protected:
  // The client runs in a virtual host of its own, which a call may delete.
  Reentrant() : broker_(Broker::Create({.dispatch = std::get<1>(GetParam())}).value()) {
    EXPECT_TRUE(broker_->AddVirtualHost("v").ok());
    connection_ = broker_->Connect({.vhost = "v"}).value();
    channel_ = connection_->OpenChannel().value();
  }

  void TearDown() override {
    ExpectUsable(*broker_);
    broker_.reset();  // first: it waits for callbacks, which use the handles
  }

  // The call's status, set by the callback, which may run on another thread.
  struct Outcome {
    std::mutex mu;
    std::condition_variable done;
    std::optional<absl::Status> status;
  };

  // Runs the call inside the first delivery's callback (later deliveries,
  // such as requeued ones, are acked) and returns its status.
  absl::Status CallFromCallback() {
    const ReentrantCall& call = std::get<0>(GetParam());
    auto outcome = std::make_shared<Outcome>();
    EXPECT_TRUE(testing::DeclareBadInputTopology(*channel_).ok());
    absl::StatusOr<std::string> tag =
        channel_->BasicConsume("q", [this, call, outcome](const Delivery& d) {
          {
            std::lock_guard<std::mutex> lock(outcome->mu);
            if (outcome->status) {
              channel_->BasicAck(d.delivery_tag).IgnoreError();
              return;
            }
          }
          absl::Status s = call.call(*broker_, *connection_, *channel_, d);
          std::lock_guard<std::mutex> lock(outcome->mu);
          outcome->status = s;
          outcome->done.notify_all();
        });
    EXPECT_TRUE(tag.ok()) << tag.status();
    EXPECT_TRUE(channel_->BasicPublish("", "q", Message("m")).ok());
    broker_->ProcessEvents();
    std::unique_lock<std::mutex> lock(outcome->mu);
    EXPECT_TRUE(outcome->done.wait_for(lock, absl::ToChronoNanoseconds(kWait),
                                       [&] { return outcome->status.has_value(); }));
    return outcome->status.value_or(absl::DeadlineExceededError("the callback never ran"));
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;
};

TEST_P(Reentrant, CallFromAConsumerCallbackReturnsAndTheBrokerGoesOn) {
  absl::Status s = CallFromCallback();
  EXPECT_EQ(ReplyCodeOf(s), std::get<0>(GetParam()).expected) << s;
  EXPECT_EQ(s.ok(), std::get<0>(GetParam()).expected == ReplyCode::kNone) << s;
  broker_->ProcessEvents();
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, Reentrant,
    ::testing::Combine(::testing::ValuesIn(ReentrantCalls()),
                       ::testing::Values(Dispatch::kManual, Dispatch::kThreadPool)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) +
             (std::get<1>(info.param) == Dispatch::kManual ? "_Manual" : "_ThreadPool");
    });

}  // namespace
}  // namespace warren
