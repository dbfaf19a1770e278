// tests/short_string_test.cc: the AMQP short-string rules both backends
// apply (lib/short_string).

#include "short_string.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/status.h"

namespace warren {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ShortString, UpTo255BytesPass) {
  EXPECT_TRUE(CheckShortStrings({}).ok());
  EXPECT_TRUE(CheckShortStrings({"", std::string(255, 'n')}).ok());
}

TEST(ShortString, TheFirstLongerStringIsAnInvalidArgumentNamingItsLength) {
  const std::string too_long = "queue-" + std::string(250, 'q');  // 256 bytes
  const absl::Status refused = CheckShortStrings({"ok", too_long, std::string(300, 'x')});
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReplyCodeOf(refused), ReplyCode::kNone);
  EXPECT_THAT(refused.message(), HasSubstr("'queue-qqq"));
  EXPECT_THAT(refused.message(), HasSubstr("is 256 bytes"));
  EXPECT_THAT(refused.message(), HasSubstr("at most 255"));
  // Quotes the start only, not the whole string.
  EXPECT_THAT(refused.message(), Not(HasSubstr(std::string(64, 'q'))));
}

}  // namespace
}  // namespace warren
