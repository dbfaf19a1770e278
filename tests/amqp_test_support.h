// tests/amqp_test_support.h: the live RabbitMQ the tests/amqp_*_test.cc files
// run against, and a virtual host of their own on it.
//
// The broker is WARREN_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/,
// its vhost ignored; WARREN_AMQPS_URL for its TLS listener) and is
// administered through rabbitmqctl on node WARREN_RABBITMQ_NODE (default
// rabbit@localhost), as shared/conformance/oracle.py does: scripts/rabbitmq
// starts such a broker.
// Each test process gets one fresh vhost, deleted when the process ends, so
// tests never see each other's queues and never touch "/".
#ifndef WARREN_TESTS_AMQP_TEST_SUPPORT_H_
#define WARREN_TESTS_AMQP_TEST_SUPPORT_H_

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace warren::testing {

inline std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// The broker's URL without its vhost ("amqp://guest:guest@127.0.0.1:5672").
inline std::string BrokerUrlBase() {
  std::string url = EnvOr("WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/");
  const size_t authority = url.find("://");
  const size_t path = url.find('/', authority == std::string::npos ? 0 : authority + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

inline std::string RabbitmqNode() { return EnvOr("WARREN_RABBITMQ_NODE", "rabbit@localhost"); }

// The same broker's TLS listener, without a vhost: WARREN_AMQPS_URL (default
// amqps://guest:guest@localhost:5671; the host must be one the server's
// certificate names), and the folder where scripts/rabbitmq put the CA and a
// client certificate for that node.
inline std::string TlsBrokerUrlBase() {
  return EnvOr("WARREN_AMQPS_URL", "amqps://guest:guest@localhost:5671");
}
inline std::string TlsFolder() {
  return absl::StrCat(EnvOr("TMPDIR", "/tmp"), "/warren-rabbitmq-", RabbitmqNode());
}

// Runs `rabbitmqctl -q -n NODE ARGS...` and returns what it printed; the
// arguments must need no shell quoting beyond single quotes. Errors carry
// its output.
inline absl::StatusOr<std::string> RabbitmqctlOutput(const std::vector<std::string>& args) {
  std::string command = absl::StrCat("rabbitmqctl -q -n ", RabbitmqNode());
  for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
  absl::StrAppend(&command, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot run rabbitmqctl");
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::UnavailableError(absl::StrCat(absl::StrJoin(args, " "), ": ", output));
  }
  return output;
}

inline absl::Status Rabbitmqctl(const std::vector<std::string>& args) {
  return RabbitmqctlOutput(args).status();
}

// The broker's host and port ("127.0.0.1:5672"), from WARREN_AMQP_URL.
inline std::string BrokerAuthority() {
  const std::string base = BrokerUrlBase();
  const size_t at = base.find('@');
  const size_t start = at != std::string::npos ? at + 1 : base.find("://") + 3;
  return base.substr(start);
}

// Creates `vhost` with every permission for `user`, creating the user first
// with `password` unless it is guest, in one rabbitmqctl call. Names must
// need no quoting in an Erlang binary.
inline absl::Status AddVhost(const std::string& vhost, const std::string& user = "guest",
                             const std::string& password = "") {
  const std::string add_user =
      user == "guest" ? ""
                      : absl::StrCat("ok = rabbit_auth_backend_internal:add_user(<<\"", user,
                                     "\">>, <<\"", password, "\">>, <<\"warren-tests\">>), ");
  return Rabbitmqctl(
      {"eval", absl::StrCat(add_user, "ok = rabbit_vhost:add(<<\"", vhost,
                            "\">>, <<\"warren-tests\">>), "
                            "ok = rabbit_auth_backend_internal:set_permissions(<<\"",
                            user, "\">>, <<\"", vhost, "\">>, <<\".*\">>, <<\".*\">>, ",
                            "<<\".*\">>, <<\"warren-tests\">>).")});
}

// One vhost for the whole test process, with all permissions for the URL's
// user (guest), created and deleted in one rabbitmqctl call each.
class ScratchVhost : public ::testing::Environment {
 public:
  static ScratchVhost& Get() {
    static ScratchVhost* const vhost = [] {
      auto* v = new ScratchVhost;
      ::testing::AddGlobalTestEnvironment(v);
      return v;
    }();
    return *vhost;
  }

  const std::string& name() const { return name_; }
  std::string url() const { return absl::StrCat(BrokerUrlBase(), "/", name_); }

  // Lazily, so that a process that runs no AMQP test touches no broker.
  absl::Status Create() {
    if (created_) return absl::OkStatus();
    absl::Status s = AddVhost(name_);
    created_ = s.ok();
    return s;
  }

  void TearDown() override {
    if (!created_) return;
    Rabbitmqctl({"delete_vhost", name_}).IgnoreError();
    created_ = false;
  }

 private:
  ScratchVhost() : name_(absl::StrCat("warren-test-", getpid())) {}

  const std::string name_;
  bool created_ = false;
};

// The URL of this process's vhost, created on first use.
inline std::string TestVhostUrl() {
  ScratchVhost& vhost = ScratchVhost::Get();
  absl::Status created = vhost.Create();
  EXPECT_TRUE(created.ok()) << "is a broker running? scripts/rabbitmq start: " << created;
  return vhost.url();
}

}  // namespace warren::testing

#endif  // WARREN_TESTS_AMQP_TEST_SUPPORT_H_
