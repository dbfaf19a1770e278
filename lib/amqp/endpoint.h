// amqp/endpoint: an amqp:// or amqps:// URL, parsed by rabbitmq-c's
// amqp_parse_url, and the credential-free name used in every message.
//
// Owns the parsed parts. The password is kept only to log in; Describe()
// and every error built here leave the user and password out.
#ifndef WARREN_LIB_AMQP_ENDPOINT_H_
#define WARREN_LIB_AMQP_ENDPOINT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace warren::amqp {

struct Endpoint {
  std::string host;
  int port = 5672;
  std::string vhost = "/";
  std::string user;
  std::string password;
  bool tls = false;

  // "amqp://HOST:PORT/VHOST", the vhost percent-encoded as in a URL.
  std::string Describe() const;
};

// Errors: kInvalidArgument for a URL rabbitmq-c cannot parse (the message
// does not repeat the URL, which may hold a password).
absl::StatusOr<Endpoint> ParseUrl(std::string_view url);

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_ENDPOINT_H_
