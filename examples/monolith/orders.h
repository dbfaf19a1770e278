// examples/monolith/orders.h: the orders module. It places orders, announces
// them (order.created), and marks them paid when billing reports a payment,
// announcing that in turn (order.paid), since an order's state is its own.
//
// It talks to the other modules only through the event bus (event_bus.h),
// over its own connection.
#ifndef WARREN_EXAMPLES_MONOLITH_ORDERS_H_
#define WARREN_EXAMPLES_MONOLITH_ORDERS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "event_bus.h"
#include "warren/channel.h"

namespace monolith {

class Orders {
 public:
  struct Stats {
    int placed = 0;
    std::set<int> paid_orders;
    int deliveries_settled = 0;  // acked; counted last, when nothing is left to do
  };

  // Connects to the broker at `bus_url`, subscribes to payment.succeeded and
  // starts consuming. `on_progress` is called after each delivery the module
  // settles, from a dispatcher thread, so that its host can follow without
  // polling.
  static absl::StatusOr<std::unique_ptr<Orders>> Start(std::string_view bus_url,
                                                       std::function<void()> on_progress);

  // Records a new order and publishes order.created. Returns its id.
  absl::StatusOr<int> PlaceOrder(int amount_cents);

  Stats stats() const;

 private:
  enum class State { kCreated, kPaid };
  struct Order {
    int amount_cents = 0;
    State state = State::kCreated;
  };

  Orders(BusLink link, std::function<void()> on_progress);
  void OnPaymentSucceeded(const warren::Delivery& delivery);

  const BusLink link_;
  const std::function<void()> on_progress_;
  mutable std::mutex mu_;
  int last_order_id_ = 0;
  int deliveries_settled_ = 0;
  std::map<int, Order> orders_;
};

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_ORDERS_H_
