// amqp/topology: the declared topology, replayed after a reconnect.
#include "amqp/topology.h"

#include <algorithm>
#include <utility>

#include "absl/functional/function_ref.h"
#include "string_view.h"

namespace warren::amqp {
namespace {

// A declaration replaces the record of the same name, in its place.
template <typename Record>
void Upsert(std::vector<Record>& records, Record record) {
  auto it = std::find_if(records.begin(), records.end(),
                         [&](const Record& r) { return r.name == record.name; });
  if (it != records.end()) {
    *it = std::move(record);
  } else {
    records.push_back(std::move(record));
  }
}

}  // namespace

void Topology::DeclareExchange(ExchangeRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  Upsert(exchanges_, std::move(record));
}

void Topology::DeleteExchange(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  ForgetExchangeLocked(name);
}

void Topology::DeclareQueue(QueueRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  Upsert(queues_, std::move(record));
}

void Topology::DeleteQueue(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  ForgetQueueLocked(name);
}

void Topology::Bind(BindingRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(bindings_.begin(), bindings_.end(), record) == bindings_.end()) {
    bindings_.push_back(std::move(record));
  }
}

void Topology::Unbind(const BindingRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  ForgetBindingsLocked([&](const BindingRecord& b) { return b == record; });
}

void Topology::MarkConsumed(std::string_view queue) {
  std::lock_guard<std::mutex> lock(mu_);
  for (QueueRecord& q : queues_) {
    if (q.name == queue) q.consumed = true;
  }
}

void Topology::ForgetAbandonedQueues(const std::set<std::string>& consumed_now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> abandoned;
  for (const QueueRecord& q : queues_) {
    if (q.options.auto_delete && q.consumed && !consumed_now.contains(q.name)) {
      abandoned.push_back(q.name);
    }
  }
  for (const std::string& name : abandoned) ForgetQueueLocked(name);
}

void Topology::ForgetExchangeLocked(std::string_view name) {
  std::erase_if(exchanges_, [&](const ExchangeRecord& e) { return e.name == name; });
  ForgetBindingsLocked([&](const BindingRecord& b) {
    return b.source == name || (b.to_exchange && b.destination == name);
  });
}

void Topology::ForgetQueueLocked(std::string_view name) {
  std::erase_if(queues_, [&](const QueueRecord& q) { return q.name == name; });
  ForgetBindingsLocked(
      [&](const BindingRecord& b) { return !b.to_exchange && b.destination == name; });
}

void Topology::ForgetBindingsLocked(absl::FunctionRef<bool(const BindingRecord&)> which) {
  std::vector<std::string> sources;
  std::erase_if(bindings_, [&](const BindingRecord& b) {
    if (!which(b)) return false;
    sources.push_back(b.source);
    return true;
  });
  // RabbitMQ deletes an auto-delete exchange when its last binding as a
  // source goes; the exchange's own bindings go with it, which may in turn
  // leave another one without bindings.
  for (const std::string& source : sources) {
    auto from_source = [&](const BindingRecord& b) { return b.source == source; };
    const bool still_bound = std::any_of(bindings_.begin(), bindings_.end(), from_source);
    auto exchange = std::find_if(exchanges_.begin(), exchanges_.end(),
                                 [&](const ExchangeRecord& e) { return e.name == source; });
    if (!still_bound && exchange != exchanges_.end() && exchange->options.auto_delete) {
      ForgetExchangeLocked(source);
    }
  }
}

std::vector<ExchangeRecord> Topology::exchanges() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exchanges_;
}

std::vector<QueueRecord> Topology::queues() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queues_;
}

std::vector<BindingRecord> Topology::bindings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bindings_;
}

void Topology::Rename(const std::string& old_name, const std::string& new_name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (QueueRecord& q : queues_) {
    if (q.name == old_name) q.name = new_name;
  }
  for (BindingRecord& b : bindings_) {
    if (!b.to_exchange && b.destination == old_name) b.destination = new_name;
  }
  for (auto& [from, to] : renamed_) {
    if (to == old_name) to = new_name;
  }
  renamed_[old_name] = new_name;
}

std::string Topology::Resolve(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = renamed_.find(ToAbsl(name));
  return it == renamed_.end() ? std::string(name) : it->second;
}

}  // namespace warren::amqp
