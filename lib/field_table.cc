// lib/field_table.cc: AMQP field tables and values (warren/field_table.h).
//
// Owns the table's key uniqueness and order-insensitive equality, and the
// typed accessors of values. Must not know any meaning of particular keys
// ("x-message-ttl", ...): that belongs to the broker code that reads them.

#include "warren/field_table.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace warren {
namespace {

template <typename Entries>
auto FindEntry(Entries& entries, std::string_view key) {
  return std::find_if(entries.begin(), entries.end(),
                      [key](const auto& entry) { return entry.first == key; });
}

}  // namespace

FieldTable::FieldTable(std::initializer_list<Entry> entries) {
  for (const Entry& entry : entries) Set(entry.first, entry.second);
}

void FieldTable::Set(std::string_view key, FieldValue value) {
  auto it = FindEntry(entries_, key);
  if (it != entries_.end()) {
    it->second = std::move(value);
  } else {
    entries_.emplace_back(std::string(key), std::move(value));
  }
}

const FieldValue* FieldTable::Find(std::string_view key) const {
  auto it = FindEntry(entries_, key);
  return it != entries_.end() ? &it->second : nullptr;
}

bool FieldTable::Erase(std::string_view key) {
  auto it = FindEntry(entries_, key);
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

bool operator==(const FieldTable& a, const FieldTable& b) {
  // Keys are unique, so equal sizes plus every entry of `a` found equal in
  // `b` means the same set of entries.
  if (a.size() != b.size()) return false;
  return std::all_of(a.begin(), a.end(), [&b](const FieldTable::Entry& entry) {
    const FieldValue* other = b.Find(entry.first);
    return other != nullptr && *other == entry.second;
  });
}

std::optional<int64_t> FieldValue::AsInteger() const {
  return std::visit(
      [](const auto& value) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(value)>;
        // AMQP's boolean is its own type, not an integer.
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<int64_t>(value);
        } else {
          return std::nullopt;
        }
      },
      value_);
}

std::optional<std::string_view> FieldValue::AsString() const {
  if (const std::string* s = Get<std::string>()) return std::string_view(*s);
  return std::nullopt;
}

}  // namespace warren
