// RabbitMQ subjects over rabbitmq-c's blocking API. Each connection is used
// by one thread at a time: set up on the calling thread, then handed to a
// batch thread, with thread start and join in between.
#include "support/rabbitmq_subjects.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace warren_bench {
namespace {

constexpr char kHost[] = "127.0.0.1";
constexpr int kPort = 5672;
constexpr amqp_channel_t kChannel = 1;
// How often a consumer waiting for a delivery looks at its stop flag.
constexpr int kReceiveTimeoutUs = 10'000;

amqp_bytes_t Bytes(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

std::string ReplyError(const char* what, const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return absl::StrCat(what, ": ", amqp_error_string2(reply.library_error));
    default:
      return absl::StrCat(what, ": the broker refused it (method ", reply.reply.id, ")");
  }
}

class AmqpConnection {
 public:
  // Null with *error when no broker answers or it refuses the login.
  static std::unique_ptr<AmqpConnection> Open(std::string* error) {
    // One failed attempt answers for the whole process: without a broker,
    // every RabbitMQ benchmark is skipped at once.
    static std::atomic<bool> unreachable{false};
    const std::string where = "no RabbitMQ broker answers at amqp://guest:guest@127.0.0.1:5672/";
    if (unreachable.load()) {
      *error = where;
      return nullptr;
    }
    auto connection = std::unique_ptr<AmqpConnection>(new AmqpConnection());
    amqp_socket_t* socket = amqp_tcp_socket_new(connection->state_);
    timeval timeout{1, 0};
    if (socket == nullptr || amqp_socket_open_noblock(socket, kHost, kPort, &timeout) != 0) {
      unreachable.store(true);
      *error = where;
      return nullptr;
    }
    connection->open_ = true;
    *error = ReplyError("login", amqp_login(connection->state_, "/", 0, 131072, 0,
                                            AMQP_SASL_METHOD_PLAIN, "guest", "guest"));
    if (!error->empty()) return nullptr;
    amqp_channel_open(connection->state_, kChannel);
    if (!connection->Check("channel.open", error)) return nullptr;
    return connection;
  }

  ~AmqpConnection() {
    if (open_) amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }

  amqp_connection_state_t state() const { return state_; }

  // After a synchronous method: false with *error when it failed.
  bool Check(const char* what, std::string* error) {
    *error = ReplyError(what, amqp_get_rpc_reply(state_));
    return error->empty();
  }

 private:
  AmqpConnection() : state_(amqp_new_connection()) {}

  amqp_connection_state_t state_;
  bool open_ = false;
};

// Names unique on the broker, which other runs may share.
std::string UniqueName(const std::string& what) {
  static std::atomic<int> next{0};
  return absl::StrCat("warren-bench-", getpid(), "-", next.fetch_add(1), "-", what);
}

// Waits for deliveries on `connection` until `stop`; calls on_delivery with
// each delivery tag.
template <typename OnDelivery>
void ConsumeUntil(AmqpConnection& connection, const std::atomic<bool>& stop,
                  OnDelivery on_delivery) {
  timeval timeout{0, kReceiveTimeoutUs};
  while (!stop.load(std::memory_order_relaxed)) {
    amqp_maybe_release_buffers(connection.state());
    amqp_envelope_t envelope;
    const amqp_rpc_reply_t reply = amqp_consume_message(connection.state(), &envelope, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      benchmark::DoNotOptimize(envelope.message.body.bytes);
      on_delivery(envelope.delivery_tag);
      amqp_destroy_envelope(&envelope);
      continue;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
      continue;
    }
    // A consumer that stops counting would leave the batch waiting forever.
    std::fprintf(stderr, "%s\n", ReplyError("RabbitMQ consume", reply).c_str());
    std::abort();
  }
}

void Publish(AmqpConnection& connection, const std::string& exchange, const std::string& key,
             const std::string& body) {
  const int status = amqp_basic_publish(connection.state(), kChannel, Bytes(exchange), Bytes(key),
                                        0, 0, nullptr, Bytes(body));
  if (status != AMQP_STATUS_OK) {
    std::fprintf(stderr, "RabbitMQ publish: %s\n", amqp_error_string2(status));
    std::abort();
  }
}

class RabbitSubject final : public ProducerConsumerSubject {
 public:
  RabbitSubject(const Shape& shape, bool manual_ack, uint16_t prefetch)
      : ProducerConsumerSubject(shape),
        manual_ack_(manual_ack),
        prefetch_(prefetch),
        body_(shape.body_bytes, 'r') {}

  ~RabbitSubject() override {
    if (admin_ == nullptr) return;
    for (const std::string& queue : queues_) {
      amqp_queue_delete(admin_->state(), kChannel, Bytes(queue), 0, 0);
    }
    if (shape_.fanout > 1) amqp_exchange_delete(admin_->state(), kChannel, Bytes(exchange_), 0);
  }

  bool Build(std::string* error) {
    admin_ = AmqpConnection::Open(error);
    if (admin_ == nullptr) return false;
    // One queue: amq.direct with the queue's name as key. Several: a
    // fanout exchange of our own.
    exchange_ = shape_.fanout > 1 ? UniqueName("fanout") : "amq.direct";
    if (shape_.fanout > 1) {
      amqp_exchange_declare(admin_->state(), kChannel, Bytes(exchange_),
                            amqp_cstring_bytes("fanout"), 0, 0, 0, 0, amqp_empty_table);
      if (!admin_->Check("exchange.declare", error)) return false;
    }
    for (int q = 0; q < shape_.fanout; ++q) {
      queues_.push_back(UniqueName(absl::StrCat("q", q)));
      amqp_queue_declare(admin_->state(), kChannel, Bytes(queues_.back()), 0, 0, 0, 0,
                         amqp_empty_table);
      if (!admin_->Check("queue.declare", error)) return false;
      amqp_queue_bind(admin_->state(), kChannel, Bytes(queues_.back()), Bytes(exchange_),
                      Bytes(queues_.back()), amqp_empty_table);
      if (!admin_->Check("queue.bind", error)) return false;
    }
    routing_key_ = queues_.front();
    for (int p = 0; p < shape_.producers; ++p) {
      producers_.push_back(AmqpConnection::Open(error));
      if (producers_.back() == nullptr) return false;
    }
    for (int c = 0; c < shape_.consumers; ++c) {
      consumers_.push_back(AmqpConnection::Open(error));
      AmqpConnection* consumer = consumers_.back().get();
      if (consumer == nullptr) return false;
      if (manual_ack_) {
        amqp_basic_qos(consumer->state(), kChannel, 0, prefetch_, 0);
        if (!consumer->Check("basic.qos", error)) return false;
      }
      for (int q : shape_.QueuesOf(c)) {
        amqp_basic_consume(consumer->state(), kChannel, Bytes(queues_[q]), amqp_empty_bytes, 0,
                           manual_ack_ ? 0 : 1, 0, amqp_empty_table);
        if (!consumer->Check("basic.consume", error)) return false;
      }
    }
    return true;
  }

  int64_t BatchSize() const override {
    // RabbitMQ moves about a hundredth of the raw queue's rate.
    return std::max<int64_t>(256, 4096 / shape_.fanout);
  }

 protected:
  void Produce(int producer, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      Publish(*producers_[producer], exchange_, routing_key_, body_);
    }
  }
  void BeginBatch() override {
    stop_.store(false, std::memory_order_relaxed);
    team_ = std::make_unique<ThreadTeam>(shape_.consumers, [this](int c) {
      AmqpConnection& connection = *consumers_[c];
      ConsumeUntil(connection, stop_, [&](uint64_t tag) {
        if (manual_ack_ && amqp_basic_ack(connection.state(), kChannel, tag, 0) != 0) {
          std::fprintf(stderr, "RabbitMQ basic.ack failed\n");
          std::abort();
        }
        delivered_.Add(c);
      });
    });
    team_->Release();
  }
  void EndBatch() override {
    stop_.store(true, std::memory_order_relaxed);
    team_.reset();
  }

 private:
  const bool manual_ack_;
  const uint16_t prefetch_;
  const std::string body_;
  std::unique_ptr<AmqpConnection> admin_;
  std::vector<std::unique_ptr<AmqpConnection>> producers_;
  std::vector<std::unique_ptr<AmqpConnection>> consumers_;
  std::string exchange_;
  std::string routing_key_;
  std::vector<std::string> queues_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<ThreadTeam> team_;
};

class RabbitPinger final : public Pinger {
 public:
  ~RabbitPinger() override {
    stop_.store(true, std::memory_order_relaxed);
    if (consumer_thread_.joinable()) consumer_thread_.join();
    if (producer_ != nullptr) amqp_queue_delete(producer_->state(), kChannel, Bytes(queue_), 0, 0);
  }

  bool Build(std::string* error) {
    producer_ = AmqpConnection::Open(error);
    if (producer_ == nullptr) return false;
    consumer_ = AmqpConnection::Open(error);
    if (consumer_ == nullptr) return false;
    queue_ = UniqueName("ping");
    amqp_queue_declare(producer_->state(), kChannel, Bytes(queue_), 0, 0, 0, 0, amqp_empty_table);
    if (!producer_->Check("queue.declare", error)) return false;
    amqp_basic_consume(consumer_->state(), kChannel, Bytes(queue_), amqp_empty_bytes, 0, 1, 0,
                       amqp_empty_table);
    if (!consumer_->Check("basic.consume", error)) return false;
    consumer_thread_ = std::thread([this] {
      ConsumeUntil(*consumer_, stop_, [this](uint64_t) { Received(); });
    });
    return true;
  }
  bool ConsumerSleeps() const override { return true; }

 protected:
  void Send() override { Publish(*producer_, exchange_, queue_, body_); }

 private:
  const std::string exchange_;  // the default exchange: routed by queue name
  const std::string body_ = std::string(64, 'r');
  std::string queue_;
  std::unique_ptr<AmqpConnection> producer_;
  std::unique_ptr<AmqpConnection> consumer_;
  std::atomic<bool> stop_{false};
  std::thread consumer_thread_;
};

}  // namespace

std::unique_ptr<Subject> MakeRabbitSubject(const Shape& shape, bool manual_ack, uint16_t prefetch,
                                           std::string* error) {
  auto subject = std::make_unique<RabbitSubject>(shape, manual_ack, prefetch);
  if (!subject->Build(error)) return nullptr;
  return subject;
}

std::unique_ptr<Pinger> MakeRabbitPinger(std::string* error) {
  auto pinger = std::make_unique<RabbitPinger>();
  if (!pinger->Build(error)) return nullptr;
  return pinger;
}

}  // namespace warren_bench
