// warren/field_table.h: AMQP field tables and their typed values.
//
// Message headers and the `arguments` of declares, binds and consumes are AMQP
// field tables: string keys mapped to typed values. warren keeps the exact AMQP
// type of every value (an int8 stays an int8, a float stays a float), because
// RabbitMQ does, and the headers exchange compares values by type and value.
//
// Example:
//
//   warren::FieldTable args;
//   args.Set("x-max-length", int32_t{1000});
//   args.Set("x-dead-letter-exchange", "dlx");
//   if (const warren::FieldValue* v = args.Find("x-max-length")) {
//     std::optional<int64_t> n = v->AsInteger();  // 1000
//   }
//
// Thread-safety: values and tables are plain values; concurrent reads are safe,
// a write needs exclusive access, as for std::vector.
#ifndef WARREN_FIELD_TABLE_H_
#define WARREN_FIELD_TABLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace warren {

class FieldValue;

// AMQP's decimal: value = unscaled / 10^scale.
struct Decimal {
  uint8_t scale = 0;
  uint32_t unscaled = 0;
  friend bool operator==(const Decimal&, const Decimal&) = default;
};

// AMQP's timestamp: seconds since the Unix epoch.
struct Timestamp {
  uint64_t seconds = 0;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// AMQP's byte array ('x'): raw bytes, distinct from a long string ('S').
struct ByteArray {
  std::string bytes;
  friend bool operator==(const ByteArray&, const ByteArray&) = default;
};

// AMQP's void ('V'): a key that is present without a value.
struct Void {
  friend bool operator==(const Void&, const Void&) = default;
};

// An ordered table of (key, value) entries. Keys are unique: Set() replaces
// the value of a key that is already present, keeping its position.
class FieldTable {
 public:
  using Entry = std::pair<std::string, FieldValue>;

  FieldTable() = default;
  FieldTable(std::initializer_list<Entry> entries);

  // Sets `key` to `value`, replacing any earlier value of `key`.
  void Set(std::string_view key, FieldValue value);
  // The value of `key`, or nullptr when absent. The pointer is valid until
  // the table is next modified.
  const FieldValue* Find(std::string_view key) const;
  // Removes `key`; returns whether it was present.
  bool Erase(std::string_view key);

  // True when the table has no entry.
  bool empty() const;
  // The number of entries (of distinct keys).
  size_t size() const;
  // The entries in insertion order (a key Set again keeps its first place);
  // iterators are invalidated by the next Set or Erase.
  std::vector<Entry>::const_iterator begin() const;
  std::vector<Entry>::const_iterator end() const;

  // Equal when both hold the same keys with equal values, in any order.
  friend bool operator==(const FieldTable& a, const FieldTable& b);

 private:
  std::vector<Entry> entries_;
};

using FieldArray = std::vector<FieldValue>;

// One typed AMQP field value.
class FieldValue {
 public:
  // The alternatives, in AMQP's type-tag order of RabbitMQ's table codec:
  // t b B s u I i l f d D S x T A F V.
  using Variant =
      std::variant<bool, int8_t, uint8_t, int16_t, uint16_t, int32_t,
                   uint32_t, int64_t, float, double, Decimal, std::string,
                   ByteArray, Timestamp, FieldArray, FieldTable, Void>;

  FieldValue() : value_(Void{}) {}
  template <typename T,
            typename = std::enable_if_t<std::is_constructible_v<Variant, T&&> &&
                                        !std::is_same_v<std::decay_t<T>, FieldValue> &&
                                        !std::is_same_v<std::decay_t<T>, const char*>>>
  FieldValue(T&& value) : value_(std::forward<T>(value)) {}
  // A C string is a long string, never a bool.
  FieldValue(const char* s) : value_(std::string(s)) {}

  const Variant& variant() const { return value_; }

  template <typename T>
  bool Is() const { return std::holds_alternative<T>(value_); }
  template <typename T>
  const T* Get() const { return std::get_if<T>(&value_); }

  // The value of any integer alternative, widened; nullopt for other types.
  std::optional<int64_t> AsInteger() const;
  // The long string's text; nullopt for other types (byte arrays included).
  std::optional<std::string_view> AsString() const;

  // Same AMQP type and equal value. Floats compare by value, so NaN != NaN.
  friend bool operator==(const FieldValue& a, const FieldValue& b) {
    return a.value_ == b.value_;
  }

 private:
  Variant value_;
};

// Defined here, where FieldValue is complete.
inline bool FieldTable::empty() const { return entries_.empty(); }
inline size_t FieldTable::size() const { return entries_.size(); }
inline std::vector<FieldTable::Entry>::const_iterator FieldTable::begin() const {
  return entries_.begin();
}
inline std::vector<FieldTable::Entry>::const_iterator FieldTable::end() const {
  return entries_.end();
}

}  // namespace warren

#endif  // WARREN_FIELD_TABLE_H_
