// tests/conformance/live_vhosts.cc: rabbitmqctl eval, without a shell.
#include "live_vhosts.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

extern char** environ;

namespace warren::conformance {
namespace {

// Runs `rabbitmqctl -q -n NODE eval CODE`; errors carry its output.
absl::Status Eval(const LiveBroker& broker, const std::string& code) {
  int out[2];
  if (pipe(out) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args = {"rabbitmqctl", "-q", "-n", broker.node, "eval", code};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned =
      posix_spawnp(&pid, "rabbitmqctl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return absl::UnavailableError("cannot run rabbitmqctl (is rabbitmq-server installed?)");
  }
  std::string output;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) != 0;) {
    if (n > 0) {
      output.append(buffer, static_cast<size_t>(n));
    } else if (errno != EINTR) {
      break;
    }
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError("rabbitmqctl -n " + broker.node + " eval failed: " + output);
  }
  return absl::OkStatus();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The URL's user, percent-decoded; "guest" when it names none.
std::string UrlUser(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return "guest";
  const size_t at = url.find('@', start + 3);
  const size_t slash = url.find('/', start + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return "guest";
  const std::string userinfo = url.substr(start + 3, at - start - 3);
  const std::string encoded = userinfo.substr(0, userinfo.find(':'));
  std::string user;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size() && HexDigit(encoded[i + 1]) >= 0 &&
        HexDigit(encoded[i + 2]) >= 0) {
      user += static_cast<char>(HexDigit(encoded[i + 1]) * 16 + HexDigit(encoded[i + 2]));
      i += 2;
    } else {
      user += encoded[i];
    }
  }
  return user;
}

// An Erlang binary literal of `s`.
std::string Binary(const std::string& s) {
  std::string out = "<<\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\">>";
}

std::string BinaryList(const std::vector<std::string>& names) {
  std::string out = "[";
  for (const std::string& name : names) {
    if (out.size() > 1) out += ",";
    out += Binary(name);
  }
  return out + "]";
}

}  // namespace

absl::Status AddVhosts(const LiveBroker& broker, const std::vector<std::string>& names) {
  if (names.empty()) return absl::OkStatus();
  const std::string actor = Binary("warren_conformance");
  return Eval(broker, "[begin ok = rabbit_vhost:add(V, " + actor +
                          "), ok = rabbit_auth_backend_internal:set_permissions(" +
                          Binary(UrlUser(broker.url)) +
                          ", V, <<\".*\">>, <<\".*\">>, <<\".*\">>, " + actor + ") end || V <- " +
                          BinaryList(names) + "], ok.");
}

absl::Status DeleteVhosts(const LiveBroker& broker, const std::vector<std::string>& names) {
  if (names.empty()) return absl::OkStatus();
  return Eval(broker, "[rabbit_vhost:delete(V, " + Binary("warren_conformance") + ") || V <- " +
                          BinaryList(names) + "], ok.");
}

std::string UrlWithVhost(const LiveBroker& broker, const std::string& vhost) {
  const std::string& url = broker.url;
  const size_t start = url.find("://");
  const size_t slash = url.find('/', start == std::string::npos ? 0 : start + 3);
  std::string out = slash == std::string::npos ? url : url.substr(0, slash);
  out += '/';
  for (char c : vhost) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (plain) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 15];
    }
  }
  return out;
}

}  // namespace warren::conformance
