// examples/monolith/shipping.h: the shipping module. It ships each paid order
// once (order.paid) and announces the shipment (shipment.sent).
//
// It talks to the other modules only through the event bus (event_bus.h),
// over its own connection.
#ifndef WARREN_EXAMPLES_MONOLITH_SHIPPING_H_
#define WARREN_EXAMPLES_MONOLITH_SHIPPING_H_

#include <functional>
#include <memory>
#include <mutex>
#include <set>

#include "absl/status/statusor.h"
#include "event_bus.h"
#include "warren/channel.h"

namespace monolith {

class Shipping {
 public:
  struct Stats {
    std::set<int> shipped_orders;
    int duplicates_ignored = 0;
    int deliveries_settled = 0;  // acked; counted last
  };

  // Connects to the broker at `bus_url`, subscribes to order.paid and starts
  // consuming. `on_progress` is called after each delivery the module
  // settles, from a dispatcher thread.
  static absl::StatusOr<std::unique_ptr<Shipping>> Start(std::string_view bus_url,
                                                         std::function<void()> on_progress);

  Stats stats() const;

 private:
  Shipping(BusLink link, std::function<void()> on_progress);
  void OnOrderPaid(const warren::Delivery& delivery);

  const BusLink link_;
  const std::function<void()> on_progress_;
  mutable std::mutex mu_;
  Stats stats_;
};

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_SHIPPING_H_
