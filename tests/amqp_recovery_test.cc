// Reconnection against a live RabbitMQ: when the broker closes the
// connection (rabbitmqctl close_all_connections sends 320
// CONNECTION_FORCED, as a broker shutting down does), the connection comes
// back by itself with the exchanges, queues, bindings, channels, prefetch,
// confirm mode and consumers it had; publishes while it is away fail with
// kUnavailable and unconfirmed ones are nacked. Only this process's vhost is
// disturbed. See tests/amqp_test_support.h for the broker.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "amqp_test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/connect.h"
#include "warren/status.h"

namespace warren {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(20);

ClientOptions QuickReconnect() {
  ClientOptions options;
  options.reconnect.initial_delay = absl::Milliseconds(20);
  options.reconnect.max_delay = absl::Milliseconds(200);
  return options;
}

void DropConnections() {
  absl::Status dropped = testing::Rabbitmqctl(
      {"close_all_connections", "--vhost", testing::ScratchVhost::Get().name(), "test drop"});
  ASSERT_TRUE(dropped.ok()) << dropped;
}

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Retries `attempt` while the connection is away (kUnavailable).
template <typename F>
auto WhenBack(F attempt) {
  const absl::Time deadline = absl::Now() + kWait;
  auto result = attempt();
  while (absl::IsUnavailable(StatusOf(result)) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    result = attempt();
  }
  return result;
}

class Mailbox {
 public:
  void Add(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_.push_back(std::move(body));
    changed_.notify_all();
  }
  bool WaitFor(const std::string& body) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(kWait), [&] {
      return std::find(bodies_.begin(), bodies_.end(), body) != bodies_.end();
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> bodies_;
};

TEST(AmqpRecovery, TopologyAndConsumersComeBackAfterTheBrokerClosesTheConnection) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  Channel& ch = **channel;
  ASSERT_TRUE(ch.ExchangeDeclare("events", kTopic).ok());
  ASSERT_TRUE(ch.QueueDeclare("named").ok());
  auto temporary = ch.QueueDeclare("", {.exclusive = true});
  ASSERT_TRUE(temporary.ok());
  const std::string old_name = temporary->queue;
  ASSERT_TRUE(ch.QueueBind("named", "events", "a.*").ok());
  ASSERT_TRUE(ch.QueueBind(old_name, "events", "b.*").ok());
  ASSERT_TRUE(ch.BasicQos(5).ok());
  Mailbox named_box;
  Mailbox temporary_box;
  ASSERT_TRUE(ch.BasicConsume("named", [&](const Delivery& d) {
                  EXPECT_TRUE(ch.BasicAck(d.delivery_tag).ok());
                  named_box.Add(std::string(d.message.body()));
                }, {.consumer_tag = "named-consumer"}).ok());
  ASSERT_TRUE(ch.BasicConsume(old_name, [&](const Delivery& d) {
                  temporary_box.Add(std::string(d.message.body()));
                }, {.no_ack = true}).ok());
  ASSERT_TRUE(ch.BasicPublish("events", "a.before", Message("a-before")).ok());
  ASSERT_TRUE(named_box.WaitFor("a-before"));

  DropConnections();

  ASSERT_TRUE(WhenBack([&] { return ch.BasicPublish("events", "a.after", Message("a-after")); })
                  .ok());
  EXPECT_TRUE((*connection)->is_open());
  EXPECT_TRUE(ch.is_open());
  EXPECT_TRUE(named_box.WaitFor("a-after"));
  // The exclusive server-named queue went with the old connection; it is
  // back under a new name, with its binding and consumer.
  ASSERT_TRUE(ch.BasicPublish("events", "b.after", Message("b-after")).ok());
  EXPECT_TRUE(temporary_box.WaitFor("b-after"));
  // The old name still works on this connection.
  auto declared = ch.QueueDeclare(old_name, {.passive = true});
  ASSERT_TRUE(declared.ok()) << declared.status();
  EXPECT_NE(declared->queue, old_name);
  EXPECT_THAT(declared->queue, HasSubstr("amq.gen-"));
}

TEST(AmqpRecovery, UnackedDeliveriesComeBackAndTheirOldTagsAreHarmless) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  Channel& ch = **channel;
  ASSERT_TRUE(ch.QueueDeclare("held").ok());
  ASSERT_TRUE(ch.ConfirmSelect().ok());
  ASSERT_TRUE(ch.BasicPublish("", "held", Message("m")).ok());
  ASSERT_TRUE(ch.WaitForConfirms(kWait).ok());
  auto got = ch.BasicGet("held");
  ASSERT_TRUE(got.ok() && got->has_value());
  const uint64_t old_tag = (*got)->delivery.delivery_tag;

  DropConnections();

  auto again = WhenBack([&] { return ch.BasicGet("held"); });
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(again->has_value());
  EXPECT_TRUE((*again)->delivery.redelivered);
  EXPECT_GT((*again)->delivery.delivery_tag, old_tag);
  EXPECT_TRUE(ch.BasicAck(old_tag).ok());
  EXPECT_TRUE(ch.is_open());
  EXPECT_TRUE(ch.BasicAck((*again)->delivery.delivery_tag).ok());
  // Confirm numbering goes on where it was.
  EXPECT_EQ(ch.NextPublishSeqNo(), 2u);
  ASSERT_TRUE(ch.BasicPublish("", "held", Message("m2")).ok());
  EXPECT_TRUE(ch.WaitForConfirms(kWait).ok());
}

// Publishes in confirm mode without pause while the broker drops the
// connection twice: every publish either fails at once with kUnavailable or
// gets exactly one confirm, ack or nack; none is left unanswered.
TEST(AmqpRecovery, EveryPublishIsConfirmedNackedOrRefusedAcrossDrops) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  Channel& ch = **channel;
  ASSERT_TRUE(ch.QueueDeclare("stream").ok());
  ASSERT_TRUE(ch.ConfirmSelect().ok());
  // A multiple confirm covers every earlier number not confirmed before.
  std::mutex mu;
  std::set<uint64_t> single;
  uint64_t multiple_up_to = 0;
  int acks = 0;
  ch.SetConfirmHandler([&](const Confirm& c) {
    std::lock_guard<std::mutex> lock(mu);
    if (c.ack) ++acks;
    if (c.multiple) {
      multiple_up_to = std::max(multiple_up_to, c.delivery_tag);
    } else {
      single.insert(c.delivery_tag);
    }
  });
  std::atomic<bool> stop{false};
  std::vector<uint64_t> sent;
  int refused = 0;
  std::thread publisher([&] {
    while (!stop) {
      const uint64_t seq = ch.NextPublishSeqNo();
      absl::Status s = ch.BasicPublish("", "stream", Message("x"));
      if (s.ok()) {
        sent.push_back(seq);
        absl::SleepFor(absl::Microseconds(100));
      } else {
        EXPECT_TRUE(absl::IsUnavailable(s)) << s;
        ++refused;
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  DropConnections();
  absl::SleepFor(absl::Milliseconds(500));
  DropConnections();
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  publisher.join();
  absl::Status waited = ch.WaitForConfirms(kWait);
  EXPECT_TRUE(waited.ok() || absl::IsDataLoss(waited)) << waited;
  ASSERT_FALSE(sent.empty());
  // The handler runs on the dispatcher, after WaitForConfirms may return.
  auto unanswered = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return std::count_if(sent.begin(), sent.end(), [&](uint64_t seq) {
      return seq > multiple_up_to && !single.contains(seq);
    });
  };
  const absl::Time deadline = absl::Now() + kWait;
  while (unanswered() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(unanswered(), 0) << "of " << sent.size() << " publishes, " << refused << " refused";
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_GT(acks, 0);
  EXPECT_TRUE(ch.is_open());
}

// Waits until `connection` is closed for good; false after kWait.
bool WaitUntilClosed(const Connection& connection) {
  const absl::Time deadline = absl::Now() + kWait;
  while (connection.is_open() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  return !connection.is_open();
}

TEST(AmqpRecovery, ARedeclarationTheBrokerRefusesClosesTheConnectionNamingIt) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  ASSERT_TRUE((*channel)->QueueDeclare("picky", {.arguments = {{"x-message-ttl", int32_t{1000}}}})
                  .ok());
  // Someone else replaces the queue with other arguments while this
  // connection is away.
  {
    auto other = Connect(testing::TestVhostUrl());
    ASSERT_TRUE(other.ok()) << other.status();
    auto other_channel = (*other)->OpenChannel();
    ASSERT_TRUE(other_channel.ok());
    ASSERT_TRUE((*other_channel)->QueueDelete("picky").ok());
    ASSERT_TRUE((*other_channel)
                    ->QueueDeclare("picky", {.arguments = {{"x-message-ttl", int32_t{2000}}}})
                    .ok());
  }

  DropConnections();

  ASSERT_TRUE(WaitUntilClosed(**connection));
  const absl::Status reason = (*connection)->close_reason();
  EXPECT_EQ(ReplyCodeOf(reason), ReplyCode::kPreconditionFailed) << reason;
  EXPECT_THAT(reason.message(), HasSubstr("could not recover queue 'picky'"));
  EXPECT_THAT(reason.message(), HasSubstr("x-message-ttl"));
  EXPECT_FALSE((*channel)->is_open());
  const absl::Status publish = (*channel)->BasicPublish("", "picky", Message("m"));
  EXPECT_EQ(ReplyCodeOf(publish), ReplyCode::kChannelError) << publish;
  EXPECT_THAT(publish.message(), HasSubstr("could not recover queue 'picky'"));
}

TEST(AmqpRecovery, AnAutoDeleteQueueItsLastConsumerLeftIsNotBroughtBack) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  Channel& ch = **channel;
  ASSERT_TRUE(ch.QueueDeclare("fleeting", {.auto_delete = true}).ok());
  ASSERT_TRUE(ch.QueueDeclare("kept", {.auto_delete = true}).ok());
  auto fleeting = ch.BasicConsume("fleeting", [](const Delivery&) {}, {.no_ack = true});
  ASSERT_TRUE(fleeting.ok());
  ASSERT_TRUE(ch.BasicConsume("kept", [](const Delivery&) {}, {.no_ack = true}).ok());
  ASSERT_TRUE(ch.BasicCancel(*fleeting).ok());  // the broker deletes "fleeting"

  DropConnections();

  ASSERT_TRUE(WhenBack([&] { return ch.QueueDeclare("kept", {.passive = true}).status(); }).ok());
  EXPECT_EQ(ReplyCodeOf(ch.QueueDeclare("fleeting", {.passive = true}).status()),
            ReplyCode::kNotFound);
}

TEST(AmqpRecovery, AnAutoDeleteExchangeItsLastBindingLeftIsNotBroughtBack) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  Channel& ch = **channel;
  ASSERT_TRUE(ch.ExchangeDeclare("passing", kDirect, {.auto_delete = true}).ok());
  ASSERT_TRUE(ch.QueueDeclare("bound").ok());
  ASSERT_TRUE(ch.QueueBind("bound", "passing", "k").ok());
  ASSERT_TRUE(ch.QueueUnbind("bound", "passing", "k").ok());  // the broker deletes "passing"

  DropConnections();

  ASSERT_TRUE(WhenBack([&] { return ch.QueueDeclare("bound", {.passive = true}).status(); }).ok());
  EXPECT_EQ(ReplyCodeOf(ch.ExchangeDeclare("passing", kDirect, {.passive = true})),
            ReplyCode::kNotFound);
}

// The vhost goes away for good, so every attempt is refused: the connection
// gives up after the limit, says so, and never shows the password.
TEST(AmqpRecovery, ReconnectionGivesUpAfterItsLimitAndEveryCallSaysWhy) {
  const std::string vhost = absl::StrCat(testing::ScratchVhost::Get().name(), "-doomed");
  const std::string user = absl::StrCat("warren-test-", getpid());
  ASSERT_TRUE(testing::AddVhost(vhost, user, "secretpw").ok());
  ClientOptions options = QuickReconnect();
  options.reconnect.give_up_after = absl::Seconds(1);
  auto connection = Connect(
      absl::StrCat("amqp://", user, ":secretpw@", testing::BrokerAuthority(), "/", vhost),
      options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  ASSERT_TRUE((*channel)->QueueDeclare("q").ok());
  std::vector<absl::Status> seen;
  ASSERT_TRUE(testing::Rabbitmqctl({"delete_vhost", vhost}).ok());
  const absl::Time deadline = absl::Now() + kWait;
  while ((*connection)->is_open() && absl::Now() < deadline) {
    seen.push_back((*channel)->BasicPublish("", "q", Message("m")));
    absl::SleepFor(absl::Milliseconds(20));
  }
  testing::Rabbitmqctl({"delete_user", user}).IgnoreError();

  ASSERT_FALSE((*connection)->is_open());
  const absl::Status reason = (*connection)->close_reason();
  EXPECT_EQ(reason.code(), absl::StatusCode::kUnavailable) << reason;
  EXPECT_THAT(reason.message(), HasSubstr("gave up reconnecting to amqp://"));
  EXPECT_THAT(reason.message(), HasSubstr(vhost));
  seen.push_back((*channel)->BasicPublish("", "q", Message("m")));
  EXPECT_THAT(seen.back().message(), HasSubstr("gave up reconnecting"));
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(),
                          [](const absl::Status& s) { return absl::IsUnavailable(s); }))
      << "no publish saw the connection away";
  seen.push_back(reason);
  seen.push_back((*channel)->close_reason());
  for (const absl::Status& s : seen) {
    EXPECT_THAT(s.ToString(), Not(HasSubstr("secretpw")));
    EXPECT_THAT(s.ToString(), Not(HasSubstr(user + ":")));
  }
}

TEST(AmqpRecovery, CloseWhileReconnectingEndsIt) {
  auto connection = Connect(testing::TestVhostUrl(), QuickReconnect());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok());
  DropConnections();
  ASSERT_TRUE((*connection)->Close().ok());
  EXPECT_FALSE((*connection)->is_open());
  EXPECT_FALSE((*channel)->is_open());
  EXPECT_EQ(ReplyCodeOf((*channel)->QueueDeclare("q").status()), ReplyCode::kChannelError);
}

TEST(AmqpRecovery, WithoutReconnectTheBrokersCloseEndsTheConnection) {
  ClientOptions options;
  options.reconnect.enabled = false;
  auto connection = Connect(testing::TestVhostUrl(), options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  DropConnections();
  const absl::Time deadline = absl::Now() + kWait;
  while ((*connection)->is_open() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE((*connection)->is_open());
  EXPECT_EQ(ReplyCodeOf((*connection)->close_reason()), ReplyCode::kConnectionForced);
}

}  // namespace
}  // namespace warren
