// lib/short_strings: the AMQP short-string length check.
#include "short_strings.h"

#include "string_view.h"

namespace warren {
namespace {

// How much of a refused string the error quotes.
constexpr size_t kQuoted = 32;

}  // namespace

absl::Status CheckShortStrings(std::initializer_list<std::string_view> strings) {
  for (std::string_view s : strings) {
    if (s.size() > kMaxShortString) {
      return absl::InvalidArgumentError(
          StrCat("'", s.substr(0, kQuoted), "...' is ", s.size(),
                 " bytes; AMQP names, keys and tags are short strings of at most ",
                 kMaxShortString, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace warren
