// Time-driven changes end to end on a real broker and a real consentd: grants expiring in seconds
// get their reminder on the lifecycle topic and their expiry on the changes topic once each (by
// event id) however often consentd is killed with SIGKILL in between; a sender's view applies the
// expiry as a state (denying without reading a clock), and skips records of types it does not
// read while an older-style record with values it does not know still fails closed.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/clock.h"
#include "common/time_util.h"
#include "enforce/enforcer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace assent {
namespace {

using testing::WaitFor;

constexpr char kChanges[] = "assent.consent.changes.v1";
constexpr char kLifecycle[] = "assent.consent.lifecycle.v1";
constexpr char kSecret[] = "integration-test-contact-key-secret-0123456789";

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    secret_file_ = dir_.path() + "/secret";
    std::ofstream(secret_file_) << kSecret << "\n";
    chmod(secret_file_.c_str(), 0600);
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    StartServer();
    ASSERT_FALSE(HasFatalFailure());
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    v1::Tenant created;
    ASSERT_TRUE(server_->catalog().CreateTenant(Ctx().get(), tenant, &created).ok());
    v1::CreatePurposeRequest purpose;
    purpose.set_parent("tenants/acme");
    v1::Purpose* p = purpose.mutable_purpose();
    p->set_purpose_id("news");
    p->set_display_name("News");
    p->set_kind(v1::MARKETING);
    p->set_legal_basis(v1::CONSENT);
    p->add_channels(v1::EMAIL);
    p->set_notice_version(1);
    *p->mutable_remind_before() = ToProtoDuration(absl::Seconds(2));
    v1::Purpose out;
    grpc::Status s = server_->catalog().CreatePurpose(Ctx().get(), purpose, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void StartServer() {
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3",
                    "--contact-key-secret-file", secret_file_, "--sweeper-interval", "50ms"});
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  // A grant of "news" for `subject` expiring `ttl` from now.
  void Grant(const std::string& subject, absl::Duration ttl) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id("news");
    d->set_state(v1::GRANTED);
    *d->mutable_expire_time() = ToProto(absl::Now() + ttl);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  testing::TempDir dir_;
  std::string secret_file_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(LifecycleTest, ReminderAndExpiryArriveOnceEachThroughKillNine) {
  constexpr int kGrants = 12;
  std::set<std::string> expected_reminders;
  for (int i = 0; i < kGrants; ++i) {
    const std::string subject = absl::StrCat("s", i);
    // 3 s to expiry, reminded 2 s before: the reminder is due at 1 s, the expiry at 3 s.
    Grant(subject, absl::Seconds(3) + absl::Milliseconds(100 * i));
    expected_reminders.insert(absl::StrCat("acme/", subject, "/1-0/expiring"));
  }
  // Kill consentd at random points until every grant has expired, restarting it each time.
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(150, 900);
  const absl::Time all_expired = absl::Now() + absl::Seconds(3) + absl::Milliseconds(100 * kGrants);
  int kills = 0;
  while (absl::Now() < all_expired + absl::Milliseconds(500)) {
    absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    server_->Kill();
    ++kills;
    StartServer();
    ASSERT_FALSE(HasFatalFailure());
  }
  EXPECT_GE(kills, 3);

  // Each reminder once by id, none missing (the relay may publish a record twice after a
  // crash; its id is the same).
  std::map<std::string, int> reminders;
  testing::ConsumeAll(broker_->bootstrap(), kLifecycle, absl::Seconds(60),
                      [&](const std::vector<testing::KafkaRecord>& records) {
                        reminders.clear();
                        for (const auto& r : records) {
                          v1::ConsentExpiring notice;
                          EXPECT_TRUE(notice.ParseFromString(r.value));
                          ++reminders[notice.event_id()];
                        }
                        return reminders.size() >= expected_reminders.size();
                      });
  std::set<std::string> reminder_ids;
  for (const auto& [id, n] : reminders) reminder_ids.insert(id);
  EXPECT_EQ(reminder_ids, expected_reminders);

  // Each expiry once: per subject exactly one DECISIONS_EXPIRED event id, lapsing record 1-0.
  std::map<std::string, std::set<std::string>> expiry_ids;
  testing::ConsumeAll(broker_->bootstrap(), kChanges, absl::Seconds(60),
                      [&](const std::vector<testing::KafkaRecord>& records) {
                        expiry_ids.clear();
                        for (const auto& r : records) {
                          v1::ConsentChanged change;
                          EXPECT_TRUE(change.ParseFromString(r.value));
                          if (change.kind() != v1::DECISIONS_EXPIRED) continue;
                          EXPECT_EQ(change.decisions(0).before().record_id(), "1-0");
                          expiry_ids[change.target().subject_id()].insert(change.event_id());
                        }
                        return static_cast<int>(expiry_ids.size()) >= kGrants;
                      });
  ASSERT_EQ(static_cast<int>(expiry_ids.size()), kGrants);
  for (const auto& [subject, ids] : expiry_ids) {
    EXPECT_THAT(ids, ::testing::ElementsAre(absl::StrCat("acme/", subject, "/2"))) << subject;
  }
}

TEST_F(LifecycleTest, ASendersViewAppliesTheExpiryAndSkipsTypesItDoesNotRead) {
  enforce::EnforcerOptions options;
  options.follower.brokers = broker_->bootstrap();
  options.service_address = server_->address();
  options.contact_key_secret = kSecret;
  options.catalog_cache_file = dir_.path() + "/catalog.cache";
  auto enforcer = enforce::Enforcer::Start(options, SystemClock::Get());
  ASSERT_TRUE(enforcer.ok()) << enforcer.status();
  ASSERT_TRUE(WaitFor([&] { return (*enforcer)->Fresh(); }, absl::Seconds(60)));

  const absl::Time before_expiry = absl::Now() + absl::Seconds(1);
  Grant("s1", absl::Seconds(2));
  v1::CheckRequest check;
  check.set_tenant("acme");
  check.mutable_target()->set_subject_id("s1");
  check.set_purpose_id("news");
  check.set_channel(v1::EMAIL);
  // Asked about a moment before the expiry, the view says ALLOW until the expiry arrives as a
  // LAPSED state; after it, DENY EXPIRED for that same moment: the view changed, not a clock.
  *check.mutable_time() = ToProto(before_expiry);
  auto local = (*enforcer)->Check(check);
  ASSERT_TRUE(WaitFor(
      [&] {
        local = (*enforcer)->Check(check);
        return local.ok() && local->response.verdict() == v1::ALLOW;
      },
      absl::Seconds(10)));
  ASSERT_TRUE(WaitFor(
      [&] {
        local = (*enforcer)->Check(check);
        return local.ok() && local->response.verdict() == v1::DENY &&
               local->response.reason() == v1::EXPIRED && local->source == sender::v1::LOCAL_VIEW;
      },
      absl::Seconds(15)));

  // A record of a type this build does not read, on the changes topic, is skipped and counted.
  std::string error;
  ASSERT_TRUE(testing::Produce(broker_->bootstrap(), kChanges, {{"acme/s1", "\x01garbage"}},
                               absl::Seconds(10), &error, "assent.v1.SomethingNewer"))
      << error;
  ASSERT_TRUE(WaitFor([&] { return (*enforcer)->status().follower.unknown_types >= 1; },
                      absl::Seconds(10)));
  EXPECT_EQ((*enforcer)->status().follower.bad_records, 0u);

  // A ConsentChanged from a newer Assent, with a change kind and a state this build does not
  // know: applied, and the unknown state denies (fails closed).
  v1::ConsentChanged newer;
  newer.set_event_id("acme/s2/1");
  newer.set_tenant("acme");
  newer.mutable_target()->set_subject_id("s2");
  newer.set_sequence(1);
  newer.set_kind(static_cast<v1::ChangeKind>(99));
  v1::SubjectState* state = newer.mutable_state()->mutable_subject();
  state->set_tenant("acme");
  state->set_subject_id("s2");
  state->set_sequence(1);
  v1::ConsentRecord* record = state->add_decisions();
  record->set_record_id("1-0");
  record->set_purpose_id("news");
  record->set_state(static_cast<v1::ConsentState>(42));
  *record->mutable_effective_time() = ToProto(absl::Now());
  record->set_sequence(1);
  ASSERT_TRUE(testing::Produce(broker_->bootstrap(), kChanges,
                               {{"acme/s2", newer.SerializeAsString()}}, absl::Seconds(10), &error,
                               "assent.v1.ConsentChanged"))
      << error;
  check.mutable_target()->set_subject_id("s2");
  check.clear_time();
  ASSERT_TRUE(WaitFor(
      [&] {
        local = (*enforcer)->Check(check);
        return local.ok() && local->source == sender::v1::LOCAL_VIEW &&
               local->response.record_id() == "1-0";
      },
      absl::Seconds(10)));
  EXPECT_EQ(local->response.verdict(), v1::DENY);
}

TEST_F(LifecycleTest, RaisingTheMinimumNoticeVersionPublishesAndListsTheGrantsBelowIt) {
  Grant("old1", absl::Hours(1));
  Grant("old2", absl::Hours(1));
  v1::GetPurposeRequest get;
  get.set_name("tenants/acme/purposes/news");
  v1::Purpose purpose;
  ASSERT_TRUE(server_->catalog().GetPurpose(Ctx().get(), get, &purpose).ok());
  purpose.set_notice_version(2);
  v1::UpdatePurposeRequest update;
  *update.mutable_purpose() = purpose;
  ASSERT_TRUE(server_->catalog().UpdatePurpose(Ctx().get(), update, &purpose).ok());
  Grant("new1", absl::Hours(1));
  purpose.set_min_notice_version(2);
  *update.mutable_purpose() = purpose;
  grpc::Status s = server_->catalog().UpdatePurpose(Ctx().get(), update, &purpose);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::ListRepermissionRequiredRequest list;
  list.set_tenant("acme");
  list.set_purpose_id("news");
  v1::ListRepermissionRequiredResponse listed;
  ASSERT_TRUE(WaitFor(
      [&] {
        listed.Clear();
        return server_->consent().ListRepermissionRequired(Ctx().get(), list, &listed).ok() &&
               listed.complete();
      },
      absl::Seconds(30)));
  std::set<std::string> subjects;
  for (const auto& e : listed.entries()) subjects.insert(e.target().subject_id());
  EXPECT_EQ(subjects, (std::set<std::string>{"old1", "old2"}));

  std::set<std::string> ids;
  testing::ConsumeAll(broker_->bootstrap(), kLifecycle, absl::Seconds(60),
                      [&](const std::vector<testing::KafkaRecord>& records) {
                        ids.clear();
                        for (const auto& r : records) {
                          v1::RepermissionRequired notice;
                          if (notice.ParseFromString(r.value) && !notice.event_id().empty() &&
                              absl::StrContains(notice.event_id(), "/repermission/")) {
                            ids.insert(notice.event_id());
                          }
                        }
                        return ids.size() >= 2;
                      });
  EXPECT_EQ(
      ids, (std::set<std::string>{"acme/old1/1-0/repermission/2", "acme/old2/1-0/repermission/2"}));
}

}  // namespace
}  // namespace assent
