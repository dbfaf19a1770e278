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
// With `--url amqp://USER:PASS@HOST:PORT/ [--node NODE]` before the rest,
// both run against that live RabbitMQ through warren's AMQP backend instead,
// each scenario in a virtual host of its own, created and deleted with
// `rabbitmqctl -n NODE` (default rabbit@localhost) as oracle.py does; --check
// creates them all in one go and hands each child its own
// (`--vhost-prefix`). `--live` takes the URL and node from WARREN_AMQP_URL
// and WARREN_RABBITMQ_NODE, as the amqp_* unit tests do, with the same
// defaults (amqp://guest:guest@127.0.0.1:5672/, rabbit@localhost).
//
// Owns argument parsing and the live vhosts' lifetime; scenario_runner runs,
// case_checker compares.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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
#include "live_vhosts.h"
#include "scenario_runner.h"

namespace {

using warren::conformance::Json;

constexpr int kUsageError = 2;

int Usage() {
  std::cerr << "usage: warren_conformance [LIVE] SCENARIO.json\n"
               "       warren_conformance --check [LIVE] [--categories-file FILE] "
               "[--timeout SECONDS] DIR|FILE...\n"
               "LIVE:  --url amqp://USER:PASS@HOST:PORT/ [--node NODE] "
               "[--vhost-prefix PREFIX] | --live\n";
  return kUsageError;
}

// Where scenarios run: in-process when `broker.url` is empty.
struct Target {
  warren::conformance::LiveBroker broker;
  // Set: the vhost of scenario X exists already as PREFIX + X's file stem.
  std::string vhost_prefix;
};

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Takes --url, --node, --live and --vhost-prefix out of `args`. False on a
// bad one.
bool ParseTarget(std::vector<std::string_view>& args, Target* target) {
  std::vector<std::string_view> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--live") {
      target->broker.url = EnvOr("WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/");
      target->broker.node = EnvOr("WARREN_RABBITMQ_NODE", "rabbit@localhost");
    } else if (args[i] == "--url" && has_value) {
      target->broker.url = std::string(args[++i]);
    } else if (args[i] == "--node" && has_value) {
      target->broker.node = std::string(args[++i]);
    } else if (args[i] == "--vhost-prefix" && has_value) {
      target->vhost_prefix = std::string(args[++i]);
    } else {
      rest.push_back(args[i]);
    }
  }
  args = rest;
  return target->broker.url.empty() ||
         target->broker.url.starts_with("amqp://") || target->broker.url.starts_with("amqps://");
}

std::string OwnVhostPrefix() { return "warren-conformance-" + std::to_string(getpid()) + "-"; }

int RunOne(const std::string& path, const Target& target) {
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
  warren::conformance::RunOptions options;
  std::string own_vhost;
  if (!target.broker.url.empty()) {
    std::string vhost;
    if (!target.vhost_prefix.empty()) {
      vhost = target.vhost_prefix + std::filesystem::path(path).stem().string();
    } else {
      own_vhost = vhost = OwnVhostPrefix() + "0";
      if (absl::Status s = warren::conformance::AddVhosts(target.broker, {vhost}); !s.ok()) {
        std::cerr << "warren_conformance: " << s.message() << "\n";
        return kUsageError;
      }
    }
    options.url = warren::conformance::UrlWithVhost(target.broker, vhost);
  }
  absl::StatusOr<Json> observations = warren::conformance::RunScenario(scenario, options);
  if (!own_vhost.empty()) {
    warren::conformance::DeleteVhosts(target.broker, {own_vhost}).IgnoreError();
  }
  if (!observations.ok()) {
    std::cerr << "warren_conformance: " << path << ": "
              << observations.status().message() << "\n";
    return kUsageError;
  }
  std::cout << warren::conformance::Dump(*observations) << std::endl;
  return 0;
}

int Check(const std::vector<std::string_view>& args, const Target& target) {
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
  if (target.broker.url.empty()) return warren::conformance::CheckCases(options);

  // One vhost per case, made in one rabbitmqctl call and removed in another.
  absl::StatusOr<std::vector<std::filesystem::path>> cases =
      warren::conformance::SelectCases(options);
  if (!cases.ok()) {
    std::cerr << "warren_conformance: " << cases.status().message() << "\n";
    return kUsageError;
  }
  const std::string prefix = OwnVhostPrefix();
  std::vector<std::string> vhosts;
  for (const std::filesystem::path& path : *cases) vhosts.push_back(prefix + path.stem().string());
  if (absl::Status s = warren::conformance::AddVhosts(target.broker, vhosts); !s.ok()) {
    std::cerr << "warren_conformance: " << s.message() << "\n";
    return kUsageError;
  }
  options.driver_args = {"--url", target.broker.url, "--node", target.broker.node,
                         "--vhost-prefix", prefix};
  const int result = warren::conformance::CheckCases(options);
  if (absl::Status s = warren::conformance::DeleteVhosts(target.broker, vhosts); !s.ok()) {
    std::cerr << "warren_conformance: " << s.message() << "\n";
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  Target target;
  if (!ParseTarget(args, &target)) return Usage();
  if (!args.empty() && args[0] == "--check") {
    return Check(std::vector<std::string_view>(args.begin() + 1, args.end()), target);
  }
  if (args.size() != 1 || args[0].starts_with("--")) return Usage();
  return RunOne(std::string(args[0]), target);
}
