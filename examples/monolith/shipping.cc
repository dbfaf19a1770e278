// examples/monolith/shipping.cc: the shipping module's event handling.
// Touches the broker only through its own BusLink.

#include "shipping.h"

#include <utility>

namespace monolith {
namespace {

constexpr std::string_view kModule = "shipping";
constexpr std::string_view kPaidOrdersQueue = "shipping.paid_orders";
// Shipments are independent of each other: no need to take them one by one.
constexpr uint16_t kPrefetch = 10;

}  // namespace

absl::StatusOr<std::unique_ptr<Shipping>> Shipping::Start(std::string_view bus_url,
                                                          std::function<void()> on_progress) {
  absl::StatusOr<BusLink> link =
      ConnectAndSubscribe(bus_url, kPaidOrdersQueue, {kOrderPaid}, kPrefetch);
  if (!link.ok()) return link.status();
  std::unique_ptr<Shipping> shipping(new Shipping(*std::move(link), std::move(on_progress)));
  absl::StatusOr<std::string> consumer = shipping->link_.channel->BasicConsume(
      kPaidOrdersQueue,
      [self = shipping.get()](const warren::Delivery& delivery) { self->OnOrderPaid(delivery); });
  if (!consumer.ok()) return consumer.status();
  return shipping;
}

Shipping::Shipping(BusLink link, std::function<void()> on_progress)
    : link_(std::move(link)), on_progress_(std::move(on_progress)) {}

void Shipping::OnOrderPaid(const warren::Delivery& delivery) {
  std::optional<OrderEvent> order = ParseEvent(delivery.message);
  bool ship = false;
  if (order.has_value()) {
    std::lock_guard<std::mutex> lock(mu_);
    // Delivery is at least once: a redelivered order.paid must not ship twice.
    ship = stats_.shipped_orders.insert(order->order_id).second;
    if (!ship) ++stats_.duplicates_ignored;
  }
  if (ship) {
    absl::Status published = PublishEvent(*link_.channel, kShipmentSent, *order, kModule);
    if (!published.ok()) ReportError(kModule, "publishing shipment.sent", published);
  }
  absl::Status acked = link_.channel->BasicAck(delivery.delivery_tag);
  if (!acked.ok()) ReportError(kModule, "acking a paid order", acked);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.deliveries_settled;
  }
  on_progress_();
}

Shipping::Stats Shipping::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace monolith
