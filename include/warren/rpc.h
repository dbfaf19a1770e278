// warren/rpc.h: request/response on top of the channel API.
//
// RpcClient sends requests with RabbitMQ's direct reply-to: replies come back
// on the pseudo-queue amq.rabbitmq.reply-to, with no reply queue to declare,
// matched to their request by correlation_id. ServeRpc answers the requests
// of a queue with a handler. Both use only public Channel calls, so they work
// the same against RabbitMQ.
//
// Example:
//
//   warren::ServeRpc(*server_channel, "rpc_queue",
//                    [](const warren::Delivery& d) {
//                      return warren::Message(Fib(d.message.body()));
//                    });
//   auto client = warren::RpcClient::Create(*connection).value();
//   absl::StatusOr<warren::Message> reply =
//       client->Call("", "rpc_queue", warren::Message("30"), absl::Seconds(1));
//
// Thread-safety: Call may be used from several threads at once. Do not call
// it from a consumer callback of the same connection's dispatcher under
// Dispatch::kManual: nothing would run the reply.
#ifndef WARREN_RPC_H_
#define WARREN_RPC_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/message.h"

namespace warren {

struct RpcClientOptions {
  // Under Dispatch::kManual, something that runs the broker's callbacks
  // (e.g. [&] { broker->ProcessEvents(); }), called while Call waits.
  std::function<void()> process_events;
};

class RpcClient {
 public:
  // Opens a channel on `connection` and starts consuming replies. Errors:
  // those of OpenChannel and BasicConsume.
  static absl::StatusOr<std::unique_ptr<RpcClient>> Create(Connection& connection,
                                                           RpcClientOptions options = {});
  ~RpcClient();

  // Publishes `request` to `exchange` with `routing_key`, reply_to set to
  // direct reply-to and a fresh correlation_id (other properties are kept),
  // and waits for the reply. Errors: kDeadlineExceeded after `timeout`;
  // kUnavailable when the request was returned unroutable (it is published
  // mandatory); the publish's own errors. A publish RabbitMQ refuses (404 for
  // a missing exchange, ...) closes the client's channel, as any refusal
  // does: every later Call returns 504, so create a new client.
  absl::StatusOr<Message> Call(std::string_view exchange, std::string_view routing_key,
                               const Message& request, absl::Duration timeout);

 private:
  class State;  // lib/rpc.cc

  RpcClient(std::unique_ptr<Channel> channel, std::shared_ptr<State> state);
  std::unique_ptr<Channel> channel_;
  std::shared_ptr<State> state_;
};

// Consumes `queue` on `channel` and answers each request with `handler`'s
// message, published to the request's reply_to through the default exchange
// with the request's correlation_id; then acks the request. A request
// without reply_to is acked unanswered. Returns the consumer tag; cancel it
// to stop serving; `channel` must outlive the serving (cancel, close the
// channel's connection or destroy the broker first: a request may be in the
// handler). Errors: those of BasicConsume.
absl::StatusOr<std::string> ServeRpc(Channel& channel, std::string_view queue,
                                     std::function<Message(const Delivery&)> handler);

}  // namespace warren

#endif  // WARREN_RPC_H_
