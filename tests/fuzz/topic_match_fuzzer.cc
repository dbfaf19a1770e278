// tests/fuzz/topic_match_fuzzer.cc: the topic exchange's trie
// (lib/routing/topic_trie.*) against a plain recursive matcher of RabbitMQ's
// topic rules, on bindings and a routing key built from the fuzzer's bytes.
// Words come mostly from a small alphabet (so that keys share prefixes and
// wildcards meet literals) and sometimes as raw bytes, dots included.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "routing/router.h"

namespace warren::fuzz {
namespace {

using Words = std::vector<std::string_view>;

// RabbitMQ's split_topic_key: "" has no words; otherwise every '.' ends a
// word, and empty words are words ("a..b" has three).
Words Split(std::string_view key) {
  Words words;
  if (key.empty()) return words;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string_view::npos; start = dot + 1) {
    words.push_back(key.substr(start, dot - start));
  }
  words.push_back(key.substr(start));
  return words;
}

// '*' is exactly one word, '#' zero or more, anything else itself.
bool ReferenceMatch(std::span<const std::string_view> pattern,
                    std::span<const std::string_view> words) {
  if (pattern.empty()) return words.empty();
  if (pattern.front() == "#") {
    return ReferenceMatch(pattern.subspan(1), words) ||
           (!words.empty() && ReferenceMatch(pattern, words.subspan(1)));
  }
  if (words.empty()) return false;
  return (pattern.front() == "*" || pattern.front() == words.front()) &&
         ReferenceMatch(pattern.subspan(1), words.subspan(1));
}

constexpr std::string_view kWords[] = {"a", "b", "", "*", "#", "a*", "#b", "ab"};
constexpr size_t kMaxWords = 8;
constexpr size_t kMaxBindings = 24;

std::string Key(ByteReader& in) {
  const size_t count = in.Below(kMaxWords + 1);
  std::string key;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) key += '.';
    const uint8_t choice = in.Byte();
    if (choice < 240) {
      key += kWords[choice % std::size(kWords)];
    } else {
      key += in.Bytes(4);
    }
  }
  return key;
}

}  // namespace
}  // namespace warren::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace warren::fuzz;
  using warren::routing::Binding;
  using warren::routing::DestinationId;
  ByteReader in(data, size);
  std::vector<Binding> bindings(in.Below(kMaxBindings + 1));
  for (Binding& binding : bindings) {
    binding.destination = in.Below(8);  // few, so destinations repeat
    binding.key = Key(in);
  }
  const std::string routing_key = Key(in);

  auto router = warren::routing::MakeRouter("topic", bindings);
  Require(router.ok(), "MakeRouter(\"topic\") refused bindings");
  std::vector<DestinationId> routed;
  (*router)->Route(routing_key, /*headers=*/nullptr, &routed);

  const Words words = Split(routing_key);
  std::set<DestinationId> expected;
  for (const Binding& binding : bindings) {
    if (ReferenceMatch(Split(binding.key), words)) expected.insert(binding.destination);
  }
  const std::set<DestinationId> got(routed.begin(), routed.end());
  if (got != expected) {
    std::string what = "trie and reference disagree on routing key \"" + routing_key + "\"";
    for (const Binding& binding : bindings) {
      what += "\n  binding " + std::to_string(binding.destination) + " \"" + binding.key +
              "\": reference " + (expected.count(binding.destination) ? "in" : "out") +
              ", trie " + (got.count(binding.destination) ? "in" : "out");
    }
    Fail(what);
  }
  return 0;
}
