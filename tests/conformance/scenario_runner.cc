// tests/conformance/scenario_runner.cc: maps FORMAT.md's operations onto
// warren's Channel API, one fresh broker (or live vhost) per scenario.
//
// Owns the driver's view of a run (connections and channels by scenario
// name, aliases, collected deliveries, returns and confirms). Must not peek
// into the broker beyond the public API: what it reports is what an
// application would see.
#include "scenario_runner.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backend.h"
#include "warren/channel.h"
#include "warren/connection.h"
#include "warren/status.h"

namespace warren::conformance {
namespace {

// Fields are read leniently: absent (or mistyped) ones take FORMAT.md's
// defaults, false, "", 0 and the empty table.
std::string StringField(const Json& step, const char* key,
                        std::string fallback = "") {
  auto it = step.find(key);
  return it != step.end() && it->is_string() ? it->get<std::string>()
                                             : std::move(fallback);
}

bool BoolField(const Json& step, const char* key) {
  auto it = step.find(key);
  return it != step.end() && it->is_boolean() && it->get<bool>();
}

int64_t IntField(const Json& step, const char* key) {
  auto it = step.find(key);
  return it != step.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

FieldTable TableField(const Json& step, const char* key) {
  auto it = step.find(key);
  return it != step.end() ? FieldTableFromJson(*it) : FieldTable();
}

Json Ok() { return {{"ok", true}}; }

Json ErrorJson(const absl::Status& status) {
  ReplyCode code = ReplyCodeOf(status);
  Json out = {{"error", static_cast<int>(code)}};
  // A refusal without an AMQP code is a broker bug; say what it was.
  if (code == ReplyCode::kNone) out["status"] = status.ToString();
  return out;
}

Json Outcome(const absl::Status& status) {
  return status.ok() ? Ok() : ErrorJson(status);
}

// What a channel's return and confirm handlers saw. Shared with the
// handlers, which may outlive the Channel object.
struct PublishEvents {
  std::vector<int> return_codes;  // since the current publish step began
  std::vector<Confirm> confirms;  // in arrival order
};

// The outcome of publish `seq`: the first confirm that covers it.
bool Nacked(const std::vector<Confirm>& confirms, uint64_t seq) {
  for (const Confirm& c : confirms) {
    if (c.delivery_tag == seq || (c.multiple && c.delivery_tag > seq)) {
      return !c.ack;
    }
  }
  return false;
}

// A scenario's channel name. The Channel behind it is replaced when a step
// finds it closed; the deliveries collected under the name are kept, as
// FORMAT.md reports deliveries made before a close.
struct ChannelSlot {
  std::string connection;  // the connection named when first used
  std::unique_ptr<Channel> channel;
  std::shared_ptr<PublishEvents> events;
  bool confirm_selected = false;
  std::shared_ptr<std::vector<Json>> deliveries =
      std::make_shared<std::vector<Json>>();
};

class Run;
using ChannelOp = Json (Run::*)(const Json& step, ChannelSlot& slot);
const std::map<std::string, ChannelOp, std::less<>>& ChannelOps();

// How long a live broker may take to confirm a publish.
constexpr absl::Duration kLiveConfirmWait = absl::Seconds(10);

// The two operations that need no channel.
constexpr std::string_view kSleep = "sleep";
constexpr std::string_view kConnectionClose = "connection.close";

class Run {
 public:
  explicit Run(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}

  // Runs one step (validated) and returns its observation, after the
  // broker's pending callbacks have run.
  Json Step(const Json& step) {
    // A live broker pushes between steps too.
    backend_->RunCallbacks();
    std::string op = StringField(step, "op");
    Json observation;
    if (op == kSleep) {
      observation = Sleep(step);
    } else if (op == kConnectionClose) {
      observation = CloseConnection(step);
    } else {
      absl::StatusOr<ChannelSlot*> slot = OpenedChannel(step);
      observation = slot.ok() ? (this->*ChannelOps().at(op))(step, **slot)
                              : ErrorJson(slot.status());
    }
    backend_->RunCallbacks();
    Unalias(observation);
    return observation;
  }

  Json ExchangeDeclare(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->ExchangeDeclare(
        StringField(step, "exchange"), StringField(step, "type"),
        {.passive = BoolField(step, "passive"),
         .durable = BoolField(step, "durable"),
         .auto_delete = BoolField(step, "auto_delete"),
         .internal = BoolField(step, "internal"),
         .arguments = TableField(step, "arguments")}));
  }

  Json ExchangeDelete(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->ExchangeDelete(
        StringField(step, "exchange"),
        {.if_unused = BoolField(step, "if_unused")}));
  }

  Json ExchangeBind(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->ExchangeBind(
        StringField(step, "destination"), StringField(step, "source"),
        Aliased(step, "routing_key"), TableField(step, "arguments")));
  }

  Json ExchangeUnbind(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->ExchangeUnbind(
        StringField(step, "destination"), StringField(step, "source"),
        Aliased(step, "routing_key"), TableField(step, "arguments")));
  }

  Json QueueDeclare(const Json& step, ChannelSlot& slot) {
    absl::StatusOr<QueueDeclareResult> declared = slot.channel->QueueDeclare(
        Aliased(step, "queue"),
        {.passive = BoolField(step, "passive"),
         .durable = BoolField(step, "durable"),
         .exclusive = BoolField(step, "exclusive"),
         .auto_delete = BoolField(step, "auto_delete"),
         .arguments = TableField(step, "arguments")});
    if (!declared.ok()) return ErrorJson(declared.status());
    if (std::string as = StringField(step, "as"); !as.empty()) {
      Remember(as, declared->queue);
    }
    return {{"ok", true},
            {"message_count", declared->message_count},
            {"consumer_count", declared->consumer_count}};
  }

  Json QueueBind(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->QueueBind(
        Aliased(step, "queue"), StringField(step, "exchange"),
        Aliased(step, "routing_key"), TableField(step, "arguments")));
  }

  Json QueueUnbind(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->QueueUnbind(
        Aliased(step, "queue"), StringField(step, "exchange"),
        Aliased(step, "routing_key"), TableField(step, "arguments")));
  }

  Json QueuePurge(const Json& step, ChannelSlot& slot) {
    return Counted(slot.channel->QueuePurge(Aliased(step, "queue")));
  }

  Json QueueDelete(const Json& step, ChannelSlot& slot) {
    return Counted(slot.channel->QueueDelete(
        Aliased(step, "queue"), {.if_unused = BoolField(step, "if_unused"),
                                 .if_empty = BoolField(step, "if_empty")}));
  }

  Json BasicQos(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->BasicQos(
        static_cast<uint16_t>(IntField(step, "prefetch_count")),
        {.global = BoolField(step, "global")}));
  }

  Json ConfirmSelect(const Json&, ChannelSlot& slot) {
    absl::Status status = slot.channel->ConfirmSelect();
    if (status.ok()) slot.confirm_selected = true;
    return Outcome(status);
  }

  // The recorder waited for each publish's confirm, so whatever the broker
  // answers a publish with (a return, a nack) has arrived once the
  // dispatcher has run. A live broker's channel is always in confirm mode
  // (see OpenedChannel), and a refused publish closes it, as RabbitMQ does.
  Json BasicPublish(const Json& step, ChannelSlot& slot) {
    PublishEvents& events = *slot.events;
    events.return_codes.clear();
    BasicProperties properties = PropertiesFromJson(
        step.contains("properties") ? step.at("properties") : Json());
    if (properties.reply_to) *properties.reply_to = Resolve(*properties.reply_to);
    uint64_t seq = slot.channel->NextPublishSeqNo();
    absl::Status status = slot.channel->BasicPublish(
        StringField(step, "exchange"), Aliased(step, "routing_key"),
        Message(StringField(step, "body"), std::move(properties)),
        {.mandatory = BoolField(step, "mandatory")});
    if (!status.ok()) return ErrorJson(status);
    if (backend_->live()) {
      slot.channel->WaitForConfirms(kLiveConfirmWait).IgnoreError();
      if (!slot.channel->is_open()) return ErrorJson(slot.channel->close_reason());
    }
    backend_->RunCallbacks();
    if (!events.return_codes.empty()) {
      return {{"returned", events.return_codes.front()}};
    }
    if (slot.confirm_selected && Nacked(events.confirms, seq)) {
      return {{"nacked", true}};
    }
    return Ok();
  }

  Json BasicGet(const Json& step, ChannelSlot& slot) {
    absl::StatusOr<std::optional<GetResult>> got = slot.channel->BasicGet(
        Aliased(step, "queue"), {.no_ack = BoolField(step, "no_ack")});
    if (!got.ok()) return ErrorJson(got.status());
    if (!got->has_value()) return {{"empty", true}};
    const GetResult& result = **got;
    return DeliveryToJson(result.delivery, "message_count",
                          result.message_count);
  }

  Json BasicConsume(const Json& step, ChannelSlot& slot) {
    ConsumeOptions options;
    options.consumer_tag = StringField(step, "consumer_tag");
    options.no_ack = BoolField(step, "no_ack");
    options.exclusive = BoolField(step, "exclusive");
    options.arguments = TableField(step, "arguments");
    std::shared_ptr<std::vector<Json>> sink = slot.deliveries;
    absl::StatusOr<std::string> tag = slot.channel->BasicConsume(
        Aliased(step, "queue"),
        [sink](const Delivery& delivery) {
          sink->push_back(
              DeliveryToJson(delivery, "consumer_tag", delivery.consumer_tag));
        },
        options);
    return Outcome(tag.status());
  }

  Json BasicCancel(const Json& step, ChannelSlot& slot) {
    return Outcome(slot.channel->BasicCancel(StringField(step, "consumer_tag")));
  }

  // In-process, wait_ms is not waited: under kManual dispatch every delivery
  // the broker has made is pushed by ProcessEvents(), and time only moves in
  // `sleep`. A live broker gets the time, then a round trip on the channel
  // brings in whatever it sent before.
  Json Deliveries(const Json& step, ChannelSlot& slot) {
    if (backend_->live()) {
      backend_->Sleep(IntField(step, "wait_ms"));
      RoundTrip(slot);
    }
    backend_->RunCallbacks();
    Json seen = Json::array();
    for (Json& delivery : *slot.deliveries) seen.push_back(std::move(delivery));
    slot.deliveries->clear();
    return {{"deliveries", std::move(seen)}};
  }

  Json BasicAck(const Json& step, ChannelSlot& slot) {
    return Settled(slot, slot.channel->BasicAck(
                             static_cast<uint64_t>(IntField(step, "delivery_tag")),
                             {.multiple = BoolField(step, "multiple")}));
  }

  Json BasicNack(const Json& step, ChannelSlot& slot) {
    return Settled(slot, slot.channel->BasicNack(
                             static_cast<uint64_t>(IntField(step, "delivery_tag")),
                             {.multiple = BoolField(step, "multiple"),
                              .requeue = BoolField(step, "requeue")}));
  }

  Json BasicReject(const Json& step, ChannelSlot& slot) {
    return Settled(slot, slot.channel->BasicReject(
                             static_cast<uint64_t>(IntField(step, "delivery_tag")),
                             {.requeue = BoolField(step, "requeue")}));
  }

  Json BasicRecover(const Json& step, ChannelSlot& slot) {
    return Outcome(
        slot.channel->BasicRecover({.requeue = BoolField(step, "requeue")}));
  }

  Json ChannelClose(const Json&, ChannelSlot& slot) {
    return Outcome(slot.channel->Close());
  }

 private:
  Json Sleep(const Json& step) {
    backend_->Sleep(IntField(step, "ms"));
    return Ok();
  }

  // An ack, nack or reject has no reply: on a live broker, a round trip on
  // its channel (as the recorder made) has it applied before the next step.
  Json Settled(ChannelSlot& slot, const absl::Status& status) {
    if (status.ok() && backend_->live()) RoundTrip(slot);
    return Outcome(status);
  }

  // A method with no effect whose reply comes after everything the broker
  // sent on the channel before it.
  void RoundTrip(ChannelSlot& slot) {
    if (!slot.channel->is_open()) return;
    slot.channel->ExchangeDeclare("amq.direct", kDirect, {.passive = true}).IgnoreError();
  }

  Json CloseConnection(const Json& step) {
    absl::StatusOr<Connection*> connection =
        OpenedConnection(StringField(step, "conn", "c1"));
    if (!connection.ok()) return ErrorJson(connection.status());
    return Outcome((*connection)->Close());
  }

  absl::StatusOr<Connection*> OpenedConnection(const std::string& name) {
    std::unique_ptr<Connection>& connection = connections_[name];
    if (connection == nullptr || !connection->is_open()) {
      absl::StatusOr<std::unique_ptr<Connection>> opened = backend_->Connect();
      if (!opened.ok()) return opened.status();
      connection = *std::move(opened);
    }
    return connection.get();
  }

  // The step's channel, opened (with its connection) when it is not open.
  absl::StatusOr<ChannelSlot*> OpenedChannel(const Json& step) {
    auto [it, first_use] =
        channels_.try_emplace(StringField(step, "channel", "ch1"));
    ChannelSlot& slot = it->second;
    if (first_use) slot.connection = StringField(step, "conn", "c1");
    if (slot.channel != nullptr && slot.channel->is_open()) return &slot;

    absl::StatusOr<Connection*> connection = OpenedConnection(slot.connection);
    if (!connection.ok()) return connection.status();
    absl::StatusOr<std::unique_ptr<Channel>> channel =
        (*connection)->OpenChannel();
    if (!channel.ok()) return channel.status();
    slot.channel = *std::move(channel);
    slot.confirm_selected = false;
    slot.events = std::make_shared<PublishEvents>();
    std::shared_ptr<PublishEvents> events = slot.events;
    slot.channel->SetReturnHandler([events](const ReturnedMessage& returned) {
      events->return_codes.push_back(returned.reply_code);
    });
    slot.channel->SetConfirmHandler(
        [events](const Confirm& confirm) { events->confirms.push_back(confirm); });
    // The recorder kept every channel in confirm mode, to know when a
    // publish had reached its queues.
    if (backend_->live()) {
      if (absl::Status s = slot.channel->ConfirmSelect(); !s.ok()) return s;
    }
    return &slot;
  }

  Json Counted(const absl::StatusOr<uint32_t>& count) {
    if (!count.ok()) return ErrorJson(count.status());
    return {{"ok", true}, {"message_count", *count}};
  }

  // "@NAME" aliases: `as` may be given with or without its "@".
  void Remember(std::string_view as, const std::string& actual) {
    std::string alias = "@" + std::string(as.substr(as.starts_with('@') ? 1 : 0));
    for (auto& [known, name] : aliases_) {
      if (known == alias) {
        name = actual;
        return;
      }
    }
    aliases_.emplace_back(std::move(alias), actual);
  }

  std::string Resolve(const std::string& value) const {
    for (const auto& [alias, actual] : aliases_) {
      if (value == alias) return actual;
    }
    return value;
  }

  // A field where "@NAME" may stand for a remembered queue name.
  std::string Aliased(const Json& step, const char* key) const {
    return Resolve(StringField(step, key));
  }

  // Observations name a remembered queue by its alias, wherever its actual
  // name appears as a string value.
  void Unalias(Json& observation) const {
    if (observation.is_string()) {
      const std::string& value = observation.get_ref<const std::string&>();
      for (const auto& [alias, actual] : aliases_) {
        if (value == actual) {
          observation = alias;
          return;
        }
      }
    } else if (observation.is_structured()) {
      for (Json& child : observation) Unalias(child);
    }
  }

  // Destroyed in reverse: channels and connections before the broker.
  std::unique_ptr<Backend> backend_;
  std::map<std::string, std::unique_ptr<Connection>> connections_;
  std::map<std::string, ChannelSlot> channels_;
  std::vector<std::pair<std::string, std::string>> aliases_;  // "@NAME", name
};

const std::map<std::string, ChannelOp, std::less<>>& ChannelOps() {
  static const auto* const ops = new std::map<std::string, ChannelOp, std::less<>>{
      {"exchange.declare", &Run::ExchangeDeclare},
      {"exchange.delete", &Run::ExchangeDelete},
      {"exchange.bind", &Run::ExchangeBind},
      {"exchange.unbind", &Run::ExchangeUnbind},
      {"queue.declare", &Run::QueueDeclare},
      {"queue.bind", &Run::QueueBind},
      {"queue.unbind", &Run::QueueUnbind},
      {"queue.purge", &Run::QueuePurge},
      {"queue.delete", &Run::QueueDelete},
      {"basic.qos", &Run::BasicQos},
      {"confirm.select", &Run::ConfirmSelect},
      {"basic.publish", &Run::BasicPublish},
      {"basic.get", &Run::BasicGet},
      {"basic.consume", &Run::BasicConsume},
      {"basic.cancel", &Run::BasicCancel},
      {"deliveries", &Run::Deliveries},
      {"basic.ack", &Run::BasicAck},
      {"basic.nack", &Run::BasicNack},
      {"basic.reject", &Run::BasicReject},
      {"basic.recover", &Run::BasicRecover},
      {"channel.close", &Run::ChannelClose},
  };
  return *ops;
}

}  // namespace

absl::Status ValidateScenario(const Json& scenario) {
  if (!scenario.is_object() || !scenario.contains("steps") ||
      !scenario.at("steps").is_array()) {
    return absl::InvalidArgumentError("a scenario is an object with a `steps` array");
  }
  int index = 0;
  for (const Json& step : scenario.at("steps")) {
    std::string op = step.is_object() ? StringField(step, "op") : "";
    if (op != kSleep && op != kConnectionClose && !ChannelOps().contains(op)) {
      return absl::InvalidArgumentError("step " + std::to_string(index) +
                                        ": unknown op '" + op + "'");
    }
    ++index;
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> RunScenario(const Json& scenario, const RunOptions& options) {
  if (absl::Status valid = ValidateScenario(scenario); !valid.ok()) return valid;
  std::unique_ptr<Backend> backend =
      options.url.empty() ? InprocBackend() : LiveBackend(options.url);
  if (backend == nullptr) return absl::InternalError("cannot create a broker");
  Run run(std::move(backend));
  Json observations = Json::array();
  for (const Json& step : scenario.at("steps")) {
    observations.push_back(run.Step(step));
  }
  return observations;
}

}  // namespace warren::conformance
