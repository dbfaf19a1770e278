// warren/message.h: messages, their basic properties, and what consumers see.
//
// A Message is a body plus AMQP's basic properties. It is an immutable,
// reference-counted value: copying it is cheap, and the body is shared, never
// copied, among the queues a publish reaches.
//
// Example:
//
//   warren::BasicProperties props;
//   props.content_type = "application/json";
//   props.correlation_id = "order-42";
//   channel->BasicPublish("orders", "order.created",
//                         warren::Message(R"({"id":42})", std::move(props)));
//
//   // In a consumer:
//   void OnDelivery(const warren::Delivery& d) {
//     std::string_view body = d.message.body();
//     ... d.message.properties().correlation_id ...
//   }
//
// Thread-safety: Message is immutable and safe to share between threads.
#ifndef WARREN_MESSAGE_H_
#define WARREN_MESSAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "warren/field_table.h"

namespace warren {

// AMQP 0-9-1's basic properties. An unset property is nullopt; a property set
// to "" or 0 is set, as on the wire.
struct BasicProperties {
  std::optional<std::string> content_type;
  std::optional<std::string> content_encoding;
  std::optional<FieldTable> headers;
  std::optional<uint8_t> delivery_mode;  // 1 transient, 2 persistent
  std::optional<uint8_t> priority;
  std::optional<std::string> correlation_id;
  std::optional<std::string> reply_to;
  std::optional<std::string> expiration;  // milliseconds, as a decimal string
  std::optional<std::string> message_id;
  std::optional<Timestamp> timestamp;
  std::optional<std::string> type;
  std::optional<std::string> user_id;
  std::optional<std::string> app_id;

  friend bool operator==(const BasicProperties&, const BasicProperties&) = default;
};

// A body and its properties. Immutable; copies share the body.
class Message {
 public:
  // An empty body without properties.
  Message();
  explicit Message(std::string body, BasicProperties properties = {});

  // The same body, shared, with other properties.
  Message WithProperties(BasicProperties properties) const;

  // The body's bytes, "" when empty; valid while this Message or a copy of
  // it lives.
  std::string_view body() const { return body_ ? std::string_view(*body_) : std::string_view(); }
  // The basic properties; all unset when the message was made without any.
  // Valid while this Message or a copy of it lives.
  const BasicProperties& properties() const {
    static const BasicProperties kNone;
    return properties_ ? *properties_ : kNone;
  }

  // True when both messages share one body buffer (for tests of zero-copy).
  bool SharesBodyWith(const Message& other) const { return body_ == other.body_; }

 private:
  std::shared_ptr<const std::string> body_;              // null when empty
  std::shared_ptr<const BasicProperties> properties_;    // null when none is set
};

// A message handed to a consumer (basic.deliver) or taken by basic.get.
struct Delivery {
  std::string consumer_tag;    // empty for basic.get
  uint64_t delivery_tag = 0;   // per channel, from 1; the tag to ack
  bool redelivered = false;    // delivered before, then requeued
  std::string exchange;        // where it was published ("" for default)
  std::string routing_key;     // the key it was published with
  Message message;
};

// basic.get-ok: the delivery and the number of ready messages left after it.
struct GetResult {
  Delivery delivery;
  uint32_t message_count = 0;
};

// basic.return: a mandatory message that no queue took.
struct ReturnedMessage {
  int reply_code = 0;          // 312 NO_ROUTE
  std::string reply_text;      // "NO_ROUTE"
  std::string exchange;
  std::string routing_key;
  Message message;
};

}  // namespace warren

#endif  // WARREN_MESSAGE_H_
