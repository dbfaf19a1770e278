// PublishObserver: a hook that every basic.publish, and every dead letter
// the broker publishes itself, passes through while one is set on the
// broker, for the test kit (lib/testing/), which records what is published
// and injects refusals. Unset, it costs a publisher one relaxed atomic load
// (PublishObserverSlot::Get).
//
// Owns only the shape of the hook and the slot that holds it; it must not
// route or touch queues.
#ifndef WARREN_LIB_BROKER_PUBLISH_OBSERVER_H_
#define WARREN_LIB_BROKER_PUBLISH_OBSERVER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "warren/channel.h"
#include "warren/message.h"

namespace warren::broker {

// One publish that passed the channel's own checks (open channel, existing
// and non-internal exchange, valid properties), before it is routed. The
// views are valid for the duration of the call.
struct PublishEvent {
  std::string_view vhost;
  std::string_view exchange;
  std::string_view routing_key;
  const Message& message;  // as the publisher passed it
  const PublishOptions& options;
  bool confirming;  // the channel is in confirm mode
};

// What the broker does with the publish.
struct PublishVerdict {
  // Not OK: the publish fails with it; an AMQP reply code in it closes the
  // channel (4xx) or the connection (5xx) as any refusal does.
  absl::Status refuse;
  // The message reaches no queue and, in confirm mode, is nacked.
  bool nack = false;
};

class PublishObserver {
 public:
  virtual ~PublishObserver() = default;
  // Called on the publishing thread with the channel's API lock held: it
  // must not call into that channel.
  virtual PublishVerdict OnPublish(const PublishEvent& event) = 0;
  // A dead letter the broker republishes to an existing dead-letter
  // exchange, before it is routed; the broker's own publishes are never
  // refused. Called with no lock of the broker held. `event.options` are
  // the defaults and `event.confirming` is false.
  virtual void OnDeadLetter(const PublishEvent& event) = 0;
};

// Where the broker keeps its observer: set by the test kit, read by every
// publish.
class PublishObserverSlot {
 public:
  // Sets the observer; null removes it.
  void Set(std::shared_ptr<PublishObserver> observer) {
    std::lock_guard<std::mutex> lock(mu_);
    set_.store(observer != nullptr, std::memory_order_relaxed);
    observer_ = std::move(observer);
  }
  // The observer, or null: one relaxed load while none is set. A publish
  // racing Set may miss the change.
  std::shared_ptr<PublishObserver> Get() const {
    if (!set_.load(std::memory_order_relaxed)) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    return observer_;
  }

 private:
  std::atomic<bool> set_{false};
  mutable std::mutex mu_;  // a leaf lock
  std::shared_ptr<PublishObserver> observer_;
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_PUBLISH_OBSERVER_H_
