// A RabbitMQ restart (rabbitmqctl stop_app / start_app) in the middle of a
// stream of confirmed, persistent publishes to a durable queue: the
// connection comes back by itself and every message the broker confirmed
// arrives, to a consumer that was recovered too or to a final drain.
//
// Stopping the broker's app disturbs everyone using it, so the test runs
// only when WARREN_AMQP_RESTART_OK=1 (CI sets it; ctest runs it alone).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "amqp_test_support.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/connect.h"
#include "warren/status.h"

namespace warren {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);

TEST(AmqpRestart, EveryConfirmedMessageArrivesAcrossABrokerRestart) {
  if (testing::EnvOr("WARREN_AMQP_RESTART_OK", "") != "1") {
    GTEST_SKIP() << "restarts the shared broker; set WARREN_AMQP_RESTART_OK=1 to run";
  }
  ClientOptions options;
  options.reconnect.initial_delay = absl::Milliseconds(100);
  options.reconnect.max_delay = absl::Seconds(1);
  auto connection = Connect(testing::TestVhostUrl(), options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto publisher = (*connection)->OpenChannel();
  auto consumer = (*connection)->OpenChannel();
  ASSERT_TRUE(publisher.ok() && consumer.ok());
  Channel& pub = **publisher;
  Channel& sub = **consumer;
  ASSERT_TRUE(pub.QueueDeclare("restart-stream", {.durable = true}).ok());
  ASSERT_TRUE(pub.ConfirmSelect().ok());

  std::mutex mu;
  std::map<uint64_t, int> in_flight;  // publish seq -> message id
  std::set<int> confirmed;
  std::set<int> received;
  int nacked = 0;
  pub.SetConfirmHandler([&](const Confirm& c) {
    std::lock_guard<std::mutex> lock(mu);
    auto end = in_flight.upper_bound(c.delivery_tag);
    auto begin = c.multiple ? in_flight.begin() : in_flight.find(c.delivery_tag);
    if (begin == in_flight.end()) return;
    for (auto it = begin; it != end; ++it) {
      if (c.ack) {
        confirmed.insert(it->second);
      } else {
        ++nacked;
      }
    }
    in_flight.erase(begin, end);
  });
  ASSERT_TRUE(sub.BasicConsume("restart-stream", [&](const Delivery& d) {
                  int id = 0;
                  ASSERT_TRUE(absl::SimpleAtoi(
                      absl::string_view(d.message.body().data(), d.message.body().size()), &id));
                  {
                    std::lock_guard<std::mutex> lock(mu);
                    received.insert(id);
                  }
                  sub.BasicAck(d.delivery_tag).IgnoreError();
                }, {.consumer_tag = "restart-consumer"}).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::thread stream([&] {
    BasicProperties persistent;
    persistent.delivery_mode = 2;
    for (int id = 0; !stop; ++id) {
      std::lock_guard<std::mutex> lock(mu);
      const uint64_t seq = pub.NextPublishSeqNo();
      absl::Status s = pub.BasicPublish("", "restart-stream",
                                        Message(std::to_string(id), persistent));
      if (s.ok()) {
        in_flight[seq] = id;
      } else {
        EXPECT_TRUE(absl::IsUnavailable(s)) << s;
        ++refused;
      }
      mu.unlock();
      absl::SleepFor(absl::Milliseconds(2));
      mu.lock();
    }
  });

  absl::SleepFor(absl::Milliseconds(500));
  absl::Status stopped = testing::Rabbitmqctl({"stop_app"});
  absl::Status started = testing::Rabbitmqctl({"start_app"});
  ASSERT_TRUE(stopped.ok()) << stopped;
  ASSERT_TRUE(started.ok()) << started;
  // Publishing goes on until the link is back and has carried a while.
  const int refused_during_restart = refused.load();
  const absl::Time back_deadline = absl::Now() + kWait;
  size_t confirmed_before = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    confirmed_before = confirmed.size();
  }
  while (absl::Now() < back_deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    std::lock_guard<std::mutex> lock(mu);
    if (confirmed.size() > confirmed_before + 100) break;
  }
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  stream.join();
  absl::Status waited = pub.WaitForConfirms(kWait);
  EXPECT_TRUE(waited.ok() || absl::IsDataLoss(waited)) << waited;

  // Whatever the recovered consumer did not get yet is still in the queue.
  const absl::Time drain_deadline = absl::Now() + kWait;
  while (absl::Now() < drain_deadline) {
    std::set<int> missing;
    {
      std::lock_guard<std::mutex> lock(mu);
      std::set_difference(confirmed.begin(), confirmed.end(), received.begin(), received.end(),
                          std::inserter(missing, missing.end()));
    }
    if (missing.empty()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::lock_guard<std::mutex> lock(mu);
  std::vector<int> missing;
  std::set_difference(confirmed.begin(), confirmed.end(), received.begin(), received.end(),
                      std::back_inserter(missing));
  EXPECT_TRUE(missing.empty()) << missing.size() << " confirmed messages never arrived, first "
                               << missing.front();
  EXPECT_GT(refused_during_restart, 0) << "the restart was not noticed";
  EXPECT_GT(confirmed.size(), confirmed_before);
  EXPECT_TRUE(in_flight.empty());
  EXPECT_TRUE((*connection)->is_open());
  ASSERT_TRUE(sub.BasicCancel("restart-consumer").ok());
  ASSERT_TRUE(pub.QueueDelete("restart-stream").ok());
  std::cout << confirmed.size() << " confirmed, " << nacked << " nacked, " << refused.load()
            << " refused while away, " << received.size() << " received\n";
}

}  // namespace
}  // namespace warren
