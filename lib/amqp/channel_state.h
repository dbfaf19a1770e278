// amqp/channel_state: what one AMQP channel shares between the API thread
// (AmqpChannel) and the connection's I/O thread (Link) — open/closed, the
// consumers and their callbacks, the delivery tags awaiting an ack, publisher
// confirms, the prefetch to restore after a reconnect, and the mailbox that
// runs the channel's callbacks.
//
// Delivery tags and publish sequence numbers that the API shows continue
// across reconnections, while the broker numbers from 1 on every new
// connection: delivery tags are offset here (API tag = broker tag + offset);
// confirms arrive already translated by the Link, which knows which publish
// each broker number was.
//
// Its lock is a leaf: nothing here calls the Link, a socket or user code
// while holding it (callbacks are posted to the mailbox). It must not send
// anything; the Link and AmqpChannel do.
#ifndef WARREN_LIB_AMQP_CHANNEL_STATE_H_
#define WARREN_LIB_AMQP_CHANNEL_STATE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dispatch/serial_queue.h"
#include "warren/channel.h"
#include "warren/message.h"

namespace warren::amqp {

// A consumer as the channel recorded it: enough to dispatch its deliveries
// and to consume again after a reconnect.
struct ConsumerEntry {
  std::string queue;
  ConsumeOptions options;  // consumer_tag holds the tag the broker confirmed
  std::shared_ptr<const ConsumerCallback> callback;
};

// What an ack, nack or reject may send: the broker's tag, or nothing when
// the tag belongs to a connection that has since been lost.
struct SettleTarget {
  bool stale = false;
  uint64_t broker_tag = 0;
};

// The dispatcher whose callback this thread is running, or nullptr: a Link
// destroyed from inside its own callback must not join that thread.
dispatch::Dispatcher* RunningDispatcher();

class ChannelState {
 public:
  ChannelState(uint16_t number, dispatch::Dispatcher* dispatcher);

  const uint16_t number;

  // Closes for good (by Close, an error or the connection): drops pending
  // callbacks, wakes WaitForConfirms. A no-op once closed.
  void Close(absl::Status reason);
  bool is_open() const;
  absl::Status close_reason() const;

  // Consumers.
  void AddConsumer(ConsumerEntry entry);
  // Removes and returns the consumer (nullopt for an unknown tag).
  std::optional<ConsumerEntry> RemoveConsumer(const std::string& tag);
  std::vector<ConsumerEntry> Consumers() const;

  // A basic.get-ok arrived with the broker's tag: returns the API's tag,
  // recorded as unacked unless `no_ack`.
  uint64_t Delivered(uint64_t broker_tag, bool no_ack);
  // A basic.deliver for `consumer_tag` arrived with the broker's tag: the
  // consumer's callback and the API's tag (unacked unless the consumer is
  // no_ack); nullopt when the consumer is gone.
  struct Routed {
    std::shared_ptr<const ConsumerCallback> callback;
    uint64_t delivery_tag = 0;
  };
  std::optional<Routed> DeliveredTo(const std::string& consumer_tag, uint64_t broker_tag);
  // Checks and removes the tags an ack/nack/reject names, as RabbitMQ's
  // collect_acks does. Errors: 406 for a tag that is not unacked.
  absl::StatusOr<SettleTarget> Settle(uint64_t delivery_tag, bool multiple);
  // basic.recover-ok: every unacked delivery went back to its queue.
  void ForgetUnacked();

  // Prefetch, remembered for reconnects.
  void SetPrefetch(uint16_t count, bool global);
  std::optional<uint16_t> prefetch(bool global) const;

  // Publisher confirms.
  void EnableConfirms();
  bool confirming() const;
  // Numbers the next publish when confirming (0 otherwise).
  uint64_t StartPublish();
  // Takes back the number of a publish that was never sent.
  void CancelPublish(uint64_t seq);
  uint64_t NextPublishSeqNo() const;
  // basic.ack / basic.nack from the broker, for API sequence number `seq`.
  void Confirmed(uint64_t seq, bool multiple, bool ack);
  absl::Status WaitForConfirms(absl::Duration timeout);
  void SetConfirmHandler(std::function<void(const Confirm&)> handler);

  void SetReturnHandler(std::function<void(const ReturnedMessage&)> handler);
  void Returned(ReturnedMessage returned);

  // Posts a delivery to the consumer's callback, on the mailbox.
  void Dispatch(std::shared_ptr<const ConsumerCallback> callback, Delivery delivery);
  // The broker cancelled a consumer (its queue went away).
  void Cancelled(const std::string& tag);

  // The connection dropped: every publish awaiting a confirm is nacked, the
  // unacked deliveries are forgotten (the broker requeues them) and tags
  // from now on are numbered after the last one issued.
  void LinkLost();

 private:
  void PostedConfirms();
  uint64_t DeliveredLocked(uint64_t broker_tag, bool no_ack);
  // Posts `task` to the mailbox, marked as running on this dispatcher.
  void Post(absl::AnyInvocable<void() &&> task);

  mutable std::mutex mu_;
  bool open_ = true;
  absl::Status close_reason_;
  std::map<std::string, ConsumerEntry> consumers_;

  std::set<uint64_t> unacked_;  // API tags
  uint64_t last_tag_ = 0;       // the highest API tag issued
  uint64_t tag_offset_ = 0;     // API tag = broker tag + tag_offset_
  uint64_t stale_below_ = 1;    // API tags below this are from a lost link

  std::optional<uint16_t> consumer_prefetch_;
  std::optional<uint16_t> global_prefetch_;

  bool confirming_ = false;
  uint64_t next_seq_ = 1;
  std::set<uint64_t> unconfirmed_;
  // Confirms settled but not yet posted to the handler: WaitForConfirms
  // waits for them too, so that when it returns the handler calls for what
  // it waited on are on the mailbox.
  int posting_confirms_ = 0;
  std::optional<uint64_t> first_nack_;
  std::condition_variable confirms_changed_;
  std::shared_ptr<std::function<void(const Confirm&)>> confirm_handler_;
  std::shared_ptr<std::function<void(const ReturnedMessage&)>> return_handler_;

  dispatch::Dispatcher* const dispatcher_;
  const std::shared_ptr<dispatch::TaskQueue> mailbox_;
};

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_CHANNEL_STATE_H_
