// examples/monolith/billing.h: the billing module. Competing workers take
// order.created events from billing's work queue, charge the order through a
// PaymentGateway and announce payment.succeeded or payment.failed. What
// becomes of an order whose charge failed is a FailurePolicy's decision: that
// is where a retry or dead-letter path plugs in.
//
// It talks to the other modules only through the event bus (event_bus.h),
// over its own connection.
#ifndef WARREN_EXAMPLES_MONOLITH_BILLING_H_
#define WARREN_EXAMPLES_MONOLITH_BILLING_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "event_bus.h"
#include "warren/channel.h"

namespace monolith {

// The payment provider. Called from several workers at once, so an
// implementation must be thread-safe.
class PaymentGateway {
 public:
  virtual ~PaymentGateway() = default;
  // Charges the order's amount; an error means the payment was declined.
  virtual absl::Status Charge(const OrderEvent& order) = 0;
};

// How a delivery whose charge failed is settled.
enum class FailureAction {
  // basic.nack with requeue: back to the head of the work queue and
  // redelivered at once, flagged redelivered.
  kRequeue,
  // basic.reject without requeue: dropped, or dead-lettered when the work
  // queue's arguments name an x-dead-letter-exchange.
  kReject,
};

// Billing's failure path. Billing announces every failed charge
// (payment.failed), then settles the delivery as the policy says. A delayed
// retry or a dead-letter path is a new policy, with its own topology, and no
// change to Billing.
class FailurePolicy {
 public:
  virtual ~FailurePolicy() = default;

  // Declares what the policy sends failed orders to (a dead-letter exchange
  // and queue, a delay queue) and returns the arguments billing's work queue
  // needs to lead there (x-dead-letter-exchange, ...). Called once, before
  // the work queue is declared.
  virtual absl::StatusOr<warren::FieldTable> DeclareTopology(warren::Channel& channel) = 0;

  // Decides how to settle `delivery`, whose charge just failed. Called from
  // several workers at once.
  virtual FailureAction OnChargeFailed(const warren::Delivery& delivery) = 0;
};

// The policy for now: a first failure is requeued for an immediate second
// attempt; a failure on redelivery is rejected, and so dropped, as nothing
// dead-letters yet.
class RequeueOnce final : public FailurePolicy {
 public:
  absl::StatusOr<warren::FieldTable> DeclareTopology(warren::Channel& channel) override;
  FailureAction OnChargeFailed(const warren::Delivery& delivery) override;
};

struct BillingOptions {
  int workers = 2;        // competing consumers on the work queue
  uint16_t prefetch = 1;  // unacked orders per worker
  std::unique_ptr<FailurePolicy> failure_policy = std::make_unique<RequeueOnce>();
};

class Billing {
 public:
  struct Stats {
    int paid = 0;
    int charged_cents = 0;
    int failed_attempts = 0;
    int requeued = 0;
    int rejected = 0;
    int paid_on_redelivery = 0;
    std::vector<int> paid_by_worker;
    int deliveries_settled = 0;  // acked, nacked or rejected; counted last
  };

  // Connects to the broker at `bus_url`, declares the failure policy's
  // topology and the work queue, and starts the workers, each on a channel of
  // its own. `gateway` must outlive the broker's callbacks. `on_progress` is
  // called after each delivery billing settles, from a dispatcher thread.
  static absl::StatusOr<std::unique_ptr<Billing>> Start(std::string_view bus_url,
                                                        PaymentGateway& gateway,
                                                        BillingOptions options,
                                                        std::function<void()> on_progress);

  Stats stats() const;

 private:
  Billing(BusLink link, PaymentGateway& gateway, BillingOptions options,
          std::function<void()> on_progress);
  absl::Status StartWorker(size_t worker);
  void OnOrderCreated(size_t worker, warren::Channel& channel, const warren::Delivery& delivery);
  void ChargeOrder(size_t worker, warren::Channel& channel, const warren::Delivery& delivery,
                   const OrderEvent& order);
  void HandleFailedCharge(warren::Channel& channel, const warren::Delivery& delivery,
                          const OrderEvent& order, const absl::Status& declined);
  void CountSettled();

  const BusLink link_;
  PaymentGateway& gateway_;
  const BillingOptions options_;
  const std::function<void()> on_progress_;
  std::vector<std::unique_ptr<warren::Channel>> worker_channels_;

  mutable std::mutex mu_;
  Stats stats_;
  std::map<int, int> failures_by_order_;
};

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_BILLING_H_
