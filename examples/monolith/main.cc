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
//
// This file is the host: it owns the broker and the modules' lifetimes, and
// reads the modules' stats. The modules never see the broker itself, only a
// URL: `monolith_demo amqp://guest:guest@localhost/demo` runs the same
// modules against a RabbitMQ instead of the in-process broker.

#include <condition_variable>
#include <cstdio>
#include <functional>
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
#include "warren/connect.h"

using examples::Check;

namespace {

// The modules find the broker by URL, as they would find RabbitMQ: moving one
// out of this process means giving it an amqp:// URL instead.
constexpr std::string_view kBrokerName = "monolith";
constexpr std::string_view kInProcessBusUrl = "inproc://monolith";

constexpr int kOrders = 5;
constexpr int kDeclinedOrder = 3;
// Each order makes order.created, payment.succeeded, order.paid and
// shipment.sent; the declined attempt adds one payment.failed.
constexpr int kExpectedEvents = 4 * kOrders + 1;

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

struct Modules {
  std::unique_ptr<monolith::Audit> audit;
  std::unique_ptr<monolith::Shipping> shipping;
  std::unique_ptr<monolith::Billing> billing;
  std::unique_ptr<monolith::Orders> orders;
};

// Subscribers start first, so that their queues exist before the first
// event is published.
void StartModules(std::string_view bus_url, Modules& modules, monolith::PaymentGateway& gateway,
                  Progress& progress) {
  auto notify = [&progress] { progress.Notify(); };
  modules.audit = Check(monolith::Audit::Start(bus_url, notify), "start audit");
  modules.shipping = Check(monolith::Shipping::Start(bus_url, notify), "start shipping");
  modules.billing =
      Check(monolith::Billing::Start(bus_url, gateway, monolith::BillingOptions{}, notify),
            "start billing");
  modules.orders = Check(monolith::Orders::Start(bus_url, notify), "start orders");
}

// Places the demo's orders; returns what they cost in all.
int PlaceOrders(monolith::Orders& orders) {
  std::printf("orders: placing %d orders\n", kOrders);
  int total_cents = 0;
  for (int index = 0; index < kOrders; ++index) {
    int amount_cents = 1000 + 250 * index;
    Check(orders.PlaceOrder(amount_cents), "place an order");
    total_cents += amount_cents;
  }
  return total_cents;
}

// Each module counts a delivery once it has settled it, so when every count
// is reached nothing is left in flight.
bool EverythingSettled(const Modules& modules) {
  return modules.orders->stats().deliveries_settled >= kOrders &&
         modules.billing->stats().deliveries_settled >= kOrders + 1 &&
         modules.shipping->stats().deliveries_settled >= kOrders &&
         modules.audit->stats().events_seen >= kExpectedEvents;
}

struct Outcome {
  monolith::Orders::Stats orders;
  monolith::Billing::Stats billing;
  monolith::Shipping::Stats shipping;
  monolith::Audit::Stats audit;

  int AuditedEvents(std::string_view routing_key) const {
    auto it = audit.events_by_routing_key.find(std::string(routing_key));
    return it == audit.events_by_routing_key.end() ? 0 : it->second;
  }
};

std::string Money(int cents) {
  char text[32];
  std::snprintf(text, sizeof(text), "%d.%02d", cents / 100, cents % 100);
  return text;
}

void PrintSummary(const Outcome& outcome) {
  std::printf("orders: placed %d orders, %d paid\n", outcome.orders.placed, outcome.orders.paid);
  std::printf("billing: charged %d orders, %s in all (%s by worker), %d declined, %d requeued\n",
              outcome.billing.paid, Money(outcome.billing.charged_cents).c_str(),
              absl::StrJoin(outcome.billing.paid_by_worker, " + ").c_str(),
              outcome.billing.failed_attempts, outcome.billing.requeued);
  std::printf("shipping: shipped %d orders\n", outcome.shipping.shipped);
  std::printf(
      "audit: saw %d events (%s)\n", outcome.audit.events_seen,
      absl::StrJoin(outcome.audit.events_by_routing_key, ", ", absl::PairFormatter(" ")).c_str());
}

// Compares every count with what the flow implies, and prints each
// difference rather than only the first.
bool CountsAsExpected(const Outcome& outcome, int placed_cents) {
  bool as_expected = true;
  auto expect = [&as_expected](std::string_view what, int actual, int expected) {
    if (actual == expected) return;
    std::printf("FAILED: %.*s: %d, expected %d\n", static_cast<int>(what.size()), what.data(),
                actual, expected);
    as_expected = false;
  };
  expect("orders placed", outcome.orders.placed, kOrders);
  expect("orders paid", outcome.orders.paid, kOrders);
  expect("billing payments", outcome.billing.paid, kOrders);
  expect("billing cents charged", outcome.billing.charged_cents, placed_cents);
  expect("billing declined attempts", outcome.billing.failed_attempts, 1);
  expect("billing requeues", outcome.billing.requeued, 1);
  expect("billing rejections", outcome.billing.rejected, 0);
  expect("billing payments on redelivery", outcome.billing.paid_on_redelivery, 1);
  expect("shipping shipments", outcome.shipping.shipped, kOrders);
  expect("shipping duplicates", outcome.shipping.duplicates_ignored, 0);
  expect("audit events", outcome.audit.events_seen, kExpectedEvents);
  expect("audit order.created", outcome.AuditedEvents(monolith::kOrderCreated), kOrders);
  expect("audit payment.failed", outcome.AuditedEvents(monolith::kPaymentFailed), 1);
  expect("audit payment.succeeded", outcome.AuditedEvents(monolith::kPaymentSucceeded), kOrders);
  expect("audit order.paid", outcome.AuditedEvents(monolith::kOrderPaid), kOrders);
  expect("audit shipment.sent", outcome.AuditedEvents(monolith::kShipmentSent), kOrders);
  return as_expected;
}

}  // namespace

int main(int argc, char** argv) {
  // Declared before the broker so that they outlive it: destroying the
  // broker waits for the modules' callbacks, which use all three.
  Progress progress;
  DeclineOnce gateway(kDeclinedOrder);
  Modules modules;
  std::unique_ptr<warren::Broker> broker;
  std::string_view bus_url = kInProcessBusUrl;
  if (argc > 1) {
    bus_url = argv[1];
  } else {
    broker = Check(warren::Broker::Create(), "create the broker");
    Check(warren::RegisterBroker(kBrokerName, broker.get()), "register the broker");
  }

  StartModules(bus_url, modules, gateway, progress);
  int placed_cents = PlaceOrders(*modules.orders);
  bool settled = progress.WaitUntil([&modules] { return EverythingSettled(modules); });
  Outcome outcome{.orders = modules.orders->stats(),
                  .billing = modules.billing->stats(),
                  .shipping = modules.shipping->stats(),
                  .audit = modules.audit->stats()};
  PrintSummary(outcome);
  if (!settled) std::printf("FAILED: timed out before every module settled its deliveries\n");
  bool as_expected = CountsAsExpected(outcome, placed_cents) && settled;
  if (as_expected) std::printf("demo: every count as expected\n");

  if (broker != nullptr) Check(warren::UnregisterBroker(kBrokerName), "unregister the broker");
  return as_expected ? 0 : 1;
}
