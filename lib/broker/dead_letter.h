// Dead-letter messages: the message a queue republishes to its dead-letter
// exchange, with the x-death history and x-first-death-* headers exactly as
// RabbitMQ 3.10 writes them.
//
// Pure functions of a message; must not route or touch queues.
#ifndef WARREN_LIB_BROKER_DEAD_LETTER_H_
#define WARREN_LIB_BROKER_DEAD_LETTER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "queue/envelope.h"
#include "queue/queue.h"
#include "warren/message.h"

namespace warren::broker {

std::string_view DeadLetterReasonName(queue::DeadLetterReason reason);

// The routing keys a message was published with: its routing key, then the
// strings of its CC header.
std::vector<std::string> PublishedRoutingKeys(const queue::Publication& publication);

// The message to republish: x-death updated (the entry for this queue and
// reason counted up and moved first, or a new one), x-first-death-* set once,
// expiration moved into the entry as original-expiration, and the CC header
// dropped when x-dead-letter-routing-key overrides the routing keys.
Message MakeDeadLetter(const queue::Publication& publication,
                       queue::DeadLetterReason reason, std::string_view queue_name,
                       bool routing_key_overridden, absl::Time wall_time);

// RabbitMQ drops a dead letter that would return to a queue it already died
// in, unless a rejection came after that death.
bool IsDeadLetterCycle(const Message& dead_letter, std::string_view target_queue);

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_DEAD_LETTER_H_
