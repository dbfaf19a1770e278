// AmqpChannel and AmqpConnection: each Channel method as its AMQP method.
#include "amqp/amqp_channel.h"

#include <utility>

#include "amqp/methods.h"
#include "short_string.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::amqp {
namespace {

// basic.ack has no requeue flag and basic.reject no multiple flag; a flag
// its method lacks is false.
template <typename Method>
void* SettleMethod(Encoder& encoder, uint64_t delivery_tag, bool multiple, bool requeue) {
  auto* m = encoder.New<Method>();
  m->delivery_tag = delivery_tag;
  if constexpr (requires { m->multiple; }) m->multiple = multiple;
  if constexpr (requires { m->requeue; }) m->requeue = requeue;
  return m;
}

// rabbitmq-c cannot encode a short string (name, key, tag, table key,
// property) over 255 bytes, and a failed encode would look like a dropped
// socket: such input is refused before it is sent, closing nothing, as
// client libraries do (short_string.h). The rest RabbitMQ judges.
absl::Status CheckArguments(std::initializer_list<std::string_view> strings,
                            const FieldTable& arguments) {
  if (absl::Status s = CheckShortStrings(strings); !s.ok()) return s;
  return CheckTableKeys(arguments);
}

}  // namespace

AmqpChannel::AmqpChannel(std::shared_ptr<Link> link, std::shared_ptr<ChannelState> state)
    : link_(std::move(link)), state_(std::move(state)) {}

AmqpChannel::~AmqpChannel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state_->is_open()) return;
  state_->Close(absl::OkStatus());
  link_->CloseChannel(state_, absl::OkStatus(), /*wait=*/false).IgnoreError();
}

absl::Status AmqpChannel::CheckOpen() const {
  if (!state_->is_open()) {
    absl::Status reason = state_->close_reason();
    return AmqpError(ReplyCode::kChannelError,
                     StrCat("channel is closed", reason.ok() ? "" : ": ", reason.message()));
  }
  return link_->Availability();
}

absl::Status AmqpChannel::Refuse(absl::Status error) {
  state_->Close(error);
  link_->CloseChannel(state_, error, /*wait=*/false).IgnoreError();
  return error;
}

absl::StatusOr<Reply> AmqpChannel::Call(amqp_method_number_t method,
                                        std::initializer_list<amqp_method_number_t> replies,
                                        MethodBuilder build, ReplyHook hook) {
  return link_->Call(state_, method, replies, std::move(build), std::move(hook));
}

std::string AmqpChannel::CurrentName(std::string_view queue) const {
  return queue.empty() ? std::string() : link_->topology().Resolve(queue);
}

std::string AmqpChannel::Recorded(const std::string& queue) const {
  return queue.empty() ? last_queue_ : queue;
}

absl::Status AmqpChannel::ExchangeDeclare(std::string_view exchange, std::string_view type,
                                          const ExchangeDeclareOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckArguments({exchange, type}, options.arguments); !s.ok()) return s;
  ExchangeRecord record{std::string(exchange), std::string(type), options};
  absl::StatusOr<Reply> reply =
      Call(AMQP_EXCHANGE_DECLARE_METHOD, {AMQP_EXCHANGE_DECLARE_OK_METHOD},
           [record](Encoder& e) { return ExchangeDeclareMethod(e, record); });
  if (!reply.ok()) return reply.status();
  if (!options.passive) link_->topology().DeclareExchange(std::move(record));
  return absl::OkStatus();
}

absl::Status AmqpChannel::ExchangeDelete(std::string_view exchange,
                                         const ExchangeDeleteOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckShortStrings({exchange}); !s.ok()) return s;
  absl::StatusOr<Reply> reply =
      Call(AMQP_EXCHANGE_DELETE_METHOD, {AMQP_EXCHANGE_DELETE_OK_METHOD},
           [name = std::string(exchange), options](Encoder& e) -> void* {
             auto* m = e.New<amqp_exchange_delete_t>();
             m->exchange = Bytes(name);
             m->if_unused = options.if_unused;
             return m;
           });
  if (!reply.ok()) return reply.status();
  link_->topology().DeleteExchange(exchange);
  return absl::OkStatus();
}

absl::Status AmqpChannel::ExchangeBind(std::string_view destination, std::string_view source,
                                       std::string_view routing_key,
                                       const FieldTable& arguments) {
  return ChangeBinding({true, std::string(destination), std::string(source),
                        std::string(routing_key), arguments},
                       /*bind=*/true);
}

absl::Status AmqpChannel::ExchangeUnbind(std::string_view destination, std::string_view source,
                                         std::string_view routing_key,
                                         const FieldTable& arguments) {
  return ChangeBinding({true, std::string(destination), std::string(source),
                        std::string(routing_key), arguments},
                       /*bind=*/false);
}

absl::StatusOr<QueueDeclareResult> AmqpChannel::QueueDeclare(
    std::string_view queue, const QueueDeclareOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckArguments({queue}, options.arguments); !s.ok()) return s;
  absl::StatusOr<Reply> reply =
      Call(AMQP_QUEUE_DECLARE_METHOD, {AMQP_QUEUE_DECLARE_OK_METHOD},
           [name = CurrentName(queue), options](Encoder& e) {
             return QueueDeclareMethod(e, name, options);
           });
  if (!reply.ok()) return reply.status();
  if (!options.passive) {
    link_->topology().DeclareQueue(QueueRecord{reply->name, queue.empty(), options});
  }
  last_queue_ = reply->name;
  return QueueDeclareResult{reply->name, reply->message_count, reply->consumer_count};
}

absl::Status AmqpChannel::QueueBind(std::string_view queue, std::string_view exchange,
                                    std::string_view routing_key,
                                    const FieldTable& arguments) {
  return ChangeBinding({false, std::string(queue), std::string(exchange),
                        std::string(routing_key), arguments},
                       /*bind=*/true);
}

absl::Status AmqpChannel::QueueUnbind(std::string_view queue, std::string_view exchange,
                                      std::string_view routing_key,
                                      const FieldTable& arguments) {
  return ChangeBinding({false, std::string(queue), std::string(exchange),
                        std::string(routing_key), arguments},
                       /*bind=*/false);
}

absl::Status AmqpChannel::ChangeBinding(BindingRecord record, bool bind) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckArguments({record.destination, record.source, record.routing_key},
                                      record.arguments);
      !s.ok()) {
    return s;
  }
  if (!record.to_exchange) record.destination = CurrentName(record.destination);
  const BindingMethod method = BindingMethodOf(record, bind);
  absl::StatusOr<Reply> reply =
      Call(method.method, {method.reply},
           [record, bind](Encoder& e) { return BindingMethodStruct(e, record, bind); });
  if (!reply.ok()) return reply.status();
  if (!record.to_exchange) {
    // RabbitMQ's shortcut: no queue and no key bind the last queue by its name.
    if (record.destination.empty() && record.routing_key.empty()) {
      record.routing_key = last_queue_;
    }
    record.destination = Recorded(record.destination);
  }
  if (bind) {
    link_->topology().Bind(std::move(record));
  } else {
    link_->topology().Unbind(record);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> AmqpChannel::QueuePurge(std::string_view queue) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckShortStrings({queue}); !s.ok()) return s;
  absl::StatusOr<Reply> reply =
      Call(AMQP_QUEUE_PURGE_METHOD, {AMQP_QUEUE_PURGE_OK_METHOD},
           [name = CurrentName(queue)](Encoder& e) -> void* {
             auto* m = e.New<amqp_queue_purge_t>();
             m->queue = Bytes(name);
             return m;
           });
  if (!reply.ok()) return reply.status();
  return reply->message_count;
}

absl::StatusOr<uint32_t> AmqpChannel::QueueDelete(std::string_view queue,
                                                  const QueueDeleteOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckShortStrings({queue}); !s.ok()) return s;
  const std::string name = CurrentName(queue);
  absl::StatusOr<Reply> reply =
      Call(AMQP_QUEUE_DELETE_METHOD, {AMQP_QUEUE_DELETE_OK_METHOD},
           [name, options](Encoder& e) -> void* {
             auto* m = e.New<amqp_queue_delete_t>();
             m->queue = Bytes(name);
             m->if_unused = options.if_unused;
             m->if_empty = options.if_empty;
             return m;
           });
  if (!reply.ok()) return reply.status();
  link_->topology().DeleteQueue(Recorded(name));
  return reply->message_count;
}

absl::Status AmqpChannel::BasicQos(uint16_t prefetch_count, const QosOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  absl::StatusOr<Reply> reply =
      Call(AMQP_BASIC_QOS_METHOD, {AMQP_BASIC_QOS_OK_METHOD},
           [prefetch_count, options](Encoder& e) -> void* {
             auto* m = e.New<amqp_basic_qos_t>();
             m->prefetch_size = options.prefetch_size;
             m->prefetch_count = prefetch_count;
             m->global = options.global;
             return m;
           });
  if (!reply.ok()) return reply.status();
  state_->SetPrefetch(prefetch_count, options.global);
  return absl::OkStatus();
}

absl::Status AmqpChannel::BasicPublish(std::string_view exchange, std::string_view routing_key,
                                       const Message& message, const PublishOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckShortStrings({exchange, routing_key}); !s.ok()) return s;
  if (absl::Status s = CheckProperties(message.properties()); !s.ok()) return s;
  // Through the default exchange a routing key names a queue, which may
  // have been renamed by a reconnect.
  std::string key = exchange.empty() ? CurrentName(routing_key) : std::string(routing_key);
  const uint64_t seq = state_->StartPublish();
  absl::Status sent =
      link_->Publish(state_, seq, std::string(exchange), std::move(key), message, options);
  if (!sent.ok()) state_->CancelPublish(seq);
  return sent;
}

absl::StatusOr<std::optional<GetResult>> AmqpChannel::BasicGet(std::string_view queue,
                                                               const GetOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckShortStrings({queue}); !s.ok()) return s;
  absl::StatusOr<Reply> reply = Call(
      AMQP_BASIC_GET_METHOD, {AMQP_BASIC_GET_OK_METHOD, AMQP_BASIC_GET_EMPTY_METHOD},
      [name = CurrentName(queue), options](Encoder& e) -> void* {
        auto* m = e.New<amqp_basic_get_t>();
        m->queue = Bytes(name);
        m->no_ack = options.no_ack;
        return m;
      },
      [state = state_, no_ack = options.no_ack](Reply& r) {
        if (r.got) r.got->delivery.delivery_tag = state->Delivered(r.got->delivery.delivery_tag, no_ack);
      });
  if (!reply.ok()) return reply.status();
  if (!reply->got) return std::optional<GetResult>();
  return std::optional<GetResult>(std::move(reply->got));
}

absl::StatusOr<std::string> AmqpChannel::BasicConsume(std::string_view queue,
                                                      ConsumerCallback callback,
                                                      const ConsumeOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckArguments({queue, options.consumer_tag}, options.arguments); !s.ok()) {
    return s;
  }
  if (!callback) return absl::InvalidArgumentError("BasicConsume needs a callback");
  const std::string name = CurrentName(queue);
  ConsumerEntry entry{Recorded(name), options,
                      std::make_shared<const ConsumerCallback>(std::move(callback))};
  absl::StatusOr<Reply> reply = Call(
      AMQP_BASIC_CONSUME_METHOD, {AMQP_BASIC_CONSUME_OK_METHOD},
      [name, options](Encoder& e) { return ConsumeMethod(e, name, options); },
      // Registered before the I/O thread reads on: deliveries follow at once.
      [state = state_, entry = std::move(entry)](Reply& r) mutable {
        entry.options.consumer_tag = r.name;
        state->AddConsumer(std::move(entry));
      });
  if (!reply.ok()) return reply.status();
  link_->topology().MarkConsumed(Recorded(name));
  return reply->name;
}

absl::Status AmqpChannel::BasicCancel(std::string_view consumer_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckShortStrings({consumer_tag}); !s.ok()) return s;
  absl::StatusOr<Reply> reply = Call(
      AMQP_BASIC_CANCEL_METHOD, {AMQP_BASIC_CANCEL_OK_METHOD},
      [tag = std::string(consumer_tag)](Encoder& e) -> void* {
        auto* m = e.New<amqp_basic_cancel_t>();
        m->consumer_tag = Bytes(tag);
        return m;
      },
      [state = state_, tag = std::string(consumer_tag)](Reply&) { state->RemoveConsumer(tag); });
  return reply.status();
}

absl::Status AmqpChannel::Settle(amqp_method_number_t method, uint64_t delivery_tag,
                                 bool multiple, bool requeue) {
  if (!state_->is_open()) return CheckOpen();
  absl::StatusOr<SettleTarget> target = state_->Settle(delivery_tag, multiple);
  if (!target.ok()) return Refuse(target.status());
  // The broker requeued the deliveries of the lost connection already.
  if (target->stale) return absl::OkStatus();
  return link_->Send(state_, method,
                     [method, tag = target->broker_tag, multiple, requeue](Encoder& e) {
                       switch (method) {
                         case AMQP_BASIC_ACK_METHOD:
                           return SettleMethod<amqp_basic_ack_t>(e, tag, multiple, requeue);
                         case AMQP_BASIC_NACK_METHOD:
                           return SettleMethod<amqp_basic_nack_t>(e, tag, multiple, requeue);
                         default:
                           return SettleMethod<amqp_basic_reject_t>(e, tag, multiple, requeue);
                       }
                     });
}

absl::Status AmqpChannel::BasicAck(uint64_t delivery_tag, const AckOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  return Settle(AMQP_BASIC_ACK_METHOD, delivery_tag, options.multiple, false);
}

absl::Status AmqpChannel::BasicNack(uint64_t delivery_tag, const NackOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  return Settle(AMQP_BASIC_NACK_METHOD, delivery_tag, options.multiple, options.requeue);
}

absl::Status AmqpChannel::BasicReject(uint64_t delivery_tag, const RejectOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  return Settle(AMQP_BASIC_REJECT_METHOD, delivery_tag, false, options.requeue);
}

absl::Status AmqpChannel::BasicRecover(const RecoverOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  return Call(
             AMQP_BASIC_RECOVER_METHOD, {AMQP_BASIC_RECOVER_OK_METHOD},
             [options](Encoder& e) -> void* {
               auto* m = e.New<amqp_basic_recover_t>();
               m->requeue = options.requeue;
               return m;
             },
             [state = state_](Reply&) { state->ForgetUnacked(); })
      .status();
}

absl::Status AmqpChannel::ConfirmSelect() {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  return Call(
             AMQP_CONFIRM_SELECT_METHOD, {AMQP_CONFIRM_SELECT_OK_METHOD},
             [](Encoder& e) -> void* { return e.New<amqp_confirm_select_t>(); },
             [state = state_](Reply&) { state->EnableConfirms(); })
      .status();
}

uint64_t AmqpChannel::NextPublishSeqNo() const { return state_->NextPublishSeqNo(); }

void AmqpChannel::SetConfirmHandler(std::function<void(const Confirm&)> handler) {
  state_->SetConfirmHandler(std::move(handler));
}

absl::Status AmqpChannel::WaitForConfirms(absl::Duration timeout) {
  return state_->WaitForConfirms(timeout);
}

void AmqpChannel::SetReturnHandler(std::function<void(const ReturnedMessage&)> handler) {
  state_->SetReturnHandler(std::move(handler));
}

absl::Status AmqpChannel::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state_->is_open()) return absl::OkStatus();
  state_->Close(absl::OkStatus());
  // The broker requeues the unacked deliveries before its close-ok; a close
  // that times out has still closed the channel here.
  link_->CloseChannel(state_, absl::OkStatus(), /*wait=*/true).IgnoreError();
  return absl::OkStatus();
}

bool AmqpChannel::is_open() const { return state_->is_open(); }

absl::Status AmqpChannel::close_reason() const { return state_->close_reason(); }

AmqpConnection::~AmqpConnection() { link_->Close(); }

absl::StatusOr<std::unique_ptr<Channel>> AmqpConnection::OpenChannel() {
  absl::StatusOr<std::shared_ptr<ChannelState>> state = link_->OpenChannel();
  if (!state.ok()) return state.status();
  return std::unique_ptr<Channel>(new AmqpChannel(link_, *std::move(state)));
}

absl::Status AmqpConnection::Close() {
  link_->Close();
  return absl::OkStatus();
}

bool AmqpConnection::is_open() const { return link_->is_open(); }

absl::Status AmqpConnection::close_reason() const { return link_->close_reason(); }

}  // namespace warren::amqp
