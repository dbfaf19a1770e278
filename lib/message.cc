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

// Leaked on purpose: Messages may still be destroyed during static
// destruction, after a static shared_ptr would already be gone.
const std::shared_ptr<const std::string>& EmptyBody() {
  static const auto* const kEmptyBody =
      new std::shared_ptr<const std::string>(std::make_shared<const std::string>());
  return *kEmptyBody;
}

const std::shared_ptr<const BasicProperties>& EmptyProperties() {
  static const auto* const kEmptyProperties = new std::shared_ptr<const BasicProperties>(
      std::make_shared<const BasicProperties>());
  return *kEmptyProperties;
}

// Most messages carry no properties; sharing one empty set saves them an
// allocation per publish.
std::shared_ptr<const BasicProperties> ShareProperties(BasicProperties properties) {
  if (properties == BasicProperties{}) return EmptyProperties();
  return std::make_shared<const BasicProperties>(std::move(properties));
}

}  // namespace

Message::Message() : body_(EmptyBody()), properties_(EmptyProperties()) {}

Message::Message(std::string body, BasicProperties properties)
    : body_(std::make_shared<const std::string>(std::move(body))),
      properties_(ShareProperties(std::move(properties))) {}

Message Message::WithProperties(BasicProperties properties) const {
  Message result = *this;
  result.properties_ = ShareProperties(std::move(properties));
  return result;
}

}  // namespace warren
