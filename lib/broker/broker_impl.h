// Broker::Impl: what a broker owns — its clock, dispatcher, timers, virtual
// hosts and the connections open on them.
//
// Owns the lifetime of those parts (the dispatcher and timers are stopped
// last, after every connection is closed); it must not reach into queues or
// channels beyond closing them.
//
// It also holds the publish observer the test kit sets (publish_observer.h)
// and finds virtual hosts by name for the kit's inspection.
#ifndef WARREN_LIB_BROKER_BROKER_IMPL_H_
#define WARREN_LIB_BROKER_BROKER_IMPL_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/latency_histogram.h"
#include "broker/memory_gauge.h"
#include "broker/publish_observer.h"
#include "broker/vhost.h"
#include "dispatch/dispatcher.h"
#include "dispatch/timer_service.h"
#include "warren/broker.h"
#include "warren/stats.h"

namespace warren {
namespace channel {
class ConnectionCore;
}  // namespace channel

class Broker::Impl : public std::enable_shared_from_this<Broker::Impl> {
 public:
  explicit Impl(const BrokerOptions& options);

  Clock& clock() { return *clock_; }
  dispatch::Dispatcher& dispatcher() { return dispatcher_; }
  const BrokerOptions& options() const { return options_; }
  broker::MemoryGauge& memory() { return memory_; }
  broker::LatencyHistogram& latency() { return latency_; }

  BrokerStats Stats();

  absl::Status AddVirtualHost(std::string_view name);
  absl::Status DeleteVirtualHost(std::string_view name);
  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectOptions& options);
  void Forget(const channel::ConnectionCore* connection);

  // The virtual host called `name`, or null.
  std::shared_ptr<broker::VirtualHost> FindVirtualHost(std::string_view name);

  // The observer every basic.publish and dead letter passes (Set with null
  // removes it).
  broker::PublishObserverSlot& publish_observer() { return publish_observer_; }

  // Closes every connection, empties every virtual host, stops dispatch.
  void Shutdown();

 private:
  const BrokerOptions options_;
  Clock* const clock_;
  // Before everything that may count into them, so they go last.
  broker::MemoryGauge memory_;
  broker::LatencyHistogram latency_;
  broker::PublishObserverSlot publish_observer_;
  dispatch::Dispatcher dispatcher_;
  dispatch::TimerService timers_;

  std::mutex mu_;
  bool shut_down_ = false;
  uint64_t next_connection_id_ = 1;
  absl::flat_hash_map<std::string, std::shared_ptr<broker::VirtualHost>> vhosts_;
  std::vector<std::weak_ptr<channel::ConnectionCore>> connections_;
};

}  // namespace warren

#endif  // WARREN_LIB_BROKER_BROKER_IMPL_H_
