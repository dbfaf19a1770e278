// tests/testing_deterministic_test.cc: the test kit's deterministic mode
// (warren/testing.h): no thread of its own, callbacks only when the test
// runs them, time (expiry, dead letters' x-death) only when the test moves
// it, and a seed that varies the interleaving of channels reproducibly.
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

size_t ThreadsOfThisProcess() {
  return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                       std::filesystem::directory_iterator());
}

TEST(TestBrokerDeterministic, StartsNoThread) {
  const size_t before = ThreadsOfThisProcess();
  TestBroker broker;
  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("q", {.arguments = {{"x-message-ttl", int32_t{10}}}}).ok());
  ASSERT_TRUE(channel->BasicPublish("", "q", Message("m")).ok());
  broker.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(ThreadsOfThisProcess(), before);
}

TEST(TestBrokerDeterministic, ThreadedModeStartsItsDispatchThreads) {
  // ThreadSanitizer starts a thread of its own with the process's first
  // one: start and join one first, so that it is counted in `before`.
  std::thread([] {}).join();
  const size_t before = ThreadsOfThisProcess();
  TestBroker broker({.mode = TestMode::kThreaded, .threads = 3});
  EXPECT_EQ(ThreadsOfThisProcess(), before + 3);
}

TEST(TestBrokerDeterministic, CallbacksRunOnlyInRunUntilIdle) {
  TestBroker broker;
  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("q").ok());
  std::vector<std::string> got;
  ASSERT_TRUE(channel
                  ->BasicConsume("q", [&](const Delivery& d) {
                    got.emplace_back(d.message.body());
                  }, {.no_ack = true})
                  .ok());
  ASSERT_TRUE(channel->BasicPublish("", "q", Message("one")).ok());
  EXPECT_THAT(got, IsEmpty());
  broker.RunUntilIdle();
  EXPECT_THAT(got, ElementsAre("one"));
}

TEST(TestBrokerDeterministic, RunUntilIdleRunsWhatCallbacksCause) {
  TestBroker broker;
  auto connection = broker.Connect().value();
  auto relay = connection->OpenChannel().value();
  auto sink = connection->OpenChannel().value();
  ASSERT_TRUE(relay->QueueDeclare("in").ok());
  ASSERT_TRUE(relay->QueueDeclare("out").ok());
  ASSERT_TRUE(relay
                  ->BasicConsume("in", [&](const Delivery& d) {
                    relay->BasicPublish("", "out", d.message).IgnoreError();
                    relay->BasicAck(d.delivery_tag).IgnoreError();
                  })
                  .ok());
  std::vector<std::string> out;
  ASSERT_TRUE(sink->BasicConsume("out", [&](const Delivery& d) {
                    out.emplace_back(d.message.body());
                  }, {.no_ack = true})
                  .ok());
  ASSERT_TRUE(broker.Publish("", "in", Message("relayed")).ok());
  broker.RunUntilIdle();
  EXPECT_THAT(out, ElementsAre("relayed"));
  EXPECT_THAT(broker.MessagesIn("in"), IsEmpty());
}

TEST(TestBrokerDeterministic, MessagesExpireExactlyWhenTheClockReachesTheirTtl) {
  TestBroker broker;
  auto channel = broker.OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("dead").ok());
  ASSERT_TRUE(channel
                  ->QueueDeclare("q", {.arguments = {{"x-message-ttl", int32_t{1000}},
                                                     {"x-dead-letter-exchange", ""},
                                                     {"x-dead-letter-routing-key", "dead"}}})
                  .ok());
  ASSERT_TRUE(channel->BasicPublish("", "q", Message("m")).ok());
  broker.AdvanceTime(absl::Milliseconds(999));
  EXPECT_THAT(broker.MessagesIn("q"), SizeIs(1));
  broker.AdvanceTime(absl::Milliseconds(1));
  EXPECT_THAT(broker.MessagesIn("q"), IsEmpty());
  EXPECT_THAT(broker.MessagesIn("dead"), ElementsAre(HasXDeathReason("expired")));
}

TEST(TestBrokerDeterministic, AdvanceTimeRunsTheCallbacksOfExpiry) {
  TestBroker broker;
  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("dead").ok());
  ASSERT_TRUE(channel
                  ->QueueDeclare("q", {.arguments = {{"x-dead-letter-exchange", ""},
                                                     {"x-dead-letter-routing-key", "dead"}}})
                  .ok());
  std::vector<std::string> dead;
  ASSERT_TRUE(channel->BasicConsume("dead", [&](const Delivery& d) {
                    dead.emplace_back(d.message.body());
                  }, {.no_ack = true})
                  .ok());
  BasicProperties props;
  props.expiration = "5000";
  ASSERT_TRUE(channel->BasicPublish("", "q", Message("late", props)).ok());
  broker.AdvanceTime(absl::Seconds(5));
  EXPECT_THAT(dead, ElementsAre("late"));
}

// Two channels, each consuming its own queue, log their deliveries into one
// list: the interleaving of the two channels is what a seed decides.
std::vector<std::string> InterleavingUnder(TestBrokerOptions options) {
  TestBroker broker(options);
  auto connection = broker.Connect().value();
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Channel>> channels;
  for (std::string name : {"a", "b"}) {
    auto channel = connection->OpenChannel().value();
    channel->QueueDeclare(name).IgnoreError();
    channel
        ->BasicConsume(name, [&log, name](const Delivery& d) {
          log.push_back(name + std::string(d.message.body()));
        }, {.no_ack = true})
        .IgnoreError();
    channels.push_back(std::move(channel));
  }
  for (std::string n : {"1", "2", "3"}) {
    broker.Publish("", "a", Message(n)).IgnoreError();
    broker.Publish("", "b", Message(n)).IgnoreError();
  }
  broker.RunUntilIdle();
  return log;
}

TEST(TestBrokerDeterministic, WithoutASeedChannelsRunInTheOrderTheyBecameReady) {
  EXPECT_THAT(InterleavingUnder({}), ElementsAre("a1", "a2", "a3", "b1", "b2", "b3"));
}

TEST(TestBrokerDeterministic, TheSameSeedReplaysTheSameInterleaving) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(InterleavingUnder({.seed = seed}), InterleavingUnder({.seed = seed}))
        << "seed " << seed;
  }
}

TEST(TestBrokerDeterministic, SeedsExploreInterleavingsButKeepEachChannelsOrder) {
  std::set<std::vector<std::string>> seen;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<std::string> log = InterleavingUnder({.seed = seed});
    std::vector<std::string> a, b;
    for (const std::string& entry : log) (entry[0] == 'a' ? a : b).push_back(entry);
    EXPECT_THAT(a, ElementsAre("a1", "a2", "a3")) << "seed " << seed;
    EXPECT_THAT(b, ElementsAre("b1", "b2", "b3")) << "seed " << seed;
    seen.insert(std::move(log));
  }
  // 20 interleavings are possible; 50 seeds find far more than a few.
  EXPECT_GE(seen.size(), 5u);
}

// The time x-death records, to the second, from the dead-letter queue's head.
std::optional<absl::Time> DeathTimeOfHead(const TestBroker& broker) {
  std::vector<QueuedMessage> dead = broker.MessagesIn("dead");
  if (dead.empty()) return std::nullopt;
  std::vector<XDeath> deaths = XDeathsOf(dead.front().message);
  if (deaths.empty()) return std::nullopt;
  return deaths.front().time;
}

absl::Time ToTheSecond(absl::Time t) { return absl::FromUnixSeconds(absl::ToUnixSeconds(t)); }

TEST(TestBrokerDeterministic, ADeadLetterIsStampedWithTheManualClocksTime) {
  TestBroker broker;
  auto channel = broker.OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("dead").ok());
  ASSERT_TRUE(channel
                  ->QueueDeclare("q", {.arguments = {{"x-message-ttl", int32_t{1500}},
                                                     {"x-dead-letter-exchange", ""},
                                                     {"x-dead-letter-routing-key", "dead"}}})
                  .ok());
  ASSERT_TRUE(broker.Publish("", "q", Message("first")).ok());
  broker.AdvanceTime(absl::Milliseconds(1500));
  const std::optional<absl::Time> first = DeathTimeOfHead(broker);
  EXPECT_THAT(first, Optional(ToTheSecond(broker.clock().Now())));

  ASSERT_TRUE(channel->QueuePurge("dead").ok());
  broker.AdvanceTime(absl::Hours(1));
  ASSERT_TRUE(broker.Publish("", "q", Message("second")).ok());
  broker.AdvanceTime(absl::Milliseconds(1500));
  const std::optional<absl::Time> second = DeathTimeOfHead(broker);
  EXPECT_THAT(second, Optional(ToTheSecond(broker.clock().Now())));
  EXPECT_NE(first, second);
}

TEST(TestBrokerDeterministic, TheClockStartsAtTheSameTimeInEveryTest) {
  TestBroker first;
  first.AdvanceTime(absl::Hours(1));
  TestBroker second;
  EXPECT_EQ(second.clock().Now(), ManualClock().Now());
  EXPECT_EQ(first.clock().Now() - second.clock().Now(), absl::Hours(1));
}

}  // namespace
}  // namespace warren::testkit
