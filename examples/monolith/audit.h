// examples/monolith/audit.h: the audit module. Its queue is bound with "#",
// so the topic exchange fans every event out to it as well as to the module
// that acts on it; it keeps a count per routing key.
//
// It talks to the other modules only through the event bus (event_bus.h),
// over its own connection.
#ifndef WARREN_EXAMPLES_MONOLITH_AUDIT_H_
#define WARREN_EXAMPLES_MONOLITH_AUDIT_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "event_bus.h"
#include "warren/channel.h"

namespace monolith {

class Audit {
 public:
  struct Stats {
    std::map<std::string, int> events_by_routing_key;
    int events_seen = 0;  // acked; counted last
  };

  // Connects to the broker at `bus_url`, subscribes to every event and starts
  // consuming. `on_progress` is called after each event the module acks,
  // from a dispatcher thread.
  static absl::StatusOr<std::unique_ptr<Audit>> Start(std::string_view bus_url,
                                                      std::function<void()> on_progress);

  Stats stats() const;

 private:
  Audit(BusLink link, std::function<void()> on_progress);
  void OnEvent(const warren::Delivery& delivery);

  const BusLink link_;
  const std::function<void()> on_progress_;
  mutable std::mutex mu_;
  Stats stats_;
};

}  // namespace monolith

#endif  // WARREN_EXAMPLES_MONOLITH_AUDIT_H_
