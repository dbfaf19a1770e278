// Dead-letter messages: rabbit_dead_letter:make_msg and detect_cycles.
#include "broker/dead_letter.h"

#include <utility>

namespace warren::broker {

std::string_view DeadLetterReasonName(queue::DeadLetterReason reason) {
  switch (reason) {
    case queue::DeadLetterReason::kRejected: return "rejected";
    case queue::DeadLetterReason::kExpired: return "expired";
    case queue::DeadLetterReason::kMaxLen: return "maxlen";
    case queue::DeadLetterReason::kDeliveryLimit: return "delivery_limit";
  }
  return "rejected";
}

std::vector<std::string> PublishedRoutingKeys(const queue::Publication& publication) {
  std::vector<std::string> keys{publication.routing_key};
  const std::optional<FieldTable>& headers = publication.message.properties().headers;
  if (!headers) return keys;
  if (const FieldValue* cc = headers->Find("CC")) {
    if (const FieldArray* array = cc->Get<FieldArray>()) {
      for (const FieldValue& v : *array) {
        if (std::optional<std::string_view> s = v.AsString()) keys.emplace_back(*s);
      }
    }
  }
  return keys;
}

namespace {

std::string_view StringField(const FieldTable& table, std::string_view key) {
  const FieldValue* v = table.Find(key);
  std::optional<std::string_view> s = v ? v->AsString() : std::nullopt;
  return s.value_or("");
}

}  // namespace

Message MakeDeadLetter(const queue::Publication& publication,
                       queue::DeadLetterReason reason, std::string_view queue_name,
                       bool routing_key_overridden, absl::Time wall_time) {
  BasicProperties props = publication.message.properties();
  FieldTable headers = props.headers.value_or(FieldTable{});
  const std::string_view reason_name = DeadLetterReasonName(reason);

  FieldArray routing_keys;
  for (std::string& key : PublishedRoutingKeys(publication)) routing_keys.emplace_back(std::move(key));
  FieldTable entry{{"reason", std::string(reason_name)},
                   {"queue", std::string(queue_name)},
                   {"time", Timestamp{static_cast<uint64_t>(absl::ToUnixSeconds(wall_time))}},
                   {"exchange", publication.exchange},
                   {"routing-keys", std::move(routing_keys)}};
  if (props.expiration) {
    entry.Set("original-expiration", *props.expiration);
    props.expiration.reset();
  }

  // The entry for this queue and reason keeps its details and counts up;
  // either way it moves to the front (RabbitMQ's update_x_death_header).
  FieldTable first{{"count", int64_t{1}}};
  for (const auto& [key, value] : entry) first.Set(key, value);
  // RabbitMQ writes x-first-death-* when the message had no x-death at all
  // (of any type), overwriting any there were.
  const bool first_death = headers.Find("x-death") == nullptr;
  FieldArray history{FieldValue()};
  bool counted = false;
  if (const FieldValue* old = headers.Find("x-death")) {
    if (const FieldArray* entries = old->Get<FieldArray>()) {
      for (const FieldValue& e : *entries) {
        const FieldTable* t = e.Get<FieldTable>();
        if (!counted && t != nullptr && StringField(*t, "queue") == queue_name &&
            StringField(*t, "reason") == reason_name) {
          const FieldValue* c = t->Find("count");
          first = *t;
          first.Set("count", (c && c->AsInteger() ? *c->AsInteger() : 0) + 1);
          counted = true;
          continue;
        }
        history.push_back(e);
      }
    }
  }
  history[0] = std::move(first);
  headers.Set("x-death", std::move(history));
  if (routing_key_overridden) headers.Erase("CC");

  if (first_death) {
    headers.Set("x-first-death-reason", std::string(reason_name));
    headers.Set("x-first-death-queue", std::string(queue_name));
    headers.Set("x-first-death-exchange", publication.exchange);
  }
  props.headers = std::move(headers);
  return publication.message.WithProperties(std::move(props));
}

bool IsDeadLetterCycle(const Message& dead_letter, std::string_view target_queue) {
  const std::optional<FieldTable>& headers = dead_letter.properties().headers;
  const FieldValue* x_death = headers ? headers->Find("x-death") : nullptr;
  const FieldArray* entries = x_death ? x_death->Get<FieldArray>() : nullptr;
  if (entries == nullptr) return false;
  // RabbitMQ's is_cycle: from the newest death back to the last one in the
  // target queue, a cycle unless a rejection is among them.
  for (const FieldValue& e : *entries) {
    const FieldTable* t = e.Get<FieldTable>();
    if (t == nullptr || StringField(*t, "reason") == "rejected") return false;
    if (StringField(*t, "queue") == target_queue) return true;
  }
  return false;
}

}  // namespace warren::broker
