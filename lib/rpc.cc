// RpcClient and ServeRpc: request/response over public Channel calls only.
#include "warren/rpc.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "string_view.h"

namespace warren {

constexpr std::string_view kDirectReplyTo = "amq.rabbitmq.reply-to";

// Replies and returns by correlation id, shared with the channel callbacks.
class RpcClient::State {
 public:
  explicit State(RpcClientOptions options) : options_(std::move(options)) {}

  std::string NewCorrelationId() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string id = StrCat("rpc-", ++next_id_);
    pending_.emplace(id, std::nullopt);
    return id;
  }

  void Arrived(const std::optional<std::string>& correlation_id,
               absl::StatusOr<Message> reply) {
    if (!correlation_id) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(*correlation_id);
      if (it == pending_.end() || it->second.has_value()) return;
      it->second = std::move(reply);
    }
    arrived_.notify_all();
  }

  absl::StatusOr<Message> Await(const std::string& id, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      auto it = pending_.find(id);
      if (it->second.has_value()) {
        absl::StatusOr<Message> reply = *std::move(it->second);
        pending_.erase(it);
        return reply;
      }
      const absl::Time now = absl::Now();
      if (now >= deadline) {
        pending_.erase(it);
        return absl::DeadlineExceededError(StrCat("no reply to ", id, " in time"));
      }
      if (options_.process_events) {
        lock.unlock();
        options_.process_events();
        lock.lock();
        continue;
      }
      arrived_.wait_for(lock, absl::ToChronoNanoseconds(deadline - now));
    }
  }

 private:
  const RpcClientOptions options_;
  std::mutex mu_;
  std::condition_variable arrived_;
  uint64_t next_id_ = 0;
  absl::flat_hash_map<std::string, std::optional<absl::StatusOr<Message>>> pending_;
};

absl::StatusOr<std::unique_ptr<RpcClient>> RpcClient::Create(Connection& connection,
                                                             RpcClientOptions options) {
  absl::StatusOr<std::unique_ptr<Channel>> channel = connection.OpenChannel();
  if (!channel.ok()) return channel.status();
  auto state = std::make_shared<State>(std::move(options));
  (*channel)->SetReturnHandler([state](const ReturnedMessage& r) {
    state->Arrived(r.message.properties().correlation_id,
                   absl::UnavailableError(StrCat("request returned: ", r.reply_text)));
  });
  absl::StatusOr<std::string> tag = (*channel)->BasicConsume(
      kDirectReplyTo,
      [state](const Delivery& d) {
        state->Arrived(d.message.properties().correlation_id, d.message);
      },
      {.no_ack = true});
  if (!tag.ok()) return tag.status();
  return std::unique_ptr<RpcClient>(new RpcClient(*std::move(channel), std::move(state)));
}

RpcClient::RpcClient(std::unique_ptr<Channel> channel, std::shared_ptr<State> state)
    : channel_(std::move(channel)), state_(std::move(state)) {}

RpcClient::~RpcClient() = default;

absl::StatusOr<Message> RpcClient::Call(std::string_view exchange,
                                        std::string_view routing_key,
                                        const Message& request, absl::Duration timeout) {
  const std::string id = state_->NewCorrelationId();
  BasicProperties props = request.properties();
  props.reply_to = std::string(kDirectReplyTo);
  props.correlation_id = id;
  absl::Status published = channel_->BasicPublish(
      exchange, routing_key, request.WithProperties(std::move(props)), {.mandatory = true});
  if (!published.ok()) {
    state_->Arrived(id, published);
    return state_->Await(id, absl::ZeroDuration());
  }
  return state_->Await(id, timeout);
}

absl::StatusOr<std::string> ServeRpc(Channel& channel, std::string_view queue,
                                     std::function<Message(const Delivery&)> handler) {
  return channel.BasicConsume(queue, [&channel, handler = std::move(handler)](const Delivery& d) {
    const BasicProperties& request = d.message.properties();
    if (request.reply_to) {
      Message reply = handler(d);
      BasicProperties props = reply.properties();
      props.correlation_id = request.correlation_id;
      channel.BasicPublish("", *request.reply_to, reply.WithProperties(std::move(props)))
          .IgnoreError();  // the client may be gone; RabbitMQ drops such replies too
    }
    channel.BasicAck(d.delivery_tag).IgnoreError();
  });
}

}  // namespace warren
