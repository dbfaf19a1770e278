// tests/stress_test.cc: the broker under load and abuse, with an exact ledger.
//
// Publishers and consumers on the thread-pool dispatcher (real threads), over
// every exchange type (default, direct, fanout, topic, headers, exchange to
// exchange, alternate exchange), with random acks, nacks, rejects, requeues,
// multiple acks, recovers and held deliveries, while a chaos thread closes
// consumer channels and connections and publisher connections, cancels and
// restarts consumers and changes prefetch, and a churn thread changes the
// topology. Every message has a unique message_id and every publisher uses
// confirms. At the end every copy an accepted publish made must have exactly
// one fate, and a refused publish none:
//   - acked by a consumer (an ack that returned OK; or a no-ack delivery),
//   - dead-lettered with a reason its queue allows (x-death, read from the
//     dead-letter queue, which is drained at the end),
//   - left in its queue (drained at the end),
//   - returned (mandatory, unroutable), or
//   - nacked by a reject-publish queue.
// A copy delivered more than once must have `redelivered` set every time
// after the first. The topology is built so that the places a copy may end in
// are known from its route alone, whatever the churn does: churned bindings
// are redundant (RabbitMQ delivers a message once per queue however many
// paths reach it) or choose between two places that are both observed.
//
// The traffic flows for WARREN_STRESS_SECONDS seconds (default 2; README.md).
// Finishing waits for exact conditions (counts reached, every callback
// returned), with deadlines that only a bug reaches. Owns nothing outside
// this file; it uses the public API only.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "warren/broker.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/field_table.h"
#include "warren/message.h"
#include "warren/status.h"

namespace warren {
namespace {

// Bounds the waits of a broken run only; a passing run takes far less.
constexpr absl::Duration kDeadline = absl::Seconds(60);
constexpr int kPublishers = 4;
constexpr int kConsumerConnections = 3;
constexpr int kSlotsPerConnection = 2;
// Publishers wait while this many copies have no fate yet, so that a long
// run holds a bounded number of messages.
constexpr int64_t kMaxOpenCopies = 20000;

// Places a copy may end in that are not queues.
constexpr char kReturned[] = "(returned)";
constexpr char kNacked[] = "(nacked)";
constexpr char kDeadQueue[] = "dead";
constexpr char kDeadLetterExchange[] = "dlx";

absl::Duration TrafficDuration() {
  const char* seconds = std::getenv("WARREN_STRESS_SECONDS");
  if (seconds == nullptr || *seconds == '\0') return absl::Seconds(2);
  return absl::Seconds(std::max(1, std::atoi(seconds)));
}

// A work queue: its arguments (always with the dead-letter exchange) and the
// dead-letter reasons its policies can produce.
struct QueueSpec {
  std::string name;
  FieldTable arguments;
  std::set<std::string> reasons;
};

std::vector<QueueSpec> WorkQueues() {
  auto spec = [](std::string name, FieldTable arguments, std::set<std::string> more) {
    arguments.Set("x-dead-letter-exchange", kDeadLetterExchange);
    more.insert("rejected");
    return QueueSpec{std::move(name), std::move(arguments), std::move(more)};
  };
  return {
      spec("q.plain", {}, {}),
      spec("q.direct", {}, {}),
      spec("q.direct2", {}, {}),
      spec("q.fanout.a", {}, {}),
      spec("q.fanout.b", {}, {}),
      spec("q.topic", {}, {}),
      spec("q.headers", {}, {}),
      spec("q.priority", {{"x-max-priority", int32_t{5}}}, {}),
      spec("q.sac", {{"x-single-active-consumer", true}}, {}),
      spec("q.altdirect", {}, {}),
      spec("q.alt", {}, {}),
      spec("q.mandatory", {}, {}),
      spec("q.noack", {}, {}),
      spec("q.limited", {{"x-max-length", int32_t{20}}}, {"maxlen"}),
      spec("q.ttl", {{"x-message-ttl", int32_t{20}}}, {"expired"}),
      spec("q.quorum", {{"x-queue-type", "quorum"}, {"x-delivery-limit", int32_t{2}}},
           {"delivery_limit"}),
      spec("q.rejectdlx", {{"x-max-length", int32_t{10}}, {"x-overflow", "reject-publish-dlx"}},
           {"maxlen"}),
      spec("q.reject", {{"x-max-length", int32_t{10}}, {"x-overflow", "reject-publish"}}, {}),
      // Always full, with one consumer holding one message, while the churn
      // tries to delete it if unused: the refused deletes must not lose
      // the publishes they see.
      spec("q.busy", {{"x-max-length", int32_t{5}}, {"x-overflow", "reject-publish-dlx"}},
           {"maxlen"}),
  };
}

// The queues the consumer slots consume (q.noack and q.busy have their own
// consumers).
bool ConsumedBySlots(const std::string& queue) { return queue != "q.noack" && queue != "q.busy"; }

// Queues with x-overflow reject-publish-dlx: a nacked publish is
// dead-lettered maxlen there, an acked one is not.
bool RejectsPublishToDeadLetters(const std::string& queue) {
  return queue == "q.rejectdlx" || queue == "q.busy";
}

// Where a publish goes, and the places each copy it makes may end in: one
// entry per copy, each listing its alternatives.
struct Route {
  std::string exchange;
  std::string routing_key;
  std::optional<FieldTable> headers;
  bool mandatory = false;
  std::vector<std::vector<std::string>> copies;
};

// The routes of the publishers that chaos may interrupt.
std::vector<Route> ChaosRoutes() {
  return {
      {"", "q.plain", std::nullopt, false, {{"q.plain"}}},
      {"ex.direct", "d", std::nullopt, false, {{"q.direct"}}},
      {"ex.direct", "d", FieldTable{{"CC", FieldArray{"d2"}}}, false,
       {{"q.direct"}, {"q.direct2"}}},
      {"ex.fanout", "whatever", std::nullopt, false, {{"q.fanout.a"}, {"q.fanout.b"}}},
      {"ex.topic", "t.x.y", std::nullopt, false, {{"q.topic"}}},
      {"ex.headers", "", FieldTable{{"kind", "h"}, {"n", int32_t{1}}}, false, {{"q.headers"}}},
      {"", "q.priority", std::nullopt, false, {{"q.priority"}}},
      {"", "q.sac", std::nullopt, false, {{"q.sac"}}},
      {"ex.altsrc", "k", std::nullopt, false, {{"q.altdirect", "q.alt"}}},
      {"", "q.noack", std::nullopt, false, {{"q.noack"}}},
      {"", "q.limited", std::nullopt, false, {{"q.limited"}}},
      {"", "q.ttl", std::nullopt, false, {{"q.ttl"}}},
      {"", "q.quorum", std::nullopt, false, {{"q.quorum"}}},
      {"", "q.rejectdlx", std::nullopt, false, {{"q.rejectdlx"}}},
      {"", "q.busy", std::nullopt, false, {{"q.busy"}}},
  };
}

// The routes of the publisher that closes its channels only itself, so that
// every return and confirm reaches it.
std::vector<Route> SteadyRoutes() {
  return {
      {"ex.mandatory", "m", std::nullopt, true, {{"q.mandatory", kReturned}}},
      {"", "q.reject", std::nullopt, false, {{"q.reject", kNacked}}},
  };
}

std::mt19937_64& ThreadRng(uint64_t seed) {
  thread_local std::mt19937_64 rng(
      seed ^ std::hash<std::thread::id>()(std::this_thread::get_id()));
  return rng;
}

int Uniform(std::mt19937_64& rng, int n) {
  return static_cast<int>(rng() % static_cast<uint64_t>(n));
}

// The most recent x-death entry's queue and reason.
std::optional<std::pair<std::string, std::string>> LastDeath(const Message& message) {
  const std::optional<FieldTable>& headers = message.properties().headers;
  const FieldValue* x_death = headers ? headers->Find("x-death") : nullptr;
  const FieldArray* entries = x_death ? x_death->Get<FieldArray>() : nullptr;
  if (entries == nullptr || entries->empty()) return std::nullopt;
  const FieldTable* entry = entries->front().Get<FieldTable>();
  if (entry == nullptr) return std::nullopt;
  const FieldValue* queue = entry->Find("queue");
  const FieldValue* reason = entry->Find("reason");
  if (queue == nullptr || reason == nullptr || !queue->AsString() || !reason->AsString()) {
    return std::nullopt;
  }
  return std::make_pair(std::string(*queue->AsString()), std::string(*reason->AsString()));
}

// What happened to every message: filled by publishers, consumer callbacks,
// the steady publisher's handlers and the final drain, on any thread.
class Ledger {
 public:
  void Published(const std::string& id, const Route* route, bool accepted) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = entries_[id];
    if (e.route != nullptr) anomalies_.push_back(absl::StrCat(id, " published twice"));
    e.route = route;
    e.accepted = accepted;
    if (accepted) {
      ++accepted_;
      open_copies_ += static_cast<int64_t>(route->copies.size());
    } else {
      ++refused_;
    }
  }

  void Confirmed(const std::string& id, bool ack) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = entries_[id];
    if (e.confirm) anomalies_.push_back(absl::StrCat(id, " confirmed twice"));
    e.confirm = ack;
  }

  void Delivered(const std::string& id, const std::string& queue, bool redelivered) {
    std::lock_guard<std::mutex> lock(mu_);
    Copy& c = entries_[id].copies[queue];
    ++c.deliveries;
    if (!redelivered) ++c.fresh_deliveries;
  }

  // A terminal fate of the copy of `id` in `place`: "acked", "drained",
  // "returned", "nacked" or "dead:REASON".
  void Fate(const std::string& id, const std::string& place, std::string how) {
    std::lock_guard<std::mutex> lock(mu_);
    ++fates_[how];
    --open_copies_;
    entries_[id].copies[place].fates.push_back(std::move(how));
  }

  void Anomaly(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    anomalies_.push_back(std::move(what));
  }

  // Copies of accepted publishes without a fate yet (a fate of a refused
  // publish, a bug, makes this smaller).
  int64_t open_copies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return open_copies_;
  }

  // Copies of accepted publishes that have no fate in any of their places.
  int64_t CountWithoutFate() const {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t missing = 0;
    for (const auto& [id, e] : entries_) {
      if (e.route == nullptr || !e.accepted) continue;
      for (const std::vector<std::string>& places : e.route->copies) {
        if (FatesIn(e, places) == 0) ++missing;
      }
    }
    return missing;
  }

  std::string Summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = absl::StrCat(accepted_, " publishes accepted, ", refused_, " refused; fates:");
    for (const auto& [how, n] : fates_) absl::StrAppend(&out, " ", how, "=", n);
    return out;
  }

  // Every violation of the ledger's rules, one category a line, naming the
  // ids (the first 20 of each category); empty when there is none.
  std::string Violations(const std::map<std::string, std::set<std::string>>& reasons) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::vector<std::string>> found;
    auto add = [&](const char* category, std::string what) {
      found[category].push_back(std::move(what));
    };
    for (const auto& [id, e] : entries_) {
      if (e.route == nullptr) {
        add("seen but never published", id);
        continue;
      }
      if (!e.accepted) {
        for (const auto& [place, c] : e.copies) {
          if (c.deliveries > 0 || !c.fates.empty()) add("refused, yet found", absl::StrCat(id, "@", place));
        }
        continue;
      }
      std::set<std::string> expected;
      for (const std::vector<std::string>& places : e.route->copies) {
        expected.insert(places.begin(), places.end());
        const int fates = FatesIn(e, places);
        if (fates == 0) add("lost (no fate)", absl::StrCat(id, "@", absl::StrJoin(places, "|")));
        if (fates > 1) {
          std::vector<std::string> all;
          for (const std::string& place : places) {
            auto it = e.copies.find(place);
            if (it == e.copies.end()) continue;
            for (const std::string& how : it->second.fates) all.push_back(absl::StrCat(place, ":", how));
          }
          add("more than one fate", absl::StrCat(id, " [", absl::StrJoin(all, ", "), "]"));
        }
      }
      for (const auto& [place, c] : e.copies) {
        if (!expected.contains(place)) {
          add("in a place its route cannot reach", absl::StrCat(id, "@", place));
        }
        if (c.fresh_deliveries > 1) {
          add("delivered twice without redelivered", absl::StrCat(id, "@", place, " x", c.fresh_deliveries));
        }
        for (const std::string& how : c.fates) {
          if (!how.starts_with("dead:")) continue;
          const std::string reason = how.substr(5);
          auto allowed = reasons.find(place);
          if (allowed == reasons.end() || !allowed->second.contains(reason)) {
            add("dead-lettered for a reason its queue cannot give", absl::StrCat(id, "@", place, " ", reason));
          }
          if (RejectsPublishToDeadLetters(place) && e.confirm &&
              *e.confirm != (reason != "maxlen")) {
            add("confirm contradicts its dead letter",
                absl::StrCat(id, " confirm=", *e.confirm ? "ack" : "nack", " reason=", reason));
          }
        }
      }
      if (e.confirm && !*e.confirm && NackUnexplained(e)) {
        add("nacked, yet no policy says so", id);
      }
    }
    for (const std::string& anomaly : anomalies_) add("anomaly", anomaly);
    std::string out;
    for (const auto& [category, items] : found) {
      absl::StrAppend(&out, category, ": ", items.size(), " (",
                      absl::StrJoin(items.begin(),
                                    items.begin() + std::min<size_t>(items.size(), 20), ", "),
                      items.size() > 20 ? ", ..." : "", ")\n");
    }
    return out;
  }

 private:
  struct Copy {
    int deliveries = 0;
    int fresh_deliveries = 0;  // deliveries without redelivered
    std::vector<std::string> fates;
  };
  struct Entry {
    const Route* route = nullptr;
    bool accepted = false;
    std::optional<bool> confirm;
    std::map<std::string, Copy> copies;  // by place
  };

  static int FatesIn(const Entry& e, const std::vector<std::string>& places) {
    int n = 0;
    for (const std::string& place : places) {
      auto it = e.copies.find(place);
      if (it != e.copies.end()) n += static_cast<int>(it->second.fates.size());
    }
    return n;
  }

  // A nack is explained by a reject-publish policy: the copy was nacked by
  // q.reject or dead-lettered maxlen by a reject-publish-dlx queue.
  static bool NackUnexplained(const Entry& e) {
    auto has = [&](const char* place, std::string_view how) {
      auto it = e.copies.find(place);
      return it != e.copies.end() &&
             std::find(it->second.fates.begin(), it->second.fates.end(), how) !=
                 it->second.fates.end();
    };
    return !has(kNacked, "nacked") && !has("q.rejectdlx", "dead:maxlen") &&
           !has("q.busy", "dead:maxlen");
  }

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_;
  std::vector<std::string> anomalies_;
  std::map<std::string, int64_t> fates_;
  int64_t accepted_ = 0;
  int64_t refused_ = 0;
  int64_t open_copies_ = 0;
};

// Seq numbers of a confirming channel mapped to the ids they published.
class ConfirmTracker {
 public:
  explicit ConfirmTracker(Ledger* ledger) : ledger_(ledger) {}

  void Expect(uint64_t seq, std::string id) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.emplace(seq, std::move(id));
  }
  void Forget(uint64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.erase(seq);
  }
  void OnConfirm(const Confirm& confirm) {
    std::lock_guard<std::mutex> lock(mu_);
    auto last = confirm.multiple ? ids_.upper_bound(confirm.delivery_tag)
                                 : ids_.find(confirm.delivery_tag);
    auto first = confirm.multiple ? ids_.begin() : last;
    if (last == ids_.end() && !confirm.multiple) {
      ledger_->Anomaly(absl::StrCat("confirm of unknown sequence number ", confirm.delivery_tag));
      return;
    }
    if (!confirm.multiple) ++last;
    for (auto it = first; it != last; ++it) {
      ledger_->Confirmed(it->second, confirm.ack);
      if (on_confirm_) on_confirm_(it->second, confirm.ack);
      ++confirmed_;
    }
    ids_.erase(first, last);
    changed_.notify_all();
  }
  // Called for each confirmed id, under the tracker's lock.
  void SetOnConfirm(std::function<void(const std::string&, bool)> f) { on_confirm_ = std::move(f); }
  // Waits until `n` confirms have arrived in all; false at the deadline.
  bool WaitForConfirmed(uint64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(kDeadline),
                             [&] { return confirmed_ >= n; });
  }

 private:
  Ledger* const ledger_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, std::string> ids_;
  uint64_t confirmed_ = 0;
  std::function<void(const std::string&, bool)> on_confirm_;
};

Message MakeMessage(const std::string& id, const Route& route, std::mt19937_64& rng) {
  BasicProperties props;
  props.message_id = id;
  props.headers = route.headers;
  if (route.routing_key == "q.priority") props.priority = static_cast<uint8_t>(Uniform(rng, 7));
  if (route.routing_key == "q.ttl" && Uniform(rng, 3) == 0) props.expiration = "5";
  return Message(std::string(static_cast<size_t>(Uniform(rng, 64)), 'x'), std::move(props));
}

class StressTest : public ::testing::Test {
 protected:
  StressTest()
      : seed_(std::random_device()()),
        routes_(ChaosRoutes()),
        steady_routes_(SteadyRoutes()) {
    for (const QueueSpec& q : WorkQueues()) reasons_[q.name] = q.reasons;
  }

  // One channel of a consumer slot, with the deliveries its callbacks hold.
  // Kept alive to the end of the test, as callbacks may run after it closed.
  struct SlotChannel {
    std::unique_ptr<Channel> channel;
    // Touched only by this channel's callbacks, which run one at a time.
    std::map<uint64_t, std::pair<std::string, std::string>> held;  // tag -> (id, queue)
    bool recovered = false;
    // Consumer tags; guarded by the slot's mutex.
    std::vector<std::pair<std::string, std::string>> consumers;  // (tag, queue)
  };
  struct Slot {
    std::mutex mu;
    SlotChannel* current = nullptr;
  };
  struct ConsumerConnection {
    std::mutex mu;  // taken before the slots'
    std::unique_ptr<Connection> connection;
    Slot slots[kSlotsPerConnection];
  };

  void SetUp() override {
    std::cout << "stress seed " << seed_ << ", traffic for " << TrafficDuration() << std::endl;
    broker_ = Broker::Create({.dispatch_threads = 3}).value();
    admin_connection_ = broker_->Connect().value();
    auto admin = admin_connection_->OpenChannel().value();
    ASSERT_TRUE(admin->ExchangeDeclare(kDeadLetterExchange, kFanout).ok());
    ASSERT_TRUE(admin->QueueDeclare(kDeadQueue).ok());
    ASSERT_TRUE(admin->QueueBind(kDeadQueue, kDeadLetterExchange, "").ok());
    for (const QueueSpec& q : WorkQueues()) {
      // Durable: quorum queues must be; warren keeps nothing on disk anyway.
      ASSERT_TRUE(admin->QueueDeclare(q.name, {.durable = true, .arguments = q.arguments}).ok())
          << q.name;
    }
    ASSERT_TRUE(admin->ExchangeDeclare("ex.direct", kDirect).ok());
    ASSERT_TRUE(admin->ExchangeDeclare("ex.fanout", kFanout).ok());
    ASSERT_TRUE(admin->ExchangeDeclare("ex.topic", kTopic).ok());
    ASSERT_TRUE(admin->ExchangeDeclare("ex.headers", kHeaders).ok());
    ASSERT_TRUE(admin->ExchangeDeclare("ex.alt", kFanout).ok());
    ASSERT_TRUE(admin->ExchangeDeclare("ex.altsrc", kDirect,
                                       {.arguments = {{"alternate-exchange", "ex.alt"}}})
                    .ok());
    ASSERT_TRUE(admin->ExchangeDeclare("ex.mandatory", kDirect).ok());
    ASSERT_TRUE(admin->QueueBind("q.direct", "ex.direct", "d").ok());
    ASSERT_TRUE(admin->QueueBind("q.direct2", "ex.direct", "d2").ok());
    ASSERT_TRUE(admin->QueueBind("q.fanout.a", "ex.fanout", "").ok());
    ASSERT_TRUE(admin->QueueBind("q.fanout.b", "ex.fanout", "").ok());
    ASSERT_TRUE(admin->QueueBind("q.topic", "ex.topic", "t.#").ok());
    ASSERT_TRUE(
        admin->QueueBind("q.headers", "ex.headers", "", {{"x-match", "all"}, {"kind", "h"}}).ok());
    ASSERT_TRUE(admin->QueueBind("q.alt", "ex.alt", "").ok());
  }

  void TearDown() override {
    // The broker first: it waits for running callbacks, which use the
    // channels below.
    broker_.reset();
  }

  // --- Consumers ---------------------------------------------------------

  void OpenConsumerConnection(ConsumerConnection& cc) {
    cc.connection = broker_->Connect().value();
    for (Slot& slot : cc.slots) OpenSlotChannel(cc, slot);
  }

  // With cc.mu held.
  void OpenSlotChannel(ConsumerConnection& cc, Slot& slot) {
    std::lock_guard<std::mutex> lock(slot.mu);
    absl::StatusOr<std::unique_ptr<Channel>> channel = cc.connection->OpenChannel();
    if (!channel.ok()) {
      ledger_.Anomaly(absl::StrCat("consumer OpenChannel: ", channel.status().ToString()));
      return;
    }
    auto sc = std::make_unique<SlotChannel>();
    sc->channel = *std::move(channel);
    SlotChannel* raw = sc.get();
    {
      std::lock_guard<std::mutex> graveyard_lock(graveyard_mu_);
      slot_channels_.push_back(std::move(sc));
    }
    slot.current = raw;
    std::mt19937_64& rng = ThreadRng(seed_);
    SetQos(*raw, rng);
    for (const QueueSpec& q : WorkQueues()) {
      if (ConsumedBySlots(q.name)) Consume(*raw, q.name);
    }
  }

  void SetQos(SlotChannel& sc, std::mt19937_64& rng) {
    const uint16_t prefetch = static_cast<uint16_t>(Uniform(rng, 30));
    absl::Status s = sc.channel->BasicQos(prefetch, {.global = Uniform(rng, 3) == 0});
    NoteChannelError("basic.qos", s);
  }

  // With the slot's mutex held.
  void Consume(SlotChannel& sc, const std::string& queue) {
    SlotChannel* raw = &sc;
    absl::StatusOr<std::string> tag = sc.channel->BasicConsume(
        queue, [this, raw, queue](const Delivery& d) { OnDelivery(*raw, queue, d); });
    if (!tag.ok()) {
      NoteChannelError("basic.consume", tag.status());
      return;
    }
    sc.consumers.emplace_back(*tag, queue);
  }

  // Errors of calls on channels that chaos may close: a closed channel
  // (504) is expected, anything else is a bug.
  void NoteChannelError(absl::string_view what, const absl::Status& s) {
    if (s.ok() || ReplyCodeOf(s) == ReplyCode::kChannelError) return;
    ledger_.Anomaly(absl::StrCat(what, ": ", s.ToString()));
  }

  // A settle (ack/nack/reject/recover) failed: fine when chaos closed the
  // channel; a bug when the settle itself closed an open channel, unless a
  // recover on it made the tag stale.
  void NoteSettleError(SlotChannel& sc, absl::string_view what, const absl::Status& s) {
    if (sc.recovered) return;
    if (ReplyCodeOf(s) == ReplyCode::kChannelError) return;
    if (sc.channel->close_reason() == s) {
      ledger_.Anomaly(absl::StrCat(what, " closed an open channel: ", s.ToString()));
    }
  }

  struct CallbackRunning {
    explicit CallbackRunning(std::atomic<int>* n) : n_(n) { n_->fetch_add(1); }
    ~CallbackRunning() { n_->fetch_sub(1); }
    std::atomic<int>* n_;
  };

  void OnDelivery(SlotChannel& sc, const std::string& queue, const Delivery& d) {
    CallbackRunning running(&callbacks_running_);
    const std::optional<std::string>& id = d.message.properties().message_id;
    if (!id) {
      ledger_.Anomaly(absl::StrCat("a delivery from ", queue, " without message_id"));
      return;
    }
    ledger_.Delivered(*id, queue, d.redelivered);
    sc.held.emplace(d.delivery_tag, std::make_pair(*id, queue));
    Channel& ch = *sc.channel;
    std::mt19937_64& rng = ThreadRng(seed_);
    const int action = Uniform(rng, 100);
    const uint64_t tag = d.delivery_tag;
    // Removes the held deliveries up to `tag` (all when multiple), calling
    // `settled` for each.
    auto release = [&](bool multiple, const std::function<void(const std::string&,
                                                                const std::string&)>& settled) {
      auto first = multiple ? sc.held.begin() : sc.held.find(tag);
      auto last = std::next(sc.held.find(tag));
      for (auto it = first; it != last; ++it) settled(it->second.first, it->second.second);
      sc.held.erase(first, last);
    };
    auto acked = [&](const std::string& i, const std::string& q) { ledger_.Fate(i, q, "acked"); };
    auto nothing = [](const std::string&, const std::string&) {};
    // After a recover, deliveries sent before it carry stale tags that a
    // multiple settle would wrongly count: settle one at a time.
    const bool multiple_allowed = !sc.recovered;
    if (action < 70) {
      const bool multiple = multiple_allowed && action < 10;
      absl::Status s = ch.BasicAck(tag, {.multiple = multiple});
      if (s.ok()) {
        release(multiple, acked);
      } else {
        NoteSettleError(sc, "basic.ack", s);
      }
    } else if (action < 88) {
      // Requeue or dead-letter (reason rejected); the fate is seen later.
      const bool requeue = action < 80;
      const bool multiple = multiple_allowed && action % 3 == 0;
      absl::Status s = action % 2 == 0
                           ? ch.BasicNack(tag, {.multiple = multiple, .requeue = requeue})
                           : ch.BasicReject(tag, {.requeue = requeue});
      if (s.ok()) {
        release(action % 2 == 0 && multiple, nothing);
      } else {
        NoteSettleError(sc, "basic.nack/reject", s);
      }
    } else if (action < 89) {
      absl::Status s = ch.BasicRecover({.requeue = true});
      if (s.ok()) {
        sc.held.clear();
        sc.recovered = true;
      } else {
        NoteSettleError(sc, "basic.recover", s);
      }
    }
    // Otherwise held: acked by a later multiple ack, or requeued when the
    // channel closes.
  }

  // Consumers on a connection chaos leaves alone: the one consumer of
  // q.noack (no_ack, so that a close would drop what it was sent), q.busy's
  // holder, and the dead-letter queue's reader.
  void StartSteadyConsumers() {
    steady_connection_ = broker_->Connect().value();
    noack_channel_ = steady_connection_->OpenChannel().value();
    absl::StatusOr<std::string> tag = noack_channel_->BasicConsume(
        "q.noack",
        [this](const Delivery& d) {
          CallbackRunning running(&callbacks_running_);
          const std::optional<std::string>& id = d.message.properties().message_id;
          if (id == kEndMarker) {
            std::lock_guard<std::mutex> lock(marker_mu_);
            marker_seen_ = true;
            marker_cv_.notify_all();
            return;
          }
          ledger_.Delivered(id.value_or("?"), "q.noack", d.redelivered);
          ledger_.Fate(id.value_or("?"), "q.noack", "acked");
        },
        {.no_ack = true});
    ASSERT_TRUE(tag.ok()) << tag.status();
    // q.busy's consumer takes one message and holds it to the end.
    holder_channel_ = steady_connection_->OpenChannel().value();
    ASSERT_TRUE(holder_channel_->BasicQos(1).ok());
    tag = holder_channel_->BasicConsume("q.busy", [this](const Delivery& d) {
      CallbackRunning running(&callbacks_running_);
      ledger_.Delivered(d.message.properties().message_id.value_or("?"), "q.busy",
                        d.redelivered);
    });
    ASSERT_TRUE(tag.ok()) << tag.status();
    // The dead letters, read as they come: their fate is the death x-death
    // names.
    dead_channel_ = steady_connection_->OpenChannel().value();
    ASSERT_TRUE(dead_channel_->BasicQos(100).ok());
    tag = dead_channel_->BasicConsume(kDeadQueue, [this](const Delivery& d) {
      CallbackRunning running(&callbacks_running_);
      absl::Status acked = dead_channel_->BasicAck(d.delivery_tag);
      if (acked.ok()) {
        RecordDeadLetter(d);
      } else if (ReplyCodeOf(acked) != ReplyCode::kChannelError) {
        ledger_.Anomaly(absl::StrCat("ack of a dead letter: ", acked.ToString()));
      }
    });
    ASSERT_TRUE(tag.ok()) << tag.status();
  }
  static constexpr char kEndMarker[] = "end-of-q.noack";

  // --- Publishers --------------------------------------------------------

  // Publishes random routes until stop_, reopening its connection whenever
  // chaos closes it.
  void RunPublisher(int index) {
    std::mt19937_64 rng(seed_ + static_cast<uint64_t>(index));
    uint64_t n = 0;
    while (!stop_.load()) {
      std::unique_ptr<Connection> connection = broker_->Connect().value();
      {
        std::lock_guard<std::mutex> lock(publishers_mu_);
        publisher_connections_[index] = connection.get();
      }
      auto tracker = std::make_shared<ConfirmTracker>(&ledger_);
      absl::StatusOr<std::unique_ptr<Channel>> channel = connection->OpenChannel();
      if (channel.ok() && (*channel)->ConfirmSelect().ok()) {
        (*channel)->SetConfirmHandler([tracker](const Confirm& c) { tracker->OnConfirm(c); });
        PublishUntilClosed(**channel, *tracker, index, &n, rng);
      }
      {
        std::lock_guard<std::mutex> lock(publishers_mu_);
        publisher_connections_[index] = nullptr;
      }
    }
  }

  void PublishUntilClosed(Channel& channel, ConfirmTracker& tracker, int index, uint64_t* n,
                          std::mt19937_64& rng) {
    while (!stop_.load()) {
      WaitForRoom();
      const int batch = 1 + Uniform(rng, 32);
      for (int i = 0; i < batch; ++i) {
        const Route& route = routes_[Uniform(rng, static_cast<int>(routes_.size()))];
        const std::string id = absl::StrCat("p", index, "-", (*n)++);
        const uint64_t seq = channel.NextPublishSeqNo();
        tracker.Expect(seq, id);
        absl::Status s = channel.BasicPublish(route.exchange, route.routing_key,
                                              MakeMessage(id, route, rng),
                                              {.mandatory = route.mandatory});
        ledger_.Published(id, &route, s.ok());
        if (!s.ok()) {
          tracker.Forget(seq);
          NoteChannelError("basic.publish", s);
          return;
        }
      }
      absl::Status s = channel.WaitForConfirms(kDeadline);
      if (ReplyCodeOf(s) == ReplyCode::kChannelError) return;
      if (!s.ok() && s.code() != absl::StatusCode::kDataLoss) {
        ledger_.Anomaly(absl::StrCat("WaitForConfirms: ", s.ToString()));
        return;
      }
    }
  }

  void WaitForRoom() {
    while (!stop_.load() && ledger_.open_copies() > kMaxOpenCopies) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Publishes mandatory messages to an exchange whose binding churns and
  // messages to a reject-publish queue, and closes its channels itself only
  // after every confirm (and so every return before it) has arrived.
  void RunSteadyPublisher() {
    std::mt19937_64 rng(seed_ + 1000);
    std::unique_ptr<Connection> connection = broker_->Connect().value();
    uint64_t n = 0;
    while (!stop_.load()) {
      auto tracker = std::make_shared<ConfirmTracker>(&ledger_);
      tracker->SetOnConfirm([this](const std::string& id, bool ack) {
        if (!ack) ledger_.Fate(id, kNacked, "nacked");
      });
      std::unique_ptr<Channel> channel = connection->OpenChannel().value();
      if (!channel->ConfirmSelect().ok()) {
        ledger_.Anomaly("steady publisher: confirm.select failed");
        return;
      }
      channel->SetConfirmHandler([tracker](const Confirm& c) { tracker->OnConfirm(c); });
      channel->SetReturnHandler([this](const ReturnedMessage& r) {
        ledger_.Fate(r.message.properties().message_id.value_or("?"), kReturned, "returned");
      });
      const int publishes = 1 + Uniform(rng, 200);
      for (int i = 0; i < publishes; ++i) {
        WaitForRoom();
        const Route& route =
            steady_routes_[Uniform(rng, static_cast<int>(steady_routes_.size()))];
        const std::string id = absl::StrCat("s-", n++);
        tracker->Expect(channel->NextPublishSeqNo(), id);
        absl::Status s = channel->BasicPublish(route.exchange, route.routing_key,
                                               MakeMessage(id, route, rng),
                                               {.mandatory = route.mandatory});
        ledger_.Published(id, &route, s.ok());
        if (!s.ok()) ledger_.Anomaly(absl::StrCat("steady publish: ", s.ToString()));
      }
      if (!tracker->WaitForConfirmed(static_cast<uint64_t>(publishes))) {
        ledger_.Anomaly("steady publisher: confirms missing");
      }
      if (!channel->Close().ok()) ledger_.Anomaly("steady publisher: close failed");
    }
  }

  // --- Chaos and churn ---------------------------------------------------

  void RunChaos() {
    std::mt19937_64 rng(seed_ + 2000);
    while (!stop_.load()) {
      const int action = Uniform(rng, 100);
      ConsumerConnection& cc = consumer_connections_[Uniform(rng, kConsumerConnections)];
      Slot& slot = cc.slots[Uniform(rng, kSlotsPerConnection)];
      if (action < 20) {
        std::lock_guard<std::mutex> lock(cc.mu);
        {
          std::lock_guard<std::mutex> slot_lock(slot.mu);
          if (slot.current != nullptr) slot.current->channel->Close().IgnoreError();
        }
        if (cc.connection->is_open()) OpenSlotChannel(cc, slot);
      } else if (action < 30) {
        std::lock_guard<std::mutex> lock(cc.mu);
        cc.connection->Close().IgnoreError();
        OpenConsumerConnection(cc);
      } else if (action < 55) {
        std::lock_guard<std::mutex> lock(slot.mu);
        SlotChannel* sc = slot.current;
        if (sc != nullptr && !sc->consumers.empty()) {
          const size_t which = static_cast<size_t>(Uniform(rng, static_cast<int>(sc->consumers.size())));
          auto [tag, queue] = sc->consumers[which];
          sc->consumers.erase(sc->consumers.begin() + static_cast<std::ptrdiff_t>(which));
          NoteChannelError("basic.cancel", sc->channel->BasicCancel(tag));
          Consume(*sc, queue);
        }
      } else if (action < 80) {
        std::lock_guard<std::mutex> lock(slot.mu);
        if (slot.current != nullptr) SetQos(*slot.current, rng);
      } else {
        std::lock_guard<std::mutex> lock(publishers_mu_);
        Connection* victim = publisher_connections_[Uniform(rng, kPublishers)];
        if (victim != nullptr) victim->Close().IgnoreError();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(Uniform(rng, 2000)));
    }
  }

  // Topology changes that never change where a message can end: redundant
  // bindings and exchange paths to queues a message reaches anyway, bindings
  // that choose between two observed places, side queues and exchanges that
  // receive nothing or keep nothing; and basic.get with random settles.
  void RunChurn() {
    std::mt19937_64 rng(seed_ + 3000);
    std::unique_ptr<Connection> connection = broker_->Connect().value();
    std::unique_ptr<Channel> ch = connection->OpenChannel().value();
    uint64_t side = 0;
    auto check = [&](absl::string_view what, const absl::Status& s) {
      if (s.ok()) return;
      ledger_.Anomaly(absl::StrCat("churn ", what, ": ", s.ToString()));
      if (!ch->is_open()) ch = connection->OpenChannel().value();
    };
    while (!stop_.load()) {
      const bool on = Uniform(rng, 2) == 0;
      switch (Uniform(rng, 10)) {
        case 0:
          check("direct duplicate", on ? ch->QueueBind("q.direct", "ex.direct", "d", {{"dup", 1}})
                                       : ch->QueueUnbind("q.direct", "ex.direct", "d", {{"dup", 1}}));
          break;
        case 1:
          check("topic overlap", on ? ch->QueueBind("q.topic", "ex.topic", "*.x.#")
                                    : ch->QueueUnbind("q.topic", "ex.topic", "*.x.#"));
          break;
        case 2: {
          FieldTable any{{"x-match", "any"}, {"n", int32_t{1}}};
          check("headers overlap", on ? ch->QueueBind("q.headers", "ex.headers", "", any)
                                      : ch->QueueUnbind("q.headers", "ex.headers", "", any));
          break;
        }
        case 3:
          check("fanout duplicate", on ? ch->QueueBind("q.fanout.a", "ex.fanout", "dup")
                                       : ch->QueueUnbind("q.fanout.a", "ex.fanout", "dup"));
          break;
        case 4:
          // A second path to q.topic through another exchange.
          if (on) {
            check("e2e declare", ch->ExchangeDeclare("ex.churn", kTopic));
            check("e2e bind queue", ch->QueueBind("q.topic", "ex.churn", "#"));
            check("e2e bind", ch->ExchangeBind("ex.churn", "ex.topic", "t.#"));
          } else {
            check("e2e unbind", ch->ExchangeUnbind("ex.churn", "ex.topic", "t.#"));
            check("e2e delete", ch->ExchangeDelete("ex.churn"));
          }
          break;
        case 5:
          check("alternate", on ? ch->QueueBind("q.altdirect", "ex.altsrc", "k")
                                : ch->QueueUnbind("q.altdirect", "ex.altsrc", "k"));
          check("mandatory", on ? ch->QueueBind("q.mandatory", "ex.mandatory", "m")
                                : ch->QueueUnbind("q.mandatory", "ex.mandatory", "m"));
          break;
        case 6: {
          // A side exchange of any type on the traffic's path, routing to
          // nothing, and a side queue bound where no traffic goes.
          static constexpr std::string_view kTypes[] = {kDirect, kFanout, kTopic, kHeaders};
          const std::string x = absl::StrCat("side.x", side);
          const std::string q = absl::StrCat("side.q", side++);
          check("side exchange", ch->ExchangeDeclare(x, kTypes[Uniform(rng, 4)]));
          check("side e2e", ch->ExchangeBind(x, "ex.fanout", ""));
          const bool exclusive = Uniform(rng, 2) == 0;
          check("side queue",
                ch->QueueDeclare(q, {.exclusive = exclusive, .auto_delete = !exclusive}).status());
          check("side bind", ch->QueueBind(q, "ex.direct", "nobody-publishes-this"));
          check("side queue delete", ch->QueueDelete(q).status());
          check("side exchange delete", ch->ExchangeDelete(x));
          break;
        }
        case 7:
          check("passive", ch->QueueDeclare("q.plain", {.passive = true}).status());
          check("passive exchange", ch->ExchangeDeclare("ex.topic", kTopic, {.passive = true}));
          break;
        case 8:
          GetAndSettle(*ch, rng, check);
          break;
        case 9: {
          // Refused (406, closing the channel): q.busy always has its holder.
          absl::StatusOr<uint32_t> deleted = ch->QueueDelete("q.busy", {.if_unused = true});
          if (ReplyCodeOf(deleted.status()) == ReplyCode::kPreconditionFailed) {
            ch = connection->OpenChannel().value();
          } else {
            check("delete q.busy if unused", deleted.ok() ? absl::InternalError("deleted")
                                                          : deleted.status());
          }
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(Uniform(rng, 500)));
    }
  }

  template <typename Check>
  void GetAndSettle(Channel& ch, std::mt19937_64& rng, Check& check) {
    static const std::vector<std::string> kQueues = {"q.plain", "q.direct", "q.topic", "q.limited",
                                                     "q.ttl", "q.quorum"};
    const std::string& queue = kQueues[Uniform(rng, static_cast<int>(kQueues.size()))];
    absl::StatusOr<std::optional<GetResult>> got = ch.BasicGet(queue);
    if (!got.ok()) {
      check("basic.get", got.status());
      return;
    }
    if (!*got) return;
    const Delivery& d = (*got)->delivery;
    const std::string id = d.message.properties().message_id.value_or("?");
    ledger_.Delivered(id, queue, d.redelivered);
    switch (Uniform(rng, 3)) {
      case 0: {
        absl::Status s = ch.BasicAck(d.delivery_tag);
        check("get ack", s);
        if (s.ok()) ledger_.Fate(id, queue, "acked");
        break;
      }
      case 1:
        check("get reject", ch.BasicReject(d.delivery_tag, {.requeue = Uniform(rng, 2) == 0}));
        break;
      case 2:
        check("get nack", ch.BasicNack(d.delivery_tag, {.requeue = Uniform(rng, 2) == 0}));
        break;
    }
  }

  // --- The end -----------------------------------------------------------

  // Every callback that was running has returned; false at the deadline.
  bool WaitForCallbacks() {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (callbacks_running_.load() != 0) {
      if (absl::Now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  // Takes whatever is left in the work queues (fate "drained") and the
  // dead-lettered messages (fate "dead:REASON" of the queue they died in),
  // round after round until every copy has a fate; false at the deadline.
  bool Drain() {
    std::unique_ptr<Connection> connection = broker_->Connect().value();
    std::unique_ptr<Channel> ch = connection->OpenChannel().value();
    const absl::Time deadline = absl::Now() + kDeadline;
    while (true) {
      for (const QueueSpec& q : WorkQueues()) DrainQueue(*ch, q.name);
      DrainQueue(*ch, kDeadQueue);
      if (ledger_.CountWithoutFate() == 0) return true;
      // A timer may be dead-lettering expired messages right now.
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void DrainQueue(Channel& ch, const std::string& queue) {
    while (true) {
      absl::StatusOr<std::optional<GetResult>> got = ch.BasicGet(queue, {.no_ack = true});
      if (!got.ok()) {
        ledger_.Anomaly(absl::StrCat("drain ", queue, ": ", got.status().ToString()));
        return;
      }
      if (!*got) return;
      const Delivery& d = (*got)->delivery;
      const std::string id = d.message.properties().message_id.value_or("?");
      if (queue != kDeadQueue) {
        ledger_.Delivered(id, queue, d.redelivered);
        ledger_.Fate(id, queue, "drained");
        continue;
      }
      RecordDeadLetter(d);
    }
  }

  void RecordDeadLetter(const Delivery& d) {
    const std::string id = d.message.properties().message_id.value_or("?");
    std::optional<std::pair<std::string, std::string>> death = LastDeath(d.message);
    if (!death) {
      ledger_.Anomaly(absl::StrCat(id, " in the dead-letter queue without x-death"));
      return;
    }
    ledger_.Fate(id, death->first, absl::StrCat("dead:", death->second));
  }

  // Publishes a marker after everything else into q.noack and waits until
  // its consumer has seen it, and so every delivery before it.
  bool WaitForNoAckConsumer() {
    std::unique_ptr<Channel> ch = admin_connection_->OpenChannel().value();
    BasicProperties props;
    props.message_id = kEndMarker;
    if (!ch->BasicPublish("", "q.noack", Message("", std::move(props))).ok()) return false;
    std::unique_lock<std::mutex> lock(marker_mu_);
    return marker_cv_.wait_for(lock, absl::ToChronoNanoseconds(kDeadline),
                               [&] { return marker_seen_; });
  }

  const uint64_t seed_;
  const std::vector<Route> routes_;
  const std::vector<Route> steady_routes_;
  std::map<std::string, std::set<std::string>> reasons_;
  Ledger ledger_;
  std::atomic<bool> stop_{false};
  std::atomic<int> callbacks_running_{0};

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Connection> admin_connection_;
  ConsumerConnection consumer_connections_[kConsumerConnections];
  std::mutex graveyard_mu_;
  std::vector<std::unique_ptr<SlotChannel>> slot_channels_;
  std::mutex publishers_mu_;
  Connection* publisher_connections_[kPublishers] = {};
  std::unique_ptr<Connection> steady_connection_;
  std::unique_ptr<Channel> noack_channel_;
  std::unique_ptr<Channel> holder_channel_;
  std::unique_ptr<Channel> dead_channel_;
  std::mutex marker_mu_;
  std::condition_variable marker_cv_;
  bool marker_seen_ = false;
};

TEST_F(StressTest, EveryPublishedMessageHasExactlyOneFate) {
  StartSteadyConsumers();
  for (ConsumerConnection& cc : consumer_connections_) {
    std::lock_guard<std::mutex> lock(cc.mu);
    OpenConsumerConnection(cc);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kPublishers; ++i) threads.emplace_back([this, i] { RunPublisher(i); });
  threads.emplace_back([this] { RunSteadyPublisher(); });
  threads.emplace_back([this] { RunChaos(); });
  threads.emplace_back([this] { RunChurn(); });

  std::this_thread::sleep_for(absl::ToChronoNanoseconds(TrafficDuration()));
  stop_.store(true);
  for (std::thread& t : threads) t.join();

  // Consumers go; what they held is requeued and drained below.
  ASSERT_TRUE(WaitForNoAckConsumer()) << "the no-ack consumer never saw the end marker";
  for (ConsumerConnection& cc : consumer_connections_) {
    std::lock_guard<std::mutex> lock(cc.mu);
    cc.connection->Close().IgnoreError();
  }
  steady_connection_->Close().IgnoreError();
  ASSERT_TRUE(WaitForCallbacks()) << "a consumer callback never returned";
  const bool drained = Drain();

  std::cout << ledger_.Summary() << std::endl;
  const std::string violations = ledger_.Violations(reasons_);
  EXPECT_TRUE(drained && violations.empty())
      << (drained ? "" : "copies still without a fate at the deadline\n") << violations
      << "seed " << seed_;
}

}  // namespace
}  // namespace warren
