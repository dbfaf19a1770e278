// lib/routing/headers_match.h: the headers exchange's routing table.
//
// Owns: matching message headers against binding arguments, and the equality
// of typed field values that matching uses, as RabbitMQ 3.10's
// rabbit_exchange_type_headers does. Must not touch: binding bookkeeping or
// anything outside one exchange (see router.h).
//
// Rules (from rabbit_exchange_type_headers.erl, confirmed by the recorded
// headers__* cases):
//   - The binding argument "x-match" picks the mode: "all" (also when absent,
//     or, for bindings that skipped validation, when not a valid value),
//     "any", "all-with-x" or "any-with-x".
//   - The pair "x-match" itself is never matched. Under "all" and "any", the
//     other pairs whose key starts with "x-" are not matched either; under
//     "all-with-x" and "any-with-x" they are.
//   - A pair matches when the message has a header of that key and either the
//     pair's value is void (presence is enough, whatever the header's value,
//     void included) or the two values are equal by HeaderValuesEqual().
//   - "all": every matched pair must match, so no pairs match every message,
//     even one without headers. "any": at least one pair must match, so no
//     pairs match none.
//   - The routing key and the binding key play no part.
//
// Thread-safety: immutable after construction; Route() may run concurrently.
#ifndef WARREN_LIB_ROUTING_HEADERS_MATCH_H_
#define WARREN_LIB_ROUTING_HEADERS_MATCH_H_

#include <string>
#include <string_view>
#include <vector>

#include "routing/router.h"
#include "warren/field_table.h"

namespace warren::routing {

// Whether RabbitMQ's headers exchange finds a binding value and a header value
// equal. RabbitMQ decodes both into Erlang terms and compares them with
// Erlang's `==`, which forgets the AMQP type at the top level:
//   - all integer types and timestamps are integers, floats and doubles are
//     floats, and numbers compare by exact mathematical value: int8 1, int32 1,
//     int64 1, uint32 1, timestamp 1, float 1.0 and double 1.0 are all equal;
//   - long strings and byte arrays are both binaries: equal when their bytes
//     are;
//   - booleans equal booleans, void equals void; decimals are {scale,
//     unscaled} pairs, so 1.0 (scale 1) differs from 1 (scale 0) and from
//     every number;
//   - inside arrays and tables every element keeps its type tag, so there the
//     types must be the same too (an array [int32 1] differs from [int64 1]),
//     and a nested table compares entry by entry in order (RabbitMQ sorts only
//     the top level by key);
//   - an array and a table are both Erlang lists, so an empty array equals an
//     empty table (both are []) where the type is forgotten, at the top level;
//     non-empty ones never do (their elements have different shapes).
// NaN equals nothing (RabbitMQ cannot even decode a NaN from the wire).
bool HeaderValuesEqual(const FieldValue& binding_value,
                       const FieldValue& header_value);

class HeadersRouter final : public Router {
 public:
  explicit HeadersRouter(const BindingList& bindings);

  void Route(std::string_view routing_key, const FieldTable* headers,
             std::vector<DestinationId>* out) const override;

 private:
  enum class MatchMode { kAll, kAny };

  struct Pair {
    std::string key;
    FieldValue value;
  };

  struct CompiledBinding {
    DestinationId destination;
    MatchMode mode;
    // The pairs to match, with the ignored x- pairs already left out.
    std::vector<Pair> pairs;
  };

  std::vector<CompiledBinding> bindings_;
};

}  // namespace warren::routing

#endif  // WARREN_LIB_ROUTING_HEADERS_MATCH_H_
