// InprocChannel: the Channel API over the in-process broker. Each method
// checks its arguments as RabbitMQ does, acts on the virtual host, its queues
// and the channel's core, and turns a refusal into the channel (4xx) or
// connection (5xx) close that RabbitMQ would make.
//
// Owns what only the API thread needs: the routing snapshot it publishes
// with, producer tokens per queue, the most recently declared queue, and the
// prefetch for new consumers. Calls are serialized by its own lock, which is
// never taken by queues or the dispatcher.
//
// Under a seeded dispatcher (BrokerOptions::dispatch_seed) the queues a
// publish reaches take it, and the queues an ack frees channel-wide credit
// for are asked to dispatch, in an order the seed draws.
//
// It also exposes its core and connection (core(), connection()) so that the
// test kit (lib/testing/) can inspect and close a channel as the broker
// would, and hands every publish to the broker's publish observer if set.
#ifndef WARREN_LIB_CHANNEL_INPROC_CHANNEL_H_
#define WARREN_LIB_CHANNEL_INPROC_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/routing_snapshot.h"
#include "channel/channel_core.h"
#include "channel/connection_impl.h"
#include "dispatch/dispatcher.h"
#include "warren/channel.h"

namespace warren::channel {

class InprocChannel final : public Channel {
 public:
  InprocChannel(std::shared_ptr<ConnectionCore> connection, std::shared_ptr<ChannelCore> core);
  ~InprocChannel() override;

  absl::Status ExchangeDeclare(std::string_view exchange, std::string_view type,
                               const ExchangeDeclareOptions& options) override;
  absl::Status ExchangeDelete(std::string_view exchange,
                              const ExchangeDeleteOptions& options) override;
  absl::Status ExchangeBind(std::string_view destination, std::string_view source,
                            std::string_view routing_key, const FieldTable& arguments) override;
  absl::Status ExchangeUnbind(std::string_view destination, std::string_view source,
                              std::string_view routing_key,
                              const FieldTable& arguments) override;
  absl::StatusOr<QueueDeclareResult> QueueDeclare(std::string_view queue,
                                                  const QueueDeclareOptions& options) override;
  absl::Status QueueBind(std::string_view queue, std::string_view exchange,
                         std::string_view routing_key, const FieldTable& arguments) override;
  absl::Status QueueUnbind(std::string_view queue, std::string_view exchange,
                           std::string_view routing_key, const FieldTable& arguments) override;
  absl::StatusOr<uint32_t> QueuePurge(std::string_view queue) override;
  absl::StatusOr<uint32_t> QueueDelete(std::string_view queue,
                                       const QueueDeleteOptions& options) override;
  absl::Status BasicQos(uint16_t prefetch_count, const QosOptions& options) override;
  absl::Status BasicPublish(std::string_view exchange, std::string_view routing_key,
                            const Message& message, const PublishOptions& options) override;
  absl::Status BasicPublishBatch(std::string_view exchange, std::string_view routing_key,
                                 std::span<const Message> messages,
                                 const PublishOptions& options) override;
  absl::StatusOr<std::optional<GetResult>> BasicGet(std::string_view queue,
                                                    const GetOptions& options) override;
  absl::StatusOr<std::string> BasicConsume(std::string_view queue, ConsumerCallback callback,
                                           const ConsumeOptions& options) override;
  absl::Status BasicCancel(std::string_view consumer_tag) override;
  absl::Status BasicAck(uint64_t delivery_tag, const AckOptions& options) override;
  absl::Status BasicNack(uint64_t delivery_tag, const NackOptions& options) override;
  absl::Status BasicReject(uint64_t delivery_tag, const RejectOptions& options) override;
  absl::Status BasicRecover(const RecoverOptions& options) override;
  absl::Status ConfirmSelect() override;
  uint64_t NextPublishSeqNo() const override;
  void SetConfirmHandler(std::function<void(const Confirm&)> handler) override;
  absl::Status WaitForConfirms(absl::Duration timeout) override;
  void SetReturnHandler(std::function<void(const ReturnedMessage&)> handler) override;
  absl::Status Close() override;
  bool is_open() const override;
  absl::Status close_reason() const override;

  const std::shared_ptr<ChannelCore>& core() const { return core_; }
  const std::shared_ptr<ConnectionCore>& connection() const { return connection_; }

 private:
  struct Publisher {  // a producer token and the queue that must outlive it
    std::shared_ptr<queue::Queue> queue;
    std::unique_ptr<queue::Queue::ProducerToken> token;
  };
  // A queue a publish reaches and this channel's token for it; both live in
  // publishers_ until the topology version moves.
  struct Target {
    queue::Queue* queue;
    queue::Queue::ProducerToken* token;
  };
  // The route of the last publish; kept (valid) while it depended on the
  // exchange and routing key alone, until the snapshot changes.
  struct LastRoute {
    bool valid = false;
    std::string exchange;
    std::string routing_key;
    std::vector<Target> targets;
    broker::ExchangeCounters* counters = nullptr;  // the exchange's, kept by the snapshot
  };

  // queue.bind and queue.unbind: the same checks and shortcut, then `change`.
  using BindingChange = absl::Status (broker::VirtualHost::*)(
      std::string_view, std::string_view, std::string_view, const FieldTable&, uint64_t);
  absl::Status ChangeQueueBinding(BindingChange change, std::string_view queue,
                                  std::string_view exchange, std::string_view routing_key,
                                  const FieldTable& arguments);

  // All below run with mu_ held.
  // OK while open; else the 504 that names why the channel closed.
  absl::Status CheckOpen() const;
  // Applies RabbitMQ's reaction to a refused method: close the channel for a
  // 4xx code, the connection for a 5xx one. Returns `error`.
  absl::Status Fail(absl::Status error);
  // "" names the most recently declared queue (404 when there is none).
  absl::StatusOr<std::string> ResolveQueueName(std::string_view queue) const;
  absl::StatusOr<std::shared_ptr<queue::Queue>> FindQueue(std::string_view queue);
  queue::Queue::ProducerToken* TokenFor(const std::shared_ptr<queue::Queue>& queue);
  const broker::RoutingSnapshot& CurrentSnapshot();
  // basic.publish's exchange: null for the default one. Errors: 404 for a
  // missing one, 403 for an internal one.
  absl::StatusOr<const broker::ExchangeRoute*> FindPublishExchange(
      const broker::RoutingSnapshot& snapshot, std::string_view exchange) const;
  // One message of a publish: checks, routes, and leaves what the queues
  // take in waiting_ (or hands it over at once when its route is not
  // kept). Returns the refusal, which the caller turns into a close.
  absl::Status PublishOneLocked(const broker::RoutingSnapshot& snapshot,
                                std::string_view exchange, std::string_view routing_key,
                                const Message& message, const PublishOptions& options);
  // Hands the messages in waiting_ to their queues.
  void FlushPublishesLocked();
  // Under a seed: puts the kept route's queues (and waiting_) in an order
  // the seed draws, the order they take their messages in, as RabbitMQ's
  // queues, processes of their own, take a message in any order.
  void ShuffleRouteLocked();
  // The broker is over its memory limit: refuses, or waits for it with
  // `lock` (mu_) released. Errors: kResourceExhausted; 504 when the channel
  // closed meanwhile.
  absl::Status WaitForMemory(std::unique_lock<std::mutex>& lock);
  void RouteInto(const broker::RoutingSnapshot& snapshot, const broker::ExchangeRoute* x,
                 absl::Span<const std::string_view> keys, const FieldTable* headers,
                 std::vector<Target>* targets);
  absl::Status Settle(uint64_t delivery_tag, bool multiple, queue::Settlement how);
  // Asks each queue this channel consumes from for a dispatch pass.
  void KickConsumerQueues();

  const std::shared_ptr<ConnectionCore> connection_;
  const std::shared_ptr<ChannelCore> core_;
  broker::VirtualHost& vhost_;
  dispatch::Dispatcher& dispatcher_;  // the broker's, for its seed

  mutable std::mutex mu_;
  std::string last_queue_;
  uint16_t consumer_prefetch_ = 0;
  std::shared_ptr<const broker::RoutingSnapshot> snapshot_;
  uint64_t snapshot_version_ = 0;
  absl::flat_hash_map<uint32_t, Publisher> publishers_;
  LastRoute last_route_;
  // Messages for last_route_.targets[i], not yet handed over.
  std::vector<std::vector<queue::Envelope>> waiting_;
  uint64_t waiting_bytes_ = 0;  // their bodies, once per queue
  broker::ExchangeCounters::Tally tally_;  // of the publish call running now
  uint64_t publishes_ = 0;                 // picks the ones sampled for latency
  std::vector<std::shared_ptr<queue::Queue>> routed_;  // reused by each route
  uint64_t generated_tags_ = 0;
  // Direct reply-to: the name replies reach this channel by; empty while
  // the channel has no reply consumer.
  std::string reply_to_name_;
};

}  // namespace warren::channel

#endif  // WARREN_LIB_CHANNEL_INPROC_CHANNEL_H_
