// tests/direct_fanout_routing_test.cc: the direct and fanout exchanges and
// the choice of router by exchange type (lib/routing/router.*), including
// every recorded direct__* and fanout__* case of RabbitMQ 3.10 that concerns
// matching.
#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"

namespace warren::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<const Router> Make(std::string_view type,
                                   const std::vector<Binding>& bindings) {
  absl::StatusOr<std::unique_ptr<const Router>> router =
      MakeRouter(type, bindings);
  EXPECT_TRUE(router.ok()) << router.status();
  return *std::move(router);
}

std::vector<DestinationId> Matched(const Router& router, std::string_view key,
                                   const FieldTable* headers = nullptr) {
  std::vector<DestinationId> out;
  router.Route(key, headers, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST(ExchangeTypes, TheFourBuiltInTypesExist) {
  for (std::string_view type : {"direct", "fanout", "topic", "headers"}) {
    EXPECT_TRUE(IsExchangeType(type)) << type;
    EXPECT_TRUE(MakeRouter(type, {}).ok()) << type;
  }
}

TEST(ExchangeTypes, OtherNamesAreNotTypes) {
  for (std::string_view type :
       {"", "Direct", "TOPIC", "x-consistent-hash", "amq.direct", "fanout "}) {
    EXPECT_FALSE(IsExchangeType(type)) << type;
    EXPECT_EQ(MakeRouter(type, {}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << type;
  }
}

TEST(DirectExchange, ExactKeyMatches) {
  std::unique_ptr<const Router> router = Make(
      "direct",
      {{.destination = 1, .key = "k"}, {.destination = 2, .key = "other"}});
  EXPECT_THAT(Matched(*router, "k"), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "other"), ElementsAre(2u));
  EXPECT_THAT(Matched(*router, "K"), IsEmpty());
  EXPECT_THAT(Matched(*router, "k "), IsEmpty());
  EXPECT_THAT(Matched(*router, "kk"), IsEmpty());
}

// Recorded: direct__empty_routing_key.
TEST(DirectExchange, EmptyKeyIsAnOrdinaryKey) {
  std::unique_ptr<const Router> router =
      Make("direct", {{.destination = 1, .key = ""}});
  EXPECT_THAT(Matched(*router, ""), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, " "), IsEmpty());
}

// Recorded: direct__same_key_many_queues.
TEST(DirectExchange, SameKeyReachesEveryBoundDestination) {
  std::unique_ptr<const Router> router =
      Make("direct", {{.destination = 1, .key = "k"},
                      {.destination = 2, .key = "k"},
                      {.destination = 3, .key = "other"}});
  EXPECT_THAT(Matched(*router, "k"), ElementsAre(1u, 2u));
}

TEST(DirectExchange, WildcardsAreOrdinaryCharacters) {
  std::unique_ptr<const Router> router =
      Make("direct",
           {{.destination = 1, .key = "a.*"}, {.destination = 2, .key = "#"}});
  EXPECT_THAT(Matched(*router, "a.b"), IsEmpty());
  EXPECT_THAT(Matched(*router, "a.*"), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "anything"), IsEmpty());
  EXPECT_THAT(Matched(*router, "#"), ElementsAre(2u));
}

// Recorded: direct__binding_arguments_identify_the_binding and
// direct__duplicate_binding_is_idempotent (binding identity is the broker
// core's; for routing, arguments play no part and duplicates reach once).
TEST(DirectExchange, BindingArgumentsPlayNoPartInMatching) {
  std::unique_ptr<const Router> router =
      Make("direct",
           {{.destination = 1, .key = "k", .arguments = {{"a", int32_t{1}}}},
            {.destination = 1, .key = "k", .arguments = {{"a", int32_t{2}}}}});
  std::vector<DestinationId> out;
  router->Route("k", nullptr, &out);
  EXPECT_THAT(out, ElementsAre(1u));
}

TEST(DirectExchange, HeadersPlayNoPart) {
  std::unique_ptr<const Router> router =
      Make("direct", {{.destination = 1, .key = "k"}});
  FieldTable headers{{"k", "k"}};
  EXPECT_THAT(Matched(*router, "x", &headers), IsEmpty());
  EXPECT_THAT(Matched(*router, "k", &headers), ElementsAre(1u));
}

TEST(DirectExchange, KeysMayHoldAnyBytes) {
  const std::string key_with_nul("a\0b", 3);
  std::unique_ptr<const Router> router =
      Make("direct", {{.destination = 1, .key = key_with_nul},
                      {.destination = 2, .key = "\xc3\xa9"}});
  EXPECT_THAT(Matched(*router, key_with_nul), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "a"), IsEmpty());
  EXPECT_THAT(Matched(*router, "\xc3\xa9"), ElementsAre(2u));
}

TEST(DirectExchange, RouteAppendsToOutput) {
  std::unique_ptr<const Router> router =
      Make("direct", {{.destination = 4, .key = "k"}});
  std::vector<DestinationId> out = {8};
  router->Route("k", nullptr, &out);
  EXPECT_THAT(out, ElementsAre(8u, 4u));
}

TEST(DirectExchange, NoBindingsRoutesNowhere) {
  std::unique_ptr<const Router> router = Make("direct", {});
  EXPECT_THAT(Matched(*router, ""), IsEmpty());
}

// Recorded: fanout__order_kept_in_each_queue (routing part).
TEST(FanoutExchange, EveryDestinationWhateverTheKey) {
  std::unique_ptr<const Router> router =
      Make("fanout",
           {{.destination = 1, .key = ""}, {.destination = 2, .key = "x"}});
  for (std::string_view key : {"", "x", "a.b", "#"}) {
    EXPECT_THAT(Matched(*router, key), ElementsAre(1u, 2u)) << key;
  }
}

// Recorded: fanout__several_bindings_deliver_once.
TEST(FanoutExchange, SeveralBindingsOfOneDestinationReachItOnce) {
  std::unique_ptr<const Router> router =
      Make("fanout",
           {{.destination = 1, .key = "a"}, {.destination = 1, .key = "b"}});
  std::vector<DestinationId> out;
  router->Route("", nullptr, &out);
  EXPECT_THAT(out, ElementsAre(1u));
}

TEST(FanoutExchange, HeadersAndArgumentsPlayNoPart) {
  std::unique_ptr<const Router> router =
      Make("fanout", {{.destination = 1,
                       .key = "",
                       .arguments = {{"x-match", "any"}, {"a", int32_t{1}}}}});
  FieldTable headers{{"a", int32_t{2}}};
  EXPECT_THAT(Matched(*router, "", &headers), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "", nullptr), ElementsAre(1u));
}

TEST(FanoutExchange, NoBindingsRoutesNowhere) {
  std::unique_ptr<const Router> router = Make("fanout", {});
  EXPECT_THAT(Matched(*router, "k"), IsEmpty());
}

}  // namespace
}  // namespace warren::routing
