// tests/bad_input_calls.h: every Channel method that takes a short string
// (a name, key or tag), one entry per argument, with what RabbitMQ 3.10
// answers when that argument is empty or not UTF-8. Shared by
// bad_input_test.cc (the in-process broker) and amqp_bad_input_test.cc
// (the same table against a live RabbitMQ, which is where the answers come
// from: recorded cases where the oracle can send the input, the live test
// where it cannot, as for bytes that are not UTF-8). docs/bad-input.md lists
// them.
#ifndef WARREN_TESTS_BAD_INPUT_CALLS_H_
#define WARREN_TESTS_BAD_INPUT_CALLS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "warren/channel.h"
#include "warren/message.h"
#include "warren/status.h"

namespace warren::testing {

// What every call expects to exist, declared on another channel first:
// direct exchanges "x" and "y" and a queue "q" bound to "x" with "k".
inline absl::Status DeclareBadInputTopology(Channel& channel) {
  for (const char* exchange : {"x", "y"}) {
    if (absl::Status s = channel.ExchangeDeclare(exchange, kDirect); !s.ok()) return s;
  }
  if (absl::Status s = channel.QueueDeclare("q").status(); !s.ok()) return s;
  return channel.QueueBind("q", "x", "k");
}

struct ShortStringCall {
  const char* name;  // Method_Argument, the test's name
  // Calls the method with `s` as that argument and valid others, on a
  // channel that has declared no queue (so "" names none).
  std::function<absl::Status(Channel&, const std::string&)> call;
  ReplyCode empty;     // the answer to "" (kNone: accepted)
  ReplyCode not_utf8;  // the answer to "q\xff"
};

inline std::vector<ShortStringCall> ShortStringCalls() {
  using S = const std::string&;
  constexpr ReplyCode kOk = ReplyCode::kNone;
  constexpr ReplyCode k403 = ReplyCode::kAccessRefused;
  constexpr ReplyCode k404 = ReplyCode::kNotFound;
  constexpr ReplyCode k501 = ReplyCode::kFrameError;
  constexpr ReplyCode k503 = ReplyCode::kCommandInvalid;
  auto ignore = [](const Delivery&) {};
  return {
      {"ExchangeDeclare_Name", [](Channel& c, S s) { return c.ExchangeDeclare(s, kDirect); },
       k403, k501},
      {"ExchangeDeclare_Type", [](Channel& c, S s) { return c.ExchangeDeclare("z", s); }, k503,
       k501},
      {"ExchangeDelete_Name", [](Channel& c, S s) { return c.ExchangeDelete(s); }, k403, k501},
      {"ExchangeBind_Destination", [](Channel& c, S s) { return c.ExchangeBind(s, "x", "k"); },
       k403, k501},
      {"ExchangeBind_Source", [](Channel& c, S s) { return c.ExchangeBind("y", s, "k"); }, k403,
       k501},
      {"ExchangeBind_RoutingKey", [](Channel& c, S s) { return c.ExchangeBind("y", "x", s); },
       kOk, k501},
      {"ExchangeUnbind_Destination",
       [](Channel& c, S s) { return c.ExchangeUnbind(s, "x", "k"); }, k403, k501},
      {"ExchangeUnbind_Source", [](Channel& c, S s) { return c.ExchangeUnbind("y", s, "k"); },
       k403, k501},
      {"ExchangeUnbind_RoutingKey",
       [](Channel& c, S s) { return c.ExchangeUnbind("y", "x", s); }, kOk, k501},
      {"QueueDeclare_Name", [](Channel& c, S s) { return c.QueueDeclare(s).status(); }, kOk,
       k501},
      {"QueueBind_Queue", [](Channel& c, S s) { return c.QueueBind(s, "x", "k"); }, k404, k501},
      {"QueueBind_Exchange", [](Channel& c, S s) { return c.QueueBind("q", s, "k"); }, k403,
       k501},
      {"QueueBind_RoutingKey", [](Channel& c, S s) { return c.QueueBind("q", "x", s); }, kOk,
       k501},
      {"QueueUnbind_Queue", [](Channel& c, S s) { return c.QueueUnbind(s, "x", "k"); }, k404,
       k501},
      {"QueueUnbind_Exchange", [](Channel& c, S s) { return c.QueueUnbind("q", s, "k"); }, k403,
       k501},
      {"QueueUnbind_RoutingKey", [](Channel& c, S s) { return c.QueueUnbind("q", "x", s); }, kOk,
       k501},
      {"QueuePurge_Name", [](Channel& c, S s) { return c.QueuePurge(s).status(); }, k404, k501},
      {"QueueDelete_Name", [](Channel& c, S s) { return c.QueueDelete(s).status(); }, k404,
       k501},
      // basic.publish is the one method whose strings RabbitMQ does not
      // check: other bytes name no exchange, or route by the bytes.
      {"BasicPublish_Exchange", [](Channel& c, S s) { return c.BasicPublish(s, "q", Message()); },
       kOk, k404},
      {"BasicPublish_RoutingKey",
       [](Channel& c, S s) { return c.BasicPublish("x", s, Message()); }, kOk, kOk},
      {"BasicGet_Queue", [](Channel& c, S s) { return c.BasicGet(s).status(); }, k404, k501},
      {"BasicConsume_Queue",
       [ignore](Channel& c, S s) { return c.BasicConsume(s, ignore).status(); }, k404, k501},
      {"BasicConsume_ConsumerTag",
       [ignore](Channel& c, S s) {
         return c.BasicConsume("q", ignore, {.consumer_tag = s}).status();
       },
       kOk, k501},
      {"BasicCancel_ConsumerTag", [](Channel& c, S s) { return c.BasicCancel(s); }, kOk, k501},
  };
}

}  // namespace warren::testing

#endif  // WARREN_TESTS_BAD_INPUT_CALLS_H_
