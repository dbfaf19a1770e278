// lib/routing/headers_match.cc: headers-exchange matching, value equality and
// bind-time validation. Owns only what headers_match.h declares, plus
// ValidateHeadersBinding() from router.h.
#include "routing/headers_match.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/container/inlined_vector.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::routing {
namespace {

constexpr std::string_view kMatchModeKey = "x-match";
constexpr std::string_view kIgnoredPrefix = "x-";

// A number as Erlang holds a decoded AMQP number: an integer (uint64_t only
// for timestamps beyond int64_t) or a float.
using ErlangNumber = std::variant<int64_t, uint64_t, double>;

std::optional<ErlangNumber> AsErlangNumber(const FieldValue& value) {
  return std::visit(
      [](const auto& v) -> std::optional<ErlangNumber> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return std::nullopt;
        } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
          return ErlangNumber(int64_t{v});
        } else if constexpr (std::is_integral_v<T>) {
          return ErlangNumber(uint64_t{v});
        } else if constexpr (std::is_floating_point_v<T>) {
          return ErlangNumber(double{v});
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          return ErlangNumber(v.seconds);
        } else {
          return std::nullopt;
        }
      },
      value.variant());
}

// Exact comparison, as Erlang's `==` between an integer and a float is: a
// double far beyond 2^53 is an integer and must not be rounded against it.
template <typename Integer>
bool IntegerEqualsDouble(Integer integer, double d) {
  if (!std::isfinite(d) || d != std::trunc(d)) return false;
  if (d < 0) {
    return d >= -0x1p63 && std::cmp_equal(integer, static_cast<int64_t>(d));
  }
  return d < 0x1p64 && std::cmp_equal(integer, static_cast<uint64_t>(d));
}

bool NumbersEqual(const ErlangNumber& a, const ErlangNumber& b) {
  return std::visit(
      [](auto x, auto y) {
        constexpr bool kXIsDouble = std::is_same_v<decltype(x), double>;
        constexpr bool kYIsDouble = std::is_same_v<decltype(y), double>;
        if constexpr (kXIsDouble && kYIsDouble) {
          return x == y;
        } else if constexpr (kXIsDouble) {
          return IntegerEqualsDouble(y, x);
        } else if constexpr (kYIsDouble) {
          return IntegerEqualsDouble(x, y);
        } else {
          return std::cmp_equal(x, y);
        }
      },
      a, b);
}

// Long strings and byte arrays are both Erlang binaries.
std::optional<std::string_view> AsErlangBinary(const FieldValue& value) {
  if (const auto* s = value.Get<std::string>()) return *s;
  if (const auto* bytes = value.Get<ByteArray>()) return bytes->bytes;
  return std::nullopt;
}

bool IsEmptyErlangList(const FieldValue& value) {
  const auto* array = value.Get<FieldArray>();
  const auto* table = value.Get<FieldTable>();
  return (array != nullptr && array->empty()) || (table != nullptr && table->empty());
}

bool ErlangEquals(const FieldValue& a, const FieldValue& b);

// Inside arrays and tables RabbitMQ keeps each value as {Type, Value}.
bool TaggedEquals(const FieldValue& a, const FieldValue& b) {
  return a.variant().index() == b.variant().index() && ErlangEquals(a, b);
}

bool ArraysEqual(const FieldArray& a, const FieldArray& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), TaggedEquals);
}

// A nested table is a list of {Key, Type, Value} in wire order.
bool NestedTablesEqual(const FieldTable& a, const FieldTable& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const FieldTable::Entry& x, const FieldTable::Entry& y) {
                      return x.first == y.first &&
                             TaggedEquals(x.second, y.second);
                    });
}

bool ErlangEquals(const FieldValue& a, const FieldValue& b) {
  if (std::optional<ErlangNumber> x = AsErlangNumber(a)) {
    std::optional<ErlangNumber> y = AsErlangNumber(b);
    return y.has_value() && NumbersEqual(*x, *y);
  }
  if (std::optional<std::string_view> x = AsErlangBinary(a)) {
    std::optional<std::string_view> y = AsErlangBinary(b);
    return y.has_value() && *x == *y;
  }
  // An array is a list of {Type, Value}, a table a list of {Key, Type,
  // Value}: they differ, except when both are empty, the same list [].
  if (IsEmptyErlangList(a) && IsEmptyErlangList(b)) return true;
  if (a.variant().index() != b.variant().index()) return false;
  if (const auto* array = a.Get<FieldArray>()) {
    return ArraysEqual(*array, *b.Get<FieldArray>());
  }
  if (const auto* table = a.Get<FieldTable>()) {
    return NestedTablesEqual(*table, *b.Get<FieldTable>());
  }
  // bool, Decimal ({Scale, Unscaled}) and Void: plain equality.
  return a == b;
}

// RabbitMQ's names of the field types, in FieldValue::Variant order, for
// error messages that read like RabbitMQ's.
constexpr std::array<std::string_view, 17> kErlangTypeNames = {
    "bool",      "byte",        "unsignedbyte", "short",     "unsignedshort",
    "signedint", "unsignedint", "long",         "float",     "double",
    "decimal",   "longstr",     "binary",       "timestamp", "array",
    "table",     "void"};
static_assert(kErlangTypeNames.size() ==
              std::variant_size_v<FieldValue::Variant>);

bool IsMatchMode(std::string_view mode) {
  return mode == "all" || mode == "any" || mode == "all-with-x" ||
         mode == "any-with-x";
}

// A header looked up by key in the message's headers, sorted once per message
// so that each binding's pairs cost a binary search each.
class SortedHeaders {
 public:
  explicit SortedHeaders(const FieldTable* headers) {
    if (headers == nullptr) return;
    for (const FieldTable::Entry& entry : *headers) entries_.push_back(&entry);
    std::sort(entries_.begin(), entries_.end(), KeyLess);
  }

  const FieldValue* Find(std::string_view key) const {
    auto it =
        std::lower_bound(entries_.begin(), entries_.end(), key,
                         [](const FieldTable::Entry* entry,
                            std::string_view k) { return entry->first < k; });
    if (it == entries_.end() || (*it)->first != key) return nullptr;
    return &(*it)->second;
  }

 private:
  static bool KeyLess(const FieldTable::Entry* a, const FieldTable::Entry* b) {
    return a->first < b->first;
  }

  absl::InlinedVector<const FieldTable::Entry*, 16> entries_;
};

}  // namespace

bool HeaderValuesEqual(const FieldValue& binding_value,
                       const FieldValue& header_value) {
  return ErlangEquals(binding_value, header_value);
}

absl::Status ValidateHeadersBinding(const FieldTable& arguments) {
  const FieldValue* mode = arguments.Find(kMatchModeKey);
  if (mode == nullptr) return absl::OkStatus();
  if (std::optional<std::string_view> text = mode->AsString()) {
    if (IsMatchMode(*text)) return absl::OkStatus();
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("Invalid x-match field value \"", *text,
                            "\"; expected all, any, all-with-x, or "
                            "any-with-x"));
  }
  return AmqpError(
      ReplyCode::kPreconditionFailed,
      StrCat("Invalid x-match field type ",
             kErlangTypeNames[mode->variant().index()], "; expected longstr"));
}

HeadersRouter::HeadersRouter(const BindingList& bindings) {
  bindings_.reserve(bindings.size());
  for (const Binding& binding : bindings) {
    std::string_view mode;
    if (const FieldValue* value = binding.arguments.Find(kMatchModeKey)) {
      mode = value->AsString().value_or("");
    }
    // RabbitMQ reads an unknown mode as "all" (bindings made before it
    // validated x-match).
    const bool any = mode == "any" || mode == "any-with-x";
    const bool with_x = mode == "all-with-x" || mode == "any-with-x";
    CompiledBinding compiled{.destination = binding.destination,
                             .mode = any ? MatchMode::kAny : MatchMode::kAll,
                             .pairs = {}};
    for (const auto& [key, value] : binding.arguments) {
      if (key == kMatchModeKey) continue;
      if (!with_x && std::string_view(key).starts_with(kIgnoredPrefix)) {
        continue;
      }
      compiled.pairs.push_back({key, value});
    }
    bindings_.push_back(std::move(compiled));
  }
}

void HeadersRouter::Route(std::string_view /*routing_key*/,
                          const FieldTable* headers,
                          std::vector<DestinationId>* out) const {
  const SortedHeaders sorted(headers);
  for (const CompiledBinding& binding : bindings_) {
    const bool want_all = binding.mode == MatchMode::kAll;
    // Under "all" a failed pair decides (no match), under "any" a matching
    // one does (match); with no deciding pair the answer is `want_all`.
    bool matched = want_all;
    for (const Pair& pair : binding.pairs) {
      const FieldValue* header = sorted.Find(pair.key);
      const bool pair_matches =
          header != nullptr &&
          (pair.value.Is<Void>() || HeaderValuesEqual(pair.value, *header));
      if (pair_matches != want_all) {
        matched = pair_matches;
        break;
      }
    }
    if (matched) out->push_back(binding.destination);
  }
}

}  // namespace warren::routing
