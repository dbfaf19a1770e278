// examples/tutorials/5_topics.cc: RabbitMQ tutorial 5, "Topics", against
// warren.
//
// emit_log_topic.py publishes to the topic exchange "topic_logs" with keys
// "<facility>.<severity>"; each receive_logs_topic.py binds its server-named
// exclusive queue with patterns, where "*" stands for exactly one word and "#"
// for zero or more. Three receivers run here: "kern.*", "*.critical" and "#".
// The program waits until each has exactly the messages its pattern matches
// and exits 0.

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
  std::string routing_key;
  std::string text;
};

// "kern.critical" goes last, as every receiver wants it: a line routed to the
// wrong receiver would reach it first (see Inbox::Expect).
const std::vector<LogLine> kLogLines = {
    {"cron.info", "job started"},
    {"kern.info", "usb device attached"},
    {"cron.critical", "job lost its lock"},
    {"kern.disk.critical", "three words: '*' matches one, so only '#' takes it"},
    {"kern.critical", "A critical kernel error"}};

struct LogReceiver {
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
};

// receive_logs_topic.py, bound with one pattern (the tutorial's takes
// several, one binding each).
LogReceiver ReceiveLogs(warren::Broker& broker, const std::string& pattern,
                        examples::Inbox& inbox) {
  LogReceiver receiver;
  receiver.connection = Check(broker.Connect(), "connect a receiver");
  receiver.channel = Check(receiver.connection->OpenChannel(), "open a receiver's channel");
  warren::Channel& channel = *receiver.channel;
  Check(channel.ExchangeDeclare("topic_logs", warren::kTopic), "declare 'topic_logs'");
  warren::QueueDeclareResult queue =
      Check(channel.QueueDeclare("", {.exclusive = true}), "declare a server-named queue");
  Check(channel.QueueBind(queue.queue, "topic_logs", pattern), "bind a pattern");
  Check(channel.BasicConsume(queue.queue,
                             [pattern, &inbox](const warren::Delivery& delivery) {
                               std::string line = delivery.routing_key + ":" +
                                                  std::string(delivery.message.body());
                               std::printf(" [%s] %s\n", pattern.c_str(), line.c_str());
                               inbox.Add(std::move(line));
                             },
                             {.no_ack = true}),
        "consume logs");
  std::printf(" [%s] Waiting for logs on %s\n", pattern.c_str(), queue.queue.c_str());
  return receiver;
}

// The lines published with one of `routing_keys`, in publish order: what a
// receiver whose pattern matches exactly those keys must get.
std::vector<std::string> LinesWithKeys(const std::vector<std::string>& routing_keys) {
  std::vector<std::string> lines;
  for (const LogLine& line : kLogLines) {
    for (const std::string& key : routing_keys) {
      if (line.routing_key == key) lines.push_back(line.routing_key + ":" + line.text);
    }
  }
  return lines;
}

}  // namespace

int main() {
  // Declared before the broker so that they outlive it: destroying the
  // broker waits for the callbacks that write here.
  examples::Inbox kern_inbox;
  examples::Inbox critical_inbox;
  examples::Inbox all_inbox;
  auto broker = Check(warren::Broker::Create(), "create the broker");

  LogReceiver kern = ReceiveLogs(*broker, "kern.*", kern_inbox);
  LogReceiver critical = ReceiveLogs(*broker, "*.critical", critical_inbox);
  LogReceiver all = ReceiveLogs(*broker, "#", all_inbox);

  // emit_log_topic.py, once per line.
  auto emitter = Check(broker->Connect(), "connect the emitter");
  auto channel = Check(emitter->OpenChannel(), "open the emitter's channel");
  Check(channel->ExchangeDeclare("topic_logs", warren::kTopic), "declare 'topic_logs'");
  for (const LogLine& line : kLogLines) {
    Check(channel->BasicPublish("topic_logs", line.routing_key, warren::Message(line.text)),
          "publish a log line");
    std::printf(" [x] Sent %s:%s\n", line.routing_key.c_str(), line.text.c_str());
  }
  Check(emitter->Close(), "close the emitter");

  bool kern_ok =
      kern_inbox.Expect("receiver 'kern.*'", LinesWithKeys({"kern.info", "kern.critical"}));
  bool critical_ok = critical_inbox.Expect("receiver '*.critical'",
                                           LinesWithKeys({"cron.critical", "kern.critical"}));
  bool all_ok =
      all_inbox.Expect("receiver '#'", LinesWithKeys({"cron.info", "kern.info", "cron.critical",
                                                      "kern.disk.critical", "kern.critical"}));
  if (!kern_ok || !critical_ok || !all_ok) return 1;
  std::printf("'kern.*' got 2 lines, '*.critical' got 2, '#' got all %zu\n", kLogLines.size());
  for (LogReceiver* receiver : {&kern, &critical, &all}) {
    Check(receiver->connection->Close(), "close a receiver");
  }
  return 0;
}
