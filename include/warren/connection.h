// warren/connection.h: a connection to a broker, the owner of channels.
//
// A Connection is one client of a broker: it owns its exclusive queues and
// opens channels. Closing it closes its channels (requeueing their unacked
// deliveries) and deletes its exclusive queues.
//
// Example:
//
//   auto connection = broker->Connect().value();
//   auto channel = connection->OpenChannel().value();
//   ...
//   connection->Close();
//
// Errors: a connection-level error (5xx) on any of its channels closes the
// connection; later calls return 504 CHANNEL_ERROR naming that error.
//
// Thread-safety: all methods are thread-safe. Destroying a Connection closes
// it; its Channels then stay valid objects that answer every call with an
// error.
#ifndef WARREN_CONNECTION_H_
#define WARREN_CONNECTION_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "warren/channel.h"

namespace warren {

class Connection {
 public:
  virtual ~Connection() = default;

  // Opens a new channel. Errors: 504 when the connection is closed.
  virtual absl::StatusOr<std::unique_ptr<Channel>> OpenChannel() = 0;

  // connection.close. Closing a closed connection succeeds.
  virtual absl::Status Close() = 0;

  // False once closed by Close(), by a connection error, or by its broker.
  virtual bool is_open() const = 0;

  // Why the connection closed: OK while open or after a clean Close().
  virtual absl::Status close_reason() const = 0;
};

}  // namespace warren

#endif  // WARREN_CONNECTION_H_
