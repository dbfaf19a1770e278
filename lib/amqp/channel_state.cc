// amqp/channel_state: per-channel state shared by the API and I/O threads.
#include "amqp/channel_state.h"

#include <utility>

#include "string_view.h"
#include "warren/status.h"

namespace warren::amqp {
namespace {
thread_local dispatch::Dispatcher* running_dispatcher = nullptr;
}  // namespace

dispatch::Dispatcher* RunningDispatcher() { return running_dispatcher; }

ChannelState::ChannelState(uint16_t number, dispatch::Dispatcher* dispatcher)
    : number(number),
      dispatcher_(dispatcher),
      mailbox_(dispatch::MakeTaskQueue(dispatcher)) {}

void ChannelState::Post(absl::AnyInvocable<void() &&> task) {
  mailbox_->Post([dispatcher = dispatcher_, task = std::move(task)]() mutable {
    dispatch::Dispatcher* const outer = std::exchange(running_dispatcher, dispatcher);
    std::move(task)();
    running_dispatcher = outer;
  });
}

void ChannelState::Close(absl::Status reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    open_ = false;
    close_reason_ = std::move(reason);
    consumers_.clear();
  }
  confirms_changed_.notify_all();
  mailbox_->Close();
}

bool ChannelState::is_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

absl::Status ChannelState::close_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return close_reason_;
}

void ChannelState::AddConsumer(ConsumerEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return;
  std::string tag = entry.options.consumer_tag;
  consumers_.insert_or_assign(std::move(tag), std::move(entry));
}

std::optional<ConsumerEntry> ChannelState::RemoveConsumer(const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(tag);
  if (it == consumers_.end()) return std::nullopt;
  ConsumerEntry entry = std::move(it->second);
  consumers_.erase(it);
  return entry;
}

std::vector<ConsumerEntry> ChannelState::Consumers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ConsumerEntry> out;
  for (const auto& [tag, entry] : consumers_) out.push_back(entry);
  return out;
}

uint64_t ChannelState::Delivered(uint64_t broker_tag, bool no_ack) {
  std::lock_guard<std::mutex> lock(mu_);
  return DeliveredLocked(broker_tag, no_ack);
}

uint64_t ChannelState::DeliveredLocked(uint64_t broker_tag, bool no_ack) {
  const uint64_t tag = broker_tag + tag_offset_;
  if (tag > last_tag_) last_tag_ = tag;
  if (!no_ack) unacked_.insert(tag);
  return tag;
}

std::optional<ChannelState::Routed> ChannelState::DeliveredTo(const std::string& consumer_tag,
                                                              uint64_t broker_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(consumer_tag);
  if (it == consumers_.end()) return std::nullopt;
  return Routed{it->second.callback, DeliveredLocked(broker_tag, it->second.options.no_ack)};
}

absl::StatusOr<SettleTarget> ChannelState::Settle(uint64_t delivery_tag, bool multiple) {
  std::lock_guard<std::mutex> lock(mu_);
  if (delivery_tag == 0 && multiple) {
    unacked_.clear();
    return SettleTarget{};
  }
  if (delivery_tag != 0 && delivery_tag < stale_below_) return SettleTarget{.stale = true};
  auto it = unacked_.find(delivery_tag);
  if (it == unacked_.end()) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("unknown delivery tag ", delivery_tag));
  }
  unacked_.erase(multiple ? unacked_.begin() : it, std::next(it));
  return SettleTarget{.broker_tag = delivery_tag - tag_offset_};
}

void ChannelState::ForgetUnacked() {
  std::lock_guard<std::mutex> lock(mu_);
  unacked_.clear();
}

void ChannelState::SetPrefetch(uint16_t count, bool global) {
  std::lock_guard<std::mutex> lock(mu_);
  (global ? global_prefetch_ : consumer_prefetch_) = count;
}

std::optional<uint16_t> ChannelState::prefetch(bool global) const {
  std::lock_guard<std::mutex> lock(mu_);
  return global ? global_prefetch_ : consumer_prefetch_;
}

void ChannelState::EnableConfirms() {
  std::lock_guard<std::mutex> lock(mu_);
  confirming_ = true;
}

bool ChannelState::confirming() const {
  std::lock_guard<std::mutex> lock(mu_);
  return confirming_;
}

uint64_t ChannelState::StartPublish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!confirming_) return 0;
  unconfirmed_.insert(next_seq_);
  return next_seq_++;
}

void ChannelState::CancelPublish(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  // A number a lost link already reported as nacked stays used.
  if (seq == 0 || seq + 1 != next_seq_ || !unconfirmed_.contains(seq)) return;
  unconfirmed_.erase(seq);
  --next_seq_;
}

uint64_t ChannelState::NextPublishSeqNo() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_;
}

void ChannelState::Confirmed(uint64_t seq, bool multiple, bool ack) {
  std::shared_ptr<std::function<void(const Confirm&)>> handler;
  const Confirm confirm{seq, multiple, ack};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    auto end = unconfirmed_.upper_bound(confirm.delivery_tag);
    auto begin = multiple ? unconfirmed_.begin() : unconfirmed_.find(confirm.delivery_tag);
    if (begin == unconfirmed_.end() || begin == end) return;  // settled by a lost link
    if (!ack && !first_nack_) first_nack_ = *begin;
    unconfirmed_.erase(begin, end);
    handler = confirm_handler_;
    ++posting_confirms_;
  }
  if (handler) Post([handler, confirm] { (*handler)(confirm); });
  PostedConfirms();
}

void ChannelState::PostedConfirms() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --posting_confirms_;
  }
  confirms_changed_.notify_all();
}

absl::Status ChannelState::WaitForConfirms(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!confirming_) return absl::FailedPreconditionError("the channel is not in confirm mode");
  const bool done = confirms_changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
    return (unconfirmed_.empty() && posting_confirms_ == 0) || !open_;
  });
  if (!open_) {
    return AmqpError(ReplyCode::kChannelError,
                     StrCat("channel closed while waiting for confirms: ",
                            close_reason_.message()));
  }
  if (!done) {
    return absl::DeadlineExceededError(
        StrCat(unconfirmed_.size(), " publishes still unconfirmed"));
  }
  if (first_nack_) {
    const uint64_t nacked = *first_nack_;
    first_nack_.reset();
    return absl::DataLossError(StrCat("publish ", nacked, " was nacked"));
  }
  return absl::OkStatus();
}

void ChannelState::SetConfirmHandler(std::function<void(const Confirm&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  confirm_handler_ =
      handler ? std::make_shared<std::function<void(const Confirm&)>>(std::move(handler))
              : nullptr;  // an empty handler means none
}

void ChannelState::SetReturnHandler(std::function<void(const ReturnedMessage&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  return_handler_ =
      handler ? std::make_shared<std::function<void(const ReturnedMessage&)>>(std::move(handler))
              : nullptr;  // an empty handler means none
}

void ChannelState::Returned(ReturnedMessage returned) {
  std::shared_ptr<std::function<void(const ReturnedMessage&)>> handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handler = return_handler_;
  }
  if (handler) {
    Post([handler, returned = std::move(returned)] { (*handler)(returned); });
  }
}

void ChannelState::Dispatch(std::shared_ptr<const ConsumerCallback> callback,
                            Delivery delivery) {
  Post(
      [callback = std::move(callback), delivery = std::move(delivery)] { (*callback)(delivery); });
}

void ChannelState::Cancelled(const std::string& tag) {
  std::optional<ConsumerEntry> entry = RemoveConsumer(tag);
  if (!entry || !entry->options.on_cancel) return;
  Post([on_cancel = entry->options.on_cancel, tag] { on_cancel(tag); });
}

void ChannelState::LinkLost() {
  std::shared_ptr<std::function<void(const Confirm&)>> handler;
  Confirm nack;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unacked_.clear();
    tag_offset_ = last_tag_;
    stale_below_ = last_tag_ + 1;
    if (unconfirmed_.empty()) return;
    if (!first_nack_) first_nack_ = *unconfirmed_.begin();
    nack = Confirm{*unconfirmed_.rbegin(), true, false};
    unconfirmed_.clear();
    handler = confirm_handler_;
    ++posting_confirms_;
  }
  if (handler) Post([handler, nack] { (*handler)(nack); });
  PostedConfirms();
}

}  // namespace warren::amqp
