// tests/conformance/backend.cc: the in-process and live backends.
#include "backend.h"

#include <deque>
#include <mutex>
#include <utility>

#include "absl/time/clock.h"
#include "warren/broker.h"
#include "warren/clock.h"
#include "warren/connect.h"
#include "warren/executor.h"

namespace warren::conformance {
namespace {

class Inproc final : public Backend {
 public:
  Inproc(std::unique_ptr<ManualClock> clock, std::unique_ptr<Broker> broker)
      : clock_(std::move(clock)), broker_(std::move(broker)) {}

  absl::StatusOr<std::unique_ptr<Connection>> Connect() override {
    return broker_->Connect({.user = "guest"});
  }

  void RunCallbacks() override { broker_->ProcessEvents(); }

  // Time passes in steps of a millisecond, each followed by the callbacks it
  // made ready, as it would in real time: a message dead-lettered by one
  // expiry starts its next TTL when it arrives, not at the end of the sleep.
  void Sleep(int64_t ms) override {
    for (; ms > 0; --ms) {
      clock_->Advance(absl::Milliseconds(1));
      broker_->ProcessEvents();
    }
  }

  bool live() const override { return false; }

 private:
  // The broker goes before its clock.
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<Broker> broker_;
};

// Keeps callbacks on the runner's thread: they run only when it drains.
class DrainedExecutor final : public Executor {
 public:
  void Schedule(absl::AnyInvocable<void() &&> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }

  void Drain() {
    while (true) {
      absl::AnyInvocable<void() &&> task;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      std::move(task)();
    }
  }

 private:
  std::mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_;
};

class Live final : public Backend {
 public:
  explicit Live(std::string url) : url_(std::move(url)) {}

  absl::StatusOr<std::unique_ptr<Connection>> Connect() override {
    ClientOptions options;
    options.dispatch = Dispatch::kExecutor;
    options.executor = &executor_;
    // A scenario's connection errors must end its connection, as they did
    // when the scenario was recorded.
    options.reconnect.enabled = false;
    return warren::Connect(url_, options);
  }

  void RunCallbacks() override { executor_.Drain(); }

  void Sleep(int64_t ms) override {
    absl::SleepFor(absl::Milliseconds(ms));
    executor_.Drain();
  }

  bool live() const override { return true; }

 private:
  const std::string url_;
  DrainedExecutor executor_;  // outlives the runner's connections
};

}  // namespace

std::unique_ptr<Backend> InprocBackend() {
  auto clock = std::make_unique<ManualClock>();
  absl::StatusOr<std::unique_ptr<Broker>> broker =
      Broker::Create({.dispatch = Dispatch::kManual, .clock = clock.get()});
  if (!broker.ok()) return nullptr;
  return std::make_unique<Inproc>(std::move(clock), *std::move(broker));
}

std::unique_ptr<Backend> LiveBackend(std::string url) {
  return std::make_unique<Live>(std::move(url));
}

}  // namespace warren::conformance
