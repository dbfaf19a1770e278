// tests/fuzz/headers_match_fuzzer.cc: the headers exchange
// (lib/routing/headers_match.*) against a reference written from RabbitMQ
// 3.10's rabbit_exchange_type_headers, on bindings and message headers built
// from the fuzzer's bytes.
//
// The reference turns every value into the Erlang term RabbitMQ decodes it
// to and compares terms with Erlang's `==`: integers (every integer type and
// timestamps) and floats compare as exact numbers, long strings and byte
// arrays are both binaries, booleans and void are atoms, a decimal is the
// tuple {Scale, Unscaled}, an array is a list of {Type, Value} and a table a
// list of {Key, Type, Value} (so an empty array and an empty table are both
// []). A binding matches by its x-match mode ("all" unless x-match is a long
// string "any", "all-with-x" or "any-with-x"): x-match is never a pair to
// match, other x- keys only in the -with-x modes, and a pair matches when
// the header is present and the pair's value is void or `==` to it.
//
// Keys, strings and numbers come from small sets, so that keys collide and
// values of different types meet at the same number.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "fuzz_support.h"
#include "routing/headers_match.h"
#include "routing/router.h"
#include "warren/field_table.h"

namespace warren::fuzz {
namespace {

// An Erlang term, as far as decoded AMQP values need.
struct Term {
  enum class Kind { kInteger, kFloat, kBinary, kAtom, kTuple, kList };
  Kind kind;
  __int128 integer = 0;
  double real = 0;
  std::string text;  // binary bytes or atom name
  std::vector<Term> elements;
};

Term Integer(__int128 n) { return {.kind = Term::Kind::kInteger, .integer = n}; }
Term Atom(std::string name) { return {.kind = Term::Kind::kAtom, .text = std::move(name)}; }

// RabbitMQ's type names, in FieldValue::Variant order.
constexpr std::string_view kTypeAtoms[] = {
    "bool",  "byte",   "unsignedbyte", "short",   "unsignedshort", "signedint",
    "unsignedint", "long", "float", "double", "decimal", "longstr", "binary",
    "timestamp", "array", "table", "void"};
static_assert(std::size(kTypeAtoms) == std::variant_size_v<FieldValue::Variant>);

Term ToTerm(const FieldValue& value);

Term TableTerm(const FieldTable& table) {
  Term list{.kind = Term::Kind::kList};
  for (const auto& [key, value] : table) {
    list.elements.push_back(
        {.kind = Term::Kind::kTuple,
         .elements = {{.kind = Term::Kind::kBinary, .text = key},
                      Atom(std::string(kTypeAtoms[value.variant().index()])), ToTerm(value)}});
  }
  return list;
}

Term ToTerm(const FieldValue& value) {
  return std::visit(
      [](const auto& v) -> Term {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return Atom(v ? "true" : "false");
        } else if constexpr (std::is_integral_v<T>) {
          return Integer(v);
        } else if constexpr (std::is_floating_point_v<T>) {
          return {.kind = Term::Kind::kFloat, .real = v};
        } else if constexpr (std::is_same_v<T, Decimal>) {
          return {.kind = Term::Kind::kTuple,
                  .elements = {Integer(v.scale), Integer(v.unscaled)}};
        } else if constexpr (std::is_same_v<T, std::string>) {
          return {.kind = Term::Kind::kBinary, .text = v};
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          return {.kind = Term::Kind::kBinary, .text = v.bytes};
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          return Integer(v.seconds);
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          Term list{.kind = Term::Kind::kList};
          for (const FieldValue& element : v) {
            list.elements.push_back(
                {.kind = Term::Kind::kTuple,
                 .elements = {Atom(std::string(kTypeAtoms[element.variant().index()])),
                              ToTerm(element)}});
          }
          return list;
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          return TableTerm(v);
        } else {
          return Atom("undefined");
        }
      },
      value.variant());
}

// Erlang's `==` between an integer and a float: exact.
bool IntegerEqualsFloat(__int128 n, double d) {
  if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) >= 0x1p126) return false;
  return static_cast<__int128>(d) == n;
}

bool ErlangEqual(const Term& a, const Term& b) {
  using K = Term::Kind;
  if (a.kind == K::kInteger && b.kind == K::kFloat) return IntegerEqualsFloat(a.integer, b.real);
  if (a.kind == K::kFloat && b.kind == K::kInteger) return IntegerEqualsFloat(b.integer, a.real);
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case K::kInteger: return a.integer == b.integer;
    case K::kFloat: return a.real == b.real;
    case K::kBinary:
    case K::kAtom: return a.text == b.text;
    case K::kTuple:
    case K::kList:
      if (a.elements.size() != b.elements.size()) return false;
      for (size_t i = 0; i < a.elements.size(); ++i) {
        if (!ErlangEqual(a.elements[i], b.elements[i])) return false;
      }
      return true;
  }
  return false;
}

bool ReferenceValuesEqual(const FieldValue& a, const FieldValue& b) {
  return ErlangEqual(ToTerm(a), ToTerm(b));
}

bool ReferenceMatches(const FieldTable& arguments, const FieldTable& headers) {
  std::string_view mode = "all";
  if (const FieldValue* x_match = arguments.Find("x-match")) {
    if (const std::string* text = x_match->Get<std::string>()) {
      if (*text == "any" || *text == "all-with-x" || *text == "any-with-x") mode = *text;
    }
  }
  const bool any = mode == "any" || mode == "any-with-x";
  const bool with_x = mode.ends_with("-with-x");
  bool all_matched = true;
  bool any_matched = false;
  for (const auto& [key, value] : arguments) {
    if (key == "x-match" || (!with_x && key.starts_with("x-"))) continue;
    const FieldValue* header = headers.Find(key);
    const bool matched =
        header != nullptr && (value.Is<Void>() || ReferenceValuesEqual(value, *header));
    all_matched = all_matched && matched;
    any_matched = any_matched || matched;
  }
  return any ? any_matched : all_matched;
}

// Numbers near the edges where integer and float comparisons go wrong.
constexpr double kNumbers[] = {0,          -0.0,       1,          -1,         0.5,
                               127,        128,        255,        256,        -128,
                               65535,      2147483647, 2147483648, 4294967295, 0x1p53,
                               0x1p53 + 2, 0x1p63,     -0x1p63,    0x1p64,     1e300,
                               INFINITY,   NAN};
constexpr __int128 kIntegers[] = {0,          1,          -1,          2,
                                  127,        128,        255,         256,
                                  -128,       65535,      2147483647,  2147483648LL,
                                  4294967295, 1LL << 53,  (1LL << 53) + 1, INT64_MAX,
                                  INT64_MIN,  (__int128{1} << 64) - 1};
constexpr std::string_view kStrings[] = {"", "a", "all", "any", "all-with-x", "any-with-x"};
constexpr std::string_view kKeys[] = {"a", "b", "c", "x-match", "x-a", "x-", ""};

template <typename T>
T IntegerAs(ByteReader& in) {
  return static_cast<T>(kIntegers[in.Below(std::size(kIntegers))]);
}

FieldTable Table(ByteReader& in, int depth);

FieldValue Value(ByteReader& in, int depth) {
  switch (in.Below(std::variant_size_v<FieldValue::Variant>)) {
    case 0: return in.Flag();
    case 1: return IntegerAs<int8_t>(in);
    case 2: return IntegerAs<uint8_t>(in);
    case 3: return IntegerAs<int16_t>(in);
    case 4: return IntegerAs<uint16_t>(in);
    case 5: return IntegerAs<int32_t>(in);
    case 6: return IntegerAs<uint32_t>(in);
    case 7: return IntegerAs<int64_t>(in);
    case 8: return static_cast<float>(kNumbers[in.Below(std::size(kNumbers))]);
    case 9: return kNumbers[in.Below(std::size(kNumbers))];
    case 10: return Decimal{static_cast<uint8_t>(in.Below(3)), static_cast<uint32_t>(in.Below(3))};
    case 11: return std::string(kStrings[in.Below(std::size(kStrings))]);
    case 12: return ByteArray{std::string(kStrings[in.Below(std::size(kStrings))])};
    case 13: return Timestamp{IntegerAs<uint64_t>(in)};
    case 14: {
      FieldArray array;
      if (depth > 0) {
        for (size_t n = in.Below(4); n > 0; --n) array.push_back(Value(in, depth - 1));
      }
      return array;
    }
    case 15: return depth > 0 ? Table(in, depth - 1) : FieldTable();
    default: return Void{};
  }
}

FieldTable Table(ByteReader& in, int depth) {
  FieldTable table;
  for (size_t n = in.Below(5); n > 0; --n) {
    const std::string_view key = kKeys[in.Below(std::size(kKeys))];
    // x-match mostly as a mode, so that every mode gets exercised.
    if (key == "x-match" && in.Byte() < 200) {
      table.Set(key, std::string(kStrings[in.Below(std::size(kStrings))]));
    } else {
      table.Set(key, Value(in, depth));
    }
  }
  return table;
}

std::string Describe(const FieldValue& value);

std::string DescribeTable(const FieldTable& table) {
  std::string out = "{";
  for (const auto& [key, value] : table) out += "\"" + key + "\": " + Describe(value) + ", ";
  return out + "}";
}

std::string Describe(const FieldValue& value) {
  std::string out(kTypeAtoms[value.variant().index()]);
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_arithmetic_v<T>) {
          out += " " + std::to_string(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out += " \"" + v + "\"";
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          out += " \"" + v.bytes + "\"";
        } else if constexpr (std::is_same_v<T, Decimal>) {
          out += " " + std::to_string(v.scale) + "/" + std::to_string(v.unscaled);
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          out += " " + std::to_string(v.seconds);
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          out += " [";
          for (const FieldValue& e : v) out += Describe(e) + ", ";
          out += "]";
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          out += " " + DescribeTable(v);
        }
      },
      value.variant());
  return out;
}

constexpr int kDepth = 2;

}  // namespace
}  // namespace warren::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace warren::fuzz;
  using warren::FieldTable;
  using warren::FieldValue;
  ByteReader in(data, size);

  // Value equality on its own, both ways round.
  const FieldValue a = Value(in, kDepth);
  const FieldValue b = Value(in, kDepth);
  if (warren::routing::HeaderValuesEqual(a, b) != ReferenceValuesEqual(a, b)) {
    Fail("HeaderValuesEqual(" + Describe(a) + ", " + Describe(b) + ") is " +
         (ReferenceValuesEqual(a, b) ? "false" : "true") + " against the reference");
  }

  std::vector<warren::routing::Binding> bindings(in.Below(6));
  for (size_t i = 0; i < bindings.size(); ++i) {
    bindings[i].destination = static_cast<warren::routing::DestinationId>(i);
    bindings[i].arguments = Table(in, kDepth);
    // Bind-time validation: x-match absent, or a long string naming a mode.
    const FieldValue* x_match = bindings[i].arguments.Find("x-match");
    const std::string* mode = x_match != nullptr ? x_match->Get<std::string>() : nullptr;
    const bool valid = x_match == nullptr ||
                       (mode != nullptr && (*mode == "all" || *mode == "any" ||
                                            *mode == "all-with-x" || *mode == "any-with-x"));
    Require(warren::routing::ValidateHeadersBinding(bindings[i].arguments).ok() == valid,
            "ValidateHeadersBinding disagrees on " + DescribeTable(bindings[i].arguments));
  }
  const bool no_headers = in.Byte() < 16;
  const FieldTable headers = no_headers ? FieldTable() : Table(in, kDepth);

  auto router = warren::routing::MakeRouter("headers", bindings);
  Require(router.ok(), "MakeRouter(\"headers\") refused bindings");
  std::vector<warren::routing::DestinationId> routed;
  (*router)->Route("ignored", no_headers ? nullptr : &headers, &routed);
  const std::set<warren::routing::DestinationId> got(routed.begin(), routed.end());
  for (const auto& binding : bindings) {
    const bool expected = ReferenceMatches(binding.arguments, headers);
    if (got.count(binding.destination) != (expected ? 1u : 0u)) {
      Fail("binding " + DescribeTable(binding.arguments) + " and headers " +
           DescribeTable(headers) + ": reference says " + (expected ? "match" : "no match"));
    }
  }
  return 0;
}
