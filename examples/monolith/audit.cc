// examples/monolith/audit.cc: the audit module's event handling. Touches the
// broker only through its own BusLink.

#include "audit.h"

#include <utility>

namespace monolith {
namespace {

constexpr std::string_view kModule = "audit";
constexpr std::string_view kAuditQueue = "audit";
// Recording an event is cheap: let a batch be in flight.
constexpr uint16_t kPrefetch = 50;

}  // namespace

absl::StatusOr<std::unique_ptr<Audit>> Audit::Start(std::string_view bus_url,
                                                    std::function<void()> on_progress) {
  absl::StatusOr<BusLink> link = ConnectAndSubscribe(bus_url, kAuditQueue, {"#"}, kPrefetch);
  if (!link.ok()) return link.status();
  std::unique_ptr<Audit> audit(new Audit(*std::move(link), std::move(on_progress)));
  absl::StatusOr<std::string> consumer = audit->link_.channel->BasicConsume(
      kAuditQueue,
      [self = audit.get()](const warren::Delivery& delivery) { self->OnEvent(delivery); });
  if (!consumer.ok()) return consumer.status();
  return audit;
}

Audit::Audit(BusLink link, std::function<void()> on_progress)
    : link_(std::move(link)), on_progress_(std::move(on_progress)) {}

void Audit::OnEvent(const warren::Delivery& delivery) {
  absl::Status acked = link_.channel->BasicAck(delivery.delivery_tag);
  if (!acked.ok()) ReportError(kModule, "acking an event", acked);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.events_by_routing_key[delivery.routing_key];
    ++stats_.events_seen;
  }
  on_progress_();
}

Audit::Stats Audit::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace monolith
