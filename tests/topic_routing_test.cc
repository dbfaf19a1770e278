// tests/topic_routing_test.cc: the topic exchange's matching rules
// (lib/routing/topic_trie.*), including every recorded topic__* case of
// RabbitMQ 3.10 in /work/shared/conformance/cases.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/router.h"

namespace warren::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<const Router> TopicRouter(
    const std::vector<Binding>& bindings) {
  absl::StatusOr<std::unique_ptr<const Router>> router =
      MakeRouter("topic", bindings);
  EXPECT_TRUE(router.ok()) << router.status();
  return *std::move(router);
}

// The distinct destinations a routing key reaches.
std::vector<DestinationId> Matched(const Router& router, std::string_view key) {
  std::vector<DestinationId> out;
  router.Route(key, nullptr, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Whether a single binding key matches a routing key.
bool Matches(std::string_view binding_key, std::string_view routing_key) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = std::string(binding_key)}});
  return !Matched(*router, routing_key).empty();
}

TEST(TopicExchange, LiteralKeyMatchesOnlyItself) {
  EXPECT_TRUE(Matches("a.b", "a.b"));
  EXPECT_FALSE(Matches("a.b", "a"));
  EXPECT_FALSE(Matches("a.b", "a.b.c"));
  EXPECT_FALSE(Matches("a.b", "a.bb"));
}

TEST(TopicExchange, WordsAreCaseSensitiveBytes) {
  EXPECT_FALSE(Matches("a.b", "A.b"));
  EXPECT_TRUE(Matches("caf\xc3\xa9.*", "caf\xc3\xa9.x"));
}

TEST(TopicExchange, StarMatchesExactlyOneWord) {
  EXPECT_TRUE(Matches("a.*", "a.b"));
  EXPECT_FALSE(Matches("a.*", "a"));
  EXPECT_FALSE(Matches("a.*", "a.b.c"));
  EXPECT_TRUE(Matches("*.b.*", "x.b.y"));
}

TEST(TopicExchange, StarMatchesAnEmptyWord) {
  EXPECT_TRUE(Matches("a.*", "a."));
  EXPECT_TRUE(Matches("*.b", ".b"));
}

// Recorded: topic__star_star_needs_two_words.
TEST(TopicExchange, StarStarNeedsTwoWordsWhichMayBeEmpty) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "*.*"}});
  EXPECT_THAT(Matched(*router, "a.b"), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "."), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "a"), IsEmpty());
  EXPECT_THAT(Matched(*router, "a.b.c"), IsEmpty());
  EXPECT_THAT(Matched(*router, ""), IsEmpty());
}

TEST(TopicExchange, EmptyRoutingKeyHasNoWords) {
  EXPECT_FALSE(Matches("*", ""));
  EXPECT_TRUE(Matches("#", ""));
  EXPECT_TRUE(Matches("", ""));
}

TEST(TopicExchange, EmptyBindingKeyMatchesOnlyEmptyRoutingKey) {
  EXPECT_TRUE(Matches("", ""));
  EXPECT_FALSE(Matches("", "a"));
  EXPECT_FALSE(Matches("", "."));
}

TEST(TopicExchange, SingleEmptyWordIsNotTheEmptyKey) {
  // "." is two empty words; there is no key of exactly one empty word.
  EXPECT_TRUE(Matches(".", "."));
  EXPECT_FALSE(Matches(".", ""));
  EXPECT_FALSE(Matches("*", "."));
}

TEST(TopicExchange, HashMatchesZeroWords) {
  EXPECT_TRUE(Matches("a.#", "a"));
  EXPECT_TRUE(Matches("#.a", "a"));
  EXPECT_TRUE(Matches("#", ""));
}

TEST(TopicExchange, HashMatchesManyWords) {
  EXPECT_TRUE(Matches("a.#", "a.b"));
  EXPECT_TRUE(Matches("a.#", "a.b.c.d.e"));
  EXPECT_FALSE(Matches("a.#", "b.a"));
}

TEST(TopicExchange, HashAloneMatchesEveryKey) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "#"}});
  for (std::string_view key : {"", ".", "a", "a.b", "a..b", "a.b.", "#", "*"}) {
    EXPECT_THAT(Matched(*router, key), ElementsAre(1u))
        << "key '" << key << "'";
  }
}

// Recorded: topic__hash_in_the_middle.
TEST(TopicExchange, HashInTheMiddleMatchesAnyNumberOfWordsBetween) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "a.#.z"}});
  for (std::string_view key : {"a.z", "a.b.z", "a.b.c.z", "a.z.z"}) {
    EXPECT_THAT(Matched(*router, key), ElementsAre(1u)) << key;
  }
  for (std::string_view key : {"a.b", "z.a.z", "a.z.b"}) {
    EXPECT_THAT(Matched(*router, key), IsEmpty()) << key;
  }
}

// Recorded: topic__hash_then_word.
TEST(TopicExchange, HashThenWordMatchesKeysEndingInThatWord) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "#.b"}});
  for (std::string_view key : {"b", "a.b", "b.b"}) {
    EXPECT_THAT(Matched(*router, key), ElementsAre(1u)) << key;
  }
  for (std::string_view key : {"a.b.c", "a.bb"}) {
    EXPECT_THAT(Matched(*router, key), IsEmpty()) << key;
  }
}

// Recorded: topic__star_then_hash_needs_one_word.
TEST(TopicExchange, StarWithHashNeedsAtLeastOneWord) {
  std::unique_ptr<const Router> router = TopicRouter(
      {{.destination = 1, .key = "*.#"}, {.destination = 2, .key = "#.*"}});
  EXPECT_THAT(Matched(*router, ""), IsEmpty());
  EXPECT_THAT(Matched(*router, "a"), ElementsAre(1u, 2u));
  EXPECT_THAT(Matched(*router, "a.b"), ElementsAre(1u, 2u));
}

TEST(TopicExchange, ConsecutiveHashesMatchLikeOne) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "#.#"}});
  for (std::string_view key : {"", "a", "a.b", "a.b.c"}) {
    EXPECT_THAT(Matched(*router, key), ElementsAre(1u)) << key;
  }
  EXPECT_TRUE(Matches("a.#.#.b", "a.b"));
  EXPECT_TRUE(Matches("a.#.#.b", "a.x.y.z.b"));
}

TEST(TopicExchange, HashStarHashNeedsOneWordAnywhere) {
  EXPECT_FALSE(Matches("#.*.#", ""));
  EXPECT_TRUE(Matches("#.*.#", "a"));
  EXPECT_TRUE(Matches("#.*.#", "a.b.c"));
  EXPECT_FALSE(Matches("#.x.*.#", "a.x"));
  EXPECT_TRUE(Matches("#.x.*.#", "a.x.y"));
}

// Recorded: topic__trailing_dot_is_an_empty_last_word.
TEST(TopicExchange, TrailingDotIsAnEmptyLastWord) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "a.b"},
                   {.destination = 2, .key = "a.b.*"},
                   {.destination = 3, .key = "a.b.#"}});
  EXPECT_THAT(Matched(*router, "a.b."), ElementsAre(2u, 3u));
  EXPECT_THAT(Matched(*router, "a.b"), ElementsAre(1u, 3u));
}

// Recorded: topic__empty_words.
TEST(TopicExchange, EmptyWordsBetweenDotsAreWords) {
  std::unique_ptr<const Router> router = TopicRouter(
      {{.destination = 1, .key = "a..b"}, {.destination = 2, .key = "a.*.b"}});
  EXPECT_THAT(Matched(*router, "a..b"), ElementsAre(1u, 2u));
  EXPECT_THAT(Matched(*router, "a.x.b"), ElementsAre(2u));
  EXPECT_THAT(Matched(*router, "a.b"), IsEmpty());
}

TEST(TopicExchange, LeadingDotIsAnEmptyFirstWord) {
  EXPECT_TRUE(Matches("*.a", ".a"));
  EXPECT_FALSE(Matches("a", ".a"));
  EXPECT_TRUE(Matches("#.a", ".a"));
}

// Recorded: topic__wildcards_inside_words_are_literal.
TEST(TopicExchange, WildcardsInsideWordsAreLiteral) {
  std::unique_ptr<const Router> router = TopicRouter(
      {{.destination = 1, .key = "a*.b"}, {.destination = 2, .key = "a#"}});
  EXPECT_THAT(Matched(*router, "a*.b"), ElementsAre(1u));
  EXPECT_THAT(Matched(*router, "ab.b"), IsEmpty());
  EXPECT_THAT(Matched(*router, "a#"), ElementsAre(2u));
  EXPECT_THAT(Matched(*router, "a.x"), IsEmpty());
  EXPECT_THAT(Matched(*router, "a"), IsEmpty());
}

TEST(TopicExchange, WildcardsInRoutingKeysAreLiteral) {
  EXPECT_FALSE(Matches("a.b", "a.*"));
  EXPECT_FALSE(Matches("a.b", "a.#"));
  EXPECT_FALSE(Matches("a", "#"));
  EXPECT_TRUE(Matches("a.*", "a.*"));
  EXPECT_TRUE(Matches("a.#", "a.#"));
  EXPECT_FALSE(Matches("#.x", "#"));
}

// Recorded: topic__overlapping_bindings_deliver_once (the caller
// de-duplicates; the router must report the destination for each message).
TEST(TopicExchange, OverlappingBindingsOfOneDestinationAllReportIt) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 7, .key = "a.*"},
                   {.destination = 7, .key = "*.b"},
                   {.destination = 7, .key = "#"},
                   {.destination = 7, .key = "a.b"},
                   {.destination = 7, .key = "a.#"}});
  for (std::string_view key : {"a.b", "a.c", "x.y"}) {
    std::vector<DestinationId> out;
    router->Route(key, nullptr, &out);
    EXPECT_THAT(out, ::testing::Each(7u)) << key;
    EXPECT_FALSE(out.empty()) << key;
  }
}

TEST(TopicExchange, RouteAppendsToOutput) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 2, .key = "k"}});
  std::vector<DestinationId> out = {9};
  router->Route("k", nullptr, &out);
  EXPECT_THAT(out, ElementsAre(9u, 2u));
}

TEST(TopicExchange, NoBindingsRoutesNowhere) {
  std::unique_ptr<const Router> router = TopicRouter({});
  EXPECT_THAT(Matched(*router, ""), IsEmpty());
  EXPECT_THAT(Matched(*router, "a.b"), IsEmpty());
}

TEST(TopicExchange, HeadersPlayNoPart) {
  std::unique_ptr<const Router> router =
      TopicRouter({{.destination = 1, .key = "a"}});
  FieldTable headers{{"a", int32_t{1}}};
  std::vector<DestinationId> out;
  router->Route("b", &headers, &out);
  EXPECT_THAT(out, IsEmpty());
  router->Route("a", &headers, &out);
  EXPECT_THAT(out, ElementsAre(1u));
}

TEST(TopicExchange, ManyDestinationsOnOneKey) {
  std::vector<Binding> bindings;
  for (DestinationId d = 0; d < 50; ++d)
    bindings.push_back({.destination = d, .key = "a.*"});
  std::unique_ptr<const Router> router = TopicRouter(bindings);
  EXPECT_EQ(Matched(*router, "a.b").size(), 50u);
  EXPECT_THAT(Matched(*router, "b.b"), IsEmpty());
}

// A direct transcription of the rules, word by word, to check the trie
// against on many random keys.
std::vector<std::string> Words(std::string_view key) {
  std::vector<std::string> words;
  if (key.empty()) return words;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string_view::npos;
       start = dot + 1) {
    words.emplace_back(key.substr(start, dot - start));
  }
  words.emplace_back(key.substr(start));
  return words;
}

bool ReferenceMatch(const std::vector<std::string>& pattern, size_t p,
                    const std::vector<std::string>& key, size_t k) {
  if (p == pattern.size()) return k == key.size();
  if (pattern[p] == "#") {
    for (size_t skip = k; skip <= key.size(); ++skip) {
      if (ReferenceMatch(pattern, p + 1, key, skip)) return true;
    }
    return false;
  }
  if (k == key.size()) return false;
  if (pattern[p] != "*" && pattern[p] != key[k]) return false;
  return ReferenceMatch(pattern, p + 1, key, k + 1);
}

std::string RandomKey(std::mt19937& rng, bool wildcards) {
  static constexpr std::string_view kWords[] = {"a", "b", "", "ab"};
  static constexpr std::string_view kWildcards[] = {"*", "#"};
  std::uniform_int_distribution<int> length(0, 5);
  std::uniform_int_distribution<int> pick(0, wildcards ? 5 : 3);
  int n = length(rng);
  std::string key;
  for (int i = 0; i < n; ++i) {
    if (i > 0) key += '.';
    int choice = pick(rng);
    key += choice < 4 ? kWords[choice] : kWildcards[choice - 4];
  }
  return key;
}

TEST(TopicExchange, AgreesWithWordByWordRulesOnRandomKeys) {
  std::mt19937 rng(20221004);
  std::vector<Binding> bindings;
  for (DestinationId d = 0; d < 300; ++d) {
    bindings.push_back({.destination = d, .key = RandomKey(rng, true)});
  }
  std::unique_ptr<const Router> router = TopicRouter(bindings);
  for (int round = 0; round < 2000; ++round) {
    std::string key = RandomKey(rng, false);
    std::vector<DestinationId> expected;
    for (const Binding& binding : bindings) {
      if (ReferenceMatch(Words(binding.key), 0, Words(key), 0)) {
        expected.push_back(binding.destination);
      }
    }
    ASSERT_EQ(Matched(*router, key), expected) << "routing key '" << key << "'";
  }
}

TEST(TopicExchange, HundredThousandBindingsRouteExactly) {
  constexpr DestinationId kCount = 100000;
  std::vector<Binding> bindings;
  bindings.reserve(kCount + 3);
  for (DestinationId d = 0; d < kCount; ++d) {
    // Half literal, half with a wildcard, all sharing the first word.
    std::string key =
        "orders." + std::to_string(d) + (d % 2 == 0 ? ".created" : ".*");
    bindings.push_back({.destination = d, .key = std::move(key)});
  }
  bindings.push_back({.destination = kCount, .key = "orders.#"});
  bindings.push_back({.destination = kCount + 1, .key = "*.42.created"});
  bindings.push_back({.destination = kCount + 2, .key = "invoices.#"});
  std::unique_ptr<const Router> router = TopicRouter(bindings);

  EXPECT_THAT(Matched(*router, "orders.42.created"),
              ElementsAre(42u, kCount, kCount + 1));
  EXPECT_THAT(Matched(*router, "orders.43.created"), ElementsAre(43u, kCount));
  EXPECT_THAT(Matched(*router, "orders.42.deleted"), ElementsAre(kCount));
  EXPECT_THAT(Matched(*router, "orders.99999.x"), ElementsAre(99999u, kCount));
  EXPECT_THAT(Matched(*router, "orders.100000.created"), ElementsAre(kCount));
  EXPECT_THAT(Matched(*router, "invoices.42.created"),
              ElementsAre(kCount + 1, kCount + 2));
  EXPECT_THAT(Matched(*router, "payments.1.created"), IsEmpty());
}

TEST(TopicExchange, ConcurrentRoutesSeeTheSameTable) {
  std::vector<Binding> bindings;
  for (DestinationId d = 0; d < 1000; ++d) {
    bindings.push_back(
        {.destination = d, .key = "k." + std::to_string(d) + ".#"});
  }
  std::unique_ptr<const Router> router = TopicRouter(bindings);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (DestinationId d = 0; d < 1000; ++d) {
        std::vector<DestinationId> out;
        router->Route("k." + std::to_string(d) + ".x", nullptr, &out);
        if (out != std::vector<DestinationId>{d}) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(wrong, ElementsAre(0, 0, 0, 0));
}

}  // namespace
}  // namespace warren::routing
