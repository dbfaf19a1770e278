// tests/routing_snapshot_test.cc: routing over one virtual host's topology
// (lib/broker/routing_snapshot.*) as RabbitMQ 3.10's rabbit_exchange:route/2
// does it: the default exchange, exchange-to-exchange bindings, cycles,
// alternate exchanges and de-duplication. Snapshots are built by hand from
// routing::MakeRouter and queues on a fake host.
#include "broker/routing_snapshot.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue/queue.h"
#include "routing/router.h"
#include "warren/clock.h"
#include "warren/field_table.h"

namespace warren::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using routing::Binding;
using routing::DestinationId;

// Queues only need a clock here: nothing is published to them.
class IdleHost : public queue::QueueHost {
 public:
  Clock& clock() override { return clock_; }
  void DeadLetter(const queue::Queue&, std::vector<queue::DeadLetter>) override {}
  void ScheduleTimer(std::weak_ptr<queue::Queue>, absl::Time) override {}
  void DeleteUnused(const std::shared_ptr<queue::Queue>&) override {}
  void MemoryChanged(int64_t) override {}

 private:
  ManualClock clock_;
};

// Counts how often the snapshot asks an exchange to route.
class CountingRouter : public routing::Router {
 public:
  explicit CountingRouter(std::unique_ptr<const Router> inner) : inner_(std::move(inner)) {}
  void Route(std::string_view routing_key, const FieldTable* headers,
             std::vector<DestinationId>* out) const override {
    calls_.fetch_add(1);
    inner_->Route(routing_key, headers, out);
  }
  int calls() const { return calls_.load(); }

 private:
  std::unique_ptr<const Router> inner_;
  mutable std::atomic<int> calls_{0};
};

class Topology {
 public:
  DestinationId QueueId(const std::string& name) {
    if (const std::shared_ptr<queue::Queue>* q = snapshot_.queues_by_name.Find(name)) {
      return (*q)->id();
    }
    queue::QueueConfig config;
    config.name = name;
    auto q = std::make_shared<queue::Queue>(next_queue_id_++, std::move(config), &host_);
    snapshot_.queues_by_name.Set(name, q);
    snapshot_.queues.Set(q->id(), q);
    return q->id();
  }

  // Exchange ids are fixed by name before the exchange is declared, so that
  // bindings may point at exchanges declared later.
  DestinationId ExchangeId(const std::string& name) {
    auto [it, added] = exchange_ids_.try_emplace(name, kExchangeBit | next_exchange_id_);
    if (added) ++next_exchange_id_;
    return it->second;
  }

  void Exchange(const std::string& name, std::string_view type, std::vector<Binding> bindings,
                std::optional<std::string> alternate = std::nullopt) {
    absl::StatusOr<std::unique_ptr<const routing::Router>> router =
        routing::MakeRouter(type, bindings);
    ASSERT_TRUE(router.ok()) << router.status();
    auto counting = std::make_shared<CountingRouter>(*std::move(router));
    routers_[name] = counting;
    auto x = std::make_shared<ExchangeRoute>(ExchangeRoute{.id = ExchangeId(name),
                                                           .name = name,
                                                           .alternate = std::move(alternate),
                                                           .router = counting});
    snapshot_.exchanges_by_name.Set(name, x);
    snapshot_.exchanges.Set(x->id, x);
  }

  // The names of the queues a message published to `exchange` ("" for the
  // default exchange) with `keys` reaches, in the snapshot's order.
  std::vector<std::string> Route(const std::string& exchange, std::vector<std::string_view> keys,
                                 const FieldTable* headers = nullptr) {
    const ExchangeRoute* x = nullptr;
    if (!exchange.empty()) {
      x = snapshot_.FindExchange(exchange);
      EXPECT_NE(x, nullptr) << exchange;
      if (x == nullptr) return {};
    }
    std::vector<std::shared_ptr<queue::Queue>> out;
    snapshot_.Route(x, keys, headers, &out);
    std::vector<std::string> names;
    for (const auto& q : out) names.push_back(q->config().name);
    return names;
  }

  int RouteCalls(const std::string& exchange) { return routers_.at(exchange)->calls(); }

  const ExchangeRoute* Find(std::string_view name) const { return snapshot_.FindExchange(name); }

 private:
  IdleHost host_;
  RoutingSnapshot snapshot_;
  uint32_t next_queue_id_ = 1;
  uint32_t next_exchange_id_ = 1;
  std::map<std::string, DestinationId> exchange_ids_;
  std::map<std::string, std::shared_ptr<CountingRouter>> routers_;
};

TEST(RoutingSnapshot, DefaultExchangeRoutesToTheQueueNamedByTheKey) {
  Topology t;
  t.QueueId("orders");
  t.QueueId("billing");
  EXPECT_THAT(t.Route("", {"orders"}), ElementsAre("orders"));
  EXPECT_THAT(t.Route("", {"missing"}), IsEmpty());
}

TEST(RoutingSnapshot, DefaultExchangeRoutesEveryCcKeyOnce) {
  Topology t;
  t.QueueId("orders");
  t.QueueId("billing");
  EXPECT_THAT(t.Route("", {"orders", "billing", "orders", "missing"}),
              UnorderedElementsAre("orders", "billing"));
}

TEST(RoutingSnapshot, FindExchangeFindsOnlyDeclaredExchanges) {
  Topology t;
  t.Exchange("x", "fanout", {});
  const ExchangeRoute* x = t.Find("x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->name, "x");
  EXPECT_EQ(x->id, t.ExchangeId("x"));
  EXPECT_EQ(t.Find("y"), nullptr);
  EXPECT_EQ(t.Find(""), nullptr);  // the default exchange is Route(nullptr, ...)
}

TEST(RoutingSnapshot, ExchangeRoutesToItsBoundQueues) {
  Topology t;
  t.Exchange("x", "direct",
             {{.destination = t.QueueId("a"), .key = "k"},
              {.destination = t.QueueId("b"), .key = "other"}});
  EXPECT_THAT(t.Route("x", {"k"}), ElementsAre("a"));
  EXPECT_THAT(t.Route("x", {"nothing"}), IsEmpty());
}

TEST(RoutingSnapshot, ExchangeToExchangeBindingsChain) {
  Topology t;
  t.Exchange("front", "direct",
             {{.destination = t.ExchangeId("middle"), .key = "k"},
              {.destination = t.QueueId("direct-q"), .key = "k"}});
  t.Exchange("middle", "fanout", {{.destination = t.ExchangeId("back")}});
  t.Exchange("back", "fanout",
             {{.destination = t.QueueId("end-1")}, {.destination = t.QueueId("end-2")}});
  EXPECT_THAT(t.Route("front", {"k"}), UnorderedElementsAre("direct-q", "end-1", "end-2"));
  EXPECT_THAT(t.Route("front", {"other"}), IsEmpty());
}

TEST(RoutingSnapshot, ExchangeCycleVisitsEachExchangeOnce) {
  Topology t;
  t.Exchange("a", "fanout", {{.destination = t.ExchangeId("b")}});
  t.Exchange("b", "fanout",
             {{.destination = t.ExchangeId("a")}, {.destination = t.ExchangeId("b")},
              {.destination = t.QueueId("q")}});
  EXPECT_THAT(t.Route("a", {"k"}), ElementsAre("q"));
  EXPECT_EQ(t.RouteCalls("a"), 1);
  EXPECT_EQ(t.RouteCalls("b"), 1);
}

TEST(RoutingSnapshot, AlternateExchangeTakesWhatTheExchangeCannotRoute) {
  Topology t;
  t.Exchange("main", "direct", {{.destination = t.QueueId("routed"), .key = "known"}}, "alt");
  t.Exchange("alt", "fanout", {{.destination = t.QueueId("unroutable")}});
  EXPECT_THAT(t.Route("main", {"known"}), ElementsAre("routed"));
  EXPECT_EQ(t.RouteCalls("alt"), 0);
  EXPECT_THAT(t.Route("main", {"unknown"}), ElementsAre("unroutable"));
  EXPECT_EQ(t.RouteCalls("alt"), 1);
}

TEST(RoutingSnapshot, AlternateExchangeIsSkippedWhenABindingLeadsToAnotherExchange) {
  // rabbit_exchange:process_alternate looks only at what the exchange itself
  // matched, exchanges included, not at where they lead.
  Topology t;
  t.Exchange("main", "direct", {{.destination = t.ExchangeId("dead-end"), .key = "k"}}, "alt");
  t.Exchange("dead-end", "direct", {});
  t.Exchange("alt", "fanout", {{.destination = t.QueueId("unroutable")}});
  EXPECT_THAT(t.Route("main", {"k"}), IsEmpty());
  EXPECT_EQ(t.RouteCalls("alt"), 0);
}

TEST(RoutingSnapshot, AlternateOfAnAlternateIsFollowed) {
  Topology t;
  t.Exchange("main", "direct", {}, "alt-1");
  t.Exchange("alt-1", "direct", {}, "alt-2");
  t.Exchange("alt-2", "fanout", {{.destination = t.QueueId("last-resort")}});
  EXPECT_THAT(t.Route("main", {"k"}), ElementsAre("last-resort"));
}

TEST(RoutingSnapshot, AlternateExchangeCycleTerminates) {
  Topology t;
  t.Exchange("a", "direct", {}, "b");
  t.Exchange("b", "direct", {}, "a");
  EXPECT_THAT(t.Route("a", {"k"}), IsEmpty());
  EXPECT_EQ(t.RouteCalls("a"), 1);
  EXPECT_EQ(t.RouteCalls("b"), 1);
}

TEST(RoutingSnapshot, MissingAlternateExchangeRoutesNowhere) {
  Topology t;
  t.Exchange("main", "direct", {}, "never-declared");
  EXPECT_THAT(t.Route("main", {"k"}), IsEmpty());
}

TEST(RoutingSnapshot, QueueReachedSeveralWaysIsListedOnce) {
  Topology t;
  t.Exchange("x", "direct",
             {{.destination = t.QueueId("q"), .key = "a"},
              {.destination = t.QueueId("q"), .key = "b"},
              {.destination = t.ExchangeId("y"), .key = "a"},
              {.destination = t.QueueId("only-b"), .key = "b"}});
  t.Exchange("y", "fanout", {{.destination = t.QueueId("q")}, {.destination = t.QueueId("r")}});
  EXPECT_THAT(t.Route("x", {"a", "b"}), UnorderedElementsAre("q", "r", "only-b"));
}

TEST(RoutingSnapshot, HeadersReachTheExchangesRouter) {
  Topology t;
  t.Exchange("h", "headers",
             {{.destination = t.QueueId("eu"), .arguments = {{"region", "eu"}}}});
  FieldTable eu{{"region", "eu"}};
  FieldTable us{{"region", "us"}};
  EXPECT_THAT(t.Route("h", {""}, &eu), ElementsAre("eu"));
  EXPECT_THAT(t.Route("h", {""}, &us), IsEmpty());
}

}  // namespace
}  // namespace warren::broker
