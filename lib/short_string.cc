// Short-string limits and RabbitMQ's UTF-8 and CR/LF rules.
#include "short_string.h"

#include <cstdint>
#include <optional>
#include <variant>

#include "string_view.h"
#include "warren/status.h"

namespace warren {
namespace {

absl::Status TooLong(std::string_view what, std::string_view s) {
  return absl::InvalidArgumentError(
      StrCat(what, "'", s.substr(0, 32), s.size() > 32 ? "...' is " : "' is ", s.size(),
             " bytes; AMQP short strings (names, keys, tags, table keys, basic properties "
             "but headers) have at most 255"));
}

absl::Status CheckValueKeys(const FieldValue& value) {
  if (const FieldTable* table = value.Get<FieldTable>()) return CheckTableKeys(*table);
  if (const FieldArray* array = value.Get<FieldArray>()) {
    for (const FieldValue& item : *array) {
      if (absl::Status s = CheckValueKeys(item); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

absl::Status CheckShortStrings(std::initializer_list<std::string_view> strings) {
  for (std::string_view s : strings) {
    if (s.size() > kMaxShortString) return TooLong("", s);
  }
  return absl::OkStatus();
}

absl::Status CheckTableKeys(const FieldTable& table) {
  for (const auto& [key, value] : table) {
    if (key.size() > kMaxShortString) return TooLong("field table key ", key);
    if (absl::Status s = CheckValueKeys(value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckProperties(const BasicProperties& p) {
  for (const std::optional<std::string>* property :
       {&p.content_type, &p.content_encoding, &p.correlation_id, &p.reply_to, &p.expiration,
        &p.message_id, &p.type, &p.user_id, &p.app_id}) {
    if (*property && (*property)->size() > kMaxShortString) {
      return TooLong("basic property ", **property);
    }
  }
  return p.headers ? CheckTableKeys(*p.headers) : absl::OkStatus();
}

bool IsRabbitUtf8(std::string_view s) {
  // rabbit_binary_parser's utf8_valid/1: the bit patterns of UTF-8 with the
  // overlong encodings refused, nothing more.
  const auto* b = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t lead = b[i];
    if (lead < 0x80) {
      i += 1;
    } else if ((lead & 0xE0) == 0xC0) {  // 110xxxxx 10xxxxxx, at least U+0080
      if (i + 1 >= n || !IsContinuation(b[i + 1]) || lead < 0xC2) return false;
      i += 2;
    } else if ((lead & 0xF0) == 0xE0) {  // 1110xxxx, at least U+0800
      if (i + 2 >= n || !IsContinuation(b[i + 1]) || !IsContinuation(b[i + 2])) return false;
      if (lead == 0xE0 && b[i + 1] < 0xA0) return false;
      i += 3;
    } else if ((lead & 0xF8) == 0xF0) {  // 11110xxx, at least U+10000
      if (i + 3 >= n || !IsContinuation(b[i + 1]) || !IsContinuation(b[i + 2]) ||
          !IsContinuation(b[i + 3])) {
        return false;
      }
      if (lead == 0xF0 && b[i + 1] < 0x90) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

absl::Status CheckUtf8(std::initializer_list<std::string_view> strings) {
  for (std::string_view s : strings) {
    if (!IsRabbitUtf8(s)) {
      return AmqpError(ReplyCode::kFrameError, "Malformed UTF-8 in shortstr");
    }
  }
  return absl::OkStatus();
}

std::string StripCrLf(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

}  // namespace warren
