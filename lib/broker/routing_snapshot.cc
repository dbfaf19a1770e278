// RoutingSnapshot: RabbitMQ's rabbit_exchange:route/2 over an immutable
// topology: a work list of exchanges, each visited once, an exchange that
// routes nowhere handing the message to its alternate exchange.
#include "broker/routing_snapshot.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "string_view.h"

namespace warren::broker {

const ExchangeRoute* RoutingSnapshot::FindExchange(std::string_view name) const {
  const std::shared_ptr<const ExchangeRoute>* x = exchanges_by_name.Find(ToAbsl(name));
  return x == nullptr ? nullptr : x->get();
}

void RoutingSnapshot::Route(const ExchangeRoute* exchange,
                            absl::Span<const std::string_view> routing_keys,
                            const FieldTable* headers,
                            std::vector<std::shared_ptr<queue::Queue>>* out) const {
  const size_t first = out->size();
  if (exchange == nullptr) {  // the default exchange
    for (std::string_view key : routing_keys) {
      if (const std::shared_ptr<queue::Queue>* q = queues_by_name.Find(ToAbsl(key))) {
        out->push_back(*q);
      }
    }
  } else {
    // Routes seldom pass more than a few exchanges; the destination list is
    // reused by each thread, so a route allocates only to grow it.
    absl::InlinedVector<const ExchangeRoute*, 4> work{exchange};
    absl::InlinedVector<routing::DestinationId, 4> seen{exchange->id};
    thread_local std::vector<routing::DestinationId> destinations;
    while (!work.empty()) {
      const ExchangeRoute* x = work.back();
      work.pop_back();
      destinations.clear();
      for (std::string_view key : routing_keys) x->router->Route(key, headers, &destinations);
      if (destinations.empty() && x->alternate) {
        if (const ExchangeRoute* alt = FindExchange(*x->alternate)) destinations.push_back(alt->id);
      }
      for (routing::DestinationId d : destinations) {
        if (d & kExchangeBit) {
          if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
          seen.push_back(d);
          if (const std::shared_ptr<const ExchangeRoute>* next = exchanges.Find(d)) {
            work.push_back(next->get());
          }
        } else if (const std::shared_ptr<queue::Queue>* q = queues.Find(d)) {
          out->push_back(*q);
        }
      }
    }
  }
  if (out->size() - first > 1) {
    auto by_id = [](const auto& a, const auto& b) { return a->id() < b->id(); };
    std::sort(out->begin() + first, out->end(), by_id);
    out->erase(std::unique(out->begin() + first, out->end()), out->end());
  }
}

}  // namespace warren::broker
