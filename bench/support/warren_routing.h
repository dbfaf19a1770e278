// Routing cost per publish against many bindings, for topic and headers
// exchanges. Binding i of n goes to one of ten queues and matches only its
// own messages (topic "region<i%10>.svc<i>.*"; headers x-match all on
// region and svc); the published message matches binding 3 alone.
//
// Owns these fixtures. Uses lib/ internals for one thing only: a
// RoutingSnapshot built by hand, to time the route alone, which a publish
// through the API hides behind the route its channel keeps.
#ifndef WARREN_BENCH_SUPPORT_WARREN_ROUTING_H_
#define WARREN_BENCH_SUPPORT_WARREN_ROUTING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "support/harness.h"

namespace warren_bench {

// Routes `n` messages through a RoutingSnapshot holding one exchange of
// `type` with `bindings` bindings, as BasicPublish does for each publish
// (a key list, a cleared target list, RoutingSnapshot::Route), and nothing
// else of a publish. Built once per (type, bindings) in the process; null
// with *error when the route does not reach exactly one queue.
std::function<void(int64_t)> SnapshotRouteOp(std::string_view type, int bindings,
                                             std::string* error);

// BasicPublish through the public API to an exchange of `type` with
// `bindings` bindings, onto queues that refuse every message (x-max-length
// 0, reject-publish), so that each publish costs routing and the hand-off to
// the queue and nothing accumulates. Built once per (type, bindings).
std::function<void(int64_t)> PublishRoutedOp(std::string_view type, int bindings,
                                             std::string* error);

// Seconds per QueueBind when `bindings` bindings are added to a fresh
// exchange of `type`.
double SecondsPerBind(std::string_view type, int bindings);

}  // namespace warren_bench

#endif  // WARREN_BENCH_SUPPORT_WARREN_ROUTING_H_
