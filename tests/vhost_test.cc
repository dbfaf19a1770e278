// tests/vhost_test.cc: how a virtual host hands its topology to publishers
// (lib/broker/vhost.*): a new snapshot with each change, taken without the
// host's lock, sharing what the change did not touch.
#include "broker/vhost.h"

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/publish_observer.h"
#include "dispatch/dispatcher.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/clock.h"

namespace warren::broker {
namespace {

class VirtualHostTest : public ::testing::Test {
 protected:
  // The names of the queues a message published to `exchange` by `key`
  // reaches in `snapshot`.
  static std::vector<std::string> Route(const RoutingSnapshot& snapshot,
                                        std::string_view exchange, std::string_view key) {
    const ExchangeRoute* x = snapshot.FindExchange(exchange);
    EXPECT_NE(x, nullptr) << exchange;
    if (x == nullptr) return {};
    std::vector<std::shared_ptr<queue::Queue>> reached;
    const std::string_view keys[] = {key};
    snapshot.Route(x, keys, nullptr, &reached);
    std::vector<std::string> names;
    for (const auto& q : reached) names.push_back(q->config().name);
    return names;
  }

  void Declare(std::string_view exchange, std::string_view type, std::string_view queue) {
    ASSERT_TRUE(host_->ExchangeDeclare(exchange, type, {}).ok());
    ASSERT_TRUE(host_->QueueDeclare(queue, {}, kConnection).ok());
  }

  static constexpr uint64_t kConnection = 1;
  ManualClock clock_;
  dispatch::Dispatcher dispatcher_{BrokerOptions{.dispatch = Dispatch::kManual}};
  dispatch::TimerService timers_{&clock_, &dispatcher_};
  MemoryGauge memory_{0};
  PublishObserverSlot observer_;
  std::shared_ptr<VirtualHost> host_ = std::make_shared<VirtualHost>(
      "/", &clock_, &timers_, &memory_, &dispatcher_, &observer_);
};

TEST_F(VirtualHostTest, PublishersTakeTheSnapshotWhileAChangeHoldsTheHostsLock) {
  Declare("events", "fanout", "q");
  ASSERT_TRUE(host_->QueueBind("q", "events", "", {}, kConnection).ok());

  std::unique_lock<std::mutex> change_in_progress = host_->HoldLockForTesting();
  std::future<std::vector<std::string>> routed = std::async(std::launch::async, [&] {
    return Route(*host_->Snapshot(), "events", "any");
  });
  // Seconds, not a speed: a publisher that waited for the lock would wait for ever.
  const std::future_status status = routed.wait_for(std::chrono::seconds(30));
  change_in_progress.unlock();
  ASSERT_EQ(status, std::future_status::ready);
  EXPECT_EQ(routed.get(), std::vector<std::string>{"q"});
}

TEST_F(VirtualHostTest, EachChangeIsInTheNextSnapshotAndEarlierOnesStayAsTheyWere) {
  Declare("events", "direct", "q");
  const uint64_t before_bind = host_->version();
  std::shared_ptr<const RoutingSnapshot> unbound = host_->Snapshot();

  ASSERT_TRUE(host_->QueueBind("q", "events", "paid", {}, kConnection).ok());
  std::shared_ptr<const RoutingSnapshot> bound = host_->Snapshot();

  EXPECT_GT(host_->version(), before_bind);
  EXPECT_TRUE(Route(*unbound, "events", "paid").empty());
  EXPECT_EQ(Route(*bound, "events", "paid"), std::vector<std::string>{"q"});
}

TEST_F(VirtualHostTest, ASnapshotSharesTheRoutesOfExchangesTheChangeDidNotTouch) {
  Declare("orders", "direct", "q");
  ASSERT_TRUE(host_->ExchangeDeclare("billing", "direct", {}).ok());
  std::shared_ptr<const RoutingSnapshot> before = host_->Snapshot();

  ASSERT_TRUE(host_->QueueBind("q", "orders", "placed", {}, kConnection).ok());
  std::shared_ptr<const RoutingSnapshot> after = host_->Snapshot();

  EXPECT_EQ(after->FindExchange("billing"), before->FindExchange("billing"));
  EXPECT_NE(after->FindExchange("orders"), before->FindExchange("orders"));
}

TEST_F(VirtualHostTest, ReadingTheTopologyPublishesNoNewSnapshot) {
  Declare("orders", "direct", "q");
  const uint64_t version = host_->version();

  ASSERT_TRUE(host_->ExchangeDeclare("orders", "direct", {.passive = true}).ok());
  ASSERT_TRUE(host_->FindQueue("q", kConnection).ok());
  ASSERT_TRUE(host_->BindingsOf("orders").ok());

  EXPECT_EQ(host_->version(), version);
}

TEST_F(VirtualHostTest, DeletedQueuesAndExchangesLeaveTheNextSnapshot) {
  Declare("orders", "fanout", "q");
  ASSERT_TRUE(host_->QueueBind("q", "orders", "", {}, kConnection).ok());

  ASSERT_TRUE(host_->QueueDelete("q", false, false, kConnection).ok());
  EXPECT_TRUE(Route(*host_->Snapshot(), "orders", "").empty());
  ASSERT_TRUE(host_->ExchangeDelete("orders", false).ok());
  EXPECT_EQ(host_->Snapshot()->FindExchange("orders"), nullptr);
}

TEST_F(VirtualHostTest, AQueueDeclaredAgainUnderADeletedOnesNameIsTheOneRoutedTo) {
  Declare("orders", "fanout", "q");
  ASSERT_TRUE(host_->QueueDelete("q", false, false, kConnection).ok());
  ASSERT_TRUE(host_->QueueDeclare("q", {}, kConnection).ok());
  ASSERT_TRUE(host_->QueueBind("q", "orders", "", {}, kConnection).ok());
  absl::StatusOr<std::shared_ptr<queue::Queue>> live = host_->FindQueue("q", kConnection);
  ASSERT_TRUE(live.ok());

  std::shared_ptr<const RoutingSnapshot> snapshot = host_->Snapshot();
  std::vector<std::shared_ptr<queue::Queue>> reached;
  const std::string_view keys[] = {""};
  snapshot->Route(snapshot->FindExchange("orders"), keys, nullptr, &reached);
  ASSERT_EQ(reached.size(), 1u);
  EXPECT_EQ(reached[0], *live);
}

}  // namespace
}  // namespace warren::broker
