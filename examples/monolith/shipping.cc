// examples/monolith/shipping.cc: the shipping module's event handling.
// Touches the broker only through its own BusLink.

#include "shipping.h"

#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace monolith {
namespace {

constexpr std::string_view kModule = "shipping";
constexpr std::string_view kPaidOrdersQueue = "shipping.paid_orders";
// Shipments are independent of each other: no need to take them one by one.
constexpr uint16_t kPrefetch = 10;

}  // namespace

absl::StatusOr<std::unique_ptr<Shipping>> Shipping::Start(std::string_view bus_url,
                                                          Carrier& carrier,
                                                          std::function<void()> on_progress) {
  absl::StatusOr<BusLink> link =
      ConnectAndSubscribe(bus_url, kPaidOrdersQueue, {kOrderPaid}, kPrefetch);
  if (!link.ok()) return link.status();
  std::unique_ptr<Shipping> shipping(
      new Shipping(*std::move(link), carrier, std::move(on_progress)));
  absl::StatusOr<std::string> consumer = shipping->link_.channel->BasicConsume(
      kPaidOrdersQueue,
      [self = shipping.get()](const warren::Delivery& delivery) { self->OnOrderPaid(delivery); });
  if (!consumer.ok()) return consumer.status();
  return shipping;
}

Shipping::Shipping(BusLink link, Carrier& carrier, std::function<void()> on_progress)
    : link_(std::move(link)), carrier_(carrier), on_progress_(std::move(on_progress)) {}

void Shipping::OnOrderPaid(const warren::Delivery& delivery) {
  std::optional<OrderEvent> order = ParseEvent(delivery.message);
  bool ship = false;
  if (order.has_value()) {
    std::lock_guard<std::mutex> lock(mu_);
    // Delivery is at least once: a redelivered order.paid must not ship twice.
    ship = !stats_.shipped_orders.contains(order->order_id);
    if (!ship) ++stats_.duplicates_ignored;
  }
  if (ship && !Ship(delivery, *order)) {
    // Back to the queue, for the carrier to be asked again.
    absl::Status requeued = link_.channel->BasicNack(delivery.delivery_tag, {.requeue = true});
    if (!requeued.ok()) ReportError(kModule, "requeueing a paid order", requeued);
  } else {
    absl::Status acked = link_.channel->BasicAck(delivery.delivery_tag);
    if (!acked.ok()) ReportError(kModule, "acking a paid order", acked);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.deliveries_settled;
  }
  on_progress_();
}

bool Shipping::Ship(const warren::Delivery& delivery, const OrderEvent& order) {
  absl::Status booked = carrier_.Book(order);
  std::optional<std::string> requeued_because;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!booked.ok()) {
      stats_.requeued_orders[order.order_id] = std::string(booked.message());
      return false;
    }
    stats_.shipped_orders.insert(order.order_id);
    if (delivery.redelivered) stats_.shipped_on_redelivery.insert(order.order_id);
    auto requeued = stats_.requeued_orders.find(order.order_id);
    if (requeued != stats_.requeued_orders.end()) requeued_because = requeued->second;
  }
  if (requeued_because.has_value()) {
    std::printf("shipping: order %d not booked at first (%s), nacked with requeue; shipped on "
                "its redelivery (redelivered=%s)\n",
                order.order_id, requeued_because->c_str(),
                delivery.redelivered ? "true" : "false");
  }
  absl::Status published = PublishEvent(*link_.channel, kShipmentSent, order, kModule);
  if (!published.ok()) ReportError(kModule, "publishing shipment.sent", published);
  return true;
}

Shipping::Stats Shipping::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace monolith
