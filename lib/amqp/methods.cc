// amqp/methods: rabbitmq-c method structs from warren's records and options.
#include "amqp/methods.h"

namespace warren::amqp {
namespace {

// exchange.bind and exchange.unbind name their ends destination and source;
// queue.bind and queue.unbind name them queue and exchange.
template <typename Method>
void* FillBinding(Encoder& encoder, const BindingRecord& binding) {
  auto* m = encoder.New<Method>();
  if constexpr (requires { m->destination; }) {
    m->destination = Bytes(binding.destination);
    m->source = Bytes(binding.source);
  } else {
    m->queue = Bytes(binding.destination);
    m->exchange = Bytes(binding.source);
  }
  m->routing_key = Bytes(binding.routing_key);
  m->arguments = encoder.Table(binding.arguments);
  return m;
}

}  // namespace

void* ExchangeDeclareMethod(Encoder& encoder, const ExchangeRecord& exchange) {
  auto* m = encoder.New<amqp_exchange_declare_t>();
  m->exchange = Bytes(exchange.name);
  m->type = Bytes(exchange.type);
  m->passive = exchange.options.passive;
  m->durable = exchange.options.durable;
  m->auto_delete = exchange.options.auto_delete;
  m->internal = exchange.options.internal;
  m->arguments = encoder.Table(exchange.options.arguments);
  return m;
}

void* QueueDeclareMethod(Encoder& encoder, std::string_view queue,
                         const QueueDeclareOptions& options) {
  auto* m = encoder.New<amqp_queue_declare_t>();
  m->queue = Bytes(queue);
  m->passive = options.passive;
  m->durable = options.durable;
  m->exclusive = options.exclusive;
  m->auto_delete = options.auto_delete;
  m->arguments = encoder.Table(options.arguments);
  return m;
}

BindingMethod BindingMethodOf(const BindingRecord& binding, bool bind) {
  if (binding.to_exchange) {
    return bind ? BindingMethod{AMQP_EXCHANGE_BIND_METHOD, AMQP_EXCHANGE_BIND_OK_METHOD}
                : BindingMethod{AMQP_EXCHANGE_UNBIND_METHOD, AMQP_EXCHANGE_UNBIND_OK_METHOD};
  }
  return bind ? BindingMethod{AMQP_QUEUE_BIND_METHOD, AMQP_QUEUE_BIND_OK_METHOD}
              : BindingMethod{AMQP_QUEUE_UNBIND_METHOD, AMQP_QUEUE_UNBIND_OK_METHOD};
}

void* BindingMethodStruct(Encoder& encoder, const BindingRecord& binding, bool bind) {
  if (binding.to_exchange) {
    return bind ? FillBinding<amqp_exchange_bind_t>(encoder, binding)
                : FillBinding<amqp_exchange_unbind_t>(encoder, binding);
  }
  return bind ? FillBinding<amqp_queue_bind_t>(encoder, binding)
              : FillBinding<amqp_queue_unbind_t>(encoder, binding);
}

void* ConsumeMethod(Encoder& encoder, std::string_view queue, const ConsumeOptions& options) {
  auto* m = encoder.New<amqp_basic_consume_t>();
  m->queue = Bytes(queue);
  m->consumer_tag = Bytes(options.consumer_tag);
  m->no_local = options.no_local;
  m->no_ack = options.no_ack;
  m->exclusive = options.exclusive;
  m->arguments = encoder.Table(options.arguments);
  return m;
}

}  // namespace warren::amqp
