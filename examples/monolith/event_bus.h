// examples/monolith/event_bus.h: the contract between the demo's modules: the
// event exchange, the routing keys, how an order event is carried, and the
// few steps every module takes to get onto the bus.
//
// A module includes this and warren's public API, never another module's
// header, and reaches the broker only through a URL: that is what lets a
// module move into its own process later and talk to RabbitMQ (amqp://...)
// instead, with its code and this contract unchanged.
#ifndef WARREN_EXAMPLES_MONOLITH_EVENT_BUS_H_
#define WARREN_EXAMPLES_MONOLITH_EVENT_BUS_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/message.h"

namespace monolith {

// Every module publishes its events to this topic exchange, and subscribes
// with its own queue bound to the keys it cares about.
inline constexpr std::string_view kEventExchange = "orders";

// Routing keys are "<entity>.<what happened>"; each module publishes only its
// own entity's.
inline constexpr std::string_view kOrderCreated = "order.created";          // orders
inline constexpr std::string_view kOrderPaid = "order.paid";                // orders
inline constexpr std::string_view kPaymentSucceeded = "payment.succeeded";  // billing
inline constexpr std::string_view kPaymentFailed = "payment.failed";        // billing
inline constexpr std::string_view kShipmentSent = "shipment.sent";          // shipping

// The payload of every event: which order, and its amount.
struct OrderEvent {
  int order_id = 0;
  int amount_cents = 0;
};

// A module's own connection to the broker, and a channel on it.
struct BusLink {
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
};

// Connects a module to the broker at `bus_url` (see warren/connect.h) and
// declares the event exchange. Every module declares it, as RabbitMQ clients
// do, so that none depends on another starting first.
absl::StatusOr<BusLink> ConnectToBus(std::string_view bus_url);

// Declares a module's durable queue `queue` and binds it to the event
// exchange once per routing key (patterns allowed).
absl::Status Subscribe(warren::Channel& channel, std::string_view queue,
                       std::initializer_list<std::string_view> routing_keys,
                       const warren::FieldTable& queue_arguments = {});

// A subscribing module's first steps: ConnectToBus, Subscribe with `queue`
// and `routing_keys`, and, unless `prefetch` is 0 (no limit), basic.qos on
// the link's channel.
absl::StatusOr<BusLink> ConnectAndSubscribe(std::string_view bus_url, std::string_view queue,
                                            std::initializer_list<std::string_view> routing_keys,
                                            uint16_t prefetch = 0);

// Publishes `event` with `routing_key`, persistent, naming the publishing
// module as its app_id.
absl::Status PublishEvent(warren::Channel& channel, std::string_view routing_key,
                          const OrderEvent& event, std::string_view module);

// The event a message carries; nullopt when it is not a well-formed event.
std::optional<OrderEvent> ParseEvent(const warren::Message& message);

// Reports a failed broker call made inside a consumer callback, which has no
// caller to return it to. The demo then falls short of its expected counts
// and says so.
void ReportError(std::string_view module, std::string_view what, const absl::Status& status);

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_EVENT_BUS_H_
