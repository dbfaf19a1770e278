// tests/testing_modes_test.cc: one scenario — competing consumers that ack
// and reject, dead-lettering, a TTL that the clock crosses — gives the same
// observations in the test kit's deterministic mode (under many seeds) and
// on the threaded dispatcher, so what a test proves deterministically holds
// on threads too.
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

using ::testing::Each;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int kTasks = 40;

// What a test of this scenario would assert. Orders that threads may
// change (which consumer got what, the order of dead letters from two
// channels) are compared as sets; each channel's own order is checked.
struct Observations {
  std::vector<std::string> handled;       // by both workers, sorted
  bool each_worker_in_publish_order = false;
  std::vector<std::string> dead_letters;  // bodies, sorted
  std::vector<std::string> dead_reasons;  // of every dead letter
  size_t audit_before_ttl = 0;
  size_t audit_after_ttl = 0;
  size_t work_left = 0;
  size_t unacked_left = 0;
  size_t published = 0;
  friend bool operator==(const Observations&, const Observations&) = default;
};

// Records one consumer's bodies; callbacks may run on pool threads.
class Received {
 public:
  void Add(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_.push_back(std::move(body));
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
};

int NumberOf(const std::string& body) { return std::stoi(body.substr(body.find('-') + 1)); }

bool Ascending(const std::vector<std::string>& bodies) {
  return std::is_sorted(bodies.begin(), bodies.end(), [](const auto& a, const auto& b) {
    return NumberOf(a) < NumberOf(b);
  });
}

Observations RunScenario(TestBrokerOptions options) {
  TestBroker broker(options);
  auto setup = broker.OpenChannel().value();
  setup->ExchangeDeclare("tasks", kTopic).IgnoreError();
  setup->ExchangeDeclare("dlx", kFanout).IgnoreError();
  setup->QueueDeclare("dead").IgnoreError();
  setup->QueueBind("dead", "dlx", "").IgnoreError();
  setup->QueueDeclare("work", {.arguments = {{"x-dead-letter-exchange", "dlx"}}}).IgnoreError();
  setup->QueueBind("work", "tasks", "task.*").IgnoreError();
  setup->QueueDeclare("audit", {.arguments = {{"x-message-ttl", int32_t{5000}}}}).IgnoreError();
  setup->QueueBind("audit", "tasks", "#").IgnoreError();

  // Two workers on channels of their own, one message at a time each: a
  // body "fail-N" is rejected to the dead-letter exchange, others acked.
  auto connection = broker.Connect().value();
  Received workers[2];
  std::vector<std::unique_ptr<Channel>> channels;
  for (Received& worker : workers) {
    std::unique_ptr<Channel> channel = connection->OpenChannel().value();
    Channel* ch = channel.get();
    ch->BasicQos(1).IgnoreError();
    ch->BasicConsume("work", [ch, &worker](const Delivery& d) {
        std::string body(d.message.body());
        worker.Add(body);
        if (body.starts_with("fail")) {
          ch->BasicReject(d.delivery_tag).IgnoreError();
        } else {
          ch->BasicAck(d.delivery_tag).IgnoreError();
        }
      }).IgnoreError();
    channels.push_back(std::move(channel));
  }

  auto publisher = connection->OpenChannel().value();
  for (int i = 0; i < kTasks; ++i) {
    const std::string body = (i % 4 == 3 ? "fail-" : "ok-") + std::to_string(i);
    publisher->BasicPublish("tasks", "task.run", Message(body)).IgnoreError();
  }
  broker.RunUntilIdle();

  Observations seen;
  for (const Received& worker : workers) {
    for (const std::string& body : worker.bodies()) seen.handled.push_back(body);
  }
  std::sort(seen.handled.begin(), seen.handled.end());
  seen.each_worker_in_publish_order =
      Ascending(workers[0].bodies()) && Ascending(workers[1].bodies());
  for (const QueuedMessage& dead : broker.MessagesIn("dead")) {
    seen.dead_letters.emplace_back(dead.message.body());
    for (const XDeath& death : XDeathsOf(dead.message)) seen.dead_reasons.push_back(death.reason);
  }
  std::sort(seen.dead_letters.begin(), seen.dead_letters.end());
  seen.audit_before_ttl = broker.MessagesIn("audit").size();
  broker.AdvanceTime(absl::Seconds(5));
  seen.audit_after_ttl = broker.MessagesIn("audit").size();
  seen.work_left = broker.MessagesIn("work").size();
  for (const auto& channel : channels) seen.unacked_left += broker.UnackedOn(*channel).size();
  seen.published = broker.PublishedTo("tasks").size();
  return seen;
}

TEST(TestModes, TheScenarioObservesWhatItShould) {
  const Observations seen = RunScenario({});
  EXPECT_THAT(seen.handled, SizeIs(kTasks));
  EXPECT_TRUE(seen.each_worker_in_publish_order);
  EXPECT_THAT(seen.dead_letters, SizeIs(kTasks / 4));
  EXPECT_THAT(seen.dead_reasons, Each("rejected"));
  EXPECT_EQ(seen.audit_before_ttl, static_cast<size_t>(kTasks));
  EXPECT_EQ(seen.audit_after_ttl, 0u);
  EXPECT_EQ(seen.work_left, 0u);
  EXPECT_EQ(seen.unacked_left, 0u);
  EXPECT_EQ(seen.published, static_cast<size_t>(kTasks));
}

TEST(TestModes, EverySeedObservesTheSameAsUnseeded) {
  const Observations expected = RunScenario({});
  for (uint64_t seed = 1; seed <= 25; ++seed) {
    EXPECT_EQ(RunScenario({.seed = seed}), expected) << "seed " << seed;
  }
}

TEST(TestModes, TheThreadedDispatcherObservesTheSameAsDeterministic) {
  const Observations expected = RunScenario({});
  for (int run = 0; run < 10; ++run) {
    EXPECT_EQ(RunScenario({.mode = TestMode::kThreaded, .threads = 4}), expected)
        << "run " << run;
  }
}

}  // namespace
}  // namespace warren::testkit
