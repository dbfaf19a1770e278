// lib/message.cc: immutable, shared messages (warren/message.h).
//
// Owns how a Message holds its body and properties. Must not copy a body:
// the broker relies on copies of a Message sharing one buffer.

#include "warren/message.h"

#include <memory>
#include <string>
#include <utility>

namespace warren {
namespace {

// Most messages carry no properties: they hold none at all, rather than a
// share of one empty set whose reference count every thread would bump.
std::shared_ptr<const BasicProperties> ShareProperties(BasicProperties properties) {
  if (properties == BasicProperties{}) return nullptr;
  return std::make_shared<const BasicProperties>(std::move(properties));
}

}  // namespace

Message::Message() = default;

Message::Message(std::string body, BasicProperties properties)
    : body_(body.empty() ? nullptr : std::make_shared<const std::string>(std::move(body))),
      properties_(ShareProperties(std::move(properties))) {}

Message Message::WithProperties(BasicProperties properties) const {
  Message result = *this;
  result.properties_ = ShareProperties(std::move(properties));
  return result;
}

}  // namespace warren
