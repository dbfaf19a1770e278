// tests/headers_routing_test.cc: the headers exchange's matching, value
// equality and bind-time validation (lib/routing/headers_match.*), including
// every recorded headers__* case of RabbitMQ 3.10.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/headers_match.h"
#include "routing/router.h"
#include "warren/status.h"

namespace warren::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Whether a message with `headers` (nullptr: none) matches one binding.
bool Matches(const FieldTable& binding_arguments, const FieldTable* headers) {
  absl::StatusOr<std::unique_ptr<const Router>> router = MakeRouter(
      "headers",
      {{.destination = 1, .key = "", .arguments = binding_arguments}});
  EXPECT_TRUE(router.ok()) << router.status();
  std::vector<DestinationId> out;
  (*router)->Route("", headers, &out);
  return !out.empty();
}

bool Matches(const FieldTable& binding_arguments, const FieldTable& headers) {
  return Matches(binding_arguments, &headers);
}

// Recorded: headers__all_needs_every_pair.
TEST(HeadersExchange, AllNeedsEveryPairExtraHeadersDoNotMatter) {
  FieldTable binding{{"x-match", "all"}, {"a", int32_t{1}}, {"b", "x"}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{1}}, {"b", "x"}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_TRUE(
      Matches(binding, FieldTable{{"a", int32_t{1}}, {"b", "x"}, {"c", true}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{2}}, {"b", "x"}}));
  EXPECT_FALSE(Matches(binding, nullptr));
}

// Recorded: headers__any_needs_one_pair.
TEST(HeadersExchange, AnyNeedsOneEqualPair) {
  FieldTable binding{{"x-match", "any"}, {"a", int32_t{1}}, {"b", "x"}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_TRUE(Matches(binding, FieldTable{{"b", "x"}, {"a", int32_t{9}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"c", int32_t{1}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{}));
  EXPECT_FALSE(Matches(binding, nullptr));
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{2}}, {"b", "y"}}));
}

TEST(HeadersExchange, DefaultModeIsAll) {
  FieldTable binding{{"a", int32_t{1}}, {"b", int32_t{2}}};
  EXPECT_TRUE(
      Matches(binding, FieldTable{{"a", int32_t{1}}, {"b", int32_t{2}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
}

TEST(HeadersExchange, UnvalidatedUnknownModeMatchesAsAll) {
  for (const FieldValue& mode : {FieldValue("ANY"), FieldValue(int32_t{1}),
                                 FieldValue(ByteArray{"any"})}) {
    FieldTable binding{{"x-match", mode}, {"a", int32_t{1}}, {"b", int32_t{2}}};
    EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
    EXPECT_TRUE(
        Matches(binding, FieldTable{{"a", int32_t{1}}, {"b", int32_t{2}}}));
  }
}

// Recorded: headers__empty_arguments.
TEST(HeadersExchange, NoPairsUnderAllMatchesEveryMessage) {
  EXPECT_TRUE(Matches(FieldTable{}, nullptr));
  EXPECT_TRUE(Matches(FieldTable{}, FieldTable{{"a", int32_t{1}}}));
  EXPECT_TRUE(Matches(FieldTable{{"x-match", "all"}}, nullptr));
  EXPECT_TRUE(
      Matches(FieldTable{{"x-match", "all"}}, FieldTable{{"a", int32_t{1}}}));
}

// Recorded: headers__empty_arguments.
TEST(HeadersExchange, NoPairsUnderAnyMatchesNothing) {
  EXPECT_FALSE(Matches(FieldTable{{"x-match", "any"}}, nullptr));
  EXPECT_FALSE(
      Matches(FieldTable{{"x-match", "any"}}, FieldTable{{"a", int32_t{1}}}));
}

// Recorded: headers__x_pairs_in_binding_ignored.
TEST(HeadersExchange, XPairsAreIgnoredUnderAll) {
  FieldTable binding{{"x-match", "all"}, {"a", int32_t{1}}, {"x-extra", "y"}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"x-k", "v"}, {"x-extra", "y"}}));
}

// Recorded: headers__x_pairs_in_binding_ignored.
TEST(HeadersExchange, XPairsCannotMatchUnderAny) {
  FieldTable binding{{"x-match", "any"}, {"x-k", "v"}};
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"x-k", "v"}, {"x-extra", "y"}}));
}

TEST(HeadersExchange, OnlyTheLowercaseXDashPrefixIsIgnored) {
  FieldTable binding{{"X-k", "v"}};
  EXPECT_FALSE(Matches(binding, FieldTable{}));
  EXPECT_TRUE(Matches(binding, FieldTable{{"X-k", "v"}}));
  FieldTable x_only{{"x", "v"}};
  EXPECT_FALSE(Matches(x_only, FieldTable{}));
}

// Recorded: headers__all_with_x.
TEST(HeadersExchange, AllWithXNeedsXPairsToo) {
  FieldTable binding{
      {"x-match", "all-with-x"}, {"x-k", "v"}, {"a", int32_t{1}}};
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{1}}, {"x-k", "v"}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"x-k", "v"}}));
}

TEST(HeadersExchange, AnyWithXMatchesOnAnXPair) {
  FieldTable binding{
      {"x-match", "any-with-x"}, {"x-k", "v"}, {"a", int32_t{1}}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"x-k", "v"}}));
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"x-k", "w"}}));
  EXPECT_FALSE(
      Matches(FieldTable{{"x-match", "any-with-x"}}, FieldTable{{"x-k", "v"}}));
}

TEST(HeadersExchange, XMatchPairItselfIsNeverMatched) {
  // The message need not carry x-match, and carrying a different one is fine.
  FieldTable binding{{"x-match", "all-with-x"}, {"a", int32_t{1}}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{1}}}));
  EXPECT_TRUE(
      Matches(binding, FieldTable{{"a", int32_t{1}}, {"x-match", "any"}}));
  EXPECT_FALSE(Matches(FieldTable{{"x-match", "any-with-x"}},
                       FieldTable{{"x-match", "any-with-x"}}));
}

// Recorded: headers__void_binding_value_matches_presence.
TEST(HeadersExchange, VoidBindingValueMatchesAnyValueButNotAbsence) {
  FieldTable binding{{"x-match", "all"}, {"a", Void{}}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", "anything"}}));
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", Void{}}}));
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", int32_t{0}}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"b", int32_t{1}}}));
  EXPECT_FALSE(Matches(binding, nullptr));
}

TEST(HeadersExchange, VoidHeaderDoesNotMatchAValue) {
  FieldTable binding{{"a", int32_t{0}}};
  EXPECT_FALSE(Matches(binding, FieldTable{{"a", Void{}}}));
}

TEST(HeadersExchange, VoidBindingValueCountsUnderAny) {
  FieldTable binding{{"x-match", "any"}, {"a", Void{}}, {"b", int32_t{1}}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"a", false}}));
  EXPECT_FALSE(Matches(binding, FieldTable{{"c", false}}));
}

// Recorded: headers__routing_key_ignored.
TEST(HeadersExchange, RoutingAndBindingKeysAreIgnored) {
  absl::StatusOr<std::unique_ptr<const Router>> router = MakeRouter(
      "headers", {{.destination = 1,
                   .key = "some.key",
                   .arguments = {{"x-match", "all"}, {"a", int32_t{1}}}}});
  ASSERT_TRUE(router.ok());
  FieldTable headers{{"a", int32_t{1}}};
  std::vector<DestinationId> out;
  (*router)->Route("other", &headers, &out);
  EXPECT_THAT(out, ElementsAre(1u));
  out.clear();
  (*router)->Route("some.key", nullptr, &out);
  EXPECT_THAT(out, IsEmpty());
}

// Recorded: headers__two_matching_bindings_deliver_once (the caller
// de-duplicates).
TEST(HeadersExchange, EachMatchingBindingReportsItsDestination) {
  absl::StatusOr<std::unique_ptr<const Router>> router = MakeRouter(
      "headers",
      {{.destination = 1, .key = "", .arguments = {{"a", int32_t{1}}}},
       {.destination = 1,
        .key = "",
        .arguments = {{"x-match", "any"}, {"b", int32_t{2}}}},
       {.destination = 2, .key = "", .arguments = {{"c", int32_t{3}}}}});
  ASSERT_TRUE(router.ok());
  FieldTable headers{{"a", int32_t{1}}, {"b", int32_t{2}}};
  std::vector<DestinationId> out;
  (*router)->Route("", &headers, &out);
  EXPECT_THAT(out, ElementsAre(1u, 1u));
}

TEST(HeadersExchange, HeaderOrderDoesNotMatter) {
  FieldTable binding{{"z", int32_t{1}}, {"a", int32_t{2}}, {"m", int32_t{3}}};
  EXPECT_TRUE(Matches(binding, FieldTable{{"m", int32_t{3}},
                                          {"q", int32_t{0}},
                                          {"z", int32_t{1}},
                                          {"a", int32_t{2}}}));
}

TEST(HeadersExchange, MatchesThroughTypeWideningAsRabbitMqDoes) {
  EXPECT_TRUE(
      Matches(FieldTable{{"a", int32_t{1}}}, FieldTable{{"a", int64_t{1}}}));
  EXPECT_TRUE(
      Matches(FieldTable{{"a", "v"}}, FieldTable{{"a", ByteArray{"v"}}}));
}

TEST(HeaderValues, IntegersOfEveryWidthAndSignAreEqualByValue) {
  const std::vector<FieldValue> ones = {int8_t{1},   uint8_t{1},  int16_t{1},
                                        uint16_t{1}, int32_t{1},  uint32_t{1},
                                        int64_t{1},  Timestamp{1}};
  for (const FieldValue& a : ones) {
    for (const FieldValue& b : ones) EXPECT_TRUE(HeaderValuesEqual(a, b));
  }
  EXPECT_FALSE(HeaderValuesEqual(int32_t{1}, int64_t{2}));
  EXPECT_FALSE(HeaderValuesEqual(int8_t{-1}, uint8_t{255}));
  EXPECT_TRUE(HeaderValuesEqual(int64_t{-5}, int8_t{-5}));
}

TEST(HeaderValues, TimestampIsAnInteger) {
  EXPECT_TRUE(HeaderValuesEqual(Timestamp{1700000000}, int64_t{1700000000}));
  EXPECT_TRUE(HeaderValuesEqual(Timestamp{1700000000}, 1700000000.0));
  EXPECT_FALSE(HeaderValuesEqual(Timestamp{1}, int64_t{2}));
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  EXPECT_TRUE(HeaderValuesEqual(Timestamp{huge}, Timestamp{huge}));
  EXPECT_FALSE(HeaderValuesEqual(Timestamp{huge}, int64_t{-1}));
}

TEST(HeaderValues, FloatsEqualIntegersOfTheSameValue) {
  EXPECT_TRUE(HeaderValuesEqual(int32_t{1}, 1.0));
  EXPECT_TRUE(HeaderValuesEqual(1.0f, int64_t{1}));
  EXPECT_TRUE(HeaderValuesEqual(1.5f, 1.5));
  EXPECT_FALSE(HeaderValuesEqual(int32_t{1}, 1.5));
  EXPECT_TRUE(HeaderValuesEqual(int32_t{0}, -0.0));
  EXPECT_TRUE(HeaderValuesEqual(0.0, -0.0));
}

TEST(HeaderValues, FloatAndDoubleCompareAtFullPrecision) {
  // 0.1f is 0.100000001490116..., not the double 0.1.
  EXPECT_FALSE(HeaderValuesEqual(0.1f, 0.1));
  EXPECT_TRUE(HeaderValuesEqual(0.1f, static_cast<double>(0.1f)));
}

TEST(HeaderValues, LargeIntegersAndDoublesCompareExactly) {
  const int64_t two_to_53 = int64_t{1} << 53;
  EXPECT_TRUE(HeaderValuesEqual(two_to_53, 0x1p53));
  EXPECT_FALSE(HeaderValuesEqual(two_to_53 + 1, 0x1p53));
  EXPECT_TRUE(HeaderValuesEqual(std::numeric_limits<int64_t>::min(), -0x1p63));
  EXPECT_FALSE(HeaderValuesEqual(std::numeric_limits<int64_t>::max(), 0x1p63));
  EXPECT_TRUE(HeaderValuesEqual(Timestamp{uint64_t{1} << 63}, 0x1p63));
  EXPECT_FALSE(
      HeaderValuesEqual(int64_t{0}, std::numeric_limits<double>::infinity()));
}

TEST(HeaderValues, NaNEqualsNothing) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(HeaderValuesEqual(nan, nan));
  EXPECT_FALSE(HeaderValuesEqual(std::nanf(""), std::nanf("")));
}

TEST(HeaderValues, LongStringsAndByteArraysCompareByBytes) {
  EXPECT_TRUE(HeaderValuesEqual("abc", "abc"));
  EXPECT_TRUE(HeaderValuesEqual("abc", ByteArray{"abc"}));
  EXPECT_TRUE(HeaderValuesEqual(ByteArray{"abc"}, ByteArray{"abc"}));
  EXPECT_FALSE(HeaderValuesEqual("abc", "ABC"));
  EXPECT_FALSE(HeaderValuesEqual("abc", ByteArray{"abcd"}));
  EXPECT_TRUE(HeaderValuesEqual("", ByteArray{}));
}

TEST(HeaderValues, StringsNeverEqualNumbersOrBooleans) {
  EXPECT_FALSE(HeaderValuesEqual("1", int32_t{1}));
  EXPECT_FALSE(HeaderValuesEqual("true", true));
}

TEST(HeaderValues, BooleansEqualOnlyBooleans) {
  EXPECT_TRUE(HeaderValuesEqual(true, true));
  EXPECT_FALSE(HeaderValuesEqual(true, false));
  EXPECT_FALSE(HeaderValuesEqual(true, int32_t{1}));
  EXPECT_FALSE(HeaderValuesEqual(false, int32_t{0}));
}

TEST(HeaderValues, DecimalsCompareScaleAndDigits) {
  EXPECT_TRUE(HeaderValuesEqual(Decimal{1, 10}, Decimal{1, 10}));
  EXPECT_FALSE(HeaderValuesEqual(Decimal{1, 10}, Decimal{0, 1}));
  EXPECT_FALSE(HeaderValuesEqual(Decimal{0, 1}, int32_t{1}));
  EXPECT_FALSE(HeaderValuesEqual(Decimal{0, 1}, 1.0));
}

TEST(HeaderValues, VoidEqualsOnlyVoid) {
  EXPECT_TRUE(HeaderValuesEqual(Void{}, Void{}));
  EXPECT_FALSE(HeaderValuesEqual(int32_t{0}, Void{}));
  EXPECT_FALSE(HeaderValuesEqual("", Void{}));
}

TEST(HeaderValues, ArrayElementsMustHaveTheSameTypes) {
  EXPECT_TRUE(HeaderValuesEqual(FieldArray{int32_t{1}, "a"},
                                FieldArray{int32_t{1}, "a"}));
  EXPECT_FALSE(
      HeaderValuesEqual(FieldArray{int32_t{1}}, FieldArray{int64_t{1}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{"a"}, FieldArray{ByteArray{"a"}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{1.0}, FieldArray{int32_t{1}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{int32_t{1}},
                                 FieldArray{int32_t{1}, int32_t{1}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{"b", "a"}, FieldArray{"a", "b"}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{}, ""));
  EXPECT_TRUE(HeaderValuesEqual(FieldArray{}, FieldArray{}));
}

// Found by tests/fuzz/headers_match_fuzzer.cc: RabbitMQ decodes both to the
// Erlang list [], and `==` forgets the type at the top level.
TEST(HeaderValues, EmptyArrayEqualsEmptyTableAtTheTopLevelOnly) {
  EXPECT_TRUE(HeaderValuesEqual(FieldArray{}, FieldTable{}));
  EXPECT_TRUE(HeaderValuesEqual(FieldTable{}, FieldArray{}));
  EXPECT_TRUE(Matches(FieldTable{{"b", FieldArray{}}}, FieldTable{{"b", FieldTable{}}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{int32_t{1}}, FieldTable{{"a", int32_t{1}}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{FieldValue(FieldArray{})},
                                 FieldArray{FieldValue(FieldTable{})}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{}, ""));
}

TEST(HeaderValues, NestedArraysKeepTypesAtEveryDepth) {
  EXPECT_TRUE(HeaderValuesEqual(FieldArray{FieldArray{int8_t{1}}},
                                FieldArray{FieldArray{int8_t{1}}}));
  EXPECT_FALSE(HeaderValuesEqual(FieldArray{FieldArray{int8_t{1}}},
                                 FieldArray{FieldArray{int16_t{1}}}));
}

TEST(HeaderValues, NestedTablesCompareEntriesInOrderWithTypes) {
  FieldTable ab{{"a", int32_t{1}}, {"b", "x"}};
  FieldTable ba{{"b", "x"}, {"a", int32_t{1}}};
  FieldTable ab_long{{"a", int64_t{1}}, {"b", "x"}};
  EXPECT_TRUE(HeaderValuesEqual(ab, FieldTable{{"a", int32_t{1}}, {"b", "x"}}));
  EXPECT_FALSE(HeaderValuesEqual(ab, ba));
  EXPECT_FALSE(HeaderValuesEqual(ab, ab_long));
  EXPECT_FALSE(HeaderValuesEqual(ab, FieldTable{{"a", int32_t{1}}}));
  EXPECT_TRUE(HeaderValuesEqual(
      FieldArray{ab}, FieldArray{FieldTable{{"a", int32_t{1}}, {"b", "x"}}}));
}

TEST(HeadersBinding, AbsentXMatchIsValid) {
  EXPECT_TRUE(ValidateHeadersBinding(FieldTable{}).ok());
  EXPECT_TRUE(ValidateHeadersBinding(FieldTable{{"a", int32_t{1}}}).ok());
}

TEST(HeadersBinding, TheFourModesAreValid) {
  for (const char* mode : {"all", "any", "all-with-x", "any-with-x"}) {
    EXPECT_TRUE(ValidateHeadersBinding(FieldTable{{"x-match", mode}}).ok())
        << mode;
  }
}

TEST(HeadersBinding, UnknownModeIsPreconditionFailed) {
  for (const char* mode : {"ALL", "Any", "", "none", "all "}) {
    absl::Status status = ValidateHeadersBinding(FieldTable{{"x-match", mode}});
    EXPECT_EQ(ReplyCodeOf(status), ReplyCode::kPreconditionFailed) << mode;
    EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("x-match"));
  }
}

TEST(HeadersBinding, NonStringModeIsPreconditionFailed) {
  for (const FieldValue& mode :
       {FieldValue(ByteArray{"all"}), FieldValue(int32_t{1}), FieldValue(true),
        FieldValue(Void{}), FieldValue(FieldArray{"all"})}) {
    absl::Status status = ValidateHeadersBinding(FieldTable{{"x-match", mode}});
    EXPECT_EQ(ReplyCodeOf(status), ReplyCode::kPreconditionFailed);
    EXPECT_THAT(std::string(status.message()),
                ::testing::HasSubstr("expected longstr"));
  }
}

}  // namespace
}  // namespace warren::routing
