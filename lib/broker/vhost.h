// VirtualHost: one AMQP virtual host's topology — exchanges, queues,
// bindings, exclusive ownership — with RabbitMQ's checks on every change, and
// the host services its queues need (dead-lettering, timers, auto-delete).
//
// Topology changes take the host's lock; when a change releases it, the host
// makes a new immutable RoutingSnapshot from the last one and what changed,
// hands it over through a SnapshotCell and bumps its version. Publishers never
// take the host's lock: they route on the snapshot they hold and take the new
// one, without waiting, when they notice the version moved. The host owns the
// topology and the snapshots; it must not touch a queue's messages (the Queue
// does) or channel state (the channel does).
//
// Under a seeded dispatcher (BrokerOptions::dispatch_seed) its queues
// deliver in turns on the dispatcher, and a dead letter reaches the queues
// its exchange routes it to in an order the seed draws.
//
// For the test kit (lib/testing/) it also lists its queues and the bindings
// of an exchange, as copies taken under its lock, and shows each dead letter
// it publishes to the broker's publish observer.
#ifndef WARREN_LIB_BROKER_VHOST_H_
#define WARREN_LIB_BROKER_VHOST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "broker/binding_index.h"
#include "broker/memory_gauge.h"
#include "broker/publish_observer.h"
#include "broker/routing_snapshot.h"
#include "broker/snapshot_cell.h"
#include "dispatch/dispatcher.h"
#include "dispatch/timer_service.h"
#include "queue/queue.h"
#include "warren/channel.h"
#include "warren/stats.h"

namespace warren::broker {

class VirtualHost : public queue::QueueHost,
                    public std::enable_shared_from_this<VirtualHost> {
 public:
  // `memory` counts what its queues hold; it must outlive them, as must the
  // other services, which are the broker's.
  VirtualHost(std::string name, Clock* clock, dispatch::TimerService* timers,
              MemoryGauge* memory, dispatch::Dispatcher* dispatcher,
              const PublishObserverSlot* observer);

  const std::string& name() const { return name_; }

  // Publishers compare version() with the version of the snapshot they hold.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  // The topology as of the latest change. Takes no lock and never waits.
  std::shared_ptr<const RoutingSnapshot> Snapshot() const { return published_.Load(); }

  // For tests: holds the host's lock, as a topology change does, until the
  // returned lock goes.
  std::unique_lock<std::mutex> HoldLockForTesting() { return std::unique_lock<std::mutex>(mu_); }

  // The AMQP methods, with RabbitMQ's checks and reply codes. `connection`
  // identifies the caller for exclusive queues.
  absl::Status ExchangeDeclare(std::string_view name, std::string_view type,
                               const ExchangeDeclareOptions& options);
  absl::Status ExchangeDelete(std::string_view name, bool if_unused);
  absl::Status ExchangeBind(std::string_view destination, std::string_view source,
                            std::string_view routing_key, const FieldTable& arguments);
  absl::Status ExchangeUnbind(std::string_view destination, std::string_view source,
                              std::string_view routing_key, const FieldTable& arguments);
  // `name` "" generates a server name.
  absl::StatusOr<QueueDeclareResult> QueueDeclare(std::string_view name,
                                                  const QueueDeclareOptions& options,
                                                  uint64_t connection);
  absl::Status QueueBind(std::string_view queue, std::string_view exchange,
                         std::string_view routing_key, const FieldTable& arguments,
                         uint64_t connection);
  absl::Status QueueUnbind(std::string_view queue, std::string_view exchange,
                           std::string_view routing_key, const FieldTable& arguments,
                           uint64_t connection);
  absl::StatusOr<uint32_t> QueueDelete(std::string_view name, bool if_unused,
                                       bool if_empty, uint64_t connection);

  // The queue for basic.get/consume/purge. Errors: 404 missing; 405 another
  // connection's exclusive queue.
  absl::StatusOr<std::shared_ptr<queue::Queue>> FindQueue(std::string_view name,
                                                          uint64_t connection);

  // Direct reply-to: a no-ack consumer of the pseudo-queue
  // "amq.rabbitmq.reply-to" that replies reach without a queue. Returns the
  // name publishers put in reply_to ("amq.rabbitmq.reply-to.<token>"); the
  // entry lives as long as the consumer.
  std::string AddReplyConsumer(const std::shared_ptr<queue::Consumer>& consumer);
  // The consumer behind a reply name, or null once it is gone.
  std::shared_ptr<queue::Consumer> FindReplyConsumer(std::string_view name);

  // Every queue, exclusive ones included, for inspection.
  std::vector<std::shared_ptr<queue::Queue>> Queues();

  // Appends the figures of this host's queues and exchanges, by name.
  void AppendStats(BrokerStats* stats);

  // A binding with its destination named, for inspection.
  struct BindingView {
    std::string destination;
    bool to_exchange = false;
    std::string routing_key;
    FieldTable arguments;
  };
  // The bindings whose source is `exchange`, in the order they were made.
  // Errors: 404 for a missing exchange; 403 for "" (the default exchange's
  // bindings are implicit).
  absl::StatusOr<std::vector<BindingView>> BindingsOf(std::string_view exchange);

  // Deletes the exclusive queues of a closing connection.
  void ConnectionClosed(uint64_t connection);

  // Deletes everything (the broker is going away).
  void Shutdown();

  // Routes `message` from `exchange` by `routing_keys` (at least one) and
  // hands it to each queue reached, for messages the broker itself publishes
  // (dead letters).
  void PublishInternal(std::string_view exchange, std::vector<std::string> routing_keys,
                       const Message& message);

  // queue::QueueHost
  Clock& clock() override { return *clock_; }
  void DeadLetter(const queue::Queue& from, std::vector<queue::DeadLetter> letters) override;
  void ScheduleTimer(std::weak_ptr<queue::Queue> queue, absl::Time at) override;
  void DeleteUnused(const std::shared_ptr<queue::Queue>& queue) override;
  void MemoryChanged(int64_t delta) override { memory_->Add(delta); }
  bool DeliversInTurns() override { return dispatcher_->shuffled(); }
  void ScheduleDeliveryTurn(std::weak_ptr<queue::Queue> queue) override;

 private:
  struct ExchangeState {
    routing::DestinationId id;
    std::string name;
    std::string type;
    bool durable;
    bool auto_delete;
    bool internal;
    FieldTable arguments;
    routing::BindingList bindings;  // as source
    BindingIndex binding_index;  // of `bindings`
    std::shared_ptr<ExchangeCounters> counters = std::make_shared<ExchangeCounters>();
  };

  // mu_, held for as long as the object lives; on release, publishers get a
  // snapshot with whatever changed meanwhile. Every section under mu_ takes
  // it this way, so no change is left unpublished.
  class TopologyLock {
   public:
    explicit TopologyLock(VirtualHost* host) : host_(host), lock_(host->mu_) {}
    ~TopologyLock() { host_->PublishChangesLocked(); }
    TopologyLock(const TopologyLock&) = delete;
    TopologyLock& operator=(const TopologyLock&) = delete;

   private:
    VirtualHost* const host_;
    std::lock_guard<std::mutex> lock_;
  };

  // All below run with mu_ held.
  absl::Status CreateExchangeLocked(std::string name, std::string_view type,
                                    const ExchangeDeclareOptions& options);
  ExchangeState* FindExchangeLocked(std::string_view name);
  absl::StatusOr<ExchangeState*> ExistingExchangeLocked(std::string_view name);
  absl::StatusOr<std::shared_ptr<queue::Queue>> AccessibleQueueLocked(std::string_view name,
                                                                      uint64_t connection);
  absl::Status BindLocked(ExchangeState* source, routing::DestinationId destination,
                          std::string_view routing_key, const FieldTable& arguments);
  void UnbindLocked(ExchangeState* source, routing::DestinationId destination,
                    std::string_view routing_key, const FieldTable& arguments);
  // Removes every binding to `destination`, then auto-deletes sources left
  // without bindings.
  void RemoveBindingsToLocked(routing::DestinationId destination);
  void AutoDeleteIfUnboundLocked(ExchangeState* source);
  void DeleteExchangeLocked(const std::string& name);
  // Removes the queue from the topology; the caller deletes its contents.
  void ForgetQueueLocked(const std::shared_ptr<queue::Queue>& queue);
  // Record what the next snapshot must show anew (or no longer show).
  void ExchangeChangedLocked(const std::string& name) { changed_exchanges_.insert(name); }
  void QueueChangedLocked(const std::string& name) { changed_queues_.insert(name); }
  // Hands publishers a snapshot with the recorded changes, if any.
  void PublishChangesLocked();
  std::shared_ptr<const ExchangeRoute> MakeRouteLocked(const ExchangeState& exchange) const;
  std::string GenerateNameLocked(std::string_view prefix);

  const std::string name_;
  Clock* const clock_;
  dispatch::TimerService* const timers_;
  MemoryGauge* const memory_;
  dispatch::Dispatcher* const dispatcher_;
  const PublishObserverSlot* const observer_;
  const std::shared_ptr<ExchangeCounters> default_counters_ =
      std::make_shared<ExchangeCounters>();

  std::mutex mu_;
  std::atomic<uint64_t> version_{1};
  routing::DestinationId next_id_ = 1;
  absl::flat_hash_map<std::string, ExchangeState> exchanges_;
  absl::flat_hash_map<std::string, std::shared_ptr<queue::Queue>> queues_;
  absl::flat_hash_set<std::string> changed_exchanges_;
  absl::flat_hash_set<std::string> changed_queues_;
  SnapshotCell<RoutingSnapshot> published_;
  absl::flat_hash_map<std::string, std::weak_ptr<queue::Consumer>> reply_consumers_;
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_VHOST_H_
