// examples/monolith/orders.cc: the orders module's event handling. Touches
// the broker only through its own BusLink.

#include "orders.h"

#include <utility>

namespace monolith {
namespace {

constexpr std::string_view kModule = "orders";
constexpr std::string_view kPaymentsQueue = "orders.payments";

}  // namespace

absl::StatusOr<std::unique_ptr<Orders>> Orders::Start(std::string_view bus_url,
                                                      std::function<void()> on_progress) {
  absl::StatusOr<BusLink> link = ConnectAndSubscribe(bus_url, kPaymentsQueue, {kPaymentSucceeded});
  if (!link.ok()) return link.status();
  std::unique_ptr<Orders> orders(new Orders(*std::move(link), std::move(on_progress)));
  absl::StatusOr<std::string> consumer = orders->link_.channel->BasicConsume(
      kPaymentsQueue, [self = orders.get()](const warren::Delivery& delivery) {
        self->OnPaymentSucceeded(delivery);
      });
  if (!consumer.ok()) return consumer.status();
  return orders;
}

Orders::Orders(BusLink link, std::function<void()> on_progress)
    : link_(std::move(link)), on_progress_(std::move(on_progress)) {}

absl::StatusOr<int> Orders::PlaceOrder(int amount_cents) {
  OrderEvent created{.amount_cents = amount_cents};
  {
    std::lock_guard<std::mutex> lock(mu_);
    created.order_id = ++last_order_id_;
    orders_[created.order_id] = Order{.amount_cents = amount_cents};
  }
  absl::Status published = PublishEvent(*link_.channel, kOrderCreated, created, kModule);
  if (!published.ok()) return published;
  return created.order_id;
}

void Orders::OnPaymentSucceeded(const warren::Delivery& delivery) {
  std::optional<OrderEvent> payment = ParseEvent(delivery.message);
  bool newly_paid = false;
  if (payment.has_value()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto order = orders_.find(payment->order_id);
    if (order != orders_.end() && order->second.state == State::kCreated) {
      order->second.state = State::kPaid;
      newly_paid = true;
    }
  }
  // A duplicate or unknown payment is acked and ignored: announcing it again
  // would ship the order twice.
  if (newly_paid) {
    absl::Status published = PublishEvent(*link_.channel, kOrderPaid, *payment, kModule);
    if (!published.ok()) ReportError(kModule, "publishing order.paid", published);
  }
  absl::Status acked = link_.channel->BasicAck(delivery.delivery_tag);
  if (!acked.ok()) ReportError(kModule, "acking a payment", acked);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++deliveries_settled_;
  }
  on_progress_();
}

Orders::Stats Orders::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats stats{.placed = static_cast<int>(orders_.size()),
              .deliveries_settled = deliveries_settled_};
  for (const auto& [id, order] : orders_) {
    if (order.state == State::kPaid) stats.paid_orders.insert(id);
  }
  return stats;
}

}  // namespace monolith
