// examples/testing/order_service.cc: the order service's topology, its
// publisher and its fulfilment consumer with retries and dead-lettering.
#include "order_service.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <utility>

#include "warren/field_table.h"

namespace orders {
namespace {

// How long a publish may wait for its confirm.
constexpr absl::Duration kConfirmTimeout = absl::Seconds(5);

// The attempt a delivery is: one more than the attempt that failed before it.
int AttemptOf(const warren::Message& message) {
  const std::optional<warren::FieldTable>& headers = message.properties().headers;
  const warren::FieldValue* previous = headers ? headers->Find(kAttemptHeader) : nullptr;
  std::optional<int64_t> n = previous ? previous->AsInteger() : std::nullopt;
  return static_cast<int>(n.value_or(0)) + 1;
}

}  // namespace

std::string Encode(const Order& order) {
  return "id=" + order.id + "\nitem=" + order.item + "\nquantity=" +
         std::to_string(order.quantity);
}

std::optional<Order> Decode(std::string_view body) {
  Order order;
  bool has_id = false;
  while (!body.empty()) {
    const size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key == "id") {
      order.id = std::string(value);
      has_id = !value.empty();
    } else if (key == "item") {
      order.item = std::string(value);
    } else if (key == "quantity") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), order.quantity);
      if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
    }
  }
  if (!has_id) return std::nullopt;
  return order;
}

absl::Status DeclareOrderTopology(warren::Channel& channel) {
  using warren::FieldTable;
  if (absl::Status s = channel.ExchangeDeclare(kExchange, warren::kTopic); !s.ok()) return s;
  if (absl::Status s = channel.ExchangeDeclare(kDeadLetterExchange, warren::kFanout); !s.ok()) {
    return s;
  }
  const std::pair<std::string_view, FieldTable> queues[] = {
      {kFulfilmentQueue,
       {{"x-message-ttl", static_cast<int32_t>(absl::ToInt64Milliseconds(kFulfilmentTtl))},
        {"x-dead-letter-exchange", std::string(kDeadLetterExchange)}}},
      {kWaitQueue,
       {{"x-dead-letter-exchange", ""},
        {"x-dead-letter-routing-key", std::string(kFulfilmentQueue)}}},
      {kDeadQueue, {}},
  };
  for (const auto& [name, arguments] : queues) {
    if (absl::Status s = channel.QueueDeclare(name, {.durable = true, .arguments = arguments})
                             .status();
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = channel.QueueBind(kFulfilmentQueue, kExchange, kPlacedKey); !s.ok()) {
    return s;
  }
  return channel.QueueBind(kDeadQueue, kDeadLetterExchange, "");
}

absl::Status OrderPublisher::EnsureChannel() {
  if (channel_ && channel_->is_open()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<warren::Channel>> channel = connection_.OpenChannel();
  if (!channel.ok()) return channel.status();
  if (absl::Status s = (*channel)->ConfirmSelect(); !s.ok()) return s;
  channel_ = *std::move(channel);
  return absl::OkStatus();
}

absl::Status OrderPublisher::Place(const Order& order) {
  if (absl::Status s = EnsureChannel(); !s.ok()) return s;
  warren::BasicProperties props;
  props.content_type = "text/plain";
  props.correlation_id = order.id;
  props.delivery_mode = 2;
  if (absl::Status s = channel_->BasicPublish(kExchange, kPlacedKey,
                                              warren::Message(Encode(order), std::move(props)));
      !s.ok()) {
    return s;
  }
  absl::Status confirmed = channel_->WaitForConfirms(kConfirmTimeout);
  if (absl::IsDataLoss(confirmed)) {
    return absl::UnavailableError("order " + order.id + " was not accepted by the broker");
  }
  return confirmed;
}

absl::StatusOr<std::unique_ptr<Fulfilment>> Fulfilment::Start(warren::Connection& connection,
                                                               FulfilFn fulfil,
                                                               RetryPolicy policy) {
  absl::StatusOr<std::unique_ptr<warren::Channel>> channel = connection.OpenChannel();
  if (!channel.ok()) return channel.status();
  if (absl::Status s = (*channel)->BasicQos(10); !s.ok()) return s;
  std::unique_ptr<Fulfilment> service(
      new Fulfilment(*std::move(channel), std::move(fulfil), policy));
  Fulfilment* self = service.get();
  absl::StatusOr<std::string> tag = self->channel_->BasicConsume(
      kFulfilmentQueue, [self](const warren::Delivery& d) { self->OnDelivery(d); },
      {.consumer_tag = "fulfilment",
       .on_cancel = [self](std::string_view) { self->consuming_.store(false); }});
  if (!tag.ok()) return tag.status();
  return service;
}

Fulfilment::Fulfilment(std::unique_ptr<warren::Channel> channel, FulfilFn fulfil,
                       RetryPolicy policy)
    : channel_(std::move(channel)), fulfil_(std::move(fulfil)), policy_(policy) {}

void Fulfilment::OnDelivery(const warren::Delivery& delivery) {
  const int attempt = AttemptOf(delivery.message);
  std::optional<Order> order = Decode(delivery.message.body());
  const absl::Status result =
      order ? fulfil_(*order) : absl::InvalidArgumentError("malformed order");
  if (result.ok()) {
    channel_->BasicAck(delivery.delivery_tag).IgnoreError();
    return;
  }
  if (absl::IsUnavailable(result) && attempt < policy_.max_attempts &&
      ScheduleRetry(delivery, attempt).ok()) {
    channel_->BasicAck(delivery.delivery_tag).IgnoreError();
    return;
  }
  // Dead-lettered through orders.dlx, with x-death saying why.
  channel_->BasicReject(delivery.delivery_tag, {.requeue = false}).IgnoreError();
}

absl::Status Fulfilment::ScheduleRetry(const warren::Delivery& delivery, int attempt) {
  warren::BasicProperties props = delivery.message.properties();
  if (!props.headers) props.headers.emplace();
  props.headers->Set(kAttemptHeader, static_cast<int32_t>(attempt));
  const absl::Duration delay = policy_.first_delay * (int64_t{1} << (attempt - 1));
  props.expiration = std::to_string(absl::ToInt64Milliseconds(delay));
  return channel_->BasicPublish("", kWaitQueue, delivery.message.WithProperties(std::move(props)));
}

}  // namespace orders
