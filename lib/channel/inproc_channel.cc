// InprocChannel: the AMQP methods over the in-process broker.
#include "channel/inproc_channel.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/inlined_vector.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "broker/latency_histogram.h"
#include "broker/memory_gauge.h"
#include "queue/queue_arguments.h"
#include "short_string.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::channel {
namespace {

// RabbitMQ 3.10's default max_message_size: a longer body is 406.
constexpr size_t kMaxMessageSize = 134217728;

// RabbitMQ's direct reply-to pseudo-queue and the names replies go to.
constexpr std::string_view kReplyTo = "amq.rabbitmq.reply-to";
constexpr std::string_view kReplyToPrefix = "amq.rabbitmq.reply-to.";

// The short strings of a method other than basic.publish: too long for
// any client (kInvalidArgument, closing nothing), or not UTF-8 as RabbitMQ
// reads it (501, closing the connection).
absl::Status CheckNames(std::initializer_list<std::string_view> names) {
  if (absl::Status s = CheckShortStrings(names); !s.ok()) return s;
  return CheckUtf8(names);
}

// Appends the strings of a CC or BCC header. Errors: 406 when the header is
// not an array, as RabbitMQ's header_routes refuses it.
absl::Status AppendRoutingHeader(const FieldTable& headers, std::string_view name,
                                 absl::InlinedVector<std::string_view, 4>* keys) {
  const FieldValue* v = headers.Find(name);
  if (v == nullptr) return absl::OkStatus();
  const FieldArray* array = v->Get<FieldArray>();
  if (array == nullptr) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("invalid message: the ", name, " header must be an array"));
  }
  for (const FieldValue& key : *array) {
    if (std::optional<std::string_view> s = key.AsString()) keys->push_back(*s);
  }
  return absl::OkStatus();
}

}  // namespace

InprocChannel::InprocChannel(std::shared_ptr<ConnectionCore> connection,
                             std::shared_ptr<ChannelCore> core)
    : connection_(std::move(connection)),
      core_(std::move(core)),
      vhost_(*connection_->vhost()),
      dispatcher_(connection_->broker().dispatcher()) {}

InprocChannel::~InprocChannel() { core_->Close(absl::OkStatus()); }

absl::Status InprocChannel::CheckOpen() const {
  if (core_->is_open()) return absl::OkStatus();
  absl::Status reason = core_->close_reason();
  return AmqpError(ReplyCode::kChannelError,
                   StrCat("channel is closed",
                                reason.ok() ? "" : StrCat(": ", reason.message())));
}

absl::Status InprocChannel::Fail(absl::Status error) {
  const ReplyCode code = ReplyCodeOf(error);
  if (code == ReplyCode::kNone) return error;
  if (IsConnectionError(code)) {
    connection_->CloseWith(error);
  } else {
    core_->Close(error);
  }
  return error;
}

absl::StatusOr<std::string> InprocChannel::ResolveQueueName(std::string_view queue) const {
  if (!queue.empty()) return std::string(queue);
  if (last_queue_.empty()) {
    return AmqpError(ReplyCode::kNotFound, "no previously declared queue");
  }
  return last_queue_;
}

absl::StatusOr<std::shared_ptr<queue::Queue>> InprocChannel::FindQueue(std::string_view queue) {
  absl::StatusOr<std::string> name = ResolveQueueName(queue);
  if (!name.ok()) return name.status();
  return vhost_.FindQueue(*name, connection_->id());
}

const broker::RoutingSnapshot& InprocChannel::CurrentSnapshot() {
  const uint64_t version = vhost_.version();
  if (!snapshot_ || snapshot_version_ != version) {
    snapshot_ = vhost_.Snapshot();
    snapshot_version_ = version;
    last_route_ = {};
    waiting_.clear();
    absl::erase_if(publishers_, [](const auto& entry) { return entry.second.queue->deleted(); });
  }
  return *snapshot_;
}

queue::Queue::ProducerToken* InprocChannel::TokenFor(const std::shared_ptr<queue::Queue>& queue) {
  auto [it, inserted] = publishers_.try_emplace(queue->id());
  if (inserted) it->second = Publisher{queue, queue->NewProducerToken()};
  return it->second.token.get();
}

absl::Status InprocChannel::ExchangeDeclare(std::string_view exchange, std::string_view type,
                                            const ExchangeDeclareOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({exchange, type}); !s.ok()) return Fail(s);
  if (absl::Status s = CheckTableKeys(options.arguments); !s.ok()) return s;
  return Fail(vhost_.ExchangeDeclare(StripCrLf(exchange), type, options));
}

absl::Status InprocChannel::ExchangeDelete(std::string_view exchange,
                                           const ExchangeDeleteOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({exchange}); !s.ok()) return Fail(s);
  return Fail(vhost_.ExchangeDelete(StripCrLf(exchange), options.if_unused));
}

absl::Status InprocChannel::ExchangeBind(std::string_view destination, std::string_view source,
                                         std::string_view routing_key,
                                         const FieldTable& arguments) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({destination, source, routing_key}); !s.ok()) return Fail(s);
  if (absl::Status s = CheckTableKeys(arguments); !s.ok()) return s;
  return Fail(
      vhost_.ExchangeBind(StripCrLf(destination), StripCrLf(source), routing_key, arguments));
}

absl::Status InprocChannel::ExchangeUnbind(std::string_view destination,
                                           std::string_view source,
                                           std::string_view routing_key,
                                           const FieldTable& arguments) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({destination, source, routing_key}); !s.ok()) return Fail(s);
  if (absl::Status s = CheckTableKeys(arguments); !s.ok()) return s;
  return Fail(
      vhost_.ExchangeUnbind(StripCrLf(destination), StripCrLf(source), routing_key, arguments));
}

absl::StatusOr<QueueDeclareResult> InprocChannel::QueueDeclare(
    std::string_view queue, const QueueDeclareOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({queue}); !s.ok()) return Fail(s);
  if (absl::Status s = CheckTableKeys(options.arguments); !s.ok()) return s;
  std::string name = StripCrLf(queue);
  if (options.passive && (queue == kReplyTo || queue.starts_with(kReplyToPrefix))) {
    return QueueDeclareResult{name, 0, 1};  // RabbitMQ counts one consumer
  }
  if (options.passive) {
    absl::StatusOr<std::string> resolved = ResolveQueueName(name);
    if (!resolved.ok()) return Fail(resolved.status());
    name = *std::move(resolved);
  }
  absl::StatusOr<QueueDeclareResult> declared =
      vhost_.QueueDeclare(name, options, connection_->id());
  if (!declared.ok()) return Fail(declared.status());
  last_queue_ = declared->queue;
  return declared;
}

absl::Status InprocChannel::ChangeQueueBinding(BindingChange change, std::string_view queue,
                                               std::string_view exchange,
                                               std::string_view routing_key,
                                               const FieldTable& arguments) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({queue, exchange, routing_key}); !s.ok()) return Fail(s);
  if (absl::Status s = CheckTableKeys(arguments); !s.ok()) return s;
  const std::string stripped = StripCrLf(queue);
  absl::StatusOr<std::string> name = ResolveQueueName(stripped);
  if (!name.ok()) return Fail(name.status());
  // RabbitMQ's shortcut: no queue and no key name the last queue by its name.
  const std::string key =
      stripped.empty() && routing_key.empty() ? *name : std::string(routing_key);
  return Fail(
      (vhost_.*change)(*name, StripCrLf(exchange), key, arguments, connection_->id()));
}

absl::Status InprocChannel::QueueBind(std::string_view queue, std::string_view exchange,
                                      std::string_view routing_key,
                                      const FieldTable& arguments) {
  return ChangeQueueBinding(&broker::VirtualHost::QueueBind, queue, exchange, routing_key,
                            arguments);
}

absl::Status InprocChannel::QueueUnbind(std::string_view queue, std::string_view exchange,
                                        std::string_view routing_key,
                                        const FieldTable& arguments) {
  return ChangeQueueBinding(&broker::VirtualHost::QueueUnbind, queue, exchange, routing_key,
                            arguments);
}

absl::StatusOr<uint32_t> InprocChannel::QueuePurge(std::string_view queue) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({queue}); !s.ok()) return Fail(s);
  absl::StatusOr<std::shared_ptr<queue::Queue>> q = FindQueue(queue);
  if (!q.ok()) return Fail(q.status());
  return (*q)->Purge();
}

absl::StatusOr<uint32_t> InprocChannel::QueueDelete(std::string_view queue,
                                                    const QueueDeleteOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({queue}); !s.ok()) return Fail(s);
  absl::StatusOr<std::string> name = ResolveQueueName(StripCrLf(queue));
  if (!name.ok()) return Fail(name.status());
  absl::StatusOr<uint32_t> dropped =
      vhost_.QueueDelete(*name, options.if_unused, options.if_empty, connection_->id());
  if (!dropped.ok()) return Fail(dropped.status());
  return dropped;
}

absl::Status InprocChannel::BasicQos(uint16_t prefetch_count, const QosOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (options.prefetch_size != 0) {
    return Fail(AmqpError(ReplyCode::kNotImplemented,
                          StrCat("prefetch_size!=0 (", options.prefetch_size, ")")));
  }
  if (options.global) {
    core_->SetGlobalPrefetch(prefetch_count);
    for (const auto& q : core_->ConsumerQueues()) q->Kick();
  } else {
    consumer_prefetch_ = prefetch_count;
  }
  return absl::OkStatus();
}

absl::StatusOr<const broker::ExchangeRoute*> InprocChannel::FindPublishExchange(
    const broker::RoutingSnapshot& snapshot, std::string_view exchange) const {
  if (exchange.empty()) return nullptr;
  const broker::ExchangeRoute* x = snapshot.FindExchange(exchange);
  if (x == nullptr) {
    return AmqpError(ReplyCode::kNotFound,
                     StrCat("no exchange '", exchange, "' in vhost '", vhost_.name(), "'"));
  }
  if (x->internal) {
    return AmqpError(ReplyCode::kAccessRefused,
                     StrCat("cannot publish to internal exchange '", exchange, "' in vhost '",
                            vhost_.name(), "'"));
  }
  return x;
}

void InprocChannel::RouteInto(const broker::RoutingSnapshot& snapshot,
                              const broker::ExchangeRoute* x,
                              absl::Span<const std::string_view> keys, const FieldTable* headers,
                              std::vector<Target>* targets) {
  routed_.clear();
  snapshot.Route(x, keys, headers, &routed_);
  targets->clear();
  for (const std::shared_ptr<queue::Queue>& q : routed_) targets->push_back({q.get(), TokenFor(q)});
}

absl::Status InprocChannel::BasicPublish(std::string_view exchange,
                                         std::string_view routing_key,
                                         const Message& message,
                                         const PublishOptions& options) {
  return BasicPublishBatch(exchange, routing_key, std::span<const Message>(&message, 1), options);
}

absl::Status InprocChannel::BasicPublishBatch(std::string_view exchange,
                                              std::string_view routing_key,
                                              std::span<const Message> messages,
                                              const PublishOptions& options) {
  std::unique_lock<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  // RabbitMQ checks no UTF-8 here: its publish path skips that.
  if (absl::Status s = CheckShortStrings({exchange, routing_key}); !s.ok()) return s;
  if (options.immediate) {
    return Fail(AmqpError(ReplyCode::kNotImplemented, "immediate=true"));
  }
  broker::MemoryGauge& memory = connection_->broker().memory();
  const broker::RoutingSnapshot* snapshot = &CurrentSnapshot();
  absl::Status status;
  for (const Message& message : messages) {
    // The messages waiting to be handed over count as held already.
    if (memory.limit() != 0 && memory.held() + waiting_bytes_ > memory.limit()) {
      FlushPublishesLocked();
      if (memory.over_limit()) {
        status = WaitForMemory(lock);
        if (!status.ok()) break;
        snapshot = &CurrentSnapshot();
      }
    }
    status = PublishOneLocked(*snapshot, exchange, routing_key, message, options);
    if (!status.ok()) break;
  }
  // What was accepted before a refusal is published, as it would have been
  // by one call each.
  FlushPublishesLocked();
  if (broker::ExchangeCounters* counters = last_route_.counters; counters != nullptr) {
    counters->Add(tally_);
  }
  tally_ = {};
  return status.ok() ? status : Fail(std::move(status));
}

absl::Status InprocChannel::WaitForMemory(std::unique_lock<std::mutex>& lock) {
  auto& broker = connection_->broker();
  broker::MemoryGauge& memory = broker.memory();
  const std::string full = StrCat("the broker holds ", memory.held(),
                                  " bytes of messages, over its memory limit of ",
                                  memory.limit(), " bytes");
  if (broker.options().on_memory_full == MemoryFull::kRefuse) {
    return absl::ResourceExhaustedError(StrCat("publish refused: ", full));
  }
  // The channel stays free meanwhile: its own consumers may need it to ack.
  const absl::Duration timeout = broker.options().publish_block_timeout;
  lock.unlock();
  const bool under = memory.WaitUntilUnderLimit(absl::Now() + timeout);
  lock.lock();
  if (!under) {
    return absl::ResourceExhaustedError(
        StrCat("publish blocked for ", absl::FormatDuration(timeout), ": ", full));
  }
  return CheckOpen();
}

void InprocChannel::FlushPublishesLocked() {
  if (ABSL_PREDICT_FALSE(dispatcher_.shuffled()) && waiting_.size() > 1) ShuffleRouteLocked();
  for (size_t i = 0; i < waiting_.size(); ++i) {
    if (waiting_[i].empty()) continue;
    const Target& t = last_route_.targets[i];
    t.queue->Publish(std::span<queue::Envelope>(waiting_[i]), t.token);
    waiting_[i].clear();
  }
  waiting_bytes_ = 0;
}

void InprocChannel::ShuffleRouteLocked() {
  std::vector<size_t> order(waiting_.size());
  std::iota(order.begin(), order.end(), 0);
  dispatcher_.Shuffle(std::span(order));
  std::vector<Target> targets;
  std::vector<std::vector<queue::Envelope>> waiting;
  for (size_t i : order) {
    targets.push_back(last_route_.targets[i]);
    waiting.push_back(std::move(waiting_[i]));
  }
  last_route_.targets = std::move(targets);
  waiting_ = std::move(waiting);
}

absl::Status InprocChannel::PublishOneLocked(const broker::RoutingSnapshot& snapshot,
                                             std::string_view exchange,
                                             std::string_view routing_key,
                                             const Message& message,
                                             const PublishOptions& options) {
  if (absl::Status s = CheckProperties(message.properties()); !s.ok()) return s;
  if (message.body().size() > kMaxMessageSize) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("message size ", message.body().size(),
                            " is larger than configured max size ", kMaxMessageSize));
  }
  const BasicProperties& props = message.properties();
  if (props.delivery_mode && *props.delivery_mode != 1 && *props.delivery_mode != 2) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("invalid message: {delivery_mode_unknown,",
                            static_cast<int>(*props.delivery_mode), "}"));
  }
  if (props.expiration && !queue::ParseExpiration(*props.expiration)) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("invalid expiration '", *props.expiration, "'"));
  }
  if (props.user_id && *props.user_id != connection_->user()) {
    return AmqpError(ReplyCode::kPreconditionFailed,
                     StrCat("user_id property set to '", *props.user_id,
                            "' but authenticated user was '", connection_->user(), "'"));
  }
  Message delivered = message;
  if (props.reply_to && *props.reply_to == kReplyTo) {
    if (reply_to_name_.empty()) {
      return AmqpError(ReplyCode::kPreconditionFailed, "fast reply consumer does not exist");
    }
    BasicProperties with_name = props;
    with_name.reply_to = reply_to_name_;
    delivered = message.WithProperties(std::move(with_name));
  }
  // Without headers, where a message goes depends on the exchange and the
  // key alone: the last such route is kept until the topology changes, and
  // the messages that take it wait in waiting_ to reach each queue together.
  const bool by_key_alone = !props.headers.has_value();
  if (!(by_key_alone && last_route_.valid && last_route_.exchange == exchange &&
        last_route_.routing_key == routing_key)) {
    absl::StatusOr<const broker::ExchangeRoute*> x = FindPublishExchange(snapshot, exchange);
    if (!x.ok()) return x.status();
    // CC and BCC add routing keys; BCC is removed from what is delivered.
    absl::InlinedVector<std::string_view, 4> keys{routing_key};
    if (props.headers) {
      for (std::string_view header : {"CC", "BCC"}) {
        if (absl::Status s = AppendRoutingHeader(*props.headers, header, &keys); !s.ok()) {
          return s;
        }
      }
      if (props.headers->Find("BCC") != nullptr) {
        BasicProperties without_bcc = delivered.properties();
        without_bcc.headers->Erase("BCC");
        delivered = message.WithProperties(std::move(without_bcc));
      }
    }
    FlushPublishesLocked();
    last_route_.valid = by_key_alone;
    last_route_.exchange = exchange;
    last_route_.routing_key = routing_key;
    last_route_.counters = *x != nullptr ? (*x)->counters.get() : snapshot.default_counters.get();
    RouteInto(snapshot, *x, keys, props.headers ? &*props.headers : nullptr,
              &last_route_.targets);
    waiting_.resize(last_route_.targets.size());
  }
  const std::vector<Target>& targets = last_route_.targets;
  if (std::shared_ptr<broker::PublishObserver> observer =
          connection_->broker().publish_observer().Get()) {
    broker::PublishVerdict verdict = observer->OnPublish(
        {vhost_.name(), exchange, routing_key, message, options, core_->confirming()});
    if (!verdict.refuse.ok()) return std::move(verdict.refuse);
    if (verdict.nack) {
      if (const uint64_t seq = core_->StartPublish(); seq != 0) core_->Confirmed(seq, false);
      return absl::OkStatus();
    }
  }

  const uint64_t seq = core_->StartPublish();
  if (exchange.empty() && routing_key.starts_with(kReplyToPrefix)) {
    if (std::shared_ptr<queue::Consumer> replier = vhost_.FindReplyConsumer(routing_key)) {
      auto reply = std::make_shared<const queue::Publication>(queue::Publication{
          std::string(exchange), std::string(routing_key), std::move(delivered)});
      ++tally_.routed;
      replier->sink->Deliver(replier, nullptr, queue::Envelope{.publication = reply});
      if (seq != 0) core_->Confirmed(seq, true);
      return absl::OkStatus();
    }
  }
  if (targets.empty()) {
    ++tally_.unroutable;
    if (options.mandatory) {
      ++tally_.returned;
      core_->Return(ReturnedMessage{static_cast<int>(ReplyCode::kNoRoute), "NO_ROUTE",
                                    std::string(exchange), std::string(routing_key),
                                    delivered});
    }
    if (seq != 0) core_->Confirmed(seq, true);
    return absl::OkStatus();
  }
  ++tally_.routed;
  // One publish in kSampleEvery carries its time, for the latency figures.
  const int64_t published_at_ns =
      ++publishes_ % broker::LatencyHistogram::kSampleEvery == 0
          ? broker::LatencyHistogram::NowNanos()
          : 0;
  auto publication = std::make_shared<const queue::Publication>(queue::Publication{
      std::string(exchange), std::string(routing_key), std::move(delivered), published_at_ns});
  std::shared_ptr<queue::PendingConfirm> confirm;
  if (seq != 0) {
    confirm = std::make_shared<queue::PendingConfirm>(
        static_cast<int>(targets.size()),
        [core = std::weak_ptr<ChannelCore>(core_), seq](bool ack) {
          if (auto c = core.lock()) c->Confirmed(seq, ack);
        });
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    waiting_[i].push_back(queue::Envelope{.publication = publication, .confirm = confirm});
  }
  waiting_bytes_ += targets.size() * publication->message.body().size();
  // A route that depends on headers is not kept: its messages go now.
  if (!by_key_alone) FlushPublishesLocked();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<GetResult>> InprocChannel::BasicGet(std::string_view queue,
                                                                 const GetOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({queue}); !s.ok()) return Fail(s);
  absl::StatusOr<std::shared_ptr<queue::Queue>> q = FindQueue(queue);
  if (!q.ok()) return Fail(q.status());
  std::optional<queue::Queue::Got> got = (*q)->Get(options.no_ack);
  if (!got) return std::optional<GetResult>();
  return std::optional<GetResult>(GetResult{
      core_->RecordGet(*q, std::move(got->envelope), options.no_ack), got->message_count});
}

absl::StatusOr<std::string> InprocChannel::BasicConsume(std::string_view queue,
                                                        ConsumerCallback callback,
                                                        const ConsumeOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({queue, options.consumer_tag}); !s.ok()) return Fail(s);
  if (absl::Status s = CheckTableKeys(options.arguments); !s.ok()) return s;
  if (!callback) return absl::InvalidArgumentError("BasicConsume needs a callback");
  const bool direct_reply = queue == kReplyTo;
  std::shared_ptr<queue::Queue> q;
  if (direct_reply) {
    if (!options.no_ack) {
      return Fail(AmqpError(ReplyCode::kPreconditionFailed, "reply consumer cannot acknowledge"));
    }
    if (!reply_to_name_.empty()) {
      return Fail(AmqpError(ReplyCode::kPreconditionFailed, "reply consumer already set"));
    }
  } else {
    absl::StatusOr<std::shared_ptr<queue::Queue>> found = FindQueue(queue);
    if (!found.ok()) return Fail(found.status());
    q = *std::move(found);
  }
  std::string tag = options.consumer_tag;
  if (tag.empty()) {
    absl::BitGen gen;
    tag = StrCat("amq.ctag-", connection_->id(), "-", ++generated_tags_, "-",
                       absl::Uniform<uint32_t>(gen));
  }
  if (core_->HasConsumer(tag)) {
    return Fail(AmqpError(ReplyCode::kNotAllowed,
                          StrCat("attempt to reuse consumer tag '", tag, "'")));
  }
  int64_t priority = 0;
  if (const FieldValue* p = options.arguments.Find("x-priority")) {
    std::optional<int64_t> n = p->AsInteger();
    if (!n) {
      return Fail(AmqpError(ReplyCode::kPreconditionFailed,
                            "invalid arg 'x-priority': an integer is required"));
    }
    priority = *n;
  }
  auto consumer = std::make_shared<queue::Consumer>();
  consumer->tag = tag;
  consumer->no_ack = options.no_ack;
  consumer->exclusive = options.exclusive;
  consumer->priority = priority;
  consumer->prefetch = options.no_ack ? 0 : consumer_prefetch_;
  consumer->sink = core_;
  consumer->callback = std::move(callback);
  consumer->on_cancel = options.on_cancel;
  consumer->queue = q;
  consumer->latency = &connection_->broker().latency();
  // Registered on the channel first: the queue may deliver at once.
  core_->AddConsumer(consumer, q);
  if (direct_reply) {
    reply_to_name_ = vhost_.AddReplyConsumer(consumer);
    return tag;
  }
  if (absl::Status s = q->AddConsumer(consumer); !s.ok()) {
    std::shared_ptr<queue::Consumer> removed;
    std::shared_ptr<queue::Queue> removed_from;
    core_->RemoveConsumer(tag, &removed, &removed_from);
    return Fail(s);
  }
  return tag;
}

absl::Status InprocChannel::BasicCancel(std::string_view consumer_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckNames({consumer_tag}); !s.ok()) return Fail(s);
  std::shared_ptr<queue::Consumer> consumer;
  std::shared_ptr<queue::Queue> q;
  if (!core_->RemoveConsumer(std::string(consumer_tag), &consumer, &q)) return absl::OkStatus();
  if (q) {
    q->RemoveConsumer(consumer.get());
  } else {  // the direct reply-to consumer; its vhost entry dies with it
    reply_to_name_.clear();
  }
  return absl::OkStatus();
}

absl::Status InprocChannel::Settle(uint64_t delivery_tag, bool multiple,
                                   queue::Settlement how) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  absl::StatusOr<TakenDeliveries> taken = core_->TakeUnacked(delivery_tag, multiple);
  if (!taken.ok()) return Fail(taken.status());
  SettleAll(*std::move(taken), how);
  // Freed channel-wide credit may let this channel's other consumers go on.
  // Without a channel-wide limit only the settled deliveries' consumers
  // gained credit, and Queue::Settle kicks their queues.
  if (core_->has_global_prefetch()) KickConsumerQueues();
  return absl::OkStatus();
}

void InprocChannel::KickConsumerQueues() {
  std::vector<std::shared_ptr<queue::Queue>> queues = core_->ConsumerQueues();
  // RabbitMQ's queues race for freed credit: under a seed, the seed draws
  // which asks first.
  dispatcher_.Shuffle(std::span(queues));
  for (const auto& q : queues) q->Kick();
}

absl::Status InprocChannel::BasicAck(uint64_t delivery_tag, const AckOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  return Settle(delivery_tag, options.multiple, queue::Settlement::kAck);
}

absl::Status InprocChannel::BasicNack(uint64_t delivery_tag, const NackOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  return Settle(delivery_tag, options.multiple,
                options.requeue ? queue::Settlement::kRequeue : queue::Settlement::kDeadLetter);
}

absl::Status InprocChannel::BasicReject(uint64_t delivery_tag, const RejectOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  return Settle(delivery_tag, /*multiple=*/false,
                options.requeue ? queue::Settlement::kRequeue : queue::Settlement::kDeadLetter);
}

absl::Status InprocChannel::BasicRecover(const RecoverOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (!options.requeue) {
    return Fail(AmqpError(ReplyCode::kNotImplemented, "requeue=false"));
  }
  RequeueAll(core_->TakeAllUnacked());
  KickConsumerQueues();
  return absl::OkStatus();
}

absl::Status InprocChannel::ConfirmSelect() {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  core_->EnableConfirms();
  return absl::OkStatus();
}

uint64_t InprocChannel::NextPublishSeqNo() const { return core_->NextPublishSeqNo(); }

void InprocChannel::SetConfirmHandler(std::function<void(const Confirm&)> handler) {
  core_->SetConfirmHandler(std::move(handler));
}

absl::Status InprocChannel::WaitForConfirms(absl::Duration timeout) {
  return core_->WaitForConfirms(timeout);
}

void InprocChannel::SetReturnHandler(std::function<void(const ReturnedMessage&)> handler) {
  core_->SetReturnHandler(std::move(handler));
}

absl::Status InprocChannel::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  core_->Close(absl::OkStatus());
  return absl::OkStatus();
}

bool InprocChannel::is_open() const { return core_->is_open(); }

absl::Status InprocChannel::close_reason() const { return core_->close_reason(); }

}  // namespace warren::channel
