// warren/stats.h: the broker's own figures — counters per queue and per
// exchange, the message bodies it holds, and how long messages take from
// basic.publish to their consumer's callback — cheap enough to leave on.
//
// Example:
//
//   warren::BrokerStats stats = broker->Stats();
//   std::fputs(stats.ToTable().c_str(), stdout);
//   for (const warren::QueueStats& q : stats.queues) {
//     if (q.depth > 10000) Alert(q.name);
//   }
//
// Counters run from the queue's or exchange's creation and are read without
// stopping traffic: a snapshot taken while messages move is consistent per
// queue, not across queues. What they cost is measured in bench/ (see
// bench/README.md).
#ifndef WARREN_STATS_H_
#define WARREN_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace warren {

// One queue's counters since it was declared, and its state now.
struct QueueStats {
  std::string vhost;
  std::string name;
  uint64_t published = 0;      // messages the queue took in (routed and accepted)
  uint64_t delivered = 0;      // to consumers and basic.get, redeliveries included
  uint64_t acked = 0;          // settled by basic.ack
  uint64_t requeued = 0;       // back in the queue by nack/reject/recover/close
  uint64_t dead_lettered = 0;  // left for the dead-letter exchange (any reason)
  uint64_t dropped = 0;        // left without a dead-letter exchange to go to, or purged
  uint64_t depth = 0;          // ready now
  uint64_t unacked = 0;        // delivered, not settled yet
  uint64_t consumers = 0;
  uint64_t bytes = 0;          // bodies held: ready and unacked
};

// One exchange's counters since it was declared; the default exchange ("")
// and the predeclared amq.* exchanges have theirs too.
struct ExchangeStats {
  std::string vhost;
  std::string name;            // "" for the default exchange
  uint64_t published = 0;      // by clients (dead letters not counted)
  uint64_t routed = 0;         // reached at least one queue
  uint64_t unroutable = 0;     // reached none
  uint64_t returned = 0;       // unroutable and mandatory: basic.return
};

// Publish-to-callback latency: from the BasicPublish call to the start of a
// consumer's callback, for one message in every 16 a channel publishes.
// Percentiles of every sample since the broker was created, each rounded up
// to the bound of its histogram bucket (log-linear) but never past max; all
// zero before the first sample.
struct LatencyStats {
  uint64_t samples = 0;
  absl::Duration p50;
  absl::Duration p90;
  absl::Duration p99;
  absl::Duration p999;
  absl::Duration max;
};

// What Broker::Stats() returns: a copy, taken at the call, of every virtual
// host's queues and exchanges and the broker-wide figures.
struct BrokerStats {
  std::vector<QueueStats> queues;        // by vhost, then name
  std::vector<ExchangeStats> exchanges;  // by vhost, then name
  LatencyStats publish_to_deliver;
  uint64_t memory_bytes = 0;  // bodies held in queues (BrokerOptions::memory_limit_bytes)
  uint64_t memory_limit_bytes = 0;

  // The figures as aligned text tables, one line per queue and exchange,
  // then the latency percentiles and the memory held.
  std::string ToTable() const;
};

}  // namespace warren

#endif  // WARREN_STATS_H_
