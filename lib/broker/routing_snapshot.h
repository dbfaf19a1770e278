// RoutingSnapshot: an immutable picture of one virtual host's exchanges,
// bindings and queues, made for publishers to route with no lock. The
// virtual host builds a new one after topology changes; a publisher keeps the
// one it has until the host's version number moves.
//
// Owns the routing algorithm (default exchange, exchange-to-exchange
// bindings, alternate exchanges, de-duplication). It must not change queues:
// it only names them.
#ifndef WARREN_LIB_BROKER_ROUTING_SNAPSHOT_H_
#define WARREN_LIB_BROKER_ROUTING_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "queue/queue.h"
#include "routing/router.h"
#include "warren/field_table.h"

namespace warren::broker {

// Destination ids of exchanges have this bit set; queue ids do not.
inline constexpr routing::DestinationId kExchangeBit = 0x80000000u;

struct ExchangeRoute {
  routing::DestinationId id = 0;
  std::string name;
  bool internal = false;
  std::optional<std::string> alternate;  // alternate-exchange argument
  std::shared_ptr<const routing::Router> router;
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
  absl::flat_hash_map<std::string, std::shared_ptr<const ExchangeRoute>> exchanges_by_name;
  absl::flat_hash_map<routing::DestinationId, std::shared_ptr<const ExchangeRoute>> exchanges;
  absl::flat_hash_map<std::string, std::shared_ptr<queue::Queue>> queues_by_name;
  absl::flat_hash_map<routing::DestinationId, std::shared_ptr<queue::Queue>> queues;
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_ROUTING_SNAPSHOT_H_
