// Queue: intake draining, ordered storage, limits, expiry and dispatch.
#include "queue/queue.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::queue {
namespace {

constexpr size_t kIntakeBatch = 64;

// The expiration property in milliseconds; the channel has refused invalid
// ones before they get here.
std::optional<int64_t> ExpirationMs(const Message& message) {
  const std::optional<std::string>& expiration = message.properties().expiration;
  if (!expiration) return std::nullopt;
  return ParseExpiration(*expiration);
}

}  // namespace

Queue::Queue(uint32_t id, QueueConfig config, QueueHost* host)
    : id_(id),
      config_(std::move(config)),
      host_(host),
      delivers_in_turns_(host->DeliversInTurns()),
      levels_(config_.policy.max_priority + 1),
      last_used_(host->clock().Now()) {}

std::unique_ptr<Queue::ProducerToken> Queue::NewProducerToken() {
  return std::make_unique<ProducerToken>(intake_);
}

void Queue::Publish(std::span<Envelope> envelopes, ProducerToken* token) {
  if (envelopes.empty()) return;
  // Nobody owns the queue, so the intake holds nothing signalled (every
  // earlier publish of this thread among it): this thread becomes the owner
  // and takes the messages without the round trip through the intake.
  uint64_t idle = 0;
  if (signals_.compare_exchange_strong(idle, 1, std::memory_order_acq_rel)) {
    OwnUntilIdle(envelopes);
    return;
  }
  for (Envelope& envelope : envelopes) {
    if (token != nullptr) {
      intake_.enqueue(*token, std::move(envelope));
    } else {
      intake_.enqueue(std::move(envelope));
    }
  }
  Kick();
}

void Queue::Kick() {
  if (signals_.fetch_add(1, std::memory_order_acq_rel) != 0) return;
  OwnUntilIdle({});
}

void Queue::OwnUntilIdle(std::span<Envelope> arriving) {
  // This thread owns the queue until the signal count drops back to zero.
  uint64_t seen = 1;
  while (true) {
    DeadLetters dead;
    std::optional<absl::Time> timer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Expired messages never reach a consumer; a message that arrives now
      // may, even with TTL 0, as in RabbitMQ, before the final expiry pass.
      ExpireHeadsLocked(&dead);
      DrainIntakeLocked(&dead);
      for (Envelope& envelope : arriving) AcceptLocked(std::move(envelope), &dead);
      arriving = {};
      DispatchLocked();
      ExpireHeadsLocked(&dead);
      timer = TimerNeededLocked();
      ReportMemoryLocked();
    }
    AfterUnlock(std::move(dead), timer);
    const uint64_t before = signals_.fetch_sub(seen, std::memory_order_acq_rel);
    if (before == seen) return;
    seen = before - seen;
  }
}

void Queue::DrainIntakeLocked(DeadLetters* dead) {
  // A reused buffer: building and destroying an array of envelopes on every
  // drain cost a third of the publish path.
  while (intake_.try_dequeue_bulk(std::back_inserter(intake_batch_), kIntakeBatch) > 0) {
    for (Envelope& envelope : intake_batch_) AcceptLocked(std::move(envelope), dead);
    intake_batch_.clear();
  }
}

bool Queue::WouldOverflowLocked(size_t body_size) const {
  const QueueArguments& p = config_.policy;
  return (p.max_length && ready_count_ + 1 > static_cast<uint64_t>(*p.max_length)) ||
         (p.max_length_bytes &&
          ready_bytes_ + body_size > static_cast<uint64_t>(*p.max_length_bytes));
}

bool Queue::OverLimitLocked() const {
  const QueueArguments& p = config_.policy;
  return (p.max_length && ready_count_ > static_cast<uint64_t>(*p.max_length)) ||
         (p.max_length_bytes && ready_bytes_ > static_cast<uint64_t>(*p.max_length_bytes));
}

void Queue::AcceptLocked(Envelope envelope, DeadLetters* dead) {
  std::shared_ptr<PendingConfirm> confirm = std::move(envelope.confirm);
  if (deleted()) {
    if (confirm) confirm->Settle(true);
    return;
  }
  const QueueArguments& p = config_.policy;
  const size_t size = envelope.publication->message.body().size();
  if (p.overflow != Overflow::kDropHead && WouldOverflowLocked(size)) {
    if (confirm) confirm->Settle(false);
    if (p.overflow == Overflow::kRejectPublishDlx) {
      LeaveLocked(std::move(envelope), DeadLetterReason::kMaxLen, dead);
    }
    return;
  }
  ++counters_.published;
  envelope.position = next_position_++;
  std::optional<absl::Duration> ttl = p.message_ttl;
  if (std::optional<int64_t> ms = ExpirationMs(envelope.publication->message)) {
    ttl = ttl ? std::min(*ttl, absl::Milliseconds(*ms)) : absl::Milliseconds(*ms);
  }
  if (ttl) envelope.expires_at = host_->clock().Now() + *ttl;
  if (confirm) confirm->Settle(true);
  // As RabbitMQ's deliver_or_enqueue: a waiting consumer takes the message
  // before drop-head may remove it; when nothing else is ready, straight
  // from here.
  if (ready_count_ == 0) {
    if (std::optional<size_t> c = PickConsumerLocked()) {
      DeliverLocked(*c, std::move(envelope));
      return;
    }
  }
  InsertLocked(std::move(envelope));
  DispatchLocked();
  DropHeadsOverLimitLocked(dead);
}

void Queue::DropHeadsOverLimitLocked(DeadLetters* dead) {
  if (config_.policy.overflow != Overflow::kDropHead) return;
  while (ready_count_ > 0 && OverLimitLocked()) {
    LeaveLocked(PopHeadLocked(), DeadLetterReason::kMaxLen, dead);
  }
}

void Queue::LeaveLocked(Envelope envelope, DeadLetterReason reason, DeadLetters* dead) {
  // The host drops what has no dead-letter exchange to go to.
  ++(config_.policy.dead_letter_exchange ? counters_.dead_lettered : counters_.dropped);
  dead->push_back({std::move(envelope), reason});
}

void Queue::ReportMemoryLocked() {
  const int64_t held = static_cast<int64_t>(ready_bytes_ + unacked_bytes_);
  if (held == reported_bytes_) return;
  host_->MemoryChanged(held - reported_bytes_);
  reported_bytes_ = held;
}

void Queue::InsertLocked(Envelope envelope) {
  int level = 0;
  if (config_.policy.max_priority > 0) {
    level = std::min<int>(envelope.publication->message.properties().priority.value_or(0),
                          config_.policy.max_priority);
  }
  std::deque<Envelope>& q = levels_[level].messages;
  ++ready_count_;
  ready_bytes_ += envelope.publication->message.body().size();
  if (envelope.expires_at != absl::InfiniteFuture()) ++expiring_ready_;
  if (q.empty() || q.back().position < envelope.position) {
    q.push_back(std::move(envelope));
    return;
  }
  auto at = std::upper_bound(q.begin(), q.end(), envelope.position,
                             [](uint64_t pos, const Envelope& e) { return pos < e.position; });
  q.insert(at, std::move(envelope));
}

Envelope Queue::Outgoing(Envelope envelope) const {
  if (!config_.policy.quorum) return envelope;
  // Quorum queues tell consumers how often a message came back.
  const queue::Publication& p = *envelope.publication;
  BasicProperties props = p.message.properties();
  if (!props.headers) props.headers.emplace();
  props.headers->Set("x-delivery-count", static_cast<int64_t>(envelope.returns));
  envelope.shown = std::make_shared<const Publication>(
      Publication{p.exchange, p.routing_key, p.message.WithProperties(std::move(props))});
  return envelope;
}

Envelope Queue::PopHeadLocked() {
  for (auto level = levels_.rbegin(); level != levels_.rend(); ++level) {
    if (level->messages.empty()) continue;
    Envelope head = std::move(level->messages.front());
    level->messages.pop_front();
    ForgetReadyLocked(head);
    return head;
  }
  return Envelope{};
}

void Queue::ForgetReadyLocked(const Envelope& leaving) {
  --ready_count_;
  ready_bytes_ -= leaving.publication->message.body().size();
  if (leaving.expires_at != absl::InfiniteFuture()) --expiring_ready_;
}

void Queue::ClearReadyLocked() {
  for (Level& level : levels_) level.messages.clear();
  ready_count_ = 0;
  ready_bytes_ = 0;
  expiring_ready_ = 0;
}

void Queue::ExpireHeadsLocked(DeadLetters* dead) {
  // Most queues have no TTL: no clock read, no scan of the levels.
  if (expiring_ready_ == 0) return;
  const absl::Time now = host_->clock().Now();
  for (Level& level : levels_) {
    while (!level.messages.empty() && level.messages.front().expires_at <= now) {
      Envelope e = std::move(level.messages.front());
      level.messages.pop_front();
      ForgetReadyLocked(e);
      LeaveLocked(std::move(e), DeadLetterReason::kExpired, dead);
    }
  }
}

std::optional<size_t> Queue::PickConsumerLocked() {
  for (size_t i = 0; i < consumers_.size(); ++i) {
    Consumer& c = *consumers_[i];
    const bool has_credit =
        c.HasMailboxRoom() &&
        (c.no_ack ||
         ((c.prefetch == 0 || c.unacked < c.prefetch) && c.sink->TryTakeChannelCredit()));
    if (has_credit) return i;
    // Only the first consumer is active on a single-active-consumer queue.
    if (config_.policy.single_active_consumer) break;
  }
  return std::nullopt;
}

void Queue::DeliverLocked(size_t index, Envelope envelope) {
  const std::shared_ptr<Consumer>& consumer = consumers_[index];
  ++counters_.delivered;
  if (!consumer->no_ack) {
    ++consumer->unacked;
    ++unacked_count_;
    unacked_bytes_ += envelope.publication->message.body().size();
  }
  // Predicted false, so that the delivery without a seed compiles as it
  // did before turns existed (the moves of an Envelope inlined).
  if (ABSL_PREDICT_FALSE(delivers_in_turns_)) {
    HoldForDeliveryTurnLocked(consumer, std::move(envelope));
  } else {
    consumer->sink->Deliver(consumer, this, Outgoing(std::move(envelope)));
  }
  // Round robin within the consumer's priority; a single active consumer
  // keeps its place.
  if (config_.policy.single_active_consumer) return;
  const auto served = consumers_.begin() + index;
  auto last = served;
  while (last + 1 != consumers_.end() && (*(last + 1))->priority == (*served)->priority) ++last;
  std::rotate(served, served + 1, last + 1);
}

void Queue::DispatchLocked() {
  while (ready_count_ > 0 && !consumers_.empty()) {
    std::optional<size_t> consumer = PickConsumerLocked();
    if (!consumer) return;
    DeliverLocked(*consumer, PopHeadLocked());
  }
}

std::optional<absl::Time> Queue::TimerNeededLocked() {
  absl::Time earliest = absl::InfiniteFuture();
  if (expiring_ready_ > 0) {
    for (const Level& level : levels_) {
      if (!level.messages.empty()) {
        earliest = std::min(earliest, level.messages.front().expires_at);
      }
    }
  }
  if (config_.policy.expires && consumers_.empty() && !deleted()) {
    earliest = std::min(earliest, last_used_ + *config_.policy.expires);
  }
  if (earliest == absl::InfiniteFuture()) return std::nullopt;
  if (timer_at_ && *timer_at_ <= earliest) return std::nullopt;
  timer_at_ = earliest;
  return earliest;
}

void Queue::AfterUnlock(DeadLetters dead, std::optional<absl::Time> timer) {
  if (timer) host_->ScheduleTimer(weak_from_this(), *timer);
  if (!dead.empty()) host_->DeadLetter(*this, std::move(dead));
}

Queue::Counts Queue::GetCounts() {
  DeadLetters dead;
  Counts counts;
  std::optional<absl::Time> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DrainIntakeLocked(&dead);
    ExpireHeadsLocked(&dead);
    counts.messages = static_cast<uint32_t>(ready_count_);
    counts.consumers = static_cast<uint32_t>(consumers_.size());
    timer = TimerNeededLocked();
    ReportMemoryLocked();
  }
  AfterUnlock(std::move(dead), timer);
  return counts;
}

std::optional<Queue::Got> Queue::Get(bool no_ack) {
  DeadLetters dead;
  std::optional<Got> got;
  std::optional<absl::Time> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_used_ = host_->clock().Now();
    DrainIntakeLocked(&dead);
    ExpireHeadsLocked(&dead);
    if (ready_count_ > 0) {
      Envelope head = Outgoing(PopHeadLocked());
      ++counters_.delivered;
      if (!no_ack) {
        ++unacked_count_;
        unacked_bytes_ += head.publication->message.body().size();
      }
      got = Got{std::move(head), static_cast<uint32_t>(ready_count_)};
    }
    timer = TimerNeededLocked();
    ReportMemoryLocked();
  }
  AfterUnlock(std::move(dead), timer);
  return got;
}

uint32_t Queue::Purge() {
  DeadLetters dead;
  uint32_t purged;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DrainIntakeLocked(&dead);
    purged = static_cast<uint32_t>(ready_count_);
    counters_.dropped += purged;
    ClearReadyLocked();
    ReportMemoryLocked();
  }
  AfterUnlock(std::move(dead), std::nullopt);
  return purged;
}

std::vector<Envelope> Queue::ReadyMessages() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Envelope> ready;
  ready.reserve(ready_count_);
  for (auto level = levels_.rbegin(); level != levels_.rend(); ++level) {
    ready.insert(ready.end(), level->messages.begin(), level->messages.end());
  }
  return ready;
}

std::vector<Queue::ConsumerState> Queue::Consumers() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ConsumerState> states;
  states.reserve(consumers_.size());
  for (const std::shared_ptr<Consumer>& c : consumers_) {
    states.push_back({c->tag, c->priority, c->prefetch, c->unacked, c->no_ack, c->exclusive});
  }
  return states;
}

QueueStats Queue::Stats() {
  std::lock_guard<std::mutex> lock(mu_);
  QueueStats stats = counters_;
  stats.depth = ready_count_;
  stats.unacked = unacked_count_;
  stats.consumers = consumers_.size();
  stats.bytes = ready_bytes_ + unacked_bytes_;
  return stats;
}

absl::Status Queue::AddConsumer(std::shared_ptr<Consumer> consumer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool exclusive_held = !consumers_.empty() && consumers_.front()->exclusive;
    if (exclusive_held || (consumer->exclusive && !consumers_.empty())) {
      return AmqpError(ReplyCode::kAccessRefused,
                       StrCat("queue '", config_.name,
                                    "' in vhost has an exclusive consumer or "
                                    "cannot take one"));
    }
    had_consumer_ = true;
    last_used_ = host_->clock().Now();
    auto at = consumers_.end();
    if (!config_.policy.single_active_consumer) {
      at = std::find_if(consumers_.begin(), consumers_.end(),
                        [&](const auto& c) { return c->priority < consumer->priority; });
    }
    consumers_.insert(at, std::move(consumer));
  }
  Kick();
  return absl::OkStatus();
}

void Queue::RemoveConsumer(const Consumer* consumer) {
  bool now_unused = false;
  std::optional<absl::Time> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(consumers_.begin(), consumers_.end(),
                           [&](const auto& c) { return c.get() == consumer; });
    if (it == consumers_.end()) return;
    consumers_.erase(it);
    last_used_ = host_->clock().Now();
    now_unused = consumers_.empty() && config_.auto_delete && !deleted();
    timer = TimerNeededLocked();
  }
  if (now_unused) {
    host_->DeleteUnused(shared_from_this());
    return;
  }
  AfterUnlock({}, timer);
  // A single active consumer's successor may now take messages.
  Kick();
}

void Queue::Settle(absl::Span<Unsettled> deliveries, Settlement how) {
  DeadLetters dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Unsettled& u : deliveries) {
      if (u.consumer && !u.consumer->no_ack && u.consumer->unacked > 0) {
        --u.consumer->unacked;
      }
      --unacked_count_;
      unacked_bytes_ -= u.envelope.publication->message.body().size();
      u.envelope.shown.reset();
      switch (how) {
        case Settlement::kAck:
          ++counters_.acked;
          break;
        case Settlement::kDeadLetter:
          // A deleted queue's messages went with it, as in RabbitMQ, where
          // a reject sent to a deleted queue goes nowhere.
          if (deleted()) {
            ++counters_.dropped;
            break;
          }
          LeaveLocked(std::move(u.envelope), DeadLetterReason::kRejected, &dead);
          break;
        case Settlement::kRequeue:
          if (deleted()) {
            ++counters_.dropped;
            break;
          }
          u.envelope.redelivered = true;
          ++u.envelope.returns;
          if (config_.policy.quorum && config_.policy.delivery_limit &&
              u.envelope.returns > *config_.policy.delivery_limit) {
            LeaveLocked(std::move(u.envelope), DeadLetterReason::kDeliveryLimit, &dead);
            break;
          }
          ++counters_.requeued;
          InsertLocked(std::move(u.envelope));
          break;
      }
    }
    // RabbitMQ's requeue_and_run: requeued messages count against the
    // limits too.
    DropHeadsOverLimitLocked(&dead);
    ReportMemoryLocked();
  }
  AfterUnlock(std::move(dead), std::nullopt);
  Kick();
}

absl::StatusOr<uint32_t> Queue::Delete(bool if_unused, bool if_empty) {
  DeadLetters dead;
  std::vector<std::shared_ptr<Consumer>> cancelled;
  uint32_t dropped = 0;
  absl::Status refused;
  std::optional<absl::Time> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DrainIntakeLocked(&dead);
    if (if_unused && !consumers_.empty()) {
      refused = AmqpError(ReplyCode::kPreconditionFailed,
                          StrCat("queue '", config_.name, "' in use"));
      timer = TimerNeededLocked();
    } else if (if_empty && ready_count_ > 0) {
      refused = AmqpError(ReplyCode::kPreconditionFailed,
                          StrCat("queue '", config_.name, "' not empty"));
      timer = TimerNeededLocked();
    } else {
      deleted_.store(true, std::memory_order_release);
      dropped = static_cast<uint32_t>(ready_count_);
      ClearReadyLocked();
      cancelled.swap(consumers_);
    }
    ReportMemoryLocked();
  }
  // The drain may have refused publishes into dead letters
  // (reject-publish-dlx): they leave whether or not the queue goes.
  AfterUnlock(std::move(dead), timer);
  if (!refused.ok()) return refused;
  HandOverAll();
  for (const std::shared_ptr<Consumer>& c : cancelled) c->sink->Cancelled(c);
  return dropped;
}

void Queue::Touch() {
  std::optional<absl::Time> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_used_ = host_->clock().Now();
    timer = TimerNeededLocked();
  }
  AfterUnlock({}, timer);
}

bool Queue::UnusedLocked() const {
  return config_.policy.expires && consumers_.empty() &&
         host_->clock().Now() >= last_used_ + *config_.policy.expires;
}

void Queue::OnTimer() {
  bool expired_queue;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timer_at_.reset();
    expired_queue = UnusedLocked() && !deleted();
  }
  if (expired_queue) {
    host_->DeleteUnused(shared_from_this());
    return;
  }
  Kick();
}

}  // namespace warren::queue
