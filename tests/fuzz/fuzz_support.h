// tests/fuzz/fuzz_support.h: what the fuzz targets share: reading the
// fuzzer's bytes as small choices, and failing loudly when an invariant does
// not hold (abort, which libFuzzer and corpus_main.cc both report as a
// failure with the input). Knows nothing of warren.
#ifndef WARREN_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define WARREN_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>

namespace warren::fuzz {

// Its arguments streamed into one string (absl::StrCat takes no
// std::string_view with this Abseil).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// Fails the run, naming the broken invariant.
[[noreturn]] inline void Fail(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

inline void Require(bool holds, std::string_view what) {
  if (!holds) Fail(what);
}

// Consumes the input from the front; once it is used up every read gives 0
// (or ""), so any input is a complete program.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return size_ == 0; }

  uint8_t Byte() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }

  // A number in [0, count); count must be positive.
  size_t Below(size_t count) { return Byte() % count; }

  bool Flag() { return (Byte() & 1) != 0; }

  // Raw bytes of T, zero-filled past the end of the input.
  template <typename T>
  T Raw() {
    unsigned char bytes[sizeof(T)] = {};
    for (unsigned char& b : bytes) b = Byte();
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }

  // Up to `max_size` bytes, the length taken from the input.
  std::string Bytes(size_t max_size) {
    std::string out;
    const size_t n = Below(max_size + 1);
    while (out.size() < n && size_ > 0) out.push_back(static_cast<char>(Byte()));
    return out;
  }

  // Everything not read yet.
  std::string_view Rest() {
    std::string_view rest(reinterpret_cast<const char*>(data_), size_);
    data_ += size_;
    size_ = 0;
    return rest;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace warren::fuzz

#endif  // WARREN_TESTS_FUZZ_FUZZ_SUPPORT_H_
