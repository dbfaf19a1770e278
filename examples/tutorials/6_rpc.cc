// examples/tutorials/6_rpc.cc: RabbitMQ tutorial 6, "Remote procedure call",
// against warren.
//
// rpc_server.py consumes requests from "rpc_queue" and answers each with the
// Fibonacci number it asks for, published through the default exchange to the
// request's reply_to queue with its correlation_id. rpc_client.py declares a
// server-named exclusive callback queue, sends requests carrying reply_to and
// a fresh correlation_id, and matches each response to its request by that
// id. Server and client run here as two connections of one process; the
// program checks the answers and exits 0. warren/rpc.h packages the same
// pattern (RpcClient, ServeRpc, over direct reply-to); this file spells it
// out, as the tutorial does.

#include <charconv>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "example_support.h"
#include "warren/broker.h"

using examples::Check;

namespace {

// The tutorial's deliberately slow recursive definition: the server has
// something to do.
int Fib(int n) { return n < 2 ? n : Fib(n - 1) + Fib(n - 2); }

struct RpcServer {
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
};

// rpc_server.py. Prefetch 1 spreads requests evenly over several servers;
// the ack comes after the reply, so a server that dies mid-request leaves it
// to another.
RpcServer StartServer(warren::Broker& broker, examples::Inbox& served) {
  RpcServer server;
  server.connection = Check(broker.Connect(), "connect the server");
  server.channel = Check(server.connection->OpenChannel(), "open the server's channel");
  warren::Channel* channel = server.channel.get();
  Check(channel->QueueDeclare("rpc_queue"), "declare 'rpc_queue'");
  Check(channel->BasicQos(1), "set prefetch 1");
  Check(channel->BasicConsume(
            "rpc_queue",
            [channel, &served](const warren::Delivery& delivery) {
              std::string_view body = delivery.message.body();
              const warren::BasicProperties& request = delivery.message.properties();
              int n = 0;
              if (std::from_chars(body.data(), body.data() + body.size(), n).ec != std::errc() ||
                  !request.reply_to.has_value()) {
                std::printf(" [.] rejecting a malformed request\n");
                Check(channel->BasicReject(delivery.delivery_tag), "reject a request");
                return;
              }
              std::printf(" [.] fib(%d)\n", n);
              warren::BasicProperties response;
              response.correlation_id = request.correlation_id;
              Check(channel->BasicPublish(
                        "", *request.reply_to,
                        warren::Message(std::to_string(Fib(n)), std::move(response))),
                    "publish a response");
              Check(channel->BasicAck(delivery.delivery_tag), "ack a request");
              served.Add(std::string(body));
            }),
        "consume from 'rpc_queue'");
  std::printf(" [x] Awaiting RPC requests\n");
  return server;
}

// rpc_client.py's FibonacciRpcClient. Calls may come from several threads at
// once: each waits for the response with its own correlation_id.
class FibonacciRpcClient {
 public:
  explicit FibonacciRpcClient(warren::Broker& broker) {
    connection_ = Check(broker.Connect(), "connect the client");
    channel_ = Check(connection_->OpenChannel(), "open the client's channel");
    callback_queue_ =
        Check(channel_->QueueDeclare("", {.exclusive = true}), "declare the callback queue").queue;
    Check(channel_->BasicConsume(callback_queue_,
                                 [this](const warren::Delivery& delivery) { OnResponse(delivery); },
                                 {.no_ack = true}),
          "consume from the callback queue");
  }

  // Asks the server for fib(n); nullopt when no answer came in time.
  std::optional<std::string> Call(int n) {
    std::future<std::string> response;
    warren::BasicProperties request;
    request.reply_to = callback_queue_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      request.correlation_id = "request-" + std::to_string(++last_request_);
      response = pending_[*request.correlation_id].get_future();
    }
    std::string correlation_id = *request.correlation_id;
    Check(channel_->BasicPublish("", "rpc_queue",
                                 warren::Message(std::to_string(n), std::move(request))),
          "publish a request");
    if (response.wait_for(examples::kPatience) == std::future_status::ready) return response.get();
    std::lock_guard<std::mutex> lock(mu_);
    pending_.erase(correlation_id);
    return std::nullopt;
  }

  absl::Status Close() { return connection_->Close(); }

 private:
  void OnResponse(const warren::Delivery& delivery) {
    const std::optional<std::string>& id = delivery.message.properties().correlation_id;
    std::promise<std::string> caller;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A response to nobody (a call that timed out, or another client's
      // message) is dropped, as the tutorial does.
      auto it = id.has_value() ? pending_.find(*id) : pending_.end();
      if (it == pending_.end()) return;
      caller = std::move(it->second);
      pending_.erase(it);
    }
    // Outside the lock, and the last use of this client: once the caller
    // wakes it may destroy the client.
    caller.set_value(std::string(delivery.message.body()));
  }

  std::unique_ptr<warren::Connection> connection_;
  std::unique_ptr<warren::Channel> channel_;
  std::string callback_queue_;
  std::mutex mu_;
  int last_request_ = 0;
  std::map<std::string, std::promise<std::string>> pending_;
};

}  // namespace

int main() {
  // Declared before the broker so that it outlives it: destroying the broker
  // waits for the callbacks that write here.
  examples::Inbox served;
  auto broker = Check(warren::Broker::Create(), "create the broker");

  RpcServer server = StartServer(*broker, served);
  FibonacciRpcClient fibonacci_rpc(*broker);

  const std::vector<std::pair<int, std::string>> kCalls = {
      {0, "0"}, {1, "1"}, {10, "55"}, {30, "832040"}};
  for (const auto& [n, expected] : kCalls) {
    std::printf(" [x] Requesting fib(%d)\n", n);
    std::optional<std::string> response = fibonacci_rpc.Call(n);
    if (!response.has_value()) {
      std::printf("FAILED: no response to fib(%d)\n", n);
      return 1;
    }
    std::printf(" [.] Got %s\n", response->c_str());
    if (*response != expected) {
      std::printf("FAILED: fib(%d) is %s\n", n, expected.c_str());
      return 1;
    }
  }
  // The server acks after it replies: wait for its last ack before closing.
  if (!served.WaitFor(kCalls.size())) {
    std::printf("FAILED: the server acked %zu of %zu requests\n", served.lines().size(),
                kCalls.size());
    return 1;
  }
  std::printf("all %zu answers correct\n", kCalls.size());
  Check(fibonacci_rpc.Close(), "close the client");
  Check(server.connection->Close(), "close the server");
  return 0;
}
