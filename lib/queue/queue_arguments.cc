// QueueArguments: RabbitMQ 3.10's rabbit_amqqueue:declare_args() rules.
#include "queue/queue_arguments.h"

#include <span>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::queue {
namespace {

// The arguments RabbitMQ compares on redeclare (declare_args()).
constexpr std::string_view kComparedArguments[] = {
    "x-expires",          "x-message-ttl",           "x-dead-letter-exchange",
    "x-dead-letter-routing-key", "x-max-length",     "x-max-length-bytes",
    "x-max-in-memory-length", "x-max-in-memory-bytes", "x-max-priority",
    "x-overflow",         "x-queue-mode",            "x-queue-version",
    "x-single-active-consumer", "x-queue-type",      "x-quorum-initial-group-size",
    "x-delivery-limit",   "x-queue-master-locator",  "x-max-age",
    "x-stream-max-segment-size-bytes", "x-initial-cluster-size",
};

// What RabbitMQ 3.10 refuses for each queue type (rabbit_classic_queue and
// rabbit_quorum_queue capabilities): arguments of the other types.
constexpr std::string_view kNotForClassic[] = {
    "x-delivery-limit", "x-quorum-initial-group-size", "x-max-in-memory-length",
    "x-max-in-memory-bytes", "x-dead-letter-strategy", "x-max-age",
    "x-stream-max-segment-size-bytes", "x-initial-cluster-size",
};
constexpr std::string_view kNotForQuorum[] = {
    "x-max-priority", "x-queue-mode", "x-queue-version", "x-queue-master-locator",
    "x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size",
};

// RabbitMQ's name for a value's AMQP type, as its errors print it.
std::string_view TypeName(const FieldValue& v) {
  static constexpr std::string_view kNames[] = {
      "bool",  "byte",    "unsignedbyte", "short", "unsignedshort", "signedint",
      "unsignedint", "long", "float", "double", "decimal", "longstr",
      "binary", "timestamp", "array", "table", "void"};
  return kNames[v.variant().index()];
}

// The type class RabbitMQ compares redeclared arguments by.
std::string_view TypeClass(const FieldValue& v) {
  if (v.AsInteger()) return "int";
  if (v.Is<float>() || v.Is<double>()) return "float";
  return TypeName(v);
}

absl::Status InvalidArg(std::string_view key, std::string_view queue,
                        std::string_view vhost, std::string_view why) {
  return AmqpError(ReplyCode::kPreconditionFailed,
                   StrCat("invalid arg '", key, "' for queue '", queue,
                                "' in vhost '", vhost, "': ", why));
}

}  // namespace

absl::StatusOr<QueueArguments> ParseQueueArguments(const FieldTable& arguments,
                                                   std::string_view queue_name,
                                                   std::string_view vhost) {
  QueueArguments parsed;
  auto invalid = [&](std::string_view key, std::string_view why) {
    return InvalidArg(key, queue_name, vhost, why);
  };
  // Reads a non-negative integer argument; `positive` also refuses zero.
  auto integer = [&](std::string_view key, bool positive,
                     int64_t* out) -> absl::StatusOr<bool> {
    const FieldValue* v = arguments.Find(key);
    if (v == nullptr) return false;
    std::optional<int64_t> n = v->AsInteger();
    if (!n) return invalid(key, StrCat("{unacceptable_type,", TypeName(*v), "}"));
    if (*n < 0) return invalid(key, StrCat("{value_negative,", *n, "}"));
    if (positive && *n == 0) return invalid(key, "{value_zero,0}");
    *out = *n;
    return true;
  };
  auto string = [&](std::string_view key,
                    std::string* out) -> absl::StatusOr<bool> {
    const FieldValue* v = arguments.Find(key);
    if (v == nullptr) return false;
    std::optional<std::string_view> s = v->AsString();
    if (!s) return invalid(key, StrCat("{unacceptable_type,", TypeName(*v), "}"));
    *out = std::string(*s);
    return true;
  };

  // RabbitMQ's check_expiry caps TTLs and x-expires at kMaxExpiryMs.
  auto too_big = [&](std::string_view key, int64_t n) {
    return invalid(key, StrCat("{value_too_big,", n, "}"));
  };
  int64_t n = 0;
  absl::StatusOr<bool> found = integer("x-message-ttl", false, &n);
  if (!found.ok()) return found.status();
  if (*found) {
    if (n > kMaxExpiryMs) return too_big("x-message-ttl", n);
    parsed.message_ttl = absl::Milliseconds(n);
  }
  if (!(found = integer("x-expires", true, &n)).ok()) return found.status();
  if (*found) {
    if (n > kMaxExpiryMs) return too_big("x-expires", n);
    parsed.expires = absl::Milliseconds(n);
  }
  if (!(found = integer("x-max-length", false, &n)).ok()) return found.status();
  if (*found) parsed.max_length = n;
  if (!(found = integer("x-max-length-bytes", false, &n)).ok()) return found.status();
  if (*found) parsed.max_length_bytes = n;
  if (!(found = integer("x-max-priority", false, &n)).ok()) return found.status();
  if (*found) {
    if (n > 255) return invalid("x-max-priority", StrCat("{value_too_large,", n, ",255}"));
    parsed.max_priority = static_cast<int>(n);
  }
  // RabbitMQ 3.10 takes any x-delivery-limit: an integer of either sign is
  // the limit, anything else is none.
  if (const FieldValue* v = arguments.Find("x-delivery-limit")) parsed.delivery_limit = v->AsInteger();

  std::string s;
  if (!(found = string("x-dead-letter-exchange", &s)).ok()) return found.status();
  if (*found) parsed.dead_letter_exchange = s;
  if (!(found = string("x-dead-letter-routing-key", &s)).ok()) return found.status();
  if (*found) {
    if (!parsed.dead_letter_exchange) {
      return invalid("x-dead-letter-routing-key",
                     "Present x-dead-letter-routing-key but no x-dead-letter-exchange");
    }
    parsed.dead_letter_routing_key = s;
  }
  if (!(found = string("x-overflow", &s)).ok()) return found.status();
  if (*found) {
    if (s == "drop-head") {
      parsed.overflow = Overflow::kDropHead;
    } else if (s == "reject-publish") {
      parsed.overflow = Overflow::kRejectPublish;
    } else if (s == "reject-publish-dlx") {
      parsed.overflow = Overflow::kRejectPublishDlx;
    } else {
      return invalid("x-overflow", StrCat("{unacceptable_value,<<\"", s, "\">>}"));
    }
  }
  if (!(found = string("x-queue-mode", &s)).ok()) return found.status();
  if (*found && s != "default" && s != "lazy") {
    return invalid("x-queue-mode", StrCat("{unacceptable_value,<<\"", s, "\">>}"));
  }
  if (!(found = string("x-queue-type", &s)).ok()) return found.status();
  if (*found) {
    if (s == "quorum") {
      parsed.quorum = true;
    } else if (s != "classic") {
      return invalid("x-queue-type", StrCat("{unacceptable_value,<<\"", s, "\">>}"));
    }
  }
  // The arguments RabbitMQ knows but the queue's type does not take.
  const std::span<const std::string_view> not_for_type =
      parsed.quorum ? std::span<const std::string_view>(kNotForQuorum) : kNotForClassic;
  for (std::string_view key : not_for_type) {
    if (arguments.Find(key) != nullptr) {
      return AmqpError(ReplyCode::kPreconditionFailed,
                       StrCat("invalid arg '", key, "' for queue '", queue_name, "' in vhost '",
                              vhost, "' of queue type ",
                              parsed.quorum ? "rabbit_quorum_queue" : "rabbit_classic_queue"));
    }
  }
  if (const FieldValue* v = arguments.Find("x-single-active-consumer")) {
    const bool* b = v->Get<bool>();
    if (b == nullptr) {
      return invalid("x-single-active-consumer",
                     StrCat("{unacceptable_type,", TypeName(*v), "}"));
    }
    parsed.single_active_consumer = *b;
  }
  return parsed;
}

std::optional<int64_t> ParseExpiration(std::string_view expiration) {
  // Erlang's string:to_integer, then check_expiry.
  std::string_view digits = expiration;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return std::nullopt;
  int64_t ms = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    if (ms > kMaxExpiryMs) return std::nullopt;  // stops before overflowing
    ms = ms * 10 + (c - '0');
  }
  if (ms > kMaxExpiryMs || (negative && ms != 0)) return std::nullopt;
  return ms;
}

absl::Status CheckEquivalentArguments(const FieldTable& existing,
                                      const FieldTable& requested,
                                      std::string_view queue_name,
                                      std::string_view vhost) {
  for (std::string_view key : kComparedArguments) {
    const FieldValue* a = existing.Find(key);
    const FieldValue* b = requested.Find(key);
    if (a == nullptr && b == nullptr) continue;
    bool same = a != nullptr && b != nullptr &&
                (*a == *b || (TypeClass(*a) == TypeClass(*b) && a->AsInteger() &&
                              a->AsInteger() == b->AsInteger()));
    if (!same) {
      return AmqpError(ReplyCode::kPreconditionFailed,
                       StrCat("inequivalent arg '", key, "' for queue '",
                                    queue_name, "' in vhost '", vhost, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace warren::queue
