// warren/testing.h: the test kit — warren as the broker in the unit tests of
// code that talks to RabbitMQ.
//
// A TestBroker is a real warren broker (not a mock of one) set up for tests:
//   - deterministic by default: no background thread; callbacks run when the
//     test calls RunUntilIdle(), and time moves only when it calls
//     AdvanceTime(), so TTLs, expiry and dead-lettering happen at a known
//     point and a test gives the same result every run. Given a seed, the
//     order in which ready channels and queues run is varied reproducibly:
//     run a test under many seeds to explore interleavings, replay a
//     failure from its seed (every failure names it);
//   - inspectable without consuming: the messages of a queue, the unacked
//     deliveries of a channel, the bindings of an exchange, the consumers of
//     a queue, and a log of every publish, dead letters included;
//   - able to fail as RabbitMQ fails: refuse the next publish, nack the next
//     confirm, close a channel or connection with an error, cancel a consumer.
// GoogleMock matchers (HasBody, HasRoutingKey, HasHeader, IsRedelivered,
// HasXDeathReason, ...) make expectations read like the sentence they test.
//
// Example:
//
//   #include "warren/testing.h"
//
//   using ::testing::AllOf;
//   using ::testing::ElementsAre;
//   using namespace warren::testkit;
//
//   TEST(Orders, PlacingAnOrderPublishesOrderPlaced) {
//     TestBroker broker;
//     auto connection = broker.Connect().value();
//     OrderService orders(*connection);  // the code under test
//     ASSERT_TRUE(orders.Place("42").ok());
//     broker.RunUntilIdle();
//     EXPECT_THAT(broker.PublishedTo("orders"),
//                 ElementsAre(AllOf(HasRoutingKey("order.placed"),
//                                   HasCorrelationId("42"))));
//   }
//
// Link the CMake target warren::testing (tests only: it links GoogleMock).
// The namespace is warren::testkit, not warren::testing, so that code inside
// namespace warren can still say testing::Test for GoogleTest's.
//
// Thread-safety: a TestBroker's methods are meant for the test's thread, and
// a seeded one must be made and destroyed there (it names its seed in that
// thread's failures); the broker itself is as thread-safe as any warren
// broker. Do not call RunUntilIdle or AdvanceTime from a consumer callback.
#ifndef WARREN_TESTING_H_
#define WARREN_TESTING_H_

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/clock.h"
#include "warren/connection.h"
#include "warren/field_table.h"
#include "warren/message.h"

namespace warren {

// GoogleTest printers, so that a failed expectation shows messages and
// deliveries as text (body, routing key, set properties, headers).
void PrintTo(const FieldValue& value, std::ostream* os);
void PrintTo(const FieldTable& table, std::ostream* os);
void PrintTo(const BasicProperties& properties, std::ostream* os);
void PrintTo(const Message& message, std::ostream* os);
void PrintTo(const Delivery& delivery, std::ostream* os);
void PrintTo(const GetResult& result, std::ostream* os);
void PrintTo(const ReturnedMessage& returned, std::ostream* os);

namespace testkit {

// How a TestBroker runs callbacks.
enum class TestMode {
  // Dispatch::kManual: nothing runs until RunUntilIdle() or AdvanceTime(),
  // on the test's thread. No thread is started.
  kDeterministic,
  // Dispatch::kThreadPool: callbacks run on the broker's threads as in
  // production; RunUntilIdle() waits until none is queued or running. For
  // checking that what passes deterministically also passes on threads.
  kThreaded,
};

struct TestBrokerOptions {
  TestMode mode = TestMode::kDeterministic;
  // kDeterministic: vary, reproducibly for a given seed, the order in which
  // ready channels run (one callback per turn) and queues run: how the
  // deliveries of several queues interleave on a channel (each queue hands
  // one delivery to its channel per turn), which of the queues a publish or
  // dead letter reaches takes it first, which queue gets channel-wide
  // credit an ack frees, which of the timers due at one instant fires first
  // (BrokerOptions::dispatch_seed). Only orders RabbitMQ could produce:
  // each queue keeps its order, one queue's deliveries to a channel keep
  // theirs, a consumer's callbacks run one at a time. A delivery reaches its
  // channel (UnackedOn) in RunUntilIdle. Every test failure while the
  // TestBroker lives names the seed.
  // Unset: the environment variable WARREN_TEST_SEED, when set, is the
  // seed, so that a failure can be replayed, or an unseeded test explored,
  // without editing it (a value that is not a number fails the test);
  // otherwise everything runs in the order it became ready.
  // Ignored by kThreaded, where the threads decide.
  std::optional<uint64_t> seed;
  // kThreaded: the number of dispatch threads (at least one is used).
  int threads = 2;
};

// A message as a queue holds it, ready for delivery.
struct QueuedMessage {
  std::string exchange;     // where it was published ("" for default)
  std::string routing_key;  // the key it was published with
  Message message;
  bool redelivered = false;  // delivered before, then requeued
};

// One basic.publish the broker accepted, as the publisher made it, or a
// dead letter the broker published itself.
struct PublishedMessage {
  std::string vhost;
  std::string exchange;
  std::string routing_key;  // a dead letter's first (see XDeath::routing_keys)
  Message message;
  bool mandatory = false;
  // The broker republished it from a queue to the queue's dead-letter
  // exchange (its x-death says why); no client published it.
  bool dead_lettered = false;
};

// One binding whose source is an exchange.
struct Binding {
  std::string destination;  // a queue's name, or an exchange's
  std::string routing_key;
  FieldTable arguments;
  bool to_exchange = false;  // destination is an exchange (exchange.bind)
  friend bool operator==(const Binding&, const Binding&) = default;
};

// A consumer as its queue sees it.
struct ConsumerInfo {
  std::string tag;
  int64_t priority = 0;   // x-priority
  uint32_t prefetch = 0;  // its own limit; 0 for none
  uint32_t unacked = 0;   // deliveries it holds
  bool no_ack = false;
  bool exclusive = false;
};

// One entry of a dead-lettered message's x-death header.
struct XDeath {
  std::string queue;   // the queue it died in
  std::string reason;  // "rejected", "expired", "maxlen" or "delivery_limit"
  std::string exchange;
  std::vector<std::string> routing_keys;
  int64_t count = 0;  // times it died in that queue for that reason
  // When it (last) died there, to the second (an AMQP timestamp), by the
  // broker's clock: a TestBroker's manual clock.
  absl::Time time = absl::InfinitePast();
};

// The x-death entries of `message`, most recent first as RabbitMQ orders
// them; empty when it was never dead-lettered.
std::vector<XDeath> XDeathsOf(const Message& message);

void PrintTo(const QueuedMessage& queued, std::ostream* os);
void PrintTo(const PublishedMessage& published, std::ostream* os);
void PrintTo(const Binding& binding, std::ostream* os);
void PrintTo(const ConsumerInfo& consumer, std::ostream* os);
void PrintTo(const XDeath& death, std::ostream* os);

// Which publishes a fault applies to: any GoogleMock matcher of a
// PublishedMessage (HasRoutingKey("order.placed"), Truly(predicate), ...).
using PublishMatcher = ::testing::Matcher<const PublishedMessage&>;

// A broker for one test. Its clock is a ManualClock in both modes.
//
// Methods that inspect or inject faults report misuse (a missing queue, a
// channel of another broker) as a GoogleTest failure of the running test.
class TestBroker {
 public:
  explicit TestBroker(TestBrokerOptions options = {});
  // Closes every connection and stops the broker.
  ~TestBroker();
  TestBroker(const TestBroker&) = delete;
  TestBroker& operator=(const TestBroker&) = delete;

  // The broker, for the code under test.
  Broker& broker() const;
  // The broker's clock; prefer AdvanceTime() to moving it directly.
  ManualClock& clock() const;

  // The seed in effect (TestBrokerOptions::seed, or WARREN_TEST_SEED);
  // nullopt when none is.
  std::optional<uint64_t> seed() const;

  // Broker::Connect.
  absl::StatusOr<std::unique_ptr<Connection>> Connect(ConnectOptions options = {});
  // A channel on a connection to "/" that the TestBroker owns, for a test's
  // own setup (declaring topology, publishing input).
  absl::StatusOr<std::unique_ptr<Channel>> OpenChannel();
  // Publishes on a channel of the TestBroker's own (reopened if an error
  // closed it): a message arriving from outside the code under test.
  absl::Status Publish(std::string_view exchange, std::string_view routing_key,
                       const Message& message, const PublishOptions& options = {});

  // Runs every ready callback, and those they make ready, until none is
  // left (kThreaded: waits until none is queued or running; a test failure
  // if that takes over 30 seconds). Publishes and acks themselves take
  // effect when called, in either mode; this runs what they caused.
  void RunUntilIdle();

  // Advances the clock by `d`, which fires the TTLs, queue expiries and
  // dead-lettering that became due, then RunUntilIdle().
  void AdvanceTime(absl::Duration d);

  // --- Inspection. Nothing here consumes, acks or moves a message. ---

  // The ready messages of `queue` in the order consumers would get them.
  // Deliveries waiting for an ack are not ready: see UnackedOn.
  std::vector<QueuedMessage> MessagesIn(std::string_view queue,
                                        std::string_view vhost = "/") const;
  // Whether `queue` exists (it may have expired or been auto-deleted).
  bool HasQueue(std::string_view queue, std::string_view vhost = "/") const;
  // The deliveries `channel` (a channel of this broker) has not settled, in
  // delivery-tag order.
  std::vector<Delivery> UnackedOn(const Channel& channel) const;
  // The bindings whose source is `exchange`, in the order they were made.
  // "" lists the default exchange's implicit binding to each queue.
  std::vector<Binding> BindingsOf(std::string_view exchange,
                                  std::string_view vhost = "/") const;
  // The consumers of `queue`, in the order the queue offers them messages.
  std::vector<ConsumerInfo> ConsumersOf(std::string_view queue,
                                        std::string_view vhost = "/") const;
  // Every publish the broker accepted on any channel, and every dead letter
  // it published to an existing dead-letter exchange (dead_lettered), in
  // order. A publish refused by a fault below is not in it.
  std::vector<PublishedMessage> Published() const;
  // The accepted publishes to `exchange` ("" for the default exchange).
  std::vector<PublishedMessage> PublishedTo(std::string_view exchange,
                                            std::string_view vhost = "/") const;
  // Forgets the publishes recorded so far.
  void ClearPublished();

  // --- Fault injection. Faults wait, in the order armed, for a publish
  // they match; each fires once. Dead letters are never refused. ---

  // The next publish matching `which` fails with `error` instead of being
  // routed. An AMQP reply code in `error` (warren::AmqpError) closes the
  // channel (4xx) or its connection (5xx), as a refusal by RabbitMQ does.
  void FailNextPublish(absl::Status error, PublishMatcher which = ::testing::_);
  // The next publish matching `which` on a channel in confirm mode reaches
  // no queue, and its confirm is a nack (as when a queue refuses it).
  void NackNextConfirm(PublishMatcher which = ::testing::_);
  // Faults armed that have not fired yet.
  size_t pending_faults() const;

  // Closes `channel` as the broker does after an error: with a 5xx code in
  // `reason` its whole connection. Its unacked deliveries are requeued, and
  // close_reason() returns `reason`.
  void CloseChannel(Channel& channel, absl::Status reason);
  // Closes `connection` and its channels as the broker does after an error
  // (e.g. AmqpError(ReplyCode::kConnectionForced, "broker restarting")).
  void CloseConnection(Connection& connection, absl::Status reason);
  // Cancels the consumer `consumer_tag` of `channel` from the broker's side,
  // as RabbitMQ does when its queue goes away: it gets no more deliveries,
  // its on_cancel runs (at the next RunUntilIdle), and what it holds stays
  // unacked on the channel.
  void CancelConsumer(Channel& channel, std::string_view consumer_tag);

 private:
  class State;
  std::unique_ptr<State> state_;
};

// --- Matchers ---------------------------------------------------------------
//
// Each matches anything that carries a message where that makes sense:
// Message, Delivery, GetResult, QueuedMessage, PublishedMessage,
// ReturnedMessage. Arguments are values or matchers of the part:
//
//   EXPECT_THAT(delivery, AllOf(HasBody(HasSubstr("\"id\":42")),
//                               HasRoutingKey("order.placed"),
//                               HasHeader("x-attempt", 2),
//                               Not(IsRedelivered())));
//   EXPECT_THAT(broker.MessagesIn("orders.dead"),
//               ElementsAre(HasXDeathReason("rejected")));

namespace internal {

inline const Message& MessageOf(const Message& message) { return message; }
inline const Message& MessageOf(const GetResult& result) { return result.delivery.message; }
template <typename T>
  requires requires(const T& t) {
    { t.message } -> std::convertible_to<const Message&>;
  }
const Message& MessageOf(const T& carrier) {
  return carrier.message;
}

inline const Delivery& DeliveryPart(const GetResult& result) { return result.delivery; }
template <typename T>
const T& DeliveryPart(const T& carrier) {
  return carrier;
}

// A matcher of one part of a value: `get` returns the part, or nullopt when
// the value has none (an unset property, a missing header).
template <typename Part, typename Get>
class PartMatcher {
 public:
  using is_gtest_matcher = void;

  PartMatcher(std::string what, Get get, ::testing::Matcher<const Part&> inner)
      : what_(std::move(what)), get_(std::move(get)), inner_(std::move(inner)) {}

  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener* listener) const {
    const std::optional<Part> part = get_(value);
    if (!part) {
      *listener << "which has no " << what_;
      return false;
    }
    *listener << "whose " << what_ << " is " << ::testing::PrintToString(*part);
    ::testing::StringMatchResultListener inner_listener;
    const bool matched = inner_.MatchAndExplain(*part, &inner_listener);
    if (!inner_listener.str().empty()) *listener << ", " << inner_listener.str();
    return matched;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has " << what_ << " that ";
    inner_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has no " << what_ << " that ";
    inner_.DescribeTo(os);
  }

 private:
  std::string what_;
  Get get_;
  ::testing::Matcher<const Part&> inner_;
};

template <typename Part, typename Get, typename M>
PartMatcher<Part, Get> MakePartMatcher(std::string what, Get get, M&& inner) {
  return PartMatcher<Part, Get>(std::move(what), std::move(get),
                                ::testing::MatcherCast<const Part&>(std::forward<M>(inner)));
}

template <typename T, typename M>
auto PropertyMatcher(std::string what, std::optional<T> BasicProperties::*member, M&& inner) {
  return MakePartMatcher<T>(
      std::move(what),
      [member](const auto& value) -> std::optional<T> {
        return MessageOf(value).properties().*member;
      },
      std::forward<M>(inner));
}

// Any integer type with the value `expected` (an AMQP header keeps its
// exact width, which tests rarely mean to pin).
class IntegerValueMatcher {
 public:
  using is_gtest_matcher = void;
  explicit IntegerValueMatcher(int64_t expected) : expected_(expected) {}
  bool MatchAndExplain(const FieldValue& value, ::testing::MatchResultListener*) const {
    const std::optional<int64_t> n = value.AsInteger();
    return n && *n == expected_;
  }
  void DescribeTo(std::ostream* os) const { *os << "is an integer equal to " << expected_; }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "is not an integer equal to " << expected_;
  }

 private:
  int64_t expected_;
};

// What HasHeader's value argument means: an integer matches any integer
// type; a string the long string; anything else a FieldValue or a matcher
// of one (exact type and value).
template <typename V>
::testing::Matcher<const FieldValue&> HeaderValueMatcher(V&& v) {
  using D = std::decay_t<V>;
  if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool>) {
    return IntegerValueMatcher(static_cast<int64_t>(v));
  } else if constexpr (std::is_convertible_v<D, std::string_view> &&
                       !std::is_same_v<D, FieldValue>) {
    return ::testing::Eq(FieldValue(std::string(std::string_view(v))));
  } else {
    return ::testing::MatcherCast<const FieldValue&>(std::forward<V>(v));
  }
}

// A bool-valued trait of a delivery-like value, e.g. redelivered.
template <typename Get>
class FlagMatcher {
 public:
  using is_gtest_matcher = void;
  FlagMatcher(const char* name, Get get) : name_(name), get_(std::move(get)) {}
  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener*) const {
    return get_(value);
  }
  void DescribeTo(std::ostream* os) const { *os << "is " << name_; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not " << name_; }

 private:
  const char* name_;
  Get get_;
};

// An x-death entry for `reason` (and `queue`, when given) whose count
// matches `count`.
class XDeathMatcher {
 public:
  using is_gtest_matcher = void;
  XDeathMatcher(std::optional<std::string> queue, std::string reason,
                ::testing::Matcher<int64_t> count)
      : queue_(std::move(queue)), reason_(std::move(reason)), count_(std::move(count)) {}

  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener* listener) const {
    const std::vector<XDeath> deaths = XDeathsOf(MessageOf(value));
    if (deaths.empty()) {
      *listener << "which has no x-death header";
      return false;
    }
    *listener << "whose x-death is " << ::testing::PrintToString(deaths);
    for (const XDeath& death : deaths) {
      if (death.reason == reason_ && (!queue_ || death.queue == *queue_) &&
          count_.Matches(death.count)) {
        return true;
      }
    }
    return false;
  }
  void DescribeTo(std::ostream* os) const { Describe("has", os); }
  void DescribeNegationTo(std::ostream* os) const { Describe("has no", os); }

 private:
  void Describe(const char* has, std::ostream* os) const {
    *os << has << " x-death entry with reason \"" << reason_ << "\"";
    if (queue_) *os << " in queue \"" << *queue_ << "\"";
    *os << " whose count ";
    count_.DescribeTo(os);
  }

  std::optional<std::string> queue_;
  std::string reason_;
  ::testing::Matcher<int64_t> count_;
};

}  // namespace internal

// The body, as a std::string: HasBody("hi"), HasBody(HasSubstr("id")).
template <typename M>
auto HasBody(M&& body) {
  return internal::MakePartMatcher<std::string>(
      "body",
      [](const auto& value) -> std::optional<std::string> {
        return std::string(internal::MessageOf(value).body());
      },
      std::forward<M>(body));
}

// The routing key it was published with.
template <typename M>
auto HasRoutingKey(M&& routing_key) {
  return internal::MakePartMatcher<std::string>(
      "routing key",
      [](const auto& value) -> std::optional<std::string> {
        return internal::DeliveryPart(value).routing_key;
      },
      std::forward<M>(routing_key));
}

// The exchange it was published to ("" for the default exchange).
template <typename M>
auto HasExchange(M&& exchange) {
  return internal::MakePartMatcher<std::string>(
      "exchange",
      [](const auto& value) -> std::optional<std::string> {
        return internal::DeliveryPart(value).exchange;
      },
      std::forward<M>(exchange));
}

// A header present with a value: an integer matches any integer type with
// that value, a string the long string; a FieldValue or a matcher of one
// matches type and value exactly.
template <typename V>
auto HasHeader(std::string key, V&& value) {
  std::string what = "header \"" + key + "\"";
  return internal::MakePartMatcher<FieldValue>(
      std::move(what),
      [key = std::move(key)](const auto& carrier) -> std::optional<FieldValue> {
        const std::optional<FieldTable>& headers =
            internal::MessageOf(carrier).properties().headers;
        const FieldValue* v = headers ? headers->Find(key) : nullptr;
        return v ? std::optional<FieldValue>(*v) : std::nullopt;
      },
      internal::HeaderValueMatcher(std::forward<V>(value)));
}

// A header present with any value.
inline auto HasHeader(std::string key) { return HasHeader(std::move(key), ::testing::_); }

// A basic property, set, whose value matches:
// HasProperty(&BasicProperties::delivery_mode, 2). Without a value: set.
template <typename T, typename M>
auto HasProperty(std::optional<T> BasicProperties::*property, M&& value) {
  return internal::PropertyMatcher("the property", property, std::forward<M>(value));
}
template <typename T>
auto HasProperty(std::optional<T> BasicProperties::*property) {
  return HasProperty(property, ::testing::_);
}

// The most asserted properties, by name.
template <typename M>
auto HasCorrelationId(M&& id) {
  return internal::PropertyMatcher("correlation_id", &BasicProperties::correlation_id,
                                   std::forward<M>(id));
}
template <typename M>
auto HasMessageId(M&& id) {
  return internal::PropertyMatcher("message_id", &BasicProperties::message_id,
                                   std::forward<M>(id));
}
template <typename M>
auto HasContentType(M&& type) {
  return internal::PropertyMatcher("content_type", &BasicProperties::content_type,
                                   std::forward<M>(type));
}
template <typename M>
auto HasReplyTo(M&& reply_to) {
  return internal::PropertyMatcher("reply_to", &BasicProperties::reply_to,
                                   std::forward<M>(reply_to));
}

// Delivered before and then requeued (Delivery, GetResult, QueuedMessage).
inline auto IsRedelivered() {
  auto get = [](const auto& value) { return internal::DeliveryPart(value).redelivered; };
  return internal::FlagMatcher<decltype(get)>("redelivered", get);
}

// Dead-lettered at least once for `reason` ("rejected", "expired",
// "maxlen", "delivery_limit").
inline auto HasXDeathReason(std::string reason) {
  return internal::XDeathMatcher(std::nullopt, std::move(reason), ::testing::_);
}

// Dead-lettered from `queue` for `reason` a number of times that matches
// `count`: HasXDeathCount("orders.wait", "expired", 3).
template <typename M>
auto HasXDeathCount(std::string queue, std::string reason, M&& count) {
  return internal::XDeathMatcher(std::move(queue), std::move(reason),
                                 ::testing::MatcherCast<int64_t>(std::forward<M>(count)));
}

}  // namespace testkit
}  // namespace warren

#endif  // WARREN_TESTING_H_
