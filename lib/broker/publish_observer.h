// PublishObserver: a hook that every basic.publish passes through while one
// is set on the broker, for the test kit (lib/testing/), which records what
// is published and injects refusals. Unset, it costs a publisher one relaxed
// atomic load (Broker::Impl::publish_observer).
//
// Owns only the shape of the hook; it must not route or touch queues.
#ifndef WARREN_LIB_BROKER_PUBLISH_OBSERVER_H_
#define WARREN_LIB_BROKER_PUBLISH_OBSERVER_H_

#include <string_view>

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
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_PUBLISH_OBSERVER_H_
