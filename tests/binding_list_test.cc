// tests/binding_list_test.cc: an exchange's bindings in shared chunks
// (lib/routing/binding_list.*): order, copies that stay apart, removal.
#include "routing/binding_list.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace warren::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::vector<DestinationId> Destinations(const BindingList& bindings) {
  std::vector<DestinationId> out;
  for (const Binding& b : bindings) out.push_back(b.destination);
  return out;
}

// More than two chunks' worth, so that chunk boundaries are crossed.
BindingList Numbered(int count) {
  BindingList bindings;
  for (int i = 1; i <= count; ++i) bindings.Append({static_cast<DestinationId>(i), "k", {}});
  return bindings;
}

std::vector<DestinationId> OneTo(int count) {
  std::vector<DestinationId> out;
  for (int i = 1; i <= count; ++i) out.push_back(i);
  return out;
}

TEST(BindingList, KeepsTheOrderBindingsWereMadeInAcrossChunks) {
  BindingList bindings = Numbered(200);
  EXPECT_EQ(bindings.size(), 200u);
  EXPECT_THAT(Destinations(bindings), ElementsAreArray(OneTo(200)));
}

TEST(BindingList, StartsEmptyAndIteratesNothing) {
  BindingList bindings;
  EXPECT_TRUE(bindings.empty());
  EXPECT_TRUE(bindings.begin() == bindings.end());
}

TEST(BindingList, ACopyAndItsOriginalChangeApart) {
  BindingList original = Numbered(100);
  BindingList copy = original;

  copy.Append({101, "k", {}});
  original.RemoveIf([](const Binding& b) { return b.destination <= 50; });

  EXPECT_THAT(Destinations(copy), ElementsAreArray(OneTo(101)));
  EXPECT_EQ(original.size(), 50u);
  EXPECT_EQ(Destinations(original).front(), 51u);
}

TEST(BindingList, RemoveIfRemovesEveryMatchKeepsTheRestInOrderAndCounts) {
  BindingList bindings = Numbered(150);
  const size_t removed = bindings.RemoveIf([](const Binding& b) { return b.destination % 3 == 0; });

  EXPECT_EQ(removed, 50u);
  EXPECT_EQ(bindings.size(), 100u);
  std::vector<DestinationId> expected;
  for (DestinationId d : OneTo(150)) {
    if (d % 3 != 0) expected.push_back(d);
  }
  EXPECT_THAT(Destinations(bindings), ElementsAreArray(expected));
}

TEST(BindingList, RemovingEveryBindingOfAChunkLeavesNoGapInIteration) {
  BindingList bindings = Numbered(130);
  bindings.RemoveIf([](const Binding& b) { return b.destination > 10 && b.destination <= 128; });
  bindings.Append({131, "k", {}});
  EXPECT_THAT(Destinations(bindings),
              ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 129, 130, 131));
}

TEST(BindingList, RemoveIfWithoutAMatchChangesNothing) {
  BindingList bindings = Numbered(70);
  EXPECT_EQ(bindings.RemoveIf([](const Binding&) { return false; }), 0u);
  EXPECT_THAT(Destinations(bindings), ElementsAreArray(OneTo(70)));
}

TEST(BindingList, IsMadeFromAPlainListOfBindings) {
  std::vector<Binding> plain = {{1, "a", {}}, {2, "b", {}}};
  BindingList bindings = plain;
  ASSERT_EQ(bindings.size(), 2u);
  EXPECT_EQ(bindings.begin()->key, "a");
}

}  // namespace
}  // namespace warren::routing
