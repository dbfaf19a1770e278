// AmqpChannel and AmqpConnection: warren's Channel and Connection over a
// RabbitMQ connection (a Link).
//
// AmqpChannel turns each API call into its AMQP method, sent by the Link's
// I/O thread, and the reply into the API's result; the broker decides, so
// refusals carry RabbitMQ's own reply codes and close what RabbitMQ closes.
// It also keeps what a reconnect needs: declared topology (in the Link's
// Topology), consumers, prefetch and confirm mode (in the ChannelState).
//
// Owns the API lock that serializes one channel's calls and the channel's
// most recently declared queue (for the topology record); must not touch
// rabbitmq-c (only the Link's I/O thread does).
#ifndef WARREN_LIB_AMQP_AMQP_CHANNEL_H_
#define WARREN_LIB_AMQP_AMQP_CHANNEL_H_

#include <memory>
#include <mutex>
#include <string>

#include "amqp/channel_state.h"
#include "amqp/link.h"
#include "warren/channel.h"
#include "warren/connection.h"

namespace warren::amqp {

class AmqpChannel final : public Channel {
 public:
  AmqpChannel(std::shared_ptr<Link> link, std::shared_ptr<ChannelState> state);
  ~AmqpChannel() override;

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

 private:
  // All below run with mu_ held.
  // OK while open and connected; else 504 naming why the channel closed, or
  // the link's kUnavailable while it reconnects.
  absl::Status CheckOpen() const;
  // A refusal decided here rather than by the broker (an unknown delivery
  // tag): closes the channel on both sides, as RabbitMQ would. Returns
  // `error`.
  absl::Status Refuse(absl::Status error);
  // exchange.bind/unbind (record.to_exchange) or queue.bind/unbind, and its
  // topology record.
  absl::Status ChangeBinding(BindingRecord record, bool bind);
  // basic.ack, basic.nack and basic.reject.
  absl::Status Settle(amqp_method_number_t method, uint64_t delivery_tag, bool multiple,
                      bool requeue);
  absl::StatusOr<Reply> Call(amqp_method_number_t method,
                             std::initializer_list<amqp_method_number_t> replies,
                             MethodBuilder build, ReplyHook hook = nullptr);
  // The name the broker knows a queue by now ("" stays "": the broker reads
  // it as the channel's last declared queue).
  std::string CurrentName(std::string_view queue) const;
  // What "" means in a queue field, for the topology record.
  std::string Recorded(const std::string& queue) const;

  const std::shared_ptr<Link> link_;
  const std::shared_ptr<ChannelState> state_;
  mutable std::mutex mu_;
  std::string last_queue_;
};

class AmqpConnection final : public Connection {
 public:
  explicit AmqpConnection(std::shared_ptr<Link> link) : link_(std::move(link)) {}
  ~AmqpConnection() override;

  absl::StatusOr<std::unique_ptr<Channel>> OpenChannel() override;
  absl::Status Close() override;
  bool is_open() const override;
  absl::Status close_reason() const override;

 private:
  const std::shared_ptr<Link> link_;
};

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_AMQP_CHANNEL_H_
