// tests/conformance/warren_conformance.cc: the conformance driver's command
// line (shared/conformance/README.md, FORMAT.md).
//
//   warren_conformance SCENARIO.json
//       runs the scenario against a fresh in-process broker and prints the
//       JSON array of observations; exit 0, or 2 when the file cannot be read
//       or is not a scenario.
//   warren_conformance --check [--categories-file FILE] [--timeout SECONDS]
//                      DIR|FILE...
//       runs every case and compares with its `expect`, as check.py does;
//       exit 0 only when nothing failed.
//
// Owns argument parsing only; scenario_runner runs, case_checker compares.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "case_checker.h"
#include "json_codec.h"
#include "scenario_runner.h"

namespace {

using warren::conformance::Json;

constexpr int kUsageError = 2;

int Usage() {
  std::cerr << "usage: warren_conformance SCENARIO.json\n"
               "       warren_conformance --check [--categories-file FILE] "
               "[--timeout SECONDS] DIR|FILE...\n";
  return kUsageError;
}

int RunOne(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in) {
    std::cerr << "warren_conformance: cannot read " << path << "\n";
    return kUsageError;
  }
  Json scenario = Json::parse(text.str(), nullptr, false);
  if (scenario.is_discarded()) {
    std::cerr << "warren_conformance: " << path << " is not JSON\n";
    return kUsageError;
  }
  absl::StatusOr<Json> observations = warren::conformance::RunScenario(scenario);
  if (!observations.ok()) {
    std::cerr << "warren_conformance: " << path << ": "
              << observations.status().message() << "\n";
    return kUsageError;
  }
  std::cout << warren::conformance::Dump(*observations) << std::endl;
  return 0;
}

int Check(const std::vector<std::string_view>& args) {
  warren::conformance::CheckOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    bool has_value = i + 1 < args.size();
    if (args[i] == "--categories-file" && has_value) {
      options.categories_file = std::string(args[++i]);
    } else if (args[i] == "--timeout" && has_value) {
      char* end = nullptr;
      std::string seconds(args[++i]);
      double value = std::strtod(seconds.c_str(), &end);
      if (end == seconds.c_str() || *end != '\0' || value <= 0) return Usage();
      options.timeout = absl::Seconds(value);
    } else if (args[i].starts_with("--")) {
      return Usage();
    } else {
      options.inputs.emplace_back(std::string(args[i]));
    }
  }
  if (options.inputs.empty()) return Usage();
  return warren::conformance::CheckCases(options);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--check") {
    return Check(std::vector<std::string_view>(args.begin() + 1, args.end()));
  }
  if (args.size() != 1 || args[0].starts_with("--")) return Usage();
  return RunOne(std::string(args[0]));
}
