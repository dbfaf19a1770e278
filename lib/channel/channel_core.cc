// ChannelCore: tags, unacked records, consumers, confirms and the mailbox.
#include "channel/channel_core.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "broker/latency_histogram.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::channel {
namespace {

Delivery MakeDelivery(std::string consumer_tag, uint64_t tag, const queue::Envelope& e) {
  const queue::Publication& p = e.shown ? *e.shown : *e.publication;
  return Delivery{std::move(consumer_tag), tag, e.redelivered, p.exchange, p.routing_key,
                  p.message};
}

}  // namespace

ChannelCore::ChannelCore(dispatch::Dispatcher* dispatcher)
    : mailbox_(std::make_shared<dispatch::SerialQueue<Mail>>(dispatcher, &ChannelCore::Run)) {}

void ChannelCore::Run(Mail& mail) {
  if (!mail.consumer) {
    std::move(mail.task)();
    return;
  }
  queue::Consumer& consumer = *mail.consumer;
  const queue::Publication& p = *mail.shown;
  if (p.published_at_ns != 0 && consumer.latency != nullptr) {
    consumer.latency->Record(broker::LatencyHistogram::NowNanos() - p.published_at_ns);
  }
  Delivery& shown = consumer.shown;
  shown.consumer_tag = consumer.tag;
  shown.delivery_tag = mail.delivery_tag;
  shown.redelivered = mail.redelivered;
  shown.exchange = p.exchange;
  shown.routing_key = p.routing_key;
  shown.message = p.message;
  consumer.callback(shown);
  if (consumer.MailboxRan()) {
    if (std::shared_ptr<queue::Queue> q = consumer.queue.lock()) q->Kick();
  }
}

void ChannelCore::PostTask(dispatch::Task task) {
  mailbox_->Post(Mail{.task = std::move(task)});
}

bool ChannelCore::TryTakeChannelCredit() {
  const uint32_t limit = global_prefetch_.load(std::memory_order_relaxed);
  uint32_t taken = global_unacked_.load(std::memory_order_relaxed);
  do {
    if (limit != 0 && taken >= limit) return false;
  } while (!global_unacked_.compare_exchange_weak(taken, taken + 1, std::memory_order_acq_rel));
  return true;
}

// Inlined into each caller, so that Deliver, on every delivery without a
// seed, pays no call and no test of `only_if_open`.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ChannelCore::Record(
    const std::shared_ptr<queue::Consumer>& consumer, queue::Queue* queue,
    queue::Envelope& envelope, bool only_if_open) {
  const bool redelivered = envelope.redelivered;
  std::shared_ptr<const queue::Publication>& seen =
      envelope.shown ? envelope.shown : envelope.publication;
  // The unacked record keeps the envelope; otherwise the mail takes it over.
  std::shared_ptr<const queue::Publication> shown =
      consumer->no_ack ? std::move(seen) : seen;
  // A delivery handed over in a turn was counted when its queue held it.
  if (!only_if_open) consumer->in_mailbox.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  if (only_if_open && !is_open()) return false;
  const uint64_t tag = next_delivery_tag_++;
  if (!consumer->no_ack) {
    // Recorded before the callback can run (and even if the channel is
    // closing: its close requeues it).
    unacked_.push_back(
        {tag, false, UnackedDelivery{queue->shared_from_this(), {std::move(envelope), consumer}}});
    ++unacked_live_;
  }
  // Posted under the lock, so that callbacks run in tag order even when
  // queues on several threads deliver to this channel at once: a consumer
  // that acks with multiple must have seen every tag it covers.
  mailbox_->Post(Mail{consumer, std::move(shown), tag, redelivered, {}});
  return true;
}

void ChannelCore::Deliver(const std::shared_ptr<queue::Consumer>& consumer, queue::Queue* queue,
                          queue::Envelope envelope) {
  Record(consumer, queue, envelope, /*only_if_open=*/false);
}

bool ChannelCore::DeliverIfOpen(const std::shared_ptr<queue::Consumer>& consumer,
                                queue::Queue* queue, queue::Envelope& envelope) {
  return Record(consumer, queue, envelope, /*only_if_open=*/true);
}

void ChannelCore::Cancelled(const std::shared_ptr<queue::Consumer>& consumer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = consumers_.find(consumer->tag);
    if (it == consumers_.end() || it->second.first != consumer) return;
    consumers_.erase(it);
  }
  if (consumer->on_cancel) {
    PostTask([consumer] { consumer->on_cancel(consumer->tag); });
  }
}

Delivery ChannelCore::RecordGet(const std::shared_ptr<queue::Queue>& queue,
                                queue::Envelope envelope, bool no_ack) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t tag = next_delivery_tag_++;
  Delivery delivery = MakeDelivery("", tag, envelope);
  if (!no_ack) {
    unacked_.push_back({tag, false, UnackedDelivery{queue, {std::move(envelope), nullptr}}});
    ++unacked_live_;
  }
  return delivery;
}

std::deque<ChannelCore::UnackedEntry>::iterator ChannelCore::FindUnackedLocked(uint64_t tag) {
  auto it = std::lower_bound(unacked_.begin(), unacked_.end(), tag,
                             [](const UnackedEntry& e, uint64_t t) { return e.tag < t; });
  if (it == unacked_.end() || it->tag != tag || it->settled) return unacked_.end();
  return it;
}

void ChannelCore::DropSettledLocked() {
  while (!unacked_.empty() && unacked_.front().settled) unacked_.pop_front();
  // Holes behind a long-unacked delivery: compact once they dominate.
  if (unacked_.size() > 64 && unacked_.size() > 2 * unacked_live_) {
    std::erase_if(unacked_, [](const UnackedEntry& e) { return e.settled; });
  }
}

absl::StatusOr<TakenDeliveries> ChannelCore::TakeUnacked(uint64_t delivery_tag, bool multiple) {
  TakenDeliveries taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // As RabbitMQ's collect_acks: the named tag must be outstanding (tag 0
    // with multiple means every one); multiple also takes the earlier ones.
    auto begin = unacked_.begin();
    auto end = unacked_.end();
    if (!(multiple && delivery_tag == 0)) {
      auto named = FindUnackedLocked(delivery_tag);
      if (named == unacked_.end()) {
        return AmqpError(ReplyCode::kPreconditionFailed,
                         StrCat("unknown delivery tag ", delivery_tag));
      }
      end = std::next(named);
      if (!multiple) begin = named;
    }
    for (auto it = begin; it != end; ++it) {
      if (it->settled) continue;
      it->settled = true;
      --unacked_live_;
      taken.push_back(std::move(it->unacked));
    }
    DropSettledLocked();
  }
  for (const UnackedDelivery& u : taken) {
    if (u.delivery.consumer && !u.delivery.consumer->no_ack) {
      global_unacked_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  return taken;
}

TakenDeliveries ChannelCore::TakeAllUnacked() {
  absl::StatusOr<TakenDeliveries> all = TakeUnacked(0, /*multiple=*/true);
  return all.ok() ? *std::move(all) : TakenDeliveries{};
}

bool ChannelCore::HasConsumer(const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  return consumers_.contains(tag);
}

void ChannelCore::AddConsumer(std::shared_ptr<queue::Consumer> consumer,
                              std::shared_ptr<queue::Queue> queue) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string tag = consumer->tag;
  consumers_.emplace(std::move(tag), std::make_pair(std::move(consumer), std::move(queue)));
}

bool ChannelCore::RemoveConsumer(const std::string& tag,
                                 std::shared_ptr<queue::Consumer>* consumer,
                                 std::shared_ptr<queue::Queue>* queue) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(tag);
  if (it == consumers_.end()) return false;
  *consumer = std::move(it->second.first);
  *queue = std::move(it->second.second);
  consumers_.erase(it);
  return true;
}

std::vector<std::shared_ptr<queue::Queue>> ChannelCore::ConsumerQueues() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<queue::Queue>> queues;
  for (const auto& [tag, entry] : consumers_) {
    if (entry.second) queues.push_back(entry.second);
  }
  return queues;
}

std::vector<std::pair<std::shared_ptr<queue::Consumer>, std::shared_ptr<queue::Queue>>>
ChannelCore::TakeAllConsumers() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::shared_ptr<queue::Consumer>, std::shared_ptr<queue::Queue>>> all;
  for (auto& [tag, entry] : consumers_) all.push_back(std::move(entry));
  consumers_.clear();
  return all;
}

bool ChannelCore::FindConsumer(const std::string& tag,
                               std::shared_ptr<queue::Consumer>* consumer,
                               std::shared_ptr<queue::Queue>* queue) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(tag);
  if (it == consumers_.end()) return false;
  *consumer = it->second.first;
  *queue = it->second.second;
  return true;
}

std::vector<Delivery> ChannelCore::UnackedDeliveries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Delivery> deliveries;
  deliveries.reserve(unacked_live_);
  for (const UnackedEntry& e : unacked_) {
    if (e.settled) continue;
    const std::shared_ptr<queue::Consumer>& consumer = e.unacked.delivery.consumer;
    deliveries.push_back(
        MakeDelivery(consumer ? consumer->tag : std::string(), e.tag, e.unacked.delivery.envelope));
  }
  return deliveries;
}

void ChannelCore::EnableConfirms() { confirming_.store(true, std::memory_order_release); }

uint64_t ChannelCore::StartPublish() {
  if (!confirming()) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  ++unconfirmed_;
  return next_publish_seq_++;
}

uint64_t ChannelCore::NextPublishSeqNo() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_publish_seq_;
}

void ChannelCore::Confirmed(uint64_t seq, bool ack) {
  std::shared_ptr<std::function<void(const Confirm&)>> handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!is_open()) return;
    --unconfirmed_;
    if (!ack && !first_nack_) first_nack_ = seq;
    handler = confirm_handler_;
  }
  confirms_changed_.notify_all();
  if (handler) {
    PostTask([handler, confirm = Confirm{seq, false, ack}] { (*handler)(confirm); });
  }
}

absl::Status ChannelCore::WaitForConfirms(absl::Duration timeout) {
  if (!confirming()) {
    return absl::FailedPreconditionError("the channel is not in confirm mode");
  }
  std::unique_lock<std::mutex> lock(mu_);
  const bool done = confirms_changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
    return unconfirmed_ == 0 || !is_open();
  });
  if (!is_open()) {
    return AmqpError(ReplyCode::kChannelError,
                     StrCat("channel closed while waiting for confirms: ",
                                  close_reason_.message()));
  }
  if (!done) {
    return absl::DeadlineExceededError(
        StrCat(unconfirmed_, " publishes still unconfirmed"));
  }
  if (first_nack_) {
    const uint64_t nacked = *first_nack_;
    first_nack_.reset();
    return absl::DataLossError(StrCat("publish ", nacked, " was nacked"));
  }
  return absl::OkStatus();
}

void ChannelCore::SetConfirmHandler(std::function<void(const Confirm&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  confirm_handler_ =
      handler ? std::make_shared<std::function<void(const Confirm&)>>(std::move(handler))
              : nullptr;  // an empty handler means none
}

void ChannelCore::SetReturnHandler(std::function<void(const ReturnedMessage&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  return_handler_ =
      handler ? std::make_shared<std::function<void(const ReturnedMessage&)>>(std::move(handler))
              : nullptr;  // an empty handler means none
}

void ChannelCore::Return(ReturnedMessage returned) {
  std::shared_ptr<std::function<void(const ReturnedMessage&)>> handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handler = return_handler_;
  }
  if (handler) {
    PostTask([handler, returned = std::move(returned)] { (*handler)(returned); });
  }
}

void ChannelCore::Close(absl::Status reason) {
  RequeueAll(CloseKeepingUnacked(std::move(reason)));
}

TakenDeliveries ChannelCore::CloseKeepingUnacked(absl::Status reason) {
  const bool clean = reason.ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!is_open()) return {};
    close_reason_ = std::move(reason);
    open_.store(false, std::memory_order_release);
  }
  confirms_changed_.notify_all();
  // Deliveries not yet run are dropped (the unacked ones are requeued).
  // After the application's own close, confirms and returns decided before
  // it still reach their handlers, as RabbitMQ sends them before
  // channel.close-ok; a forced close (an error, the broker going away)
  // drops them too.
  bool (*const is_task)(const Mail&) = [](const Mail& mail) { return mail.consumer == nullptr; };
  mailbox_->Close(clean ? is_task : nullptr);
  // Consumers go first, so that no delivery lands after the unacked ones
  // are taken back.
  for (auto& [consumer, queue] : TakeAllConsumers()) {
    if (queue) queue->RemoveConsumer(consumer.get());  // null: direct reply-to
  }
  return TakeAllUnacked();
}

void RequeueAll(TakenDeliveries deliveries) {
  SettleAll(std::move(deliveries), queue::Settlement::kRequeue);
}

void SettleAll(TakenDeliveries deliveries, queue::Settlement how) {
  // One call per queue, with its deliveries in tag order, as RabbitMQ's
  // channel settles with each queue at once: a queue over its length limit
  // then drops the oldest of all it takes back, wherever their tags were.
  // A delivery settled with an earlier one's queue has its queue cleared.
  absl::InlinedVector<queue::Unsettled, 1> run;
  for (size_t first = 0; first < deliveries.size(); ++first) {
    queue::Queue* const q = deliveries[first].queue.get();
    if (q == nullptr) continue;
    run.push_back(std::move(deliveries[first].delivery));
    for (size_t i = first + 1; i < deliveries.size(); ++i) {
      if (deliveries[i].queue.get() != q) continue;
      run.push_back(std::move(deliveries[i].delivery));
      deliveries[i].queue.reset();
    }
    q->Settle(absl::MakeSpan(run), how);
    run.clear();
  }
}

absl::Status ChannelCore::close_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return close_reason_;
}

}  // namespace warren::channel
