// tests/field_table_test.cc: field tables and typed values
// (lib/field_table.cc, warren/field_table.h).

#include "warren/field_table.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace warren {
namespace {

std::vector<std::string> Keys(const FieldTable& table) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : table) keys.push_back(key);
  return keys;
}

TEST(FieldValue, DefaultIsVoid) { EXPECT_TRUE(FieldValue().Is<Void>()); }

TEST(FieldValue, IntIsInt32) {
  FieldValue value(int{5});
  ASSERT_TRUE(value.Is<int32_t>());
  EXPECT_EQ(*value.Get<int32_t>(), 5);
}

TEST(FieldValue, BoolStaysBool) {
  FieldValue value(true);
  ASSERT_TRUE(value.Is<bool>());
  EXPECT_TRUE(*value.Get<bool>());
}

TEST(FieldValue, StringLiteralIsLongString) {
  FieldValue value("s");
  ASSERT_TRUE(value.Is<std::string>());
  EXPECT_EQ(*value.Get<std::string>(), "s");
}

TEST(FieldValue, MutableCharPointerIsLongString) {
  char text[] = "abc";
  char* pointer = text;
  EXPECT_TRUE(FieldValue(pointer).Is<std::string>());
}

TEST(FieldValue, StdStringIsLongString) {
  const std::string text = "hello";
  EXPECT_TRUE(FieldValue(text).Is<std::string>());
  EXPECT_TRUE(FieldValue(std::string("moved")).Is<std::string>());
}

TEST(FieldValue, Int64StaysInt64) { EXPECT_TRUE(FieldValue(int64_t{5}).Is<int64_t>()); }

TEST(FieldValue, EachIntegerWidthKeepsItsType) {
  EXPECT_TRUE(FieldValue(int8_t{1}).Is<int8_t>());
  EXPECT_TRUE(FieldValue(uint8_t{1}).Is<uint8_t>());
  EXPECT_TRUE(FieldValue(int16_t{1}).Is<int16_t>());
  EXPECT_TRUE(FieldValue(uint16_t{1}).Is<uint16_t>());
  EXPECT_TRUE(FieldValue(uint32_t{1}).Is<uint32_t>());
}

TEST(FieldValue, FloatAndDoubleKeepTheirTypes) {
  EXPECT_TRUE(FieldValue(1.5f).Is<float>());
  EXPECT_TRUE(FieldValue(1.5).Is<double>());
}

TEST(FieldValue, HoldsNestedTableAndArray) {
  FieldValue value(FieldTable{{"inner", FieldArray{1, "two", FieldTable{{"x", true}}}}});
  const FieldTable* table = value.Get<FieldTable>();
  ASSERT_NE(table, nullptr);
  const FieldValue* inner = table->Find("inner");
  ASSERT_NE(inner, nullptr);
  const FieldArray* array = inner->Get<FieldArray>();
  ASSERT_NE(array, nullptr);
  ASSERT_EQ(array->size(), 3u);
  EXPECT_TRUE((*array)[0].Is<int32_t>());
  EXPECT_EQ((*array)[1].AsString(), "two");
  EXPECT_EQ((*array)[2], FieldValue(FieldTable{{"x", true}}));
}

TEST(FieldValue, EqualityDistinguishesIntegerWidths) {
  EXPECT_NE(FieldValue(int32_t{1}), FieldValue(int64_t{1}));
  EXPECT_NE(FieldValue(int8_t{1}), FieldValue(uint8_t{1}));
  EXPECT_EQ(FieldValue(int32_t{1}), FieldValue(1));
}

TEST(FieldValue, EqualityDistinguishesLongStringFromByteArray) {
  EXPECT_NE(FieldValue("abc"), FieldValue(ByteArray{"abc"}));
  EXPECT_EQ(FieldValue(ByteArray{"abc"}), FieldValue(ByteArray{"abc"}));
}

TEST(FieldValue, EqualityDistinguishesBoolFromInteger) {
  EXPECT_NE(FieldValue(true), FieldValue(1));
}

TEST(FieldValue, EqualityComparesValues) {
  EXPECT_NE(FieldValue(1), FieldValue(2));
  EXPECT_NE(FieldValue("a"), FieldValue("b"));
  EXPECT_EQ(FieldValue(Decimal{2, 314}), FieldValue(Decimal{2, 314}));
  EXPECT_NE(FieldValue(Decimal{2, 314}), FieldValue(Decimal{3, 314}));
  EXPECT_EQ(FieldValue(Timestamp{7}), FieldValue(Timestamp{7}));
  EXPECT_EQ(FieldValue(), FieldValue(Void{}));
}

TEST(FieldValue, NanIsNotEqualToItself) {
  FieldValue nan(std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(nan == nan);
}

TEST(FieldValue, AsIntegerWidensEveryIntegerType) {
  EXPECT_EQ(FieldValue(int8_t{-8}).AsInteger(), -8);
  EXPECT_EQ(FieldValue(uint8_t{200}).AsInteger(), 200);
  EXPECT_EQ(FieldValue(int16_t{-300}).AsInteger(), -300);
  EXPECT_EQ(FieldValue(uint16_t{60000}).AsInteger(), 60000);
  EXPECT_EQ(FieldValue(int32_t{-70000}).AsInteger(), -70000);
  EXPECT_EQ(FieldValue(uint32_t{4000000000u}).AsInteger(), 4000000000);
  EXPECT_EQ(FieldValue(int64_t{-5000000000}).AsInteger(), -5000000000);
}

TEST(FieldValue, AsIntegerIsEmptyForOtherTypes) {
  EXPECT_EQ(FieldValue(true).AsInteger(), std::nullopt);
  EXPECT_EQ(FieldValue(1.0).AsInteger(), std::nullopt);
  EXPECT_EQ(FieldValue("1").AsInteger(), std::nullopt);
  EXPECT_EQ(FieldValue(Timestamp{1}).AsInteger(), std::nullopt);
  EXPECT_EQ(FieldValue().AsInteger(), std::nullopt);
}

TEST(FieldValue, AsStringGivesLongStringText) {
  EXPECT_EQ(FieldValue("dlx").AsString(), "dlx");
}

TEST(FieldValue, AsStringIsEmptyForByteArrayAndOthers) {
  EXPECT_EQ(FieldValue(ByteArray{"dlx"}).AsString(), std::nullopt);
  EXPECT_EQ(FieldValue(1).AsString(), std::nullopt);
}

TEST(FieldTable, StartsEmpty) {
  FieldTable table;
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.begin(), table.end());
}

TEST(FieldTable, InitializerListKeepsOrder) {
  FieldTable table{{"b", 1}, {"a", 2}, {"c", 3}};
  EXPECT_EQ(Keys(table), (std::vector<std::string>{"b", "a", "c"}));
}

TEST(FieldTable, InitializerListKeepsLastValueOfDuplicateKey) {
  FieldTable table{{"k", 1}, {"other", 2}, {"k", "last"}};
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(Keys(table), (std::vector<std::string>{"k", "other"}));
  ASSERT_NE(table.Find("k"), nullptr);
  EXPECT_EQ(*table.Find("k"), FieldValue("last"));
}

TEST(FieldTable, SetAppendsNewKey) {
  FieldTable table{{"a", 1}};
  table.Set("b", 2);
  EXPECT_EQ(Keys(table), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(table.empty());
}

TEST(FieldTable, SetReplacesKeepingPosition) {
  FieldTable table{{"a", 1}, {"b", 2}, {"c", 3}};
  table.Set("a", "replaced");
  EXPECT_EQ(Keys(table), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*table.Find("a"), FieldValue("replaced"));
}

TEST(FieldTable, FindReturnsValueOfKey) {
  FieldTable table{{"x-max-length", int32_t{1000}}};
  const FieldValue* value = table.Find("x-max-length");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(value->AsInteger(), 1000);
}

TEST(FieldTable, FindReturnsNullForMissingKey) {
  FieldTable table{{"a", 1}};
  EXPECT_EQ(table.Find("b"), nullptr);
  EXPECT_EQ(table.Find("A"), nullptr);
}

TEST(FieldTable, EraseRemovesPresentKey) {
  FieldTable table{{"a", 1}, {"b", 2}, {"c", 3}};
  EXPECT_TRUE(table.Erase("b"));
  EXPECT_EQ(table.Find("b"), nullptr);
  EXPECT_EQ(Keys(table), (std::vector<std::string>{"a", "c"}));
}

TEST(FieldTable, EraseOfMissingKeyReturnsFalse) {
  FieldTable table{{"a", 1}};
  EXPECT_FALSE(table.Erase("b"));
  EXPECT_EQ(table.size(), 1u);
}

TEST(FieldTable, EqualityIgnoresOrder) {
  EXPECT_EQ((FieldTable{{"a", 1}, {"b", "x"}}), (FieldTable{{"b", "x"}, {"a", 1}}));
}

TEST(FieldTable, EqualityComparesValuesByType) {
  EXPECT_NE((FieldTable{{"a", int32_t{1}}}), (FieldTable{{"a", int64_t{1}}}));
}

TEST(FieldTable, EqualityRequiresTheSameKeys) {
  EXPECT_NE((FieldTable{{"a", 1}}), (FieldTable{{"b", 1}}));
  EXPECT_NE((FieldTable{{"a", 1}}), (FieldTable{{"a", 1}, {"b", 1}}));
  EXPECT_NE((FieldTable{{"a", 1}, {"b", 1}}), (FieldTable{{"a", 1}}));
  EXPECT_NE(FieldTable{}, (FieldTable{{"a", Void{}}}));
}

TEST(FieldTable, EqualityRecursesIntoNestedTables) {
  FieldTable a{{"n", FieldTable{{"x", 1}, {"y", 2}}}};
  FieldTable b{{"n", FieldTable{{"y", 2}, {"x", 1}}}};
  FieldTable c{{"n", FieldTable{{"y", 2}, {"x", 3}}}};
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(FieldTable, CopiesAreIndependent) {
  FieldTable original{{"a", 1}};
  FieldTable copy = original;
  copy.Set("a", 2);
  copy.Set("b", 3);
  EXPECT_EQ(*original.Find("a"), FieldValue(1));
  EXPECT_EQ(original.Find("b"), nullptr);
}

}  // namespace
}  // namespace warren
