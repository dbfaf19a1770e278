// lib/short_strings: the AMQP short-string limit that names, routing keys,
// consumer tags and exchange types share, checked the same way by both
// backends (lib/channel/ and lib/amqp/) before anything reaches a broker.
//
// Owns only the check; knows nothing of channels or brokers.
#ifndef WARREN_LIB_SHORT_STRINGS_H_
#define WARREN_LIB_SHORT_STRINGS_H_

#include <cstddef>
#include <initializer_list>
#include <string_view>

#include "absl/status/status.h"

namespace warren {

inline constexpr size_t kMaxShortString = 255;

// OK when every string fits in an AMQP short string. Clients refuse a longer
// one before sending anything (rabbitmq-c could not even encode it), so the
// error closes nothing. Errors: kInvalidArgument quoting the start of the
// first string that is too long and giving its length.
absl::Status CheckShortStrings(std::initializer_list<std::string_view> strings);

}  // namespace warren

#endif  // WARREN_LIB_SHORT_STRINGS_H_
