// amqp/topology: what a connection declared — exchanges, queues and
// bindings, in declaration order — so that it can declare them again on a
// new connection after the old one dropped, and the names the broker gave
// server-named queues on each reconnect.
//
// Owns only the record, under its own leaf lock; it must not send anything
// (the Link replays it). Consumers are recorded by their channels.
#ifndef WARREN_LIB_AMQP_TOPOLOGY_H_
#define WARREN_LIB_AMQP_TOPOLOGY_H_

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "warren/channel.h"

namespace warren::amqp {

struct ExchangeRecord {
  std::string name;
  std::string type;
  ExchangeDeclareOptions options;
};

struct QueueRecord {
  std::string name;
  bool server_named = false;  // declared as "": a new name on each reconnect
  QueueDeclareOptions options;
};

struct BindingRecord {
  bool to_exchange = false;  // exchange.bind rather than queue.bind
  std::string destination;
  std::string source;
  std::string routing_key;
  FieldTable arguments;
  friend bool operator==(const BindingRecord&, const BindingRecord&) = default;
};

class Topology {
 public:
  void DeclareExchange(ExchangeRecord record);
  // Also forgets the bindings the exchange was part of.
  void DeleteExchange(std::string_view name);
  void DeclareQueue(QueueRecord record);
  // Also forgets the bindings to the queue.
  void DeleteQueue(std::string_view name);
  void Bind(BindingRecord record);
  void Unbind(const BindingRecord& record);

  std::vector<ExchangeRecord> exchanges() const;
  std::vector<QueueRecord> queues() const;
  std::vector<BindingRecord> bindings() const;

  // A server-named queue was declared again as `new_name`: records and later
  // calls naming `old_name` (or any earlier name of it) mean `new_name`.
  void Rename(const std::string& old_name, const std::string& new_name);
  // The current name of a queue named `name` by the application.
  std::string Resolve(std::string_view name) const;

 private:
  mutable std::mutex mu_;
  std::vector<ExchangeRecord> exchanges_;
  std::vector<QueueRecord> queues_;
  std::vector<BindingRecord> bindings_;
  absl::flat_hash_map<std::string, std::string> renamed_;  // any old name -> current
};

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_TOPOLOGY_H_
