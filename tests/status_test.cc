// tests/status_test.cc: AMQP reply codes in absl::Status (lib/status.cc).

#include "warren/status.h"

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace warren {
namespace {

using ::testing::StartsWith;

struct CodeCase {
  ReplyCode code;
  absl::StatusCode status_code;
  std::string_view name;
  bool closes_connection;
};

constexpr CodeCase kAllCodes[] = {
    {ReplyCode::kContentTooLarge, absl::StatusCode::kUnknown, "CONTENT_TOO_LARGE", false},
    {ReplyCode::kNoRoute, absl::StatusCode::kUnavailable, "NO_ROUTE", false},
    {ReplyCode::kNoConsumers, absl::StatusCode::kUnavailable, "NO_CONSUMERS", false},
    {ReplyCode::kConnectionForced, absl::StatusCode::kUnavailable, "CONNECTION_FORCED", true},
    {ReplyCode::kInvalidPath, absl::StatusCode::kUnknown, "INVALID_PATH", false},
    {ReplyCode::kAccessRefused, absl::StatusCode::kPermissionDenied, "ACCESS_REFUSED", false},
    {ReplyCode::kNotFound, absl::StatusCode::kNotFound, "NOT_FOUND", false},
    {ReplyCode::kResourceLocked, absl::StatusCode::kFailedPrecondition, "RESOURCE_LOCKED",
     false},
    {ReplyCode::kPreconditionFailed, absl::StatusCode::kFailedPrecondition,
     "PRECONDITION_FAILED", false},
    {ReplyCode::kFrameError, absl::StatusCode::kInvalidArgument, "FRAME_ERROR", true},
    {ReplyCode::kSyntaxError, absl::StatusCode::kInvalidArgument, "SYNTAX_ERROR", true},
    {ReplyCode::kCommandInvalid, absl::StatusCode::kInvalidArgument, "COMMAND_INVALID", true},
    {ReplyCode::kChannelError, absl::StatusCode::kFailedPrecondition, "CHANNEL_ERROR", true},
    {ReplyCode::kUnexpectedFrame, absl::StatusCode::kInvalidArgument, "UNEXPECTED_FRAME",
     true},
    {ReplyCode::kResourceError, absl::StatusCode::kResourceExhausted, "RESOURCE_ERROR", true},
    {ReplyCode::kNotAllowed, absl::StatusCode::kPermissionDenied, "NOT_ALLOWED", true},
    {ReplyCode::kNotImplemented, absl::StatusCode::kUnimplemented, "NOT_IMPLEMENTED", true},
    {ReplyCode::kInternalError, absl::StatusCode::kInternal, "INTERNAL_ERROR", true},
};

TEST(AmqpError, ChoosesTheMatchingAbslCodeForEveryReplyCode) {
  for (const CodeCase& c : kAllCodes) {
    SCOPED_TRACE(static_cast<int>(c.code));
    EXPECT_EQ(AmqpError(c.code, "x").code(), c.status_code);
  }
}

TEST(AmqpError, PrefixesTheMessageWithTheCodeName) {
  absl::Status status = AmqpError(ReplyCode::kNotFound, "no queue 'q' in vhost '/'");
  EXPECT_EQ(status.message(), "NOT_FOUND - no queue 'q' in vhost '/'");
}

TEST(AmqpError, KeepsMessageBytesBeyondTheFirstNul) {
  constexpr std::string_view kText("a\0b", 3);
  absl::Status status = AmqpError(ReplyCode::kPreconditionFailed, kText);
  EXPECT_EQ(status.message(), absl::string_view("PRECONDITION_FAILED - a\0b", 25));
}

TEST(AmqpError, NoneGivesAnUnknownErrorWithoutCode) {
  absl::Status status = AmqpError(ReplyCode::kNone, "timed out waiting");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "timed out waiting");
  EXPECT_EQ(ReplyCodeOf(status), ReplyCode::kNone);
}

TEST(ReplyCodeOf, ReadsBackEveryReplyCode) {
  for (const CodeCase& c : kAllCodes) {
    SCOPED_TRACE(static_cast<int>(c.code));
    EXPECT_EQ(ReplyCodeOf(AmqpError(c.code, "x")), c.code);
  }
}

TEST(ReplyCodeOf, SurvivesTravelInStatusOr) {
  absl::StatusOr<int> result = AmqpError(ReplyCode::kResourceLocked, "locked");
  absl::Status copied = result.status();
  EXPECT_EQ(ReplyCodeOf(copied), ReplyCode::kResourceLocked);
}

TEST(ReplyCodeOf, OkStatusHasNone) {
  EXPECT_EQ(ReplyCodeOf(absl::OkStatus()), ReplyCode::kNone);
}

TEST(ReplyCodeOf, PlainAbslErrorHasNone) {
  EXPECT_EQ(ReplyCodeOf(absl::NotFoundError("no queue")), ReplyCode::kNone);
}

TEST(ReplyCodeOf, MalformedPayloadHasNone) {
  absl::Status status = absl::InternalError("x");
  status.SetPayload("warren.amqp/reply_code", absl::Cord("four-oh-four"));
  EXPECT_EQ(ReplyCodeOf(status), ReplyCode::kNone);
}

TEST(ReplyCodeOf, PayloadWithUnknownNumberHasNone) {
  absl::Status status = absl::InternalError("x");
  status.SetPayload("warren.amqp/reply_code", absl::Cord("999"));
  EXPECT_EQ(ReplyCodeOf(status), ReplyCode::kNone);
}

TEST(ReplyCodeOf, ReadsPayloadWrittenAsDecimalText) {
  absl::Status status = absl::InternalError("from elsewhere");
  status.SetPayload("warren.amqp/reply_code", absl::Cord("406"));
  EXPECT_EQ(ReplyCodeOf(status), ReplyCode::kPreconditionFailed);
}

TEST(IsConnectionError, FiveHundredsAndConnectionForcedCloseTheConnection) {
  for (const CodeCase& c : kAllCodes) {
    SCOPED_TRACE(static_cast<int>(c.code));
    EXPECT_EQ(IsConnectionError(c.code), c.closes_connection);
  }
}

TEST(IsConnectionError, NoneIsNotAConnectionError) {
  EXPECT_FALSE(IsConnectionError(ReplyCode::kNone));
}

TEST(ReplyCodeName, GivesTheAmqpNameOfEveryCode) {
  for (const CodeCase& c : kAllCodes) {
    SCOPED_TRACE(static_cast<int>(c.code));
    EXPECT_EQ(ReplyCodeName(c.code), c.name);
  }
}

TEST(ReplyCodeName, NoneIsNamedNone) { EXPECT_EQ(ReplyCodeName(ReplyCode::kNone), "NONE"); }

TEST(ReplyCodeName, CodeOutsideTheEnumIsUnknown) {
  EXPECT_EQ(ReplyCodeName(static_cast<ReplyCode>(999)), "UNKNOWN");
}

TEST(AmqpError, MessageOfEveryCodeStartsWithItsName) {
  for (const CodeCase& c : kAllCodes) {
    absl::Status status = AmqpError(c.code, "detail");
    EXPECT_THAT(std::string(status.message()), StartsWith(std::string(c.name) + " - "));
  }
}

}  // namespace
}  // namespace warren
