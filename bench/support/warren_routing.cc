// Routing fixtures: bindings, a hand-built snapshot, a rejecting topology.
#include "support/warren_routing.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/routing_snapshot.h"
#include "queue/queue.h"
#include "routing/router.h"
#include "warren/broker.h"
#include "warren/clock.h"

namespace warren_bench {
namespace {

constexpr int kQueues = 10;
constexpr int kMatchedBinding = 3;

bool IsTopic(std::string_view type) { return type == warren::kTopic; }

// Binding i's key and arguments.
std::pair<std::string, warren::FieldTable> BindingFor(std::string_view type, int i) {
  if (IsTopic(type)) return {absl::StrCat("region", i % 10, ".svc", i, ".*"), {}};
  return {"",
          {{"x-match", "all"},
           {"region", absl::StrCat("r", i % 10)},
           {"svc", absl::StrCat("s", i)}}};
}

// The routing key and headers of a message that matches binding
// kMatchedBinding alone.
std::pair<std::string, std::optional<warren::FieldTable>> PublishedFor(std::string_view type) {
  const int i = kMatchedBinding;
  if (IsTopic(type)) return {absl::StrCat("region", i, ".svc", i, ".created"), std::nullopt};
  return {"", warren::FieldTable{{"region", absl::StrCat("r", i)}, {"svc", absl::StrCat("s", i)}}};
}

// Queues in a hand-built snapshot need a host; nothing here expires or
// dead-letters.
class IdleHost final : public warren::queue::QueueHost {
 public:
  warren::Clock& clock() override { return *warren::Clock::System(); }
  void DeadLetter(const warren::queue::Queue&, std::vector<warren::queue::DeadLetter>) override {}
  void ScheduleTimer(std::weak_ptr<warren::queue::Queue>, absl::Time) override {}
  void DeleteUnused(const std::shared_ptr<warren::queue::Queue>&) override {}
  void MemoryChanged(int64_t) override {}
};

struct SnapshotFixture {
  IdleHost host;
  warren::broker::RoutingSnapshot snapshot;
  const warren::broker::ExchangeRoute* exchange = nullptr;
  std::string routing_key;
  std::optional<warren::FieldTable> headers;
};

std::shared_ptr<SnapshotFixture> BuildSnapshot(std::string_view type, int bindings,
                                               std::string* error) {
  auto fixture = std::make_shared<SnapshotFixture>();
  std::vector<warren::routing::Binding> table;
  table.reserve(bindings);
  for (int i = 0; i < bindings; ++i) {
    auto [key, arguments] = BindingFor(type, i);
    table.push_back({static_cast<warren::routing::DestinationId>(1 + i % kQueues), std::move(key),
                     std::move(arguments)});
  }
  auto router = warren::routing::MakeRouter(type, table);
  if (!router.ok()) {
    *error = router.status().ToString();
    return nullptr;
  }
  auto exchange = std::make_shared<warren::broker::ExchangeRoute>();
  exchange->id = 1 | warren::broker::kExchangeBit;
  exchange->name = "bench.x";
  exchange->router = *std::move(router);
  fixture->snapshot.exchanges_by_name.Set(exchange->name, exchange);
  fixture->snapshot.exchanges.Set(exchange->id, exchange);
  fixture->exchange = exchange.get();
  for (uint32_t id = 1; id <= kQueues; ++id) {
    auto queue = std::make_shared<warren::queue::Queue>(
        id, warren::queue::QueueConfig{.name = absl::StrCat("bench.q", id)}, &fixture->host);
    fixture->snapshot.queues_by_name.Set(queue->config().name, queue);
    fixture->snapshot.queues.Set(id, queue);
  }
  std::tie(fixture->routing_key, fixture->headers) = PublishedFor(type);
  std::vector<std::shared_ptr<warren::queue::Queue>> targets;
  fixture->snapshot.Route(fixture->exchange, {fixture->routing_key},
                          fixture->headers ? &*fixture->headers : nullptr, &targets);
  if (targets.size() != 1) {
    *error = absl::StrCat("the benchmark's message reached ", targets.size(), " queues, not 1");
    return nullptr;
  }
  return fixture;
}

// A broker whose exchange has the bindings, and a channel to publish on.
struct PublishFixture {
  std::unique_ptr<warren::Broker> broker;
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
  std::string routing_key;
  std::optional<warren::Message> message;

  ~PublishFixture() { broker.reset(); }
};

std::string BuildBroker(std::string_view type, int bindings, const warren::FieldTable& queue_args,
                        PublishFixture* fixture) {
  auto broker = warren::Broker::Create();
  if (!broker.ok()) return broker.status().ToString();
  fixture->broker = *std::move(broker);
  auto connection = fixture->broker->Connect();
  if (!connection.ok()) return connection.status().ToString();
  fixture->connection = *std::move(connection);
  auto channel = fixture->connection->OpenChannel();
  if (!channel.ok()) return channel.status().ToString();
  fixture->channel = *std::move(channel);
  warren::Channel& ch = *fixture->channel;
  if (absl::Status s = ch.ExchangeDeclare("bench.x", type); !s.ok()) return s.ToString();
  for (int q = 1; q <= kQueues; ++q) {
    auto declared = ch.QueueDeclare(absl::StrCat("bench.q", q), {.arguments = queue_args});
    if (!declared.ok()) return declared.status().ToString();
  }
  for (int i = 0; i < bindings; ++i) {
    auto [key, arguments] = BindingFor(type, i);
    absl::Status s = ch.QueueBind(absl::StrCat("bench.q", 1 + i % kQueues), "bench.x", key, arguments);
    if (!s.ok()) return s.ToString();
  }
  return "";
}

// Fixtures live for the process: the large ones take seconds to build, and
// Google Benchmark calls a benchmark function several times.
template <typename Fixture>
std::shared_ptr<Fixture> Cached(std::string_view type, int bindings,
                                const std::function<std::shared_ptr<Fixture>()>& build) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, std::shared_ptr<Fixture>> cache;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<Fixture>& entry = cache[{std::string(type), bindings}];
  if (!entry) entry = build();
  return entry;
}

}  // namespace

std::function<void(int64_t)> SnapshotRouteOp(std::string_view type, int bindings,
                                             std::string* error) {
  std::shared_ptr<SnapshotFixture> fixture = Cached<SnapshotFixture>(
      type, bindings, [&] { return BuildSnapshot(type, bindings, error); });
  if (!fixture) return nullptr;
  return [fixture](int64_t n) {
    const warren::FieldTable* headers = fixture->headers ? &*fixture->headers : nullptr;
    std::vector<std::shared_ptr<warren::queue::Queue>> targets;
    for (int64_t i = 0; i < n; ++i) {
      // BasicPublish builds this list per publish (CC and BCC add to it).
      std::vector<std::string_view> keys{fixture->routing_key};
      targets.clear();
      fixture->snapshot.Route(fixture->exchange, keys, headers, &targets);
      benchmark::DoNotOptimize(targets.data());
    }
  };
}

std::function<void(int64_t)> PublishRoutedOp(std::string_view type, int bindings,
                                             std::string* error) {
  std::shared_ptr<PublishFixture> fixture =
      Cached<PublishFixture>(type, bindings, [&]() -> std::shared_ptr<PublishFixture> {
        auto built = std::make_shared<PublishFixture>();
        *error = BuildBroker(type, bindings,
                             {{"x-max-length", int64_t{0}}, {"x-overflow", "reject-publish"}},
                             built.get());
        if (!error->empty()) return nullptr;
        auto [key, headers] = PublishedFor(type);
        built->routing_key = key;
        warren::BasicProperties properties;
        properties.headers = headers;
        built->message.emplace(std::string(64, 'w'), properties);
        return built;
      });
  if (!fixture) return nullptr;
  return [fixture](int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      absl::Status s = fixture->channel->BasicPublish("bench.x", fixture->routing_key,
                                                      *fixture->message);
      if (!s.ok()) {
        std::fprintf(stderr, "BasicPublish failed: %s\n", s.ToString().c_str());
        std::abort();
      }
    }
  };
}

double SecondsPerBind(std::string_view type, int bindings) {
  PublishFixture fixture;
  const int64_t start = NowNanos();
  const std::string error = BuildBroker(type, bindings, {}, &fixture);
  const int64_t elapsed = NowNanos() - start;
  if (!error.empty()) return -1;
  return static_cast<double>(elapsed) * 1e-9 / bindings;
}

}  // namespace warren_bench
