// tests/memory_limit_test.cc: BrokerOptions::memory_limit_bytes — a
// publisher blocked or refused past the limit while a consumer is stalled,
// resuming as the consumer drains, with every message accounted for; and
// the bound on callbacks waiting to run, which keeps a slow consumer's
// backlog in its queue.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/stats.h"

namespace warren {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kLimit = 64 * 1024;
constexpr size_t kBody = 1024;

// Opens while the test holds it closed; callbacks wait at it.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    opened_.wait(lock, [this] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    opened_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(MemoryLimit, PublisherBlocksWhileAStalledConsumerHoldsTheLimitAndResumesAsItDrains) {
  auto broker = Broker::Create({.memory_limit_bytes = kLimit,
                                .on_memory_full = MemoryFull::kBlock,
                                .publish_block_timeout = absl::Seconds(60)})
                    .value();
  auto connection = broker->Connect().value();
  auto consumer = connection->OpenChannel().value();
  ASSERT_TRUE(consumer->QueueDeclare("work").ok());
  Gate gate;
  std::mutex mu;
  std::condition_variable all_seen;
  std::set<std::string> seen;
  int deliveries = 0;
  ASSERT_TRUE(consumer
                  ->BasicConsume("work",
                                 [&](const Delivery& d) {
                                   gate.Wait();
                                   EXPECT_TRUE(consumer->BasicAck(d.delivery_tag).ok());
                                   std::lock_guard<std::mutex> lock(mu);
                                   ++deliveries;
                                   seen.insert(std::string(d.message.body().substr(0, 8)));
                                   all_seen.notify_all();
                                 })
                  .ok());

  constexpr int kMessages = 200;  // 200 KiB: three times the limit
  std::atomic<int> published{0};
  absl::Status last;
  std::thread publisher([&] {
    auto channel = connection->OpenChannel().value();
    for (int i = 0; i < kMessages; ++i) {
      std::string body = std::to_string(100000 + i) + "  ";
      body.resize(kBody, 'x');
      last = channel->BasicPublish("", "work", Message(std::move(body)));
      if (!last.ok()) return;
      published.fetch_add(1);
    }
  });
  // The publisher gets past the limit by at most the message that crossed
  // it, and then waits.
  while (broker->Stats().memory_bytes <= kLimit) std::this_thread::yield();
  const int before_release = published.load();
  EXPECT_LT(before_release, kMessages);
  EXPECT_LE(broker->Stats().memory_bytes, kLimit + kBody);

  gate.Open();
  publisher.join();
  EXPECT_TRUE(last.ok()) << last;
  EXPECT_EQ(published.load(), kMessages);
  {
    std::unique_lock<std::mutex> lock(mu);
    all_seen.wait(lock, [&] { return deliveries == kMessages; });
    EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));  // none lost, none twice
  }
  consumer->Close().IgnoreError();
  EXPECT_EQ(broker->Stats().memory_bytes, 0u);
}

TEST(MemoryLimit, RefusingPublisherGetsResourceExhaustedAndKeepsItsChannel) {
  auto broker = Broker::Create({.dispatch = Dispatch::kManual,
                                .memory_limit_bytes = kLimit,
                                .on_memory_full = MemoryFull::kRefuse})
                    .value();
  auto connection = broker->Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("work").ok());
  const Message message{std::string(kBody, 'm')};
  int accepted = 0;
  absl::Status refused;
  while ((refused = channel->BasicPublish("", "work", message)).ok()) ++accepted;
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("memory limit of 65536 bytes"));
  EXPECT_EQ(accepted, static_cast<int>(kLimit / kBody) + 1);
  EXPECT_TRUE(channel->is_open());
  EXPECT_EQ(channel->QueueDeclare("work", {.passive = true})->message_count,
            static_cast<uint32_t>(accepted));

  ASSERT_TRUE(channel->QueuePurge("work").ok());
  EXPECT_EQ(broker->Stats().memory_bytes, 0u);
  EXPECT_TRUE(channel->BasicPublish("", "work", message).ok());
}

TEST(MemoryLimit, BatchPublishesWhatFitsThenIsRefused) {
  auto broker = Broker::Create({.dispatch = Dispatch::kManual,
                                .memory_limit_bytes = 4 * kBody,
                                .on_memory_full = MemoryFull::kRefuse})
                    .value();
  auto connection = broker->Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("work").ok());
  const std::vector<Message> batch(10, Message(std::string(kBody, 'm')));
  EXPECT_EQ(channel->BasicPublishBatch("", "work", batch).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(channel->QueueDeclare("work", {.passive = true})->message_count, 5u);
}

TEST(MemoryLimit, BlockedPublisherGivesUpAfterTheTimeout) {
  auto broker = Broker::Create({.dispatch = Dispatch::kManual,
                                .memory_limit_bytes = kBody,
                                .publish_block_timeout = absl::Milliseconds(10)})
                    .value();
  auto connection = broker->Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("work").ok());
  const Message message{std::string(kBody + 1, 'm')};
  ASSERT_TRUE(channel->BasicPublish("", "work", message).ok());
  const absl::Status blocked = channel->BasicPublish("", "work", message);
  EXPECT_EQ(blocked.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(blocked.message(), HasSubstr("blocked for 10ms"));
  EXPECT_TRUE(channel->is_open());
}

TEST(MemoryLimit, NegativeBlockTimeoutIsInvalid) {
  EXPECT_EQ(Broker::Create({.publish_block_timeout = absl::Seconds(-1)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MailboxCredit, ASlowConsumersBacklogStaysReadyInItsQueueAndArrivesInOrder) {
  auto broker = Broker::Create({.dispatch = Dispatch::kManual}).value();
  auto connection = broker->Connect().value();
  auto channel = connection->OpenChannel().value();
  ASSERT_TRUE(channel->QueueDeclare("q").ok());
  std::vector<int> got;
  ASSERT_TRUE(channel
                  ->BasicConsume("q",
                                 [&](const Delivery& d) {
                                   got.push_back(std::stoi(std::string(d.message.body())));
                                 },
                                 {.no_ack = true})
                  .ok());
  constexpr int kMessages = 3000;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(channel->BasicPublish("", "q", Message(std::to_string(i))).ok());
  }
  // No callback has run: a thousand wait to, the rest wait in the queue.
  const uint32_t ready = channel->QueueDeclare("q", {.passive = true})->message_count;
  EXPECT_EQ(ready, 2000u);
  EXPECT_EQ(broker->Stats().memory_bytes, 2000u * 4);  // "1000" to "2999"
  while (broker->ProcessEvents() > 0) {
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(got[i], i);
}

}  // namespace
}  // namespace warren
