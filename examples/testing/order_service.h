// examples/testing/order_service.h: a small order service, written against
// warren's public API as it would be against RabbitMQ, and the code under
// test of order_service_test.cc, which tests it with the test kit.
//
// Topology (DeclareOrderTopology):
//   orders              topic exchange of order events ("order.placed", ...)
//   orders.fulfilment   placed orders to fulfil; an order nobody takes within
//                       a minute expires; rejected and expired orders are
//                       dead-lettered through orders.dlx
//   orders.fulfilment.wait
//                       retry wait: a message sits here for its expiration,
//                       then is dead-lettered back to orders.fulfilment
//   orders.dlx, orders.dead
//                       the dead-letter exchange and the queue it fills
//
// Fulfilment: an order whose handler succeeds is acked. A transient failure
// (kUnavailable) is retried with backoff: the order is republished to the
// wait queue with an expiration of 1 s, then 2 s, 4 s... and an x-attempt
// header, and the original acked. Any other failure, or a transient one on
// the last attempt, rejects the order, which dead-letters it to orders.dead
// with its x-death history.
//
// One wait queue serves every delay, which is enough for this example;
// RabbitMQ expires messages only at a queue's head, so a service with many
// concurrent retries would use one wait queue per delay.
#ifndef WARREN_EXAMPLES_TESTING_ORDER_SERVICE_H_
#define WARREN_EXAMPLES_TESTING_ORDER_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/message.h"

namespace orders {

inline constexpr std::string_view kExchange = "orders";
inline constexpr std::string_view kPlacedKey = "order.placed";
inline constexpr std::string_view kFulfilmentQueue = "orders.fulfilment";
inline constexpr std::string_view kWaitQueue = "orders.fulfilment.wait";
inline constexpr std::string_view kDeadLetterExchange = "orders.dlx";
inline constexpr std::string_view kDeadQueue = "orders.dead";
inline constexpr std::string_view kAttemptHeader = "x-attempt";
// How long a placed order may wait for fulfilment before it expires.
inline constexpr absl::Duration kFulfilmentTtl = absl::Minutes(1);

struct Order {
  std::string id;
  std::string item;
  int quantity = 1;
};

// The body of an order event, and back; nullopt for a malformed body.
std::string Encode(const Order& order);
std::optional<Order> Decode(std::string_view body);

// Declares the exchanges, queues and bindings above (idempotent).
absl::Status DeclareOrderTopology(warren::Channel& channel);

// Publishes order events with publisher confirms.
class OrderPublisher {
 public:
  explicit OrderPublisher(warren::Connection& connection) : connection_(connection) {}

  // Publishes "order.placed" with the order id as correlation id and waits
  // for the broker's confirm. Errors: the broker's refusal of the publish;
  // kUnavailable when the broker nacked it. After an error that closed the
  // channel, the next call opens a new one.
  absl::Status Place(const Order& order);

 private:
  absl::Status EnsureChannel();

  warren::Connection& connection_;
  std::unique_ptr<warren::Channel> channel_;
};

struct RetryPolicy {
  int max_attempts = 3;
  absl::Duration first_delay = absl::Seconds(1);  // doubled on each retry
};

// Fulfils an order: OK, kUnavailable for a failure worth retrying, or any
// other error for one that is not.
using FulfilFn = std::function<absl::Status(const Order&)>;

// Consumes orders.fulfilment and fulfils each order with `fulfil`.
class Fulfilment {
 public:
  static absl::StatusOr<std::unique_ptr<Fulfilment>> Start(warren::Connection& connection,
                                                           FulfilFn fulfil,
                                                           RetryPolicy policy = {});

  // False once the broker cancelled the consumer (e.g. its queue was
  // deleted); the service would then alert and restart.
  bool consuming() const { return consuming_.load(); }

 private:
  Fulfilment(std::unique_ptr<warren::Channel> channel, FulfilFn fulfil, RetryPolicy policy);
  void OnDelivery(const warren::Delivery& delivery);
  // Republishes `delivery`'s order to the wait queue for its next attempt.
  absl::Status ScheduleRetry(const warren::Delivery& delivery, int attempt);

  std::unique_ptr<warren::Channel> channel_;
  FulfilFn fulfil_;
  RetryPolicy policy_;
  std::atomic<bool> consuming_{true};
};

}  // namespace orders

#endif  // WARREN_EXAMPLES_TESTING_ORDER_SERVICE_H_
