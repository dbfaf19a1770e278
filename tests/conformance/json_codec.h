// tests/conformance/json_codec.h: the JSON forms of AMQP values that the
// conformance corpus uses (shared/conformance/FORMAT.md), and the corpus's
// exact comparison of JSON values.
//
// Owns only conversions between JSON and warren's public value types; it
// knows nothing of scenarios, channels or brokers (scenario_runner does).
#ifndef WARREN_TESTS_CONFORMANCE_JSON_CODEC_H_
#define WARREN_TESTS_CONFORMANCE_JSON_CODEC_H_

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "warren/field_table.h"
#include "warren/message.h"

namespace warren::conformance {

// Insertion-ordered, so that a table built from a step keeps the key order
// the scenario wrote, as the recorder's client sent it.
using Json = nlohmann::ordered_json;

// A step's table value as AMQP sends it: string -> long string, integer ->
// int32 when it fits else int64, float -> double, bool, null -> void, array
// -> field array, object -> table.
FieldValue FieldValueFromJson(const Json& json);
// An object as a table; anything else as the empty table (absent arguments).
FieldTable FieldTableFromJson(const Json& json);

// An observed value: every integer type -> integer, float and double ->
// float, long string and byte array -> string, timestamp -> integer seconds,
// decimal -> float, void -> null.
Json FieldValueToJson(const FieldValue& value);
Json FieldTableToJson(const FieldTable& table);

// A step's `properties` object (absent or not an object: none set).
BasicProperties PropertiesFromJson(const Json& json);
// Exactly the properties that are set, by AMQP name; `{}` when none. Each
// table of the `x-death` header loses its wall-clock `time` entry.
Json PropertiesToJson(const BasicProperties& properties);

// The observation of a delivery: body, redelivered, exchange, routing_key,
// delivery_tag, then `extra_key` (consumer_tag for pushed deliveries,
// message_count for basic.get), then properties.
Json DeliveryToJson(const Delivery& delivery, std::string_view extra_key,
                    Json extra_value);

// check.py's comparison: exact, except that the order of object keys is
// free. 1, 1.0 and true are three different values (nlohmann's operator==
// would take 1 and 1.0 as equal).
bool SameJson(const Json& expected, const Json& observed);

// One line of JSON with object keys sorted, as check.py prints steps and
// observations.
std::string SortedDump(const Json& json);

// One line of JSON; bytes that are not UTF-8 are replaced, never thrown on.
std::string Dump(const Json& json);

}  // namespace warren::conformance

#endif  // WARREN_TESTS_CONFORMANCE_JSON_CODEC_H_
