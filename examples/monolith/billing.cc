// examples/monolith/billing.cc: billing's workers, its retry path and its
// dead-letter watcher. Touches the broker only through its own connection
// and channels.

#include "billing.h"

#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "warren/field_table.h"

namespace monolith {
namespace {

constexpr std::string_view kModule = "billing";
// How long a worker waits for the broker to confirm a retry's copy before
// it gives the order back to the work queue instead.
constexpr absl::Duration kConfirmTimeout = absl::Seconds(10);

std::string Text(std::optional<std::string_view> s) { return std::string(s.value_or("")); }

// The broker's x-death header of `message`, as it wrote it.
std::vector<XDeath> XDeathOf(const warren::Message& message) {
  std::vector<XDeath> deaths;
  const std::optional<warren::FieldTable>& headers = message.properties().headers;
  const warren::FieldValue* header = headers ? headers->Find("x-death") : nullptr;
  const warren::FieldArray* entries = header ? header->Get<warren::FieldArray>() : nullptr;
  if (entries == nullptr) return deaths;
  for (const warren::FieldValue& entry : *entries) {
    const warren::FieldTable* table = entry.Get<warren::FieldTable>();
    if (table == nullptr) continue;
    const warren::FieldValue* queue = table->Find("queue");
    const warren::FieldValue* reason = table->Find("reason");
    const warren::FieldValue* count = table->Find("count");
    deaths.push_back({.queue = Text(queue ? queue->AsString() : std::nullopt),
                      .reason = Text(reason ? reason->AsString() : std::nullopt),
                      .count = count ? count->AsInteger().value_or(0) : 0});
  }
  return deaths;
}

// The attempt a delivery is: one more than the times it waited out its
// delay in the retry queue.
int AttemptOf(const warren::Message& message) {
  for (const XDeath& death : XDeathOf(message)) {
    if (death.queue == kBillingRetryQueue && death.reason == "expired") {
      return static_cast<int>(death.count) + 1;
    }
  }
  return 1;
}

std::string Describe(const std::vector<XDeath>& deaths) {
  return absl::StrJoin(deaths, ", ", [](std::string* out, const XDeath& death) {
    absl::StrAppend(out, death.reason, " from ", death.queue, " (count ", death.count, ")");
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Billing>> Billing::Start(std::string_view bus_url,
                                                        PaymentGateway& gateway,
                                                        BillingOptions options,
                                                        std::function<void()> on_progress) {
  if (options.workers < 1 || options.max_attempts < 1 ||
      options.retry_delay < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        "billing needs a worker, an attempt, and a retry delay of at least 1 ms");
  }
  absl::StatusOr<BusLink> link = ConnectToBus(bus_url);
  if (!link.ok()) return link.status();
  std::unique_ptr<Billing> billing(
      new Billing(*std::move(link), gateway, std::move(options), std::move(on_progress)));
  if (absl::Status declared = billing->DeclareQueues(); !declared.ok()) return declared;
  for (int worker = 0; worker < billing->options_.workers; ++worker) {
    absl::Status started = billing->StartWorker(worker);
    if (!started.ok()) return started;
  }
  if (absl::Status watching = billing->WatchDeadLetters(); !watching.ok()) return watching;
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

absl::Status Billing::DeclareQueues() {
  warren::Channel& channel = *link_.channel;
  const warren::FieldTable retry_arguments{
      {"x-message-ttl", static_cast<int32_t>(absl::ToInt64Milliseconds(options_.retry_delay))},
      {"x-dead-letter-exchange", ""},
      {"x-dead-letter-routing-key", std::string(kBillingWorkQueue)}};
  absl::Status declared =
      channel.QueueDeclare(kBillingRetryQueue, {.durable = true, .arguments = retry_arguments})
          .status();
  if (!declared.ok()) return declared;
  declared = channel.QueueDeclare(kBillingDeadQueue, {.durable = true}).status();
  if (!declared.ok()) return declared;
  return Subscribe(channel, kBillingWorkQueue, {kOrderCreated},
                   {{"x-dead-letter-exchange", ""},
                    {"x-dead-letter-routing-key", std::string(kBillingDeadQueue)}});
}

// Each worker has a channel of its own: prefetch counts per consumer, and an
// ack must go to the channel that received the delivery. Confirm mode lets
// a worker know a retry's copy is safe before it acks the original.
absl::Status Billing::StartWorker(size_t worker) {
  absl::StatusOr<std::unique_ptr<warren::Channel>> channel = link_.connection->OpenChannel();
  if (!channel.ok()) return channel.status();
  warren::Channel* worker_channel = channel->get();
  worker_channels_.push_back(*std::move(channel));
  absl::Status qos = worker_channel->BasicQos(options_.prefetch);
  if (!qos.ok()) return qos;
  absl::Status confirming = worker_channel->ConfirmSelect();
  if (!confirming.ok()) return confirming;
  return worker_channel
      ->BasicConsume(kBillingWorkQueue,
                     [this, worker, worker_channel](const warren::Delivery& delivery) {
                       OnOrderCreated(worker, *worker_channel, delivery);
                     })
      .status();
}

absl::Status Billing::WatchDeadLetters() {
  return link_.channel
      ->BasicConsume(kBillingDeadQueue,
                     [this](const warren::Delivery& delivery) { OnDeadLetter(delivery); })
      .status();
}

void Billing::OnOrderCreated(size_t worker, warren::Channel& channel,
                             const warren::Delivery& delivery) {
  std::optional<OrderEvent> order = ParseEvent(delivery.message);
  if (order.has_value()) {
    ChargeOrder(worker, channel, delivery, *order, AttemptOf(delivery.message));
  } else {
    // No attempt could ever charge it: straight to billing.dead.
    absl::Status rejected = channel.BasicReject(delivery.delivery_tag);
    if (!rejected.ok()) ReportError(kModule, "rejecting a malformed order", rejected);
  }
  CountSettled();
}

void Billing::ChargeOrder(size_t worker, warren::Channel& channel,
                          const warren::Delivery& delivery, const OrderEvent& order,
                          int attempt) {
  absl::Status charged = gateway_.Charge(order);
  if (!charged.ok()) {
    HandleFailedCharge(channel, delivery, order, attempt, charged);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.paid;
    stats_.charged_cents += order.amount_cents;
    ++stats_.paid_by_worker[worker];
    if (attempt > 1) ++stats_.paid_after_retry;
  }
  if (attempt > 1) std::printf("billing: order %d paid on attempt %d\n", order.order_id, attempt);
  absl::Status published = PublishEvent(channel, kPaymentSucceeded, order, kModule);
  if (!published.ok()) ReportError(kModule, "publishing payment.succeeded", published);
  absl::Status acked = channel.BasicAck(delivery.delivery_tag);
  if (!acked.ok()) ReportError(kModule, "acking an order", acked);
}

// Prints before settling, so that the lines of one order come in the order
// things happened to it.
void Billing::HandleFailedCharge(warren::Channel& channel, const warren::Delivery& delivery,
                                 const OrderEvent& order, int attempt,
                                 const absl::Status& declined) {
  absl::Status published = PublishEvent(channel, kPaymentFailed, order, kModule);
  if (!published.ok()) ReportError(kModule, "publishing payment.failed", published);
  const bool last = attempt >= options_.max_attempts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.failed_attempts;
    ++(last ? stats_.dead_lettered : stats_.retried);
  }
  std::string reason(declined.message());
  if (last) {
    std::printf("billing: order %d declined (%s) on attempt %d of %d; rejected to %s\n",
                order.order_id, reason.c_str(), attempt, options_.max_attempts,
                std::string(kBillingDeadQueue).c_str());
    absl::Status rejected = channel.BasicReject(delivery.delivery_tag);
    if (!rejected.ok()) ReportError(kModule, "rejecting an order", rejected);
    return;
  }
  std::printf("billing: order %d declined (%s) on attempt %d of %d; retry in %s through %s\n",
              order.order_id, reason.c_str(), attempt, options_.max_attempts,
              absl::FormatDuration(options_.retry_delay).c_str(),
              std::string(kBillingRetryQueue).c_str());
  absl::Status scheduled = ScheduleRetry(channel, delivery);
  if (scheduled.ok()) {
    absl::Status acked = channel.BasicAck(delivery.delivery_tag);
    if (!acked.ok()) ReportError(kModule, "acking a retried order", acked);
    return;
  }
  // The copy may not have reached the broker: keep the original instead.
  ReportError(kModule, "scheduling a retry", scheduled);
  absl::Status requeued = channel.BasicNack(delivery.delivery_tag, {.requeue = true});
  if (!requeued.ok()) ReportError(kModule, "requeueing an order", requeued);
}

// The copy keeps the message's properties, x-death included, so that the
// next attempt can count the waits before it.
absl::Status Billing::ScheduleRetry(warren::Channel& channel, const warren::Delivery& delivery) {
  absl::Status published = channel.BasicPublish("", kBillingRetryQueue, delivery.message);
  if (!published.ok()) return published;
  return channel.WaitForConfirms(kConfirmTimeout);
}

void Billing::OnDeadLetter(const warren::Delivery& delivery) {
  std::optional<OrderEvent> order = ParseEvent(delivery.message);
  DeadLetteredOrder dead{.order_id = order ? order->order_id : 0,
                         .x_death = XDeathOf(delivery.message)};
  std::printf("billing: order %d is in %s; x-death: %s\n", dead.order_id,
              std::string(kBillingDeadQueue).c_str(), Describe(dead.x_death).c_str());
  // Reported: an operator takes it from here; the demo takes it off the
  // queue, so that running it again starts clean.
  absl::Status acked = link_.channel->BasicAck(delivery.delivery_tag);
  if (!acked.ok()) ReportError(kModule, "acking a dead letter", acked);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.dead_letters.push_back(std::move(dead));
  }
  on_progress_();
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
