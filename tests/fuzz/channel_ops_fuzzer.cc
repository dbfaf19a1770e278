// tests/fuzz/channel_ops_fuzzer.cc: random sequences of channel operations
// on an in-process broker (Dispatch::kManual, ManualClock), driven by the
// fuzzer's bytes through the public API only, checked against a model of
// where every published message is.
//
// Each step is one call (declare, bind, unbind, publish, get, consume, ack,
// nack, reject, recover, cancel, purge, delete, qos, close, reopen, or moving
// the clock) on one of four channel slots over two connections, then
// ProcessEvents(), which runs every consumer callback the step made ready.
// Every queue that could drop a message silently (x-message-ttl,
// x-max-length) dead-letters to "dlq" instead, which an observer connection
// drains after each step, so every way out of a queue is seen:
//   - a copy of a message in a queue (one per queue it was routed to) is
//     ready, unacked on one channel, or awaiting its dead-lettering;
//   - it leaves by get or delivery (ack, no_ack), purge or queue.delete
//     (their counts must match the model), nack/reject without requeue
//     (dropped, or dead-lettered when the queue has a dead-letter exchange),
//     expiry (never before its TTL), drop-head at max-length (the oldest
//     ready copy); or it is still there at the end, when the queues are
//     drained;
//   - nothing is delivered that the model does not hold ready, a copy
//     delivered before comes with redelivered set and a new one without, and
//     basic.get takes the oldest ready copy (requeues keep their place);
//   - after every step each queue's message_count and consumer_count (a
//     passive declare) match the model, and a refused call has closed its
//     channel (an error on an open channel always closes it).
// Any difference aborts with the step that showed it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "fuzz_support.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/clock.h"
#include "warren/connection.h"
#include "warren/field_table.h"
#include "warren/message.h"

namespace warren::fuzz {
namespace {

constexpr std::string_view kDeadLetterQueue = "dlq";
constexpr std::string_view kQueueNames[] = {"q0", "q1", "q2"};
constexpr std::string_view kExchanges[] = {"", "direct", "fanout"};
constexpr std::string_view kKeys[] = {"q0", "q1", "q2", "k"};
constexpr int kSlots = 4;  // channels 0 and 1 on connection 0, 2 and 3 on 1
constexpr int kMaxSteps = 200;
constexpr absl::Duration kTtl = absl::Seconds(10);

// What a queue is declared with; each name has two, so that redeclares
// sometimes conflict.
struct QueueConfig {
  bool dead_letters = false;  // to "" with key "dlq"
  std::optional<absl::Duration> ttl;
  std::optional<uint32_t> max_length;

  FieldTable Arguments() const {
    FieldTable arguments;
    if (dead_letters) {
      arguments.Set("x-dead-letter-exchange", "");
      arguments.Set("x-dead-letter-routing-key", std::string(kDeadLetterQueue));
    }
    if (ttl) arguments.Set("x-message-ttl", static_cast<int32_t>(absl::ToInt64Milliseconds(*ttl)));
    if (max_length) arguments.Set("x-max-length", static_cast<int32_t>(*max_length));
    return arguments;
  }
  friend bool operator==(const QueueConfig&, const QueueConfig&) = default;
};

QueueConfig ConfigOf(size_t name, int variant) {
  static const QueueConfig kConfigs[3][2] = {
      {{}, {.dead_letters = true}},
      {{.dead_letters = true, .ttl = kTtl}, {.dead_letters = true, .max_length = 2}},
      {{.dead_letters = true, .ttl = kTtl / 2, .max_length = 1}, {}},
  };
  return kConfigs[name][variant];
}

enum class CopyState { kReady, kUnacked, kAwaitingDeadLetter };

// One message in one queue.
struct Copy {
  uint64_t seq = 0;  // arrival order in the queue
  absl::Time arrived;
  CopyState state = CopyState::kReady;
  bool delivered_before = false;
};

// One life of a queue, from declare to delete.
struct QueueModel {
  std::string name;
  QueueConfig config;
  std::map<uint64_t, Copy> copies;  // by message id
  uint64_t next_seq = 0;

  size_t ReadyCount() const {
    return std::count_if(copies.begin(), copies.end(),
                         [](const auto& c) { return c.second.state == CopyState::kReady; });
  }
  // The ready copy that arrived first.
  std::optional<uint64_t> OldestReady() const {
    std::optional<uint64_t> oldest;
    for (const auto& [id, copy] : copies) {
      if (copy.state == CopyState::kReady &&
          (!oldest || copy.seq < copies.at(*oldest).seq)) {
        oldest = id;
      }
    }
    return oldest;
  }
};

struct Unacked {
  std::shared_ptr<QueueModel> queue;
  uint64_t id = 0;
};

struct ConsumerModel {
  std::shared_ptr<QueueModel> queue;
  bool no_ack = false;
  bool active = true;  // false once cancelled; late deliveries still count
};

struct DeliveryEvent {
  int slot;
  Delivery delivery;
};

struct SlotModel {
  std::unique_ptr<Channel> channel;
  bool open = false;
  std::map<uint64_t, Unacked> unacked;  // by delivery tag
  std::map<std::string, ConsumerModel> consumers;
};

std::string IdOf(const Message& message) { return std::string(message.body()); }

class Run {
 public:
  Run(ByteReader& in) : in_(in) {}

  void Execute() {
    auto broker = Broker::Create({.dispatch = Dispatch::kManual,
                                  .clock = &clock_,
                                  .dispatch_seed = in_.Byte()});
    Require(broker.ok(), "Broker::Create failed");
    broker_ = std::move(*broker);
    auto observer_connection = broker_->Connect();
    Require(observer_connection.ok(), "observer Connect failed");
    observer_connection_ = std::move(*observer_connection);
    auto observer = observer_connection_->OpenChannel();
    Require(observer.ok(), "observer OpenChannel failed");
    observer_ = std::move(*observer);
    Require(observer_->QueueDeclare(kDeadLetterQueue).ok(), "declaring dlq failed");
    Require(observer_->ExchangeDeclare("direct", kDirect).ok(), "declaring direct failed");
    Require(observer_->ExchangeDeclare("fanout", kFanout).ok(), "declaring fanout failed");
    for (int slot = 0; slot < kSlots; ++slot) Reopen(slot);
    for (int& variant : usual_variant_) variant = in_.Flag();

    for (int step = 0; step < kMaxSteps && !in_.empty(); ++step) {
      step_ = step;
      Step();
      AfterStep();
    }
    Finish();
  }

 private:
  [[noreturn]] void Broken(std::string_view what) {
    Fail(Cat("step ", step_, " (", last_call_, "): ", what));
  }
  void Check(bool holds, std::string_view what) {
    if (!holds) Broken(what);
  }

  std::shared_ptr<QueueModel> Queue(std::string_view name) {
    auto it = queues_.find(std::string(name));
    return it == queues_.end() ? nullptr : it->second;
  }

  // --- The calls -----------------------------------------------------------

  void Step() {
    const int slot = static_cast<int>(in_.Below(kSlots));
    // Mostly on an open channel: an error closes one, and calls on a closed
    // channel only test that they are refused.
    if (!slots_[slot].open && in_.Byte() < 224) {
      last_call_ = Cat("reopen ", slot);
      Reopen(slot);
    }
    SlotModel& s = slots_[slot];
    const size_t name_index = in_.Below(std::size(kQueueNames));
    const std::string_view name = kQueueNames[name_index];
    switch (in_.Below(20)) {
      case 0:
      case 1:
      case 2: {
        // Mostly the run's usual arguments for the name: another variant
        // is a conflicting redeclare.
        const int variant = usual_variant_[name_index] ^ (in_.Byte() < 32);
        const bool passive = in_.Byte() < 32;
        last_call_ = Cat("queue.declare ", name, " variant ", variant,
                                  passive ? " passive" : "", " on ", slot);
        const QueueConfig config = ConfigOf(name_index, variant);
        auto result = s.channel->QueueDeclare(
            name, {.passive = passive, .arguments = config.Arguments()});
        AfterCall(slot, result.status());
        if (!result.ok()) return;
        std::shared_ptr<QueueModel> queue = Queue(name);
        if (passive) {
          Check(queue != nullptr, "passive declare found a queue the model lacks");
        } else if (queue == nullptr) {
          queue = std::make_shared<QueueModel>(QueueModel{.name = std::string(name),
                                                          .config = config});
          queues_[queue->name] = queue;
        } else {
          Check(queue->config == config, "a redeclare with other arguments succeeded");
        }
        Check(result->message_count == queue->ReadyCount(), "declare-ok message_count");
        Check(result->consumer_count == ConsumerCount(*queue), "declare-ok consumer_count");
        return;
      }
      case 3:
      case 4: {
        const bool bind = in_.Byte() < 128;
        const std::string_view exchange = Exchange();
        const std::string_view key = kKeys[in_.Below(std::size(kKeys))];
        last_call_ = Cat(bind ? "queue.bind " : "queue.unbind ", name, " to '",
                                  exchange, "' key ", key, " on ", slot);
        const absl::Status status = bind ? s.channel->QueueBind(name, exchange, key)
                                         : s.channel->QueueUnbind(name, exchange, key);
        AfterCall(slot, status);
        if (!status.ok()) return;
        Check(Queue(name) != nullptr, "bound or unbound a queue the model lacks");
        Check(exchange == "direct" || exchange == "fanout",
              "bound to the default or a missing exchange");
        // Kept with their keys even for fanout, which routes by any binding.
        const std::tuple<std::string, std::string, std::string> binding{
            std::string(exchange), std::string(name), std::string(key)};
        if (bind) {
          bindings_.insert(binding);
        } else {
          bindings_.erase(binding);
        }
        return;
      }
      case 5:
      case 6:
      case 7:
      case 8: Publish(slot); return;
      case 9: {
        const bool no_ack = in_.Flag();
        last_call_ = Cat("basic.get ", name, no_ack ? " no_ack" : "", " on ", slot);
        auto result = s.channel->BasicGet(name, {.no_ack = no_ack});
        AfterCall(slot, result.status());
        if (!result.ok()) return;
        std::shared_ptr<QueueModel> queue = Queue(name);
        Check(queue != nullptr, "basic.get from a queue the model lacks");
        if (!result->has_value()) {
          Check(queue->ReadyCount() == 0, "basic.get found nothing in a queue with ready messages");
          return;
        }
        const std::optional<uint64_t> oldest = queue->OldestReady();
        const uint64_t id = Delivered(slot, queue, (*result)->delivery, no_ack);
        Check(oldest == id, "basic.get did not take the oldest ready message");
        Check((*result)->message_count == queue->ReadyCount(), "get-ok message_count");
        return;
      }
      case 10: {
        const bool no_ack = in_.Flag();
        const bool exclusive = in_.Byte() < 16;
        std::string tag = in_.Byte() < 32 ? "fixed-tag" : "";
        last_call_ = Cat("basic.consume ", name, no_ack ? " no_ack" : "",
                                  exclusive ? " exclusive" : "", " tag '", tag, "' on ", slot);
        auto result = s.channel->BasicConsume(
            name,
            [this, slot](const Delivery& d) { events_.push_back({slot, d}); },
            {.consumer_tag = tag, .no_ack = no_ack, .exclusive = exclusive});
        AfterCall(slot, result.status());
        if (!result.ok()) return;
        std::shared_ptr<QueueModel> queue = Queue(name);
        Check(queue != nullptr, "consumed from a queue the model lacks");
        Check(s.consumers.count(*result) == 0 || !s.consumers[*result].active,
              "a consumer tag in use was given again");
        s.consumers[*result] = {.queue = queue, .no_ack = no_ack};
        return;
      }
      case 11:
      case 12:
      case 13: AckNackOrReject(slot); return;
      case 14: {
        last_call_ = Cat("basic.recover on ", slot);
        const absl::Status status = s.channel->BasicRecover({.requeue = true});
        AfterCall(slot, status);
        if (status.ok()) RequeueAll(s);
        return;
      }
      case 15: {
        std::string tag = "unknown";
        std::vector<std::string> active;
        for (const auto& [t, c] : s.consumers) {
          if (c.active) active.push_back(t);
        }
        if (!active.empty() && in_.Byte() < 224) tag = active[in_.Below(active.size())];
        last_call_ = Cat("basic.cancel ", tag, " on ", slot);
        const absl::Status status = s.channel->BasicCancel(tag);
        AfterCall(slot, status);
        if (status.ok() && s.consumers.count(tag)) s.consumers[tag].active = false;
        return;
      }
      case 16: {
        last_call_ = Cat("queue.purge ", name, " on ", slot);
        auto result = s.channel->QueuePurge(name);
        AfterCall(slot, result.status());
        if (!result.ok()) return;
        std::shared_ptr<QueueModel> queue = Queue(name);
        Check(queue != nullptr, "purged a queue the model lacks");
        Check(*result == queue->ReadyCount(), "purge count differs from the ready messages");
        std::erase_if(queue->copies,
                      [](const auto& c) { return c.second.state == CopyState::kReady; });
        return;
      }
      case 17: {
        const bool if_unused = in_.Byte() < 32;
        const bool if_empty = in_.Byte() < 32;
        last_call_ = Cat("queue.delete ", name, if_unused ? " if_unused" : "",
                                  if_empty ? " if_empty" : "", " on ", slot);
        auto result = s.channel->QueueDelete(name, {.if_unused = if_unused, .if_empty = if_empty});
        AfterCall(slot, result.status());
        if (!result.ok()) return;
        std::shared_ptr<QueueModel> queue = Queue(name);
        if (queue == nullptr) {
          Check(*result == 0, "deleting a missing queue dropped messages");
          return;
        }
        Check(!if_unused || ConsumerCount(*queue) == 0, "if_unused deleted a queue in use");
        Check(!if_empty || queue->ReadyCount() == 0, "if_empty deleted a queue with messages");
        Check(*result == queue->ReadyCount(), "delete count differs from the ready messages");
        Deleted(queue);
        return;
      }
      case 18: {
        const uint16_t prefetch = static_cast<uint16_t>(in_.Below(4));
        const bool global = in_.Flag();
        last_call_ = Cat("basic.qos ", prefetch, global ? " global" : "", " on ", slot);
        AfterCall(slot, s.channel->BasicQos(prefetch, {.global = global}));
        return;
      }
      default: {
        switch (in_.Below(4)) {
          case 0:
            last_call_ = Cat("channel.close on ", slot);
            // Closing a closed channel succeeds too.
            Check(s.channel->Close().ok(), "channel.close failed");
            Check(!s.channel->is_open(), "a closed channel is open");
            SyncClosed();
            return;
          case 1: {
            const int connection = slot / 2;
            last_call_ = Cat("connection.close ", connection);
            Check(connections_[connection]->Close().ok(), "connection.close failed");
            SyncClosed();
            return;
          }
          case 2:
            last_call_ = Cat("reopen ", slot);
            Reopen(slot);
            return;
          default: {
            const absl::Duration by = kTtl / 4 * static_cast<int>(in_.Below(6));
            last_call_ = Cat("advance the clock by ", absl::FormatDuration(by));
            clock_.Advance(by);
            now_ += by;
            return;
          }
        }
      }
    }
  }

  void Publish(int slot) {
    SlotModel& s = slots_[slot];
    const std::string_view exchange = Exchange();
    const std::string_view key = kKeys[in_.Below(std::size(kKeys))];
    const uint64_t id = next_id_++;
    last_call_ = Cat("basic.publish ", id, " to '", exchange, "' key ", key, " on ", slot);
    const absl::Status status = s.channel->BasicPublish(exchange, key, Message(Cat(id)));
    AfterCall(slot, status);
    if (!status.ok()) return;
    Check(exchange != "missing", "published to a missing exchange");
    std::set<std::string> routed;
    if (exchange.empty()) {
      if (Queue(key) != nullptr) routed.insert(std::string(key));
    } else {
      for (const auto& [e, queue, binding_key] : bindings_) {
        if (e == exchange && (exchange == "fanout" || binding_key == key)) routed.insert(queue);
      }
    }
    for (const std::string& name : routed) {
      std::shared_ptr<QueueModel> queue = Queue(name);
      queue->copies[id] = {.seq = queue->next_seq++, .arrived = now_};
    }
  }

  // One of kExchanges, or rarely one that does not exist.
  std::string_view Exchange() {
    return in_.Byte() < 16 ? "missing" : kExchanges[in_.Below(std::size(kExchanges))];
  }

  // ack, nack or reject, of a tag the channel holds or (rarely) one it does
  // not, which must close the channel.
  void AckNackOrReject(int slot) {
    SlotModel& s = slots_[slot];
    const int kind = static_cast<int>(in_.Below(3));
    const bool multiple = kind != 2 && in_.Byte() < 64;
    const bool requeue = kind != 0 && in_.Flag();
    uint64_t tag = 1000000;
    if (!s.unacked.empty() && in_.Byte() < 240) {
      auto it = s.unacked.begin();
      std::advance(it, in_.Below(s.unacked.size()));
      tag = it->first;
    } else if (in_.Byte() >= 16) {
      return;  // nothing to settle; an unknown tag only now and then
    }
    if (multiple && in_.Byte() < 32) tag = 0;  // everything
    static constexpr std::string_view kNames[] = {"basic.ack", "basic.nack", "basic.reject"};
    last_call_ = Cat(kNames[kind], " ", tag, multiple ? " multiple" : "",
                              requeue ? " requeue" : "", " on ", slot);
    absl::Status status;
    switch (kind) {
      case 0: status = s.channel->BasicAck(tag, {.multiple = multiple}); break;
      case 1: status = s.channel->BasicNack(tag, {.multiple = multiple, .requeue = requeue}); break;
      default: status = s.channel->BasicReject(tag, {.requeue = requeue}); break;
    }
    const bool was_open = s.open;
    const bool known = tag == 0 ? multiple : s.unacked.count(tag) > 0;
    AfterCall(slot, status);
    if (!was_open) return;
    Check(status.ok() == known, status.ok() ? "settled a tag the channel does not hold"
                                            : "refused a tag the channel holds");
    if (!status.ok()) return;
    auto end = tag == 0 ? s.unacked.end() : s.unacked.upper_bound(tag);
    auto begin = multiple ? s.unacked.begin() : s.unacked.find(tag);
    for (auto it = begin; it != end; ++it) {
      QueueModel& queue = *it->second.queue;
      auto copy = queue.copies.find(it->second.id);
      if (copy == queue.copies.end()) continue;  // its queue was deleted
      if (kind == 0) {
        queue.copies.erase(copy);
      } else if (requeue) {
        copy->second.state = CopyState::kReady;
      } else if (queue.config.dead_letters) {
        copy->second.state = CopyState::kAwaitingDeadLetter;
      } else {
        queue.copies.erase(copy);
      }
    }
    s.unacked.erase(begin, end);
  }

  // --- Keeping the model in step ---------------------------------------------

  // After any call on `slot` but channel.close: a refused call on an open
  // channel closed it, and every channel the broker closed (with its
  // connection, say) is closed in the model too. A call on a closed channel
  // must be refused.
  void AfterCall(int slot, const absl::Status& status) {
    SlotModel& s = slots_[slot];
    if (!s.open) Check(!status.ok(), "a closed channel accepted a call");
    if (s.open && !status.ok()) {
      Check(!s.channel->is_open(), Cat("refused (", status.ToString(),
                                                ") without closing the channel"));
    }
    SyncClosed();
  }

  void SyncClosed() {
    for (SlotModel& s : slots_) {
      if (s.open && !s.channel->is_open()) {
        s.open = false;
        RequeueAll(s);
        s.consumers.clear();
      }
    }
  }

  void RequeueAll(SlotModel& s) {
    for (auto& [tag, unacked] : s.unacked) {
      auto copy = unacked.queue->copies.find(unacked.id);
      if (copy != unacked.queue->copies.end()) copy->second.state = CopyState::kReady;
    }
    s.unacked.clear();
  }

  void Reopen(int slot) {
    const int connection = slot / 2;
    if (connections_[connection] == nullptr || !connections_[connection]->is_open()) {
      auto opened = broker_->Connect();
      Require(opened.ok(), "Connect failed");
      connections_[connection] = std::move(*opened);
    }
    SlotModel& s = slots_[slot];
    if (s.channel != nullptr && s.open) {
      Check(s.channel->Close().ok(), "channel.close before a reopen failed");
      SyncClosed();
    }
    auto channel = connections_[connection]->OpenChannel();
    Require(channel.ok(), "OpenChannel failed");
    s = SlotModel{.channel = std::move(*channel), .open = true};
  }

  void Deleted(const std::shared_ptr<QueueModel>& queue) {
    queues_.erase(queue->name);
    std::erase_if(bindings_, [&](const auto& b) { return std::get<1>(b) == queue->name; });
    for (SlotModel& s : slots_) {
      for (auto& [tag, consumer] : s.consumers) {
        if (consumer.queue == queue) consumer.active = false;
      }
    }
    // Unacked copies stay on their channels (acking them still works) but
    // can no longer come back.
    std::erase_if(queue->copies,
                  [](const auto& c) { return c.second.state != CopyState::kUnacked; });
  }

  size_t ConsumerCount(const QueueModel& queue) const {
    size_t count = 0;
    for (const SlotModel& s : slots_) {
      for (const auto& [tag, consumer] : s.consumers) {
        count += consumer.active && consumer.queue.get() == &queue;
      }
    }
    return count;
  }

  // A delivery (get or consumer) of a copy the model holds ready; returns
  // its id.
  uint64_t Delivered(int slot, const std::shared_ptr<QueueModel>& queue, const Delivery& d,
                     bool no_ack) {
    uint64_t id = 0;
    Check(absl::SimpleAtoi(IdOf(d.message), &id), "a delivery of a message never published");
    auto copy = queue->copies.find(id);
    Check(copy != queue->copies.end() && copy->second.state == CopyState::kReady,
          Cat("delivered message ", id, " from ", queue->name,
                       ", which is not ready there"));
    Check(d.redelivered == copy->second.delivered_before,
          Cat("message ", id, " from ", queue->name, " delivered with redelivered=",
                       d.redelivered, " after ", copy->second.delivered_before ? "an" : "no",
                       " earlier delivery"));
    if (queue->config.ttl) {
      Check(now_ - copy->second.arrived < *queue->config.ttl,
            Cat("delivered message ", id, " after its TTL"));
    }
    if (no_ack) {
      queue->copies.erase(copy);
    } else {
      copy->second.state = CopyState::kUnacked;
      copy->second.delivered_before = true;
      SlotModel& s = slots_[slot];
      Check(s.unacked.count(d.delivery_tag) == 0, "a delivery tag was reused");
      Check(s.unacked.empty() || s.unacked.rbegin()->first < d.delivery_tag,
            "delivery tags went backwards");
      s.unacked[d.delivery_tag] = {.queue = queue, .id = id};
    }
    return id;
  }

  // After each step: run the callbacks, account for every delivery and
  // every dead-lettered message, and compare each queue's counts.
  void AfterStep() {
    broker_->ProcessEvents();
    std::vector<DeliveryEvent> events = std::move(events_);
    events_.clear();
    for (const DeliveryEvent& event : events) {
      SlotModel& s = slots_[event.slot];
      auto consumer = s.consumers.find(event.delivery.consumer_tag);
      Check(consumer != s.consumers.end(),
            Cat("a delivery to consumer ", event.delivery.consumer_tag,
                         ", unknown on channel ", event.slot));
      // A delivery made while the channel was open but run after it closed
      // was requeued by the close; the model requeued it already.
      if (!s.open) continue;
      Delivered(event.slot, consumer->second.queue, event.delivery, consumer->second.no_ack);
    }
    DrainDeadLetters();
    for (const auto& [name, queue] : queues_) {
      auto declared = observer_->QueueDeclare(name, {.passive = true});
      Check(declared.ok(), Cat("queue ", name, " is gone from the broker: ",
                                        declared.status().ToString()));
      Check(declared->message_count == queue->ReadyCount(),
            Cat("queue ", name, " has ", declared->message_count,
                         " ready messages, the model ", queue->ReadyCount()));
      Check(declared->consumer_count == ConsumerCount(*queue),
            Cat("queue ", name, " has ", declared->consumer_count,
                         " consumers, the model ", ConsumerCount(*queue)));
      if (queue->config.max_length) {
        Check(queue->ReadyCount() <= *queue->config.max_length, "a queue is over its max-length");
      }
      for (const auto& [id, copy] : queue->copies) {
        Check(copy.state != CopyState::kAwaitingDeadLetter,
              Cat("message ", id, " rejected from ", name, " was never dead-lettered"));
      }
    }
  }

  void DrainDeadLetters() {
    for (;;) {
      auto got = observer_->BasicGet(kDeadLetterQueue, {.no_ack = true});
      Check(got.ok(), "basic.get on dlq failed");
      if (!got->has_value()) return;
      const Delivery& d = (*got)->delivery;
      const std::optional<FieldTable>& headers = d.message.properties().headers;
      Check(headers.has_value(), "a dead-lettered message without headers");
      const FieldValue* queue_name = headers->Find("x-first-death-queue");
      const FieldValue* reason = headers->Find("x-first-death-reason");
      Check(queue_name && reason && queue_name->AsString() && reason->AsString(),
            "a dead-lettered message without x-first-death-queue/reason");
      std::shared_ptr<QueueModel> queue = Queue(*queue_name->AsString());
      Check(queue != nullptr, "dead-lettered from a queue the model lacks");
      uint64_t id = 0;
      Check(absl::SimpleAtoi(IdOf(d.message), &id), "dead-lettered a message never published");
      auto copy = queue->copies.find(id);
      Check(copy != queue->copies.end(),
            Cat("dead-lettered message ", id, " that ", queue->name, " does not hold"));
      Check(!d.redelivered, "a dead-lettered copy came redelivered");
      const std::string_view why = *reason->AsString();
      if (why == "rejected") {
        Check(copy->second.state == CopyState::kAwaitingDeadLetter,
              Cat("message ", id, " dead-lettered as rejected, never rejected"));
      } else if (why == "expired") {
        Check(copy->second.state == CopyState::kReady && queue->config.ttl &&
                  now_ - copy->second.arrived >= *queue->config.ttl,
              Cat("message ", id, " expired from ", queue->name, " before its TTL"));
      } else if (why == "maxlen") {
        Check(queue->config.max_length && queue->OldestReady() == id,
              Cat("message ", id, " dropped from ", queue->name,
                           " for max-length, not its oldest ready message"));
      } else {
        Broken(Cat("dead-lettered for an unknown reason: ", why));
      }
      queue->copies.erase(copy);
    }
  }

  // Closes everything (requeueing what is unacked) and takes what is left:
  // exactly what the model says is ready in each queue.
  void Finish() {
    last_call_ = "closing both connections";
    step_ = kMaxSteps;
    // One at a time, with the callbacks run in between: what the first
    // close requeues may go to a no_ack consumer of the second, and a no_ack
    // delivery whose callback has not run when its channel closes is lost,
    // by design (as in RabbitMQ).
    for (auto& connection : connections_) {
      connection->Close().IgnoreError();
      SyncClosed();
      AfterStep();
    }
    for (const auto& [name, queue] : queues_) {
      for (;;) {
        auto got = observer_->BasicGet(name, {.no_ack = true});
        Check(got.ok(), "the final drain failed");
        if (!got->has_value()) break;
        uint64_t id = 0;
        Check(absl::SimpleAtoi(IdOf((*got)->delivery.message), &id), "drained a stranger");
        auto copy = queue->copies.find(id);
        Check(copy != queue->copies.end() && copy->second.state == CopyState::kReady,
              Cat("drained message ", id, " from ", name, ", which it should not hold"));
        queue->copies.erase(copy);
      }
      Check(queue->copies.empty(),
            Cat("queue ", name, " lost ", queue->copies.size(), " messages"));
    }
  }

  ByteReader& in_;
  ManualClock clock_;
  absl::Time now_ = clock_.Now();
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> observer_connection_;
  std::unique_ptr<Channel> observer_;
  std::unique_ptr<Connection> connections_[2];
  SlotModel slots_[kSlots];
  std::map<std::string, std::shared_ptr<QueueModel>> queues_;
  // (exchange, queue, key) of the bindings to "direct" and "fanout".
  std::set<std::tuple<std::string, std::string, std::string>> bindings_;
  std::vector<DeliveryEvent> events_;
  int usual_variant_[std::size(kQueueNames)] = {};
  uint64_t next_id_ = 1;
  int step_ = 0;
  std::string last_call_ = "setup";
};

}  // namespace
}  // namespace warren::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  warren::fuzz::ByteReader in(data, size);
  warren::fuzz::Run(in).Execute();
  return 0;
}
