// Bridges std::string_view (the API's) and absl::string_view (what this
// Abseil's containers and StrCat take; the two are distinct types in the
// Abseil that Debian 12 ships).
#ifndef WARREN_LIB_STRING_VIEW_H_
#define WARREN_LIB_STRING_VIEW_H_

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace warren {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

template <typename T>
decltype(auto) ToAbslArg(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return ToAbsl(v);
  } else {
    return (v);
  }
}

// absl::StrCat that also takes std::string_view.
template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(ToAbslArg(args)...);
}

}  // namespace warren

#endif  // WARREN_LIB_STRING_VIEW_H_
