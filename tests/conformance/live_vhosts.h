// tests/conformance/live_vhosts.h: virtual hosts of a live RabbitMQ for
// conformance runs (warren_conformance --url), created and deleted in
// batches through `rabbitmqctl eval`, as shared/conformance/oracle.py does,
// so that every scenario starts from a clean slate.
//
// Owns only talking to rabbitmqctl and building URLs; it knows nothing of
// scenarios.
#ifndef WARREN_TESTS_CONFORMANCE_LIVE_VHOSTS_H_
#define WARREN_TESTS_CONFORMANCE_LIVE_VHOSTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace warren::conformance {

struct LiveBroker {
  std::string url;                      // amqp://USER:PASS@HOST:PORT/ (vhost ignored)
  std::string node = "rabbit@localhost";  // for rabbitmqctl -n
};

// Creates the vhosts, each with every permission for the URL's user.
// Names must be made of [A-Za-z0-9._-].
absl::Status AddVhosts(const LiveBroker& broker, const std::vector<std::string>& names);
absl::Status DeleteVhosts(const LiveBroker& broker, const std::vector<std::string>& names);

// `broker.url` with its vhost replaced by `vhost`.
std::string UrlWithVhost(const LiveBroker& broker, const std::string& vhost);

}  // namespace warren::conformance

#endif  // WARREN_TESTS_CONFORMANCE_LIVE_VHOSTS_H_
