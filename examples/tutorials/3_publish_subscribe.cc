// examples/tutorials/3_publish_subscribe.cc: RabbitMQ tutorial 3,
// "Publish/Subscribe", against warren.
//
// emit_log.py publishes to the fanout exchange "logs"; each running
// receive_logs.py gets every message through a server-named, exclusive queue
// of its own, bound to "logs". Two receivers and the emitter run here as three
// connections of one process; the program waits until both receivers have
// every log line and exits 0.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "example_support.h"
#include "warren/broker.h"

using examples::Check;

namespace {

const std::vector<std::string> kLogLines = {"info: Hello World!", "warning: disk 90% full",
                                            "error: cannot write the report"};

struct LogReceiver {
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
};

// receive_logs.py. The queue is named by the server and exclusive: nobody
// else needs its name, and it goes away with the receiver's connection.
LogReceiver ReceiveLogs(warren::Broker& broker, const std::string& name, examples::Inbox& inbox) {
  LogReceiver receiver;
  receiver.connection = Check(broker.Connect(), "connect a receiver");
  receiver.channel = Check(receiver.connection->OpenChannel(), "open a receiver's channel");
  warren::Channel& channel = *receiver.channel;
  Check(channel.ExchangeDeclare("logs", warren::kFanout), "declare exchange 'logs'");
  warren::QueueDeclareResult queue =
      Check(channel.QueueDeclare("", {.exclusive = true}), "declare a server-named queue");
  Check(channel.QueueBind(queue.queue, "logs", ""), "bind to 'logs'");
  Check(channel.BasicConsume(queue.queue,
                             [name, &inbox](const warren::Delivery& delivery) {
                               std::string line(delivery.message.body());
                               std::printf(" [%s] %s\n", name.c_str(), line.c_str());
                               inbox.Add(line);
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

  // The tutorial's two receivers: one saving logs to a file, one printing
  // them on the screen. Both see every message.
  LogReceiver disk = ReceiveLogs(*broker, "to disk", disk_inbox);
  LogReceiver screen = ReceiveLogs(*broker, "to screen", screen_inbox);

  // emit_log.py. A fanout exchange ignores the routing key.
  auto emitter = Check(broker->Connect(), "connect the emitter");
  auto channel = Check(emitter->OpenChannel(), "open the emitter's channel");
  Check(channel->ExchangeDeclare("logs", warren::kFanout), "declare exchange 'logs'");
  for (const std::string& line : kLogLines) {
    Check(channel->BasicPublish("logs", "", warren::Message(line)), "publish a log line");
    std::printf(" [x] Sent %s\n", line.c_str());
  }
  Check(emitter->Close(), "close the emitter");

  bool disk_ok = disk_inbox.Expect("receiver 'to disk'", kLogLines);
  bool screen_ok = screen_inbox.Expect("receiver 'to screen'", kLogLines);
  if (!disk_ok || !screen_ok) return 1;
  std::printf("both receivers got all %zu log lines\n", kLogLines.size());
  Check(disk.connection->Close(), "close receiver 'to disk'");
  Check(screen.connection->Close(), "close receiver 'to screen'");
  return 0;
}
