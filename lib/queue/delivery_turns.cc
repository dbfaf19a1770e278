// Queue's delivery turns (queue.h): under a seeded dispatcher, the
// deliveries a queue decided wait in its outbox and reach their channels one
// per turn; a cancel or a delete first hands over what waits.
//
// Apart from queue.cc so that the delivery without a seed compiles there as
// it did before turns existed: these extra moves of an Envelope made the
// compiler stop inlining them on every delivery. Owns nothing but the
// outbox's hand-over; deciding deliveries stays in queue.cc.
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "queue/queue.h"

namespace warren::queue {

void Queue::HoldForDeliveryTurnLocked(const std::shared_ptr<Consumer>& consumer,
                                      Envelope&& envelope) {
  // Counted now, as ChannelCore::Deliver counts a delivery it is handed at
  // once: what waits here is on its way to the mailbox.
  consumer->in_mailbox.fetch_add(1, std::memory_order_relaxed);
  outbox_.push_back({Outgoing(std::move(envelope)), consumer});
  RequestDeliveryTurnLocked();
}

void Queue::RequestDeliveryTurnLocked() {
  if (delivery_turn_scheduled_ || outbox_head_ == outbox_.size()) return;
  delivery_turn_scheduled_ = true;
  host_->ScheduleDeliveryTurn(weak_from_this());
}

std::optional<Unsettled> Queue::HandOverOldestLocked() {
  if (outbox_head_ == outbox_.size()) return std::nullopt;
  Unsettled oldest = std::move(outbox_[outbox_head_++]);
  if (outbox_head_ == outbox_.size()) {
    outbox_.clear();
    outbox_head_ = 0;
  }
  const std::shared_ptr<Consumer>& consumer = oldest.consumer;
  if (consumer->sink->DeliverIfOpen(consumer, this, oldest.envelope) || consumer->no_ack) {
    return std::nullopt;
  }
  return oldest;
}

void Queue::HandOverAll() {
  std::vector<Unsettled> refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (outbox_head_ < outbox_.size()) {
      if (std::optional<Unsettled> r = HandOverOldestLocked()) refused.push_back(std::move(*r));
    }
  }
  // Settled on a deleted queue, they are dropped.
  if (!refused.empty()) Settle(absl::MakeSpan(refused), Settlement::kRequeue);
}

void Queue::RunDeliveryTurn() {
  std::optional<Unsettled> refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivery_turn_scheduled_ = false;
    refused = HandOverOldestLocked();
    RequestDeliveryTurnLocked();
  }
  // As a closing channel requeues what it was sent.
  if (refused) Settle(absl::MakeSpan(&*refused, 1), Settlement::kRequeue);
}

void Queue::CancelConsumer(const std::shared_ptr<Consumer>& consumer) {
  RemoveConsumer(consumer.get());
  HandOverAll();
  consumer->sink->Cancelled(consumer);
}

}  // namespace warren::queue
