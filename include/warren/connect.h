// warren/connect.h: open a Connection by URL, in-process or to RabbitMQ.
//
// Application code holds the same Connection and Channel types whichever
// broker it talks to; only the URL says which:
//
//   inproc://VHOST            the process-wide default in-process broker
//                             (created on first use, with its thread pool);
//                             its virtual hosts are created on demand.
//                             "inproc://" alone is the vhost "/".
//   inproc://NAME[/VHOST]     a Broker the application registered as NAME
//                             (RegisterBroker); VHOST defaults to "/".
//   amqp://USER:PASS@HOST:PORT/VHOST
//                             a RabbitMQ broker, through rabbitmq-c.
//   amqps://...               the same over TLS (see ClientOptions).
//
// In both in-process forms the authority is percent-decoded ("%2F" is "/");
// a registered name takes precedence over a vhost of the default broker.
// In amqp URLs the parts are those of RabbitMQ's URI spec, with an empty
// vhost ("amqp://host/") meaning "/".
//
// Example:
//
//   // The same module code, pointed at either broker by configuration:
//   auto connection = warren::Connect(flags.bus_url).value();
//   auto channel = connection->OpenChannel().value();
//   channel->BasicPublish("orders", "order.created", warren::Message("{}"));
//
// Over AMQP, every method, flag, property, header type and error of the
// in-process API maps one for one, with these differences, which no client
// of a network broker can avoid:
//   - BasicPublish returns before the broker has seen the message. A publish
//     RabbitMQ refuses (404 missing exchange, 403 internal exchange, 406 bad
//     expiration or user_id) closes the channel afterwards: the next call
//     returns 504 naming the refusal, and WaitForConfirms returns 504 with
//     close_reason() holding it. Use confirms to know a message arrived.
//   - BasicAck/Nack/Reject check the tag against the deliveries this channel
//     received, so an unknown tag still fails at once with 406 (and closes
//     the channel on the broker too); an ack is applied by the broker after
//     the call returns.
//   - Deliveries are pushed by the broker: when BasicPublish returns, a
//     consumer elsewhere has not necessarily received the message yet.
//
// Connection loss (amqp only): when the socket drops, a heartbeat is missed,
// or the broker closes the connection with 320 CONNECTION_FORCED (a broker
// shutting down), the connection reconnects with exponential back-off and
// recovers what it declared: exchanges, queues (a server-named queue gets a
// new name, which later calls naming the old one are given), bindings,
// channels with their prefetch and confirm mode, and consumers (same tags).
// While it is away every call returns kUnavailable; nothing is silently
// dropped: every publish not yet confirmed when the link dropped is
// reported as nacked (the confirm handler gets a nack, WaitForConfirms
// returns kDataLoss). Deliveries not acked before the loss are redelivered
// by the broker; acking their old tags afterwards is accepted and does
// nothing. is_open() stays true during recovery. Without confirm mode, a
// publish written to a socket that then dropped may be lost, as with any
// AMQP client: use confirms for messages that matter.
//
// What recovery declares again is what RabbitMQ's Java client would: what
// this connection declared and has not deleted itself, whether or not
// someone else deleted it meanwhile (a queue deleted by another client comes
// back, empty). What the broker deleted because of this connection's own
// calls is not brought back: an auto-delete queue this connection consumed
// from and no longer consumes, an auto-delete exchange that lost its last
// binding through this connection.
//
// Recovery either finishes or says why not:
//   - If the broker refuses to declare a recorded exchange, queue or binding
//     again (406 because someone redeclared the queue with other arguments,
//     404 because a binding's exchange was deleted, ...), the connection
//     closes: close_reason() is the refusal, with its reply code, its
//     message naming what could not be recovered; every call on the
//     connection and its channels fails with 504 naming it.
//   - If a channel cannot be reopened (its channel.open, basic.qos or
//     confirm.select refused), that channel closes with the refusal.
//   - A consumer the broker refuses (its queue is gone) is cancelled as if
//     the broker had cancelled it: its on_cancel runs.
//   - Reconnection stops after ReconnectOptions::give_up_after; the
//     connection then closes with kUnavailable naming the loss and the last
//     attempt's error, and every call (a publish too) fails with 504 naming
//     it.
//
// Close() sends what was called before it (publishes, acks) before it
// closes: a call that returned OK is not dropped by closing.
//
// Credentials never appear in a status message or anything warren prints:
// errors name the broker as amqp://HOST:PORT/VHOST.
//
// Thread-safety: Connect, RegisterBroker and UnregisterBroker are
// thread-safe.
#ifndef WARREN_CONNECT_H_
#define WARREN_CONNECT_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "warren/broker.h"
#include "warren/connection.h"
#include "warren/executor.h"

namespace warren {

// How an amqp:// connection comes back after losing its broker.
struct ReconnectOptions {
  bool enabled = true;
  absl::Duration initial_delay = absl::Milliseconds(100);  // doubled per failure
  absl::Duration max_delay = absl::Seconds(5);
  // How long after the loss reconnection stops trying; the connection then
  // closes (see "Recovery either finishes or says why not" above). The
  // default, as in RabbitMQ's Java client, tries until Close(). Negative is
  // refused by Connect (kInvalidArgument).
  absl::Duration give_up_after = absl::InfiniteDuration();
};

struct ClientOptions {
  // inproc:// only: the user the connection authenticates as (compared with
  // published user_id properties). amqp:// takes it from the URL.
  std::string user = "guest";

  // amqp:// only: where consumer callbacks, confirms and returns run, with
  // the same guarantees as a Broker's (one channel's callbacks in order, one
  // at a time). kThreadPool: the connection's own `dispatch_threads`
  // threads; kExecutor: `executor`, which must outlive the connection.
  // kManual is refused (a connection has no ProcessEvents): pass an
  // Executor that queues tasks and run them when you like instead.
  // inproc:// connections run callbacks as their broker was created to.
  Dispatch dispatch = Dispatch::kThreadPool;
  int dispatch_threads = 1;
  Executor* executor = nullptr;

  // amqp:// only.
  absl::Duration connect_timeout = absl::Seconds(10);  // TCP connect and login
  absl::Duration rpc_timeout = absl::Seconds(30);      // one synchronous method
  int heartbeat_seconds = 10;                          // 0: none
  ReconnectOptions reconnect;
  // amqps:// only. The broker's certificate is always verified, and so is
  // its host name: the URL's host must be a DNS name the certificate names
  // (rabbitmq-c 0.11 matches no IP address). An error in the files is
  // kInvalidArgument from Connect; a certificate that does not verify is
  // kUnavailable naming the check that failed.
  //
  // PEM file of the certificate authorities to trust; empty trusts
  // OpenSSL's default ones (Debian: /etc/ssl/certs).
  std::string tls_ca_file;
  // PEM files of a client certificate and its unencrypted key, for a broker
  // that asks for one (ssl_options.verify = verify_peer). Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Shown as connection_name by RabbitMQ's tools.
  std::string connection_name;
};

// Opens a connection to the broker `url` names. Errors: kInvalidArgument for
// a malformed URL or options (TLS files that cannot be read included); for
// inproc://, 530 NOT_ALLOWED for a missing virtual host of a registered
// broker; for amqp://, kUnavailable when the broker cannot be reached or its
// certificate does not verify, and the broker's refusal otherwise (403
// ACCESS_REFUSED for bad credentials, 530 NOT_ALLOWED for a missing vhost).
absl::StatusOr<std::unique_ptr<Connection>> Connect(std::string_view url,
                                                    const ClientOptions& options = {});

// Makes `broker` reachable as inproc://NAME. The broker must stay alive
// until UnregisterBroker(name) returns. Errors: kInvalidArgument for an
// empty name or one with a character outside [A-Za-z0-9._-];
// kAlreadyExists when the name is taken.
absl::Status RegisterBroker(std::string_view name, Broker* broker);

// Forgets the name; connections already open are unaffected. Errors:
// kNotFound for a name not registered.
absl::Status UnregisterBroker(std::string_view name);

}  // namespace warren

#endif  // WARREN_CONNECT_H_
