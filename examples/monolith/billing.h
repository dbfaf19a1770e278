// examples/monolith/billing.h: the billing module. Competing workers take
// order.created events from billing's work queue, charge the order through a
// PaymentGateway and announce payment.succeeded or payment.failed.
//
// A failed charge is retried after a delay, then given up on, with the
// broker doing the waiting and the bookkeeping (RabbitMQ's dead-lettering):
//
//   billing.orders  the work queue; what a worker rejects is dead-lettered
//                   to billing.dead (x-dead-letter-routing-key)
//   billing.retry   a copy of a failed order waits here for its
//                   x-message-ttl (the retry delay), then expires and is
//                   dead-lettered back to billing.orders, which adds an
//                   x-death entry {queue billing.retry, reason expired}
//   billing.dead    orders that failed their last attempt, each with its
//                   x-death history: why it died and how often it waited
//
// A worker reads the attempt a delivery is from its x-death (one more than
// the times it expired from billing.retry). On a failure before the last
// attempt it publishes a copy to billing.retry, waits for the broker's
// confirm and acks the original; on the last it rejects it. Billing also
// watches billing.dead and reports each order that lands there.
//
// It talks to the other modules only through the event bus (event_bus.h),
// over its own connection.
#ifndef WARREN_EXAMPLES_MONOLITH_BILLING_H_
#define WARREN_EXAMPLES_MONOLITH_BILLING_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "event_bus.h"
#include "warren/channel.h"

namespace monolith {

// Billing's queues (see above). Only billing uses them; an operator's tool
// would look at billing.dead.
inline constexpr std::string_view kBillingWorkQueue = "billing.orders";
inline constexpr std::string_view kBillingRetryQueue = "billing.retry";
inline constexpr std::string_view kBillingDeadQueue = "billing.dead";

// The payment provider. Called from several workers at once, so an
// implementation must be thread-safe.
class PaymentGateway {
 public:
  virtual ~PaymentGateway() = default;
  // Charges the order's amount; an error means the payment was declined.
  virtual absl::Status Charge(const OrderEvent& order) = 0;
};

struct BillingOptions {
  int workers = 2;        // competing consumers on the work queue
  uint16_t prefetch = 1;  // unacked orders per worker
  int max_attempts = 3;   // charges of one order before it is dead-lettered
  // How long a failed order waits in billing.retry before its next attempt.
  absl::Duration retry_delay = absl::Milliseconds(200);
};

// One entry of a message's x-death header: the broker's record of a queue
// the message was dead-lettered from, why, and how many times.
struct XDeath {
  std::string queue;
  std::string reason;  // "rejected", "expired", ...
  int64_t count = 0;
};

// An order that landed in billing.dead, with its x-death history (most
// recent death first, as the broker keeps it).
struct DeadLetteredOrder {
  int order_id = 0;
  std::vector<XDeath> x_death;
};

class Billing {
 public:
  struct Stats {
    int paid = 0;
    int charged_cents = 0;
    int failed_attempts = 0;
    int retried = 0;        // sent to billing.retry
    int dead_lettered = 0;  // rejected on the last attempt
    int paid_after_retry = 0;
    std::vector<int> paid_by_worker;
    std::vector<DeadLetteredOrder> dead_letters;  // seen in billing.dead
    int deliveries_settled = 0;  // work-queue deliveries acked or rejected; counted last
  };

  // Connects to the broker at `bus_url`, declares billing's queues, and
  // starts the workers, each on a channel of its own, and the watcher of
  // billing.dead. `gateway` must outlive the broker's callbacks.
  // `on_progress` is called after each delivery billing settles, from a
  // dispatcher thread. Errors: kInvalidArgument for options without a
  // worker or an attempt, or a delay under 1 ms; the broker's refusals.
  static absl::StatusOr<std::unique_ptr<Billing>> Start(std::string_view bus_url,
                                                        PaymentGateway& gateway,
                                                        BillingOptions options,
                                                        std::function<void()> on_progress);

  Stats stats() const;

 private:
  Billing(BusLink link, PaymentGateway& gateway, BillingOptions options,
          std::function<void()> on_progress);
  absl::Status DeclareQueues();
  absl::Status StartWorker(size_t worker);
  absl::Status WatchDeadLetters();
  void OnOrderCreated(size_t worker, warren::Channel& channel, const warren::Delivery& delivery);
  void ChargeOrder(size_t worker, warren::Channel& channel, const warren::Delivery& delivery,
                   const OrderEvent& order, int attempt);
  void HandleFailedCharge(warren::Channel& channel, const warren::Delivery& delivery,
                          const OrderEvent& order, int attempt, const absl::Status& declined);
  // Publishes a copy of `delivery` to billing.retry and waits for the
  // broker's confirm of it.
  absl::Status ScheduleRetry(warren::Channel& channel, const warren::Delivery& delivery);
  void OnDeadLetter(const warren::Delivery& delivery);
  void CountSettled();

  const BusLink link_;
  PaymentGateway& gateway_;
  const BillingOptions options_;
  const std::function<void()> on_progress_;
  std::vector<std::unique_ptr<warren::Channel>> worker_channels_;

  mutable std::mutex mu_;
  Stats stats_;
};

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_BILLING_H_
