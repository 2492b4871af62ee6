// The senders' enforcement library against a real broker and a real consentd: it bootstraps to
// exactly the store's state, follows changes (local verdicts equal the service's), survives a
// restart mid-stream, falls back to the service when Kafka is unreachable, and fails closed when
// it can reach neither.
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "enforce/enforcer.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace assent {
namespace {

using testing::WaitFor;

constexpr char kSecret[] = "integration-test-contact-key-secret-0123456789";
constexpr int kSubjects = 150;

class EnforceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    secret_file_ = dir_.path() + "/secret";
    std::ofstream(secret_file_) << kSecret << "\n";
    chmod(secret_file_.c_str(), 0600);  // consentd refuses a secret others can read
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3",
                    "--contact-key-secret-file", secret_file_});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL, v1::SMS}));
    v1::CreatePurposeRequest receipts;
    receipts.set_parent("tenants/acme");
    receipts.mutable_purpose()->set_purpose_id("receipts");
    receipts.mutable_purpose()->set_display_name("Receipts");
    receipts.mutable_purpose()->set_kind(v1::TRANSACTIONAL);
    receipts.mutable_purpose()->set_legal_basis(v1::CONTRACT);
    receipts.mutable_purpose()->add_channels(v1::EMAIL);
    receipts.mutable_purpose()->set_notice_version(1);
    v1::Purpose out;
    grpc::Status created = server_->catalog().CreatePurpose(Ctx().get(), receipts, &out);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  enforce::EnforcerOptions Options(const std::string& brokers, const std::string& service) {
    enforce::EnforcerOptions o;
    o.follower.brokers = brokers;
    o.service_address = service;
    o.contact_key_secret = kSecret;
    o.catalog_cache_file = dir_.path() + "/catalog.cache";
    o.service_deadline = absl::Seconds(2);
    return o;
  }

  static std::string Subject(int i) { return absl::StrCat("subject-", i); }
  static std::string Email(int i) { return absl::StrCat("user", i, "@example.com"); }

  // One write: alternately a subject decision and a contact-point decision.
  bool Write(int i, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    if (i % 3 == 0) {
      auto* cp = request.mutable_target()->mutable_contact_point();
      cp->set_type(v1::CONTACT_EMAIL);
      cp->set_value(Email(i % kSubjects));
    } else {
      request.mutable_target()->set_subject_id(Subject(i % kSubjects));
    }
    request.set_source("web");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_state(state);
    if (i % 5 == 0) d->set_channel(v1::SMS);
    v1::RecordDecisionsResponse response;
    return server_->consent().RecordDecisions(Ctx().get(), request, &response).ok();
  }

  v1::CheckRequest CheckFor(int i, v1::Channel channel, bool contact) {
    v1::CheckRequest c;
    c.set_tenant("acme");
    if (contact) {
      c.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
      c.mutable_target()->mutable_contact_point()->set_value(Email(i));
    } else {
      c.mutable_target()->set_subject_id(Subject(i));
    }
    c.set_purpose_id("marketing.newsletter");
    c.set_channel(channel);
    return c;
  }

  // Every subject and contact point: the view holds the store's state (trimmed alike), and the
  // local verdict equals the service's.
  void ExpectViewEqualsStore(const enforce::Enforcer& enforcer) {
    for (int i = 0; i < kSubjects; ++i) {
      v1::GetSubjectStateRequest get;
      get.set_tenant("acme");
      get.set_subject_id(Subject(i));
      v1::SubjectState stored;
      const bool exists = server_->consent().GetSubjectState(Ctx().get(), get, &stored).ok();
      enforcer.view().Read(absl::StrCat("acme/", Subject(i)), [&](const enforce::ViewEntry* e) {
        ASSERT_EQ(e != nullptr, exists) << Subject(i);
        if (e == nullptr) return;
        enforce::ConsentView::Trim(stored);
        v1::SubjectState held;
        ASSERT_TRUE(e->ParseSubject(held));
        EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(held, stored))
            << Subject(i) << "\nview:  " << held.ShortDebugString()
            << "\nstore: " << stored.ShortDebugString();
      });
      for (bool contact : {false, true}) {
        for (v1::Channel channel : {v1::EMAIL, v1::SMS}) {
          // Both evaluated at the same instant.
          v1::CheckRequest request = CheckFor(i, channel, contact);
          request.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
          auto local = enforcer.Check(request);
          ASSERT_TRUE(local.ok()) << local.status();
          EXPECT_EQ(local->source, sender::v1::LOCAL_VIEW);
          v1::CheckResponse remote;
          ASSERT_TRUE(server_->consent().Check(Ctx().get(), request, &remote).ok());
          EXPECT_EQ(local->response.verdict(), remote.verdict()) << request.ShortDebugString();
          EXPECT_EQ(local->response.reason(), remote.reason()) << request.ShortDebugString();
          EXPECT_EQ(local->response.record_id(), remote.record_id());
        }
      }
    }
  }

  testing::TempDir dir_;
  std::string secret_file_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(EnforceTest, BootstrapsToTheStoreStateAndFollowsChanges) {
  // Thousands of changes before the library starts.
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(Write(i, i % 4 == 0 ? v1::WITHDRAWN : v1::GRANTED)) << i;
  }
  // Contact points that only link to a subject (no records of their own).
  for (int i = 0; i < 20; ++i) {
    v1::LinkContactPointRequest link;
    link.set_tenant("acme");
    link.set_subject_id(Subject(i));
    link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    link.mutable_contact_point()->set_value(absl::StrCat("linked", i, "@example.com"));
    link.set_actor("test");
    link.set_source("crm");
    v1::LinkContactPointResponse linked;
    ASSERT_TRUE(server_->consent().LinkContactPoint(Ctx().get(), link, &linked).ok()) << i;
  }
  auto enforcer = enforce::Enforcer::Start(Options(broker_->bootstrap(), server_->address()),
                                           SystemClock::Get());
  ASSERT_TRUE(enforcer.ok()) << enforcer.status();
  ASSERT_TRUE((*enforcer)->status().follower.caught_up ||
              WaitFor([&] { return (*enforcer)->Fresh(); }, absl::Seconds(60)));
  ASSERT_TRUE(WaitFor([&] { return (*enforcer)->Fresh(); }, absl::Seconds(30)));
  ExpectViewEqualsStore(**enforcer);
  EXPECT_EQ((*enforcer)->status().follower.bad_records, 0u);
  // The linked-only contact points are judged by their subjects, locally as by the service.
  for (int i = 0; i < 20; ++i) {
    v1::CheckRequest request = CheckFor(i, v1::EMAIL, true);
    request.mutable_target()->mutable_contact_point()->set_value(
        absl::StrCat("linked", i, "@example.com"));
    request.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    auto local = (*enforcer)->Check(request);
    ASSERT_TRUE(local.ok()) << local.status();
    EXPECT_EQ(local->source, sender::v1::LOCAL_VIEW);
    v1::CheckResponse remote;
    ASSERT_TRUE(server_->consent().Check(Ctx().get(), request, &remote).ok());
    EXPECT_EQ(local->response.verdict(), remote.verdict()) << i;
    EXPECT_EQ(local->response.reason(), remote.reason()) << i;
    EXPECT_EQ(local->response.record_id(), remote.record_id()) << i;
  }

  // A batch of every subject and contact point gives the single checks' verdicts.
  std::vector<enforce::Recipient> recipients;
  for (int i = 0; i < kSubjects; ++i) {
    for (bool contact : {false, true}) {
      auto r = (*enforcer)->Resolve("acme", CheckFor(i, v1::EMAIL, contact).target());
      ASSERT_TRUE(r.ok()) << r.status();
      recipients.push_back(*r);
    }
  }
  enforce::CheckParams params;
  params.tenant = "acme";
  params.purpose_id = "marketing.newsletter";
  params.channel = v1::EMAIL;
  params.time = absl::Now();
  auto batch = (*enforcer)->BatchCheck(params, recipients);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), recipients.size());
  for (size_t i = 0; i < recipients.size(); ++i) {
    auto single = (*enforcer)->Check(params, recipients[i]);
    ASSERT_TRUE(single.ok());
    EXPECT_EQ((*batch)[i].source, sender::v1::LOCAL_VIEW);
    EXPECT_EQ((*batch)[i].response.verdict(), single->response.verdict()) << i;
    EXPECT_EQ((*batch)[i].response.reason(), single->response.reason()) << i;
    EXPECT_EQ((*batch)[i].response.record_id(), single->response.record_id()) << i;
  }

  // A withdrawal reaches the local view and the verdict flips.
  ASSERT_TRUE(Write(1, v1::GRANTED));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = (*enforcer)->Check(CheckFor(1, v1::EMAIL, false));
        return v.ok() && v->response.verdict() == v1::ALLOW;
      },
      absl::Seconds(10)));
  ASSERT_TRUE(Write(1, v1::WITHDRAWN));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = (*enforcer)->Check(CheckFor(1, v1::EMAIL, false));
        return v.ok() && v->response.verdict() == v1::DENY &&
               v->response.reason() == v1::EXPLICIT_DENY && v->source == sender::v1::LOCAL_VIEW;
      },
      absl::Seconds(10)));
}

TEST_F(EnforceTest, RestartMidStreamConverges) {
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 4000; ++i) {
      if (Write(i, i % 3 == 0 ? v1::WITHDRAWN : v1::GRANTED)) ++written;
    }
  });
  ASSERT_TRUE(WaitFor([&] { return written > 300; }, absl::Seconds(60)));
  {
    auto first = enforce::Enforcer::Start(Options(broker_->bootstrap(), server_->address()),
                                          SystemClock::Get());
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(WaitFor([&] { return written > 1200; }, absl::Seconds(120)));
    (*first)->Stop();  // mid-stream
  }
  auto second = enforce::Enforcer::Start(Options(broker_->bootstrap(), server_->address()),
                                         SystemClock::Get());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(WaitFor([&] { return written > 2000; }, absl::Seconds(120)));
  stop = true;
  writer.join();
  // After the last write, the view catches up and equals the store, target by target.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = (*second)->status();
        return st.fresh && st.follower.changes_lag.records == 0;
      },
      absl::Seconds(30)));
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetSubjectStateRequest get;
        get.set_tenant("acme");
        get.set_subject_id(Subject(1));
        v1::SubjectState stored;
        return server_->consent().GetSubjectState(Ctx().get(), get, &stored).ok() &&
               (*second)->view().Sequence("acme/" + Subject(1)) == stored.sequence();
      },
      absl::Seconds(30)));
  ExpectViewEqualsStore(**second);
}

TEST_F(EnforceTest, FallsBackToTheServiceThenFailsClosed) {
  ASSERT_TRUE(Write(2, v1::GRANTED));
  // A catalog cache from a run that could reach the service.
  {
    auto warm = enforce::Enforcer::Start(Options(broker_->bootstrap(), server_->address()),
                                         SystemClock::Get());
    ASSERT_TRUE(warm.ok());
  }
  const std::string dead = absl::StrCat("127.0.0.1:", testing::FreePort());
  // Kafka unreachable, service up: verdicts come from the service.
  {
    auto e = enforce::Enforcer::Start(Options(dead, server_->address()), SystemClock::Get());
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_FALSE((*e)->Fresh());
    auto v = (*e)->Check(CheckFor(2, v1::EMAIL, false));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->source, sender::v1::SERVICE);
    EXPECT_EQ(v->response.verdict(), v1::ALLOW);
    // A batch goes to the service's BatchCheck.
    auto r = (*e)->Resolve("acme", CheckFor(2, v1::EMAIL, false).target());
    ASSERT_TRUE(r.ok());
    enforce::CheckParams params;
    params.tenant = "acme";
    params.purpose_id = "marketing.newsletter";
    params.channel = v1::EMAIL;
    auto batch = (*e)->BatchCheck(params, {*r, *r});
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->size(), 2u);
    EXPECT_EQ((*batch)[1].source, sender::v1::SERVICE);
    EXPECT_EQ((*batch)[1].response.verdict(), v1::ALLOW);
    // Bad input is an error, never a verdict.
    v1::CheckRequest bad = CheckFor(2, v1::EMAIL, false);
    bad.set_purpose_id("no-such-purpose");
    auto err = (*e)->Check(bad);
    EXPECT_EQ(err.status().code(), absl::StatusCode::kNotFound) << err.status();
  }
  // Neither reachable: consent-governed purposes are denied, transactional ones allowed (the
  // catalog comes from the cache file).
  {
    auto e = enforce::Enforcer::Start(Options(dead, dead), SystemClock::Get());
    ASSERT_TRUE(e.ok()) << e.status();
    auto v = (*e)->Check(CheckFor(2, v1::EMAIL, false));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->source, sender::v1::FAIL_CLOSED);
    EXPECT_EQ(v->response.verdict(), v1::DENY);
    EXPECT_EQ(v->response.reason(), v1::ENFORCEMENT_UNAVAILABLE);
    v1::CheckRequest receipt = CheckFor(2, v1::EMAIL, false);
    receipt.set_purpose_id("receipts");
    auto t = (*e)->Check(receipt);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->source, sender::v1::FAIL_CLOSED);
    EXPECT_EQ(t->response.verdict(), v1::ALLOW);
    auto r = (*e)->Resolve("acme", CheckFor(2, v1::EMAIL, true).target());
    ASSERT_TRUE(r.ok());
    enforce::CheckParams params;
    params.tenant = "acme";
    params.purpose_id = "marketing.newsletter";
    params.channel = v1::EMAIL;
    auto batch = (*e)->BatchCheck(params, {*r});
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ((*batch)[0].source, sender::v1::FAIL_CLOSED);
    EXPECT_EQ((*batch)[0].response.reason(), v1::ENFORCEMENT_UNAVAILABLE);
  }
  // Neither reachable and no catalog at all: everything is denied.
  {
    enforce::EnforcerOptions o = Options(dead, dead);
    o.catalog_cache_file.clear();
    auto e = enforce::Enforcer::Start(o, SystemClock::Get());
    ASSERT_TRUE(e.ok()) << e.status();
    v1::CheckRequest receipt = CheckFor(2, v1::EMAIL, false);
    receipt.set_purpose_id("receipts");
    auto t = (*e)->Check(receipt);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->response.verdict(), v1::DENY);
    EXPECT_EQ(t->response.reason(), v1::ENFORCEMENT_UNAVAILABLE);
  }
}

}  // namespace
}  // namespace assent
