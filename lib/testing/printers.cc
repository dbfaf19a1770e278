// The test kit's printers and x-death reader (warren/testing.h): how
// messages, deliveries and the kit's values read in a failed expectation,
// and the x-death header as a list of entries.
//
// Owns only formatting and reading values; it must not reach the broker.
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "absl/time/time.h"
#include "warren/testing.h"

namespace warren {
namespace {

// Bodies longer than this are cut in printouts.
constexpr size_t kMaxPrintedBody = 200;

void PrintString(std::string_view s, std::ostream* os) {
  *os << '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      *os << '\\' << c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
      *os << escaped;
    } else {
      *os << c;
    }
  }
  *os << '"';
}

// Prints a property when set, prefixed by ", " after the first one printed.
class PropertyPrinter {
 public:
  explicit PropertyPrinter(std::ostream* os) : os_(os) {}

  template <typename T>
  void Print(std::string_view name, const std::optional<T>& value) {
    if (!value) return;
    Separate();
    *os_ << name << ": ";
    if constexpr (std::is_same_v<T, std::string>) {
      PrintString(*value, os_);
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      *os_ << static_cast<int>(*value);
    } else if constexpr (std::is_same_v<T, Timestamp>) {
      *os_ << value->seconds;
    } else {
      PrintTo(*value, os_);
    }
  }

  void Separate() {
    if (!first_) *os_ << ", ";
    first_ = false;
  }

 private:
  std::ostream* os_;
  bool first_ = true;
};

void PrintProperties(const BasicProperties& p, PropertyPrinter& printer) {
  printer.Print("content_type", p.content_type);
  printer.Print("content_encoding", p.content_encoding);
  printer.Print("headers", p.headers);
  printer.Print("delivery_mode", p.delivery_mode);
  printer.Print("priority", p.priority);
  printer.Print("correlation_id", p.correlation_id);
  printer.Print("reply_to", p.reply_to);
  printer.Print("expiration", p.expiration);
  printer.Print("message_id", p.message_id);
  printer.Print("timestamp", p.timestamp);
  printer.Print("type", p.type);
  printer.Print("user_id", p.user_id);
  printer.Print("app_id", p.app_id);
}

void PrintBody(std::string_view body, std::ostream* os) {
  if (body.size() <= kMaxPrintedBody) {
    PrintString(body, os);
    return;
  }
  PrintString(body.substr(0, kMaxPrintedBody), os);
  *os << "... (" << body.size() << " bytes)";
}

// The routing part that deliveries, returns and the kit's values share.
void PrintRoute(std::string_view exchange, std::string_view routing_key, std::ostream* os) {
  *os << "exchange: ";
  PrintString(exchange, os);
  *os << ", routing_key: ";
  PrintString(routing_key, os);
}

}  // namespace

void PrintTo(const FieldValue& value, std::ostream* os) {
  std::visit(
      [os](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          *os << (v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
          *os << static_cast<int>(v);
        } else if constexpr (std::is_arithmetic_v<T>) {
          *os << v;
        } else if constexpr (std::is_same_v<T, Decimal>) {
          *os << "decimal(" << v.unscaled << "e-" << static_cast<int>(v.scale) << ")";
        } else if constexpr (std::is_same_v<T, std::string>) {
          PrintString(v, os);
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          *os << "bytes ";
          PrintString(v.bytes, os);
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          *os << "timestamp(" << v.seconds << ")";
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          *os << '[';
          for (size_t i = 0; i < v.size(); ++i) {
            if (i > 0) *os << ", ";
            PrintTo(v[i], os);
          }
          *os << ']';
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          PrintTo(v, os);
        } else {
          *os << "void";
        }
      },
      value.variant());
}

void PrintTo(const FieldTable& table, std::ostream* os) {
  *os << '{';
  bool first = true;
  for (const auto& [key, value] : table) {
    if (!first) *os << ", ";
    first = false;
    PrintString(key, os);
    *os << ": ";
    PrintTo(value, os);
  }
  *os << '}';
}

void PrintTo(const BasicProperties& properties, std::ostream* os) {
  *os << '{';
  PropertyPrinter printer(os);
  PrintProperties(properties, printer);
  *os << '}';
}

void PrintTo(const Message& message, std::ostream* os) {
  *os << "{body: ";
  PrintBody(message.body(), os);
  PropertyPrinter printer(os);
  printer.Separate();  // the body came first
  PrintProperties(message.properties(), printer);
  *os << '}';
}

void PrintTo(const Delivery& delivery, std::ostream* os) {
  *os << "Delivery{";
  PrintRoute(delivery.exchange, delivery.routing_key, os);
  *os << ", delivery_tag: " << delivery.delivery_tag;
  if (!delivery.consumer_tag.empty()) {
    *os << ", consumer_tag: ";
    PrintString(delivery.consumer_tag, os);
  }
  if (delivery.redelivered) *os << ", redelivered";
  *os << ", message: ";
  PrintTo(delivery.message, os);
  *os << '}';
}

void PrintTo(const GetResult& result, std::ostream* os) {
  *os << "GetResult{message_count: " << result.message_count << ", ";
  PrintTo(result.delivery, os);
  *os << '}';
}

void PrintTo(const ReturnedMessage& returned, std::ostream* os) {
  *os << "ReturnedMessage{" << returned.reply_code << " " << returned.reply_text << ", ";
  PrintRoute(returned.exchange, returned.routing_key, os);
  *os << ", message: ";
  PrintTo(returned.message, os);
  *os << '}';
}

namespace testkit {
namespace {

std::string StringOf(const FieldTable& table, std::string_view key) {
  const FieldValue* v = table.Find(key);
  std::optional<std::string_view> s = v ? v->AsString() : std::nullopt;
  return std::string(s.value_or(""));
}

}  // namespace

std::vector<XDeath> XDeathsOf(const Message& message) {
  std::vector<XDeath> deaths;
  const std::optional<FieldTable>& headers = message.properties().headers;
  const FieldValue* x_death = headers ? headers->Find("x-death") : nullptr;
  const FieldArray* entries = x_death ? x_death->Get<FieldArray>() : nullptr;
  if (entries == nullptr) return deaths;
  for (const FieldValue& entry : *entries) {
    const FieldTable* table = entry.Get<FieldTable>();
    if (table == nullptr) continue;
    XDeath death{StringOf(*table, "queue"), StringOf(*table, "reason"),
                 StringOf(*table, "exchange"), {}, 0};
    if (const FieldValue* keys = table->Find("routing-keys")) {
      if (const FieldArray* array = keys->Get<FieldArray>()) {
        for (const FieldValue& key : *array) {
          if (std::optional<std::string_view> s = key.AsString()) {
            death.routing_keys.emplace_back(*s);
          }
        }
      }
    }
    if (const FieldValue* count = table->Find("count")) {
      death.count = count->AsInteger().value_or(0);
    }
    if (const FieldValue* time = table->Find("time")) {
      if (const Timestamp* at = time->Get<Timestamp>()) {
        death.time = absl::FromUnixSeconds(static_cast<int64_t>(at->seconds));
      }
    }
    deaths.push_back(std::move(death));
  }
  return deaths;
}

void PrintTo(const QueuedMessage& queued, std::ostream* os) {
  *os << "QueuedMessage{";
  PrintRoute(queued.exchange, queued.routing_key, os);
  if (queued.redelivered) *os << ", redelivered";
  *os << ", message: ";
  PrintTo(queued.message, os);
  *os << '}';
}

void PrintTo(const PublishedMessage& published, std::ostream* os) {
  *os << "PublishedMessage{";
  if (published.vhost != "/") {
    *os << "vhost: ";
    PrintString(published.vhost, os);
    *os << ", ";
  }
  PrintRoute(published.exchange, published.routing_key, os);
  if (published.mandatory) *os << ", mandatory";
  if (published.dead_lettered) *os << ", dead-lettered";
  *os << ", message: ";
  PrintTo(published.message, os);
  *os << '}';
}

void PrintTo(const Binding& binding, std::ostream* os) {
  *os << "Binding{" << (binding.to_exchange ? "exchange " : "queue ");
  PrintString(binding.destination, os);
  *os << ", routing_key: ";
  PrintString(binding.routing_key, os);
  if (!binding.arguments.empty()) {
    *os << ", arguments: ";
    PrintTo(binding.arguments, os);
  }
  *os << '}';
}

void PrintTo(const ConsumerInfo& consumer, std::ostream* os) {
  *os << "ConsumerInfo{";
  PrintString(consumer.tag, os);
  *os << ", priority: " << consumer.priority << ", prefetch: " << consumer.prefetch
      << ", unacked: " << consumer.unacked;
  if (consumer.no_ack) *os << ", no_ack";
  if (consumer.exclusive) *os << ", exclusive";
  *os << '}';
}

void PrintTo(const XDeath& death, std::ostream* os) {
  *os << "XDeath{queue: ";
  PrintString(death.queue, os);
  *os << ", reason: ";
  PrintString(death.reason, os);
  *os << ", count: " << death.count
      << ", time: " << absl::FormatTime(absl::RFC3339_sec, death.time, absl::UTCTimeZone())
      << ", exchange: ";
  PrintString(death.exchange, os);
  *os << ", routing_keys: [";
  for (size_t i = 0; i < death.routing_keys.size(); ++i) {
    if (i > 0) *os << ", ";
    PrintString(death.routing_keys[i], os);
  }
  *os << "]}";
}

}  // namespace testkit
}  // namespace warren
