// The webhook forwarder's pure parts: Standard Webhooks signatures (the published test vector),
// the backoff schedule and retry classes, the endpoint filter, the JSON body (sealed evidence
// removed) and config validation.
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "assent/v1/events.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sender/settings.h"
#include "testing/temp_dir.h"
#include "webhook_forwarder/config.h"
#include "webhook_forwarder/payload.h"
#include "webhook_forwarder/retry.h"
#include "webhook_forwarder/signer.h"

namespace assent::webhooks {
namespace {

using ::testing::HasSubstr;

// From the Standard Webhooks specification's reference libraries.
constexpr char kVectorSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kVectorId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kVectorTimestamp = 1614265330;
constexpr char kVectorBody[] = R"({"test": 2432232314})";
constexpr char kVectorSignature[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string VectorKey() {
  auto keys = ParseSecrets("secret", kVectorSecret);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return keys.ok() ? keys->front() : "";
}

TEST(SignerTest, ReproducesTheStandardWebhooksTestVector) {
  EXPECT_EQ(SignOne(VectorKey(), kVectorId, kVectorTimestamp, kVectorBody), kVectorSignature);
  EXPECT_TRUE(
      VerifySignature(VectorKey(), kVectorId, kVectorTimestamp, kVectorBody, kVectorSignature));
}

TEST(SignerTest, VerificationFailsForAnyChangedPart) {
  const std::string key = VectorKey();
  EXPECT_FALSE(VerifySignature(key, "msg_other", kVectorTimestamp, kVectorBody, kVectorSignature));
  EXPECT_FALSE(
      VerifySignature(key, kVectorId, kVectorTimestamp + 1, kVectorBody, kVectorSignature));
  EXPECT_FALSE(
      VerifySignature(key, kVectorId, kVectorTimestamp, R"({"test": 1})", kVectorSignature));
  EXPECT_FALSE(VerifySignature("another key of some length", kVectorId, kVectorTimestamp,
                               kVectorBody, kVectorSignature));
  EXPECT_FALSE(VerifySignature(key, kVectorId, kVectorTimestamp, kVectorBody,
                               "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
}

TEST(SignerTest, RotationSignsWithEveryKeyAndEitherVerifies) {
  const std::string old_key = VectorKey();
  const std::string new_key(32, 'k');
  const std::string header =
      SignatureHeader({new_key, old_key}, kVectorId, kVectorTimestamp, kVectorBody);
  EXPECT_THAT(header, HasSubstr(std::string(" ") + kVectorSignature));
  EXPECT_TRUE(absl::StartsWith(header, "v1,"));
  EXPECT_TRUE(VerifySignature(new_key, kVectorId, kVectorTimestamp, kVectorBody, header));
  EXPECT_TRUE(VerifySignature(old_key, kVectorId, kVectorTimestamp, kVectorBody, header));
}

TEST(SecretsTest, ParsesWhsecLinesAndRefusesOthers) {
  auto keys = ParseSecrets("f", std::string("# newest first\n") + kVectorSecret + "\n\n" +
                                    "whsec_" + absl::Base64Escape(std::string(32, 'x')) + "\n");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1], std::string(32, 'x'));
  for (const char* bad : {"", "# only a comment\n", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                          "whsec_!!!notbase64", "whsec_c2hvcnQ="}) {
    auto parsed = ParseSecrets("endpoints.crm.secret_file", bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("endpoints.crm.secret_file")) << bad;
  }
}

TEST(BackoffTest, CeilingDoublesUpToTheMaximum) {
  const absl::Duration initial = absl::Seconds(1);
  const absl::Duration max = absl::Seconds(30);
  EXPECT_EQ(BackoffCeiling(1, initial, max), absl::Seconds(1));
  EXPECT_EQ(BackoffCeiling(2, initial, max), absl::Seconds(2));
  EXPECT_EQ(BackoffCeiling(3, initial, max), absl::Seconds(4));
  EXPECT_EQ(BackoffCeiling(5, initial, max), absl::Seconds(16));
  EXPECT_EQ(BackoffCeiling(6, initial, max), absl::Seconds(30));
  EXPECT_EQ(BackoffCeiling(1000, initial, max), absl::Seconds(30));
}

TEST(BackoffTest, FullJitterSpansZeroToTheCeiling) {
  const absl::Duration initial = absl::Milliseconds(100);
  const absl::Duration max = absl::Seconds(10);
  EXPECT_EQ(BackoffDelay(4, initial, max, 0.0), absl::ZeroDuration());
  EXPECT_EQ(BackoffDelay(4, initial, max, 0.5), absl::Milliseconds(400));
  EXPECT_EQ(BackoffDelay(4, initial, max, 1.0), absl::Milliseconds(800));
  EXPECT_EQ(BackoffDelay(4, initial, max, 7.0), absl::Milliseconds(800));  // clamped
}

TEST(RetryTest, ClassifiesStatuses) {
  EXPECT_EQ(ClassifyStatus(200), Outcome::kDelivered);
  EXPECT_EQ(ClassifyStatus(204), Outcome::kDelivered);
  EXPECT_EQ(ClassifyStatus(429), Outcome::kThrottled);
  EXPECT_EQ(ClassifyStatus(408), Outcome::kTimeout);
  EXPECT_EQ(ClassifyStatus(500), Outcome::kServerError);
  EXPECT_EQ(ClassifyStatus(503), Outcome::kServerError);
  EXPECT_EQ(ClassifyStatus(400), Outcome::kClientError);
  EXPECT_EQ(ClassifyStatus(404), Outcome::kClientError);
  EXPECT_EQ(ClassifyStatus(301), Outcome::kClientError);
  for (Outcome o :
       {Outcome::kNetwork, Outcome::kTimeout, Outcome::kThrottled, Outcome::kServerError}) {
    EXPECT_TRUE(Retryable(o)) << OutcomeName(o);
  }
  EXPECT_FALSE(Retryable(Outcome::kClientError));
  EXPECT_FALSE(Retryable(Outcome::kDelivered));
}

assent::v1::ConsentChanged Event(const std::string& tenant, const std::string& purpose,
                                 assent::v1::ChangeKind kind, bool imported, absl::Time effective) {
  assent::v1::ConsentChanged e;
  e.set_event_id(tenant + "/subject-1/1");
  e.set_tenant(tenant);
  e.mutable_target()->set_subject_id("subject-1");
  e.set_kind(kind);
  e.mutable_effective_time()->set_seconds(absl::ToUnixSeconds(effective));
  if (!purpose.empty()) {
    auto* after = e.add_decisions()->mutable_after();
    after->set_purpose_id(purpose);
    after->set_imported(imported);
  }
  return e;
}

TEST(FilterTest, TenantsPurposesAndKinds) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EndpointFilter f;
  f.tenants = {"acme"};
  f.purposes = {"newsletter"};
  f.kinds = {assent::v1::DECISIONS_RECORDED, assent::v1::SUBJECT_ERASED};
  using assent::v1::DECISIONS_RECORDED;
  EXPECT_EQ(Filter(f, Event("acme", "newsletter", DECISIONS_RECORDED, false, now), now),
            Verdict::kSend);
  EXPECT_EQ(Filter(f, Event("other", "newsletter", DECISIONS_RECORDED, false, now), now),
            Verdict::kFiltered);
  EXPECT_EQ(Filter(f, Event("acme", "profiling", DECISIONS_RECORDED, false, now), now),
            Verdict::kFiltered);
  EXPECT_EQ(Filter(f, Event("acme", "newsletter", assent::v1::PREFERENCES_SET, false, now), now),
            Verdict::kFiltered);
  // An erasure has no decisions: the purpose filter does not hold it back.
  EXPECT_EQ(Filter(f, Event("acme", "", assent::v1::SUBJECT_ERASED, false, now), now),
            Verdict::kSend);
  // A withdrawal matches on its `before` side too.
  auto withdrawn = Event("acme", "profiling", DECISIONS_RECORDED, false, now);
  withdrawn.mutable_decisions(0)->mutable_before()->set_purpose_id("newsletter");
  EXPECT_EQ(Filter(f, withdrawn, now), Verdict::kSend);
  EXPECT_EQ(Filter(EndpointFilter{}, Event("x", "y", DECISIONS_RECORDED, false, now), now),
            Verdict::kSend);
}

TEST(FilterTest, OldImportsAreNotSent) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EndpointFilter f;
  f.imported_max_age = absl::Hours(24 * 30);
  using assent::v1::DECISIONS_RECORDED;
  const absl::Time old = now - absl::Hours(24 * 365);
  EXPECT_EQ(Filter(f, Event("a", "p", DECISIONS_RECORDED, true, old), now), Verdict::kOldImport);
  EXPECT_EQ(Filter(f, Event("a", "p", DECISIONS_RECORDED, true, now - absl::Hours(1)), now),
            Verdict::kSend);
  EXPECT_EQ(Filter(f, Event("a", "p", DECISIONS_RECORDED, false, old), now), Verdict::kSend);
  f.imported_max_age = absl::ZeroDuration();
  EXPECT_EQ(Filter(f, Event("a", "p", DECISIONS_RECORDED, true, old), now), Verdict::kSend);
}

TEST(BodyTest, ProtoJsonWithoutSealedEvidence) {
  auto e = Event("acme", "newsletter", assent::v1::DECISIONS_RECORDED, false, absl::Now());
  auto* evidence = e.mutable_decisions(0)->mutable_after()->mutable_evidence();
  evidence->set_language("en-GB");
  evidence->set_gpc(true);
  evidence->mutable_sealed()->set_ciphertext("CIPHERTEXT-BYTES");
  auto body = Body(e);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("\"eventId\":\"acme/subject-1/1\""));
  EXPECT_THAT(*body, HasSubstr("\"language\":\"en-GB\""));
  EXPECT_THAT(*body, HasSubstr("\"kind\":\"DECISIONS_RECORDED\""));
  EXPECT_THAT(*body, ::testing::Not(HasSubstr("sealed")));
  EXPECT_THAT(*body, ::testing::Not(HasSubstr(absl::Base64Escape("CIPHERTEXT-BYTES"))));
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_ = dir_.Sub("crm.secret");
    std::ofstream(secret_) << kVectorSecret << "\n";
    chmod(secret_.c_str(), 0600);
  }
  absl::StatusOr<WebhookConfig> Read(const std::string& endpoint_yaml) {
    const std::string yaml =
        "kafka: {brokers: 'localhost:9092'}\nendpoints:\n  crm:\n    secret_file: " + secret_ +
        "\n" + endpoint_yaml;
    auto settings = sender::Settings::FromYaml("webhook_forwarder", kEnvPrefix, WebhookSpecs(),
                                               WebhookOpenPrefixes(), yaml);
    if (!settings.ok()) return settings.status();
    return ReadWebhookConfig(*settings);
  }
  testing::TempDir dir_;
  std::string secret_;
};

TEST_F(ConfigTest, ReadsAnEndpoint) {
  auto c = Read(
      "    url: https://crm.example.com/hooks\n    tenants: acme, beta\n"
      "    kinds: SUBJECT_ERASED,DECISIONS_RECORDED\n    retry_max_age: 2h\n"
      "    max_in_flight: 8\n    imported_max_age: 0s\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->endpoints.size(), 1u);
  const EndpointConfig& e = c->endpoints[0];
  EXPECT_EQ(e.name, "crm");
  EXPECT_EQ(e.secrets, std::vector<std::string>{VectorKey()});
  EXPECT_EQ(e.filter.tenants, (std::set<std::string>{"acme", "beta"}));
  EXPECT_EQ(e.filter.kinds.size(), 2u);
  EXPECT_EQ(e.retry_max_age, absl::Hours(2));
  EXPECT_EQ(e.max_in_flight, 8);
  EXPECT_EQ(e.filter.imported_max_age, absl::ZeroDuration());
  EXPECT_EQ(c->changes_topic, "assent.consent.changes.v1");
  EXPECT_EQ(c->deadletter_topic, "assent.webhooks.deadletter.v1");
}

TEST_F(ConfigTest, RefusesBadEndpointsNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    url: http://crm.example.com/\n", "endpoints.crm.url"},
      {"    url: ftp://crm.example.com/\n", "endpoints.crm.url"},
      {"", "endpoints.crm.url"},
      {"    url: https://x.example\n    kinds: SOMETHING\n", "endpoints.crm.kinds"},
      {"    url: https://x.example\n    max_in_flight: 0\n", "endpoints.crm.max_in_flight"},
      {"    url: https://x.example\n    retry_max_age: soon\n", "endpoints.crm.retry_max_age"},
      {"    url: https://x.example\n    colour: blue\n", "endpoints.crm.colour"},
      {"    url: https://x.example\n    allow_insecure_http: yes\n",
       "endpoints.crm.allow_insecure_http"},
      {"    url: https://x.example\n    ca_file: /nonexistent/ca.pem\n", "endpoints.crm.ca_file"},
  };
  for (const auto& [yaml, field] : cases) {
    auto c = Read(yaml);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_THAT(c.status().message(), HasSubstr(field)) << yaml;
  }
  EXPECT_TRUE(Read("    url: http://127.0.0.1:1/\n    allow_insecure_http: true\n").ok());
}

TEST_F(ConfigTest, RefusesAWorldReadableSecretFile) {
  chmod(secret_.c_str(), 0644);
  auto c = Read("    url: https://x.example\n");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("endpoints.crm.secret_file"));
}

TEST_F(ConfigTest, ReplayFromMustBeRfc3339) {
  auto settings = sender::Settings::FromYaml(
      "webhook_forwarder", kEnvPrefix, WebhookSpecs(), WebhookOpenPrefixes(),
      "kafka: {brokers: b}\nreplay_from: yesterday\nendpoints: {crm: {url: 'https://x.example', "
      "secret_file: " +
          secret_ + "}}\n");
  ASSERT_TRUE(settings.ok()) << settings.status();
  auto c = ReadWebhookConfig(*settings);
  EXPECT_THAT(c.status().message(), HasSubstr("replay_from"));
  settings = sender::Settings::FromYaml(
      "webhook_forwarder", kEnvPrefix, WebhookSpecs(), WebhookOpenPrefixes(),
      "kafka: {brokers: b}\nreplay_from: '2026-01-31T12:00:00Z'\nendpoints: {crm: {url: "
      "'https://x.example', secret_file: " +
          secret_ + "}}\n");
  ASSERT_TRUE(settings.ok()) << settings.status();
  c = ReadWebhookConfig(*settings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->replay_from, absl::FromUnixSeconds(1769860800));
}

TEST_F(ConfigTest, NeedsAnEndpoint) {
  auto settings = sender::Settings::FromYaml("webhook_forwarder", kEnvPrefix, WebhookSpecs(),
                                             WebhookOpenPrefixes(), "kafka: {brokers: b}\n");
  ASSERT_TRUE(settings.ok());
  EXPECT_THAT(ReadWebhookConfig(*settings).status().message(), HasSubstr("endpoints"));
}

}  // namespace
}  // namespace assent::webhooks
