// The SMS sender's inbound keyword handling and request pre-checks, with a fake service and a
// fake transport: which service calls a keyword makes, when a confirmation is owed, and that an
// unreachable service means "retry", never a lost opt-out.
#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "assent/sender/v1/sender.pb.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sender/runtime.h"
#include "sms/keywords.h"
#include "sms_sender/config.h"
#include "sms_sender/handler.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace assent::sms_sender {
namespace {

using sender::HandleResult;
using sender::v1::InboundSms;
using sender::v1::SendOutcome;
using sender::v1::SendRequest;

class FakeService : public ContactPointClient {
 public:
  absl::StatusOr<std::optional<v1::ContactPointState>> GetState(
      const std::string& tenant, const v1::ContactPoint& contact_point) override {
    ++reads;
    if (!read_error.ok()) return read_error;
    auto it = states.find(tenant + "/" + contact_point.value());
    if (it == states.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<v1::SuppressContactPointResponse> Suppress(
      const v1::SuppressContactPointRequest& request) override {
    writes.push_back(request);
    if (!write_error.ok()) return write_error;
    v1::ContactPointState& state = states[request.tenant() + "/" + request.contact_point().value()];
    auto* list = state.mutable_suppressions();
    for (int i = 0; i < list->size(); ++i) {
      if (list->Get(i).channel() == request.channel() && list->Get(i).kind() == request.kind()) {
        list->DeleteSubrange(i, 1);
        break;
      }
    }
    if (!request.lift()) {
      v1::Suppression* s = list->Add();
      s->set_channel(request.channel());
      s->set_kind(request.kind());
      s->set_source(request.source());
    }
    return v1::SuppressContactPointResponse();
  }

  std::map<std::string, v1::ContactPointState> states;
  std::vector<v1::SuppressContactPointRequest> writes;
  int reads = 0;
  absl::Status read_error;
  absl::Status write_error;
};

class FakeTransport : public SmsTransport {
 public:
  absl::Status Send(std::string_view name, const OutgoingSms& sms) override {
    if (!error.ok()) return error;
    files[std::string(name)] = sms;
    return absl::OkStatus();
  }
  std::map<std::string, OutgoingSms> files;
  absl::Status error;
};

constexpr char kPhone[] = "+14155550123";

class SmsHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string secret = dir_.Sub("secret");
    FILE* f = fopen(secret.c_str(), "w");
    fputs("unit-test-contact-key-secret-0123456789", f);
    fclose(f);
    // Nothing listens at these addresses: the runtime starts (the view waits for Kafka in the
    // background) and the inbound path never consults it.
    auto settings = sender::Settings::Load(
        "sms_sender", kEnvPrefix, SmsSpecs(), sender::CommonOpenPrefixes(),
        {"--kafka-brokers", "127.0.0.1:1", "--service", "127.0.0.1:1", "--contact-key-secret-file",
         secret, "--sms-spool-dir", dir_.Sub("spool"), "--metrics-listen", "",
         "--enforcement-service-deadline", "5ms"},
        {});
    ASSERT_TRUE(settings.ok()) << settings.status();
    auto common = sender::ReadCommon("sms", *settings);
    ASSERT_TRUE(common.ok()) << common.status();
    auto config = ReadSmsConfig(*settings);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto runtime = sender::SenderRuntime::Start(*common, clock_);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = *std::move(runtime);
    handler_ = std::make_unique<SmsHandler>(config_, *runtime_, transport_, service_);
  }

  static InboundSms Inbound(const std::string& id, const std::string& body,
                            const std::string& from = kPhone) {
    InboundSms m;
    m.set_message_id(id);
    m.set_tenant("acme");
    m.set_from(from);
    m.set_body(body);
    return m;
  }
  int Replies(const std::string& body) const {
    int n = 0;
    for (const auto& [name, sms] : transport_.files) n += sms.body == body ? 1 : 0;
    return n;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  SmsConfig config_;
  FakeService service_;
  FakeTransport transport_;
  std::unique_ptr<sender::SenderRuntime> runtime_;
  std::unique_ptr<SmsHandler> handler_;
};

TEST_F(SmsHandlerTest, StopRecordsAnSmsOptOutAndConfirms) {
  HandleResult r = handler_->HandleInbound(Inbound("m1", "  stop "));
  ASSERT_EQ(r.kind, HandleResult::kDone);
  ASSERT_EQ(service_.writes.size(), 1u);
  const auto& w = service_.writes[0];
  EXPECT_EQ(w.tenant(), "acme");
  EXPECT_EQ(w.contact_point().type(), v1::CONTACT_PHONE);
  EXPECT_EQ(w.contact_point().value(), kPhone);
  EXPECT_EQ(w.channel(), v1::SMS);
  EXPECT_EQ(w.kind(), v1::Suppression::UNSUBSCRIBED);
  EXPECT_FALSE(w.lift());
  EXPECT_EQ(w.source(), "sms-stop");
  EXPECT_EQ(w.actor(), "sms-sender");
  EXPECT_EQ(w.idempotency_key(), "sms-inbound-m1");
  EXPECT_EQ(Replies(sms::StopConfirmation("Assent")), 1);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].topic, "assent.sms.outcomes.v1");
  EXPECT_EQ(r.records[0].key, "inbound/m1/reply");
  SendOutcome outcome;
  ASSERT_TRUE(outcome.ParseFromString(r.records[0].value));
  EXPECT_EQ(outcome.status(), SendOutcome::SENT);
  EXPECT_EQ(transport_.files.begin()->second.to, kPhone);
  EXPECT_EQ(transport_.files.begin()->first.rfind("reply-", 0), 0u);
}

TEST_F(SmsHandlerTest, EveryOptOutKeywordIsAStop) {
  int n = 0;
  for (const char* body : {"STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "revoke",
                           "opt out", " OPT OUT "}) {
    service_.states.clear();
    HandleResult r = handler_->HandleInbound(Inbound(absl::StrCat("k", n++), body));
    EXPECT_EQ(r.kind, HandleResult::kDone) << body;
    ASSERT_EQ(service_.writes.size(), static_cast<size_t>(n)) << body;
    EXPECT_EQ(service_.writes.back().source(), "sms-stop") << body;
  }
}

TEST_F(SmsHandlerTest, RepeatedStopsConfirmOnce) {
  ASSERT_EQ(handler_->HandleInbound(Inbound("m1", "STOP")).kind, HandleResult::kDone);
  // Redelivery of the same message, then another STOP: recorded, not confirmed again.
  HandleResult again = handler_->HandleInbound(Inbound("m1", "STOP"));
  HandleResult second = handler_->HandleInbound(Inbound("m2", "Stop"));
  EXPECT_EQ(again.kind, HandleResult::kDone);
  EXPECT_TRUE(again.records.empty());
  EXPECT_TRUE(second.records.empty());
  EXPECT_EQ(service_.writes.size(), 3u);
  EXPECT_EQ(transport_.files.size(), 1u);
}

TEST_F(SmsHandlerTest, UnreachableServiceRetriesAndSendsNothing) {
  service_.read_error = absl::UnavailableError("down");
  EXPECT_EQ(handler_->HandleInbound(Inbound("m1", "STOP")).kind, HandleResult::kRetry);
  EXPECT_TRUE(service_.writes.empty());
  service_.read_error = absl::OkStatus();
  service_.write_error = absl::DeadlineExceededError("slow");
  EXPECT_EQ(handler_->HandleInbound(Inbound("m1", "STOP")).kind, HandleResult::kRetry);
  EXPECT_TRUE(transport_.files.empty());
  // Once the service answers, the retried message is recorded and confirmed.
  service_.write_error = absl::OkStatus();
  EXPECT_EQ(handler_->HandleInbound(Inbound("m1", "STOP")).kind, HandleResult::kDone);
  EXPECT_EQ(Replies(sms::StopConfirmation("Assent")), 1);
}

TEST_F(SmsHandlerTest, StartLiftsAnOptOutAndConfirmsOnlyWhenThereWasOne) {
  HandleResult none = handler_->HandleInbound(Inbound("s0", "START"));
  EXPECT_EQ(none.kind, HandleResult::kDone);
  EXPECT_TRUE(service_.writes.empty());
  EXPECT_TRUE(transport_.files.empty());

  ASSERT_EQ(handler_->HandleInbound(Inbound("m1", "STOP")).kind, HandleResult::kDone);
  HandleResult start = handler_->HandleInbound(Inbound("s1", "unstop"));
  ASSERT_EQ(start.kind, HandleResult::kDone);
  ASSERT_EQ(service_.writes.size(), 2u);
  EXPECT_TRUE(service_.writes[1].lift());
  EXPECT_EQ(service_.writes[1].source(), "sms-start");
  EXPECT_EQ(service_.writes[1].channel(), v1::SMS);
  EXPECT_EQ(Replies(sms::StartConfirmation("Assent")), 1);
  EXPECT_EQ(start.records.size(), 1u);
}

TEST_F(SmsHandlerTest, HelpAnswersWithoutTouchingConsent) {
  HandleResult r = handler_->HandleInbound(Inbound("h1", "help"));
  EXPECT_EQ(r.kind, HandleResult::kDone);
  EXPECT_EQ(service_.reads, 0);
  EXPECT_TRUE(service_.writes.empty());
  EXPECT_EQ(Replies(sms::HelpReply("Assent", "support@example.com")), 1);
  EXPECT_EQ(r.records.size(), 1u);
}

TEST_F(SmsHandlerTest, OtherMessagesAndBadNumbersAreLeftAlone) {
  for (const char* body : {"please stop texting me", "stopping", "yes", ""}) {
    HandleResult r = handler_->HandleInbound(Inbound("x", body));
    EXPECT_EQ(r.kind, HandleResult::kDone) << body;
    EXPECT_TRUE(r.records.empty()) << body;
  }
  EXPECT_TRUE(handler_->HandleInbound(Inbound("y", "STOP", "not a number")).records.empty());
  EXPECT_EQ(service_.reads, 0);
  EXPECT_TRUE(transport_.files.empty());
}

TEST_F(SmsHandlerTest, RequestNotDueWaitsAndBadRequestIsRejected) {
  SendRequest request;
  request.set_request_id("r1");
  request.set_tenant("acme");
  request.mutable_contact_point()->set_type(v1::CONTACT_PHONE);
  request.mutable_contact_point()->set_value(kPhone);
  request.set_purpose_id("marketing.sms");
  *request.mutable_not_before() = ToProto(clock_.Now() + absl::Minutes(5));
  HandleResult wait = handler_->HandleRequest(request);
  EXPECT_EQ(wait.kind, HandleResult::kNotYet);
  EXPECT_EQ(wait.not_before, clock_.Now() + absl::Minutes(5));

  request.clear_not_before();
  request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  HandleResult rejected = handler_->HandleRequest(request);
  ASSERT_EQ(rejected.kind, HandleResult::kDone);
  ASSERT_EQ(rejected.records.size(), 1u);
  SendOutcome outcome;
  ASSERT_TRUE(outcome.ParseFromString(rejected.records[0].value));
  EXPECT_EQ(outcome.status(), SendOutcome::REJECTED);
  EXPECT_THAT(outcome.detail(), ::testing::HasSubstr("contact_point.type"));
  EXPECT_EQ(rejected.records[0].key, "r1");
  EXPECT_TRUE(transport_.files.empty());
}

TEST(SmsConfigTest, SpoolDirIsRequiredAndDefaultsApply) {
  auto settings = sender::Settings::Load("sms_sender", kEnvPrefix, SmsSpecs(),
                                         sender::CommonOpenPrefixes(), {}, {});
  ASSERT_TRUE(settings.ok());
  EXPECT_THAT(ReadSmsConfig(*settings).status().message(), ::testing::HasSubstr("sms.spool_dir"));
  settings =
      sender::Settings::Load("sms_sender", kEnvPrefix, SmsSpecs(), sender::CommonOpenPrefixes(), {},
                             {"ASSENT_SMS_SMS_SPOOL_DIR=/tmp/x"});
  ASSERT_TRUE(settings.ok());
  auto config = ReadSmsConfig(*settings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->requests_topic, "assent.sms.requests.v1");
  EXPECT_EQ(config->retry_topic, "assent.sms.retry.v1");
  EXPECT_EQ(config->inbound_topic, "assent.sms.inbound.v1");
  EXPECT_EQ(config->outcomes_topic, "assent.sms.outcomes.v1");
  EXPECT_EQ(config->spool_dir, "/tmp/x");
  EXPECT_EQ(config->brand, "Assent");
  EXPECT_EQ(config->help_contact, "support@example.com");
  EXPECT_EQ(config->actor, "sms-sender");
}

}  // namespace
}  // namespace assent::sms_sender
