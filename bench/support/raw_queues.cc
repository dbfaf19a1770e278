// The raw queues, templated on the payload size so that a payload is a
// plain value copied through the queue, as a user of the raw queue would.
#include "support/raw_queues.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "concurrentqueue/blockingconcurrentqueue.h"
#include "concurrentqueue/concurrentqueue.h"

namespace warren_bench {
namespace {

template <size_t kBytes>
struct Payload {
  std::array<std::byte, kBytes> bytes{};
};

// SubjectType<N> for the payload size N of `shape`, or null with *error.
template <template <size_t> class SubjectType>
std::unique_ptr<Subject> ForPayloadSize(const Shape& shape, std::string* error) {
  switch (shape.body_bytes) {
    case 64:
      return std::make_unique<SubjectType<64>>(shape);
    case 4096:
      return std::make_unique<SubjectType<4096>>(shape);
    default:
      *error = absl::StrCat("raw queues take 64 B or 4096 B bodies, not ", shape.body_bytes);
      return nullptr;
  }
}

// Consumer threads that run only while a batch does, since they spin.
class SpinningConsumers {
 public:
  template <typename Body>
  void Start(int consumers, Body body) {
    stop_.store(false, std::memory_order_relaxed);
    team_ = std::make_unique<ThreadTeam>(consumers, body);
    team_->Release();
  }
  void Stop() {
    stop_.store(true, std::memory_order_relaxed);
    team_.reset();
  }
  bool running() const { return !stop_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> stop_{false};
  std::unique_ptr<ThreadTeam> team_;
};

template <size_t kBytes>
class RawQueueSubject final : public ProducerConsumerSubject {
 public:
  explicit RawQueueSubject(const Shape& shape)
      : ProducerConsumerSubject(shape), queues_(shape.fanout) {}

 protected:
  void Produce(int /*producer*/, int64_t count) override {
    const Payload<kBytes> message;
    for (int64_t i = 0; i < count; ++i) {
      for (Queue& queue : queues_) queue.enqueue(message);
    }
  }
  void BeginBatch() override {
    consumers_.Start(shape_.consumers, [this](int c) { Consume(c); });
  }
  void EndBatch() override { consumers_.Stop(); }

 private:
  using Queue = moodycamel::ConcurrentQueue<Payload<kBytes>>;

  void Consume(int consumer) {
    std::vector<Queue*> mine;
    for (int q : shape_.QueuesOf(consumer)) mine.push_back(&queues_[q]);
    Payload<kBytes> received;
    Backoff backoff;
    while (consumers_.running()) {
      bool got = false;
      for (Queue* queue : mine) {
        while (queue->try_dequeue(received)) {
          benchmark::DoNotOptimize(received.bytes.data());
          delivered_.Add(consumer);
          got = true;
        }
      }
      if (got) {
        backoff.Reset();
      } else {
        backoff.Idle();
      }
    }
  }

  std::deque<Queue> queues_;
  SpinningConsumers consumers_;
};

constexpr size_t kBulk = 32;

template <size_t kBytes>
class RawBulkQueueSubject final : public ProducerConsumerSubject {
 public:
  explicit RawBulkQueueSubject(const Shape& shape) : ProducerConsumerSubject(shape) {}

 protected:
  void Produce(int /*producer*/, int64_t count) override {
    moodycamel::ProducerToken token(queue_);
    std::array<Payload<kBytes>, kBulk> bulk{};
    for (int64_t sent = 0; sent < count; sent += kBulk) {
      queue_.enqueue_bulk(token, bulk.begin(), std::min<int64_t>(kBulk, count - sent));
    }
  }
  void BeginBatch() override {
    consumers_.Start(1, [this](int) {
      moodycamel::ConsumerToken token(queue_);
      std::array<Payload<kBytes>, kBulk> bulk;
      Backoff backoff;
      while (consumers_.running()) {
        const size_t n = queue_.try_dequeue_bulk(token, bulk.begin(), kBulk);
        if (n == 0) {
          backoff.Idle();
          continue;
        }
        backoff.Reset();
        for (size_t i = 0; i < n; ++i) {
          benchmark::DoNotOptimize(bulk[i].bytes.data());
          delivered_.Add(0);
        }
      }
    });
  }
  void EndBatch() override { consumers_.Stop(); }

 private:
  moodycamel::ConcurrentQueue<Payload<kBytes>> queue_;
  SpinningConsumers consumers_;
};

// What users write by hand: one lock per message on each side, a notify
// per message.
template <typename T>
class MutexQueue {
 public:
  void Push(const T& item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(item);
    }
    ready_.notify_one();
  }
  // Blocks for the next item; false once stopped and empty.
  bool Pop(T* item) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [this] { return !items_.empty() || stopped_; });
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    ready_.notify_all();
  }
  void Restart() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool stopped_ = false;
};

template <size_t kBytes>
class MutexQueueSubject final : public ProducerConsumerSubject {
 public:
  explicit MutexQueueSubject(const Shape& shape) : ProducerConsumerSubject(shape) {}

 protected:
  void Produce(int /*producer*/, int64_t count) override {
    const Payload<kBytes> message;
    for (int64_t i = 0; i < count; ++i) queue_.Push(message);
  }
  void BeginBatch() override {
    queue_.Restart();
    consumers_ = std::make_unique<ThreadTeam>(shape_.consumers, [this](int c) {
      Payload<kBytes> received;
      while (queue_.Pop(&received)) {
        benchmark::DoNotOptimize(received.bytes.data());
        delivered_.Add(c);
      }
    });
    consumers_->Release();
  }
  void EndBatch() override {
    queue_.Stop();
    consumers_.reset();
  }

 private:
  MutexQueue<Payload<kBytes>> queue_;
  std::unique_ptr<ThreadTeam> consumers_;
};

using PingPayload = Payload<64>;

class RawSpinningPinger final : public Pinger {
 public:
  bool ConsumerSleeps() const override { return false; }
  void BeginPhase() override {
    stop_.store(false, std::memory_order_relaxed);
    consumer_ = std::thread([this] {
      PingPayload received;
      // A pure spin: an awake consumer, never yielding its core.
      while (!stop_.load(std::memory_order_relaxed)) {
        if (queue_.try_dequeue(received)) {
          benchmark::DoNotOptimize(received.bytes.data());
          Received();
        }
      }
    });
  }
  void EndPhase() override {
    stop_.store(true, std::memory_order_relaxed);
    consumer_.join();
  }

 protected:
  void Send() override { queue_.enqueue(PingPayload{}); }

 private:
  moodycamel::ConcurrentQueue<PingPayload> queue_;
  std::atomic<bool> stop_{false};
  std::thread consumer_;
};

class RawBlockingPinger final : public Pinger {
 public:
  RawBlockingPinger()
      : consumer_([this] {
          PingPayload received;
          while (!stop_.load(std::memory_order_relaxed)) {
            if (queue_.wait_dequeue_timed(received, std::chrono::milliseconds(10))) {
              benchmark::DoNotOptimize(received.bytes.data());
              Received();
            }
          }
        }) {}
  ~RawBlockingPinger() override {
    stop_.store(true, std::memory_order_relaxed);
    consumer_.join();
  }
  bool ConsumerSleeps() const override { return true; }

 protected:
  void Send() override { queue_.enqueue(PingPayload{}); }

 private:
  moodycamel::BlockingConcurrentQueue<PingPayload> queue_;
  std::atomic<bool> stop_{false};
  std::thread consumer_;
};

class MutexPinger final : public Pinger {
 public:
  MutexPinger()
      : consumer_([this] {
          PingPayload received;
          while (queue_.Pop(&received)) {
            benchmark::DoNotOptimize(received.bytes.data());
            Received();
          }
        }) {}
  ~MutexPinger() override {
    queue_.Stop();
    consumer_.join();
  }
  bool ConsumerSleeps() const override { return true; }

 protected:
  void Send() override { queue_.Push(PingPayload{}); }

 private:
  MutexQueue<PingPayload> queue_;
  std::thread consumer_;
};

}  // namespace

std::unique_ptr<Subject> MakeRawQueueSubject(const Shape& shape, std::string* error) {
  return ForPayloadSize<RawQueueSubject>(shape, error);
}

std::unique_ptr<Subject> MakeRawBulkQueueSubject(const Shape& shape, std::string* error) {
  if (shape.producers != 1 || shape.consumers != 1 || shape.fanout != 1) {
    *error = "the bulk raw queue runs 1x1 only";
    return nullptr;
  }
  return ForPayloadSize<RawBulkQueueSubject>(shape, error);
}

std::unique_ptr<Subject> MakeMutexQueueSubject(const Shape& shape, std::string* error) {
  if (shape.fanout != 1) {
    *error = "the mutex queue baseline has no fanout";
    return nullptr;
  }
  return ForPayloadSize<MutexQueueSubject>(shape, error);
}

std::unique_ptr<Pinger> MakeRawSpinningPinger(std::string* /*error*/) {
  return std::make_unique<RawSpinningPinger>();
}

std::unique_ptr<Pinger> MakeRawBlockingPinger(std::string* /*error*/) {
  return std::make_unique<RawBlockingPinger>();
}

std::unique_ptr<Pinger> MakeMutexPinger(std::string* /*error*/) {
  return std::make_unique<MutexPinger>();
}

void RawEnqueueDequeue(int64_t n) {
  static moodycamel::ConcurrentQueue<Payload<64>> queue;
  const Payload<64> message;
  Payload<64> received;
  for (int64_t i = 0; i < n; ++i) {
    queue.enqueue(message);
    queue.try_dequeue(received);
    benchmark::DoNotOptimize(received.bytes.data());
  }
}

}  // namespace warren_bench
