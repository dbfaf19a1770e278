// warren/status.h: AMQP reply codes carried in absl::Status.
//
// Every fallible warren call returns absl::Status or absl::StatusOr<T>. When
// the failure is one RabbitMQ would answer with an AMQP reply code (404
// NOT_FOUND, 406 PRECONDITION_FAILED, ...), the status carries that code as a
// payload, readable with ReplyCodeOf(). The absl::StatusCode is chosen to match
// the meaning (404 -> kNotFound, 403 -> kPermissionDenied, ...), so callers that
// only know Abseil still branch sensibly.
//
// Example:
//
//   absl::Status s = channel->QueueDeclare("orders", {.passive = true}).status();
//   if (warren::ReplyCodeOf(s) == warren::ReplyCode::kNotFound) { ... }
//
// Thread-safety: all functions here are pure and thread-safe.
#ifndef WARREN_STATUS_H_
#define WARREN_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace warren {

// The reply codes of AMQP 0-9-1 that RabbitMQ uses. kNone marks a status
// without an AMQP code (for example a timeout of a local wait).
enum class ReplyCode : int {
  kNone = 0,
  kContentTooLarge = 311,
  kNoRoute = 312,
  kNoConsumers = 313,
  kConnectionForced = 320,
  kInvalidPath = 402,
  kAccessRefused = 403,
  kNotFound = 404,
  kResourceLocked = 405,
  kPreconditionFailed = 406,
  kFrameError = 501,
  kSyntaxError = 502,
  kCommandInvalid = 503,
  kChannelError = 504,
  kUnexpectedFrame = 505,
  kResourceError = 506,
  kNotAllowed = 530,
  kNotImplemented = 540,
  kInternalError = 541,
};

// Returns a status with `code`, the absl::StatusCode that matches it, and
// `message`. The message should name the object that was wrong, as RabbitMQ's
// do: "no queue 'orders' in vhost '/'".
absl::Status AmqpError(ReplyCode code, std::string_view message);

// The AMQP reply code carried by `status`, or kNone when it carries none
// (including for an OK status).
ReplyCode ReplyCodeOf(const absl::Status& status);

// True when the code closes the whole connection in AMQP (5xx and 320), false
// when it closes only the channel (3xx, 4xx).
bool IsConnectionError(ReplyCode code);

// The AMQP name of `code`, e.g. "NOT_FOUND"; "NONE" for kNone.
std::string_view ReplyCodeName(ReplyCode code);

}  // namespace warren

#endif  // WARREN_STATUS_H_
