// ChannelCore: the state of one channel that queues and the dispatcher reach
// — delivery tags, unacked deliveries, consumers, channel-wide prefetch,
// publisher confirms and the mailbox that runs the channel's callbacks.
//
// Queues hand it deliveries (as its DeliverySink) with their own lock held,
// so its lock is a leaf: nothing here calls into a queue while holding it.
// It must not decide routing or dispatch; InprocChannel, the API object,
// drives it.
//
// For the test kit (lib/testing/) it also shows copies of its unacked
// deliveries and finds a consumer by tag (for a broker-initiated cancel).
#ifndef WARREN_LIB_CHANNEL_CHANNEL_CORE_H_
#define WARREN_LIB_CHANNEL_CHANNEL_CORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "dispatch/serial_queue.h"
#include "queue/consumer.h"
#include "queue/queue.h"
#include "warren/channel.h"

namespace warren::channel {

// A delivery waiting for its ack, with the queue it came from.
struct UnackedDelivery {
  std::shared_ptr<queue::Queue> queue;
  queue::Unsettled delivery;
};
// Most acks name one delivery: it stays inline, with no allocation.
using TakenDeliveries = absl::InlinedVector<UnackedDelivery, 1>;

class ChannelCore : public queue::DeliverySink,
                    public std::enable_shared_from_this<ChannelCore> {
 public:
  explicit ChannelCore(dispatch::Dispatcher* dispatcher);

  // queue::DeliverySink
  bool TryTakeChannelCredit() override;
  void Deliver(const std::shared_ptr<queue::Consumer>& consumer, queue::Queue* queue,
               queue::Envelope envelope) override;
  bool DeliverIfOpen(const std::shared_ptr<queue::Consumer>& consumer, queue::Queue* queue,
                     queue::Envelope& envelope) override;
  void Cancelled(const std::shared_ptr<queue::Consumer>& consumer) override;

  // basic.get's delivery: a tag, and an unacked record unless `no_ack`.
  Delivery RecordGet(const std::shared_ptr<queue::Queue>& queue, queue::Envelope envelope,
                     bool no_ack);

  // Removes the deliveries an ack/nack/reject names, in tag order. Errors:
  // 406 for a tag that is not unacked.
  absl::StatusOr<TakenDeliveries> TakeUnacked(uint64_t delivery_tag, bool multiple);
  TakenDeliveries TakeAllUnacked();

  void SetGlobalPrefetch(uint32_t limit) { global_prefetch_.store(limit); }
  bool has_global_prefetch() const {
    return global_prefetch_.load(std::memory_order_relaxed) != 0;
  }

  // Consumers of this channel by tag.
  bool HasConsumer(const std::string& tag);
  // `queue` is null for the direct reply-to consumer.
  void AddConsumer(std::shared_ptr<queue::Consumer> consumer,
                   std::shared_ptr<queue::Queue> queue);
  // The queue the consumer was on (null for a direct reply-to consumer);
  // false for an unknown tag.
  bool RemoveConsumer(const std::string& tag, std::shared_ptr<queue::Consumer>* consumer,
                      std::shared_ptr<queue::Queue>* queue);
  // Every consumer's queue, by consumer tag (to kick when channel credit
  // frees up); direct reply-to has none.
  std::vector<std::shared_ptr<queue::Queue>> ConsumerQueues();
  // Removes every consumer; returns them by tag.
  std::vector<std::pair<std::shared_ptr<queue::Consumer>, std::shared_ptr<queue::Queue>>>
  TakeAllConsumers();
  // Like RemoveConsumer, but leaves the consumer in place.
  bool FindConsumer(const std::string& tag, std::shared_ptr<queue::Consumer>* consumer,
                    std::shared_ptr<queue::Queue>* queue) const;

  // The unacked deliveries in tag order, as their consumers were shown them
  // (consumer tag "" for basic.get): a copy, for inspection.
  std::vector<Delivery> UnackedDeliveries() const;

  // Publisher confirms.
  void EnableConfirms();
  bool confirming() const { return confirming_.load(std::memory_order_acquire); }
  // The next sequence number, counted as outstanding; 0 when not confirming.
  uint64_t StartPublish();
  uint64_t NextPublishSeqNo() const;
  void Confirmed(uint64_t seq, bool ack);
  absl::Status WaitForConfirms(absl::Duration timeout);
  void SetConfirmHandler(std::function<void(const Confirm&)> handler);

  void SetReturnHandler(std::function<void(const ReturnedMessage&)> handler);
  void Return(ReturnedMessage returned);

  // channel.close, or a close forced by an error or the connection: cancels
  // the consumers, drops callbacks not yet run, and requeues the unacked
  // deliveries. `reason` is OK for a clean close. A no-op once closed.
  void Close(absl::Status reason);
  // Close() without the requeue: returns the unacked deliveries for the
  // caller to requeue once every channel it closes together is closed, so
  // that none of them is handed a message it would then drop (a connection
  // closing its channels one by one would otherwise requeue one channel's
  // unacked messages to a no_ack consumer of the next, and lose them).
  TakenDeliveries CloseKeepingUnacked(absl::Status reason);
  bool is_open() const { return open_.load(std::memory_order_acquire); }
  absl::Status close_reason() const;

 private:
  // What the mailbox runs: a delivery to `consumer` when it is set,
  // otherwise `task` (a confirm, a return, a cancel notice).
  struct Mail {
    std::shared_ptr<queue::Consumer> consumer;
    std::shared_ptr<const queue::Publication> shown;  // as the consumer sees it
    uint64_t delivery_tag = 0;
    bool redelivered = false;
    dispatch::Task task;
  };
  static void Run(Mail& mail);
  void PostTask(dispatch::Task task);
  // Deliver and DeliverIfOpen: a tag, the unacked record, the mail. With
  // `only_if_open`, nothing once the channel is closed (false).
  bool Record(const std::shared_ptr<queue::Consumer>& consumer, queue::Queue* queue,
              queue::Envelope& envelope, bool only_if_open);

  // An unacked delivery by tag. Settled entries stay behind, marked, until
  // they reach the front or outnumber the live ones, so that recording and
  // settling in tag order allocate nothing.
  struct UnackedEntry {
    uint64_t tag = 0;
    bool settled = false;
    UnackedDelivery unacked;
  };
  // The live entry with `tag`, or unacked_.end().
  std::deque<UnackedEntry>::iterator FindUnackedLocked(uint64_t tag);
  void DropSettledLocked();

  const std::shared_ptr<dispatch::SerialQueue<Mail>> mailbox_;
  std::atomic<uint32_t> global_prefetch_{0};
  std::atomic<uint32_t> global_unacked_{0};
  std::atomic<bool> confirming_{false};

  std::atomic<bool> open_{true};

  // A leaf lock but for the mailbox's, which Deliver takes inside it so
  // that delivery tags follow the mailbox's order.
  mutable std::mutex mu_;
  absl::Status close_reason_;
  uint64_t next_delivery_tag_ = 1;
  std::deque<UnackedEntry> unacked_;  // ascending tags
  size_t unacked_live_ = 0;
  // By tag, ordered: what iterates it (kicks, closing) then runs in the
  // same order on every run, as a hash map's would not.
  std::map<std::string,
           std::pair<std::shared_ptr<queue::Consumer>, std::shared_ptr<queue::Queue>>>
      consumers_;
  uint64_t next_publish_seq_ = 1;
  uint64_t unconfirmed_ = 0;
  std::optional<uint64_t> first_nack_;
  std::condition_variable confirms_changed_;
  std::shared_ptr<std::function<void(const Confirm&)>> confirm_handler_;
  std::shared_ptr<std::function<void(const ReturnedMessage&)>> return_handler_;
};

// Hands settled deliveries back to their queues, in order.
void SettleAll(TakenDeliveries deliveries, queue::Settlement how);
void RequeueAll(TakenDeliveries deliveries);

}  // namespace warren::channel

#endif  // WARREN_LIB_CHANNEL_CHANNEL_CORE_H_
