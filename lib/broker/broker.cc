// Broker: the public class over Broker::Impl.
#include "warren/broker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/broker_impl.h"
#include "channel/connection_impl.h"
#include "short_string.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren {

Broker::Impl::Impl(const BrokerOptions& options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : Clock::System()),
      memory_(options.memory_limit_bytes),
      dispatcher_(options),
      timers_(clock_, &dispatcher_) {}

absl::Status Broker::Impl::AddVirtualHost(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return absl::InvalidArgumentError("a virtual host name has 1 to 255 bytes");
  }
  // RabbitMQ refuses such a name in connection.open (501), so a client
  // could never reach it.
  if (!IsRabbitUtf8(name)) {
    return absl::InvalidArgumentError("a virtual host name must be UTF-8");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!vhosts_.contains(ToAbsl(name))) {
    vhosts_.emplace(std::string(name),
                    std::make_shared<broker::VirtualHost>(std::string(name), clock_, &timers_,
                                                          &memory_, &dispatcher_,
                                                          &publish_observer_));
  }
  return absl::OkStatus();
}

absl::Status Broker::Impl::DeleteVirtualHost(std::string_view name) {
  std::shared_ptr<broker::VirtualHost> vhost;
  std::vector<std::shared_ptr<channel::ConnectionCore>> to_close;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = vhosts_.find(ToAbsl(name));
    if (it == vhosts_.end()) {
      return AmqpError(ReplyCode::kNotFound, StrCat("no vhost '", name, "'"));
    }
    vhost = std::move(it->second);
    vhosts_.erase(it);
    for (const auto& weak : connections_) {
      if (auto c = weak.lock(); c && c->vhost() == vhost) to_close.push_back(std::move(c));
    }
  }
  for (const auto& c : to_close) {
    c->CloseWith(AmqpError(ReplyCode::kConnectionForced, "vhost deleted"));
  }
  vhost->Shutdown();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Connection>> Broker::Impl::Connect(
    const ConnectOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return AmqpError(ReplyCode::kConnectionForced, "broker shut down");
  auto it = vhosts_.find(ToAbsl(options.vhost));
  if (it == vhosts_.end()) {
    return AmqpError(ReplyCode::kNotAllowed,
                     StrCat("vhost '", options.vhost, "' not found"));
  }
  auto core = std::make_shared<channel::ConnectionCore>(
      next_connection_id_++, options.user, it->second, shared_from_this());
  std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
  connections_.push_back(core);
  return std::unique_ptr<Connection>(new channel::InprocConnection(std::move(core)));
}

std::shared_ptr<broker::VirtualHost> Broker::Impl::FindVirtualHost(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = vhosts_.find(ToAbsl(name));
  return it == vhosts_.end() ? nullptr : it->second;
}

void Broker::Impl::Forget(const channel::ConnectionCore* connection) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(connections_, [&](const auto& weak) {
    auto c = weak.lock();
    return !c || c.get() == connection;
  });
}

void Broker::Impl::Shutdown() {
  std::vector<std::shared_ptr<channel::ConnectionCore>> to_close;
  std::vector<std::shared_ptr<broker::VirtualHost>> vhosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (const auto& weak : connections_) {
      if (auto c = weak.lock()) to_close.push_back(std::move(c));
    }
    connections_.clear();
    for (auto& [name, vhost] : vhosts_) vhosts.push_back(vhost);
    vhosts_.clear();
  }
  for (const auto& c : to_close) {
    c->CloseWith(AmqpError(ReplyCode::kConnectionForced, "broker shut down"));
  }
  timers_.Shutdown();
  for (const auto& vhost : vhosts) vhost->Shutdown();
  dispatcher_.Shutdown();
}

absl::StatusOr<std::unique_ptr<Broker>> Broker::Create(BrokerOptions options) {
  if (options.dispatch == Dispatch::kExecutor && options.executor == nullptr) {
    return absl::InvalidArgumentError("Dispatch::kExecutor needs an executor");
  }
  if (options.dispatch == Dispatch::kThreadPool && options.dispatch_threads < 1) {
    return absl::InvalidArgumentError("Dispatch::kThreadPool needs at least one thread");
  }
  if (options.dispatch_seed && options.dispatch != Dispatch::kManual) {
    return absl::InvalidArgumentError("dispatch_seed needs Dispatch::kManual");
  }
  if (options.publish_block_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("publish_block_timeout must not be negative");
  }
  auto impl = std::make_shared<Impl>(options);
  if (absl::Status s = impl->AddVirtualHost("/"); !s.ok()) return s;
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Broker::Broker(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Broker::~Broker() { impl_->Shutdown(); }

absl::Status Broker::AddVirtualHost(std::string_view name) { return impl_->AddVirtualHost(name); }

absl::Status Broker::DeleteVirtualHost(std::string_view name) {
  return impl_->DeleteVirtualHost(name);
}

absl::StatusOr<std::unique_ptr<Connection>> Broker::Connect(ConnectOptions options) {
  return impl_->Connect(options);
}

size_t Broker::ProcessEvents(absl::Duration timeout) {
  const size_t before = dispatch::Dispatcher::CallbacksRunOnThisThread();
  impl_->dispatcher().ProcessEvents(timeout);
  return dispatch::Dispatcher::CallbacksRunOnThisThread() - before;
}

Clock& Broker::clock() const { return impl_->clock(); }

BrokerStats Broker::Stats() const { return impl_->Stats(); }

BrokerStats Broker::Impl::Stats() {
  std::vector<std::shared_ptr<broker::VirtualHost>> vhosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, vhost] : vhosts_) vhosts.push_back(vhost);
  }
  std::sort(vhosts.begin(), vhosts.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  BrokerStats stats;
  for (const auto& vhost : vhosts) vhost->AppendStats(&stats);
  stats.publish_to_deliver = latency_.Read();
  stats.memory_bytes = memory_.held();
  stats.memory_limit_bytes = memory_.limit();
  return stats;
}

}  // namespace warren
