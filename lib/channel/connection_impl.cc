// ConnectionCore and InprocConnection.
#include "channel/connection_impl.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "string_view.h"
#include "channel/channel_core.h"
#include "channel/inproc_channel.h"
#include "warren/status.h"

namespace warren::channel {

ConnectionCore::ConnectionCore(uint64_t id, std::string user,
                               std::shared_ptr<broker::VirtualHost> vhost,
                               std::shared_ptr<Broker::Impl> broker)
    : id_(id), user_(std::move(user)), vhost_(std::move(vhost)), broker_(std::move(broker)) {}

absl::StatusOr<std::unique_ptr<Channel>> ConnectionCore::OpenChannel() {
  auto core = std::make_shared<ChannelCore>(&broker_->dispatcher());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return ClosedErrorLocked();
    std::erase_if(channels_, [](const auto& weak) { return weak.expired(); });
    channels_.push_back(core);
  }
  return std::unique_ptr<Channel>(new InprocChannel(shared_from_this(), std::move(core)));
}

void ConnectionCore::CloseWith(absl::Status reason) {
  std::vector<std::weak_ptr<ChannelCore>> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    open_ = false;
    close_reason_ = reason;
    channels.swap(channels_);
  }
  // Every channel stops consuming before any unacked message goes back.
  std::vector<TakenDeliveries> unacked;
  for (const auto& weak : channels) {
    if (std::shared_ptr<ChannelCore> c = weak.lock()) {
      unacked.push_back(c->CloseKeepingUnacked(
          reason.ok() ? AmqpError(ReplyCode::kConnectionForced, "connection closed") : reason));
    }
  }
  for (TakenDeliveries& deliveries : unacked) RequeueAll(std::move(deliveries));
  vhost_->ConnectionClosed(id_);
  broker_->Forget(this);
}

bool ConnectionCore::is_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

absl::Status ConnectionCore::close_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return close_reason_;
}

absl::Status ConnectionCore::ClosedErrorLocked() const {
  return AmqpError(ReplyCode::kChannelError,
                   StrCat("connection is closed",
                                close_reason_.ok() ? "" : ": ", close_reason_.message()));
}

InprocConnection::~InprocConnection() { core_->CloseWith(absl::OkStatus()); }

absl::StatusOr<std::unique_ptr<Channel>> InprocConnection::OpenChannel() {
  return core_->OpenChannel();
}

absl::Status InprocConnection::Close() {
  core_->CloseWith(absl::OkStatus());
  return absl::OkStatus();
}

bool InprocConnection::is_open() const { return core_->is_open(); }

absl::Status InprocConnection::close_reason() const { return core_->close_reason(); }

}  // namespace warren::channel
