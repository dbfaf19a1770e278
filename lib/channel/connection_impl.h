// ConnectionCore and InprocConnection: one client connection to the
// in-process broker — its identity (for exclusive queues and user_id), its
// channels, and closing them all.
//
// Owns the list of its channels and its open/closed state; it must not touch
// queues itself: closing asks each channel to close and the virtual host to
// drop the connection's exclusive queues.
//
// InprocConnection exposes its core (core()) so that the test kit
// (lib/testing/) can close it as the broker would and reach the broker.
#ifndef WARREN_LIB_CHANNEL_CONNECTION_IMPL_H_
#define WARREN_LIB_CHANNEL_CONNECTION_IMPL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker_impl.h"
#include "broker/vhost.h"
#include "warren/connection.h"

namespace warren::channel {

class ChannelCore;

class ConnectionCore : public std::enable_shared_from_this<ConnectionCore> {
 public:
  ConnectionCore(uint64_t id, std::string user, std::shared_ptr<broker::VirtualHost> vhost,
                 std::shared_ptr<Broker::Impl> broker);

  uint64_t id() const { return id_; }
  const std::string& user() const { return user_; }
  const std::shared_ptr<broker::VirtualHost>& vhost() const { return vhost_; }
  Broker::Impl& broker() { return *broker_; }

  absl::StatusOr<std::unique_ptr<Channel>> OpenChannel();
  // Closes the channels (requeueing their unacked deliveries) and deletes the
  // connection's exclusive queues. A no-op once closed.
  void CloseWith(absl::Status reason);
  bool is_open() const;
  absl::Status close_reason() const;

 private:
  absl::Status ClosedErrorLocked() const;

  const uint64_t id_;
  const std::string user_;
  const std::shared_ptr<broker::VirtualHost> vhost_;
  const std::shared_ptr<Broker::Impl> broker_;

  mutable std::mutex mu_;
  bool open_ = true;
  absl::Status close_reason_;
  std::vector<std::weak_ptr<ChannelCore>> channels_;
};

class InprocConnection final : public Connection {
 public:
  explicit InprocConnection(std::shared_ptr<ConnectionCore> core) : core_(std::move(core)) {}
  ~InprocConnection() override;

  absl::StatusOr<std::unique_ptr<Channel>> OpenChannel() override;
  absl::Status Close() override;
  bool is_open() const override;
  absl::Status close_reason() const override;

  const std::shared_ptr<ConnectionCore>& core() const { return core_; }

 private:
  const std::shared_ptr<ConnectionCore> core_;
};

}  // namespace warren::channel

#endif  // WARREN_LIB_CHANNEL_CONNECTION_IMPL_H_
