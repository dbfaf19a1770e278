// amqps:// against a live RabbitMQ's TLS listener, the one scripts/rabbitmq
// start gives its node with a throwaway CA: the broker's certificate and
// host name are verified against the CA the options name, and a client
// certificate reaches the broker. See tests/amqp_test_support.h for the
// broker (WARREN_AMQPS_URL) and where the CA is.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "amqp_test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/channel.h"
#include "warren/connect.h"
#include "warren/status.h"

namespace warren {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class AmqpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = testing::TlsFolder();
    if (!std::filesystem::exists(folder_ + "/ca.pem")) {
      // scripts/test starts the broker itself, with TLS: there a missing CA
      // is a failure, never a skip.
      if (testing::EnvOr("WARREN_AMQP_TLS_REQUIRED", "")[0] == '1') {
        FAIL() << "no " << folder_ << "/ca.pem although WARREN_AMQP_TLS_REQUIRED=1";
      }
      GTEST_SKIP() << "no " << folder_ << "/ca.pem: the broker was not started by a "
                   << "scripts/rabbitmq that gives it a TLS listener";
    }
    // The vhost of this process, created through the plain listener.
    const std::string plain = testing::TestVhostUrl();
    url_ = absl::StrCat(testing::TlsBrokerUrlBase(), "/", testing::ScratchVhost::Get().name());
    ASSERT_FALSE(plain.empty());
  }

  ClientOptions Trusting() const {
    ClientOptions options;
    options.tls_ca_file = folder_ + "/ca.pem";
    options.connect_timeout = absl::Seconds(5);
    return options;
  }

  std::string folder_;
  std::string url_;
};

TEST_F(AmqpTlsTest, ConnectsVerifyingTheBrokerAgainstTheCaAndCarriesMessages) {
  auto connection = Connect(url_, Trusting());
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto channel = (*connection)->OpenChannel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE((*channel)->QueueDeclare("over-tls").ok());
  ASSERT_TRUE((*channel)->ConfirmSelect().ok());
  ASSERT_TRUE((*channel)->BasicPublish("", "over-tls", Message("sealed")).ok());
  ASSERT_TRUE((*channel)->WaitForConfirms(absl::Seconds(10)).ok());
  auto got = (*channel)->BasicGet("over-tls", {.no_ack = true});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->delivery.message.body(), "sealed");
}

TEST_F(AmqpTlsTest, ABrokerCertificateNoTrustedCaSignedIsRefused) {
  ClientOptions options = Trusting();
  options.tls_ca_file.clear();  // OpenSSL's default CAs: not the throwaway one
  auto connection = Connect(url_, options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable) << connection.status();
  EXPECT_THAT(connection.status().message(), HasSubstr("amqps://localhost:"));
  EXPECT_THAT(connection.status().message(), Not(HasSubstr("guest")));
}

// OpenSSL's default CAs are what SSL_CERT_FILE names, when it is set.
TEST_F(AmqpTlsTest, AnEmptyCaFileTrustsOpenSslsDefaultCas) {
  const char* const before = std::getenv("SSL_CERT_FILE");
  const std::string saved = before != nullptr ? before : "";
  setenv("SSL_CERT_FILE", (folder_ + "/ca.pem").c_str(), 1);
  ClientOptions options = Trusting();
  options.tls_ca_file.clear();
  auto connection = Connect(url_, options);
  if (before != nullptr) {
    setenv("SSL_CERT_FILE", saved.c_str(), 1);
  } else {
    unsetenv("SSL_CERT_FILE");
  }
  EXPECT_TRUE(connection.ok()) << connection.status();
}

TEST_F(AmqpTlsTest, AHostTheCertificateDoesNotNameIsRefused) {
  auto connection = Connect(absl::StrReplaceAll(url_, {{"@localhost:", "@127.0.0.1:"}}),
                            Trusting());
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable) << connection.status();
  EXPECT_THAT(connection.status().message(), HasSubstr("hostname verification failed"));
}

TEST_F(AmqpTlsTest, AClientCertificateReachesTheBroker) {
  ClientOptions options = Trusting();
  options.tls_cert_file = folder_ + "/client.pem";
  options.tls_key_file = folder_ + "/client.key";
  auto connection = Connect(url_, options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto listed = testing::RabbitmqctlOutput(
      {"list_connections", "-p", testing::ScratchVhost::Get().name(), "peer_cert_subject"});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, HasSubstr("CN=warren-test-client"));
}

TEST_F(AmqpTlsTest, UnreadableOrIncompleteTlsFilesAreInvalidArguments) {
  ClientOptions missing_ca = Trusting();
  missing_ca.tls_ca_file = folder_ + "/no-such-ca.pem";
  EXPECT_EQ(Connect(url_, missing_ca).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions cert_without_key = Trusting();
  cert_without_key.tls_cert_file = folder_ + "/client.pem";
  EXPECT_EQ(Connect(url_, cert_without_key).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions key_of_another = Trusting();
  key_of_another.tls_cert_file = folder_ + "/client.pem";
  key_of_another.tls_key_file = folder_ + "/ca.pem";  // not a key at all
  EXPECT_EQ(Connect(url_, key_of_another).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace warren
