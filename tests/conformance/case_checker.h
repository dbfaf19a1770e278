// tests/conformance/case_checker.h: `warren_conformance --check`, check.py
// (shared/conformance/check.py) in C++ so that ctest needs no Python.
//
// Owns finding cases, filtering them by category, running each in a child
// process of this same executable (a crash or a hang then fails one case,
// not the run) and comparing observations with `expect` as check.py does.
// Never decides what the driver observes (scenario_runner does).
#ifndef WARREN_TESTS_CONFORMANCE_CASE_CHECKER_H_
#define WARREN_TESTS_CONFORMANCE_CASE_CHECKER_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace warren::conformance {

struct CheckOptions {
  // Scenario files, or folders searched recursively for *.json.
  std::vector<std::filesystem::path> inputs;
  // When set, a file of categories (one a line, `#` comments): only cases
  // whose category (the file name before `__`) it lists run.
  std::optional<std::filesystem::path> categories_file;
  absl::Duration timeout = absl::Seconds(30);  // per case, as check.py's
  // Passed to each child before the scenario path (check.py's --driver-arg).
  std::vector<std::string> driver_args;
};

// The cases CheckCases would run, in order. Errors: an input that does not
// exist, an unreadable categories file, a category without cases, no cases.
absl::StatusOr<std::vector<std::filesystem::path>> SelectCases(const CheckOptions& options);

// Checks every selected case, printing each failure with its first differing
// step and, last, the line `N passed, N failed`. Returns the exit status: 0
// when nothing failed, 1 when a case failed, 2 when the inputs or the
// categories file are unusable (nothing is run then).
int CheckCases(const CheckOptions& options);

}  // namespace warren::conformance

#endif  // WARREN_TESTS_CONFORMANCE_CASE_CHECKER_H_
