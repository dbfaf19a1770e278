// tests/testing_deterministic_test.cc: the test kit's deterministic mode
// (warren/testing.h): no thread of its own, callbacks only when the test
// runs them, time (expiry, dead letters' x-death) only when the test moves
// it, and a seed — its own or WARREN_TEST_SEED, named in every failure —
// that varies the interleaving of channels and queues reproducibly.
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

using ::testing::_;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
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

// The entries of `log` ("queue:body") that `queue` delivered, in order.
std::vector<std::string> From(const std::string& queue, const std::vector<std::string>& log) {
  std::vector<std::string> from;
  for (const std::string& entry : log) {
    if (entry.starts_with(queue + ":")) from.push_back(entry);
  }
  return from;
}

// One channel consumes two queues bound to a fanout exchange, to which three
// messages are published: the order of its callbacks, as "queue:body".
std::vector<std::string> FanoutArrivalsUnder(TestBrokerOptions options) {
  TestBroker broker(options);
  auto setup = broker.OpenChannel().value();
  setup->ExchangeDeclare("events", kFanout).IgnoreError();
  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  std::vector<std::string> log;
  for (std::string queue : {"q1", "q2"}) {
    setup->QueueDeclare(queue).IgnoreError();
    setup->QueueBind(queue, "events", "").IgnoreError();
    channel
        ->BasicConsume(queue, [&log, queue](const Delivery& d) {
          log.push_back(queue + ":" + std::string(d.message.body()));
        }, {.no_ack = true})
        .IgnoreError();
  }
  for (std::string n : {"1", "2", "3"}) broker.Publish("events", "", Message(n)).IgnoreError();
  broker.RunUntilIdle();
  return log;
}

TEST(TestBrokerDeterministic, WithoutASeedQueuesDeliverAPublishInTheOrderTheyWereDeclared) {
  EXPECT_THAT(FanoutArrivalsUnder({}),
              ElementsAre("q1:1", "q2:1", "q1:2", "q2:2", "q1:3", "q2:3"));
}

TEST(TestBrokerDeterministic, SeedsVaryWhichQueueDeliversFirstButKeepEachQueuesOrder) {
  std::set<std::string> first_arrivals;
  std::set<std::vector<std::string>> seen;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<std::string> log = FanoutArrivalsUnder({.seed = seed});
    EXPECT_THAT(From("q1", log), ElementsAre("q1:1", "q1:2", "q1:3")) << "seed " << seed;
    EXPECT_THAT(From("q2", log), ElementsAre("q2:1", "q2:2", "q2:3")) << "seed " << seed;
    if (!log.empty()) first_arrivals.insert(log.front());
    seen.insert(std::move(log));
  }
  EXPECT_THAT(first_arrivals, ElementsAre("q1:1", "q2:1"));
  // Also orders that varying each publish's queues alone cannot give: one
  // queue two messages ahead of the other.
  EXPECT_THAT(seen, Contains(ElementsAre("q1:1", "q1:2", _, _, _, _)));
  EXPECT_GE(seen.size(), 8u);
}

TEST(TestBrokerDeterministic, TheSameSeedReplaysTheSameOrderOfQueues) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(FanoutArrivalsUnder({.seed = seed}), FanoutArrivalsUnder({.seed = seed}))
        << "seed " << seed;
  }
}

// A channel with a channel-wide prefetch of 1 consumes "q0", "q1" and "q2",
// holding "a", "b" and "c", acking each delivery: the order it gets them.
// Each ack frees the one credit the other queues wait for.
std::vector<std::string> ChannelWideCreditUnder(TestBrokerOptions options) {
  TestBroker broker(options);
  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  for (auto [queue, body] : {std::pair{"q0", "a"}, {"q1", "b"}, {"q2", "c"}}) {
    channel->QueueDeclare(queue).IgnoreError();
    broker.Publish("", queue, Message(body)).IgnoreError();
  }
  channel->BasicQos(1, {.global = true}).IgnoreError();
  std::vector<std::string> got;
  for (const char* queue : {"q0", "q1", "q2"}) {
    channel
        ->BasicConsume(queue, [&](const Delivery& d) {
          got.emplace_back(d.message.body());
          channel->BasicAck(d.delivery_tag).IgnoreError();
        })
        .IgnoreError();
  }
  broker.RunUntilIdle();
  return got;
}

TEST(TestBrokerDeterministic, SeedsVaryWhichQueueTakesChannelWideCreditAnAckFrees) {
  EXPECT_THAT(ChannelWideCreditUnder({}), ElementsAre("a", "b", "c"));
  std::set<std::vector<std::string>> seen;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    std::vector<std::string> got = ChannelWideCreditUnder({.seed = seed});
    EXPECT_EQ(got, ChannelWideCreditUnder({.seed = seed})) << "seed " << seed;
    seen.insert(std::move(got));
  }
  EXPECT_THAT(seen, ElementsAre(ElementsAre("a", "b", "c"), ElementsAre("a", "c", "b")));
}

// Two queues whose messages expire at the same instant dead-letter them into
// one queue: the order they arrive there.
std::vector<std::string> SimultaneousExpiryUnder(TestBrokerOptions options) {
  TestBroker broker(options);
  auto channel = broker.OpenChannel().value();
  channel->QueueDeclare("dead").IgnoreError();
  for (std::string queue : {"q1", "q2"}) {
    channel
        ->QueueDeclare(queue, {.arguments = {{"x-message-ttl", int32_t{1000}},
                                             {"x-dead-letter-exchange", ""},
                                             {"x-dead-letter-routing-key", "dead"}}})
        .IgnoreError();
    broker.Publish("", queue, Message("from " + queue)).IgnoreError();
  }
  broker.AdvanceTime(absl::Seconds(1));
  std::vector<std::string> dead;
  for (const QueuedMessage& m : broker.MessagesIn("dead")) dead.emplace_back(m.message.body());
  return dead;
}

TEST(TestBrokerDeterministic, SeedsVaryWhichOfTheTimersDueAtOneInstantFiresFirst) {
  EXPECT_THAT(SimultaneousExpiryUnder({}), ElementsAre("from q1", "from q2"));
  std::set<std::vector<std::string>> seen;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<std::string> dead = SimultaneousExpiryUnder({.seed = seed});
    EXPECT_EQ(dead, SimultaneousExpiryUnder({.seed = seed})) << "seed " << seed;
    seen.insert(std::move(dead));
  }
  EXPECT_THAT(seen, ElementsAre(ElementsAre("from q1", "from q2"),
                                ElementsAre("from q2", "from q1")));
}

TEST(TestBrokerDeterministic, UnderASeedADeliveryReachesItsChannelInRunUntilIdle) {
  TestBroker broker({.seed = 1});
  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("q").ok());
  ASSERT_TRUE(channel->BasicConsume("q", [](const Delivery&) {}).ok());
  ASSERT_TRUE(broker.Publish("", "q", Message("m")).ok());
  // The queue gave it to the consumer at once; the channel has yet to hear.
  EXPECT_THAT(broker.MessagesIn("q"), IsEmpty());
  EXPECT_THAT(broker.ConsumersOf("q"), ElementsAre(Field(&ConsumerInfo::unacked, 1u)));
  EXPECT_THAT(broker.UnackedOn(*channel), IsEmpty());
  broker.RunUntilIdle();
  EXPECT_THAT(broker.UnackedOn(*channel), ElementsAre(HasBody("m")));
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

TEST(TestBrokerDeterministic, AnUnusedQueueExpiresOnlyWhenTheClockReachesItsXExpires) {
  TestBroker broker;
  auto channel = broker.OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("idle", {.arguments = {{"x-expires", int32_t{10000}}}}).ok());
  broker.RunUntilIdle();
  EXPECT_TRUE(broker.HasQueue("idle"));
  broker.AdvanceTime(absl::Milliseconds(9999));
  EXPECT_TRUE(broker.HasQueue("idle"));
  broker.AdvanceTime(absl::Milliseconds(1));
  EXPECT_FALSE(broker.HasQueue("idle"));
}

// Sets WARREN_TEST_SEED for its lifetime, then restores what was there.
class SeedInEnvironment {
 public:
  explicit SeedInEnvironment(const char* value) {
    if (const char* before = std::getenv(kVariable)) before_ = before;
    setenv(kVariable, value, /*overwrite=*/1);
  }
  ~SeedInEnvironment() {
    if (before_) {
      setenv(kVariable, before_->c_str(), /*overwrite=*/1);
    } else {
      unsetenv(kVariable);
    }
  }

 private:
  static constexpr char kVariable[] = "WARREN_TEST_SEED";
  std::optional<std::string> before_;
};

TEST(TestBrokerDeterministic, ABrokerMadeWithoutASeedTakesWarrenTestSeed) {
  const std::vector<std::string> under_17 = FanoutArrivalsUnder({.seed = 17});
  SeedInEnvironment seed("17");
  EXPECT_EQ(TestBroker().seed(), std::optional<uint64_t>(17));
  EXPECT_EQ(FanoutArrivalsUnder({}), under_17);
  // A seed of its own wins.
  EXPECT_EQ(TestBroker({.seed = 3}).seed(), std::optional<uint64_t>(3));
  EXPECT_FALSE(TestBroker({.mode = TestMode::kThreaded}).seed().has_value());
}

TEST(TestBrokerDeterministic, AWarrenTestSeedThatIsNotANumberFailsTheTest) {
  SeedInEnvironment seed("seventeen");
  std::optional<uint64_t> taken = 0;
  EXPECT_NONFATAL_FAILURE(taken = TestBroker().seed(), "WARREN_TEST_SEED=seventeen is not a seed");
  EXPECT_FALSE(taken.has_value());
}

TEST(TestBrokerDeterministic, EveryFailureWhileASeededBrokerLivesNamesTheSeed) {
  TestBroker broker({.seed = 42});
  EXPECT_NONFATAL_FAILURE(ADD_FAILURE() << "the code under test misbehaved",
                          "ran under seed 42: replay it with {.seed = 42}");
}

TEST(TestBrokerDeterministic, AFailureWithoutASeedNamesNone) {
  TestBroker broker;
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    ADD_FAILURE() << "the code under test misbehaved";
  }
  ASSERT_EQ(failures.size(), 1);
  EXPECT_THAT(failures.GetTestPartResult(0).message(), Not(HasSubstr("seed")));
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
