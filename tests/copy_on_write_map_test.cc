// tests/copy_on_write_map_test.cc: the routing snapshot's maps
// (lib/broker/copy_on_write_map.h): lookups, and copies that change apart.
#include "broker/copy_on_write_map.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace warren::broker {
namespace {

TEST(CopyOnWriteMap, FindsWhatWasSetByNameAndById) {
  CopyOnWriteMap<std::string, int> by_name;
  CopyOnWriteMap<uint32_t, int> by_id;
  by_name.Set("orders", 1);
  by_id.Set(0x80000001u, 2);

  ASSERT_NE(by_name.Find(absl::string_view("orders")), nullptr);
  EXPECT_EQ(*by_name.Find(absl::string_view("orders")), 1);
  ASSERT_NE(by_id.Find(0x80000001u), nullptr);
  EXPECT_EQ(*by_id.Find(0x80000001u), 2);
  EXPECT_EQ(by_name.Find(absl::string_view("billing")), nullptr);
  EXPECT_EQ(by_id.Find(1u), nullptr);
}

TEST(CopyOnWriteMap, SetReplacesAndEraseRemoves) {
  CopyOnWriteMap<std::string, int> map;
  map.Set("q", 1);
  map.Set("q", 2);
  EXPECT_EQ(*map.Find(absl::string_view("q")), 2);
  map.Erase("q");
  map.Erase("never-set");
  EXPECT_EQ(map.Find(absl::string_view("q")), nullptr);
}

TEST(CopyOnWriteMap, ACopyAndItsOriginalChangeApart) {
  CopyOnWriteMap<std::string, int> original;
  for (int i = 0; i < 1000; ++i) original.Set(absl::StrCat("q", i), i);
  CopyOnWriteMap<std::string, int> copy = original;

  copy.Set("q7", -7);
  copy.Erase("q8");
  copy.Set("new", 1);
  original.Erase("q9");

  EXPECT_EQ(*original.Find(absl::string_view("q7")), 7);
  EXPECT_NE(original.Find(absl::string_view("q8")), nullptr);
  EXPECT_EQ(original.Find(absl::string_view("new")), nullptr);
  EXPECT_EQ(*copy.Find(absl::string_view("q7")), -7);
  EXPECT_EQ(copy.Find(absl::string_view("q8")), nullptr);
  EXPECT_EQ(*copy.Find(absl::string_view("q9")), 9);
  for (int i = 10; i < 1000; ++i) {
    const std::string key = absl::StrCat("q", i);
    ASSERT_NE(copy.Find(absl::string_view(key)), nullptr) << key;
    EXPECT_EQ(*copy.Find(absl::string_view(key)), i);
  }
}

}  // namespace
}  // namespace warren::broker
