// warren/channel.h: the AMQP channel, with one method per AMQP method.
//
// A Channel is where an application declares topology, publishes, consumes and
// acknowledges. Its methods follow AMQP 0-9-1 one for one, with the arguments
// in the protocol's order and the flags in options structs whose defaults are
// the protocol's (all false).
//
// Example:
//
//   auto channel = connection->OpenChannel().value();
//   channel->ExchangeDeclare("orders", warren::kTopic);
//   channel->QueueDeclare("billing");
//   channel->QueueBind("billing", "orders", "order.*");
//   channel->BasicQos(10);
//   channel->BasicConsume("billing", [&](const warren::Delivery& d) {
//     Handle(d.message.body());
//     channel->BasicAck(d.delivery_tag);
//   });
//   channel->BasicPublish("orders", "order.created", warren::Message("{}"));
//
// Errors: as in RabbitMQ, a refused operation closes the channel (4xx codes)
// or its whole connection (5xx codes). The call returns the error, with its
// AMQP reply code (see warren/status.h); every later call on the closed
// channel returns 504 CHANNEL_ERROR naming the error that closed it. Open a
// new channel to continue. Unacked deliveries of a closed channel are
// requeued, as RabbitMQ does.
//
// Names, routing keys and consumer tags are AMQP short strings, read as
// RabbitMQ 3.10 reads them (docs/bad-input.md lists every case):
//   - over 255 bytes (also a field-table key or a short-string property
//     such as message_id): kInvalidArgument, closing nothing, as a client
//     library refuses to send it;
//   - not UTF-8: 501 FRAME_ERROR, closing the connection, in every method
//     but BasicPublish, which takes any bytes;
//   - CR and LF are removed from exchange and queue names by the declares,
//     deletes, binds and unbinds (not by publish, get, purge or consume).
//
// Thread-safety: every method may be called from any thread, including from
// inside a consumer callback of this or another channel. Calls on one channel
// are serialized, so a thread that publishes a lot wants a channel of its own;
// messages published on one channel reach each queue in publish order.
#ifndef WARREN_CHANNEL_H_
#define WARREN_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "warren/field_table.h"
#include "warren/message.h"

namespace warren {

// Exchange types.
inline constexpr std::string_view kDirect = "direct";
inline constexpr std::string_view kFanout = "fanout";
inline constexpr std::string_view kTopic = "topic";
inline constexpr std::string_view kHeaders = "headers";

struct ExchangeDeclareOptions {
  bool passive = false;      // only check that it exists (404 if not)
  bool durable = false;      // recorded and compared; warren keeps nothing on disk
  bool auto_delete = false;  // deleted when its last binding goes
  bool internal = false;     // only reachable through exchange bindings
  FieldTable arguments;      // e.g. "alternate-exchange"
};

struct ExchangeDeleteOptions {
  bool if_unused = false;  // 406 while the exchange is the source of a binding
};

struct QueueDeclareOptions {
  bool passive = false;      // only check that it exists (404 if not)
  bool durable = false;      // recorded and compared (406 on a redeclare that
                             // differs); a quorum queue must be durable;
                             // warren keeps nothing on disk
  bool exclusive = false;    // owned by this connection, deleted with it
  bool auto_delete = false;  // deleted when its last consumer goes
  FieldTable arguments;      // x-message-ttl, x-max-length, ...
};

// queue.declare-ok.
struct QueueDeclareResult {
  std::string queue;  // the name, generated when declared as ""
  uint32_t message_count = 0;   // ready messages
  uint32_t consumer_count = 0;
};

struct QueueDeleteOptions {
  bool if_unused = false;  // 406 while the queue has consumers
  bool if_empty = false;   // 406 while the queue has ready messages
};

struct QosOptions {
  bool global = false;  // RabbitMQ's reading: share the count among the
                        // channel's consumers instead of per consumer
  uint32_t prefetch_size = 0;  // must be 0: RabbitMQ refuses others (540)
};

struct PublishOptions {
  bool mandatory = false;  // return (312 NO_ROUTE) when no queue takes it
  bool immediate = false;  // unsupported by RabbitMQ 3: 540 NOT_IMPLEMENTED
};

struct GetOptions {
  bool no_ack = false;  // settled on delivery; nothing to ack
};

// Called for each delivery to a consumer, on the broker's dispatcher. One
// consumer's callbacks run one at a time, in delivery order. The Delivery is
// valid for the duration of the call; copy what must outlive it (Message
// copies are cheap).
using ConsumerCallback = std::function<void(const Delivery&)>;

struct ConsumeOptions {
  std::string consumer_tag;  // "" lets the broker choose one (amq.ctag-...)
  bool no_local = false;     // accepted and ignored, as RabbitMQ does
  bool no_ack = false;       // deliveries are settled when sent
  bool exclusive = false;    // the only consumer of the queue (403 if not)
  FieldTable arguments;      // x-priority
  // Called when the broker cancels the consumer (its queue was deleted).
  std::function<void(std::string_view consumer_tag)> on_cancel;
};

struct AckOptions {
  bool multiple = false;  // also every earlier unacked tag; tag 0 means all
};

struct NackOptions {
  bool multiple = false;
  bool requeue = false;  // back to its original place, else dropped or
                         // dead-lettered
};

struct RejectOptions {
  bool requeue = false;
};

struct RecoverOptions {
  bool requeue = false;  // RabbitMQ supports only true (540 otherwise)
};

// A publisher confirm: `delivery_tag` is the publish sequence number (from
// 1, per channel); `multiple` covers every earlier unconfirmed number too.
struct Confirm {
  uint64_t delivery_tag = 0;
  bool multiple = false;
  bool ack = true;  // false: nacked (e.g. refused by x-overflow reject-publish)
};

class Channel {
 public:
  virtual ~Channel() = default;

  // exchange.declare. Errors: 403 for a new name starting "amq."; 404 for a
  // passive declare of a missing exchange; 406 for a redeclare with another
  // type, durable, auto_delete, internal or alternate-exchange; 503 for an
  // unknown type.
  virtual absl::Status ExchangeDeclare(std::string_view exchange,
                                       std::string_view type,
                                       const ExchangeDeclareOptions& options = {}) = 0;

  // exchange.delete. Deleting a missing exchange succeeds. Errors: 403 for the
  // predeclared exchanges; 406 with if_unused while it is a binding's source.
  virtual absl::Status ExchangeDelete(std::string_view exchange,
                                      const ExchangeDeleteOptions& options = {}) = 0;

  // exchange.bind: messages that `source` routes with `routing_key` (and
  // `arguments`, for headers exchanges) are also routed by `destination`,
  // even an internal one. Binding again what is bound succeeds. Errors: 403
  // when either exchange is "" (the default exchange); 404 when either is
  // missing; 406 when `source` is a headers exchange and `arguments` hold an
  // x-match other than all, any, all-with-x or any-with-x.
  virtual absl::Status ExchangeBind(std::string_view destination,
                                    std::string_view source,
                                    std::string_view routing_key,
                                    const FieldTable& arguments = {}) = 0;

  // exchange.unbind. Removing a binding that does not exist succeeds, even
  // when either exchange is missing, as in RabbitMQ. Errors: 403 when either
  // exchange is "" (the default exchange).
  virtual absl::Status ExchangeUnbind(std::string_view destination,
                                      std::string_view source,
                                      std::string_view routing_key,
                                      const FieldTable& arguments = {}) = 0;

  // queue.declare. `queue` "" makes a server-named queue (amq.gen-...), which
  // later calls on this channel may also name as "". Errors: 403 for a name
  // starting "amq."; 404 for a passive declare of a missing queue; 405 for
  // another connection's exclusive queue; 406 for a redeclare with other
  // flags or arguments, for invalid arguments (a wrong type or value, or an
  // argument of another queue type, e.g. x-delivery-limit on a classic
  // queue), or for a quorum queue that is not durable, is auto-delete or is
  // exclusive.
  virtual absl::StatusOr<QueueDeclareResult> QueueDeclare(
      std::string_view queue, const QueueDeclareOptions& options = {}) = 0;

  // queue.bind. Binding again what is bound succeeds. Errors: 403 for
  // binding to the default exchange (""); 404 for a missing queue or
  // exchange; 405 for another connection's exclusive queue; 406 for an
  // x-match other than all, any, all-with-x or any-with-x in `arguments` of
  // a binding to a headers exchange.
  virtual absl::Status QueueBind(std::string_view queue, std::string_view exchange,
                                 std::string_view routing_key,
                                 const FieldTable& arguments = {}) = 0;

  // queue.unbind. Removing a binding that does not exist succeeds. Errors:
  // 403 for the default exchange (""); 404 for a missing queue or exchange;
  // 405 for another connection's exclusive queue.
  virtual absl::Status QueueUnbind(std::string_view queue, std::string_view exchange,
                                   std::string_view routing_key,
                                   const FieldTable& arguments = {}) = 0;

  // queue.purge: drops the ready messages (not the unacked ones) and returns
  // how many. Errors: 404 for a missing queue; 405 for another connection's
  // exclusive queue.
  virtual absl::StatusOr<uint32_t> QueuePurge(std::string_view queue) = 0;

  // queue.delete: returns the number of ready messages dropped; a missing
  // queue gives 0. Consumers of the queue are cancelled (their on_cancel
  // runs). Errors: 405 for another connection's exclusive queue; 406 with
  // if_unused while the queue has consumers, or with if_empty while it has
  // ready messages (the queue is kept).
  virtual absl::StatusOr<uint32_t> QueueDelete(std::string_view queue,
                                               const QueueDeleteOptions& options = {}) = 0;

  // basic.qos: at most `prefetch_count` unacked deliveries (0: no limit) for
  // each consumer started after this call, or with global, for all consumers
  // of the channel together.
  virtual absl::Status BasicQos(uint16_t prefetch_count,
                                const QosOptions& options = {}) = 0;

  // basic.publish. The body is shared, not copied, among the queues it
  // reaches. Errors: 404 for a missing exchange; 403 for an internal one; 406
  // for an invalid expiration (not an optionally signed decimal from 0 to
  // 315360000000 ms), a delivery_mode other than 1 or 2, a user_id other
  // than the connection's, a CC or BCC header that is not an array, or a
  // body over 128 MiB (RabbitMQ's max_message_size). An unroutable
  // mandatory message goes to the return handler.
  virtual absl::Status BasicPublish(std::string_view exchange,
                                    std::string_view routing_key,
                                    const Message& message,
                                    const PublishOptions& options = {}) = 0;

  // Publishes `messages`, in order, to one exchange with one routing key:
  // the same as a BasicPublish of each (each is checked, numbered in
  // confirm mode, returned when mandatory and unroutable), but in-process
  // the route is looked up once and each queue takes the messages together,
  // which makes it the fast way to send many. At the first message refused,
  // the channel or connection closes as for BasicPublish and the error is
  // returned: the messages before it were published, the rest were not.
  // Over amqp:// it is a BasicPublish per message.
  virtual absl::Status BasicPublishBatch(std::string_view exchange,
                                         std::string_view routing_key,
                                         std::span<const Message> messages,
                                         const PublishOptions& options = {}) {
    for (const Message& message : messages) {
      if (absl::Status s = BasicPublish(exchange, routing_key, message, options); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // basic.get: the head of the queue, or nullopt when it is empty. Without
  // no_ack the delivery stays unacked on this channel until acked, nacked,
  // rejected, recovered or the channel closes. Errors: 404 for a missing
  // queue; 405 for another connection's exclusive queue.
  virtual absl::StatusOr<std::optional<GetResult>> BasicGet(
      std::string_view queue, const GetOptions& options = {}) = 0;

  // basic.consume: starts pushing the queue's messages to `callback`. Returns
  // the consumer tag. Errors: kInvalidArgument (closing nothing) for an
  // empty callback; 404 for a missing queue; 403 for an exclusive consumer
  // on a queue with consumers, or any consumer beside an exclusive one; 406
  // for an x-priority that is not an integer; 530 (closing the connection)
  // for a tag already used on this channel.
  virtual absl::StatusOr<std::string> BasicConsume(std::string_view queue,
                                                   ConsumerCallback callback,
                                                   const ConsumeOptions& options = {}) = 0;

  // basic.cancel. Cancelling an unknown tag succeeds. Deliveries already
  // dispatched to the consumer still reach its callback.
  virtual absl::Status BasicCancel(std::string_view consumer_tag) = 0;

  // basic.ack. Errors: 406 (closing the channel) for a tag that is not
  // unacked on this channel.
  virtual absl::Status BasicAck(uint64_t delivery_tag, const AckOptions& options = {}) = 0;

  // basic.nack. Errors as BasicAck.
  virtual absl::Status BasicNack(uint64_t delivery_tag, const NackOptions& options = {}) = 0;

  // basic.reject. Errors as BasicAck.
  virtual absl::Status BasicReject(uint64_t delivery_tag,
                                   const RejectOptions& options = {}) = 0;

  // basic.recover: requeues every unacked delivery of the channel.
  virtual absl::Status BasicRecover(const RecoverOptions& options = {}) = 0;

  // confirm.select: from now on every publish on this channel is confirmed.
  virtual absl::Status ConfirmSelect() = 0;

  // The sequence number the next publish will have in confirm mode (from 1).
  virtual uint64_t NextPublishSeqNo() const = 0;

  // Called for every confirm, on the dispatcher. Set it before publishing;
  // an empty function removes it.
  virtual void SetConfirmHandler(std::function<void(const Confirm&)> handler) = 0;

  // Waits until every publish so far is confirmed. OK when all were acked;
  // kDataLoss naming the first nacked sequence number when any was nacked
  // since the last wait; kDeadlineExceeded after `timeout`;
  // kFailedPrecondition when the channel is not in confirm mode; 504 when
  // the channel closes while waiting. Confirms are decided as the queues
  // take the messages, not by the dispatcher, so this works in every
  // Dispatch mode.
  virtual absl::Status WaitForConfirms(absl::Duration timeout) = 0;

  // Called for every returned (mandatory, unroutable) message, on the
  // dispatcher; an empty function removes it.
  virtual void SetReturnHandler(std::function<void(const ReturnedMessage&)> handler) = 0;

  // channel.close. Requeues the channel's unacked deliveries and cancels its
  // consumers. Closing a closed channel succeeds.
  virtual absl::Status Close() = 0;

  // False once closed by Close(), by an error, or with its connection.
  virtual bool is_open() const = 0;

  // Why the channel closed: OK while open or after a clean Close().
  virtual absl::Status close_reason() const = 0;
};

}  // namespace warren

#endif  // WARREN_CHANNEL_H_
