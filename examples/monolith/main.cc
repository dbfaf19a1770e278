// examples/monolith/main.cc: the modular-monolith demo. Orders, billing,
// shipping and audit run in one binary and exchange events through one warren
// broker, each over its own connection, as each would over RabbitMQ.
//
// The flow: orders publishes order.created; billing's two competing workers
// charge it and publish payment.succeeded (or payment.failed, then requeue);
// orders marks the order paid and publishes order.paid; shipping ships it and
// publishes shipment.sent; audit sees every event. One charge is declined
// once and succeeds on redelivery. The demo waits, without sleeping, until
// every module has settled all it should, prints what happened, and exits 0
// only when every count is what the flow implies.

#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "audit.h"
#include "billing.h"
#include "example_support.h"
#include "orders.h"
#include "shipping.h"
#include "warren/broker.h"

using examples::Check;

namespace {

constexpr int kOrders = 5;
constexpr int kDeclinedOrder = 3;
// Each order makes order.created, payment.succeeded, order.paid and
// shipment.sent; the declined attempt adds one payment.failed.
constexpr int kExpectedEvents = 4 * kOrders + 1;

int AmountOfOrder(int index) { return 1000 + 250 * index; }

// Stands in for the payment provider: declines the first charge of one
// order, as a card check that times out once and then goes through.
class DeclineOnce final : public monolith::PaymentGateway {
 public:
  explicit DeclineOnce(int order_id) : order_id_(order_id) {}

  absl::Status Charge(const monolith::OrderEvent& order) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (order.order_id != order_id_ || declined_) return absl::OkStatus();
    declined_ = true;
    return absl::UnavailableError("card check timed out");
  }

 private:
  const int order_id_;
  std::mutex mu_;
  bool declined_ = false;
};

// Wakes main() whenever a module settles a delivery, so that it waits for
// the counts it expects without polling or sleeping.
class Progress {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    changed_.notify_all();
  }

  // Waits until `done` holds; false after examples::kPatience.
  bool WaitUntil(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, examples::kPatience, done);
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
};

// Compares counts with what the flow implies, reporting every difference
// rather than only the first.
class CountCheck {
 public:
  void Expect(std::string_view what, int actual, int expected) {
    if (actual == expected) return;
    std::printf("FAILED: %.*s: %d, expected %d\n", static_cast<int>(what.size()), what.data(),
                actual, expected);
    all_as_expected_ = false;
  }
  bool all_as_expected() const { return all_as_expected_; }

 private:
  bool all_as_expected_ = true;
};

std::string Money(int cents) {
  char text[32];
  std::snprintf(text, sizeof(text), "%d.%02d", cents / 100, cents % 100);
  return text;
}

}  // namespace

int main() {
  Progress progress;
  DeclineOnce gateway(kDeclinedOrder);
  // The modules outlive the broker: destroying it first waits for their
  // callbacks that are still running.
  std::unique_ptr<monolith::Audit> audit;
  std::unique_ptr<monolith::Shipping> shipping;
  std::unique_ptr<monolith::Billing> billing;
  std::unique_ptr<monolith::Orders> orders;
  auto broker = Check(warren::Broker::Create(), "create the broker");

  // Subscribers start first, so that their queues exist before the first
  // event is published.
  auto notify = [&progress] { progress.Notify(); };
  audit = Check(monolith::Audit::Start(*broker, notify), "start audit");
  shipping = Check(monolith::Shipping::Start(*broker, notify), "start shipping");
  billing = Check(monolith::Billing::Start(*broker, gateway, monolith::BillingOptions{}, notify),
                  "start billing");
  orders = Check(monolith::Orders::Start(*broker, notify), "start orders");

  std::printf("orders: placing %d orders\n", kOrders);
  int placed_cents = 0;
  for (int index = 0; index < kOrders; ++index) {
    Check(orders->PlaceOrder(AmountOfOrder(index)), "place an order");
    placed_cents += AmountOfOrder(index);
  }

  // Each module counts a delivery once it has settled it, so when every
  // count is reached nothing is left in flight.
  bool settled = progress.WaitUntil([&] {
    return orders->stats().deliveries_settled >= kOrders &&
           billing->stats().deliveries_settled >= kOrders + 1 &&
           shipping->stats().deliveries_settled >= kOrders &&
           audit->stats().events_seen >= kExpectedEvents;
  });

  monolith::Orders::Stats orders_stats = orders->stats();
  monolith::Billing::Stats billing_stats = billing->stats();
  monolith::Shipping::Stats shipping_stats = shipping->stats();
  monolith::Audit::Stats audit_stats = audit->stats();

  std::printf("orders: placed %d orders, %d paid\n", orders_stats.placed, orders_stats.paid);
  std::printf("billing: charged %d orders, %s in all (%s by worker); %d declined attempt, %d requeued\n",
              billing_stats.paid, Money(billing_stats.charged_cents).c_str(),
              absl::StrJoin(billing_stats.paid_by_worker, " + ").c_str(),
              billing_stats.failed_attempts, billing_stats.requeued);
  std::printf("shipping: shipped %d orders\n", shipping_stats.shipped);
  std::printf("audit: saw %d events (%s)\n", audit_stats.events_seen,
              absl::StrJoin(audit_stats.events_by_routing_key, ", ", absl::PairFormatter(" ")).c_str());

  if (!settled) {
    std::printf("FAILED: timed out before every module settled its deliveries\n");
    return 1;
  }
  auto seen = [&audit_stats](std::string_view routing_key) {
    auto it = audit_stats.events_by_routing_key.find(std::string(routing_key));
    return it == audit_stats.events_by_routing_key.end() ? 0 : it->second;
  };
  CountCheck counts;
  counts.Expect("orders placed", orders_stats.placed, kOrders);
  counts.Expect("orders paid", orders_stats.paid, kOrders);
  counts.Expect("billing payments", billing_stats.paid, kOrders);
  counts.Expect("billing cents charged", billing_stats.charged_cents, placed_cents);
  counts.Expect("billing declined attempts", billing_stats.failed_attempts, 1);
  counts.Expect("billing requeues", billing_stats.requeued, 1);
  counts.Expect("billing rejections", billing_stats.rejected, 0);
  counts.Expect("billing payments on redelivery", billing_stats.paid_on_redelivery, 1);
  counts.Expect("shipping shipments", shipping_stats.shipped, kOrders);
  counts.Expect("shipping duplicates", shipping_stats.duplicates_ignored, 0);
  counts.Expect("audit events", audit_stats.events_seen, kExpectedEvents);
  counts.Expect("audit order.created", seen(monolith::kOrderCreated), kOrders);
  counts.Expect("audit payment.failed", seen(monolith::kPaymentFailed), 1);
  counts.Expect("audit payment.succeeded", seen(monolith::kPaymentSucceeded), kOrders);
  counts.Expect("audit order.paid", seen(monolith::kOrderPaid), kOrders);
  counts.Expect("audit shipment.sent", seen(monolith::kShipmentSent), kOrders);
  if (!counts.all_as_expected()) return 1;
  std::printf("demo: every count as expected\n");
  return 0;
}
