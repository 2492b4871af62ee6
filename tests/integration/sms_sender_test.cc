// The SMS sender end to end, with a real Kafka broker, a real consentd and the real sms_sender
// binary: an allowed request is spooled and reported SENT; an inbound STOP records an SMS opt-out
// through the service, suppresses the next request and is confirmed exactly once however often it
// (or another STOP) arrives; START re-subscribes; HELP answers; quiet hours defer a request to the
// retry topic.
#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "assent/sender/v1/sender.pb.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sms/keywords.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/sender_process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using sender::v1::InboundSms;
using sender::v1::SendOutcome;
using sender::v1::SendRequest;

constexpr char kRequests[] = "assent.sms.requests.v1";
constexpr char kRetry[] = "assent.sms.retry.v1";
constexpr char kInbound[] = "assent.sms.inbound.v1";
constexpr char kOutcomes[] = "assent.sms.outcomes.v1";
constexpr char kPurpose[] = "marketing.sms";

v1::ContactPoint Phone(const std::string& number) {
  v1::ContactPoint p;
  p.set_type(v1::CONTACT_PHONE);
  p.set_value(number);
  return p;
}

class SmsSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    secret_file_ = dir_.Sub("contact-key");
    std::ofstream(secret_file_) << "integration-test-contact-key-secret-0123456789\n";
    chmod(secret_file_.c_str(), 0600);  // consentd refuses a secret others can read
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3",
                    "--contact-key-secret-file", secret_file_});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog(kPurpose, {v1::SMS}));
    spool_ = dir_.Sub("spool");
    sender_ = std::make_unique<testing::SenderProcess>(SMS_SENDER_PATH, dir_.path(), "sms_sender");
    sender_->Start({"--kafka-brokers", broker_->bootstrap(), "--service", server_->address(),
                    "--contact-key-secret-file", secret_file_, "--sms-spool-dir", spool_,
                    "--log-level", "debug"});
    ASSERT_FALSE(HasFatalFailure());
  }

  void TearDown() override {
    if (sender_ != nullptr && sender_->running()) {
      EXPECT_EQ(sender_->Stop(), 0) << sender_->log();
    }
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  // Kafka records the sender's view has consumed (every result), from its /metrics.
  int64_t ViewRecords() const {
    int64_t total = 0;
    for (absl::string_view line : absl::StrSplit(sender_->Metrics(), '\n')) {
      if (!absl::StartsWith(line, "assent_sender_view_records_total{")) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += int64_t(v);
    }
    return total;
  }
  // Waits until the view consumed `count` more records than `before` (each write publishes a
  // changes record and a state record per target it touches), so the next check sees them.
  ::testing::AssertionResult WaitView(int64_t before, int64_t count) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int64_t now = 0;
    while (absl::Now() < deadline) {
      now = ViewRecords();
      if (now >= before + count) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure()
           << "view consumed " << now - before << " of " << count << " records";
  }

  void Grant(const v1::Target& target) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    *request.mutable_target() = target;
    request.set_source("test");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_state(v1::GRANTED);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void GrantPhone(const std::string& number) {
    v1::Target target;
    *target.mutable_contact_point() = Phone(number);
    Grant(target);
  }

  void ProduceRequest(const std::string& id, const std::string& number, const std::string& body,
                      const std::string& subject = "") {
    SendRequest r;
    r.set_request_id(id);
    r.set_tenant("acme");
    *r.mutable_contact_point() = Phone(number);
    r.set_subject_id(subject);
    r.set_purpose_id(kPurpose);
    r.set_template_id("promo");
    (*r.mutable_payload())["body"] = body;
    std::string error;
    ASSERT_TRUE(testing::Produce(broker_->bootstrap(), kRequests, {{id, r.SerializeAsString()}},
                                 absl::Seconds(30), &error))
        << error;
  }
  void ProduceInbound(const std::string& message_id, const std::string& from,
                      const std::string& body) {
    InboundSms m;
    m.set_message_id(message_id);
    m.set_tenant("acme");
    m.set_from(from);
    m.set_to("+14155550100");
    m.set_body(body);
    *m.mutable_receive_time() = ToProto(absl::Now());
    std::string error;
    ASSERT_TRUE(testing::Produce(broker_->bootstrap(), kInbound, {{from, m.SerializeAsString()}},
                                 absl::Seconds(30), &error))
        << error;
  }

  // Every outcome on the outcomes topic by request id, read until `request_id` is there.
  std::map<std::string, SendOutcome> OutcomesUntil(const std::string& request_id) {
    std::map<std::string, SendOutcome> by_id;
    testing::ConsumeAll(broker_->bootstrap(), kOutcomes, absl::Seconds(60),
                        [&](const std::vector<testing::KafkaRecord>& records) {
                          by_id.clear();
                          for (const auto& r : records) {
                            SendOutcome o;
                            EXPECT_TRUE(o.ParseFromString(r.value));
                            EXPECT_EQ(r.key, o.request_id());
                            by_id[o.request_id()] = o;
                          }
                          return by_id.count(request_id) != 0;
                        });
    return by_id;
  }
  std::optional<SendOutcome> WaitOutcome(const std::string& request_id) {
    auto all = OutcomesUntil(request_id);
    auto it = all.find(request_id);
    if (it == all.end()) return std::nullopt;
    return it->second;
  }

  // The spooled messages (parsed JSON files).
  std::vector<nlohmann::json> Spooled() const {
    std::vector<nlohmann::json> out;
    DIR* dir = opendir(spool_.c_str());
    if (dir == nullptr) return out;
    while (dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      out.push_back(nlohmann::json::parse(testing::ReadFile(spool_ + "/" + name)));
    }
    closedir(dir);
    return out;
  }
  int CountBodies(const std::string& body) const {
    int n = 0;
    for (const auto& j : Spooled()) n += j.value("body", "") == body ? 1 : 0;
    return n;
  }

  absl::StatusOr<v1::ContactPointState> State(const std::string& number) {
    v1::GetContactPointStateRequest request;
    request.set_tenant("acme");
    *request.mutable_contact_point() = Phone(number);
    v1::ContactPointState state;
    grpc::Status s = server_->consent().GetContactPointState(Ctx().get(), request, &state);
    if (!s.ok()) return absl::UnknownError(s.error_message());
    return state;
  }
  // The SMS UNSUBSCRIBED suppression of `number`, once the service has it (or nullopt after 60 s).
  std::optional<v1::Suppression> WaitSmsSuppression(const std::string& number, bool present) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      auto state = State(number);
      std::optional<v1::Suppression> found;
      if (state.ok()) {
        for (const auto& s : state->suppressions()) {
          if (s.channel() == v1::SMS && s.kind() == v1::Suppression::UNSUBSCRIBED) found = s;
        }
      }
      if (found.has_value() == present) return found.has_value() ? found : v1::Suppression();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return std::nullopt;
  }

  testing::TempDir dir_;
  std::string secret_file_;
  std::string spool_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::unique_ptr<testing::ConsentdProcess> server_;
  std::unique_ptr<testing::SenderProcess> sender_;
};

constexpr char kPhone[] = "+14155550123";

TEST_F(SmsSenderTest, StopEndToEndSuppressesAndConfirmsOnceThenStartResubscribes) {
  int64_t before = ViewRecords();
  GrantPhone(kPhone);
  ASSERT_TRUE(WaitView(before, 2));

  // (a) Allowed by consent: spooled and SENT.
  ProduceRequest("req-a", kPhone, "Hello from Acme");
  auto sent = WaitOutcome("req-a");
  ASSERT_TRUE(sent.has_value()) << sender_->log();
  EXPECT_EQ(sent->status(), SendOutcome::SENT) << sent->detail();
  EXPECT_EQ(sent->reason(), v1::EXPLICIT_GRANT);
  EXPECT_FALSE(sent->message_id().empty());
  bool spooled = false;
  for (const auto& j : Spooled()) {
    if (j.value("request_id", "") != "req-a") continue;
    spooled = true;
    EXPECT_EQ(j.value("body", ""), "Hello from Acme");
    EXPECT_EQ(j.value("to", ""), kPhone);
    EXPECT_EQ(j.value("message_id", ""), sent->message_id());
  }
  EXPECT_TRUE(spooled);

  // (b) An inbound STOP, written loosely, records the opt-out through the service.
  before = ViewRecords();
  ProduceInbound("in-stop-1", kPhone, "  stop ");
  auto suppression = WaitSmsSuppression(kPhone, true);
  ASSERT_TRUE(suppression.has_value()) << sender_->log();
  EXPECT_EQ(suppression->source(), "sms-stop");
  ASSERT_TRUE(WaitView(before, 2));

  ProduceRequest("req-b", kPhone, "Another offer");
  auto suppressed = WaitOutcome("req-b");
  ASSERT_TRUE(suppressed.has_value());
  EXPECT_EQ(suppressed->status(), SendOutcome::SUPPRESSED);
  EXPECT_EQ(suppressed->reason(), v1::ADDRESS_SUPPRESSED);
  EXPECT_EQ(suppressed->record_id(), suppression->record_id());
  EXPECT_TRUE(suppressed->decided_by().has_contact());

  // The same inbound message again, then a second STOP: still one confirmation in total.
  ProduceInbound("in-stop-1", kPhone, "  stop ");
  ProduceInbound("in-stop-2", kPhone, "STOP");
  // The inbound topic is keyed by the number, so a HELP from it is handled after the STOPs: its
  // reply marks that they were processed. A request after them marks the request side.
  ProduceInbound("in-marker-1", kPhone, "HELP");
  ProduceRequest("req-marker-1", kPhone, "marker");
  ASSERT_TRUE(WaitOutcome("inbound/in-marker-1/reply").has_value()) << sender_->log();
  auto marker = WaitOutcome("req-marker-1");
  ASSERT_TRUE(marker.has_value());
  EXPECT_EQ(marker->status(), SendOutcome::SUPPRESSED);
  auto later = WaitSmsSuppression(kPhone, true);
  ASSERT_TRUE(later.has_value());
  EXPECT_NE(later->record_id(), suppression->record_id()) << "second STOP not recorded";
  EXPECT_EQ(CountBodies(sms::StopConfirmation("Assent")), 1);
  auto outcomes = OutcomesUntil("inbound/in-stop-1/reply");
  EXPECT_EQ(outcomes.count("inbound/in-stop-1/reply"), 1u);
  EXPECT_EQ(outcomes.count("inbound/in-stop-2/reply"), 0u);

  // (c) START lifts the opt-out, is confirmed, and messages flow again.
  before = ViewRecords();
  ProduceInbound("in-start-1", kPhone, "Start");
  ASSERT_TRUE(WaitSmsSuppression(kPhone, false).has_value());
  ASSERT_TRUE(WaitView(before, 2));
  ProduceRequest("req-c", kPhone, "Welcome back");
  auto again = WaitOutcome("req-c");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status(), SendOutcome::SENT);
  EXPECT_EQ(CountBodies(sms::StartConfirmation("Assent")), 1);
  EXPECT_EQ(CountBodies("Welcome back"), 1);
}

TEST_F(SmsSenderTest, HelpIsAnsweredOnce) {
  ProduceInbound("in-help-1", "+14155550199", " help ");
  auto reply = WaitOutcome("inbound/in-help-1/reply");
  ASSERT_TRUE(reply.has_value()) << sender_->log();
  EXPECT_EQ(reply->status(), SendOutcome::SENT);
  EXPECT_EQ(CountBodies(sms::HelpReply("Assent", "support@example.com")), 1);
  // HELP changes no consent state.
  auto state = State("+14155550199");
  EXPECT_FALSE(state.ok() && state->suppressions_size() > 0);
}

TEST_F(SmsSenderTest, QuietHoursDeferToTheRetryTopic) {
  constexpr char kQuietPhone[] = "+14155550124";
  const std::string subject = "customer-42";
  const absl::Time now = absl::Now();
  const int minute = static_cast<int>(absl::ToInt64Minutes(now - absl::UnixEpoch()) % 1440);

  const int64_t before = ViewRecords();
  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id(subject);
  *link.mutable_contact_point() = Phone(kQuietPhone);
  link.set_actor("test");
  link.set_source("test");
  v1::LinkContactPointResponse linked;
  grpc::Status s = server_->consent().LinkContactPoint(Ctx().get(), link, &linked);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::SetPreferencesRequest prefs;
  prefs.set_tenant("acme");
  prefs.set_subject_id(subject);
  prefs.set_actor("test");
  prefs.set_source("test");
  v1::QuietHours* quiet = prefs.mutable_preferences()->mutable_quiet_hours();
  quiet->set_start_minute((minute + 1440 - 60) % 1440);  // wraps past midnight when needed
  quiet->set_end_minute((minute + 60) % 1440);
  quiet->set_time_zone("UTC");
  quiet->add_channels(v1::SMS);
  v1::SetPreferencesResponse set;
  s = server_->consent().SetPreferences(Ctx().get(), prefs, &set);
  ASSERT_TRUE(s.ok()) << s.error_message();

  GrantPhone(kQuietPhone);
  v1::Target subject_target;
  subject_target.set_subject_id(subject);
  Grant(subject_target);
  // Link: subject and contact point; preferences and grants: one target each.
  ASSERT_TRUE(WaitView(before, 2 * 5));

  ProduceRequest("req-quiet", kQuietPhone, "Late offer");
  auto deferred = WaitOutcome("req-quiet");
  ASSERT_TRUE(deferred.has_value()) << sender_->log();
  ASSERT_EQ(deferred->status(), SendOutcome::DEFERRED) << deferred->ShortDebugString();
  EXPECT_EQ(deferred->reason(), v1::QUIET_HOURS);
  const absl::Time retry_after = FromProto(deferred->retry_after());
  const absl::Time window_end = absl::FromUnixSeconds((absl::ToUnixSeconds(now) / 60 + 60) *
                                                      60);  // the end minute, today or tomorrow
  EXPECT_LE(absl::AbsDuration(retry_after - window_end), absl::Minutes(2))
      << absl::FormatTime(retry_after) << " vs " << absl::FormatTime(window_end);
  EXPECT_EQ(CountBodies("Late offer"), 0);

  std::optional<SendRequest> requeued;
  testing::ConsumeAll(broker_->bootstrap(), kRetry, absl::Seconds(60),
                      [&](const std::vector<testing::KafkaRecord>& records) {
                        for (const auto& r : records) {
                          SendRequest req;
                          if (req.ParseFromString(r.value) && req.request_id() == "req-quiet") {
                            requeued = req;
                          }
                        }
                        return requeued.has_value();
                      });
  ASSERT_TRUE(requeued.has_value());
  EXPECT_EQ(FromProto(requeued->not_before()), retry_after);
  EXPECT_EQ(requeued->attempts(), 1u);
  EXPECT_EQ(requeued->payload().at("body"), "Late offer");
}

}  // namespace
}  // namespace assent
