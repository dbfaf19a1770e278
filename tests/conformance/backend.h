// tests/conformance/backend.h: the broker a scenario runs against, as the
// scenario runner needs it — connections, running the callbacks that are
// ready, and the passing of time.
//
//   - in-process: a fresh Broker with Dispatch::kManual on a ManualClock;
//     time moves only in `sleep` steps, a millisecond at a time, and nothing
//     is ever waited for, so a run is deterministic and instant.
//   - live: a RabbitMQ reached by an amqp:// URL, in a virtual host of the
//     scenario's own; callbacks run on an executor the runner drains after
//     each step (so they stay on the runner's thread), and `sleep` and
//     `deliveries` wait in real time, as the recorder did.
//
// Owns the broker side only; what a step observes is the runner's business.
#ifndef WARREN_TESTS_CONFORMANCE_BACKEND_H_
#define WARREN_TESTS_CONFORMANCE_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "warren/connection.h"

namespace warren::conformance {

class Backend {
 public:
  virtual ~Backend() = default;

  // A new connection to the scenario's virtual host, as user guest.
  virtual absl::StatusOr<std::unique_ptr<Connection>> Connect() = 0;
  // Runs the callbacks that are ready, and those they make ready.
  virtual void RunCallbacks() = 0;
  // At least `ms` milliseconds of broker time pass (callbacks included).
  virtual void Sleep(int64_t ms) = 0;
  // True for a live broker: work it does after a call returns (routing a
  // publish, applying an ack, pushing deliveries) must be waited for.
  virtual bool live() const = 0;
};

std::unique_ptr<Backend> InprocBackend();

// `url` is an amqp:// URL naming an existing, empty virtual host.
std::unique_ptr<Backend> LiveBackend(std::string url);

}  // namespace warren::conformance

#endif  // WARREN_TESTS_CONFORMANCE_BACKEND_H_
