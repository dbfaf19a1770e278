// The Channel API against a live RabbitMQ (amqp://): every method, the
// property and header types, consumers, confirms, returns and errors behave
// as they do in-process, with RabbitMQ's reply codes. Needs a broker:
// scripts/rabbitmq start (see tests/amqp_test_support.h).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "amqp_test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/connect.h"
#include "warren/connection.h"
#include "warren/rpc.h"
#include "warren/status.h"

namespace warren {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(10);

// Collects what callbacks deliver, for a test thread to wait on.
template <typename T>
class Inbox {
 public:
  void Add(T item) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(item));
    changed_.notify_all();
  }
  // Waits until `n` items arrived; returns them all.
  std::vector<T> WaitFor(size_t n, absl::Duration timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return items_.size() >= n; });
    return items_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<T> items_;
};

class AmqpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::TestVhostUrl();
    auto connection = Connect(url_);
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = *std::move(connection);
    channel_ = Open();
    ASSERT_NE(channel_, nullptr);
  }

  std::unique_ptr<Channel> Open() {
    auto channel = connection_->OpenChannel();
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  // A queue name of this test alone (the vhost is shared by the process).
  std::string Name(std::string_view what) const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return absl::StrCat(info->name(), ".", absl::string_view(what.data(), what.size()));
  }

  std::string url_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Channel> channel_;
};

TEST(AmqpConnect, MalformedUrlIsInvalidArgument) {
  auto connection = Connect("amqp://guest:secret@host:notaport/");
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(connection.status().message(), Not(HasSubstr("secret")));
}

TEST(AmqpConnect, UnknownSchemeIsInvalidArgument) {
  EXPECT_EQ(Connect("http://localhost/").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AmqpConnect, FailedConnectNamesNeitherUserNorPassword) {
  auto connection = Connect("amqp://user:secretpw@127.0.0.1:1/",
                            {.connect_timeout = absl::Seconds(2)});
  ASSERT_FALSE(connection.ok());
  EXPECT_THAT(connection.status().ToString(), Not(HasSubstr("secretpw")));
  EXPECT_THAT(connection.status().ToString(), Not(HasSubstr("user")));
}

TEST(AmqpConnect, ClosedPortIsUnavailableAndNamesNoCredentials) {
  auto connection = Connect("amqp://someone:hunter2@127.0.0.1:1/v",
                            {.connect_timeout = absl::Seconds(2)});
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(connection.status().message(), HasSubstr("amqp://127.0.0.1:1/v"));
  EXPECT_THAT(connection.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(connection.status().message(), Not(HasSubstr("someone")));
}

TEST(AmqpConnect, WrongPasswordIsAccessRefusedWithoutThePassword) {
  const std::string url =
      absl::StrCat("amqp://guest:not-the-password@", testing::BrokerAuthority(), "/");
  auto connection = Connect(url);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(ReplyCodeOf(connection.status()), ReplyCode::kAccessRefused) << connection.status();
  EXPECT_THAT(connection.status().message(), Not(HasSubstr("not-the-password")));
}

TEST(AmqpConnect, MissingVhostIsNotAllowed) {
  auto connection = Connect(absl::StrCat(testing::BrokerUrlBase(), "/no-such-vhost-here"));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(ReplyCodeOf(connection.status()), ReplyCode::kNotAllowed) << connection.status();
}

TEST(AmqpConnect, ManualDispatchIsRefused) {
  auto connection = Connect(testing::TestVhostUrl(), {.dispatch = Dispatch::kManual});
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AmqpChannelTest, PublishAndGetRoundTripEveryPropertyAndHeaderType) {
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  FieldTable nested{{"inner", int32_t{7}}};
  FieldTable headers{
      {"bool", true},
      {"i8", int8_t{-8}},
      {"u8", uint8_t{200}},
      {"i16", int16_t{-1600}},
      {"u16", uint16_t{60000}},
      {"i32", int32_t{-320000}},
      {"u32", uint32_t{4000000000u}},
      {"i64", int64_t{-6400000000000}},
      {"f32", 1.5f},
      {"f64", 2.25},
      {"decimal", Decimal{2, 12345}},
      {"string", "text"},
      {"bytes", ByteArray{std::string("\0\1\2", 3)}},
      {"timestamp", Timestamp{1700000000}},
      {"array", FieldArray{int32_t{1}, "two", FieldArray{false}}},
      {"table", nested},
      {"void", Void{}},
  };
  BasicProperties props;
  props.content_type = "application/json";
  props.content_encoding = "gzip";
  props.headers = headers;
  props.delivery_mode = 2;
  props.priority = 3;
  props.correlation_id = "c-1";
  props.reply_to = "replies";
  props.expiration = "60000";
  props.message_id = "m-1";
  props.timestamp = Timestamp{1600000000};
  props.type = "created";
  props.user_id = "guest";
  props.app_id = "tests";
  ASSERT_TRUE(channel_->BasicPublish("", q, Message("body", props)).ok());

  auto got = channel_->BasicGet(q, {.no_ack = true});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->delivery.message.body(), "body");
  EXPECT_EQ((*got)->delivery.message.properties(), props);
  EXPECT_EQ((*got)->delivery.routing_key, q);
  EXPECT_EQ((*got)->delivery.exchange, "");
  EXPECT_EQ((*got)->message_count, 0u);
}

TEST_F(AmqpChannelTest, GetOnEmptyQueueIsNullopt) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("q")).ok());
  auto got = channel_->BasicGet(Name("q"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
}

TEST_F(AmqpChannelTest, DeclareCountsAndServerNamedQueue) {
  auto declared = channel_->QueueDeclare("", {.exclusive = true});
  ASSERT_TRUE(declared.ok()) << declared.status();
  EXPECT_THAT(declared->queue, HasSubstr("amq.gen-"));
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  ASSERT_TRUE(channel_->BasicPublish("", declared->queue, Message("a")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", declared->queue, Message("b")).ok());
  // RabbitMQ counts a queue's messages ahead of its pending work: the
  // confirms say the queue has them.
  ASSERT_TRUE(channel_->WaitForConfirms(kWait).ok());
  auto again = channel_->QueueDeclare(declared->queue, {.passive = true});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->message_count, 2u);
  auto purged = channel_->QueuePurge(declared->queue);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 2u);
}

TEST_F(AmqpChannelTest, TopicRoutingThroughDeclaredBindings) {
  const std::string x = Name("x");
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->ExchangeDeclare(x, kTopic).ok());
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  ASSERT_TRUE(channel_->QueueBind(q, x, "order.*").ok());
  ASSERT_TRUE(channel_->BasicPublish(x, "order.created", Message("1")).ok());
  ASSERT_TRUE(channel_->BasicPublish(x, "invoice.created", Message("2")).ok());
  auto got = channel_->BasicGet(q, {.no_ack = true});
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->delivery.message.body(), "1");
  EXPECT_EQ((*got)->delivery.routing_key, "order.created");
  ASSERT_TRUE(channel_->QueueUnbind(q, x, "order.*").ok());
  ASSERT_TRUE(channel_->BasicPublish(x, "order.created", Message("3")).ok());
  auto none = channel_->BasicGet(q);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(channel_->ExchangeDelete(x).ok());
  auto deleted = channel_->QueueDelete(q);
  ASSERT_TRUE(deleted.ok());
}

TEST_F(AmqpChannelTest, ExchangeToExchangeBinding) {
  ASSERT_TRUE(channel_->ExchangeDeclare(Name("src"), kFanout).ok());
  ASSERT_TRUE(channel_->ExchangeDeclare(Name("dst"), kDirect).ok());
  ASSERT_TRUE(channel_->ExchangeBind(Name("dst"), Name("src"), "").ok());
  ASSERT_TRUE(channel_->QueueDeclare(Name("q")).ok());
  ASSERT_TRUE(channel_->QueueBind(Name("q"), Name("dst"), "k").ok());
  ASSERT_TRUE(channel_->BasicPublish(Name("src"), "k", Message("via e2e")).ok());
  auto got = channel_->BasicGet(Name("q"), {.no_ack = true});
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->delivery.message.body(), "via e2e");
  EXPECT_TRUE(channel_->ExchangeUnbind(Name("dst"), Name("src"), "").ok());
}

TEST_F(AmqpChannelTest, ConsumerSeesDeliveriesInOrderOneAtATime) {
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  constexpr int kCount = 500;
  Inbox<std::string> seen;
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  auto tag = channel_->BasicConsume(q, [&](const Delivery& d) {
    if (running.fetch_add(1) != 0) overlapped = true;
    // Acked before it is counted: once the last one is counted the test
    // goes on to close the channel, and an ack after that would fail.
    EXPECT_TRUE(channel_->BasicAck(d.delivery_tag).ok());
    running.fetch_sub(1);
    seen.Add(std::string(d.message.body()));
  });
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_THAT(*tag, HasSubstr("amq.ctag-"));
  auto publisher = Open();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(publisher->BasicPublish("", q, Message(std::to_string(i))).ok());
  }
  std::vector<std::string> got = seen.WaitFor(kCount);
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(got[i], std::to_string(i));
  EXPECT_FALSE(overlapped);
  EXPECT_TRUE(channel_->BasicCancel(*tag).ok());
}

TEST_F(AmqpChannelTest, PrefetchLimitsUnackedDeliveries) {
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(channel_->BasicPublish("", q, Message("m")).ok());
  ASSERT_TRUE(channel_->BasicQos(2).ok());
  Inbox<uint64_t> tags;
  ASSERT_TRUE(channel_->BasicConsume(q, [&](const Delivery& d) { tags.Add(d.delivery_tag); },
                                     {.consumer_tag = "c"})
                  .ok());
  EXPECT_EQ(tags.WaitFor(2).size(), 2u);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(tags.size(), 2u);
  ASSERT_TRUE(channel_->BasicAck(2, {.multiple = true}).ok());
  EXPECT_EQ(tags.WaitFor(4).size(), 4u);
}

TEST_F(AmqpChannelTest, AckOfUnknownTagIs406AndClosesTheChannel) {
  absl::Status acked = channel_->BasicAck(99);
  EXPECT_EQ(ReplyCodeOf(acked), ReplyCode::kPreconditionFailed) << acked;
  EXPECT_THAT(acked.message(), HasSubstr("unknown delivery tag 99"));
  EXPECT_FALSE(channel_->is_open());
  absl::Status later = channel_->QueueDeclare(Name("q")).status();
  EXPECT_EQ(ReplyCodeOf(later), ReplyCode::kChannelError);
  EXPECT_THAT(later.message(), HasSubstr("unknown delivery tag 99"));
  // The connection lives on.
  auto another = Open();
  ASSERT_NE(another, nullptr);
  EXPECT_TRUE(another->QueueDeclare(Name("q")).ok());
}

TEST_F(AmqpChannelTest, NackRequeuesToTheFrontAsRedelivered) {
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  ASSERT_TRUE(channel_->BasicPublish("", q, Message("first")).ok());
  ASSERT_TRUE(channel_->BasicPublish("", q, Message("second")).ok());
  auto got = channel_->BasicGet(q);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_FALSE((*got)->delivery.redelivered);
  ASSERT_TRUE(channel_->BasicNack((*got)->delivery.delivery_tag, {.requeue = true}).ok());
  auto again = channel_->BasicGet(q, {.no_ack = true});
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->delivery.message.body(), "first");
  EXPECT_TRUE((*again)->delivery.redelivered);
  auto rejected = channel_->BasicGet(q);
  ASSERT_TRUE(rejected.ok() && rejected->has_value());
  EXPECT_TRUE(channel_->BasicReject((*rejected)->delivery.delivery_tag).ok());
  EXPECT_FALSE(channel_->BasicGet(q)->has_value());
}

TEST_F(AmqpChannelTest, CloseRequeuesUnackedDeliveries) {
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  ASSERT_TRUE(channel_->BasicPublish("", q, Message("m")).ok());
  auto got = channel_->BasicGet(q);
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE(channel_->Close().ok());
  EXPECT_FALSE(channel_->is_open());
  EXPECT_TRUE(channel_->close_reason().ok());
  auto other = Open();
  auto again = other->BasicGet(q, {.no_ack = true});
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status();
  EXPECT_TRUE((*again)->delivery.redelivered);
}

TEST_F(AmqpChannelTest, RecoverRedeliversUnacked) {
  const std::string q = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(q).ok());
  ASSERT_TRUE(channel_->BasicPublish("", q, Message("m")).ok());
  auto got = channel_->BasicGet(q);
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE(channel_->BasicRecover({.requeue = true}).ok());
  // The old tag is no longer unacked.
  EXPECT_EQ(ReplyCodeOf(channel_->BasicAck((*got)->delivery.delivery_tag)),
            ReplyCode::kPreconditionFailed);
}

TEST_F(AmqpChannelTest, PassiveDeclareOfMissingQueueIs404ThenChannelIsClosed) {
  auto declared = channel_->QueueDeclare(Name("missing"), {.passive = true});
  EXPECT_EQ(ReplyCodeOf(declared.status()), ReplyCode::kNotFound) << declared.status();
  EXPECT_FALSE(channel_->is_open());
  EXPECT_EQ(ReplyCodeOf(channel_->close_reason()), ReplyCode::kNotFound);
  absl::Status later = channel_->BasicQos(1);
  EXPECT_EQ(ReplyCodeOf(later), ReplyCode::kChannelError);
  EXPECT_THAT(later.message(), HasSubstr("NOT_FOUND"));
}

TEST_F(AmqpChannelTest, RedeclareWithOtherTypeIs406) {
  ASSERT_TRUE(channel_->ExchangeDeclare(Name("x"), kDirect).ok());
  EXPECT_EQ(ReplyCodeOf(channel_->ExchangeDeclare(Name("x"), kFanout)),
            ReplyCode::kPreconditionFailed);
}

TEST_F(AmqpChannelTest, ReusedConsumerTagIs530AndClosesTheConnection) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("q")).ok());
  auto noop = [](const Delivery&) {};
  ASSERT_TRUE(channel_->BasicConsume(Name("q"), noop, {.consumer_tag = "same"}).ok());
  auto again = channel_->BasicConsume(Name("q"), noop, {.consumer_tag = "same"});
  EXPECT_EQ(ReplyCodeOf(again.status()), ReplyCode::kNotAllowed) << again.status();
  EXPECT_FALSE(connection_->is_open());
  EXPECT_EQ(ReplyCodeOf(connection_->close_reason()), ReplyCode::kNotAllowed);
  EXPECT_FALSE(channel_->is_open());
  EXPECT_EQ(ReplyCodeOf(connection_->OpenChannel().status()), ReplyCode::kChannelError);
}

TEST_F(AmqpChannelTest, ConfirmsNumberPublishesAndWaitSucceeds) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("q")).ok());
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  Inbox<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.Add(c); });
  EXPECT_EQ(channel_->NextPublishSeqNo(), 1u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(channel_->BasicPublish("", Name("q"), Message("m")).ok());
  }
  EXPECT_EQ(channel_->NextPublishSeqNo(), 11u);
  EXPECT_TRUE(channel_->WaitForConfirms(kWait).ok());
  // Every number up to 10 is covered, by single or multiple acks.
  std::vector<Confirm> got = confirms.WaitFor(1);
  ASSERT_FALSE(got.empty());
  absl::SleepFor(absl::Milliseconds(100));
  got = confirms.WaitFor(0);
  EXPECT_EQ(got.back().delivery_tag, 10u);
  for (const Confirm& c : got) EXPECT_TRUE(c.ack);
}

TEST_F(AmqpChannelTest, RejectPublishOverflowNacks) {
  FieldTable args{{"x-max-length", int32_t{1}}, {"x-overflow", "reject-publish"}};
  ASSERT_TRUE(channel_->QueueDeclare(Name("q"), {.arguments = args}).ok());
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  Inbox<Confirm> confirms;
  channel_->SetConfirmHandler([&](const Confirm& c) { confirms.Add(c); });
  ASSERT_TRUE(channel_->BasicPublish("", Name("q"), Message("fits")).ok());
  ASSERT_TRUE(channel_->WaitForConfirms(kWait).ok());
  ASSERT_TRUE(channel_->BasicPublish("", Name("q"), Message("overflows")).ok());
  absl::Status waited = channel_->WaitForConfirms(kWait);
  EXPECT_EQ(waited.code(), absl::StatusCode::kDataLoss) << waited;
  EXPECT_THAT(waited.message(), HasSubstr("publish 2"));
  std::vector<Confirm> got = confirms.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].ack);
  EXPECT_FALSE(got[1].ack);
  EXPECT_EQ(got[1].delivery_tag, 2u);
}

TEST_F(AmqpChannelTest, WaitForConfirmsOutsideConfirmModeIsFailedPrecondition) {
  EXPECT_EQ(channel_->WaitForConfirms(absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(AmqpChannelTest, UnroutableMandatoryMessageIsReturned) {
  ASSERT_TRUE(channel_->ExchangeDeclare(Name("x"), kDirect).ok());
  Inbox<ReturnedMessage> returns;
  channel_->SetReturnHandler([&](const ReturnedMessage& r) { returns.Add(r); });
  ASSERT_TRUE(channel_->BasicPublish(Name("x"), "nowhere", Message("lost?"), {.mandatory = true})
                  .ok());
  std::vector<ReturnedMessage> got = returns.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reply_code, 312);
  EXPECT_EQ(got[0].reply_text, "NO_ROUTE");
  EXPECT_EQ(got[0].routing_key, "nowhere");
  EXPECT_EQ(got[0].message.body(), "lost?");
}

TEST_F(AmqpChannelTest, PublishToMissingExchangeClosesTheChannelWith404) {
  ASSERT_TRUE(channel_->ConfirmSelect().ok());
  ASSERT_TRUE(channel_->BasicPublish(Name("missing"), "k", Message("m")).ok());
  absl::Status waited = channel_->WaitForConfirms(kWait);
  EXPECT_EQ(ReplyCodeOf(waited), ReplyCode::kChannelError) << waited;
  EXPECT_EQ(ReplyCodeOf(channel_->close_reason()), ReplyCode::kNotFound);
  EXPECT_EQ(ReplyCodeOf(channel_->BasicPublish("", "q", Message("m"))), ReplyCode::kChannelError);
}

TEST_F(AmqpChannelTest, DeletingTheQueueCancelsItsConsumer) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("q")).ok());
  Inbox<std::string> cancelled;
  ConsumeOptions options;
  options.consumer_tag = "doomed";
  options.on_cancel = [&](std::string_view tag) { cancelled.Add(std::string(tag)); };
  ASSERT_TRUE(channel_->BasicConsume(Name("q"), [](const Delivery&) {}, options).ok());
  auto other = Open();
  ASSERT_TRUE(other->QueueDelete(Name("q")).ok());
  EXPECT_THAT(cancelled.WaitFor(1), ElementsAre("doomed"));
}

TEST_F(AmqpChannelTest, ExclusiveQueueIsLockedForOtherConnections) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("mine"), {.exclusive = true}).ok());
  auto other = Connect(url_);
  ASSERT_TRUE(other.ok());
  auto channel = (*other)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  EXPECT_EQ(ReplyCodeOf((*channel)->BasicGet(Name("mine")).status()), ReplyCode::kResourceLocked);
}

TEST_F(AmqpChannelTest, PrefetchSizeIsNotImplemented) {
  absl::Status s = channel_->BasicQos(1, {.prefetch_size = 10});
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kNotImplemented) << s;
  EXPECT_FALSE(connection_->is_open());
}

TEST_F(AmqpChannelTest, TooLongNameIsRefusedLocallyAndClosesNothing) {
  EXPECT_EQ(channel_->QueueDeclare(std::string(256, 'q')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(channel_->is_open());
}

// Publishes are queued for the I/O thread; closing right after them must
// send them first.
TEST_F(AmqpChannelTest, CloseSendsEveryPublishThatReturnedOkFirst) {
  constexpr int kMessages = 500;
  const std::string queue = Name("q");
  ASSERT_TRUE(channel_->QueueDeclare(queue).ok());
  {
    auto publisher = Connect(url_);
    ASSERT_TRUE(publisher.ok()) << publisher.status();
    auto channel = (*publisher)->OpenChannel();
    ASSERT_TRUE(channel.ok());
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE((*channel)->BasicPublish("", queue, Message("m")).ok());
    }
    ASSERT_TRUE((*publisher)->Close().ok());
  }
  Inbox<std::string> inbox;
  ASSERT_TRUE(channel_
                  ->BasicConsume(queue,
                                 [&](const Delivery& d) {
                                   inbox.Add(std::string(d.message.body()));
                                 },
                                 {.no_ack = true})
                  .ok());
  EXPECT_EQ(inbox.WaitFor(kMessages).size(), static_cast<size_t>(kMessages));
}

TEST_F(AmqpChannelTest, ClosedConnectionClosesItsChannels) {
  ASSERT_TRUE(connection_->Close().ok());
  EXPECT_FALSE(connection_->is_open());
  EXPECT_TRUE(connection_->close_reason().ok());
  EXPECT_FALSE(channel_->is_open());
  EXPECT_EQ(ReplyCodeOf(channel_->QueueDeclare("q").status()), ReplyCode::kChannelError);
  EXPECT_TRUE(connection_->Close().ok());
}

TEST_F(AmqpChannelTest, CallbacksRunOnTheApplicationsExecutor) {
  class QueueExecutor : public Executor {
   public:
    void Schedule(absl::AnyInvocable<void() &&> task) override {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    int RunAll() {
      int ran = 0;
      while (true) {
        absl::AnyInvocable<void() &&> task;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (tasks_.empty()) return ran;
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        std::move(task)();
        ++ran;
      }
    }

   private:
    std::mutex mu_;
    std::deque<absl::AnyInvocable<void() &&>> tasks_;
  };
  QueueExecutor executor;
  auto connection = Connect(url_, {.dispatch = Dispatch::kExecutor, .executor = &executor});
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  ASSERT_TRUE((*channel)->QueueDeclare(Name("q")).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE((*channel)
                  ->BasicConsume(Name("q"), [&](const Delivery& d) {
                    seen.emplace_back(d.message.body());
                  }, {.no_ack = true})
                  .ok());
  ASSERT_TRUE((*channel)->BasicPublish("", Name("q"), Message("on my loop")).ok());
  const absl::Time deadline = absl::Now() + kWait;
  while (seen.empty() && absl::Now() < deadline) {
    executor.RunAll();
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(seen, ElementsAre("on my loop"));
  (*connection)->Close().IgnoreError();
  executor.RunAll();
}

TEST_F(AmqpChannelTest, RpcOverDirectReplyTo) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("rpc")).ok());
  auto server = Open();
  ASSERT_TRUE(ServeRpc(*server, Name("rpc"), [](const Delivery& d) {
                return Message(absl::StrCat("echo:", absl::string_view(d.message.body().data(),
                                                                       d.message.body().size())));
              }).ok());
  auto client = RpcClient::Create(*connection_);
  ASSERT_TRUE(client.ok()) << client.status();
  auto reply = (*client)->Call("", Name("rpc"), Message("ping"), kWait);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body(), "echo:ping");
}

TEST_F(AmqpChannelTest, ConnectionMayBeDestroyedInsideItsOwnCallback) {
  ASSERT_TRUE(channel_->QueueDeclare(Name("q")).ok());
  absl::Notification destroyed;
  ASSERT_TRUE(channel_->BasicConsume(Name("q"), [&](const Delivery&) {
                channel_.reset();
                connection_.reset();
                destroyed.Notify();
              }, {.no_ack = true}).ok());
  auto publisher = Connect(url_);
  ASSERT_TRUE(publisher.ok());
  auto channel = (*publisher)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  ASSERT_TRUE((*channel)->BasicPublish("", Name("q"), Message("bye")).ok());
  EXPECT_TRUE(destroyed.WaitForNotificationWithTimeout(kWait));
}

}  // namespace
}  // namespace warren
