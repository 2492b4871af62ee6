// Every Kafka client of Assent over TLS, against one real broker whose SSL listener requires client
// certificates (PEM files made here with the openssl command line): consentd's relay and topic
// admin, the senders' topic admin and enforcement follower, and `assentctl events tail`. A client
// without a certificate, or trusting another CA, gets nothing and says why; secrets stay out of
// logs.
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "enforce/follower.h"
#include "enforce/view.h"
#include "events/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::assent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The client key is encrypted with this password, so ssl.key.password travels through every
// client's configuration; it must never appear in a log or an error.
constexpr char kKeyPassword[] = "kafka-ssl-test-key-passphrase";

// A CA, a broker certificate for 127.0.0.1 and localhost, a client certificate (its key encrypted
// with kKeyPassword), and a second CA that signed nothing here.
const char kPkiScript[] = R"(set -e
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=Assent test CA" 2>/dev/null
key other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 2 -subj "/CN=Other CA" 2>/dev/null
for who in broker client; do
  key $who.key
  openssl req -new -key $who.key -out $who.csr -subj "/CN=$who" 2>/dev/null
done
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
printf 'extendedKeyUsage=clientAuth\n' >client.ext
for who in broker client; do
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile $who.ext -out $who.pem 2>/dev/null
done
cat broker.key broker.pem ca.pem >broker-keystore.pem
openssl pkcs8 -topk8 -v2 aes-256-cbc -in client.key -out client-encrypted.key \
  -passout "pass:$2"
)";

// Whether `topic` exists, asked over the plaintext listener.
bool TopicExists(const std::string& bootstrap, const std::string& topic) {
  events::ConfPtr conf(rd_kafka_conf_new());
  char err[256];
  rd_kafka_conf_set(conf.get(), "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf.get(), "allow.auto.create.topics", "false", err, sizeof(err));
  // rd_kafka_new takes the configuration only when it succeeds.
  events::KafkaPtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof(err)));
  if (rk != nullptr) (void)conf.release();
  if (rk == nullptr) return false;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  bool exists = false;
  if (rd_kafka_metadata(rk.get(), 0, handle, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    exists = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
             md->topics[0].partition_cnt > 0;
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(handle);
  return exists;
}

class KafkaSslTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string script = dir_->Sub("pki.sh");
    std::ofstream(script) << kPkiScript;
    int status = 0;
    const std::string out = testing::RunCommand(
        absl::StrCat("bash ", script, " ", dir_->path(), " ", kKeyPassword, " 2>&1"), &status);
    ASSERT_EQ(status, 0) << out;
    auto broker = std::make_unique<testing::KafkaBroker>(
        dir_->Sub("kafka"),
        testing::KafkaSslListener{Pem("broker-keystore.pem"), Pem("ca.pem"), "required"});
    ASSERT_TRUE(broker->Start()) << broker->error();
    broker_ = broker.release();  // only a started broker: SetUp() checks for it
  }

  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(broker_, nullptr); }

  static std::string Pem(const std::string& name) { return dir_->Sub(name); }

  // The librdkafka settings of a client with the test's certificate.
  static events::KafkaSettings ClientTls() {
    return {{"security.protocol", "ssl"},
            {"ssl.ca.location", Pem("ca.pem")},
            {"ssl.certificate.location", Pem("client.pem")},
            {"ssl.key.location", Pem("client-encrypted.key")},
            {"ssl.key.password", kKeyPassword}};
  }

  struct Run {
    int exit_status = -1;
    std::string out;
    std::string err;
  };
  // Runs assentctl with `env` ("NAME=value ..." for the shell) and `args`.
  static Run Assentctl(const std::string& env, const std::string& args) {
    const std::string err_file = dir_->Sub("assentctl.err");
    int status = 0;
    Run run;
    run.out = testing::RunCommand(
        absl::StrCat(env, " ", ASSENTCTL_PATH, " ", args, " 2>", err_file), &status);
    run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = testing::ReadFile(err_file);
    return run;
  }

  static v1::RecordDecisionsRequest Decision(const std::string& subject) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_state(v1::GRANTED);
    return request;
  }

  // The parts of the one test (ctest runs each test in a process of its own, and one broker start
  // is most of the time).
  void EveryClientWorksOverSslWithClientCertificates();
  void ClientWithoutCertificateGetsNothingAndSaysWhy();
  void ClientTrustingAnotherCaRefusesTheBroker();
  void RefusedSettingsAreNamedWithoutTheirSecrets();

  static testing::TempDir* dir_;
  static testing::KafkaBroker* broker_;
};

testing::TempDir* KafkaSslTest::dir_ = nullptr;
testing::KafkaBroker* KafkaSslTest::broker_ = nullptr;

void KafkaSslTest::EveryClientWorksOverSslWithClientCertificates() {
  // consentd's producer (and so its topic admin) on the SSL listener, configured as an operator
  // would: kafka.producer.* in its YAML file.
  const std::string config = dir_->Sub("consentd.yaml");
  {
    std::ofstream yaml(config);
    yaml << "kafka:\n  brokers: \"" << broker_->ssl_bootstrap() << "\"\n  partitions: 2\n"
         << "  producer:\n";
    for (const auto& [key, value] : ClientTls()) yaml << "    " << key << ": \"" << value << "\"\n";
  }
  testing::ConsentdProcess server(CONSENTD_PATH, dir_->Sub("data"), dir_->path());
  server.Start({"--config", config});
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(server.SeedCatalog("marketing.newsletter", {v1::EMAIL}));

  // A sender's enforcement follower reads the changes over SSL.
  std::mutex mu;
  std::set<std::string> changed;
  enforce::FollowerOptions follower_options;
  follower_options.brokers = broker_->ssl_bootstrap();
  follower_options.consumer_overrides = ClientTls();
  follower_options.on_change = [&](std::string_view key) {
    std::lock_guard<std::mutex> lock(mu);
    changed.emplace(key);
  };
  enforce::ConsentView view;
  enforce::ViewFollower follower(follower_options, view, SystemClock::Get());
  ASSERT_OK(follower.Start());

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::RecordDecisionsResponse response;
  grpc::Status recorded =
      server.consent().RecordDecisions(&ctx, Decision("ssl-subject"), &response);
  ASSERT_TRUE(recorded.ok()) << recorded.error_message();

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  auto seen = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return changed.contains("acme/ssl-subject");
  };
  while (!seen() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(seen()) << "the follower saw no change over SSL; status: consumer_errors="
                      << follower.status().consumer_errors << "\nconsentd log:\n"
                      << server.log();
  follower.Stop();

  // assentctl events tail with a properties file...
  const std::string properties = dir_->Sub("client.properties");
  {
    std::ofstream file(properties);
    file << "# assentctl over TLS\n";
    for (const auto& [key, value] : ClientTls()) file << key << "=" << value << "\n";
  }
  const std::string tail = absl::StrCat("events tail --brokers ", broker_->ssl_bootstrap(),
                                        " --from-beginning --count 1 --timeout 20s");
  Run run = Assentctl("", absl::StrCat(tail, " --kafka-config ", properties));
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\"subjectId\":\"ssl-subject\""));
  // ... and with $ASSENT_KAFKA_CONFIG for the trust, -X for the certificate.
  const std::string trust = dir_->Sub("trust.properties");
  std::ofstream(trust) << "security.protocol=ssl\nssl.ca.location=" << Pem("ca.pem") << "\n";
  run = Assentctl(absl::StrCat("ASSENT_KAFKA_CONFIG=", trust),
                  absl::StrCat(tail, " -X ssl.certificate.location=", Pem("client.pem"),
                               " -X ssl.key.location=", Pem("client.key")));
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\"subjectId\":\"ssl-subject\""));

  // A sender's topic admin, with the settings its consumer uses.
  events::KafkaSettings consumer = ClientTls();
  consumer["fetch.wait.max.ms"] = "5";  // a consumer-only setting the admin leaves out
  ASSERT_OK(events::CreateTopics(
      {broker_->ssl_bootstrap(), events::ConnectionSettings(consumer), "kafka.consumer."},
      {{"assent.email.requests.v1", 2, 1, {{"cleanup.policy", "delete"}}}}, absl::Seconds(20)));
  EXPECT_TRUE(TopicExists(broker_->bootstrap(), "assent.email.requests.v1"));
  // consentd created its own topics over SSL.
  EXPECT_TRUE(TopicExists(broker_->bootstrap(), "assent.consent.changes.v1"));

  EXPECT_EQ(server.Stop(), 0);
  EXPECT_THAT(server.log(), Not(HasSubstr(kKeyPassword)));
}

void KafkaSslTest::ClientWithoutCertificateGetsNothingAndSaysWhy() {
  // Trusts the broker but shows no certificate: the broker refuses the handshake.
  events::KafkaSettings no_certificate = {{"security.protocol", "ssl"},
                                          {"ssl.ca.location", Pem("ca.pem")},
                                          {"sasl.password", kKeyPassword}};  // unused, not shown
  absl::Status created =
      events::CreateTopics({broker_->ssl_bootstrap(), no_certificate, "kafka.consumer."},
                           {{"assent.refused.v1", 1, 1, {}}}, absl::Seconds(3));
  EXPECT_THAT(created, StatusIs(absl::StatusCode::kUnavailable,
                                AllOf(HasSubstr("certificate"), Not(HasSubstr(kKeyPassword)))));
  EXPECT_FALSE(TopicExists(broker_->bootstrap(), "assent.refused.v1"));

  Run run =
      Assentctl("", absl::StrCat("events tail --brokers ", broker_->ssl_bootstrap(),
                                 " -X security.protocol=ssl -X ssl.ca.location=", Pem("ca.pem"),
                                 " --from-beginning --count 1 --timeout 3s"));
  EXPECT_EQ(run.exit_status, 2) << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(run.err, HasSubstr("last broker error"));
  EXPECT_THAT(run.err, HasSubstr("certificate"));
}

void KafkaSslTest::ClientTrustingAnotherCaRefusesTheBroker() {
  events::KafkaSettings other_ca = ClientTls();
  other_ca["ssl.ca.location"] = Pem("other-ca.pem");
  absl::Status created =
      events::CreateTopics({broker_->ssl_bootstrap(), other_ca, "kafka.producer."},
                           {{"assent.refused.v1", 1, 1, {}}}, absl::Seconds(3));
  EXPECT_THAT(created,
              StatusIs(absl::StatusCode::kUnavailable, AllOf(HasSubstr("certificate verify failed"),
                                                             Not(HasSubstr(kKeyPassword)))));
  EXPECT_FALSE(TopicExists(broker_->bootstrap(), "assent.refused.v1"));
}

void KafkaSslTest::RefusedSettingsAreNamedWithoutTheirSecrets() {
  events::KafkaSettings wrong_password = ClientTls();
  wrong_password["ssl.key.password"] = "not-the-password-either";
  absl::Status created =
      events::CreateTopics({broker_->ssl_bootstrap(), wrong_password, "kafka.consumer."},
                           {{"assent.refused.v1", 1, 1, {}}}, absl::Seconds(3));
  EXPECT_THAT(created, StatusIs(absl::StatusCode::kInvalidArgument,
                                AllOf(HasSubstr("kafka.consumer"), HasSubstr("ssl.key"),
                                      Not(HasSubstr("not-the-password-either")))));

  Run run = Assentctl("", absl::StrCat("events tail --brokers ", broker_->ssl_bootstrap(),
                                       " -X security.protocol=tls -X sasl.password=", kKeyPassword,
                                       " --count 1 --timeout 3s"));
  EXPECT_EQ(run.exit_status, 64) << run.err;
  EXPECT_THAT(run.err,
              AllOf(HasSubstr("security.protocol (from -X)"), Not(HasSubstr(kKeyPassword))));
}

TEST_F(KafkaSslTest, EveryClientOverSslWithClientCertificatesRequired) {
  {
    SCOPED_TRACE("every client works over SSL with a client certificate");
    EveryClientWorksOverSslWithClientCertificates();
  }
  {
    SCOPED_TRACE("a client without a certificate gets nothing and says why");
    ClientWithoutCertificateGetsNothingAndSaysWhy();
  }
  {
    SCOPED_TRACE("a client trusting another CA refuses the broker");
    ClientTrustingAnotherCaRefusesTheBroker();
  }
  {
    SCOPED_TRACE("refused settings are named without their secrets");
    RefusedSettingsAreNamedWithoutTheirSecrets();
  }
}

}  // namespace
}  // namespace assent
