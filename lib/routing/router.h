// lib/routing/router.h: the routing table of one exchange, built from its
// bindings, as RabbitMQ 3.10's four exchange types route.
//
// Owns: matching a message (routing key, headers) against the bindings of one
// exchange. Must not touch: everything around that, which belongs to the
// broker core (lib/broker/): the default exchange, CC/BCC routing keys,
// exchange-to-exchange forwarding, alternate exchanges, de-duplicating
// destinations, binding identity and (un)bind bookkeeping.
//
// Example:
//
//   BindingList bindings = {{.destination = 7, .key = "orders.*"}};
//   absl::StatusOr<std::unique_ptr<const Router>> router =
//       MakeRouter("topic", bindings);
//   std::vector<DestinationId> matched;
//   (*router)->Route("orders.eu", /*headers=*/nullptr, &matched);  // {7}
//
// Thread-safety: a Router never changes after construction; any number of
// threads may call Route() at once. A change of bindings means a new Router.
// A lazy router (MakeLazyRouter) builds its table on the first Route() of any
// thread, without a lock: threads that race there each build one, one table
// is kept and none of them waits for another.
#ifndef WARREN_LIB_ROUTING_ROUTER_H_
#define WARREN_LIB_ROUTING_ROUTER_H_

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routing/binding_list.h"
#include "warren/field_table.h"

namespace warren::routing {

// An immutable routing table for one exchange.
class Router {
 public:
  virtual ~Router() = default;

  // Appends to *out every destination whose binding matches the message. A
  // destination may appear more than once (for example when two of its
  // bindings match); the caller de-duplicates. `headers` may be nullptr, which
  // means the same as an empty table.
  virtual void Route(std::string_view routing_key, const FieldTable* headers,
                     std::vector<DestinationId>* out) const = 0;
};

// True for the exchange types RabbitMQ 3.10 has without plugins: "direct",
// "fanout", "topic" and "headers" (case-sensitive).
bool IsExchangeType(std::string_view type);

// Builds the router of an exchange of `type` from its bindings.
// Errors: kInvalidArgument when IsExchangeType(type) is false.
absl::StatusOr<std::unique_ptr<const Router>> MakeRouter(std::string_view type,
                                                         const BindingList& bindings);

// The same router, built when it first routes a message rather than now, so
// that a change of bindings costs nothing until a message needs them.
// Errors: as MakeRouter's, reported now.
absl::StatusOr<std::unique_ptr<const Router>> MakeLazyRouter(std::string_view type,
                                                             BindingList bindings);

// Validates the arguments of a binding to a headers exchange as RabbitMQ does
// at bind time: an absent x-match is fine; otherwise it must be a long string
// "all", "any", "all-with-x" or "any-with-x". Anything else is refused with
// 406 PRECONDITION_FAILED (warren::AmqpError). Other exchange types accept any
// binding arguments.
absl::Status ValidateHeadersBinding(const FieldTable& arguments);

}  // namespace warren::routing

#endif  // WARREN_LIB_ROUTING_ROUTER_H_
