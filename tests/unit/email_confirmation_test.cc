// The email sender's double opt-in (email_sender/confirmation.h): the confirmation message the
// customer reads, in their language, with the /c/ link; the lifecycle records' handling (opened
// from values sealed as consentd seals them (links/sealed.h); other types skipped;
// once per event id even when the MTA took the first file; a resend sent); its settings.
#include <dirent.h>
#include <librdkafka/rdkafka.h>
// clang-format off: the mock header must follow rdkafka.h
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "email_sender/confirmation.h"
#include "email_sender/email_sender.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "links/keyring.h"
#include "links/sealed.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent::email {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

ConfirmationConfig Config() {
  ConfirmationConfig c;
  c.enabled = true;
  c.from = "Shop <no-reply@shop.example>";
  c.message_id_domain = "shop.example";
  return c;
}

v1::ConfirmationRequested Notice(const std::string& lang) {
  v1::ConfirmationRequested n;
  n.set_event_id("acme/c:email:ab/3/confirmation");
  n.set_tenant("acme");
  v1::ConsentRecord* r = n.add_records();
  r->set_purpose_id("marketing.newsletter");
  r->set_state(v1::PENDING);
  r->mutable_evidence()->set_language(lang);
  n.mutable_expire_time()->set_seconds(1796000000);
  return n;
}

v1::ConfirmationSecret Secret() {
  v1::ConfirmationSecret s;
  s.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  s.mutable_contact_point()->set_value("ana@example.com");
  s.set_token("v2.k.payload.mac");
  s.set_url("https://prefs.example/c/v2.k.payload.mac");
  return s;
}

TEST(Confirmation, TheMessageHoldsTheLinkAndWhatIsConfirmed) {
  ASSERT_OK_AND_ASSIGN(std::string eml,
                       RenderConfirmation(Config(), Notice("en"), Secret(), nullptr,
                                          "<id@shop.example>", absl::Now()));
  EXPECT_THAT(eml, HasSubstr("To: ana@example.com\r\n"));
  EXPECT_THAT(eml, HasSubstr("Subject: Please confirm your subscription\r\n"));
  // The list, then an empty line before the link's paragraph.
  EXPECT_THAT(eml, HasSubstr("  - marketing.newsletter\r\n\r\nConfirm here:\r\n"));
  // Quoted-printable may break the line; the link's characters need no escaping.
  EXPECT_THAT(eml, HasSubstr("https://prefs.example/c/v2.k.payload.mac"));
  EXPECT_THAT(eml, HasSubstr("Content-Type: text/plain; charset=utf-8"));
  // No unsubscribe headers: there is nothing to unsubscribe from yet.
  EXPECT_THAT(eml, Not(HasSubstr("List-Unsubscribe")));
}

TEST(Confirmation, GermanEvidenceGetsTheGermanMessage) {
  ASSERT_OK_AND_ASSIGN(std::string eml,
                       RenderConfirmation(Config(), Notice("de-DE"), Secret(), nullptr,
                                          "<id@shop.example>", absl::Now()));
  // The subject is non-ASCII: RFC 2047 encoded.
  EXPECT_THAT(eml, HasSubstr("Subject: =?UTF-8?B?"));
  EXPECT_THAT(eml, HasSubstr("Hier best=C3=A4tigen"));
}

TEST(Confirmation, PurposesAreNamedAsTheCatalogNamesThemInTheCustomersLanguage) {
  enforce::TenantCatalog catalog;
  v1::Purpose& p = catalog.purposes["marketing.newsletter"];
  p.set_purpose_id("marketing.newsletter");
  p.set_display_name("Weekly newsletter");
  v1::PurposeText* fr = p.add_texts();
  fr->set_language("fr");
  fr->set_display_name("Lettre hebdomadaire");
  ASSERT_OK_AND_ASSIGN(std::string en, RenderConfirmation(Config(), Notice("en-GB"), Secret(),
                                                          &catalog, "<i@x>", absl::Now()));
  EXPECT_THAT(en, HasSubstr("  - Weekly newsletter\r\n"));
  ASSERT_OK_AND_ASSIGN(std::string french, RenderConfirmation(Config(), Notice("fr-CA"), Secret(),
                                                              &catalog, "<i@x>", absl::Now()));
  EXPECT_THAT(french, HasSubstr("  - Lettre hebdomadaire\r\n"));
  EXPECT_THAT(french, HasSubstr("Confirmez ici"));
  ASSERT_OK_AND_ASSIGN(std::string spanish, RenderConfirmation(Config(), Notice("es"), Secret(),
                                                               &catalog, "<i@x>", absl::Now()));
  EXPECT_THAT(spanish, HasSubstr("  - Weekly newsletter\r\n"));
  EXPECT_THAT(spanish, HasSubstr("Confirme aqu=C3=AD"));
}

TEST(Confirmation, RefusesASecretWithoutAnEmailAddressOrAnHttpsLink) {
  v1::ConfirmationSecret phone = Secret();
  phone.mutable_contact_point()->set_type(v1::CONTACT_PHONE);
  EXPECT_THAT(RenderConfirmation(Config(), Notice("en"), phone, nullptr, "<i@x>", absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sealed.contact_point")));
  v1::ConfirmationSecret http = Secret();
  http.set_url("http://prefs.example/c/x");
  EXPECT_THAT(RenderConfirmation(Config(), Notice("en"), http, nullptr, "<i@x>", absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sealed.url")));
}

TEST(Confirmation, HeaderInjectionThroughTheAddressIsRefused) {
  v1::ConfirmationSecret evil = Secret();
  evil.mutable_contact_point()->set_value("ana@example.com\r\nBcc: x@evil.example");
  EXPECT_THAT(RenderConfirmation(Config(), Notice("en"), evil, nullptr, "<i@x>", absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header To")));
}

// --- the lifecycle records ---------------------------------------------------------------------

const std::string kSealKey(32, '\x5a');

std::string SealKeyringYaml() {
  return absl::StrCat("keys:\n  - id: c1\n    secret: \"", absl::Base64Escape(kSealKey), "\"\n");
}

// Sealed as consentd seals it (links/sealed.h), under the keyring the sender is given.
v1::SealedValue Seal(const std::string& plaintext, const std::string& aad) {
  auto ring = links::KeyRing::Parse(SealKeyringYaml());
  EXPECT_TRUE(ring.ok()) << ring.status();
  auto sealed = links::Seal(*ring, plaintext, aad);
  EXPECT_TRUE(sealed.ok()) << sealed.status();
  return sealed.ok() ? *sealed : v1::SealedValue();
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

class ConfirmationMailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.Sub("contact.secret"), "unit-test-contact-key-secret-0123456789", 0600);
    WriteFile(dir_.Sub("links.yaml"),
              absl::StrCat("keys:\n  - id: k1\n    secret: \"",
                           absl::Base64Escape(std::string(32, 'l')), "\"\n"),
              0600);
    WriteFile(dir_.Sub("confirm.yaml"), SealKeyringYaml(), 0600);
    auto config = Config({"--email-confirmations-enabled", "true",
                          "--email-confirmation-keyring-file", dir_.Sub("confirm.yaml")});
    ASSERT_OK(config.status());
    config_ = *config;
    EXPECT_EQ(config_.confirmation.topic, "assent.consent.lifecycle.v1");
    // Nothing listens at these addresses: the runtime starts, its view stays empty.
    auto settings = Settings({});
    ASSERT_OK(settings.status());
    auto common = sender::ReadCommon("email", *settings);
    ASSERT_OK(common.status());
    auto runtime = sender::SenderRuntime::Start(*common, clock_);
    ASSERT_OK(runtime.status());
    runtime_ = *std::move(runtime);
    spool_ = std::make_unique<mail::SpoolDirectory>(config_.spool_dir);
    ASSERT_OK(spool_->Init());
    mailer_ = std::make_unique<ConfirmationMailer>(config_.confirmation, *runtime_, *spool_);
  }

  absl::StatusOr<sender::Settings> Settings(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--kafka-brokers",
                                     brokers_,
                                     "--service",
                                     "127.0.0.1:1",
                                     "--contact-key-secret-file",
                                     dir_.Sub("contact.secret"),
                                     "--metrics-listen",
                                     "",
                                     "--enforcement-service-deadline",
                                     "5ms",
                                     "--email-spool-dir",
                                     dir_.Sub("spool"),
                                     "--email-link-keyring-file",
                                     dir_.Sub("links.yaml")};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<sender::SettingSpec> specs = sender::CommonSpecs("email");
    for (auto& spec : EmailSpecs()) specs.push_back(std::move(spec));
    std::vector<std::string> prefixes = sender::CommonOpenPrefixes();
    for (auto& p : EmailOpenPrefixes()) prefixes.push_back(std::move(p));
    return sender::Settings::Load("email_sender", "ASSENT_EMAIL_", specs, prefixes, args, {});
  }
  absl::StatusOr<EmailConfig> Config(std::vector<std::string> extra) {
    ASSIGN_OR_RETURN(sender::Settings settings, Settings(std::move(extra)));
    return ReadEmailConfig(settings, "assent.");
  }

  std::string Record(const std::string& event_id, bool sealed = true, const std::string& aad = "") {
    v1::ConfirmationRequested notice = Notice("en");
    notice.set_event_id(event_id);
    if (sealed) {
      *notice.mutable_sealed() = Seal(Secret().SerializeAsString(), aad.empty() ? event_id : aad);
    }
    return notice.SerializeAsString();
  }

  std::vector<std::string> Spooled() {
    std::vector<std::string> out;
    DIR* d = opendir(config_.spool_dir.c_str());
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (!name.ends_with(".eml")) continue;
      std::ifstream in(config_.spool_dir + "/" + name);
      std::stringstream text;
      text << in.rdbuf();
      out.push_back(text.str());
    }
    closedir(d);
    return out;
  }
  // What an MTA does after picking the messages up.
  void EmptySpool() {
    DIR* d = opendir(config_.spool_dir.c_str());
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.ends_with(".eml")) unlink((config_.spool_dir + "/" + name).c_str());
    }
    closedir(d);
  }

  static constexpr char kType[] = "assent.v1.ConfirmationRequested";
  // Nothing listens there unless a test starts a mock cluster first.
  std::string brokers_ = "127.0.0.1:1";
  testing::TempDir dir_;
  testing::FakeClock clock_;
  EmailConfig config_;
  std::unique_ptr<sender::SenderRuntime> runtime_;
  std::unique_ptr<mail::SpoolDirectory> spool_;
  std::unique_ptr<ConfirmationMailer> mailer_;
};

TEST_F(ConfirmationMailerTest, ASealedNoticeBecomesOneMessageWithTheLink) {
  sender::HandleResult r = mailer_->HandleRecord(kType, Record("acme/c:email:ab/3/confirmation"));
  EXPECT_EQ(r.kind, sender::HandleResult::kDone);
  EXPECT_TRUE(r.records.empty());
  std::vector<std::string> spooled = Spooled();
  ASSERT_EQ(spooled.size(), 1u);
  EXPECT_THAT(spooled[0], HasSubstr("To: ana@example.com\r\n"));
  EXPECT_THAT(spooled[0], HasSubstr("https://prefs.example/c/v2.k.payload.mac"));
}

TEST_F(ConfirmationMailerTest, ARedeliveredNoticeSendsNothingTwiceAResendIsSent) {
  const std::string record = Record("acme/c:email:ab/3/confirmation");
  mailer_->HandleRecord(kType, record);
  ASSERT_EQ(Spooled().size(), 1u);
  EmptySpool();
  sender::HandleResult r = mailer_->HandleRecord(kType, record);
  EXPECT_EQ(r.kind, sender::HandleResult::kDone);
  EXPECT_EQ(Spooled().size(), 0u);
  // consentd's resend: a new event id.
  mailer_->HandleRecord(kType, Record("acme/c:email:ab/3/confirmation/1"));
  EXPECT_EQ(Spooled().size(), 1u);
}

TEST_F(ConfirmationMailerTest, OtherAndUnknownTypesAreSkipped) {
  const std::string record = Record("acme/c:email:ab/3/confirmation");
  for (const char* type : {"assent.v1.ConsentExpiring", "assent.v1.SomethingNew", ""}) {
    sender::HandleResult r = mailer_->HandleRecord(type, record);
    EXPECT_EQ(r.kind, sender::HandleResult::kDone) << type;
  }
  EXPECT_EQ(Spooled().size(), 0u);
  // Skipping remembered nothing: the notice itself is still sent.
  mailer_->HandleRecord(kType, record);
  EXPECT_EQ(Spooled().size(), 1u);
}

TEST_F(ConfirmationMailerTest, UnsealedTamperedAndGarbageNoticesSendNothing) {
  EXPECT_EQ(mailer_->HandleRecord(kType, Record("e1", /*sealed=*/false)).kind,
            sender::HandleResult::kDone);
  // Sealed for another event id (a notice's secret copied into another notice).
  EXPECT_EQ(mailer_->HandleRecord(kType, Record("e2", true, "e-other")).kind,
            sender::HandleResult::kDone);
  EXPECT_EQ(mailer_->HandleRecord(kType, "\xff\xff not a proto").kind, sender::HandleResult::kDone);
  EXPECT_EQ(Spooled().size(), 0u);
}

// "Download my data": ExportLinkRequested notices, sealed as consentd seals them.
std::string ExportRecord(const std::string& event_id, const std::string& language,
                         const std::string& aad = "") {
  v1::ExportLinkRequested notice;
  notice.set_event_id(event_id);
  notice.set_tenant("acme");
  notice.mutable_target()->set_subject_id("customer-1");
  notice.mutable_expire_time()->set_seconds(1796000000);
  notice.set_language(language);
  v1::ConfirmationSecret secret = Secret();
  secret.set_url("https://prefs.example/x/v2.k.payload.mac");
  *notice.mutable_sealed() = Seal(secret.SerializeAsString(), aad.empty() ? event_id : aad);
  return notice.SerializeAsString();
}
constexpr char kExportType[] = "assent.v1.ExportLinkRequested";

TEST_F(ConfirmationMailerTest, AnExportLinkIsMailedOnceInTheNoticesLanguage) {
  const std::string record = ExportRecord("acme/customer-1/export-link/1", "de-AT");
  EXPECT_EQ(mailer_->HandleRecord(kExportType, record).kind, sender::HandleResult::kDone);
  std::vector<std::string> spooled = Spooled();
  ASSERT_EQ(spooled.size(), 1u);
  EXPECT_THAT(spooled[0], HasSubstr("To: ana@example.com\r\n"));
  EXPECT_THAT(spooled[0], HasSubstr("Subject: Ihr Link zum Herunterladen Ihrer Daten\r\n"));
  EXPECT_THAT(spooled[0], HasSubstr("https://prefs.example/x/v2.k.payload.mac"));
  EmptySpool();
  // Redelivered: nothing; the next request (a new event id): sent.
  mailer_->HandleRecord(kExportType, record);
  EXPECT_EQ(Spooled().size(), 0u);
  mailer_->HandleRecord(kExportType, ExportRecord("acme/customer-1/export-link/2", ""));
  spooled = Spooled();
  ASSERT_EQ(spooled.size(), 1u);
  EXPECT_THAT(spooled[0], HasSubstr("Subject: Your data download link\r\n"));
}

TEST_F(ConfirmationMailerTest, AnExportLinkSealedForAnotherNoticeIsNotMailed) {
  EXPECT_EQ(
      mailer_->HandleRecord(kExportType, ExportRecord("acme/customer-1/export-link/1", "", "other"))
          .kind,
      sender::HandleResult::kDone);
  EXPECT_EQ(mailer_->HandleRecord(kExportType, "\xff\xff not a proto").kind,
            sender::HandleResult::kDone);
  EXPECT_EQ(Spooled().size(), 0u);
}

TEST(ExportLink, TheMessageIsInTheCustomersLanguageAndNeedsAnHttpsLink) {
  v1::ExportLinkRequested notice;
  notice.set_event_id("e");
  notice.mutable_expire_time()->set_seconds(1796000000);
  v1::ConfirmationSecret secret = Secret();
  for (const auto& [lang, words] : std::vector<std::pair<std::string, std::string>>{
           {"", "Subject: Your data download link"},
           {"fr", "Subject: =?UTF-8?B?Vm90cmUgbGllbi"},
           {"es-MX", "Subject: Su enlace"},
           {"it", "Subject: Your data download link"}}) {
    notice.set_language(lang);
    ASSERT_OK_AND_ASSIGN(std::string eml, RenderExportLink(Config(), notice, secret,
                                                           "<id@shop.example>", absl::Now()));
    EXPECT_THAT(eml, HasSubstr(words)) << lang;
  }
  secret.set_url("http://prefs.example/x/t");
  EXPECT_THAT(RenderExportLink(Config(), notice, secret, "<id@shop.example>", absl::Now()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sealed.url")));
}

// The sender's view, fed through librdkafka's mock cluster, holds the address's suppressions.
class ConfirmationSuppressionTest : public ConfirmationMailerTest {
 protected:
  void SetUp() override {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ASSERT_NE(host_, nullptr) << err;
    cluster_ = rd_kafka_mock_cluster_new(host_, 1);
    ASSERT_NE(cluster_, nullptr);
    brokers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    for (const char* topic : {"assent.consent.state.v1", "assent.consent.changes.v1"}) {
      ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, topic, 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    ConfirmationMailerTest::SetUp();
  }
  void TearDown() override {
    mailer_.reset();
    runtime_.reset();
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
  }

  // Publishes the address's state with one suppression and waits until the view holds it.
  void Suppress(v1::Suppression::Kind kind, uint64_t sequence) {
    v1::Target target;
    target.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    target.mutable_contact_point()->set_value("ana@example.com");
    ASSERT_OK_AND_ASSIGN(enforce::Recipient r, runtime_->enforcer().Resolve("acme", target));
    v1::TargetStateSnapshot snapshot;
    v1::ContactPointState* state = snapshot.mutable_contact();
    state->set_tenant("acme");
    *state->mutable_contact() = r.ref.contact();
    state->set_sequence(sequence);
    v1::Suppression* s = state->add_suppressions();
    s->set_channel(v1::EMAIL);
    s->set_kind(kind);
    s->set_sequence(sequence);
    const std::string value = snapshot.SerializeAsString();
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", brokers_.c_str(), err, sizeof(err)),
              RD_KAFKA_CONF_OK);
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ASSERT_NE(producer, nullptr) << err;
    ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("assent.consent.state.v1"),
                                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (runtime_->enforcer().view().Sequence(r.key) < sequence && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));  // polling the view, with a deadline
    }
    ASSERT_EQ(runtime_->enforcer().view().Sequence(r.key), sequence) << "the view never applied it";
  }

  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

TEST_F(ConfirmationSuppressionTest, AHardBouncedAddressGetsNoExportLink) {
  Suppress(v1::Suppression::HARD_BOUNCE, 5);
  EXPECT_EQ(
      mailer_->HandleRecord(kExportType, ExportRecord("acme/customer-1/export-link/1", "en")).kind,
      sender::HandleResult::kDone);
  EXPECT_EQ(Spooled().size(), 0u);
}

TEST_F(ConfirmationSuppressionTest, AHardBouncedAddressGetsNoConfirmation) {
  Suppress(v1::Suppression::HARD_BOUNCE, 5);
  EXPECT_EQ(mailer_->HandleRecord(kType, Record("acme/c:email:ab/3/confirmation")).kind,
            sender::HandleResult::kDone);
  EXPECT_EQ(Spooled().size(), 0u);
}

TEST_F(ConfirmationSuppressionTest, AnUnsubscribedAddressStillGetsTheConfirmationItAskedFor) {
  // Transactional: an earlier unsubscribe (a soft suppression) does not stop the confirmation of
  // the customer's new request.
  Suppress(v1::Suppression::UNSUBSCRIBED, 5);
  mailer_->HandleRecord(kType, Record("acme/c:email:ab/3/confirmation"));
  EXPECT_EQ(Spooled().size(), 1u);
}

// Real librdkafka messages (through its mock cluster): the message-type header is what dispatches.
TEST_F(ConfirmationMailerTest, DispatchesOnTheMessageTypeHeaderOfARealRecord) {
  char err[256];
  rd_kafka_conf_t* pconf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(pconf, "test.mock.num.brokers", "1", err, sizeof(err)),
            RD_KAFKA_CONF_OK);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
  ASSERT_NE(producer, nullptr) << err;
  const std::string topic = "assent.consent.lifecycle.v1";
  auto produce = [&](const std::string& type, const std::string& value) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(1);
    rd_kafka_header_add(headers, "message-type", -1, type.data(),
                        static_cast<ssize_t>(type.size()));
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
  };
  const std::string record = Record("acme/c:email:ab/9/confirmation");
  produce("assent.v1.ConsentExpiring", record);
  produce(kType, record);
  ASSERT_EQ(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::string bootstrap;
  {
    char value[512];
    size_t size = sizeof(value);
    ASSERT_EQ(rd_kafka_conf_get(rd_kafka_conf(producer), "bootstrap.servers", value, &size),
              RD_KAFKA_CONF_OK);
    bootstrap = value;
  }
  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(cconf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err)),
            RD_KAFKA_CONF_OK);
  ASSERT_EQ(rd_kafka_conf_set(cconf, "group.id", "unit", err, sizeof(err)), RD_KAFKA_CONF_OK);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
  ASSERT_NE(consumer, nullptr) << err;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  ASSERT_EQ(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  int handled = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (handled < 2 && absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      EXPECT_EQ(mailer_->Handle(*m).kind, sender::HandleResult::kDone);
      // The first record (a ConsentExpiring with the same bytes) sends nothing.
      EXPECT_EQ(Spooled().size(), handled == 0 ? 0u : 1u);
      ++handled;
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(handled, 2);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
}

TEST_F(ConfirmationMailerTest, SettingsNameWhatIsWrong) {
  EXPECT_THAT(
      Config({"--email-confirmations-enabled", "true"}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("email.confirmation_keyring_file")));
  WriteFile(dir_.Sub("open.yaml"),
            absl::StrCat("keys:\n  - id: c1\n    secret: \"", absl::Base64Escape(kSealKey), "\"\n"),
            0644);
  EXPECT_THAT(
      Config({"--email-confirmations-enabled", "true", "--email-confirmation-keyring-file",
              dir_.Sub("open.yaml")})
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("email.confirmation_keyring_file")));
  WriteFile(dir_.Sub("short.yaml"), "keys:\n  - id: c1\n    secret: \"c2hvcnQ=\"\n", 0600);
  EXPECT_THAT(Config({"--email-confirmations-enabled", "true", "--email-confirmation-keyring-file",
                      dir_.Sub("short.yaml")})
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].secret")));
  // Disabled: no keyring needed.
  ASSERT_OK_AND_ASSIGN(EmailConfig off, Config({}));
  EXPECT_FALSE(off.confirmation.enabled);
}

}  // namespace
}  // namespace assent::email
