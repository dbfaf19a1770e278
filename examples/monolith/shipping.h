// examples/monolith/shipping.h: the shipping module. It books each paid order
// (order.paid) with a carrier, once, and announces the shipment
// (shipment.sent).
//
// A booking the carrier fails is taken for a passing fault: shipping nacks
// the delivery with requeue, and the broker hands it back at once, marked
// redelivered, for another attempt. (A fault that lasts would want a delay
// between attempts, as billing's retry queue gives.)
//
// It talks to the other modules only through the event bus (event_bus.h),
// over its own connection.
#ifndef WARREN_EXAMPLES_MONOLITH_SHIPPING_H_
#define WARREN_EXAMPLES_MONOLITH_SHIPPING_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "event_bus.h"
#include "warren/channel.h"

namespace monolith {

// The carrier that takes shipments. Called from shipping's consumer
// callbacks, one at a time.
class Carrier {
 public:
  virtual ~Carrier() = default;
  // Books the order's shipment; an error means it was not booked, and that
  // asking again may work.
  virtual absl::Status Book(const OrderEvent& order) = 0;
};

class Shipping {
 public:
  struct Stats {
    std::set<int> shipped_orders;
    // Orders whose booking failed, so that their delivery was nacked with
    // requeue, and why.
    std::map<int, std::string> requeued_orders;
    std::set<int> shipped_on_redelivery;  // from a delivery marked redelivered
    int duplicates_ignored = 0;
    int deliveries_settled = 0;  // acked or nacked; counted last
  };

  // Connects to the broker at `bus_url`, subscribes to order.paid and starts
  // consuming. `carrier` must outlive the broker's callbacks. `on_progress`
  // is called after each delivery the module settles, from a dispatcher
  // thread.
  static absl::StatusOr<std::unique_ptr<Shipping>> Start(std::string_view bus_url,
                                                         Carrier& carrier,
                                                         std::function<void()> on_progress);

  Stats stats() const;

 private:
  Shipping(BusLink link, Carrier& carrier, std::function<void()> on_progress);
  void OnOrderPaid(const warren::Delivery& delivery);
  // Books and announces `order`; false when the carrier did not book it.
  bool Ship(const warren::Delivery& delivery, const OrderEvent& order);

  const BusLink link_;
  Carrier& carrier_;
  const std::function<void()> on_progress_;
  mutable std::mutex mu_;
  Stats stats_;
};

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_SHIPPING_H_
