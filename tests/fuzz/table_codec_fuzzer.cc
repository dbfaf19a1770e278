// tests/fuzz/table_codec_fuzzer.cc: the AMQP wire codec for field tables
// (lib/amqp/codec.*, over rabbitmq-c's amqp_decode_table/amqp_encode_table)
// and FieldTable (include/warren/field_table.h), on arbitrary bytes read as
// an encoded table.
//
// Invariants: decoding any bytes never crashes; where decoding succeeds,
// encoding the decoded FieldTable succeeds, decodes to the same table (same
// keys in the same order, same types, bit-identical floats), and encoding is
// then a fixed point (the same bytes again). FieldTable itself: Find sees
// every entry, a table equals itself and the same entries in another order
// (unless a NaN makes a value unequal to itself), and Erase removes exactly
// one key.
#include <amqp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "amqp/codec.h"
#include "fuzz_support.h"
#include "warren/field_table.h"

namespace warren::fuzz {
namespace {

// Same alternative and same value, floats compared bit for bit, nested
// tables in order: what a lossless round trip must give.
bool Identical(const FieldValue& a, const FieldValue& b);

bool IdenticalTables(const FieldTable& a, const FieldTable& b) {
  if (a.size() != b.size()) return false;
  for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y) {
    if (x->first != y->first || !Identical(x->second, y->second)) return false;
  }
  return true;
}

bool Identical(const FieldValue& a, const FieldValue& b) {
  if (a.variant().index() != b.variant().index()) return false;
  return std::visit(
      [&b](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = *b.Get<T>();
        if constexpr (std::is_floating_point_v<T>) {
          return std::memcmp(&x, &y, sizeof(T)) == 0;
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          if (x.size() != y.size()) return false;
          for (size_t i = 0; i < x.size(); ++i) {
            if (!Identical(x[i], y[i])) return false;
          }
          return true;
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          return IdenticalTables(x, y);
        } else {
          return x == y;
        }
      },
      a.variant());
}

bool HasNaN(const FieldValue& value) {
  return std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_floating_point_v<T>) {
          return x != x;
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          for (const FieldValue& v : x) {
            if (HasNaN(v)) return true;
          }
          return false;
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          for (const auto& [key, v] : x) {
            if (HasNaN(v)) return true;
          }
          return false;
        } else {
          return false;
        }
      },
      value.variant());
}

// A pool for one decode or encode, released when it goes.
class Pool {
 public:
  Pool() { init_amqp_pool(&pool_, 4096); }
  ~Pool() { empty_amqp_pool(&pool_); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  amqp_pool_t* get() { return &pool_; }

 private:
  amqp_pool_t pool_;
};

// Decodes one wire table that must fill `bytes`; false when rabbitmq-c
// refuses it or leaves bytes over.
bool Decode(std::string_view bytes, FieldTable* out) {
  Pool pool;
  amqp_table_t table{};
  size_t offset = 0;
  if (amqp_decode_table(amqp::Bytes(bytes), pool.get(), &table, &offset) != AMQP_STATUS_OK) {
    return false;
  }
  if (offset != bytes.size()) return false;
  *out = amqp::DecodeTable(table);
  return true;
}

std::string Encode(const FieldTable& table, size_t capacity) {
  Pool pool;
  amqp::Encoder encoder(pool.get());
  amqp_table_t wire = encoder.Table(table);
  std::string buffer(capacity, '\0');
  size_t offset = 0;
  const int status = amqp_encode_table(amqp::Bytes(buffer), &wire, &offset);
  Require(status == AMQP_STATUS_OK, "encoding a decoded table failed");
  buffer.resize(offset);
  return buffer;
}

void CheckTableApi(const FieldTable& table) {
  for (const auto& [key, value] : table) {
    const FieldValue* found = table.Find(key);
    Require(found != nullptr && Identical(*found, value), "Find misses an entry");
  }
  bool nan = false;
  for (const auto& [key, value] : table) nan = nan || HasNaN(value);
  FieldTable reversed;
  for (auto it = table.end(); it != table.begin();) {
    --it;
    reversed.Set(it->first, it->second);
  }
  Require(reversed.size() == table.size(), "Set of unique keys lost an entry");
  if (!nan) {
    Require(table == table, "a table differs from itself");
    Require(reversed == table && table == reversed, "entry order changes equality");
  }
  FieldTable shrinking = table;
  for (const auto& [key, value] : table) {
    const size_t before = shrinking.size();
    Require(shrinking.Erase(key), "Erase misses a key");
    Require(shrinking.Find(key) == nullptr && shrinking.size() == before - 1,
            "Erase left the key or took another");
  }
  Require(shrinking.empty(), "Erase of every key leaves entries");
}

}  // namespace
}  // namespace warren::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace warren::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  warren::FieldTable decoded;
  if (!Decode(input, &decoded)) return 0;
  CheckTableApi(decoded);

  // Room to spare: a re-encoded table is never larger (duplicate keys
  // collapse, 'L' becomes 'l' of the same size), and a tight buffer would
  // only turn a size bug into a vaguer failure.
  const std::string encoded = Encode(decoded, 2 * input.size() + 16);
  Require(encoded.size() <= input.size(), "re-encoding grew the table");
  warren::FieldTable again;
  Require(Decode(encoded, &again), "rabbitmq-c refuses what warren encoded");
  Require(IdenticalTables(decoded, again), "decode(encode(table)) differs from table");
  Require(Encode(again, 2 * encoded.size() + 16) == encoded, "encoding is not a fixed point");
  return 0;
}
