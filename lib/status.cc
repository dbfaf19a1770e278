// lib/status.cc: AMQP reply codes carried in absl::Status (warren/status.h).
//
// Owns the one table that ties each reply code to its AMQP name and to the
// absl::StatusCode of the same meaning, and the payload that carries the code.
// Knows nothing of brokers or channels: callers choose the code and the text.

#include "warren/status.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace warren {
namespace {

// The payload survives copies of the status and any StatusOr it travels in;
// the decimal text keeps it readable in a printed status.
constexpr absl::string_view kReplyCodeTypeUrl = "warren.amqp/reply_code";

struct ReplyCodeInfo {
  ReplyCode code;
  std::string_view name;
  absl::StatusCode status_code;
};

constexpr ReplyCodeInfo kReplyCodes[] = {
    {ReplyCode::kContentTooLarge, "CONTENT_TOO_LARGE", absl::StatusCode::kUnknown},
    {ReplyCode::kNoRoute, "NO_ROUTE", absl::StatusCode::kUnavailable},
    {ReplyCode::kNoConsumers, "NO_CONSUMERS", absl::StatusCode::kUnavailable},
    {ReplyCode::kConnectionForced, "CONNECTION_FORCED", absl::StatusCode::kUnavailable},
    {ReplyCode::kInvalidPath, "INVALID_PATH", absl::StatusCode::kUnknown},
    {ReplyCode::kAccessRefused, "ACCESS_REFUSED", absl::StatusCode::kPermissionDenied},
    {ReplyCode::kNotFound, "NOT_FOUND", absl::StatusCode::kNotFound},
    {ReplyCode::kResourceLocked, "RESOURCE_LOCKED", absl::StatusCode::kFailedPrecondition},
    {ReplyCode::kPreconditionFailed, "PRECONDITION_FAILED",
     absl::StatusCode::kFailedPrecondition},
    {ReplyCode::kFrameError, "FRAME_ERROR", absl::StatusCode::kInvalidArgument},
    {ReplyCode::kSyntaxError, "SYNTAX_ERROR", absl::StatusCode::kInvalidArgument},
    {ReplyCode::kCommandInvalid, "COMMAND_INVALID", absl::StatusCode::kInvalidArgument},
    {ReplyCode::kChannelError, "CHANNEL_ERROR", absl::StatusCode::kFailedPrecondition},
    {ReplyCode::kUnexpectedFrame, "UNEXPECTED_FRAME", absl::StatusCode::kInvalidArgument},
    {ReplyCode::kResourceError, "RESOURCE_ERROR", absl::StatusCode::kResourceExhausted},
    {ReplyCode::kNotAllowed, "NOT_ALLOWED", absl::StatusCode::kPermissionDenied},
    {ReplyCode::kNotImplemented, "NOT_IMPLEMENTED", absl::StatusCode::kUnimplemented},
    {ReplyCode::kInternalError, "INTERNAL_ERROR", absl::StatusCode::kInternal},
};

const ReplyCodeInfo* FindReplyCode(ReplyCode code) {
  for (const ReplyCodeInfo& info : kReplyCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

// This Abseil release has its own string_view, distinct from std's.
absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

absl::Status AmqpError(ReplyCode code, std::string_view message) {
  const ReplyCodeInfo* info = FindReplyCode(code);
  if (info == nullptr) {
    // Not an AMQP failure: there is no code to carry, and a status with an
    // unknown code must not claim one that ReplyCodeOf would later deny.
    return absl::UnknownError(ToAbsl(message));
  }
  // RabbitMQ's reply texts start with the code's name; keeping that makes
  // warren's errors read like the ones users already search for.
  absl::Status status(info->status_code,
                      absl::StrCat(ToAbsl(info->name), " - ", ToAbsl(message)));
  status.SetPayload(kReplyCodeTypeUrl, absl::Cord(absl::StrCat(static_cast<int>(code))));
  return status;
}

ReplyCode ReplyCodeOf(const absl::Status& status) {
  // This Abseil release has its own optional too.
  absl::optional<absl::Cord> payload = status.GetPayload(kReplyCodeTypeUrl);
  if (!payload.has_value()) return ReplyCode::kNone;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return ReplyCode::kNone;
  const ReplyCode code = static_cast<ReplyCode>(value);
  return FindReplyCode(code) != nullptr ? code : ReplyCode::kNone;
}

bool IsConnectionError(ReplyCode code) {
  const int value = static_cast<int>(code);
  return code == ReplyCode::kConnectionForced || (value >= 500 && value < 600);
}

std::string_view ReplyCodeName(ReplyCode code) {
  if (code == ReplyCode::kNone) return "NONE";
  const ReplyCodeInfo* info = FindReplyCode(code);
  return info != nullptr ? info->name : "UNKNOWN";
}

}  // namespace warren
