// amqp/methods: the rabbitmq-c structs of the methods a connection replays
// after a reconnect — exchange.declare, queue.declare, exchange.bind/unbind,
// queue.bind/unbind and basic.consume — built one way for the application's
// own call (AmqpChannel) and for the replay (Link).
//
// Owns only building them. As with the Encoder (codec.h), a struct borrows
// from the arguments and from the Encoder's pool, which must outlive its send.
#ifndef WARREN_LIB_AMQP_METHODS_H_
#define WARREN_LIB_AMQP_METHODS_H_

#include <amqp.h>

#include <string_view>

#include "amqp/codec.h"
#include "amqp/topology.h"
#include "warren/channel.h"

namespace warren::amqp {

void* ExchangeDeclareMethod(Encoder& encoder, const ExchangeRecord& exchange);

// `queue` is the name sent: "" asks the broker to name the queue.
void* QueueDeclareMethod(Encoder& encoder, std::string_view queue,
                         const QueueDeclareOptions& options);

// A binding's method: exchange.bind or queue.bind when `bind`, else the
// matching unbind, with the reply that answers it.
struct BindingMethod {
  amqp_method_number_t method = 0;
  amqp_method_number_t reply = 0;
};
BindingMethod BindingMethodOf(const BindingRecord& binding, bool bind);
void* BindingMethodStruct(Encoder& encoder, const BindingRecord& binding, bool bind);

void* ConsumeMethod(Encoder& encoder, std::string_view queue, const ConsumeOptions& options);

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_METHODS_H_
