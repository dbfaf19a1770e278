// find_package_consumer: proves an installed warren is usable through its
// public headers and CMake package alone. Publishes one message to a queue,
// gets it back, prints it, and exits 0 only if it came back intact. Must use
// nothing but include/warren/.
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "warren/broker.h"

namespace {

int Fail(const char* step, const absl::Status& status) {
  std::fprintf(stderr, "%s failed: %s\n", step, status.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  const std::string sent = "hello from an installed warren";

  auto broker = warren::Broker::Create();
  if (!broker.ok()) return Fail("Broker::Create", broker.status());
  auto connection = (*broker)->Connect();
  if (!connection.ok()) return Fail("Connect", connection.status());
  auto channel = (*connection)->OpenChannel();
  if (!channel.ok()) return Fail("OpenChannel", channel.status());

  auto declared = (*channel)->QueueDeclare("find_package_consumer");
  if (!declared.ok()) return Fail("QueueDeclare", declared.status());
  absl::Status published =
      (*channel)->BasicPublish("", declared->queue, warren::Message(sent));
  if (!published.ok()) return Fail("BasicPublish", published);

  auto got = (*channel)->BasicGet(declared->queue, {.no_ack = true});
  if (!got.ok()) return Fail("BasicGet", got.status());
  if (!got->has_value()) {
    std::fprintf(stderr, "BasicGet found the queue empty\n");
    return 1;
  }
  const std::string received((*got)->delivery.message.body());
  std::printf("got back: %s\n", received.c_str());
  return received == sent ? 0 : 1;
}
