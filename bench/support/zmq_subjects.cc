// ZeroMQ subjects. Sockets are made on the set-up thread and used by one
// batch thread at a time; thread start and join are the full barriers
// ZeroMQ asks for when a socket moves between threads.
#include "support/zmq_subjects.h"

#include <zmq.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace warren_bench {
namespace {

// How often a blocked consumer looks at its stop flag.
constexpr int kReceiveTimeoutMs = 10;

std::string ZmqError(const char* what) {
  return absl::StrCat("ZeroMQ ", what, ": ", zmq_strerror(zmq_errno()));
}

// Each subject's endpoints are unique in the process.
std::string Endpoint(const char* kind, int index) {
  static std::atomic<int> next{0};
  return absl::StrCat("inproc://warren-bench-", kind, "-", next.fetch_add(1), "-", index);
}

class Context {
 public:
  Context() : context_(zmq_ctx_new()) {}
  ~Context() {
    for (void* socket : sockets_) zmq_close(socket);
    zmq_ctx_term(context_);
  }

  // A socket of `type`, with the given options; null with *error on failure.
  void* NewSocket(int type, std::string* error) {
    void* socket = zmq_socket(context_, type);
    if (socket == nullptr) {
      *error = ZmqError("zmq_socket");
      return nullptr;
    }
    sockets_.push_back(socket);
    const int linger = 0;
    const int timeout = kReceiveTimeoutMs;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return socket;
  }

 private:
  void* context_;
  std::vector<void*> sockets_;
};

bool SetHighWaterMarks(void* socket, int messages, std::string* error) {
  if (zmq_setsockopt(socket, ZMQ_SNDHWM, &messages, sizeof messages) != 0 ||
      zmq_setsockopt(socket, ZMQ_RCVHWM, &messages, sizeof messages) != 0) {
    *error = ZmqError("zmq_setsockopt HWM");
    return false;
  }
  return true;
}

// Consumer threads that block in ZeroMQ and stop at the next timeout.
class ZmqSubjectBase : public ProducerConsumerSubject {
 public:
  explicit ZmqSubjectBase(const Shape& shape)
      : ProducerConsumerSubject(shape), body_(shape.body_bytes, 'z') {}

 protected:
  void Produce(int producer, int64_t count) override {
    void* socket = producers_[producer];
    for (int64_t i = 0; i < count; ++i) zmq_send(socket, body_.data(), body_.size(), 0);
  }
  void BeginBatch() override {
    stop_.store(false, std::memory_order_relaxed);
    consumers_ = std::make_unique<ThreadTeam>(shape_.consumers, [this](int c) { Consume(c); });
    consumers_->Release();
  }
  void EndBatch() override {
    stop_.store(true, std::memory_order_relaxed);
    consumers_.reset();
  }

  // Polls the consumer's sockets and receives what is ready on each.
  void Consume(int consumer) {
    std::vector<zmq_pollitem_t> items;
    for (void* socket : sockets_of_[consumer]) items.push_back({socket, 0, ZMQ_POLLIN, 0});
    std::vector<char> buffer(body_.size());
    while (!stop_.load(std::memory_order_relaxed)) {
      if (zmq_poll(items.data(), static_cast<int>(items.size()), kReceiveTimeoutMs) <= 0) {
        continue;
      }
      for (const zmq_pollitem_t& item : items) {
        while (zmq_recv(item.socket, buffer.data(), buffer.size(), ZMQ_DONTWAIT) >= 0) {
          benchmark::DoNotOptimize(buffer.data());
          delivered_.Add(consumer);
        }
      }
    }
  }

  Context context_;
  const std::string body_;
  std::vector<void*> producers_;
  std::vector<std::vector<void*>> sockets_of_;  // by consumer

 private:
  std::atomic<bool> stop_{false};
  std::unique_ptr<ThreadTeam> consumers_;
};

class ZmqPushPullSubject final : public ZmqSubjectBase {
 public:
  using ZmqSubjectBase::ZmqSubjectBase;

  bool Build(std::string* error) {
    std::vector<std::string> endpoints;
    for (int c = 0; c < shape_.consumers; ++c) {
      void* pull = context_.NewSocket(ZMQ_PULL, error);
      endpoints.push_back(Endpoint("pull", c));
      if (pull == nullptr) return false;
      if (zmq_bind(pull, endpoints.back().c_str()) != 0) {
        *error = ZmqError("zmq_bind");
        return false;
      }
      sockets_of_.push_back({pull});
    }
    for (int p = 0; p < shape_.producers; ++p) {
      void* push = context_.NewSocket(ZMQ_PUSH, error);
      if (push == nullptr) return false;
      for (const std::string& endpoint : endpoints) {
        if (zmq_connect(push, endpoint.c_str()) != 0) {
          *error = ZmqError("zmq_connect");
          return false;
        }
      }
      producers_.push_back(push);
    }
    return true;
  }
};

class ZmqPubSubSubject final : public ZmqSubjectBase {
 public:
  using ZmqSubjectBase::ZmqSubjectBase;

  bool Build(std::string* error) {
    void* pub = context_.NewSocket(ZMQ_PUB, error);
    if (pub == nullptr || !SetHighWaterMarks(pub, 0, error)) return false;
    const std::string endpoint = Endpoint("pub", 0);
    if (zmq_bind(pub, endpoint.c_str()) != 0) {
      *error = ZmqError("zmq_bind");
      return false;
    }
    producers_.push_back(pub);
    std::vector<void*> subs;
    for (int q = 0; q < shape_.fanout; ++q) {
      void* sub = context_.NewSocket(ZMQ_SUB, error);
      if (sub == nullptr || !SetHighWaterMarks(sub, 0, error)) return false;
      if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
          zmq_connect(sub, endpoint.c_str()) != 0) {
        *error = ZmqError("zmq_connect SUB");
        return false;
      }
      subs.push_back(sub);
    }
    sockets_of_.resize(shape_.consumers);
    for (int c = 0; c < shape_.consumers; ++c) {
      for (int q : shape_.QueuesOf(c)) sockets_of_[c].push_back(subs[q]);
    }
    return AwaitSubscriptions(pub, subs, error);
  }

 private:
  // Subscriptions reach a PUB socket asynchronously, and it drops what no
  // subscriber has asked for yet: probe until every SUB socket hears, then
  // drain the probes.
  static bool AwaitSubscriptions(void* pub, const std::vector<void*>& subs, std::string* error) {
    std::vector<bool> heard(subs.size(), false);
    char byte = 0;
    for (int attempt = 0; attempt < 5000; ++attempt) {
      zmq_send(pub, &byte, 1, 0);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      bool all = true;
      for (size_t i = 0; i < subs.size(); ++i) {
        while (zmq_recv(subs[i], &byte, 1, ZMQ_DONTWAIT) >= 0) heard[i] = true;
        all = all && heard[i];
      }
      if (all) return true;
    }
    *error = "ZeroMQ SUB sockets never heard the PUB socket";
    return false;
  }
};

class ZmqPinger final : public Pinger {
 public:
  bool Build(std::string* error) {
    void* pull = context_.NewSocket(ZMQ_PULL, error);
    push_ = context_.NewSocket(ZMQ_PUSH, error);
    if (pull == nullptr || push_ == nullptr) return false;
    const std::string endpoint = Endpoint("ping", 0);
    if (zmq_bind(pull, endpoint.c_str()) != 0 || zmq_connect(push_, endpoint.c_str()) != 0) {
      *error = ZmqError("zmq_bind/connect");
      return false;
    }
    consumer_ = std::thread([this, pull] {
      char buffer[64];
      while (!stop_.load(std::memory_order_relaxed)) {
        if (zmq_recv(pull, buffer, sizeof buffer, 0) >= 0) {
          benchmark::DoNotOptimize(buffer);
          Received();
        }
      }
    });
    return true;
  }
  ~ZmqPinger() override {
    stop_.store(true, std::memory_order_relaxed);
    if (consumer_.joinable()) consumer_.join();
  }
  bool ConsumerSleeps() const override { return true; }

 protected:
  void Send() override { zmq_send(push_, body_, sizeof body_, 0); }

 private:
  Context context_;
  void* push_ = nullptr;
  char body_[64] = {};
  std::atomic<bool> stop_{false};
  std::thread consumer_;
};

}  // namespace

std::unique_ptr<Subject> MakeZmqPushPullSubject(const Shape& shape, std::string* error) {
  if (shape.fanout != 1) {
    *error = "PUSH/PULL has no fanout; use PUB/SUB";
    return nullptr;
  }
  auto subject = std::make_unique<ZmqPushPullSubject>(shape);
  if (!subject->Build(error)) return nullptr;
  return subject;
}

std::unique_ptr<Subject> MakeZmqPubSubSubject(const Shape& shape, std::string* error) {
  if (shape.producers != 1) {
    *error = "the PUB/SUB subject has one producer";
    return nullptr;
  }
  auto subject = std::make_unique<ZmqPubSubSubject>(shape);
  if (!subject->Build(error)) return nullptr;
  return subject;
}

std::unique_ptr<Pinger> MakeZmqPinger(std::string* error) {
  auto pinger = std::make_unique<ZmqPinger>();
  if (!pinger->Build(error)) return nullptr;
  return pinger;
}

}  // namespace warren_bench
