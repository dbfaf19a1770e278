// amqp/link: one AMQP connection to RabbitMQ through rabbitmq-c — its socket,
// the I/O thread that owns it, and reconnection.
//
// rabbitmq-c's connection state is not thread-safe, so exactly one thread,
// the link's I/O thread, touches it. API calls post requests (a closure that
// builds and sends a method) and, for synchronous methods, wait for the reply
// the I/O thread matches to them: replies on a channel come in the order of
// its requests. The I/O thread also reads what the broker sends on its own
// (basic.deliver, basic.return, basic.ack/nack, basic.cancel, channel.close,
// connection.close) and hands callbacks to each channel's mailbox on the
// link's Dispatcher, so callbacks never run on the I/O thread.
//
// When the socket drops, a heartbeat is missed or the broker closes with 320
// CONNECTION_FORCED, the I/O thread fails what was in flight (kUnavailable;
// unconfirmed publishes are nacked), reconnects with back-off, declares the
// recorded topology again and reopens every open channel with its prefetch,
// confirm mode and consumers. Other broker closes (5xx), Close(), giving up
// reconnecting (reconnect.give_up_after) and a refused redeclaration end the
// link for good, with a status saying which.
//
// Owns the socket, the channel numbers, the request queue and the topology
// record; must not run user code (only the mailboxes do) and never holds
// its lock while sending or reading.
#ifndef WARREN_LIB_AMQP_LINK_H_
#define WARREN_LIB_AMQP_LINK_H_

#include <amqp.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "amqp/channel_state.h"
#include "amqp/codec.h"
#include "amqp/endpoint.h"
#include "amqp/topology.h"
#include "dispatch/dispatcher.h"
#include "warren/connect.h"
#include "warren/message.h"

namespace warren::amqp {

// A synchronous method's answer, copied out of rabbitmq-c's buffers.
struct Reply {
  amqp_method_number_t method = 0;
  std::string name;  // queue.declare-ok's queue, basic.consume-ok's tag
  uint32_t message_count = 0;
  uint32_t consumer_count = 0;
  std::optional<GetResult> got;  // basic.get-ok, with the broker's tag
};

// One synchronous method waiting for its reply.
class PendingCall {
 public:
  // The first result wins; later ones are ignored.
  void Finish(absl::StatusOr<Reply> result);
  bool done() const;
  // The result, or kDeadlineExceeded after `timeout`.
  absl::StatusOr<Reply> Wait(absl::Duration timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable finished_;
  std::optional<absl::StatusOr<Reply>> result_;
};

// Builds a method's struct on the I/O thread, from what the closure owns.
using MethodBuilder = absl::AnyInvocable<void*(Encoder&)>;
// Runs on the I/O thread when the reply arrives, before any later frame.
using ReplyHook = absl::AnyInvocable<void(Reply&)>;

class Link {
 public:
  // Connects and logs in on the calling thread, then starts the I/O thread.
  // Errors: as warren::Connect's for amqp:// URLs.
  static absl::StatusOr<std::shared_ptr<Link>> Open(Endpoint endpoint,
                                                    const ClientOptions& options);
  ~Link();  // Close()
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Opens a channel. Errors: kUnavailable while reconnecting; 504 once
  // closed; 506 when no channel number is free.
  absl::StatusOr<std::shared_ptr<ChannelState>> OpenChannel();

  // Sends a synchronous method on `channel` and waits for one of `replies`.
  // Errors: the broker's refusal (the channel or connection is closed by
  // then); kUnavailable while reconnecting or when the link drops first;
  // kDeadlineExceeded after rpc_timeout; 504 when closed.
  absl::StatusOr<Reply> Call(const std::shared_ptr<ChannelState>& channel,
                             amqp_method_number_t method,
                             std::initializer_list<amqp_method_number_t> replies,
                             MethodBuilder build, ReplyHook hook = nullptr);

  // Sends a method that has no reply (basic.ack, basic.nack, basic.reject).
  absl::Status Send(const std::shared_ptr<ChannelState>& channel, amqp_method_number_t method,
                    MethodBuilder build);

  // basic.publish. `seq` is the confirm number the channel gave it (0 when
  // not confirming): the broker's confirm of it is translated back to it.
  absl::Status Publish(const std::shared_ptr<ChannelState>& channel, uint64_t seq,
                       std::string exchange, std::string routing_key, Message message,
                       PublishOptions options);

  // channel.close from this side with `reason` (200 when OK). Waits for the
  // broker's close-ok when `wait`. The channel's state must be closed first.
  absl::Status CloseChannel(const std::shared_ptr<ChannelState>& channel,
                            const absl::Status& reason, bool wait);

  // connection.close; waits for the I/O thread to finish. Idempotent.
  void Close();

  // False once closed for good; true while connected or reconnecting.
  bool is_open() const;
  absl::Status close_reason() const;
  // OK while connected, else the status calls fail with now.
  absl::Status Availability() const;

  Topology& topology() { return topology_; }

 private:
  enum class State { kOpen, kRecovering, kClosed };

  struct Request {
    absl::AnyInvocable<void()> run;     // on the I/O thread
    std::shared_ptr<PendingCall> call;  // failed when the request is dropped
  };

  struct Expected {
    std::vector<amqp_method_number_t> replies;
    std::shared_ptr<PendingCall> call;  // null when nobody waits
    ReplyHook hook;
  };

  // A basic.deliver, basic.get-ok or basic.return, until its body is in.
  struct Content {
    amqp_method_number_t method = 0;
    std::string consumer_tag;
    uint64_t delivery_tag = 0;
    bool redelivered = false;
    std::string exchange;
    std::string routing_key;
    uint32_t message_count = 0;
    int reply_code = 0;
    std::string reply_text;
    bool have_header = false;
    uint64_t body_size = 0;
    BasicProperties properties;
    std::string body;
  };

  // The I/O thread's view of an open channel number.
  struct Wire {
    std::shared_ptr<ChannelState> state;
    std::deque<Expected> expected;
    std::optional<Content> content;
    // The API sequence number of each confirmed publish sent on this
    // connection, from the broker's number `first_unconfirmed` on.
    std::deque<uint64_t> published;
    uint64_t first_unconfirmed = 1;
    bool closing = false;     // channel.close sent; waiting for close-ok
    bool recovering = false;  // being reopened: a refusal closes only this wire
  };

  struct Down {
    absl::Status reason;
    bool recoverable = false;
  };

  Link(Endpoint endpoint, const ClientOptions& options);

  // API side.
  absl::Status Post(Request request);
  absl::Status UnavailableLocked() const;
  void Wake();

  // I/O thread.
  void IoThread();
  void Serve();
  void RunRequests();
  // Handles up to a turn's worth of frames; true when more may be waiting.
  bool ReadFrames();
  void WaitIo(absl::Duration timeout);
  void HandleFrame(const amqp_frame_t& frame);
  void OnConnectionMethod(const amqp_method_t& method);
  void OnChannelMethod(uint16_t number, const amqp_method_t& method);
  void OnContentDone(Wire& wire);
  void OnConfirm(Wire& wire, uint64_t broker_tag, bool multiple, bool ack);
  void FinishReply(Wire& wire, absl::StatusOr<Reply> reply);
  // A failed send takes the link down, recoverably; a null `decoded` (an
  // Encoder that ran out of memory, Encoder::Sendable) is not sent and fails
  // as rabbitmq-c's own AMQP_STATUS_NO_MEMORY does.
  void SendMethod(uint16_t number, amqp_method_number_t method, void* decoded);
  void LinkDown(absl::Status reason, bool recoverable);
  // connection.close from this side; the link goes down, for good, with
  // `reason` (OK for Close()).
  void CloseConnection(absl::Status reason);
  // Fails everything in flight, destroys the socket; with `recovering`
  // keeps the open channels for Recover, else closes them.
  void DropConnection(const absl::Status& reason, bool recovering);
  // Reconnects with back-off until recovered (nullopt) or it must stop
  // (the reason to close with): Close(), reconnect.give_up_after passed, or
  // the broker refused to take back the recorded topology.
  std::optional<absl::Status> Reconnect();
  // The status a connection that stopped reconnecting closes with.
  absl::Status GaveUp(absl::Duration trying, int attempts) const;
  // Sleeps up to `delay`; true when Close() was called.
  bool SleepUnlessClosing(absl::Duration delay);
  // Declares the recorded topology again, then reopens the channels.
  // Errors: the first declaration the broker refused, naming it.
  absl::Status Recover();
  absl::Status RecoverTopology();
  // A channel whose channel.open, basic.qos or confirm.select is refused
  // closes with that refusal; a consumer that is refused is cancelled (its
  // on_cancel runs), as when the broker cancels one.
  void RecoverChannel(uint16_t number);
  // A synchronous method during recovery: sends and reads until its reply.
  absl::StatusOr<Reply> CallOnIo(uint16_t number, amqp_method_number_t method, void* decoded,
                                 std::initializer_list<amqp_method_number_t> replies);
  bool close_requested() const;

  const Endpoint endpoint_;
  const ClientOptions options_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  Topology topology_;
  const int wake_fd_;

  mutable std::mutex mu_;
  std::condition_variable space_;  // requests_ shrank, or the state changed
  State state_ = State::kOpen;
  bool close_requested_ = false;
  absl::Status close_reason_;
  absl::Status lost_reason_;    // why the link is reconnecting
  absl::Status last_attempt_;  // why the last reconnect attempt failed
  std::deque<Request> requests_;

  std::mutex join_mu_;
  std::thread thread_;

  // The I/O thread's (and, before it starts, Open's) alone.
  amqp_connection_state_t conn_ = nullptr;
  uint16_t channel_max_ = 0;
  std::map<uint16_t, Wire> wires_;
  std::optional<Down> down_;
  bool closing_connection_ = false;
  absl::Status closing_reason_;  // what the link goes down with once closed
  amqp_pool_t send_pool_;
};

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_LINK_H_
