// warren::Connect and the registry of named in-process brokers.
//
// Owns URL dispatch (inproc:// to a Broker, amqp:// and amqps:// to the
// rabbitmq-c backend in lib/amqp/), the process-wide default broker and the
// name -> Broker* registry. Must not know either backend's internals.
#include "warren/connect.h"

#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "amqp/amqp_channel.h"
#include "amqp/endpoint.h"
#include "amqp/link.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren {
namespace {

constexpr std::string_view kInproc = "inproc://";

struct Registry {
  std::mutex mu;
  absl::flat_hash_map<std::string, Broker*> brokers;
};

Registry& TheRegistry() {
  static Registry* const registry = new Registry;
  return *registry;
}

// Created on first use and never destroyed: connections may outlive any
// static destructor order.
absl::StatusOr<Broker*> DefaultBroker() {
  static absl::StatusOr<Broker*>* const broker = [] {
    absl::StatusOr<std::unique_ptr<Broker>> created = Broker::Create();
    if (!created.ok()) return new absl::StatusOr<Broker*>(created.status());
    return new absl::StatusOr<Broker*>(created->release());
  }();
  return *broker;
}

bool ValidBrokerName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int high = i + 1 < s.size() ? HexDigit(s[i + 1]) : -1;
    const int low = i + 2 < s.size() ? HexDigit(s[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError("a '%' in an inproc:// URL must start an escape like %2F");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Connection>> ConnectInproc(std::string_view rest,
                                                          const ClientOptions& options) {
  const size_t slash = rest.find('/');
  absl::StatusOr<std::string> authority = PercentDecoded(rest.substr(0, slash));
  if (!authority.ok()) return authority.status();
  Broker* registered = nullptr;
  {
    Registry& registry = TheRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    auto it = registry.brokers.find(*authority);
    if (it != registry.brokers.end()) registered = it->second;
  }
  if (registered != nullptr) {
    absl::StatusOr<std::string> vhost =
        slash == std::string_view::npos ? std::string("/") : PercentDecoded(rest.substr(slash + 1));
    if (!vhost.ok()) return vhost.status();
    return registered->Connect({.vhost = vhost->empty() ? "/" : *vhost, .user = options.user});
  }
  if (slash != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("no broker registered as '", *authority, "' (inproc://NAME/VHOST)"));
  }
  absl::StatusOr<Broker*> broker = DefaultBroker();
  if (!broker.ok()) return broker.status();
  const std::string vhost = authority->empty() ? "/" : *authority;
  // The default broker has nobody to administer it: its vhosts come with use.
  if (absl::Status s = (*broker)->AddVirtualHost(vhost); !s.ok()) return s;
  return (*broker)->Connect({.vhost = vhost, .user = options.user});
}

absl::StatusOr<std::unique_ptr<Connection>> ConnectAmqp(std::string_view url,
                                                        const ClientOptions& options) {
  absl::StatusOr<amqp::Endpoint> endpoint = amqp::ParseUrl(url);
  if (!endpoint.ok()) return endpoint.status();
  absl::StatusOr<std::shared_ptr<amqp::Link>> link =
      amqp::Link::Open(*std::move(endpoint), options);
  if (!link.ok()) return link.status();
  return std::unique_ptr<Connection>(new amqp::AmqpConnection(*std::move(link)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connect(std::string_view url,
                                                    const ClientOptions& options) {
  if (url.starts_with(kInproc)) return ConnectInproc(url.substr(kInproc.size()), options);
  if (url.starts_with("amqp://") || url.starts_with("amqps://")) return ConnectAmqp(url, options);
  return absl::InvalidArgumentError(
      "a broker URL starts with inproc://, amqp:// or amqps://");
}

absl::Status RegisterBroker(std::string_view name, Broker* broker) {
  if (!ValidBrokerName(name)) {
    return absl::InvalidArgumentError(
        StrCat("'", name, "' is not a broker name: use 1 or more of [A-Za-z0-9._-]"));
  }
  if (broker == nullptr) return absl::InvalidArgumentError("RegisterBroker needs a broker");
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  if (!registry.brokers.emplace(std::string(name), broker).second) {
    return absl::AlreadyExistsError(StrCat("a broker is already registered as '", name, "'"));
  }
  return absl::OkStatus();
}

absl::Status UnregisterBroker(std::string_view name) {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  if (registry.brokers.erase(ToAbsl(name)) == 0) {
    return absl::NotFoundError(StrCat("no broker registered as '", name, "'"));
  }
  return absl::OkStatus();
}

}  // namespace warren
