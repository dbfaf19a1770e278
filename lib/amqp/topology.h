// amqp/topology: what a connection declared — exchanges, queues and
// bindings, in declaration order — so that it can declare them again on a
// new connection after the old one dropped, and the names the broker gave
// server-named queues on each reconnect. Which queues were consumed, so that
// auto-delete queues the broker deleted are not brought back.
//
// Owns only the record, under its own leaf lock; it must not send anything
// (the Link replays it). Consumers are recorded by their channels.
#ifndef WARREN_LIB_AMQP_TOPOLOGY_H_
#define WARREN_LIB_AMQP_TOPOLOGY_H_

#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
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
  bool consumed = false;  // a consumer of this connection took from it
};

struct BindingRecord {
  bool to_exchange = false;  // exchange.bind rather than queue.bind
  std::string destination;
  std::string source;
  std::string routing_key;
  FieldTable arguments;
  friend bool operator==(const BindingRecord&, const BindingRecord&) = default;
};

// What is recorded follows RabbitMQ's Java client: what this connection
// declared and has not deleted itself, so a queue or exchange someone else
// deleted is declared again by the next recovery. What the broker deletes
// by itself because of this connection's own calls is forgotten: an
// auto-delete exchange whose last recorded binding as a source goes, and an
// auto-delete queue this connection consumed from and no longer does
// (ForgetAbandonedQueues).
class Topology {
 public:
  // A redeclaration replaces the record (a queue's `consumed` restarts).
  void DeclareExchange(ExchangeRecord record);
  // Also forgets the bindings the exchange was part of.
  void DeleteExchange(std::string_view name);
  void DeclareQueue(QueueRecord record);
  // Also forgets the bindings to the queue.
  void DeleteQueue(std::string_view name);
  void Bind(BindingRecord record);
  void Unbind(const BindingRecord& record);

  // A consumer started on `queue` (its current name).
  void MarkConsumed(std::string_view queue);
  // Before a recovery: forgets each auto-delete queue that was consumed and
  // is in none of `consumed_now` (the current names of the consumers about
  // to be restored), since the broker deleted it when its last consumer went.
  void ForgetAbandonedQueues(const std::set<std::string>& consumed_now);

  std::vector<ExchangeRecord> exchanges() const;
  std::vector<QueueRecord> queues() const;
  std::vector<BindingRecord> bindings() const;

  // A server-named queue was declared again as `new_name`: records and later
  // calls naming `old_name` (or any earlier name of it) mean `new_name`.
  void Rename(const std::string& old_name, const std::string& new_name);
  // The current name of a queue named `name` by the application.
  std::string Resolve(std::string_view name) const;

 private:
  void ForgetExchangeLocked(std::string_view name);
  void ForgetQueueLocked(std::string_view name);
  // Forgets the bindings `which` selects, then the auto-delete exchanges
  // left without a binding as a source.
  void ForgetBindingsLocked(absl::FunctionRef<bool(const BindingRecord&)> which);

  mutable std::mutex mu_;
  std::vector<ExchangeRecord> exchanges_;
  std::vector<QueueRecord> queues_;
  std::vector<BindingRecord> bindings_;
  absl::flat_hash_map<std::string, std::string> renamed_;  // any old name -> current
};

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_TOPOLOGY_H_
