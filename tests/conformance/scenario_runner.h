// tests/conformance/scenario_runner.h: runs one conformance scenario
// (shared/conformance/FORMAT.md) against a fresh in-process warren broker
// or a live RabbitMQ through warren's AMQP backend.
//
// Owns the mapping of scenario steps onto warren's Channel API and the
// bookkeeping FORMAT.md asks of a driver: lazily opened connections and
// channels, "@NAME" aliases, deliveries collected per channel name. It never
// reads a scenario's `expect` (the checker compares).
//
// In-process, the broker runs with Dispatch::kManual on a ManualClock: a
// `sleep` step advances the clock instead of sleeping, and the runner calls
// ProcessEvents() after every step, so a run is deterministic and takes no
// wall-clock time. Against a live broker (RunOptions::url) it does what
// shared/conformance/oracle.py did when recording: every channel in confirm
// mode and every publish waited for, a round trip after each ack, nack and
// reject, and real waits for `sleep` and `deliveries` (see backend.h).
#ifndef WARREN_TESTS_CONFORMANCE_SCENARIO_RUNNER_H_
#define WARREN_TESTS_CONFORMANCE_SCENARIO_RUNNER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "json_codec.h"

namespace warren::conformance {

// kInvalidArgument when `scenario` is not a scenario this driver can run: no
// `steps` array, a step that is not an object or has an unknown `op`.
absl::Status ValidateScenario(const Json& scenario);

struct RunOptions {
  // Empty: a fresh in-process broker. Else the amqp:// URL of a live broker,
  // naming a virtual host that exists and is empty.
  std::string url;
};

// Runs the steps of `scenario` and returns one observation per step (a JSON
// array). Refusals by the broker are observations, not errors; errors are
// those of ValidateScenario and a broker that cannot be created.
absl::StatusOr<Json> RunScenario(const Json& scenario, const RunOptions& options = {});

}  // namespace warren::conformance

#endif  // WARREN_TESTS_CONFORMANCE_SCENARIO_RUNNER_H_
