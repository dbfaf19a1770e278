// tests/binding_index_test.cc: the index that keeps binding and unbinding
// constant-time (lib/broker/binding_index), and the hash of argument tables
// it rests on.

#include "broker/binding_index.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "warren/field_table.h"

namespace warren::broker {
namespace {

TEST(BindingIndex, KnowsWhatWasAddedAndNothingElse) {
  BindingIndex index;
  index.Add(1, "k", {});
  EXPECT_TRUE(index.MayContain(1, "k", {}));
  EXPECT_FALSE(index.MayContain(2, "k", {}));
  EXPECT_FALSE(index.MayContain(1, "other", {}));
  EXPECT_FALSE(index.MayContain(1, "k", {{"x-match", "any"}}));
}

TEST(BindingIndex, CountsTheSameBindingAddedTwice) {
  BindingIndex index;
  index.Add(1, "k", {});
  index.Add(1, "k", {});
  index.Remove(1, "k", {});
  EXPECT_TRUE(index.MayContain(1, "k", {}));
  index.Remove(1, "k", {});
  EXPECT_FALSE(index.MayContain(1, "k", {}));
}

TEST(BindingIndex, RemoveDestinationForgetsOnlyItsBindings) {
  BindingIndex index;
  index.Add(1, "a", {});
  index.Add(1, "b", {{"n", int32_t{1}}});
  index.Add(2, "a", {});
  index.RemoveDestination(1);
  EXPECT_FALSE(index.MayContain(1, "a", {}));
  EXPECT_FALSE(index.MayContain(1, "b", {{"n", int32_t{1}}}));
  EXPECT_TRUE(index.MayContain(2, "a", {}));
}

TEST(BindingIndex, ArgumentsEqualInAnotherOrderAreTheSameBinding) {
  BindingIndex index;
  index.Add(1, "", {{"x-match", "all"}, {"kind", "order"}, {"n", int64_t{3}}});
  EXPECT_TRUE(index.MayContain(1, "", {{"n", int64_t{3}}, {"kind", "order"}, {"x-match", "all"}}));
}

TEST(HashOfFieldTable, IgnoresTheOrderOfEntriesAtEveryDepth) {
  const FieldTable a{{"outer", FieldTable{{"x", 1}, {"y", "two"}}}, {"z", true}};
  const FieldTable b{{"z", true}, {"outer", FieldTable{{"y", "two"}, {"x", 1}}}};
  ASSERT_EQ(a, b);
  EXPECT_EQ(HashOfFieldTable(a), HashOfFieldTable(b));
}

TEST(HashOfFieldTable, PositiveAndNegativeZeroHashAlikeAsTheyCompareEqual) {
  const FieldTable positive{{"d", 0.0}};
  const FieldTable negative{{"d", -0.0}};
  ASSERT_EQ(positive, negative);
  EXPECT_EQ(HashOfFieldTable(positive), HashOfFieldTable(negative));
}

TEST(HashOfFieldTable, TellsApartValuesThatDifferInTypeValueOrArrayOrder) {
  EXPECT_NE(HashOfFieldTable({{"n", int8_t{1}}}), HashOfFieldTable({{"n", int16_t{1}}}));
  EXPECT_NE(HashOfFieldTable({{"n", int32_t{1}}}), HashOfFieldTable({{"n", int32_t{2}}}));
  EXPECT_NE(HashOfFieldTable({{"s", "v"}}), HashOfFieldTable({{"s", ByteArray{"v"}}}));
  EXPECT_NE(HashOfFieldTable({{"a", FieldArray{1, 2}}}), HashOfFieldTable({{"a", FieldArray{2, 1}}}));
  EXPECT_NE(HashOfFieldTable({{"k", 1}}), HashOfFieldTable({{"other", 1}}));
}

}  // namespace
}  // namespace warren::broker
