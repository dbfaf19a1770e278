// examples/monolith/billing.cc: billing's workers and its failure path.
// Touches the broker only through its own connection and channels.

#include "billing.h"

#include <cstdio>
#include <string>
#include <utility>

namespace monolith {
namespace {

constexpr std::string_view kModule = "billing";
constexpr std::string_view kWorkQueue = "billing.orders";

std::string Times(int n) {
  if (n == 1) return "once";
  if (n == 2) return "twice";
  return std::to_string(n) + " times";
}

}  // namespace

absl::StatusOr<warren::FieldTable> RequeueOnce::DeclareTopology(warren::Channel&) {
  return warren::FieldTable();
}

FailureAction RequeueOnce::OnChargeFailed(const warren::Delivery& delivery) {
  return delivery.redelivered ? FailureAction::kReject : FailureAction::kRequeue;
}

absl::StatusOr<std::unique_ptr<Billing>> Billing::Start(std::string_view bus_url,
                                                        PaymentGateway& gateway,
                                                        BillingOptions options,
                                                        std::function<void()> on_progress) {
  if (options.workers < 1 || options.failure_policy == nullptr) {
    return absl::InvalidArgumentError("billing needs a worker and a failure policy");
  }
  absl::StatusOr<BusLink> link = ConnectToBus(bus_url);
  if (!link.ok()) return link.status();
  absl::StatusOr<warren::FieldTable> work_queue_arguments =
      options.failure_policy->DeclareTopology(*link->channel);
  if (!work_queue_arguments.ok()) return work_queue_arguments.status();
  absl::Status subscribed =
      Subscribe(*link->channel, kWorkQueue, {kOrderCreated}, *work_queue_arguments);
  if (!subscribed.ok()) return subscribed;
  std::unique_ptr<Billing> billing(
      new Billing(*std::move(link), gateway, std::move(options), std::move(on_progress)));
  for (int worker = 0; worker < billing->options_.workers; ++worker) {
    absl::Status started = billing->StartWorker(worker);
    if (!started.ok()) return started;
  }
  return billing;
}

Billing::Billing(BusLink link, PaymentGateway& gateway, BillingOptions options,
                 std::function<void()> on_progress)
    : link_(std::move(link)),
      gateway_(gateway),
      options_(std::move(options)),
      on_progress_(std::move(on_progress)) {
  stats_.paid_by_worker.resize(options_.workers);
}

// Each worker has a channel of its own: prefetch counts per consumer, and an
// ack must go to the channel that received the delivery.
absl::Status Billing::StartWorker(size_t worker) {
  absl::StatusOr<std::unique_ptr<warren::Channel>> channel = link_.connection->OpenChannel();
  if (!channel.ok()) return channel.status();
  warren::Channel* worker_channel = channel->get();
  worker_channels_.push_back(*std::move(channel));
  absl::Status qos = worker_channel->BasicQos(options_.prefetch);
  if (!qos.ok()) return qos;
  return worker_channel
      ->BasicConsume(kWorkQueue,
                     [this, worker, worker_channel](const warren::Delivery& delivery) {
                       OnOrderCreated(worker, *worker_channel, delivery);
                     })
      .status();
}

void Billing::OnOrderCreated(size_t worker, warren::Channel& channel,
                             const warren::Delivery& delivery) {
  std::optional<OrderEvent> order = ParseEvent(delivery.message);
  if (order.has_value()) {
    ChargeOrder(worker, channel, delivery, *order);
  } else {
    // No attempt could ever charge it: drop it rather than loop on it.
    absl::Status rejected = channel.BasicReject(delivery.delivery_tag);
    if (!rejected.ok()) ReportError(kModule, "rejecting a malformed order", rejected);
  }
  CountSettled();
}

void Billing::ChargeOrder(size_t worker, warren::Channel& channel, const warren::Delivery& delivery,
                          const OrderEvent& order) {
  absl::Status charged = gateway_.Charge(order);
  if (!charged.ok()) {
    HandleFailedCharge(channel, delivery, order, charged);
    return;
  }
  int earlier_failures = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.paid;
    stats_.charged_cents += order.amount_cents;
    ++stats_.paid_by_worker[worker];
    if (delivery.redelivered) ++stats_.paid_on_redelivery;
    earlier_failures = failures_by_order_[order.order_id];
  }
  if (earlier_failures > 0) {
    std::printf("billing: order %d failed %s, requeued, redelivered=%s, paid\n", order.order_id,
                Times(earlier_failures).c_str(), delivery.redelivered ? "true" : "false");
  }
  absl::Status published = PublishEvent(channel, kPaymentSucceeded, order, kModule);
  if (!published.ok()) ReportError(kModule, "publishing payment.succeeded", published);
  absl::Status acked = channel.BasicAck(delivery.delivery_tag);
  if (!acked.ok()) ReportError(kModule, "acking an order", acked);
}

// Records and prints the failure before settling: once settled, the
// redelivery may already run on the other worker, which reads the record.
void Billing::HandleFailedCharge(warren::Channel& channel, const warren::Delivery& delivery,
                                 const OrderEvent& order, const absl::Status& declined) {
  absl::Status published = PublishEvent(channel, kPaymentFailed, order, kModule);
  if (!published.ok()) ReportError(kModule, "publishing payment.failed", published);
  FailureAction action = options_.failure_policy->OnChargeFailed(delivery);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.failed_attempts;
    ++failures_by_order_[order.order_id];
    ++(action == FailureAction::kRequeue ? stats_.requeued : stats_.rejected);
  }
  std::string reason(declined.message());
  std::printf("billing: order %d declined (%s), %s\n", order.order_id, reason.c_str(),
              action == FailureAction::kRequeue ? "nacked with requeue" : "rejected");
  absl::Status settled = action == FailureAction::kRequeue
                             ? channel.BasicNack(delivery.delivery_tag, {.requeue = true})
                             : channel.BasicReject(delivery.delivery_tag);
  if (!settled.ok()) ReportError(kModule, "settling a failed charge", settled);
}

void Billing::CountSettled() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.deliveries_settled;
  }
  on_progress_();
}

Billing::Stats Billing::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace monolith
