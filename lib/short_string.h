// AMQP short strings and table keys as clients and RabbitMQ 3.10 treat them,
// shared by both backends: the 255-byte limit a client enforces before
// anything is sent (names, keys, tags, the short-string basic properties,
// field-table keys), RabbitMQ's UTF-8 check of the short strings of every
// method but basic.publish, and the CR and LF it removes from exchange and
// queue names in declare, delete, bind and unbind. Owns no state; must not
// know either backend.
#ifndef WARREN_LIB_SHORT_STRING_H_
#define WARREN_LIB_SHORT_STRING_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "warren/field_table.h"
#include "warren/message.h"

namespace warren {

inline constexpr size_t kMaxShortString = 255;

// kInvalidArgument naming the first string over 255 bytes: it cannot be
// sent, so a client refuses it and nothing is closed.
absl::Status CheckShortStrings(std::initializer_list<std::string_view> strings);

// kInvalidArgument for a key over 255 bytes anywhere in `table` (nested
// tables and arrays included).
absl::Status CheckTableKeys(const FieldTable& table);

// kInvalidArgument for a short-string property (content_type, message_id,
// ...) or a header key over 255 bytes.
absl::Status CheckProperties(const BasicProperties& properties);

// RabbitMQ's reading of UTF-8 in a short string: well-formed sequences of
// one to four bytes with overlong forms refused; surrogates and lead bytes
// up to F7 pass, as they do in RabbitMQ 3.10.
bool IsRabbitUtf8(std::string_view s);

// 501 FRAME_ERROR for the first string IsRabbitUtf8 refuses, as RabbitMQ
// answers such a method (closing the connection).
absl::Status CheckUtf8(std::initializer_list<std::string_view> strings);

// `name` without CR and LF, as RabbitMQ reads an exchange or queue name in
// declare, delete, bind and unbind (not in publish, get, purge, consume).
std::string StripCrLf(std::string_view name);

}  // namespace warren

#endif  // WARREN_LIB_SHORT_STRING_H_
