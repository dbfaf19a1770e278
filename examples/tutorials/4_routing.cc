// examples/tutorials/4_routing.cc: RabbitMQ tutorial 4, "Routing", against
// warren.
//
// emit_log_direct.py publishes to the direct exchange "direct_logs" with the
// severity as routing key; each receive_logs_direct.py binds its server-named
// exclusive queue once per severity it wants. One receiver saves only errors
// to disk, another prints info, warning and error; nobody wants debug. Here
// they are three connections of one process; the program waits until each
// receiver has exactly its severities and exits 0.

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "example_support.h"
#include "warren/broker.h"

using examples::Check;

namespace {

struct LogLine {
  std::string severity;
  std::string text;
};

// Errors are published last, so that a line routed to the wrong receiver
// would reach it before the error it waits for (see Inbox::Expect).
const std::vector<LogLine> kLogLines = {{"debug", "cache warmed"},
                                        {"info", "Hello World!"},
                                        {"warning", "disk 90% full"},
                                        {"error", "cannot write the report"}};

struct LogReceiver {
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
};

// receive_logs_direct.py: one binding per wanted severity.
LogReceiver ReceiveLogs(warren::Broker& broker, const std::string& name,
                        const std::vector<std::string>& severities, examples::Inbox& inbox) {
  LogReceiver receiver;
  receiver.connection = Check(broker.Connect(), "connect a receiver");
  receiver.channel = Check(receiver.connection->OpenChannel(), "open a receiver's channel");
  warren::Channel& channel = *receiver.channel;
  Check(channel.ExchangeDeclare("direct_logs", warren::kDirect), "declare 'direct_logs'");
  warren::QueueDeclareResult queue =
      Check(channel.QueueDeclare("", {.exclusive = true}), "declare a server-named queue");
  for (const std::string& severity : severities) {
    Check(channel.QueueBind(queue.queue, "direct_logs", severity), "bind a severity");
  }
  Check(channel.BasicConsume(queue.queue,
                             [name, &inbox](const warren::Delivery& delivery) {
                               std::string line = delivery.routing_key + ":" +
                                                  std::string(delivery.message.body());
                               std::printf(" [%s] %s\n", name.c_str(), line.c_str());
                               inbox.Add(std::move(line));
                             },
                             {.no_ack = true}),
        "consume logs");
  std::printf(" [%s] Waiting for logs on %s\n", name.c_str(), queue.queue.c_str());
  return receiver;
}

}  // namespace

int main() {
  // Declared before the broker so that they outlive it: destroying the
  // broker waits for the callbacks that write here.
  examples::Inbox disk_inbox;
  examples::Inbox screen_inbox;
  auto broker = Check(warren::Broker::Create(), "create the broker");

  LogReceiver disk = ReceiveLogs(*broker, "to disk", {"error"}, disk_inbox);
  LogReceiver screen =
      ReceiveLogs(*broker, "to screen", {"info", "warning", "error"}, screen_inbox);

  // emit_log_direct.py, once per line.
  auto emitter = Check(broker->Connect(), "connect the emitter");
  auto channel = Check(emitter->OpenChannel(), "open the emitter's channel");
  Check(channel->ExchangeDeclare("direct_logs", warren::kDirect), "declare 'direct_logs'");
  for (const LogLine& line : kLogLines) {
    Check(channel->BasicPublish("direct_logs", line.severity, warren::Message(line.text)),
          "publish a log line");
    std::printf(" [x] Sent %s:%s\n", line.severity.c_str(), line.text.c_str());
  }
  Check(emitter->Close(), "close the emitter");

  bool disk_ok = disk_inbox.Expect("receiver 'to disk'", {"error:cannot write the report"});
  bool screen_ok = screen_inbox.Expect(
      "receiver 'to screen'",
      {"info:Hello World!", "warning:disk 90% full", "error:cannot write the report"});
  if (!disk_ok || !screen_ok) return 1;
  std::printf("'to disk' got the error only, 'to screen' got info, warning and error\n");
  Check(disk.connection->Close(), "close receiver 'to disk'");
  Check(screen.connection->Close(), "close receiver 'to screen'");
  return 0;
}
