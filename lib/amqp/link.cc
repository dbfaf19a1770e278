// amqp/link: the I/O thread, request matching, frame dispatch, reconnection.
#include "amqp/link.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <string>
#include <utility>

#include "amqp/methods.h"
#include "string_view.h"
#include "warren/status.h"

namespace warren::amqp {
namespace {

// Requests a publisher may queue ahead of the I/O thread before it waits:
// bounds memory when the socket is slower than the publishers.
constexpr size_t kMaxQueuedRequests = 4096;
// Frames handled before the I/O thread looks at new requests again.
constexpr int kFramesPerTurn = 256;
// How long the I/O thread sleeps at most, so that heartbeats are sent and
// checked on time (rabbitmq-c does both when a frame is read).
constexpr absl::Duration kIdleTick = absl::Seconds(1);
constexpr uint32_t kFrameMax = 131072;

timeval TimevalOf(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::ZeroDuration()));
}

// A broker's reply text starts with the code's name ("NOT_FOUND - no queue
// ..."), which AmqpError adds again.
absl::Status BrokerError(int code, amqp_bytes_t text) {
  std::string message = String(text);
  const std::string prefix = StrCat(ReplyCodeName(static_cast<ReplyCode>(code)), " - ");
  if (message.starts_with(prefix)) message.erase(0, prefix.size());
  return AmqpError(static_cast<ReplyCode>(code), message);
}

// `status` with `context` before its message, keeping its code and its
// AMQP reply code.
absl::Status InContext(std::string_view context, const absl::Status& status) {
  absl::Status out(status.code(), StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status Lost(const Endpoint& endpoint, std::string_view why) {
  return absl::UnavailableError(StrCat("connection to ", endpoint.Describe(), " lost: ", why));
}

// The client properties warren announces; rabbitmq-c merges its own.
struct ClientProperties {
  explicit ClientProperties(const std::string& connection_name) {
    const char* kCapabilities[] = {"publisher_confirms", "consumer_cancel_notify", "basic.nack",
                                   "exchange_exchange_bindings", "authentication_failure_close",
                                   "per_consumer_qos"};
    for (const char* name : kCapabilities) {
      amqp_table_entry_t e{};
      e.key = amqp_cstring_bytes(name);
      e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
      e.value.value.boolean = 1;
      capabilities.push_back(e);
    }
    amqp_table_entry_t caps{};
    caps.key = amqp_cstring_bytes("capabilities");
    caps.value.kind = AMQP_FIELD_KIND_TABLE;
    caps.value.value.table = {static_cast<int>(capabilities.size()), capabilities.data()};
    entries.push_back(caps);
    amqp_table_entry_t product{};
    product.key = amqp_cstring_bytes("product");
    product.value.kind = AMQP_FIELD_KIND_UTF8;
    product.value.value.bytes = amqp_cstring_bytes("warren");
    entries.push_back(product);
    if (!connection_name.empty()) {
      amqp_table_entry_t name{};
      name.key = amqp_cstring_bytes("connection_name");
      name.value.kind = AMQP_FIELD_KIND_UTF8;
      name.value.value.bytes = Bytes(connection_name);
      entries.push_back(name);
    }
    table = {static_cast<int>(entries.size()), entries.data()};
  }
  std::vector<amqp_table_entry_t> capabilities;
  std::vector<amqp_table_entry_t> entries;
  amqp_table_t table;
};

// An encrypted key would make OpenSSL prompt on the terminal: refuse it.
int NoKeyPassword(char*, int, int, void*) { return 0; }

// The broker's certificate and host name are always verified; the trusted
// CAs are the file's or OpenSSL's default ones (rabbitmq-c 0.11 loads none by
// itself).
absl::Status SetUpTls(amqp_socket_t* socket, const ClientOptions& options) {
  amqp_ssl_socket_set_verify_peer(socket, 1);
  amqp_ssl_socket_set_verify_hostname(socket, 1);
  auto* context = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
  SSL_CTX_set_default_passwd_cb(context, NoKeyPassword);
  if (options.tls_ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(context) != 1) {
      return absl::InternalError("cannot load OpenSSL's default CA certificates");
    }
  } else if (amqp_ssl_socket_set_cacert(socket, options.tls_ca_file.c_str()) != AMQP_STATUS_OK) {
    return absl::InvalidArgumentError(
        StrCat("cannot read the CA certificates in ", options.tls_ca_file));
  }
  if (!options.tls_cert_file.empty() &&
      amqp_ssl_socket_set_key(socket, options.tls_cert_file.c_str(),
                              options.tls_key_file.c_str()) != AMQP_STATUS_OK) {
    return absl::InvalidArgumentError(StrCat("cannot use the client certificate in ",
                                             options.tls_cert_file, " with the key in ",
                                             options.tls_key_file));
  }
  return absl::OkStatus();
}

// Opens a socket and logs in. Errors name the endpoint, never the user or
// password.
absl::StatusOr<amqp_connection_state_t> Dial(const Endpoint& endpoint,
                                             const ClientOptions& options) {
  amqp_connection_state_t conn = amqp_new_connection();
  if (conn == nullptr) return absl::ResourceExhaustedError("amqp_new_connection failed");
  amqp_socket_t* socket = endpoint.tls ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
  if (socket == nullptr) {
    amqp_destroy_connection(conn);
    return absl::InternalError("cannot create a socket");
  }
  if (endpoint.tls) {
    if (absl::Status s = SetUpTls(socket, options); !s.ok()) {
      amqp_destroy_connection(conn);
      return s;
    }
  }
  timeval timeout = TimevalOf(options.connect_timeout);
  int rc = amqp_socket_open_noblock(socket, endpoint.host.c_str(), endpoint.port, &timeout);
  if (rc != AMQP_STATUS_OK) {
    amqp_destroy_connection(conn);
    return absl::UnavailableError(
        StrCat("cannot connect to ", endpoint.Describe(), ": ", amqp_error_string2(rc)));
  }
  amqp_set_handshake_timeout(conn, &timeout);
  ClientProperties properties(options.connection_name);
  amqp_rpc_reply_t reply = amqp_login_with_properties(
      conn, endpoint.vhost.c_str(), /*channel_max=*/0, kFrameMax, options.heartbeat_seconds,
      &properties.table, AMQP_SASL_METHOD_PLAIN, endpoint.user.c_str(),
      endpoint.password.c_str());
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return conn;
  absl::Status error;
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
      reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
    error = BrokerError(close->reply_code, close->reply_text);
  } else if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    error = absl::UnavailableError(StrCat("cannot log in to ", endpoint.Describe(), ": ",
                                          amqp_error_string2(reply.library_error)));
  } else {
    error = absl::UnavailableError(StrCat("cannot log in to ", endpoint.Describe()));
  }
  amqp_destroy_connection(conn);
  return error;
}

Reply DecodeReply(const amqp_method_t& method) {
  Reply reply;
  reply.method = method.id;
  switch (method.id) {
    case AMQP_QUEUE_DECLARE_OK_METHOD: {
      const auto* ok = static_cast<const amqp_queue_declare_ok_t*>(method.decoded);
      reply.name = String(ok->queue);
      reply.message_count = ok->message_count;
      reply.consumer_count = ok->consumer_count;
      break;
    }
    case AMQP_QUEUE_PURGE_OK_METHOD:
      reply.message_count =
          static_cast<const amqp_queue_purge_ok_t*>(method.decoded)->message_count;
      break;
    case AMQP_QUEUE_DELETE_OK_METHOD:
      reply.message_count =
          static_cast<const amqp_queue_delete_ok_t*>(method.decoded)->message_count;
      break;
    case AMQP_BASIC_CONSUME_OK_METHOD:
      reply.name = String(static_cast<const amqp_basic_consume_ok_t*>(method.decoded)->consumer_tag);
      break;
    default:
      break;
  }
  return reply;
}

}  // namespace

void PendingCall::Finish(absl::StatusOr<Reply> result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (result_) return;
    result_ = std::move(result);
  }
  finished_.notify_all();
}

bool PendingCall::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return result_.has_value();
}

absl::StatusOr<Reply> PendingCall::Wait(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!finished_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                          [&] { return result_.has_value(); })) {
    return absl::DeadlineExceededError(
        StrCat("no answer from the broker in ", absl::FormatDuration(timeout)));
  }
  return *result_;
}

Link::Link(Endpoint endpoint, const ClientOptions& options)
    : endpoint_(std::move(endpoint)),
      options_(options),
      dispatcher_(std::make_unique<dispatch::Dispatcher>(
          BrokerOptions{.dispatch = options.dispatch,
                        .dispatch_threads = options.dispatch_threads,
                        .executor = options.executor})),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  init_amqp_pool(&send_pool_, 4096);
}

absl::StatusOr<std::shared_ptr<Link>> Link::Open(Endpoint endpoint,
                                                 const ClientOptions& options) {
  if (options.dispatch == Dispatch::kManual) {
    return absl::InvalidArgumentError(
        "Dispatch::kManual needs a Broker's ProcessEvents; for an amqp:// connection "
        "use Dispatch::kExecutor with an executor you run");
  }
  if (options.dispatch == Dispatch::kExecutor && options.executor == nullptr) {
    return absl::InvalidArgumentError("Dispatch::kExecutor needs an executor");
  }
  if (options.dispatch == Dispatch::kThreadPool && options.dispatch_threads < 1) {
    return absl::InvalidArgumentError("Dispatch::kThreadPool needs at least one thread");
  }
  if (options.heartbeat_seconds < 0 || options.heartbeat_seconds > 65535) {
    return absl::InvalidArgumentError("heartbeat_seconds must be within 0..65535");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert_file and tls_key_file are set together");
  }
  if (options.reconnect.give_up_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reconnect.give_up_after must not be negative");
  }
  absl::StatusOr<amqp_connection_state_t> conn = Dial(endpoint, options);
  if (!conn.ok()) return conn.status();
  std::shared_ptr<Link> link(new Link(std::move(endpoint), options));
  if (link->wake_fd_ < 0) {
    amqp_destroy_connection(*conn);
    return absl::ResourceExhaustedError("eventfd failed");
  }
  link->conn_ = *conn;
  const int channel_max = amqp_get_channel_max(*conn);
  link->channel_max_ = static_cast<uint16_t>(channel_max == 0 ? 65535 : channel_max);
  link->thread_ = std::thread([raw = link.get()] { raw->IoThread(); });
  return link;
}

Link::~Link() {
  Close();
  if (wake_fd_ >= 0) close(wake_fd_);
  empty_amqp_pool(&send_pool_);
  // Destroyed from inside one of its own callbacks: the dispatcher's
  // shutdown joins its threads, this one included, so another thread does
  // it once this callback has returned.
  if (RunningDispatcher() == dispatcher_.get()) {
    std::thread([dispatcher = std::move(dispatcher_)] {}).detach();
  }
}

// ---------------------------------------------------------------------------
// API side.

void Link::Wake() {
  const uint64_t one = 1;
  // A full counter already wakes the I/O thread; nothing else can fail here.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

absl::Status Link::UnavailableLocked() const {
  if (state_ == State::kRecovering) {
    return absl::UnavailableError(
        StrCat(lost_reason_.message(), "; reconnecting",
               last_attempt_.ok() ? "" : " (last attempt: ", last_attempt_.message(),
               last_attempt_.ok() ? "" : ")"));
  }
  return AmqpError(ReplyCode::kChannelError,
                   StrCat("connection is closed",
                          close_reason_.ok() ? "" : ": ", close_reason_.message()));
}

absl::Status Link::Post(Request request) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] {
      return requests_.size() < kMaxQueuedRequests || state_ != State::kOpen || close_requested_;
    });
    if (state_ != State::kOpen || close_requested_) return UnavailableLocked();
    requests_.push_back(std::move(request));
    if (requests_.size() > 1) return absl::OkStatus();
  }
  Wake();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ChannelState>> Link::OpenChannel() {
  auto call = std::make_shared<PendingCall>();
  auto opened = std::make_shared<std::shared_ptr<ChannelState>>();
  Request request;
  request.call = call;
  request.run = [this, call, opened] {
    uint16_t number = 1;
    for (const auto& [used, wire] : wires_) {
      if (used != number) break;
      ++number;
    }
    if (number >= channel_max_) {
      call->Finish(AmqpError(ReplyCode::kResourceError,
                             StrCat("no free channel number (channel_max ", channel_max_, ")")));
      return;
    }
    *opened = std::make_shared<ChannelState>(number, dispatcher_.get());
    Wire& wire = wires_[number];
    wire.state = *opened;
    wire.expected.push_back({{AMQP_CHANNEL_OPEN_OK_METHOD}, call, nullptr});
    amqp_channel_open_t open{};
    SendMethod(number, AMQP_CHANNEL_OPEN_METHOD, &open);
  };
  if (absl::Status s = Post(std::move(request)); !s.ok()) return s;
  absl::StatusOr<Reply> reply = call->Wait(options_.rpc_timeout);
  if (!reply.ok()) return reply.status();
  return *opened;
}

absl::StatusOr<Reply> Link::Call(const std::shared_ptr<ChannelState>& channel,
                                 amqp_method_number_t method,
                                 std::initializer_list<amqp_method_number_t> replies,
                                 MethodBuilder build, ReplyHook hook) {
  auto call = std::make_shared<PendingCall>();
  Request request;
  request.call = call;
  request.run = [this, channel, method, replies = std::vector(replies),
                 build = std::move(build), hook = std::move(hook), call]() mutable {
    auto it = wires_.find(channel->number);
    if (it == wires_.end() || it->second.state != channel || it->second.closing) {
      call->Finish(AmqpError(ReplyCode::kChannelError, "channel is closed"));
      return;
    }
    Encoder encoder(&send_pool_);
    void* decoded = encoder.Sendable(build(encoder));
    it->second.expected.push_back({std::move(replies), call, std::move(hook)});
    SendMethod(channel->number, method, decoded);
    recycle_amqp_pool(&send_pool_);
  };
  if (absl::Status s = Post(std::move(request)); !s.ok()) return s;
  return call->Wait(options_.rpc_timeout);
}

absl::Status Link::Send(const std::shared_ptr<ChannelState>& channel,
                        amqp_method_number_t method, MethodBuilder build) {
  Request request;
  request.run = [this, channel, method, build = std::move(build)]() mutable {
    auto it = wires_.find(channel->number);
    if (it == wires_.end() || it->second.state != channel || it->second.closing) return;
    Encoder encoder(&send_pool_);
    SendMethod(channel->number, method, encoder.Sendable(build(encoder)));
    recycle_amqp_pool(&send_pool_);
  };
  return Post(std::move(request));
}

absl::Status Link::Publish(const std::shared_ptr<ChannelState>& channel, uint64_t seq,
                           std::string exchange, std::string routing_key, Message message,
                           PublishOptions options) {
  Request request;
  request.run = [this, channel, seq, exchange = std::move(exchange),
                 routing_key = std::move(routing_key), message = std::move(message), options] {
    auto it = wires_.find(channel->number);
    if (it == wires_.end() || it->second.state != channel || it->second.closing) return;
    Encoder encoder(&send_pool_);
    amqp_basic_properties_t properties = encoder.Properties(message.properties());
    const int rc = encoder.out_of_memory()
                       ? AMQP_STATUS_NO_MEMORY
                       : amqp_basic_publish(conn_, channel->number, Bytes(exchange),
                                            Bytes(routing_key), options.mandatory,
                                            options.immediate, &properties,
                                            Bytes(message.body()));
    recycle_amqp_pool(&send_pool_);
    if (seq != 0) it->second.published.push_back(seq);
    if (rc != AMQP_STATUS_OK) LinkDown(Lost(endpoint_, amqp_error_string2(rc)), true);
  };
  return Post(std::move(request));
}

absl::Status Link::CloseChannel(const std::shared_ptr<ChannelState>& channel,
                                const absl::Status& reason, bool wait) {
  auto call = std::make_shared<PendingCall>();
  Request request;
  request.call = call;
  request.run = [this, channel, call, code = reason.ok() ? 200 : static_cast<int>(ReplyCodeOf(reason)),
                 text = reason.ok() ? std::string("Goodbye") : std::string(reason.message())] {
    auto it = wires_.find(channel->number);
    if (it == wires_.end() || it->second.state != channel || it->second.closing) {
      call->Finish(Reply{});
      return;
    }
    Wire& wire = it->second;
    wire.closing = true;
    wire.content.reset();
    wire.expected.push_back({{AMQP_CHANNEL_CLOSE_OK_METHOD}, call, nullptr});
    amqp_channel_close_t close{};
    close.reply_code = static_cast<uint16_t>(code);
    close.reply_text = Bytes(text);
    SendMethod(channel->number, AMQP_CHANNEL_CLOSE_METHOD, &close);
  };
  if (absl::Status s = Post(std::move(request)); !s.ok()) {
    // Reconnecting or closed: the broker has no such channel any more.
    return absl::OkStatus();
  }
  if (!wait) return absl::OkStatus();
  return call->Wait(options_.rpc_timeout).status();
}

void Link::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    close_requested_ = true;
  }
  space_.notify_all();
  Wake();
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool Link::is_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ != State::kClosed;
}

absl::Status Link::close_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return close_reason_;
}

absl::Status Link::Availability() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kOpen && !close_requested_) return absl::OkStatus();
  return UnavailableLocked();
}

bool Link::close_requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return close_requested_;
}

// ---------------------------------------------------------------------------
// I/O thread.

void Link::IoThread() {
  while (true) {
    Serve();
    Down down = *std::exchange(down_, std::nullopt);
    const bool recover = down.recoverable && options_.reconnect.enabled && !close_requested();
    DropConnection(down.reason, recover);
    if (!recover) return;
    if (std::optional<absl::Status> final_reason = Reconnect()) {
      DropConnection(*final_reason, false);
      return;
    }
  }
}

void Link::Serve() {
  while (!down_) {
    if (close_requested()) {
      // What was posted before Close() goes out before connection.close:
      // a publish or an ack that returned OK is not dropped by closing.
      RunRequests();
      if (!down_) CloseConnection(absl::OkStatus());
      return;
    }
    RunRequests();
    if (down_) return;
    if (ReadFrames() || down_) continue;
    WaitIo(kIdleTick);
  }
}

void Link::RunRequests() {
  uint64_t count;
  while (read(wake_fd_, &count, sizeof count) > 0) {
  }
  std::deque<Request> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(requests_);
  }
  if (batch.empty()) return;
  space_.notify_all();
  for (Request& request : batch) {
    if (down_) {
      if (request.call) request.call->Finish(Lost(endpoint_, "the link dropped"));
      continue;
    }
    request.run();
  }
}

bool Link::ReadFrames() {
  for (int i = 0; i < kFramesPerTurn; ++i) {
    timeval now{0, 0};
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &now);
    if (rc == AMQP_STATUS_TIMEOUT) return false;
    if (rc != AMQP_STATUS_OK) {
      LinkDown(Lost(endpoint_, amqp_error_string2(rc)), true);
      return false;
    }
    HandleFrame(frame);
    amqp_maybe_release_buffers_on_channel(conn_, frame.channel);
    if (down_) return false;
  }
  return true;
}

void Link::WaitIo(absl::Duration timeout) {
  pollfd fds[2] = {{amqp_get_sockfd(conn_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  const int ms = static_cast<int>(absl::ToInt64Milliseconds(std::max(timeout, absl::ZeroDuration())));
  if (poll(fds, 2, ms) < 0 && errno != EINTR) {
    LinkDown(Lost(endpoint_, "poll failed"), true);
  }
}

void Link::LinkDown(absl::Status reason, bool recoverable) {
  if (!down_) down_ = Down{std::move(reason), recoverable};
}

void Link::SendMethod(uint16_t number, amqp_method_number_t method, void* decoded) {
  const int rc = decoded == nullptr ? AMQP_STATUS_NO_MEMORY
                                    : amqp_send_method(conn_, number, method, decoded);
  if (rc != AMQP_STATUS_OK) LinkDown(Lost(endpoint_, amqp_error_string2(rc)), true);
}

void Link::HandleFrame(const amqp_frame_t& frame) {
  if (frame.frame_type == AMQP_FRAME_METHOD) {
    if (frame.channel == 0) {
      OnConnectionMethod(frame.payload.method);
    } else if (!closing_connection_) {
      OnChannelMethod(frame.channel, frame.payload.method);
    }
    return;
  }
  if (closing_connection_) return;
  auto it = wires_.find(frame.channel);
  if (it == wires_.end() || !it->second.content) return;
  Wire& wire = it->second;
  Content& content = *wire.content;
  if (frame.frame_type == AMQP_FRAME_HEADER) {
    content.have_header = true;
    content.body_size = frame.payload.properties.body_size;
    content.properties = DecodeProperties(
        *static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded));
    content.body.reserve(content.body_size);
  } else if (frame.frame_type == AMQP_FRAME_BODY && content.have_header) {
    content.body.append(static_cast<const char*>(frame.payload.body_fragment.bytes),
                        frame.payload.body_fragment.len);
  } else {
    return;
  }
  if (content.have_header && content.body.size() >= content.body_size) OnContentDone(wire);
}

void Link::OnConnectionMethod(const amqp_method_t& method) {
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
    absl::Status error = BrokerError(close->reply_code, close->reply_text);
    amqp_connection_close_ok_t ok{};
    amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    // 320 is a broker going away (shutdown, vhost restart): worth coming
    // back to. Any other code refuses something this connection did.
    LinkDown(std::move(error), close->reply_code == static_cast<int>(ReplyCode::kConnectionForced));
  } else if (method.id == AMQP_CONNECTION_CLOSE_OK_METHOD && closing_connection_) {
    LinkDown(closing_reason_, false);
  }
}

void Link::OnChannelMethod(uint16_t number, const amqp_method_t& method) {
  auto it = wires_.find(number);
  if (it == wires_.end()) {
    if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
      amqp_channel_close_ok_t ok{};
      SendMethod(number, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    }
    return;
  }
  Wire& wire = it->second;
  switch (method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
      absl::Status error = BrokerError(close->reply_code, close->reply_text);
      amqp_channel_close_ok_t ok{};
      SendMethod(number, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      if (!wire.recovering) wire.state->Close(error);
      // When our own close crossed the broker's, its close-ok still comes.
      if (wire.closing) return;
      for (Expected& e : wire.expected) {
        if (e.call) e.call->Finish(error);
      }
      wires_.erase(it);
      return;
    }
    case AMQP_CHANNEL_CLOSE_OK_METHOD:
      for (Expected& e : wire.expected) {
        if (!e.call) continue;
        const bool is_close = std::find(e.replies.begin(), e.replies.end(), method.id) !=
                              e.replies.end();
        e.call->Finish(is_close ? absl::StatusOr<Reply>(Reply{.method = method.id})
                                : AmqpError(ReplyCode::kChannelError, "channel closed"));
      }
      wires_.erase(it);
      return;
    default:
      break;
  }
  if (wire.closing) return;
  switch (method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      const auto* m = static_cast<const amqp_basic_deliver_t*>(method.decoded);
      wire.content = Content{.method = method.id,
                             .consumer_tag = String(m->consumer_tag),
                             .delivery_tag = m->delivery_tag,
                             .redelivered = m->redelivered != 0,
                             .exchange = String(m->exchange),
                             .routing_key = String(m->routing_key)};
      return;
    }
    case AMQP_BASIC_GET_OK_METHOD: {
      const auto* m = static_cast<const amqp_basic_get_ok_t*>(method.decoded);
      wire.content = Content{.method = method.id,
                             .delivery_tag = m->delivery_tag,
                             .redelivered = m->redelivered != 0,
                             .exchange = String(m->exchange),
                             .routing_key = String(m->routing_key),
                             .message_count = m->message_count};
      return;
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* m = static_cast<const amqp_basic_return_t*>(method.decoded);
      wire.content = Content{.method = method.id,
                             .exchange = String(m->exchange),
                             .routing_key = String(m->routing_key),
                             .reply_code = m->reply_code,
                             .reply_text = String(m->reply_text)};
      return;
    }
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_ack_t*>(method.decoded);
      OnConfirm(wire, m->delivery_tag, m->multiple != 0, true);
      return;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_nack_t*>(method.decoded);
      OnConfirm(wire, m->delivery_tag, m->multiple != 0, false);
      return;
    }
    case AMQP_BASIC_CANCEL_METHOD: {  // the broker cancelled a consumer
      const auto* m = static_cast<const amqp_basic_cancel_t*>(method.decoded);
      std::string tag = String(m->consumer_tag);
      wire.state->Cancelled(tag);
      if (!m->nowait) {
        amqp_basic_cancel_ok_t ok{};
        ok.consumer_tag = Bytes(tag);
        SendMethod(number, AMQP_BASIC_CANCEL_OK_METHOD, &ok);
      }
      return;
    }
    case AMQP_CHANNEL_FLOW_METHOD: {
      amqp_channel_flow_ok_t ok{};
      ok.active = static_cast<const amqp_channel_flow_t*>(method.decoded)->active;
      SendMethod(number, AMQP_CHANNEL_FLOW_OK_METHOD, &ok);
      return;
    }
    default:
      FinishReply(wire, DecodeReply(method));
  }
}

void Link::FinishReply(Wire& wire, absl::StatusOr<Reply> reply) {
  if (wire.expected.empty()) return;
  Expected expected = std::move(wire.expected.front());
  wire.expected.pop_front();
  if (reply.ok()) {
    if (std::find(expected.replies.begin(), expected.replies.end(), reply->method) ==
        expected.replies.end()) {
      reply = absl::InternalError(StrCat("unexpected reply method ", reply->method));
    } else if (expected.hook) {
      expected.hook(*reply);
    }
  }
  if (expected.call) expected.call->Finish(std::move(reply));
}

void Link::OnConfirm(Wire& wire, uint64_t broker_tag, bool multiple, bool ack) {
  if (broker_tag < wire.first_unconfirmed ||
      broker_tag - wire.first_unconfirmed >= wire.published.size()) {
    return;  // not a publish of this connection
  }
  const uint64_t seq = wire.published[broker_tag - wire.first_unconfirmed];
  if (multiple) {
    // Single confirms leave their entry, so that later numbers keep their
    // place; a multiple one settles everything up to it.
    while (wire.first_unconfirmed <= broker_tag) {
      wire.published.pop_front();
      ++wire.first_unconfirmed;
    }
  }
  wire.state->Confirmed(seq, multiple, ack);
}

void Link::OnContentDone(Wire& wire) {
  Content content = std::move(*wire.content);
  wire.content.reset();
  Message message(std::move(content.body), std::move(content.properties));
  switch (content.method) {
    case AMQP_BASIC_DELIVER_METHOD: {
      std::optional<ChannelState::Routed> routed =
          wire.state->DeliveredTo(content.consumer_tag, content.delivery_tag);
      // No consumer: cancelled or closed here while the delivery was on the
      // wire; the broker requeues it when the channel closes.
      if (!routed) return;
      wire.state->Dispatch(std::move(routed->callback),
                           Delivery{.consumer_tag = std::move(content.consumer_tag),
                                    .delivery_tag = routed->delivery_tag,
                                    .redelivered = content.redelivered,
                                    .exchange = std::move(content.exchange),
                                    .routing_key = std::move(content.routing_key),
                                    .message = std::move(message)});
      return;
    }
    case AMQP_BASIC_GET_OK_METHOD: {
      Reply reply;
      reply.method = AMQP_BASIC_GET_OK_METHOD;
      reply.got = GetResult{Delivery{.delivery_tag = content.delivery_tag,
                                     .redelivered = content.redelivered,
                                     .exchange = std::move(content.exchange),
                                     .routing_key = std::move(content.routing_key),
                                     .message = std::move(message)},
                            content.message_count};
      FinishReply(wire, std::move(reply));
      return;
    }
    case AMQP_BASIC_RETURN_METHOD:
      wire.state->Returned(ReturnedMessage{content.reply_code, std::move(content.reply_text),
                                           std::move(content.exchange),
                                           std::move(content.routing_key), std::move(message)});
      return;
    default:
      return;
  }
}

void Link::CloseConnection(absl::Status reason) {
  closing_connection_ = true;
  closing_reason_ = std::move(reason);
  amqp_connection_close_t close{};
  close.reply_code = 200;
  close.reply_text = amqp_cstring_bytes("Goodbye");
  SendMethod(0, AMQP_CONNECTION_CLOSE_METHOD, &close);
  const absl::Time deadline = absl::Now() + std::min(options_.rpc_timeout, absl::Seconds(5));
  while (!down_ && absl::Now() < deadline) {
    if (!ReadFrames() && !down_) WaitIo(std::min(deadline - absl::Now(), kIdleTick));
  }
  LinkDown(closing_reason_, false);
}

void Link::DropConnection(const absl::Status& reason, bool recovering) {
  std::deque<Request> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (recovering) {
      state_ = State::kRecovering;
      lost_reason_ = reason.ok() ? Lost(endpoint_, "closed") : reason;
    } else {
      state_ = State::kClosed;
      close_reason_ = close_requested_ ? absl::OkStatus() : reason;
    }
    dropped.swap(requests_);
  }
  space_.notify_all();
  absl::Status failure;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failure = UnavailableLocked();
  }
  // A refusal that closed the connection is what its own call returns.
  if (!recovering && !reason.ok() && ReplyCodeOf(reason) != ReplyCode::kNone) failure = reason;
  if (conn_ != nullptr) {
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
  }
  closing_connection_ = false;
  // Channels first, so that a caller woken below already sees them closed
  // (or their confirms nacked).
  std::vector<Expected> in_flight;
  for (auto& [number, wire] : wires_) {
    for (Expected& e : wire.expected) in_flight.push_back(std::move(e));
    wire.expected.clear();
    wire.content.reset();
  }
  if (recovering) {
    std::erase_if(wires_, [](const auto& entry) {
      return entry.second.closing || !entry.second.state->is_open();
    });
    for (auto& [number, wire] : wires_) wire.state->LinkLost();
  } else {
    absl::Status channel_reason;
    {
      std::lock_guard<std::mutex> lock(mu_);
      channel_reason = close_reason_.ok()
                           ? AmqpError(ReplyCode::kConnectionForced, "connection closed")
                           : close_reason_;
    }
    for (auto& [number, wire] : wires_) wire.state->Close(channel_reason);
    wires_.clear();
  }
  for (Request& request : dropped) {
    if (request.call) request.call->Finish(failure);
  }
  for (Expected& e : in_flight) {
    if (e.call) e.call->Finish(failure);
  }
}

bool Link::SleepUnlessClosing(absl::Duration delay) {
  const absl::Time deadline = absl::Now() + delay;
  while (!close_requested()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd fd{wake_fd_, POLLIN, 0};
    poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    uint64_t count;
    while (read(wake_fd_, &count, sizeof count) > 0) {
    }
  }
  return true;
}

std::optional<absl::Status> Link::Reconnect() {
  const absl::Time lost_at = absl::Now();
  const absl::Time give_up_at = lost_at + options_.reconnect.give_up_after;
  absl::Duration delay = options_.reconnect.initial_delay;
  int attempts = 0;
  while (true) {
    const absl::Time now = absl::Now();
    if (now >= give_up_at) return GaveUp(now - lost_at, attempts);
    if (SleepUnlessClosing(std::min(delay, give_up_at - now))) return absl::OkStatus();
    delay = std::min(delay * 2, options_.reconnect.max_delay);
    ++attempts;
    absl::StatusOr<amqp_connection_state_t> conn = Dial(endpoint_, options_);
    if (!conn.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      last_attempt_ = conn.status();
      continue;
    }
    conn_ = *conn;
    const int channel_max = amqp_get_channel_max(conn_);
    channel_max_ = static_cast<uint16_t>(channel_max == 0 ? 65535 : channel_max);
    const absl::Status recovered = Recover();
    if (!down_ && close_requested()) LinkDown(absl::OkStatus(), false);
    // The broker refused to take back something this connection had: going
    // on without it would lose messages quietly, so the connection closes
    // with the refusal.
    if (!down_ && !recovered.ok()) CloseConnection(recovered);
    if (!down_) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        state_ = State::kOpen;
        lost_reason_ = absl::OkStatus();
        last_attempt_ = absl::OkStatus();
      }
      space_.notify_all();
      return std::nullopt;
    }
    Down down = *std::exchange(down_, std::nullopt);
    if (!down.recoverable) return down.reason;
    DropConnection(down.reason, true);
  }
}

absl::Status Link::GaveUp(absl::Duration trying, int attempts) const {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::UnavailableError(StrCat(
      "gave up reconnecting to ", endpoint_.Describe(), " after ",
      absl::FormatDuration(absl::Trunc(trying, absl::Milliseconds(1))), " (", attempts,
      attempts == 1 ? " attempt" : " attempts", last_attempt_.ok() ? "" : ", the last: ",
      last_attempt_.message(), "); lost: ", lost_reason_.message()));
}

absl::StatusOr<Reply> Link::CallOnIo(uint16_t number, amqp_method_number_t method,
                                     void* decoded,
                                     std::initializer_list<amqp_method_number_t> replies) {
  auto it = wires_.find(number);
  if (it == wires_.end()) return AmqpError(ReplyCode::kChannelError, "channel is closed");
  auto call = std::make_shared<PendingCall>();
  it->second.expected.push_back({std::vector(replies), call, nullptr});
  SendMethod(number, method, decoded);
  const absl::Time deadline = absl::Now() + options_.rpc_timeout;
  while (!down_ && !call->done()) {
    if (close_requested()) {
      LinkDown(absl::OkStatus(), false);
      break;
    }
    if (ReadFrames() || down_ || call->done()) continue;
    if (absl::Now() >= deadline) {
      LinkDown(Lost(endpoint_, "no answer while recovering"), true);
      break;
    }
    WaitIo(std::min(deadline - absl::Now(), kIdleTick));
  }
  if (!call->done()) return Lost(endpoint_, "dropped while recovering");
  return call->Wait(absl::ZeroDuration());
}

absl::Status Link::Recover() {
  std::set<std::string> consumed;
  for (const auto& [number, wire] : wires_) {
    for (const ConsumerEntry& c : wire.state->Consumers()) {
      consumed.insert(topology_.Resolve(c.queue));
    }
  }
  topology_.ForgetAbandonedQueues(consumed);
  if (absl::Status s = RecoverTopology(); !s.ok()) return s;
  std::vector<uint16_t> numbers;
  for (const auto& [number, wire] : wires_) numbers.push_back(number);
  for (uint16_t number : numbers) {
    if (down_) break;
    RecoverChannel(number);
  }
  return absl::OkStatus();
}

absl::Status Link::RecoverTopology() {
  // A channel of its own, the highest number, so that a refused declare
  // closes nothing of the application's.
  const uint16_t number = channel_max_;
  wires_[number] = Wire{.state = std::make_shared<ChannelState>(number, dispatcher_.get()),
                        .recovering = true};
  amqp_channel_open_t open{};
  absl::Status done =
      CallOnIo(number, AMQP_CHANNEL_OPEN_METHOD, &open, {AMQP_CHANNEL_OPEN_OK_METHOD}).status();
  if (!done.ok()) {
    done = InContext(StrCat("could not open a channel to recover the topology after "
                            "reconnecting to ",
                            endpoint_.Describe()),
                     done);
  }
  // Declares one record; any refusal is the first step that failed.
  auto replay = [&](std::string_view what, amqp_method_number_t method, void* decoded,
                    amqp_method_number_t reply) -> absl::StatusOr<Reply> {
    absl::StatusOr<Reply> replied = CallOnIo(number, method, decoded, {reply});
    recycle_amqp_pool(&send_pool_);
    if (!replied.ok()) {
      done = InContext(StrCat("could not recover ", what, " after reconnecting to ",
                              endpoint_.Describe()),
                       replied.status());
    }
    return replied;
  };
  for (const ExchangeRecord& x : topology_.exchanges()) {
    if (down_ || !done.ok()) break;
    Encoder encoder(&send_pool_);
    replay(StrCat("exchange '", x.name, "'"), AMQP_EXCHANGE_DECLARE_METHOD,
           encoder.Sendable(ExchangeDeclareMethod(encoder, x)), AMQP_EXCHANGE_DECLARE_OK_METHOD)
        .IgnoreError();
  }
  for (const QueueRecord& q : topology_.queues()) {
    if (down_ || !done.ok()) break;
    Encoder encoder(&send_pool_);
    absl::StatusOr<Reply> declared = replay(
        StrCat("queue '", q.name, "'"), AMQP_QUEUE_DECLARE_METHOD,
        encoder.Sendable(QueueDeclareMethod(
            encoder, q.server_named ? std::string_view() : q.name, q.options)),
        AMQP_QUEUE_DECLARE_OK_METHOD);
    if (declared.ok() && q.server_named && declared->name != q.name) {
      topology_.Rename(q.name, declared->name);
    }
  }
  for (const BindingRecord& b : topology_.bindings()) {
    if (down_ || !done.ok()) break;
    Encoder encoder(&send_pool_);
    const BindingMethod method = BindingMethodOf(b, /*bind=*/true);
    replay(StrCat("the binding of ", b.to_exchange ? "exchange '" : "queue '", b.destination,
                  "' to exchange '", b.source, "' with key '", b.routing_key, "'"),
           method.method, encoder.Sendable(BindingMethodStruct(encoder, b, /*bind=*/true)),
           method.reply)
        .IgnoreError();
  }
  // A refusal closed the channel already; the link dropping took it too.
  if (down_ || !wires_.contains(number)) return done;
  amqp_channel_close_t close{};
  close.reply_code = 200;
  close.reply_text = amqp_cstring_bytes("recovered");
  wires_[number].closing = true;
  CallOnIo(number, AMQP_CHANNEL_CLOSE_METHOD, &close, {AMQP_CHANNEL_CLOSE_OK_METHOD})
      .IgnoreError();
  wires_.erase(number);
  return done;
}

void Link::RecoverChannel(uint16_t number) {
  std::shared_ptr<ChannelState> state = wires_[number].state;
  const std::vector<ConsumerEntry> consumers = state->Consumers();
  size_t next = 0;
  for (bool first = true; !down_; first = false) {
    // Reopened after a consumer it had could not be restored: the refusal
    // closed the channel on the broker, which numbers from 1 again.
    if (!first) state->LinkLost();
    wires_[number] = Wire{.state = state, .recovering = true};
    amqp_channel_open_t open{};
    absl::Status setup =
        CallOnIo(number, AMQP_CHANNEL_OPEN_METHOD, &open, {AMQP_CHANNEL_OPEN_OK_METHOD}).status();
    for (bool global : {false, true}) {
      std::optional<uint16_t> prefetch = state->prefetch(global);
      if (!setup.ok() || !prefetch) continue;
      amqp_basic_qos_t qos{};
      qos.prefetch_count = *prefetch;
      qos.global = global;
      setup = CallOnIo(number, AMQP_BASIC_QOS_METHOD, &qos, {AMQP_BASIC_QOS_OK_METHOD}).status();
    }
    if (setup.ok() && state->confirming()) {
      amqp_confirm_select_t select{};
      setup = CallOnIo(number, AMQP_CONFIRM_SELECT_METHOD, &select,
                       {AMQP_CONFIRM_SELECT_OK_METHOD})
                  .status();
    }
    if (down_) return;
    if (!setup.ok()) {
      state->Close(InContext(StrCat("could not recover channel ", number,
                                    " after reconnecting to ", endpoint_.Describe()),
                             setup));
      wires_.erase(number);
      return;
    }
    bool refused = false;
    while (next < consumers.size() && !refused) {
      const ConsumerEntry& c = consumers[next++];
      const std::string queue = topology_.Resolve(c.queue);
      Encoder encoder(&send_pool_);
      absl::StatusOr<Reply> consumed =
          CallOnIo(number, AMQP_BASIC_CONSUME_METHOD,
                   encoder.Sendable(ConsumeMethod(encoder, queue, c.options)),
                   {AMQP_BASIC_CONSUME_OK_METHOD});
      recycle_amqp_pool(&send_pool_);
      if (down_) return;
      if (!consumed.ok()) {
        state->Cancelled(c.options.consumer_tag);
        refused = true;
      }
    }
    if (!refused) {
      wires_[number].recovering = false;
      return;
    }
  }
}

}  // namespace warren::amqp
