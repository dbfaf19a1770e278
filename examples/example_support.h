// examples/example_support.h: what the examples share that is not their
// lesson: stopping at the first error, and waiting for deliveries without
// sleeping.
//
// It makes no broker call of its own: every warren call of a tutorial stays in
// the tutorial's file, so that each one still reads on its own.
#ifndef WARREN_EXAMPLES_EXAMPLE_SUPPORT_H_
#define WARREN_EXAMPLES_EXAMPLE_SUPPORT_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace examples {

// How long an example waits for what it expects before it calls itself
// failed. A working broker needs milliseconds; the margin is for a loaded
// machine, so that only a real loss fails.
inline constexpr std::chrono::seconds kPatience{30};

// Prints `what` went wrong and ends the process with exit code 1. It ends it
// at once, skipping destructors, because it may run on a dispatcher thread
// while callbacks on other threads still use main()'s objects.
[[noreturn]] inline void Fail(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "error: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

inline void Check(const absl::Status& status, std::string_view what) {
  if (!status.ok()) Fail(what, status);
}

template <typename T>
T Check(absl::StatusOr<T> result, std::string_view what) {
  if (!result.ok()) Fail(what, result.status());
  return *std::move(result);
}

// The lines one consumer received, in arrival order, for main() to wait on
// and check. Consumers add from dispatcher threads while main() waits.
class Inbox {
 public:
  void Add(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
    // Under the lock: the waiter may destroy the Inbox once it sees the line.
    arrived_.notify_all();
  }

  // Waits until at least `count` lines arrived; false after kPatience.
  bool WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return arrived_.wait_for(lock, kPatience, [&] { return lines_.size() >= count; });
  }

  // Waits for as many lines as `expected` holds, then checks they are exactly
  // those, in that order. Queues keep publish order, so when the last
  // expected line was published last, a stray line would arrive before it
  // and show up here. Prints what went wrong, naming the consumer `who`.
  bool Expect(std::string_view who, const std::vector<std::string>& expected) {
    bool complete = WaitFor(expected.size());
    std::vector<std::string> got = lines();
    if (complete && got == expected) return true;
    std::printf("FAILED: %.*s expected %zu message(s), got %zu%s:\n", static_cast<int>(who.size()),
                who.data(), expected.size(), got.size(), complete ? "" : " before timing out");
    for (const std::string& line : got) std::printf("  got '%s'\n", line.c_str());
    return false;
  }

  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<std::string> lines_;
};

}  // namespace examples

#endif  // WARREN_EXAMPLES_EXAMPLE_SUPPORT_H_
