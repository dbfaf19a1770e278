// VirtualHost: topology changes with RabbitMQ 3.10's checks, snapshots for
// publishers, and the services queues ask of their host.
#include "broker/vhost.h"

#include <algorithm>
#include <span>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "broker/dead_letter.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::broker {
namespace {

constexpr std::string_view kReservedPrefix = "amq.";

// RabbitMQ's predeclared exchanges: name and type.
constexpr std::pair<std::string_view, std::string_view> kPredeclared[] = {
    {"amq.direct", "direct"}, {"amq.fanout", "fanout"}, {"amq.topic", "topic"},
    {"amq.headers", "headers"}, {"amq.match", "headers"},
};

absl::Status DefaultExchangeRefused() {
  return AmqpError(ReplyCode::kAccessRefused,
                   "operation not permitted on the default exchange");
}

// x-death's time. The system clock is steady, counting from an arbitrary
// point, so under it a death takes the wall-clock time; any other clock
// (a test's ManualClock) is the broker's time, which the death follows so
// that a dead letter is the same on every run.
absl::Time DeathTime(Clock& clock) {
  return &clock == Clock::System() ? absl::Now() : clock.Now();
}

// Matches the binding of `destination` by `key` with `arguments`.
auto IsBinding(routing::DestinationId destination, std::string_view key,
               const FieldTable& arguments) {
  return [destination, key, &arguments](const routing::Binding& b) {
    return b.destination == destination && b.key == key && b.arguments == arguments;
  };
}

std::shared_ptr<const RoutingSnapshot> EmptySnapshot(
    std::shared_ptr<ExchangeCounters> default_counters) {
  auto snapshot = std::make_shared<RoutingSnapshot>();
  snapshot->default_counters = std::move(default_counters);
  return snapshot;
}

}  // namespace

VirtualHost::VirtualHost(std::string name, Clock* clock, dispatch::TimerService* timers,
                         MemoryGauge* memory, dispatch::Dispatcher* dispatcher,
                         const PublishObserverSlot* observer)
    : name_(std::move(name)),
      clock_(clock),
      timers_(timers),
      memory_(memory),
      dispatcher_(dispatcher),
      observer_(observer),
      published_(EmptySnapshot(default_counters_)) {
  TopologyLock lock(this);
  for (auto [exchange, type] : kPredeclared) {
    CreateExchangeLocked(std::string(exchange), type, {.durable = true}).IgnoreError();
  }
  ExchangeDeclareOptions trace{.durable = true, .internal = true};
  CreateExchangeLocked("amq.rabbitmq.trace", "topic", trace).IgnoreError();
}

std::shared_ptr<const ExchangeRoute> VirtualHost::MakeRouteLocked(
    const ExchangeState& exchange) const {
  auto route = std::make_shared<ExchangeRoute>();
  route->id = exchange.id;
  route->name = exchange.name;
  route->internal = exchange.internal;
  if (const FieldValue* alt = exchange.arguments.Find("alternate-exchange")) {
    if (std::optional<std::string_view> s = alt->AsString()) route->alternate = std::string(*s);
  }
  // The type was checked when the exchange was declared.
  route->router = *routing::MakeLazyRouter(exchange.type, exchange.bindings);
  route->counters = exchange.counters;
  return route;
}

void VirtualHost::PublishChangesLocked() {
  if (changed_exchanges_.empty() && changed_queues_.empty()) return;
  auto next = std::make_shared<RoutingSnapshot>(*published_.Load());
  for (const std::string& name : changed_exchanges_) {
    if (const auto* old = next->exchanges_by_name.Find(ToAbsl(name))) {
      next->exchanges.Erase((*old)->id);
      next->exchanges_by_name.Erase(name);
    }
    if (const ExchangeState* x = FindExchangeLocked(name)) {
      std::shared_ptr<const ExchangeRoute> route = MakeRouteLocked(*x);
      next->exchanges.Set(x->id, route);
      next->exchanges_by_name.Set(name, std::move(route));
    }
  }
  for (const std::string& name : changed_queues_) {
    if (const auto* old = next->queues_by_name.Find(ToAbsl(name))) {
      next->queues.Erase((*old)->id());
      next->queues_by_name.Erase(name);
    }
    if (auto it = queues_.find(name); it != queues_.end()) {
      next->queues.Set(it->second->id(), it->second);
      next->queues_by_name.Set(name, it->second);
    }
  }
  changed_exchanges_.clear();
  changed_queues_.clear();
  published_.Store(std::move(next));
  version_.fetch_add(1, std::memory_order_acq_rel);
}

absl::Status VirtualHost::CreateExchangeLocked(std::string name, std::string_view type,
                                               const ExchangeDeclareOptions& options) {
  ExchangeState x{.id = next_id_++ | kExchangeBit,
                  .name = name,
                  .type = std::string(type),
                  .durable = options.durable,
                  .auto_delete = options.auto_delete,
                  .internal = options.internal,
                  .arguments = options.arguments,
                  .bindings = {}};
  ExchangeChangedLocked(name);
  exchanges_.emplace(std::move(name), std::move(x));
  return absl::OkStatus();
}

VirtualHost::ExchangeState* VirtualHost::FindExchangeLocked(std::string_view name) {
  auto it = exchanges_.find(ToAbsl(name));
  return it == exchanges_.end() ? nullptr : &it->second;
}

absl::StatusOr<VirtualHost::ExchangeState*> VirtualHost::ExistingExchangeLocked(
    std::string_view name) {
  if (name.empty()) return DefaultExchangeRefused();
  ExchangeState* x = FindExchangeLocked(name);
  if (x == nullptr) {
    return AmqpError(ReplyCode::kNotFound,
                     StrCat("no exchange '", name, "' in vhost '", name_, "'"));
  }
  return x;
}

absl::Status VirtualHost::ExchangeDeclare(std::string_view name, std::string_view type,
                                          const ExchangeDeclareOptions& options) {
  TopologyLock lock(this);
  if (options.passive) return ExistingExchangeLocked(name).status();
  if (!routing::IsExchangeType(type)) {
    return AmqpError(ReplyCode::kCommandInvalid,
                     StrCat("unknown exchange type '", type, "'"));
  }
  if (name.empty()) return DefaultExchangeRefused();
  ExchangeState* x = FindExchangeLocked(name);
  if (x == nullptr) {
    if (name.starts_with(kReservedPrefix)) {
      return AmqpError(ReplyCode::kAccessRefused,
                       StrCat("exchange name '", name,
                                    "' contains reserved prefix 'amq.*'"));
    }
    if (const FieldValue* alt = options.arguments.Find("alternate-exchange")) {
      if (!alt->AsString()) {
        return AmqpError(ReplyCode::kPreconditionFailed,
                         StrCat("invalid type for arg 'alternate-exchange' in exchange '",
                                      name, "' in vhost '", name_, "'"));
      }
    }
    return CreateExchangeLocked(std::string(name), type, options);
  }
  auto inequivalent = [&](std::string_view what) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("inequivalent arg '", what, "' for exchange '", name,
                                  "' in vhost '", name_, "'"));
  };
  if (x->type != type) return inequivalent("type");
  if (x->durable != options.durable) return inequivalent("durable");
  if (x->auto_delete != options.auto_delete) return inequivalent("auto_delete");
  if (x->internal != options.internal) return inequivalent("internal");
  const FieldValue* had = x->arguments.Find("alternate-exchange");
  const FieldValue* wants = options.arguments.Find("alternate-exchange");
  if ((had == nullptr) != (wants == nullptr) || (had && !(*had == *wants))) {
    return inequivalent("alternate-exchange");
  }
  return absl::OkStatus();
}

absl::Status VirtualHost::ExchangeDelete(std::string_view name, bool if_unused) {
  TopologyLock lock(this);
  if (name.empty()) return DefaultExchangeRefused();
  if (name.starts_with(kReservedPrefix)) {
    return AmqpError(ReplyCode::kAccessRefused,
                     StrCat("deletion of system exchange '", name, "' in vhost '",
                                  name_, "' not allowed"));
  }
  ExchangeState* x = FindExchangeLocked(name);
  if (x == nullptr) return absl::OkStatus();
  if (if_unused && !x->bindings.empty()) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("exchange '", name, "' in vhost '", name_, "' in use"));
  }
  DeleteExchangeLocked(x->name);
  return absl::OkStatus();
}

void VirtualHost::DeleteExchangeLocked(const std::string& name) {
  auto it = exchanges_.find(ToAbsl(name));
  if (it == exchanges_.end()) return;
  const routing::DestinationId id = it->second.id;
  ExchangeChangedLocked(name);  // `name` may be the erased exchange's own
  exchanges_.erase(it);
  RemoveBindingsToLocked(id);
}

absl::Status VirtualHost::BindLocked(ExchangeState* source, routing::DestinationId destination,
                                     std::string_view routing_key,
                                     const FieldTable& arguments) {
  if (source->type == "headers") {
    if (absl::Status s = routing::ValidateHeadersBinding(arguments); !s.ok()) return s;
  }
  if (source->binding_index.MayContain(destination, routing_key, arguments) &&
      std::any_of(source->bindings.begin(), source->bindings.end(),
                  IsBinding(destination, routing_key, arguments))) {
    return absl::OkStatus();
  }
  source->binding_index.Add(destination, routing_key, arguments);
  source->bindings.Append({destination, std::string(routing_key), arguments});
  ExchangeChangedLocked(source->name);
  return absl::OkStatus();
}

void VirtualHost::UnbindLocked(ExchangeState* source, routing::DestinationId destination,
                               std::string_view routing_key, const FieldTable& arguments) {
  if (!source->binding_index.MayContain(destination, routing_key, arguments)) return;
  // Bind keeps bindings unique, so at most one goes.
  if (source->bindings.RemoveIf(IsBinding(destination, routing_key, arguments)) == 0) return;
  source->binding_index.Remove(destination, routing_key, arguments);
  ExchangeChangedLocked(source->name);
  AutoDeleteIfUnboundLocked(source);
}

void VirtualHost::AutoDeleteIfUnboundLocked(ExchangeState* source) {
  if (source->auto_delete && source->bindings.empty()) DeleteExchangeLocked(source->name);
}

void VirtualHost::RemoveBindingsToLocked(routing::DestinationId destination) {
  std::vector<std::string> emptied;
  for (auto& [name, x] : exchanges_) {
    auto to_destination = [&](const routing::Binding& b) { return b.destination == destination; };
    if (x.bindings.RemoveIf(to_destination) == 0) continue;
    x.binding_index.RemoveDestination(destination);
    ExchangeChangedLocked(name);
    if (x.bindings.empty() && x.auto_delete) emptied.push_back(name);
  }
  for (const std::string& name : emptied) DeleteExchangeLocked(name);
}

absl::Status VirtualHost::ExchangeBind(std::string_view destination, std::string_view source,
                                       std::string_view routing_key,
                                       const FieldTable& arguments) {
  TopologyLock lock(this);
  absl::StatusOr<ExchangeState*> dest = ExistingExchangeLocked(destination);
  if (!dest.ok()) return dest.status();
  absl::StatusOr<ExchangeState*> src = ExistingExchangeLocked(source);
  if (!src.ok()) return src.status();
  return BindLocked(*src, (*dest)->id, routing_key, arguments);
}

absl::Status VirtualHost::ExchangeUnbind(std::string_view destination, std::string_view source,
                                         std::string_view routing_key,
                                         const FieldTable& arguments) {
  TopologyLock lock(this);
  if (destination.empty() || source.empty()) return DefaultExchangeRefused();
  ExchangeState* dest = FindExchangeLocked(destination);
  ExchangeState* src = FindExchangeLocked(source);
  if (dest != nullptr && src != nullptr) UnbindLocked(src, dest->id, routing_key, arguments);
  return absl::OkStatus();
}

std::string VirtualHost::GenerateNameLocked(std::string_view prefix) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  absl::BitGen gen;
  std::string name(prefix);
  for (int i = 0; i < 22; ++i) name.push_back(kAlphabet[absl::Uniform(gen, 0u, 64u)]);
  return name;
}

std::string VirtualHost::AddReplyConsumer(const std::shared_ptr<queue::Consumer>& consumer) {
  TopologyLock lock(this);
  absl::erase_if(reply_consumers_, [](const auto& entry) { return entry.second.expired(); });
  std::string name = GenerateNameLocked("amq.rabbitmq.reply-to.");
  reply_consumers_.emplace(name, consumer);
  return name;
}

std::shared_ptr<queue::Consumer> VirtualHost::FindReplyConsumer(std::string_view name) {
  TopologyLock lock(this);
  auto it = reply_consumers_.find(ToAbsl(name));
  return it == reply_consumers_.end() ? nullptr : it->second.lock();
}

absl::StatusOr<std::shared_ptr<queue::Queue>> VirtualHost::AccessibleQueueLocked(
    std::string_view name, uint64_t connection) {
  auto it = queues_.find(ToAbsl(name));
  if (it == queues_.end()) {
    return AmqpError(ReplyCode::kNotFound,
                     StrCat("no queue '", name, "' in vhost '", name_, "'"));
  }
  const uint64_t owner = it->second->config().exclusive_owner;
  if (owner != 0 && owner != connection) {
    return AmqpError(ReplyCode::kResourceLocked,
                     StrCat("cannot obtain exclusive access to locked queue '", name,
                                  "' in vhost '", name_, "'"));
  }
  return it->second;
}

absl::StatusOr<std::shared_ptr<queue::Queue>> VirtualHost::FindQueue(std::string_view name,
                                                                     uint64_t connection) {
  TopologyLock lock(this);
  return AccessibleQueueLocked(name, connection);
}

absl::StatusOr<QueueDeclareResult> VirtualHost::QueueDeclare(
    std::string_view requested_name, const QueueDeclareOptions& options, uint64_t connection) {
  std::shared_ptr<queue::Queue> q;
  {
    TopologyLock lock(this);
    if (options.passive) {
      absl::StatusOr<std::shared_ptr<queue::Queue>> found =
          AccessibleQueueLocked(requested_name, connection);
      if (!found.ok()) return found.status();
      q = *std::move(found);
    } else {
      std::string name = requested_name.empty() ? GenerateNameLocked("amq.gen-")
                                                : std::string(requested_name);
      auto it = queues_.find(ToAbsl(name));
      if (it == queues_.end()) {
        if (!requested_name.empty() && name.starts_with(kReservedPrefix)) {
          return AmqpError(ReplyCode::kAccessRefused,
                           StrCat("queue name '", name,
                                        "' contains reserved prefix 'amq.*'"));
        }
        absl::StatusOr<queue::QueueArguments> policy =
            queue::ParseQueueArguments(options.arguments, name, name_);
        if (!policy.ok()) return policy.status();
        // rabbit_quorum_queue:declare's checks, in its order.
        const char* refused_property = !policy->quorum       ? nullptr
                                       : options.auto_delete ? "auto-delete"
                                       : options.exclusive   ? "exclusive-owner"
                                       : !options.durable    ? "non-durable"
                                                             : nullptr;
        if (refused_property != nullptr) {
          return AmqpError(ReplyCode::kPreconditionFailed,
                           StrCat("invalid property '", refused_property, "' for queue '", name,
                                  "' in vhost '", name_, "'"));
        }
        queue::QueueConfig config{.name = name,
                                  .durable = options.durable,
                                  .auto_delete = options.auto_delete,
                                  .exclusive_owner = options.exclusive ? connection : 0,
                                  .arguments = options.arguments,
                                  .policy = *std::move(policy)};
        q = std::make_shared<queue::Queue>(next_id_++, std::move(config), this);
        QueueChangedLocked(name);
        queues_.emplace(std::move(name), q);
      } else {
        q = it->second;
        const queue::QueueConfig& c = q->config();
        const uint64_t wanted_owner = options.exclusive ? connection : 0;
        if (c.exclusive_owner != wanted_owner) {
          return AmqpError(ReplyCode::kResourceLocked,
                           StrCat("cannot obtain exclusive access to locked queue '",
                                        name, "' in vhost '", name_, "'"));
        }
        auto inequivalent = [&](std::string_view what) {
          return AmqpError(ReplyCode::kPreconditionFailed,
                           StrCat("inequivalent arg '", what, "' for queue '", name,
                                        "' in vhost '", name_, "'"));
        };
        if (c.durable != options.durable) return inequivalent("durable");
        if (c.auto_delete != options.auto_delete) return inequivalent("auto_delete");
        if (absl::Status s = queue::CheckEquivalentArguments(c.arguments, options.arguments,
                                                             name, name_);
            !s.ok()) {
          return s;
        }
      }
    }
  }
  q->Touch();
  queue::Queue::Counts counts = q->GetCounts();
  return QueueDeclareResult{q->config().name, counts.messages, counts.consumers};
}

absl::Status VirtualHost::QueueBind(std::string_view queue, std::string_view exchange,
                                    std::string_view routing_key, const FieldTable& arguments,
                                    uint64_t connection) {
  TopologyLock lock(this);
  absl::StatusOr<std::shared_ptr<queue::Queue>> q = AccessibleQueueLocked(queue, connection);
  if (!q.ok()) return q.status();
  absl::StatusOr<ExchangeState*> x = ExistingExchangeLocked(exchange);
  if (!x.ok()) return x.status();
  return BindLocked(*x, (*q)->id(), routing_key, arguments);
}

absl::Status VirtualHost::QueueUnbind(std::string_view queue, std::string_view exchange,
                                      std::string_view routing_key,
                                      const FieldTable& arguments, uint64_t connection) {
  TopologyLock lock(this);
  absl::StatusOr<std::shared_ptr<queue::Queue>> q = AccessibleQueueLocked(queue, connection);
  if (!q.ok()) return q.status();
  absl::StatusOr<ExchangeState*> x = ExistingExchangeLocked(exchange);
  if (!x.ok()) return x.status();
  UnbindLocked(*x, (*q)->id(), routing_key, arguments);
  return absl::OkStatus();
}

void VirtualHost::ForgetQueueLocked(const std::shared_ptr<queue::Queue>& queue) {
  auto it = queues_.find(queue->config().name);
  if (it == queues_.end() || it->second != queue) return;
  queues_.erase(it);
  QueueChangedLocked(queue->config().name);
  RemoveBindingsToLocked(queue->id());
}

absl::StatusOr<uint32_t> VirtualHost::QueueDelete(std::string_view name, bool if_unused,
                                                  bool if_empty, uint64_t connection) {
  std::shared_ptr<queue::Queue> q;
  {
    TopologyLock lock(this);
    absl::StatusOr<std::shared_ptr<queue::Queue>> found = AccessibleQueueLocked(name, connection);
    if (!found.ok()) {
      if (ReplyCodeOf(found.status()) == ReplyCode::kNotFound) return 0u;
      return found.status();
    }
    q = *std::move(found);
  }
  absl::StatusOr<uint32_t> dropped = q->Delete(if_unused, if_empty);
  if (!dropped.ok()) return dropped.status();
  TopologyLock lock(this);
  ForgetQueueLocked(q);
  return dropped;
}

void VirtualHost::DeleteUnused(const std::shared_ptr<queue::Queue>& queue) {
  if (!queue->Delete(/*if_unused=*/true, /*if_empty=*/false).ok()) return;
  TopologyLock lock(this);
  ForgetQueueLocked(queue);
}

std::vector<std::shared_ptr<queue::Queue>> VirtualHost::Queues() {
  TopologyLock lock(this);
  std::vector<std::shared_ptr<queue::Queue>> all;
  all.reserve(queues_.size());
  for (const auto& [name, q] : queues_) all.push_back(q);
  return all;
}

absl::StatusOr<std::vector<VirtualHost::BindingView>> VirtualHost::BindingsOf(
    std::string_view exchange) {
  TopologyLock lock(this);
  absl::StatusOr<ExchangeState*> source = ExistingExchangeLocked(exchange);
  if (!source.ok()) return source.status();
  absl::flat_hash_map<routing::DestinationId, const std::string*> names;
  for (const auto& [name, x] : exchanges_) names.emplace(x.id, &x.name);
  for (const auto& [name, q] : queues_) names.emplace(q->id(), &q->config().name);
  std::vector<BindingView> views;
  for (const routing::Binding& b : (*source)->bindings) {
    auto it = names.find(b.destination);
    if (it == names.end()) continue;
    views.push_back({*it->second, (b.destination & kExchangeBit) != 0, b.key, b.arguments});
  }
  return views;
}

void VirtualHost::ConnectionClosed(uint64_t connection) {
  std::vector<std::shared_ptr<queue::Queue>> owned;
  {
    TopologyLock lock(this);
    for (const auto& [name, q] : queues_) {
      if (q->config().exclusive_owner == connection) owned.push_back(q);
    }
  }
  for (const std::shared_ptr<queue::Queue>& q : owned) {
    q->Delete(false, false).IgnoreError();
    TopologyLock lock(this);
    ForgetQueueLocked(q);
  }
}

void VirtualHost::Shutdown() {
  std::vector<std::shared_ptr<queue::Queue>> all;
  {
    TopologyLock lock(this);
    for (const auto& [name, q] : queues_) {
      all.push_back(q);
      QueueChangedLocked(name);
    }
    for (const auto& [name, x] : exchanges_) ExchangeChangedLocked(name);
    queues_.clear();
    exchanges_.clear();
  }
  for (const std::shared_ptr<queue::Queue>& q : all) q->Delete(false, false).IgnoreError();
}

void VirtualHost::AppendStats(BrokerStats* stats) {
  std::vector<std::pair<std::string, std::shared_ptr<queue::Queue>>> queues;
  {
    TopologyLock lock(this);
    auto exchange_stats = [&](const std::string& name, const ExchangeCounters& c) {
      ExchangeStats x{.vhost = name_, .name = name};
      x.routed = c.routed.load(std::memory_order_relaxed);
      x.unroutable = c.unroutable.load(std::memory_order_relaxed);
      x.returned = c.returned.load(std::memory_order_relaxed);
      x.published = x.routed + x.unroutable;
      return x;
    };
    const size_t first = stats->exchanges.size();
    stats->exchanges.push_back(exchange_stats("", *default_counters_));
    for (const auto& [name, x] : exchanges_) {
      stats->exchanges.push_back(exchange_stats(name, *x.counters));
    }
    std::sort(stats->exchanges.begin() + first, stats->exchanges.end(),
              [](const ExchangeStats& a, const ExchangeStats& b) { return a.name < b.name; });
    for (const auto& [name, q] : queues_) queues.emplace_back(name, q);
  }
  // Each queue's figures under its own lock, with the host's released.
  std::sort(queues.begin(), queues.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [name, q] : queues) {
    QueueStats figures = q->Stats();
    figures.vhost = name_;
    figures.name = name;
    stats->queues.push_back(std::move(figures));
  }
}

void VirtualHost::PublishInternal(std::string_view exchange,
                                  std::vector<std::string> routing_keys,
                                  const Message& message) {
  std::shared_ptr<const RoutingSnapshot> snapshot = Snapshot();
  const ExchangeRoute* x = snapshot->FindExchange(exchange);
  if (x == nullptr && !exchange.empty()) return;  // a missing DLX drops the message
  if (std::shared_ptr<PublishObserver> observer = observer_->Get()) {
    static const PublishOptions kDefaults;
    observer->OnDeadLetter(
        {name_, exchange, routing_keys.front(), message, kDefaults, /*confirming=*/false});
  }
  std::vector<std::string_view> keys(routing_keys.begin(), routing_keys.end());
  std::vector<std::shared_ptr<queue::Queue>> targets;
  const std::optional<FieldTable>& headers = message.properties().headers;
  snapshot->Route(x, keys, headers ? &*headers : nullptr, &targets);
  // As a publish's queues (InprocChannel::FlushPublishesLocked).
  dispatcher_->Shuffle(std::span(targets));
  auto publication = std::make_shared<const queue::Publication>(
      queue::Publication{std::string(exchange), std::move(routing_keys.front()), message});
  for (const std::shared_ptr<queue::Queue>& q : targets) {
    if (IsDeadLetterCycle(message, q->config().name)) continue;
    q->Publish(queue::Envelope{.publication = publication}, nullptr);
  }
}

void VirtualHost::DeadLetter(const queue::Queue& from, std::vector<queue::DeadLetter> letters) {
  const queue::QueueArguments& policy = from.config().policy;
  if (!policy.dead_letter_exchange) return;
  for (queue::DeadLetter& letter : letters) {
    const queue::Publication& p = *letter.envelope.publication;
    Message message =
        MakeDeadLetter(p, letter.reason, from.config().name,
                       policy.dead_letter_routing_key.has_value(), DeathTime(*clock_));
    // RabbitMQ routes a dead letter by the override key alone, or else by
    // every key it was published with (CC included).
    std::vector<std::string> keys = policy.dead_letter_routing_key
                                         ? std::vector<std::string>{*policy.dead_letter_routing_key}
                                         : PublishedRoutingKeys(p);
    PublishInternal(*policy.dead_letter_exchange, std::move(keys), message);
  }
}

void VirtualHost::ScheduleTimer(std::weak_ptr<queue::Queue> queue, absl::Time at) {
  timers_->Schedule(at, [queue = std::move(queue)]() mutable {
    if (std::shared_ptr<queue::Queue> q = queue.lock()) q->OnTimer();
  });
}

void VirtualHost::ScheduleDeliveryTurn(std::weak_ptr<queue::Queue> queue) {
  dispatcher_->Schedule([queue = std::move(queue)] {
    if (std::shared_ptr<queue::Queue> q = queue.lock()) q->RunDeliveryTurn();
  });
}

}  // namespace warren::broker
