// TestBroker (warren/testing.h): a real broker on a ManualClock, pumped by
// the test, with the core's read-only views and the publish observer behind
// inspection and fault injection.
//
// Owns the test's broker, its clock, its seed, the publish log and the
// armed faults.
// It must not change queue or channel state except through what the broker
// itself does on an error: closing, and cancelling a consumer.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "broker/broker_impl.h"
#include "broker/publish_observer.h"
#include "broker/vhost.h"
#include "channel/channel_core.h"
#include "channel/connection_impl.h"
#include "channel/inproc_channel.h"
#include "gtest/gtest.h"
#include "queue/queue.h"
#include "string_view.h"
#include "warren/status.h"
#include "warren/testing.h"

namespace warren::testkit {
namespace {

// How long a threaded RunUntilIdle waits before calling the test stuck.
constexpr absl::Duration kIdleTimeout = absl::Seconds(30);

// Seeds a TestBroker made without one (TestBrokerOptions::seed).
constexpr char kSeedVariable[] = "WARREN_TEST_SEED";

// The seed of a deterministic TestBroker: its own, or the environment's.
std::optional<uint64_t> SeedFor(const TestBrokerOptions& options) {
  if (options.mode == TestMode::kThreaded) return std::nullopt;
  if (options.seed) return options.seed;
  const char* from_environment = std::getenv(kSeedVariable);
  if (from_environment == nullptr) return std::nullopt;
  uint64_t seed = 0;
  if (!absl::SimpleAtoi(from_environment, &seed)) {
    ADD_FAILURE() << kSeedVariable << "=" << from_environment << " is not a seed (a number)";
    return std::nullopt;
  }
  return seed;
}

BrokerOptions ToBrokerOptions(const TestBrokerOptions& options, std::optional<uint64_t> seed,
                              ManualClock* clock) {
  if (options.mode == TestMode::kThreaded) {
    return BrokerOptions{.dispatch = Dispatch::kThreadPool,
                         .dispatch_threads = std::max(1, options.threads),
                         .clock = clock};
  }
  return BrokerOptions{.dispatch = Dispatch::kManual, .clock = clock, .dispatch_seed = seed};
}

// The publish observer: records accepted publishes and fires armed faults.
class Recorder final : public broker::PublishObserver {
 public:
  broker::PublishVerdict OnPublish(const broker::PublishEvent& event) override {
    PublishedMessage published{std::string(event.vhost), std::string(event.exchange),
                               std::string(event.routing_key), event.message,
                               event.options.mandatory};
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      const bool applies = !it->nack || event.confirming;
      if (!applies || !it->which.Matches(published)) continue;
      broker::PublishVerdict verdict{it->error, it->nack};
      faults_.erase(it);
      return verdict;
    }
    log_.push_back(std::move(published));
    return {};
  }

  void OnDeadLetter(const broker::PublishEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back({std::string(event.vhost), std::string(event.exchange),
                    std::string(event.routing_key), event.message, /*mandatory=*/false,
                    /*dead_lettered=*/true});
  }

  void Arm(absl::Status error, bool nack, PublishMatcher which) {
    std::lock_guard<std::mutex> lock(mu_);
    faults_.push_back({std::move(error), nack, std::move(which)});
  }

  size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return faults_.size();
  }

  std::vector<PublishedMessage> Log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }

 private:
  struct Fault {
    absl::Status error;  // refuse with it, unless OK
    bool nack;
    PublishMatcher which;
  };

  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  std::vector<PublishedMessage> log_;
};

}  // namespace

class TestBroker::State {
 public:
  explicit State(const TestBrokerOptions& options)
      : mode(options.mode),
        seed(SeedFor(options)),
        broker(Broker::Create(ToBrokerOptions(options, seed, &clock)).value()),
        own_connection(broker->Connect().value()),
        // The broker's internals are reached through a connection of its
        // own; warren/broker.h befriends the kit only to name their type.
        impl(dynamic_cast<channel::InprocConnection&>(*own_connection)
                 .core()
                 ->broker()
                 .shared_from_this()),
        recorder(std::make_shared<Recorder>()) {
    impl->publish_observer().Set(recorder);
    if (seed) {
      seed_trace.emplace(__FILE__, __LINE__,
                         absl::StrCat("the TestBroker ran under seed ", *seed,
                                      ": replay it with {.seed = ", *seed, "}, or with ",
                                      kSeedVariable, "=", *seed,
                                      " for a TestBroker made without a seed"));
    }
  }

  ~State() {
    impl->publish_observer().Set(nullptr);
    own_channel.reset();
    own_connection.reset();
    broker.reset();
  }

  // The vhost, or null after a test failure naming it.
  std::shared_ptr<broker::VirtualHost> VirtualHost(std::string_view name) const {
    std::shared_ptr<broker::VirtualHost> vhost = impl->FindVirtualHost(name);
    if (!vhost) ADD_FAILURE() << "no virtual host '" << name << "'";
    return vhost;
  }

  // The queue, or null; a test failure only when `must_exist`.
  std::shared_ptr<queue::Queue> Queue(std::string_view name, std::string_view vhost_name,
                                      bool must_exist) const {
    std::shared_ptr<broker::VirtualHost> vhost = VirtualHost(vhost_name);
    if (!vhost) return nullptr;
    for (std::shared_ptr<queue::Queue>& q : vhost->Queues()) {
      if (q->config().name == name) return std::move(q);
    }
    if (must_exist) {
      ADD_FAILURE() << "no queue '" << name << "' in virtual host '" << vhost_name << "'";
    }
    return nullptr;
  }

  // The in-process channel behind `channel`, or null after a test failure
  // when it is not one of this broker's (another broker's is misuse too).
  const channel::InprocChannel* InprocOf(const Channel& channel) const {
    const auto* inproc = dynamic_cast<const channel::InprocChannel*>(&channel);
    if (inproc == nullptr || &inproc->connection()->broker() != impl.get()) {
      ADD_FAILURE() << "the channel is not one of this TestBroker's";
      return nullptr;
    }
    return inproc;
  }

  const TestMode mode;
  const std::optional<uint64_t> seed;
  // Names the seed in every failure of the test while the broker lives.
  std::optional<::testing::ScopedTrace> seed_trace;
  ManualClock clock;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Connection> own_connection;
  std::unique_ptr<Channel> own_channel;
  const std::shared_ptr<Broker::Impl> impl;
  const std::shared_ptr<Recorder> recorder;
};

TestBroker::TestBroker(TestBrokerOptions options)
    : state_(std::make_unique<State>(options)) {}

TestBroker::~TestBroker() = default;

Broker& TestBroker::broker() const { return *state_->broker; }

std::optional<uint64_t> TestBroker::seed() const { return state_->seed; }

ManualClock& TestBroker::clock() const { return state_->clock; }

absl::StatusOr<std::unique_ptr<Connection>> TestBroker::Connect(ConnectOptions options) {
  return state_->broker->Connect(std::move(options));
}

absl::StatusOr<std::unique_ptr<Channel>> TestBroker::OpenChannel() {
  return state_->own_connection->OpenChannel();
}

absl::Status TestBroker::Publish(std::string_view exchange, std::string_view routing_key,
                                 const Message& message, const PublishOptions& options) {
  std::unique_ptr<Channel>& channel = state_->own_channel;
  if (!channel || !channel->is_open()) {
    absl::StatusOr<std::unique_ptr<Channel>> opened = OpenChannel();
    if (!opened.ok()) return opened.status();
    channel = *std::move(opened);
  }
  return channel->BasicPublish(exchange, routing_key, message, options);
}

void TestBroker::RunUntilIdle() {
  if (state_->mode == TestMode::kThreaded) {
    if (!state_->impl->dispatcher().WaitUntilIdle(kIdleTimeout)) {
      ADD_FAILURE() << "the broker's threads did not become idle within " << kIdleTimeout;
    }
    return;
  }
  while (state_->broker->ProcessEvents() > 0) {
  }
}

void TestBroker::AdvanceTime(absl::Duration d) {
  state_->clock.Advance(d);
  RunUntilIdle();
}

std::vector<QueuedMessage> TestBroker::MessagesIn(std::string_view queue,
                                                  std::string_view vhost) const {
  std::vector<QueuedMessage> messages;
  std::shared_ptr<queue::Queue> q = state_->Queue(queue, vhost, /*must_exist=*/true);
  if (!q) return messages;
  for (const queue::Envelope& e : q->ReadyMessages()) {
    const queue::Publication& p = *e.publication;
    messages.push_back({p.exchange, p.routing_key, p.message, e.redelivered});
  }
  return messages;
}

bool TestBroker::HasQueue(std::string_view queue, std::string_view vhost) const {
  return state_->Queue(queue, vhost, /*must_exist=*/false) != nullptr;
}

std::vector<Delivery> TestBroker::UnackedOn(const Channel& channel) const {
  const channel::InprocChannel* inproc = state_->InprocOf(channel);
  if (inproc == nullptr) return {};
  return inproc->core()->UnackedDeliveries();
}

std::vector<Binding> TestBroker::BindingsOf(std::string_view exchange,
                                            std::string_view vhost_name) const {
  std::vector<Binding> bindings;
  std::shared_ptr<broker::VirtualHost> vhost = state_->VirtualHost(vhost_name);
  if (!vhost) return bindings;
  if (exchange.empty()) {
    for (const std::shared_ptr<queue::Queue>& q : vhost->Queues()) {
      bindings.push_back({q->config().name, q->config().name, {}, false});
    }
    // The vhost keeps queues in a hash map; a name order is reproducible.
    std::sort(bindings.begin(), bindings.end(),
              [](const Binding& a, const Binding& b) { return a.destination < b.destination; });
    return bindings;
  }
  absl::StatusOr<std::vector<broker::VirtualHost::BindingView>> views =
      vhost->BindingsOf(exchange);
  if (!views.ok()) {
    ADD_FAILURE() << views.status().message();
    return bindings;
  }
  for (broker::VirtualHost::BindingView& v : *views) {
    bindings.push_back(
        {std::move(v.destination), std::move(v.routing_key), std::move(v.arguments), v.to_exchange});
  }
  return bindings;
}

std::vector<ConsumerInfo> TestBroker::ConsumersOf(std::string_view queue,
                                                  std::string_view vhost) const {
  std::vector<ConsumerInfo> consumers;
  std::shared_ptr<queue::Queue> q = state_->Queue(queue, vhost, /*must_exist=*/true);
  if (!q) return consumers;
  for (queue::Queue::ConsumerState& c : q->Consumers()) {
    consumers.push_back(
        {std::move(c.tag), c.priority, c.prefetch, c.unacked, c.no_ack, c.exclusive});
  }
  return consumers;
}

std::vector<PublishedMessage> TestBroker::Published() const { return state_->recorder->Log(); }

std::vector<PublishedMessage> TestBroker::PublishedTo(std::string_view exchange,
                                                      std::string_view vhost) const {
  std::vector<PublishedMessage> to_exchange = Published();
  std::erase_if(to_exchange, [&](const PublishedMessage& p) {
    return p.exchange != exchange || p.vhost != vhost;
  });
  return to_exchange;
}

void TestBroker::ClearPublished() { state_->recorder->Clear(); }

void TestBroker::FailNextPublish(absl::Status error, PublishMatcher which) {
  if (error.ok()) {
    ADD_FAILURE() << "FailNextPublish needs an error";
    return;
  }
  state_->recorder->Arm(std::move(error), /*nack=*/false, std::move(which));
}

void TestBroker::NackNextConfirm(PublishMatcher which) {
  state_->recorder->Arm(absl::OkStatus(), /*nack=*/true, std::move(which));
}

size_t TestBroker::pending_faults() const { return state_->recorder->pending(); }

void TestBroker::CloseChannel(Channel& channel, absl::Status reason) {
  const channel::InprocChannel* inproc = state_->InprocOf(channel);
  if (inproc == nullptr) return;
  // As InprocChannel::Fail: a connection-level code takes the connection.
  if (IsConnectionError(ReplyCodeOf(reason))) {
    inproc->connection()->CloseWith(std::move(reason));
  } else {
    inproc->core()->Close(std::move(reason));
  }
}

void TestBroker::CloseConnection(Connection& connection, absl::Status reason) {
  auto* inproc = dynamic_cast<channel::InprocConnection*>(&connection);
  if (inproc == nullptr || &inproc->core()->broker() != state_->impl.get()) {
    ADD_FAILURE() << "the connection is not one of this TestBroker's";
    return;
  }
  inproc->core()->CloseWith(std::move(reason));
}

void TestBroker::CancelConsumer(Channel& channel, std::string_view consumer_tag) {
  const channel::InprocChannel* inproc = state_->InprocOf(channel);
  if (inproc == nullptr) return;
  std::shared_ptr<queue::Consumer> consumer;
  std::shared_ptr<queue::Queue> q;
  if (!inproc->core()->FindConsumer(std::string(consumer_tag), &consumer, &q)) {
    ADD_FAILURE() << "no consumer '" << consumer_tag << "' on the channel";
    return;
  }
  if (!q) {
    ADD_FAILURE() << "'" << consumer_tag << "' consumes direct reply-to, which RabbitMQ "
                  << "never cancels";
    return;
  }
  q->CancelConsumer(consumer);
}

}  // namespace warren::testkit
