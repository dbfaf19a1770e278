// tests/conformance/json_codec.cc: JSON <-> FieldValue, BasicProperties and
// Delivery for the conformance driver, and check.py's exact comparison.
//
// Owns only value conversions; must not reach into scenarios or the broker.
#include "json_codec.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace warren::conformance {
namespace {

// RabbitMQ's x-death tables carry a wall-clock `time`; the corpus leaves it
// out (FORMAT.md), so tables directly inside an x-death array drop it.
constexpr std::string_view kXDeath = "x-death";
constexpr std::string_view kXDeathTime = "time";

Json TableToJson(const FieldTable& table, bool drop_time);

Json ValueToJson(const FieldValue& value, std::string_view key);

Json ArrayToJson(const FieldArray& array, bool in_x_death) {
  Json out = Json::array();
  for (const FieldValue& item : array) {
    if (const FieldTable* table = item.Get<FieldTable>(); table && in_x_death) {
      out.push_back(TableToJson(*table, /*drop_time=*/true));
    } else {
      out.push_back(ValueToJson(item, ""));
    }
  }
  return out;
}

Json TableToJson(const FieldTable& table, bool drop_time) {
  Json out = Json::object();
  for (const auto& [key, value] : table) {
    if (drop_time && key == kXDeathTime) continue;
    out[key] = ValueToJson(value, key);
  }
  return out;
}

// `key` is the table key the value sits under ("" inside arrays): an
// x-death array's tables lose their `time`.
Json ValueToJson(const FieldValue& value, std::string_view key) {
  return std::visit(
      [key](const auto& v) -> Json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v;
        } else if constexpr (std::is_integral_v<T>) {
          return static_cast<int64_t>(v);
        } else if constexpr (std::is_floating_point_v<T>) {
          return static_cast<double>(v);
        } else if constexpr (std::is_same_v<T, Decimal>) {
          return static_cast<double>(v.unscaled) / std::pow(10.0, v.scale);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          return v.bytes;
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          return v.seconds;
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          return ArrayToJson(v, key == kXDeath);
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          return TableToJson(v, /*drop_time=*/false);
        } else {
          static_assert(std::is_same_v<T, Void>);
          return nullptr;
        }
      },
      value.variant());
}

bool IsInteger(const Json& json) {
  return json.is_number_integer();  // true for signed and unsigned alike
}

bool SameInteger(const Json& a, const Json& b) {
  if (a.is_number_unsigned() == b.is_number_unsigned()) {
    return a.is_number_unsigned() ? a.get<uint64_t>() == b.get<uint64_t>()
                                  : a.get<int64_t>() == b.get<int64_t>();
  }
  const Json& signed_one = a.is_number_unsigned() ? b : a;
  const Json& unsigned_one = a.is_number_unsigned() ? a : b;
  int64_t s = signed_one.get<int64_t>();
  return s >= 0 && static_cast<uint64_t>(s) == unsigned_one.get<uint64_t>();
}

std::optional<std::string> StringOf(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int64_t> IntegerOf(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::optional<uint8_t> OctetOf(const Json& object, const char* key) {
  std::optional<int64_t> n = IntegerOf(object, key);
  if (!n) return std::nullopt;
  return static_cast<uint8_t>(*n);
}

}  // namespace

FieldValue FieldValueFromJson(const Json& json) {
  switch (json.type()) {
    case Json::value_t::string:
      return json.get<std::string>();
    case Json::value_t::boolean:
      return json.get<bool>();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      // Past int64's range the wire has no signed type for it either; the
      // value wraps, as the recorder's struct.pack would refuse it.
      int64_t n = json.is_number_unsigned()
                      ? static_cast<int64_t>(json.get<uint64_t>())
                      : json.get<int64_t>();
      if (n >= std::numeric_limits<int32_t>::min() &&
          n <= std::numeric_limits<int32_t>::max()) {
        return static_cast<int32_t>(n);
      }
      return n;
    }
    case Json::value_t::number_float:
      return json.get<double>();
    case Json::value_t::array: {
      FieldArray array;
      for (const Json& item : json) array.push_back(FieldValueFromJson(item));
      return array;
    }
    case Json::value_t::object:
      return FieldTableFromJson(json);
    default:
      return Void{};
  }
}

FieldTable FieldTableFromJson(const Json& json) {
  FieldTable table;
  if (!json.is_object()) return table;
  for (const auto& [key, value] : json.items()) {
    table.Set(key, FieldValueFromJson(value));
  }
  return table;
}

Json FieldValueToJson(const FieldValue& value) { return ValueToJson(value, ""); }

Json FieldTableToJson(const FieldTable& table) {
  return TableToJson(table, /*drop_time=*/false);
}

BasicProperties PropertiesFromJson(const Json& json) {
  BasicProperties p;
  if (!json.is_object()) return p;
  p.content_type = StringOf(json, "content_type");
  p.content_encoding = StringOf(json, "content_encoding");
  if (auto it = json.find("headers"); it != json.end()) {
    p.headers = FieldTableFromJson(*it);
  }
  p.delivery_mode = OctetOf(json, "delivery_mode");
  p.priority = OctetOf(json, "priority");
  p.correlation_id = StringOf(json, "correlation_id");
  p.reply_to = StringOf(json, "reply_to");
  p.expiration = StringOf(json, "expiration");
  p.message_id = StringOf(json, "message_id");
  if (std::optional<int64_t> seconds = IntegerOf(json, "timestamp")) {
    p.timestamp = Timestamp{static_cast<uint64_t>(*seconds)};
  }
  p.type = StringOf(json, "type");
  p.user_id = StringOf(json, "user_id");
  p.app_id = StringOf(json, "app_id");
  return p;
}

Json PropertiesToJson(const BasicProperties& p) {
  Json out = Json::object();
  auto put = [&out](const char* name, const auto& field) {
    if (field) out[name] = *field;
  };
  put("content_type", p.content_type);
  put("content_encoding", p.content_encoding);
  if (p.headers) out["headers"] = FieldTableToJson(*p.headers);
  if (p.delivery_mode) out["delivery_mode"] = int{*p.delivery_mode};
  if (p.priority) out["priority"] = int{*p.priority};
  put("correlation_id", p.correlation_id);
  put("reply_to", p.reply_to);
  put("expiration", p.expiration);
  put("message_id", p.message_id);
  if (p.timestamp) out["timestamp"] = p.timestamp->seconds;
  put("type", p.type);
  put("user_id", p.user_id);
  put("app_id", p.app_id);
  return out;
}

Json DeliveryToJson(const Delivery& delivery, std::string_view extra_key,
                    Json extra_value) {
  Json out = Json::object();
  out["body"] = std::string(delivery.message.body());
  out["redelivered"] = delivery.redelivered;
  out["exchange"] = delivery.exchange;
  out["routing_key"] = delivery.routing_key;
  out["delivery_tag"] = delivery.delivery_tag;
  out[std::string(extra_key)] = std::move(extra_value);
  out["properties"] = PropertiesToJson(delivery.message.properties());
  return out;
}

bool SameJson(const Json& expected, const Json& observed) {
  if (expected.is_boolean() || observed.is_boolean()) {
    return expected.is_boolean() && observed.is_boolean() &&
           expected.get<bool>() == observed.get<bool>();
  }
  if (IsInteger(expected) && IsInteger(observed)) {
    return SameInteger(expected, observed);
  }
  if (expected.is_number_float() && observed.is_number_float()) {
    return expected.get<double>() == observed.get<double>();
  }
  if (expected.is_string() && observed.is_string()) {
    return expected.get_ref<const std::string&>() ==
           observed.get_ref<const std::string&>();
  }
  if (expected.is_null() || observed.is_null()) {
    return expected.is_null() && observed.is_null();
  }
  if (expected.is_array() && observed.is_array()) {
    if (expected.size() != observed.size()) return false;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (!SameJson(expected[i], observed[i])) return false;
    }
    return true;
  }
  if (expected.is_object() && observed.is_object()) {
    if (expected.size() != observed.size()) return false;
    for (const auto& [key, value] : expected.items()) {
      auto it = observed.find(key);
      if (it == observed.end() || !SameJson(value, *it)) return false;
    }
    return true;
  }
  return false;
}

std::string SortedDump(const Json& json) {
  return nlohmann::json(json).dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace);
}

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace warren::conformance
