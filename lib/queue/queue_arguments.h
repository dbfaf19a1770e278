// QueueArguments: the x- arguments of queue.declare, validated and parsed the
// way RabbitMQ 3.10 does, and the equivalence check of a redeclare.
//
// Pure functions of a FieldTable; must not touch queue state.
#ifndef WARREN_LIB_QUEUE_QUEUE_ARGUMENTS_H_
#define WARREN_LIB_QUEUE_QUEUE_ARGUMENTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "warren/field_table.h"

namespace warren::queue {

enum class Overflow { kDropHead, kRejectPublish, kRejectPublishDlx };

struct QueueArguments {
  std::optional<absl::Duration> message_ttl;  // x-message-ttl
  std::optional<absl::Duration> expires;      // x-expires
  std::optional<int64_t> max_length;          // x-max-length
  std::optional<int64_t> max_length_bytes;    // x-max-length-bytes
  Overflow overflow = Overflow::kDropHead;    // x-overflow
  std::optional<std::string> dead_letter_exchange;     // x-dead-letter-exchange
  std::optional<std::string> dead_letter_routing_key;  // x-dead-letter-routing-key
  int max_priority = 0;                       // x-max-priority, 0: FIFO
  bool single_active_consumer = false;        // x-single-active-consumer
  bool quorum = false;                        // x-queue-type quorum
  std::optional<int64_t> delivery_limit;      // x-delivery-limit (quorum)
};

// Validates `arguments` of the queue `queue_name` in `vhost`. Errors: 406
// PRECONDITION_FAILED naming the argument and the reason, as RabbitMQ words it.
absl::StatusOr<QueueArguments> ParseQueueArguments(const FieldTable& arguments,
                                                   std::string_view queue_name,
                                                   std::string_view vhost);

// RabbitMQ's longest TTL, x-expires and expiration: ten years, in ms.
inline constexpr int64_t kMaxExpiryMs = 315360000000;

// The expiration property in milliseconds as RabbitMQ reads it (an
// optional sign, decimal digits, nothing after them; from 0 to
// kMaxExpiryMs); nullopt when RabbitMQ refuses it.
std::optional<int64_t> ParseExpiration(std::string_view expiration);

// Errors: 406 when a redeclare's `requested` arguments differ from the
// `existing` ones in an argument RabbitMQ compares (integers of any width are
// equal by value).
absl::Status CheckEquivalentArguments(const FieldTable& existing,
                                      const FieldTable& requested,
                                      std::string_view queue_name,
                                      std::string_view vhost);

}  // namespace warren::queue

#endif  // WARREN_LIB_QUEUE_QUEUE_ARGUMENTS_H_
