// lib/stats.cc: BrokerStats as text (warren/stats.h).
//
// Owns only the layout of the table; the figures are gathered by the broker.
#include "warren/stats.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "string_view.h"

namespace warren {
namespace {

std::string Where(const std::string& vhost, const std::string& name, std::string_view unnamed) {
  return StrCat(vhost, " ", name.empty() ? unnamed : std::string_view(name));
}

template <typename Row>
size_t NameWidth(const std::vector<Row>& rows, std::string_view heading,
                 std::string_view unnamed) {
  size_t width = heading.size();
  for (const Row& r : rows) width = std::max(width, Where(r.vhost, r.name, unnamed).size());
  return width;
}

}  // namespace

std::string BrokerStats::ToTable() const {
  std::string out;
  const int q = static_cast<int>(NameWidth(queues, "queue", ""));
  absl::StrAppendFormat(&out, "%-*s %10s %10s %10s %9s %9s %9s %9s %9s %9s %12s\n", q, "queue",
                        "published", "delivered", "acked", "requeued", "dead-lett", "dropped",
                        "depth", "unacked", "consumers", "bytes");
  for (const QueueStats& s : queues) {
    absl::StrAppendFormat(&out, "%-*s %10d %10d %10d %9d %9d %9d %9d %9d %9d %12d\n", q,
                          Where(s.vhost, s.name, ""), s.published, s.delivered, s.acked,
                          s.requeued, s.dead_lettered, s.dropped, s.depth, s.unacked,
                          s.consumers, s.bytes);
  }
  const int x = static_cast<int>(NameWidth(exchanges, "exchange", "(default)"));
  absl::StrAppendFormat(&out, "\n%-*s %10s %10s %10s %10s\n", x, "exchange", "published",
                        "routed", "unroutable", "returned");
  for (const ExchangeStats& s : exchanges) {
    absl::StrAppendFormat(&out, "%-*s %10d %10d %10d %10d\n", x,
                          Where(s.vhost, s.name, "(default)"), s.published, s.routed,
                          s.unroutable, s.returned);
  }
  const LatencyStats& l = publish_to_deliver;
  absl::StrAppendFormat(&out,
                        "\npublish to callback: %d samples; p50 %s, p90 %s, p99 %s, p99.9 %s, "
                        "max %s\n",
                        l.samples, absl::FormatDuration(l.p50), absl::FormatDuration(l.p90),
                        absl::FormatDuration(l.p99), absl::FormatDuration(l.p999),
                        absl::FormatDuration(l.max));
  absl::StrAppendFormat(&out, "memory: %d bytes of messages held", memory_bytes);
  if (memory_limit_bytes != 0) absl::StrAppendFormat(&out, " (limit %d)", memory_limit_bytes);
  out += "\n";
  return out;
}

}  // namespace warren
