// examples/monolith/event_bus.cc: the event contract's encoding and the
// modules' common bus steps. Knows no module.

#include "event_bus.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "warren/connect.h"

namespace monolith {
namespace {

// The payload travels in typed headers, so that any consumer reads it
// without a parser; the body is a readable summary for people.
constexpr std::string_view kOrderIdHeader = "order-id";
constexpr std::string_view kAmountHeader = "amount-cents";

}  // namespace

absl::StatusOr<BusLink> ConnectToBus(std::string_view bus_url) {
  BusLink link;
  absl::StatusOr<std::unique_ptr<warren::Connection>> connection = warren::Connect(bus_url);
  if (!connection.ok()) return connection.status();
  link.connection = *std::move(connection);
  absl::StatusOr<std::unique_ptr<warren::Channel>> channel = link.connection->OpenChannel();
  if (!channel.ok()) return channel.status();
  link.channel = *std::move(channel);
  absl::Status declared =
      link.channel->ExchangeDeclare(kEventExchange, warren::kTopic, {.durable = true});
  if (!declared.ok()) return declared;
  return link;
}

absl::Status Subscribe(warren::Channel& channel, std::string_view queue,
                       std::initializer_list<std::string_view> routing_keys,
                       const warren::FieldTable& queue_arguments) {
  absl::Status declared =
      channel.QueueDeclare(queue, {.durable = true, .arguments = queue_arguments}).status();
  if (!declared.ok()) return declared;
  for (std::string_view routing_key : routing_keys) {
    absl::Status bound = channel.QueueBind(queue, kEventExchange, routing_key);
    if (!bound.ok()) return bound;
  }
  return absl::OkStatus();
}

absl::StatusOr<BusLink> ConnectAndSubscribe(std::string_view bus_url, std::string_view queue,
                                            std::initializer_list<std::string_view> routing_keys,
                                            uint16_t prefetch) {
  absl::StatusOr<BusLink> link = ConnectToBus(bus_url);
  if (!link.ok()) return link.status();
  absl::Status subscribed = Subscribe(*link->channel, queue, routing_keys);
  if (!subscribed.ok()) return subscribed;
  if (prefetch != 0) {
    absl::Status qos = link->channel->BasicQos(prefetch);
    if (!qos.ok()) return qos;
  }
  return link;
}

absl::Status PublishEvent(warren::Channel& channel, std::string_view routing_key,
                          const OrderEvent& event, std::string_view module) {
  warren::BasicProperties properties;
  properties.content_type = "text/plain";
  properties.delivery_mode = 2;
  properties.app_id = std::string(module);
  properties.headers =
      warren::FieldTable{{std::string(kOrderIdHeader), int32_t{event.order_id}},
                         {std::string(kAmountHeader), int32_t{event.amount_cents}}};
  std::string summary = std::string(routing_key) + " order " + std::to_string(event.order_id);
  return channel.BasicPublish(kEventExchange, routing_key,
                              warren::Message(std::move(summary), std::move(properties)));
}

std::optional<OrderEvent> ParseEvent(const warren::Message& message) {
  const std::optional<warren::FieldTable>& headers = message.properties().headers;
  if (!headers.has_value()) return std::nullopt;
  const warren::FieldValue* order_id = headers->Find(kOrderIdHeader);
  const warren::FieldValue* amount = headers->Find(kAmountHeader);
  if (order_id == nullptr || amount == nullptr) return std::nullopt;
  std::optional<int64_t> order_id_value = order_id->AsInteger();
  std::optional<int64_t> amount_value = amount->AsInteger();
  if (!order_id_value.has_value() || !amount_value.has_value()) return std::nullopt;
  return OrderEvent{.order_id = static_cast<int>(*order_id_value),
                    .amount_cents = static_cast<int>(*amount_value)};
}

void ReportError(std::string_view module, std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "%.*s: %.*s failed: %s\n", static_cast<int>(module.size()), module.data(),
               static_cast<int>(what.size()), what.data(), status.ToString().c_str());
}

}  // namespace monolith
