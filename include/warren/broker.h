// warren/broker.h: the in-process broker, its virtual hosts and dispatch.
//
// A Broker holds exchanges, queues and bindings in named virtual hosts ("/"
// exists from the start), and connections are opened on it. One per process,
// or one per group of modules that should share topology.
//
// Example:
//
//   auto broker = warren::Broker::Create();
//   auto connection = broker->Connect().value();
//   auto channel = connection->OpenChannel().value();
//   channel->QueueDeclare("hello");
//   channel->BasicPublish("", "hello", warren::Message("Hello World!"));
//
// Dispatch: consumer callbacks, confirms and returns run
//   - kThreadPool: on the broker's own threads (the default);
//   - kExecutor: on an Executor the application passes in;
//   - kManual: on the thread that calls ProcessEvents(), as in pika's
//     process_data_events; nothing runs until it is called. With a
//     dispatch_seed, the order among channels and queues is varied
//     reproducibly.
// Publishing, acking and topology changes take effect in the calling thread,
// before the call returns, in every mode.
//
// Thread-safety: all methods are thread-safe, and callbacks may call any of
// them but the destructor. Destroying the broker closes every connection
// (requeueing nothing: its queues go with it), waits for running callbacks
// to return and joins its threads, so it must not be destroyed from inside
// one of its own callbacks; handles that outlive it answer every call with
// an error.
#ifndef WARREN_BROKER_H_
#define WARREN_BROKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "warren/clock.h"
#include "warren/connection.h"
#include "warren/executor.h"
#include "warren/stats.h"

namespace warren {

namespace channel {
class ConnectionCore;
}  // namespace channel
namespace testkit {
class TestBroker;
}  // namespace testkit

enum class Dispatch { kThreadPool, kExecutor, kManual };

// What a publish does while the broker holds more than memory_limit_bytes.
enum class MemoryFull { kBlock, kRefuse };

struct BrokerOptions {
  Dispatch dispatch = Dispatch::kThreadPool;
  int dispatch_threads = 2;       // kThreadPool only
  Executor* executor = nullptr;   // kExecutor only; must outlive the broker
  Clock* clock = nullptr;         // nullptr: Clock::System(); must outlive it
  // kManual only (Create refuses it otherwise): ProcessEvents() runs ready
  // callbacks in an order drawn from a PRNG seeded with this, one callback
  // per turn, and the same draws vary the order in which queues run: each
  // queue hands its deliveries to their channels one per turn of its own
  // (a delivery reaches its channel, with its delivery tag, in
  // ProcessEvents), and the queues one publish or dead letter reaches take
  // it, the queues an ack frees channel-wide credit for ask for it, and the
  // expiry timers due at one instant fire, in a drawn order. So tests can
  // explore interleavings of channels and queues and replay one from its
  // seed. Only orders RabbitMQ could produce: each queue keeps its order,
  // one queue's deliveries to a channel keep theirs, and one channel's
  // callbacks keep their order. Unset: in the order they became ready.
  std::optional<uint64_t> dispatch_seed;
  // The message bodies the broker may hold in its queues (ready or unacked;
  // a body in several queues counts once in each) before publishing stops,
  // as RabbitMQ's memory high watermark stops publishers; 0: no limit.
  // Consumers keep draining, and the broker itself still dead-letters, so
  // the limit can be passed by what was already in flight. A consumer's
  // callbacks waiting to run are bounded too: a slow consumer leaves its
  // messages ready in the queue, where they count.
  uint64_t memory_limit_bytes = 0;
  // Past the limit: kBlock waits (at most publish_block_timeout, with the
  // channel free for other calls) for consumers to bring the broker back
  // under it; kRefuse returns at once. Either way, a publish that cannot go
  // on is kResourceExhausted, closes nothing, and the messages of a
  // BasicPublishBatch before it were published.
  MemoryFull on_memory_full = MemoryFull::kBlock;
  absl::Duration publish_block_timeout = absl::Seconds(10);
};

struct ConnectOptions {
  std::string vhost = "/";
  std::string user = "guest";  // compared with published user_id properties
};

class Broker {
 public:
  // Creates a broker with the virtual host "/". Errors: kInvalidArgument for
  // kExecutor without an executor, fewer than one dispatch thread, a
  // dispatch_seed without kManual, or a negative publish_block_timeout.
  static absl::StatusOr<std::unique_ptr<Broker>> Create(BrokerOptions options = {});

  // Shuts the broker down: closes every connection (320 CONNECTION_FORCED,
  // "broker shut down"; their channels answer 504 from then on), drops the
  // queues with their messages, waits for running callbacks to return and
  // joins the dispatch threads. Must not run inside one of the broker's own
  // callbacks.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Adds a virtual host; adding an existing one succeeds. Errors:
  // kInvalidArgument for an empty name, one over 255 bytes, or one that is
  // not UTF-8 (RabbitMQ could not be asked to open it).
  absl::Status AddVirtualHost(std::string_view name);

  // Deletes a virtual host, closing the connections on it. Errors: 404 for a
  // missing one.
  absl::Status DeleteVirtualHost(std::string_view name);

  // Opens a connection to a virtual host. Errors: 530 NOT_ALLOWED for a
  // missing virtual host.
  absl::StatusOr<std::unique_ptr<Connection>> Connect(ConnectOptions options = {});

  // Dispatch::kManual: runs the callbacks that are ready, and those that
  // become ready while it runs, until none is left or `timeout` has passed
  // (a zero timeout runs what is ready without waiting for more). Returns
  // how many callbacks ran. In other modes it returns 0 at once.
  size_t ProcessEvents(absl::Duration timeout = absl::ZeroDuration());

  // The clock this broker reads.
  Clock& clock() const;

  // Counters of every queue and exchange, the memory held and the
  // publish-to-callback latency (warren/stats.h).
  BrokerStats Stats() const;

 private:
  class Impl;  // lib/broker/broker_impl.h
  // Not part of the API: a connection holds the broker it was opened on,
  // and the test kit reaches the broker's internals through it.
  friend class channel::ConnectionCore;
  friend class testkit::TestBroker;

  explicit Broker(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace warren

#endif  // WARREN_BROKER_H_
