// RoutingSnapshot: an immutable picture of one virtual host's exchanges,
// bindings and queues, made for publishers to route with no lock. The
// virtual host makes a new one with each topology change, from a copy of the
// last that shares all it did not change, and hands it over through a
// SnapshotCell; a publisher keeps the one it has until the host's version
// number moves.
//
// Owns the routing algorithm (default exchange, exchange-to-exchange
// bindings, alternate exchanges, de-duplication). It must not change queues:
// it only names them.
#ifndef WARREN_LIB_BROKER_ROUTING_SNAPSHOT_H_
#define WARREN_LIB_BROKER_ROUTING_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "broker/copy_on_write_map.h"
#include "queue/queue.h"
#include "routing/router.h"
#include "warren/field_table.h"

namespace warren::broker {

// Destination ids of exchanges have this bit set; queue ids do not.
inline constexpr routing::DestinationId kExchangeBit = 0x80000000u;

// What clients published through one exchange, for Broker::Stats; a
// publisher adds the tally of a whole publish call at once.
struct ExchangeCounters {
  struct Tally {
    uint64_t routed = 0;
    uint64_t unroutable = 0;
    uint64_t returned = 0;
  };
  void Add(const Tally& tally) {
    if (tally.routed != 0) routed.fetch_add(tally.routed, std::memory_order_relaxed);
    if (tally.unroutable != 0) unroutable.fetch_add(tally.unroutable, std::memory_order_relaxed);
    if (tally.returned != 0) returned.fetch_add(tally.returned, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> routed{0};
  std::atomic<uint64_t> unroutable{0};
  std::atomic<uint64_t> returned{0};
};

struct ExchangeRoute {
  routing::DestinationId id = 0;
  std::string name;
  bool internal = false;
  std::optional<std::string> alternate;  // alternate-exchange argument
  // Lazy (routing::MakeLazyRouter): the first publisher through a changed
  // exchange builds its table.
  std::shared_ptr<const routing::Router> router;
  std::shared_ptr<ExchangeCounters> counters;
};

class RoutingSnapshot {
 public:
  // The exchange called `name`, or nullptr.
  const ExchangeRoute* FindExchange(std::string_view name) const;

  // Appends to *out each queue the message reaches from `exchange` (which
  // must exist; "" is the default exchange) once, for any of `routing_keys`.
  void Route(const ExchangeRoute* exchange, absl::Span<const std::string_view> routing_keys,
             const FieldTable* headers,
             std::vector<std::shared_ptr<queue::Queue>>* out) const;

  // For the builder (the virtual host).
  std::shared_ptr<ExchangeCounters> default_counters;  // the default exchange's
  CopyOnWriteMap<std::string, std::shared_ptr<const ExchangeRoute>> exchanges_by_name;
  CopyOnWriteMap<routing::DestinationId, std::shared_ptr<const ExchangeRoute>> exchanges;
  CopyOnWriteMap<std::string, std::shared_ptr<queue::Queue>> queues_by_name;
  CopyOnWriteMap<routing::DestinationId, std::shared_ptr<queue::Queue>> queues;
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_ROUTING_SNAPSHOT_H_
