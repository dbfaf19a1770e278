// examples/monolith/main.cc: the modular-monolith demo. Orders, billing,
// shipping and audit exchange events through one broker, each over its own
// connection, as each would over RabbitMQ.
//
// The flow: orders publishes order.created; billing's two competing workers
// charge it and publish payment.succeeded (or payment.failed, then retry it
// after a delay through billing.retry, and dead-letter it to billing.dead
// after its last attempt); orders marks the order paid and publishes
// order.paid; shipping books it with the carrier, ships it and publishes
// shipment.sent; audit sees every event. One order's charge fails once and
// succeeds on its retry; another's fails every time and ends in
// billing.dead, whose x-death says why. The carrier times out once booking
// a third order: shipping nacks that delivery with requeue, and ships the
// order when the broker redelivers it. The demo waits, without sleeping,
// until every module has settled all it should, prints what happened, and
// exits 0 only when every count is what the flow implies.
//
// This file is the host: it owns the broker and the modules' lifetimes, and
// reads the modules' stats. The modules never see the broker itself, only a
// URL, so the same modules run
//   - all here, through the in-process broker (no arguments);
//   - all here, through RabbitMQ:  --bus amqp://guest:guest@localhost/demo
//   - split between processes, each pointed at the same RabbitMQ:
//       monolith_demo --bus URL --only shipping      (start it first)
//       monolith_demo --bus URL --without shipping
//     Each process checks the counts of the modules it runs; the audit
//     module's count of shipment.sent shows the orders shipped elsewhere.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

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

constexpr std::string_view kModuleNames[] = {"orders", "billing", "shipping", "audit"};

constexpr int kOrders = 5;
constexpr int kDeclinedOnceOrder = 3;    // paid on its second attempt
constexpr int kAlwaysDeclinedOrder = 4;  // dead-lettered after its last attempt
constexpr int kBookingTimeoutOrder = 2;  // shipped when redelivered after a nack
constexpr int kPaidOrders = kOrders - 1;
// Every paid order's order.paid once, and the one nacked with requeue again.
constexpr int kShippingDeliveries = kPaidOrders + 1;
const int kMaxAttempts = monolith::BillingOptions{}.max_attempts;
// Order 3 waits once in billing.retry, order 4 before each attempt but the first.
const int kRetries = 1 + (kMaxAttempts - 1);
// Every order makes order.created; each paid one payment.succeeded,
// order.paid and shipment.sent; each declined attempt a payment.failed.
const int kDeclinedAttempts = 1 + kMaxAttempts;
const int kExpectedEvents = kOrders + 3 * kPaidOrders + kDeclinedAttempts;

int AmountOf(int order_id) { return 1000 + 250 * (order_id - 1); }

// A fault that happens once: Strikes() is true the first time only, even
// when asked from several threads at once.
class OneTimeFault {
 public:
  bool Strikes() { return !struck_.exchange(true); }

 private:
  std::atomic<bool> struck_{false};
};

// Stands in for the payment provider: a card check that times out once for
// one order, and a provider that is down for another every time it is asked.
class FlakyGateway final : public monolith::PaymentGateway {
 public:
  absl::Status Charge(const monolith::OrderEvent& order) override {
    if (order.order_id == kAlwaysDeclinedOrder) {
      return absl::UnavailableError("payment provider unavailable");
    }
    if (order.order_id == kDeclinedOnceOrder && card_check_timeout_.Strikes()) {
      return absl::UnavailableError("card check timed out");
    }
    return absl::OkStatus();
  }

 private:
  OneTimeFault card_check_timeout_;
};

// Stands in for the carrier: its booking service times out once, for one
// order.
class FlakyCarrier final : public monolith::Carrier {
 public:
  absl::Status Book(const monolith::OrderEvent& order) override {
    if (order.order_id == kBookingTimeoutOrder && booking_timeout_.Strikes()) {
      return absl::UnavailableError("carrier booking timed out");
    }
    return absl::OkStatus();
  }

 private:
  OneTimeFault booking_timeout_;
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

// Where the modules run: the broker's URL and the modules this process runs.
struct Placement {
  std::string_view bus_url = kInProcessBusUrl;
  std::set<std::string_view> here{std::begin(kModuleNames), std::end(kModuleNames)};

  bool Runs(std::string_view module) const { return here.contains(module); }
  bool split() const { return here.size() != std::size(kModuleNames); }
};

constexpr std::string_view kUsage =
    "usage: monolith_demo [--bus URL] [--only MODULE | --without MODULE]\n"
    "  --bus URL         the broker the modules use (default: an in-process one),\n"
    "                    e.g. amqp://guest:guest@localhost/demo\n"
    "  --only MODULE     run MODULE alone here: orders, billing, shipping or audit\n"
    "  --without MODULE  run every module but MODULE here\n"
    "Modules split between processes need a --bus they can all reach (amqp:// or\n"
    "amqps://); start the process with the subscribers first.\n";

std::optional<Placement> ParseArguments(int argc, char** argv) {
  Placement placement;
  bool placed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 == argc) return std::nullopt;
    const std::string_view value = argv[++i];
    if (flag == "--bus") {
      placement.bus_url = value;
      continue;
    }
    const bool only = flag == "--only";
    if ((!only && flag != "--without") || placed) return std::nullopt;
    if (!placement.here.contains(value)) return std::nullopt;
    if (only) {
      placement.here = {value};
    } else {
      placement.here.erase(value);
    }
    placed = true;
  }
  if (placement.split() && placement.bus_url.starts_with("inproc://")) return std::nullopt;
  return placement;
}

// The modules this process runs; null when one runs elsewhere.
struct Modules {
  std::unique_ptr<monolith::Audit> audit;
  std::unique_ptr<monolith::Shipping> shipping;
  std::unique_ptr<monolith::Billing> billing;
  std::unique_ptr<monolith::Orders> orders;
};

// Subscribers start first, so that their queues exist before the first
// event is published.
void StartModules(const Placement& placement, Modules& modules,
                  monolith::PaymentGateway& gateway, monolith::Carrier& carrier,
                  Progress& progress) {
  auto notify = [&progress] { progress.Notify(); };
  const std::string_view url = placement.bus_url;
  if (placement.Runs("audit")) {
    modules.audit = Check(monolith::Audit::Start(url, notify), "start audit");
  }
  if (placement.Runs("shipping")) {
    modules.shipping =
        Check(monolith::Shipping::Start(url, carrier, notify), "start shipping");
  }
  if (placement.Runs("billing")) {
    modules.billing = Check(
        monolith::Billing::Start(url, gateway, monolith::BillingOptions{}, notify),
        "start billing");
  }
  if (placement.Runs("orders")) {
    modules.orders = Check(monolith::Orders::Start(url, notify), "start orders");
  }
}

void PlaceOrders(monolith::Orders& orders) {
  std::printf("orders: placing %d orders\n", kOrders);
  for (int order_id = 1; order_id <= kOrders; ++order_id) {
    Check(orders.PlaceOrder(AmountOf(order_id)), "place an order");
  }
}

// Each module counts a delivery once it has settled it, so when every count
// is reached nothing is left in flight.
bool EverythingSettled(const Modules& modules) {
  return (!modules.orders || modules.orders->stats().deliveries_settled >= kPaidOrders) &&
         (!modules.billing ||
          (modules.billing->stats().deliveries_settled >= kOrders + kRetries &&
           !modules.billing->stats().dead_letters.empty())) &&
         (!modules.shipping ||
          modules.shipping->stats().deliveries_settled >= kShippingDeliveries) &&
         (!modules.audit || modules.audit->stats().events_seen >= kExpectedEvents);
}

// The stats of the modules this process ran.
struct Outcome {
  std::optional<monolith::Orders::Stats> orders;
  std::optional<monolith::Billing::Stats> billing;
  std::optional<monolith::Shipping::Stats> shipping;
  std::optional<monolith::Audit::Stats> audit;

  int AuditedEvents(std::string_view routing_key) const {
    auto it = audit->events_by_routing_key.find(std::string(routing_key));
    return it == audit->events_by_routing_key.end() ? 0 : it->second;
  }
};

template <typename Module>
auto StatsOf(const std::unique_ptr<Module>& module) {
  return module ? std::optional(module->stats()) : std::nullopt;
}

std::string Money(int cents) {
  char text[32];
  std::snprintf(text, sizeof(text), "%d.%02d", cents / 100, cents % 100);
  return text;
}

template <typename Range>
std::string Names(const Range& names) {
  return absl::StrJoin(names, ", ",
                       [](std::string* out, std::string_view name) { out->append(name); });
}

std::string Ids(const std::set<int>& ids) { return "(" + absl::StrJoin(ids, ", ") + ")"; }

void PrintSummary(const Outcome& outcome) {
  if (outcome.orders) {
    std::printf("orders: placed %d orders, %zu paid %s\n", outcome.orders->placed,
                outcome.orders->paid_orders.size(), Ids(outcome.orders->paid_orders).c_str());
  }
  if (outcome.billing) {
    std::printf(
        "billing: charged %d orders, %s in all (%s by worker), %d declined attempts, "
        "%d retried, %d dead-lettered\n",
        outcome.billing->paid, Money(outcome.billing->charged_cents).c_str(),
        absl::StrJoin(outcome.billing->paid_by_worker, " + ").c_str(),
        outcome.billing->failed_attempts, outcome.billing->retried,
        outcome.billing->dead_lettered);
  }
  if (outcome.shipping) {
    std::printf("shipping: shipped %zu orders %s\n", outcome.shipping->shipped_orders.size(),
                Ids(outcome.shipping->shipped_orders).c_str());
  }
  if (outcome.audit) {
    std::printf("audit: saw %d events (%s)\n", outcome.audit->events_seen,
                absl::StrJoin(outcome.audit->events_by_routing_key, ", ",
                              absl::PairFormatter(" "))
                    .c_str());
  }
}

// Compares every count with what the flow implies, and prints each
// difference rather than only the first.
class Expectations {
 public:
  void Expect(std::string_view what, int64_t actual, int64_t expected) {
    if (actual == expected) return;
    std::printf("FAILED: %.*s: %lld, expected %lld\n", static_cast<int>(what.size()),
                what.data(), static_cast<long long>(actual), static_cast<long long>(expected));
    met_ = false;
  }
  void ExpectOrders(std::string_view what, const std::set<int>& actual,
                    const std::set<int>& expected) {
    if (actual == expected) return;
    std::printf("FAILED: %.*s: %s, expected %s\n", static_cast<int>(what.size()), what.data(),
                Ids(actual).c_str(), Ids(expected).c_str());
    met_ = false;
  }
  bool met() const { return met_; }

 private:
  bool met_ = true;
};

int64_t XDeathCount(const monolith::DeadLetteredOrder& dead, std::string_view queue,
                    std::string_view reason) {
  for (const monolith::XDeath& death : dead.x_death) {
    if (death.queue == queue && death.reason == reason) return death.count;
  }
  return 0;
}

bool CountsAsExpected(const Outcome& outcome) {
  std::set<int> paid_orders;
  int paid_cents = 0;
  for (int order_id = 1; order_id <= kOrders; ++order_id) {
    if (order_id == kAlwaysDeclinedOrder) continue;
    paid_orders.insert(order_id);
    paid_cents += AmountOf(order_id);
  }
  Expectations e;
  if (outcome.orders) {
    e.Expect("orders placed", outcome.orders->placed, kOrders);
    e.ExpectOrders("orders paid", outcome.orders->paid_orders, paid_orders);
  }
  if (outcome.billing) {
    const monolith::Billing::Stats& billing = *outcome.billing;
    e.Expect("billing payments", billing.paid, kPaidOrders);
    e.Expect("billing cents charged", billing.charged_cents, paid_cents);
    e.Expect("billing declined attempts", billing.failed_attempts, kDeclinedAttempts);
    e.Expect("billing retries", billing.retried, kRetries);
    e.Expect("billing payments after a retry", billing.paid_after_retry, 1);
    // Orders 1 and 2, both paid on their first attempt, are the work queue's
    // first two deliveries, and a queue hands deliveries to its consumers in
    // turn (round robin, in warren as in RabbitMQ): whatever the timing,
    // each of the two workers is paid for one of them.
    e.Expect("billing workers paid for no order",
             std::count(billing.paid_by_worker.begin(), billing.paid_by_worker.end(), 0), 0);
    e.Expect("billing rejections on the last attempt", billing.dead_lettered, 1);
    e.Expect("orders in billing.dead", billing.dead_letters.size(), 1);
    if (billing.dead_letters.size() == 1) {
      const monolith::DeadLetteredOrder& dead = billing.dead_letters.front();
      e.Expect("the dead-lettered order", dead.order_id, kAlwaysDeclinedOrder);
      e.Expect("its x-death count of rejections by billing.orders",
               XDeathCount(dead, monolith::kBillingWorkQueue, "rejected"), 1);
      e.Expect("its x-death count of expiries from billing.retry",
               XDeathCount(dead, monolith::kBillingRetryQueue, "expired"), kMaxAttempts - 1);
    }
  }
  if (outcome.shipping) {
    const monolith::Shipping::Stats& shipping = *outcome.shipping;
    e.ExpectOrders("orders shipped", shipping.shipped_orders, paid_orders);
    e.Expect("shipping duplicates", shipping.duplicates_ignored, 0);
    std::set<int> requeued;
    for (const auto& [order_id, why] : shipping.requeued_orders) requeued.insert(order_id);
    e.ExpectOrders("orders nacked with requeue by shipping", requeued, {kBookingTimeoutOrder});
    e.ExpectOrders("orders shipped from a redelivery", shipping.shipped_on_redelivery,
                   {kBookingTimeoutOrder});
    e.Expect("shipping deliveries settled", shipping.deliveries_settled, kShippingDeliveries);
  }
  if (outcome.audit) {
    e.Expect("audit events", outcome.audit->events_seen, kExpectedEvents);
    e.Expect("audit order.created", outcome.AuditedEvents(monolith::kOrderCreated), kOrders);
    e.Expect("audit payment.failed", outcome.AuditedEvents(monolith::kPaymentFailed),
             kDeclinedAttempts);
    e.Expect("audit payment.succeeded", outcome.AuditedEvents(monolith::kPaymentSucceeded),
             kPaidOrders);
    e.Expect("audit order.paid", outcome.AuditedEvents(monolith::kOrderPaid), kPaidOrders);
    e.Expect("audit shipment.sent", outcome.AuditedEvents(monolith::kShipmentSent), kPaidOrders);
  }
  return e.met();
}

}  // namespace

int main(int argc, char** argv) {
  // Line by line even into a pipe: another process may be waiting for a line.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::optional<Placement> placement = ParseArguments(argc, argv);
  if (!placement) {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  // Declared before the broker so that they outlive it: destroying the
  // broker waits for the modules' callbacks, which use all four.
  Progress progress;
  FlakyGateway gateway;
  FlakyCarrier carrier;
  Modules modules;
  std::unique_ptr<warren::Broker> broker;
  if (placement->bus_url == kInProcessBusUrl) {
    broker = Check(warren::Broker::Create(), "create the broker");
    Check(warren::RegisterBroker(kBrokerName, broker.get()), "register the broker");
  }

  StartModules(*placement, modules, gateway, carrier, progress);
  if (placement->split()) {
    std::vector<std::string_view> elsewhere;
    for (std::string_view module : kModuleNames) {
      if (!placement->Runs(module)) elsewhere.push_back(module);
    }
    std::printf("demo: started %s here; %s %s elsewhere\n", Names(placement->here).c_str(),
                Names(elsewhere).c_str(), elsewhere.size() == 1 ? "runs" : "run");
  }
  if (modules.orders) PlaceOrders(*modules.orders);
  bool settled = progress.WaitUntil([&modules] { return EverythingSettled(modules); });
  Outcome outcome{.orders = StatsOf(modules.orders),
                  .billing = StatsOf(modules.billing),
                  .shipping = StatsOf(modules.shipping),
                  .audit = StatsOf(modules.audit)};
  PrintSummary(outcome);
  if (!settled) std::printf("FAILED: timed out before every module settled its deliveries\n");
  bool as_expected = CountsAsExpected(outcome) && settled;
  if (as_expected) std::printf("demo: every count as expected\n");

  if (broker != nullptr) Check(warren::UnregisterBroker(kBrokerName), "unregister the broker");
  return as_expected ? 0 : 1;
}
