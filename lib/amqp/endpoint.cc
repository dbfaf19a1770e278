// amqp/endpoint: amqp_parse_url does the parsing and percent-decoding.
#include "amqp/endpoint.h"

#include <amqp.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace warren::amqp {

std::string Endpoint::Describe() const {
  std::string vhost_part;
  for (char c : vhost) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    vhost_part += plain ? std::string(1, c) : absl::StrFormat("%%%02X", static_cast<unsigned char>(c));
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  return absl::StrCat(tls ? "amqps://" : "amqp://", ipv6 ? "[" : "", host, ipv6 ? "]" : "", ":",
                      port, "/", vhost_part);
}

absl::StatusOr<Endpoint> ParseUrl(std::string_view url) {
  // amqp_parse_url parses in place and points into its buffer.
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    return absl::InvalidArgumentError(
        "not an amqp:// URL of the form amqp://USER:PASSWORD@HOST:PORT/VHOST");
  }
  Endpoint endpoint;
  endpoint.host = info.host;
  endpoint.port = info.port;
  // RabbitMQ has no vhost named "": "amqp://host/" means the default one.
  endpoint.vhost = info.vhost[0] == '\0' ? "/" : info.vhost;
  endpoint.user = info.user;
  endpoint.password = info.password;
  endpoint.tls = info.ssl != 0;
  if (endpoint.host.empty()) return absl::InvalidArgumentError("the amqp:// URL has no host");
  return endpoint;
}

}  // namespace warren::amqp
