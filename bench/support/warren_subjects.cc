// warren subjects: topology set-up, publishing loops and counting callbacks.
#include "support/warren_subjects.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "warren/broker.h"
#include "warren/connect.h"

namespace warren_bench {
namespace {

constexpr std::string_view kExchange = "bench.x";

// A failed publish or ack in a measuring loop would make every figure
// after it meaningless: stop the run loudly.
void Require(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s failed: %s\n", what, status.ToString().c_str());
  std::abort();
}

bool Ok(const absl::Status& status, const char* what, std::string* error) {
  if (status.ok()) return true;
  *error = absl::StrCat(what, ": ", status.ToString());
  return false;
}

// The routing key a publish carries and the binding that takes it, per
// exchange type; headers exchanges match on the message's headers instead.
struct Route {
  std::string binding_key;
  warren::FieldTable binding_arguments;
  std::string routing_key;
  std::optional<warren::FieldTable> headers;
};

Route RouteFor(std::string_view exchange_type) {
  if (exchange_type == warren::kTopic) {
    return {"bench.*.created", {}, "bench.orders.created", std::nullopt};
  }
  if (exchange_type == warren::kHeaders) {
    return {"", {{"x-match", "all"}, {"kind", "bench"}}, "", warren::FieldTable{{"kind", "bench"}}};
  }
  return {"bench", {}, "bench", std::nullopt};
}

// A broker (in-process, or RabbitMQ at a URL) with one exchange and its
// queues; what every subject here needs.
class Topology {
 public:
  bool Build(const warren::BrokerOptions& options, std::string_view url,
             std::string_view exchange_type, int queues, std::string* error) {
    if (url.empty()) {
      auto broker = warren::Broker::Create(options);
      if (!Ok(broker.status(), "Broker::Create", error)) return false;
      broker_ = *std::move(broker);
      auto connection = broker_->Connect();
      if (!Ok(connection.status(), "Connect", error)) return false;
      connection_ = *std::move(connection);
    } else {
      if (options.dispatch != warren::Dispatch::kThreadPool) {
        *error = "a spinning consumer needs an in-process broker";
        return false;
      }
      auto connection = warren::Connect(url);
      if (!Ok(connection.status(), "Connect", error)) return false;
      connection_ = *std::move(connection);
    }
    admin_ = NewChannel(error);
    if (admin_ == nullptr) return false;
    queues_ = queues;
    route_ = RouteFor(exchange_type);
    // What an earlier run left on a real broker (another exchange type,
    // messages) would skew this one.
    if (broker_ == nullptr) DeleteDeclared();
    if (!Ok(admin_->ExchangeDeclare(kExchange, exchange_type), "ExchangeDeclare", error)) {
      return false;
    }
    for (int q = 0; q < queues; ++q) {
      const std::string name = QueueName(q);
      if (!Ok(admin_->QueueDeclare(name).status(), "QueueDeclare", error) ||
          !Ok(admin_->QueueBind(name, kExchange, route_.binding_key, route_.binding_arguments),
              "QueueBind", error)) {
        return false;
      }
    }
    return true;
  }

  // Destroying the broker first waits for running callbacks, which may
  // use the channels, to return. A real broker keeps what was declared
  // unless deleted.
  ~Topology() {
    if (broker_ == nullptr && admin_ != nullptr) DeleteDeclared();
    broker_.reset();
  }

  warren::Channel* NewChannel(std::string* error) {
    auto channel = connection_->OpenChannel();
    if (!Ok(channel.status(), "OpenChannel", error)) return nullptr;
    channels_.push_back(*std::move(channel));
    return channels_.back().get();
  }

  static std::string QueueName(int q) { return absl::StrCat("bench.q", q); }
  warren::Broker& broker() { return *broker_; }
  const Route& route() const { return route_; }

 private:
  void DeleteDeclared() {
    for (int q = 0; q < queues_; ++q) admin_->QueueDelete(QueueName(q)).IgnoreError();
    admin_->ExchangeDelete(kExchange).IgnoreError();
  }

  std::unique_ptr<warren::Broker> broker_;
  std::unique_ptr<warren::Connection> connection_;
  std::vector<std::unique_ptr<warren::Channel>> channels_;
  warren::Channel* admin_ = nullptr;
  int queues_ = 0;
  Route route_;
};

// Runs ProcessEvents() on a thread of its own while started.
class SpinningDispatch {
 public:
  explicit SpinningDispatch(bool yield_when_idle) : yield_when_idle_(yield_when_idle) {}
  ~SpinningDispatch() { Stop(); }

  void Start(warren::Broker* broker) {
    stop_.store(false, std::memory_order_relaxed);
    thread_ = std::thread([this, broker] {
      Backoff backoff;
      while (!stop_.load(std::memory_order_relaxed)) {
        if (broker->ProcessEvents(absl::ZeroDuration()) > 0) {
          backoff.Reset();
        } else if (yield_when_idle_) {
          backoff.Idle();
        }
      }
    });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }

 private:
  const bool yield_when_idle_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

warren::BrokerOptions OptionsFor(bool spinning_consumer) {
  warren::BrokerOptions options;
  if (spinning_consumer) options.dispatch = warren::Dispatch::kManual;
  return options;
}

class WarrenSubject final : public ProducerConsumerSubject {
 public:
  explicit WarrenSubject(const WarrenConfig& config)
      : ProducerConsumerSubject(config.shape),
        config_(config),
        dispatch_(/*yield_when_idle=*/true) {}

  bool Build(std::string* error) {
    if (!topology_.Build(OptionsFor(config_.spinning_consumer), config_.url,
                         config_.exchange_type, shape_.fanout, error)) {
      return false;
    }
    warren::BasicProperties properties;
    properties.headers = topology_.route().headers;
    body_ = std::string(shape_.body_bytes, 'w');
    message_ = warren::Message(body_, properties);
    for (int p = 0; p < shape_.producers; ++p) {
      warren::Channel* channel = topology_.NewChannel(error);
      if (channel == nullptr) return false;
      producers_.push_back(channel);
    }
    for (int c = 0; c < shape_.consumers; ++c) {
      warren::Channel* channel = topology_.NewChannel(error);
      if (channel == nullptr) return false;
      if (config_.manual_ack &&
          !Ok(channel->BasicQos(config_.prefetch), "BasicQos", error)) {
        return false;
      }
      for (int q : shape_.QueuesOf(c)) {
        auto tag = channel->BasicConsume(Topology::QueueName(q), Callback(c, channel),
                                         {.no_ack = !config_.manual_ack});
        if (!Ok(tag.status(), "BasicConsume", error)) return false;
      }
    }
    return true;
  }

 protected:
  void Produce(int producer, int64_t count) override {
    warren::Channel& channel = *producers_[producer];
    const std::string& key = topology_.route().routing_key;
    if (config_.publish_batch > 1) {
      const std::vector<warren::Message> batch(config_.publish_batch, message_);
      for (int64_t sent = 0; sent < count;) {
        const size_t n = static_cast<size_t>(std::min<int64_t>(batch.size(), count - sent));
        Require(channel.BasicPublishBatch(kExchange, key, std::span(batch).first(n)),
                "BasicPublishBatch");
        sent += static_cast<int64_t>(n);
      }
    } else if (config_.fresh_message) {
      const warren::BasicProperties& properties = message_.properties();
      for (int64_t i = 0; i < count; ++i) {
        Require(channel.BasicPublish(kExchange, key, warren::Message(body_, properties)),
                "BasicPublish");
      }
    } else {
      for (int64_t i = 0; i < count; ++i) {
        Require(channel.BasicPublish(kExchange, key, message_), "BasicPublish");
      }
    }
  }
  void BeginBatch() override {
    if (config_.spinning_consumer) dispatch_.Start(&topology_.broker());
  }
  void EndBatch() override { dispatch_.Stop(); }

 private:
  warren::ConsumerCallback Callback(int consumer, warren::Channel* channel) {
    if (config_.manual_ack) {
      return [this, consumer, channel](const warren::Delivery& d) {
        benchmark::DoNotOptimize(d.message.body().data());
        Require(channel->BasicAck(d.delivery_tag), "BasicAck");
        delivered_.Add(consumer);
      };
    }
    return [this, consumer](const warren::Delivery& d) {
      benchmark::DoNotOptimize(d.message.body().data());
      delivered_.Add(consumer);
    };
  }

  const WarrenConfig config_;
  std::string body_;
  warren::Message message_;
  std::vector<warren::Channel*> producers_;
  // Declared after what the callbacks use, so destroyed (with the broker,
  // which waits for running callbacks) before it.
  Topology topology_;
  SpinningDispatch dispatch_;
};

class WarrenPinger final : public Pinger {
 public:
  explicit WarrenPinger(bool spinning_consumer)
      : spinning_consumer_(spinning_consumer), dispatch_(/*yield_when_idle=*/false) {}

  bool Build(std::string_view url, std::string* error) {
    if (!topology_.Build(OptionsFor(spinning_consumer_), url, warren::kDirect, 1, error)) {
      return false;
    }
    warren::Channel* consumer = topology_.NewChannel(error);
    producer_ = topology_.NewChannel(error);
    if (consumer == nullptr || producer_ == nullptr) return false;
    auto tag = consumer->BasicConsume(
        Topology::QueueName(0), [this](const warren::Delivery&) { Received(); },
        {.no_ack = true});
    return Ok(tag.status(), "BasicConsume", error);
  }

  bool ConsumerSleeps() const override { return !spinning_consumer_; }
  void BeginPhase() override {
    if (spinning_consumer_) dispatch_.Start(&topology_.broker());
  }
  void EndPhase() override { dispatch_.Stop(); }

 protected:
  void Send() override {
    Require(producer_->BasicPublish(kExchange, topology_.route().routing_key, message_),
            "BasicPublish");
  }

 private:
  const bool spinning_consumer_;
  const warren::Message message_{std::string(64, 'w')};
  warren::Channel* producer_ = nullptr;
  Topology topology_;
  SpinningDispatch dispatch_;
};

}  // namespace

std::unique_ptr<Subject> MakeWarrenSubject(const WarrenConfig& config, std::string* error) {
  auto subject = std::make_unique<WarrenSubject>(config);
  if (!subject->Build(error)) return nullptr;
  return subject;
}

std::unique_ptr<Pinger> MakeWarrenPinger(bool spinning_consumer, std::string_view url,
                                         std::string* error) {
  auto pinger = std::make_unique<WarrenPinger>(spinning_consumer);
  if (!pinger->Build(url, error)) return nullptr;
  return pinger;
}

}  // namespace warren_bench
