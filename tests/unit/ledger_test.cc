// The ledger over real RocksDB: catalog, recording and checking, history chain, idempotency,
// atomicity of bad input, contact points, outbox, reopen, concurrent writers.
#include <set>
#include <thread>

#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/events.pb.h"
#include "common/digest.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ledger/history.h"
#include "links/token.h"
#include "store/keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class LedgerTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_TRUE((Sync<v1::Tenant>(&Ledger::CreateTenant, tenant)).ok());
    ASSERT_TRUE(CreatePurpose("marketing.newsletter", v1::MARKETING, {v1::EMAIL, v1::SMS}).ok());
    ASSERT_TRUE(CreatePurpose("orders", v1::TRANSACTIONAL, {v1::EMAIL}).ok());
  }

  absl::StatusOr<v1::Purpose> CreatePurpose(const std::string& id, v1::PurposeKind kind,
                                            std::vector<v1::Channel> channels,
                                            absl::Duration lifespan = absl::ZeroDuration()) {
    v1::CreatePurposeRequest request;
    request.set_parent("tenants/acme");
    v1::Purpose* p = request.mutable_purpose();
    p->set_purpose_id(id);
    p->set_display_name(id);
    p->set_kind(kind);
    p->set_legal_basis(kind == v1::TRANSACTIONAL ? v1::CONTRACT : v1::CONSENT);
    for (auto c : channels) p->add_channels(c);
    p->set_notice_version(1);
    if (lifespan > absl::ZeroDuration()) *p->mutable_lifespan() = ToProtoDuration(lifespan);
    return Sync<v1::Purpose>(&Ledger::CreatePurpose, request);
  }

  v1::RecordDecisionsRequest Decision(const std::string& subject, v1::ConsentState state,
                                      const std::string& purpose = "marketing.newsletter") {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    auto* d = request.add_decisions();
    d->set_purpose_id(purpose);
    d->set_state(state);
    return request;
  }

  // An email unsubscribe recorded on the address itself, as an ESP's one-click webhook sends it.
  absl::StatusOr<v1::SuppressContactPointResponse> Unsubscribe(const v1::ContactPoint& address) {
    v1::SuppressContactPointRequest suppress;
    suppress.set_tenant("acme");
    *suppress.mutable_contact_point() = address;
    suppress.set_channel(v1::EMAIL);
    suppress.set_kind(v1::Suppression::UNSUBSCRIBED);
    suppress.set_actor("esp-webhook");
    suppress.set_source("email-one-click");
    return Sync<v1::SuppressContactPointResponse>(&Ledger::SuppressContactPoint, suppress);
  }
  absl::StatusOr<v1::RecordDecisionsResponse> Record(const v1::RecordDecisionsRequest& request) {
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request);
  }

  v1::CheckResponse CheckSubject(const std::string& subject, v1::Channel channel = v1::EMAIL,
                                 const std::string& purpose = "marketing.newsletter") {
    v1::CheckRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_purpose_id(purpose);
    request.set_channel(channel);
    auto response = ledger_->Check(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::CheckResponse();
  }

  std::vector<v1::HistoryRecord> History(const std::string& subject, bool newest_first = false) {
    v1::ListHistoryRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_newest_first(newest_first);
    std::vector<v1::HistoryRecord> out;
    while (true) {
      auto page = ledger_->ListHistory(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& r : page->records()) out.push_back(r);
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return out;
  }
};

TEST_F(LedgerTest, CatalogCreateDuplicateUpdateAndList) {
  v1::CreateTenantRequest again;
  again.mutable_tenant()->set_tenant_id("acme");
  again.mutable_tenant()->set_display_name("Acme again");
  EXPECT_EQ((Sync<v1::Tenant>(&Ledger::CreateTenant, again)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CreatePurpose("orders", v1::TRANSACTIONAL, {v1::EMAIL}).status().code(),
            absl::StatusCode::kAlreadyExists);

  v1::UpdatePurposeRequest update;
  auto current = ledger_->GetPurpose([] {
    v1::GetPurposeRequest r;
    r.set_name("tenants/acme/purposes/marketing.newsletter");
    return r;
  }());
  ASSERT_TRUE(current.ok());
  *update.mutable_purpose() = *current;
  update.mutable_purpose()->set_notice_version(2);
  update.mutable_purpose()->set_min_notice_version(2);
  auto updated = Sync<v1::Purpose>(&Ledger::UpdatePurpose, update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2u);

  v1::GetPurposeRequest get_v1;
  get_v1.set_name("tenants/acme/purposes/marketing.newsletter");
  get_v1.set_version(1);
  EXPECT_EQ(ledger_->GetPurpose(get_v1)->notice_version(), 1u);

  // Kind is immutable.
  update.mutable_purpose()->set_kind(v1::ANALYTICS);
  auto refused = Sync<v1::Purpose>(&Ledger::UpdatePurpose, update);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("purpose.kind"));

  v1::ListPurposesRequest list;
  list.set_parent("tenants/acme");
  list.set_page_size(1);
  auto page1 = ledger_->ListPurposes(list);
  ASSERT_TRUE(page1.ok());
  ASSERT_THAT(page1->purposes(), SizeIs(1));
  EXPECT_EQ(page1->purposes(0).purpose_id(), "marketing.newsletter");
  list.set_page_token(page1->next_page_token());
  auto page2 = ledger_->ListPurposes(list);
  ASSERT_THAT(page2->purposes(), SizeIs(1));
  EXPECT_EQ(page2->purposes(0).purpose_id(), "orders");
  EXPECT_TRUE(page2->next_page_token().empty());
}

TEST_F(LedgerTest, RecordCheckWithdrawCheck) {
  EXPECT_EQ(CheckSubject("u1").reason(), v1::NO_CONSENT);  // no policy: OPT_IN
  auto granted = Record(Decision("u1", v1::GRANTED));
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_EQ(granted->sequence(), 1u);
  EXPECT_EQ(granted->records(0).record_id(), "1-0");
  auto allow = CheckSubject("u1");
  EXPECT_EQ(allow.verdict(), v1::ALLOW);
  EXPECT_EQ(allow.reason(), v1::EXPLICIT_GRANT);
  EXPECT_EQ(allow.record_id(), "1-0");

  clock_.Advance(absl::Minutes(1));
  auto withdrawn = Record(Decision("u1", v1::WITHDRAWN));
  ASSERT_TRUE(withdrawn.ok());
  EXPECT_EQ(withdrawn->sequence(), 2u);
  auto deny = CheckSubject("u1");
  EXPECT_EQ(deny.verdict(), v1::DENY);
  EXPECT_EQ(deny.reason(), v1::EXPLICIT_DENY);
  EXPECT_EQ(deny.record_id(), "2-0");

  auto history = History("u1");
  ASSERT_THAT(history, SizeIs(2));
  EXPECT_EQ(history[0].sequence(), 1u);
  EXPECT_EQ(history[1].decisions(0).before().state(), v1::GRANTED);
  EXPECT_EQ(history[1].decisions(0).after().state(), v1::WITHDRAWN);
  EXPECT_EQ(History("u1", /*newest_first=*/true)[0].sequence(), 2u);
}

TEST_F(LedgerTest, HistoryPagesAndChainVerifies) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(Record(Decision("u2", i % 2 ? v1::WITHDRAWN : v1::GRANTED)).ok());
  }
  v1::ListHistoryRequest request;
  request.set_tenant("acme");
  request.mutable_target()->set_subject_id("u2");
  request.set_page_size(3);
  auto page = ledger_->ListHistory(request);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->records(), SizeIs(3));
  EXPECT_FALSE(page->next_page_token().empty());
  EXPECT_THAT(History("u2"), SizeIs(7));
  request.set_page_token("garbage");
  EXPECT_EQ(ledger_->ListHistory(request).status().code(), absl::StatusCode::kInvalidArgument);

  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("u2");
  auto result = ledger_->VerifyHistory(verify);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->valid()) << result->problem();
  EXPECT_EQ(result->records_checked(), 7u);
}

TEST_F(LedgerTest, TamperedHistoryIsReportedAtTheFirstBrokenLink) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Record(Decision("u3", v1::GRANTED)).ok());
  // Rewrite record 3's actor directly in RocksDB, as someone with access to the files could.
  const std::string key = store::HistoryKey("acme", store::SubjectEntity("u3"), 3);
  auto raw = store_->Get(store::Cf::kHistory, key);
  ASSERT_TRUE(raw.ok() && raw->has_value());
  v1::HistoryRecord record;
  ASSERT_TRUE(record.ParseFromString(**raw));
  record.set_actor("someone-else");
  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(store::Cf::kHistory), key, record.SerializeAsString());
  ASSERT_TRUE(store_->Write(&batch).ok());

  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("u3");
  auto result = ledger_->VerifyHistory(verify);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->valid());
  EXPECT_EQ(result->first_broken_sequence(), 3u);
  EXPECT_THAT(result->problem(), HasSubstr("hash does not match"));

  // Re-hashing the altered record does not help: the next record's link breaks instead.
  record.set_hash(HistoryHash(record));
  batch.Clear();
  batch.Put(store_->Handle(store::Cf::kHistory), key, record.SerializeAsString());
  ASSERT_TRUE(store_->Write(&batch).ok());
  result = ledger_->VerifyHistory(verify);
  EXPECT_FALSE(result->valid());
  EXPECT_EQ(result->first_broken_sequence(), 4u);

  // A deleted record is a gap.
  batch.Clear();
  batch.Delete(store_->Handle(store::Cf::kHistory), key);
  ASSERT_TRUE(store_->Write(&batch).ok());
  result = ledger_->VerifyHistory(verify);
  EXPECT_FALSE(result->valid());
  EXPECT_EQ(result->first_broken_sequence(), 3u);
  EXPECT_THAT(result->problem(), HasSubstr("missing"));
}

TEST_F(LedgerTest, IdempotentRetryReturnsFirstResponseAndWritesNothing) {
  auto request = Decision("u4", v1::GRANTED);
  request.set_idempotency_key("req-1");
  auto first = Record(request);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed());
  const std::string before = DumpStore();
  clock_.Advance(absl::Minutes(5));
  auto retry = Record(request);
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->replayed());
  EXPECT_EQ(retry->sequence(), first->sequence());
  EXPECT_EQ(retry->records(0).record_id(), first->records(0).record_id());
  EXPECT_EQ(DumpStore(), before);

  auto different = Decision("u4", v1::WITHDRAWN);
  different.set_idempotency_key("req-1");
  auto refused = Record(different);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("idempotency_key"));
  EXPECT_EQ(DumpStore(), before);

  // After the TTL the key is forgotten and the request is applied anew.
  clock_.Advance(absl::Hours(25));
  auto later = Record(different);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->sequence(), 2u);
}

TEST_F(LedgerTest, BadInputIsRefusedNamingTheFieldAndChangesNothing) {
  ASSERT_TRUE(Record(Decision("u5", v1::GRANTED)).ok());
  struct Case {
    std::string name;
    std::function<void(v1::RecordDecisionsRequest&)> mutate;
    absl::StatusCode code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"empty tenant", [](auto& r) { r.set_tenant(""); }, absl::StatusCode::kInvalidArgument,
       "tenant"},
      {"bad tenant chars", [](auto& r) { r.set_tenant("Acme!"); },
       absl::StatusCode::kInvalidArgument, "tenant"},
      {"unknown tenant", [](auto& r) { r.set_tenant("other"); }, absl::StatusCode::kNotFound,
       "tenant"},
      {"no target", [](auto& r) { r.clear_target(); }, absl::StatusCode::kInvalidArgument,
       "target"},
      {"empty subject", [](auto& r) { r.mutable_target()->set_subject_id(""); },
       absl::StatusCode::kInvalidArgument, "target.subject_id"},
      {"long subject", [](auto& r) { r.mutable_target()->set_subject_id(std::string(129, 'x')); },
       absl::StatusCode::kInvalidArgument, "target.subject_id"},
      {"bad email",
       [](auto& r) {
         auto* cp = r.mutable_target()->mutable_contact_point();
         cp->set_type(v1::CONTACT_EMAIL);
         cp->set_value("not-an-email");
       },
       absl::StatusCode::kInvalidArgument, "target.contact_point.value"},
      {"bad phone",
       [](auto& r) {
         auto* cp = r.mutable_target()->mutable_contact_point();
         cp->set_type(v1::CONTACT_PHONE);
         cp->set_value("12");
       },
       absl::StatusCode::kInvalidArgument, "target.contact_point"},
      {"no decisions", [](auto& r) { r.clear_decisions(); }, absl::StatusCode::kInvalidArgument,
       "decisions"},
      {"too many decisions",
       [](auto& r) {
         for (int i = 0; i < 100; ++i) *r.add_decisions() = r.decisions(0);
       },
       absl::StatusCode::kInvalidArgument, "decisions"},
      {"unknown purpose", [](auto& r) { r.mutable_decisions(0)->set_purpose_id("nope"); },
       absl::StatusCode::kNotFound, "decisions[0].purpose_id"},
      {"channel not covered", [](auto& r) { r.mutable_decisions(0)->set_channel(v1::VOICE); },
       absl::StatusCode::kInvalidArgument, "decisions[0].channel"},
      {"unknown channel value",
       [](auto& r) { r.mutable_decisions(0)->set_channel(static_cast<v1::Channel>(42)); },
       absl::StatusCode::kInvalidArgument, "decisions[0].channel"},
      {"unknown state",
       [](auto& r) { r.mutable_decisions(0)->set_state(static_cast<v1::ConsentState>(9)); },
       absl::StatusCode::kInvalidArgument, "decisions[0].state"},
      {"unspecified state",
       [](auto& r) { r.mutable_decisions(0)->set_state(v1::CONSENT_STATE_UNSPECIFIED); },
       absl::StatusCode::kInvalidArgument, "decisions[0].state"},
      {"bad topic", [](auto& r) { r.mutable_decisions(0)->set_topic("Bad Topic"); },
       absl::StatusCode::kInvalidArgument, "decisions[0].topic"},
      {"duplicate decision", [](auto& r) { *r.add_decisions() = r.decisions(0); },
       absl::StatusCode::kInvalidArgument, "decisions[1]"},
      {"notice version ahead", [](auto& r) { r.mutable_decisions(0)->set_notice_version(9); },
       absl::StatusCode::kInvalidArgument, "decisions[0].notice_version"},
      {"empty source", [](auto& r) { r.set_source(""); }, absl::StatusCode::kInvalidArgument,
       "source"},
      {"empty actor", [](auto& r) { r.set_actor(""); }, absl::StatusCode::kInvalidArgument,
       "actor"},
      {"bad jurisdiction", [](auto& r) { r.set_jurisdiction("Germany"); },
       absl::StatusCode::kInvalidArgument, "jurisdiction"},
      {"bad ip", [](auto& r) { r.mutable_evidence()->set_ip_address("999.1.1.1"); },
       absl::StatusCode::kInvalidArgument, "evidence.ip_address"},
      {"long idempotency key", [](auto& r) { r.set_idempotency_key(std::string(200, 'k')); },
       absl::StatusCode::kInvalidArgument, "idempotency_key"},
      {"import in the future",
       [this](auto& r) {
         *r.mutable_import()->mutable_original_effective_time() =
             ToProto(clock_.Now() + absl::Hours(1));
         r.mutable_import()->set_origin("legacy-crm");
       },
       absl::StatusCode::kInvalidArgument, "import.original_effective_time"},
      {"import without origin",
       [this](auto& r) {
         *r.mutable_import()->mutable_original_effective_time() =
             ToProto(clock_.Now() - absl::Hours(1));
       },
       absl::StatusCode::kInvalidArgument, "import.origin"},
      {"expiry before effect",
       [this](auto& r) {
         *r.mutable_decisions(0)->mutable_expire_time() = ToProto(clock_.Now() - absl::Hours(1));
       },
       absl::StatusCode::kInvalidArgument, "decisions[0].expire_time"},
  };
  const std::string before = DumpStore();
  for (const Case& c : cases) {
    auto request = Decision("u5", v1::WITHDRAWN);
    c.mutate(request);
    auto result = Record(request);
    EXPECT_EQ(result.status().code(), c.code) << c.name << ": " << result.status();
    EXPECT_THAT(std::string(result.status().message()), ::testing::StartsWith(c.field)) << c.name;
    EXPECT_EQ(DumpStore(), before) << c.name << " changed the store";
  }
  EXPECT_EQ(CheckSubject("u5").reason(), v1::EXPLICIT_GRANT);
}

TEST_F(LedgerTest, ALinkThatChangesNothingIsStillReplayedByItsIdempotencyKey) {
  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id("u7");
  link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  link.mutable_contact_point()->set_value("u7@example.com");
  link.set_actor("crm-sync");
  link.set_source("crm");
  link.set_idempotency_key("first");
  ASSERT_OK(Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link).status());
  // Linked already: the second key's call changes nothing, and its retry is a replay of it.
  link.set_idempotency_key("second");
  ASSERT_OK_AND_ASSIGN(auto again,
                       Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link));
  EXPECT_FALSE(again.replayed());
  ASSERT_OK_AND_ASSIGN(auto retry,
                       Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link));
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.subject_sequence(), again.subject_sequence());
  EXPECT_EQ(retry.contact_sequence(), again.contact_sequence());
}

TEST_F(LedgerTest, ContactPointLinkedToSubjectIsJudgedByBoth) {
  v1::ContactPoint email;
  email.set_type(v1::CONTACT_EMAIL);
  email.set_value("  Jane.Doe@Example.COM ");
  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id("u6");
  *link.mutable_contact_point() = email;
  link.set_actor("crm-sync");
  link.set_source("crm");
  auto linked = Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link);
  ASSERT_TRUE(linked.ok()) << linked.status();
  EXPECT_EQ(linked->contact().hash().size(), 64u);

  // The subject's grant decides a check on the (differently written) address.
  ASSERT_TRUE(Record(Decision("u6", v1::GRANTED)).ok());
  v1::CheckRequest check;
  check.set_tenant("acme");
  check.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  check.mutable_target()->mutable_contact_point()->set_value("jane.doe@example.com");
  check.mutable_target()->mutable_contact_point()->set_value("Jane.Doe@example.com");
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::EMAIL);
  auto verdict = ledger_->Check(check);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->reason(), v1::EXPLICIT_GRANT);
  EXPECT_EQ(verdict->decided_by().subject_id(), "u6");

  // An unsubscribe on the address itself wins over the subject's grant.
  ASSERT_TRUE(Unsubscribe(email).ok());
  verdict = ledger_->Check(check);
  EXPECT_EQ(verdict->reason(), v1::ADDRESS_SUPPRESSED);
  // Transactional mail still goes to an unsubscribed (but working) address.
  check.set_purpose_id("orders");
  EXPECT_EQ(ledger_->Check(check)->reason(), v1::TRANSACTIONAL_ALLOWED);

  // Linking the address to another subject is refused.
  link.set_subject_id("u7");
  EXPECT_EQ((Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link)).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Plain addresses are stored nowhere.
  auto all = DumpStore();
  EXPECT_EQ(all.find("example.com"), std::string::npos);
  EXPECT_EQ(all.find("Example.COM"), std::string::npos);
}

TEST_F(LedgerTest, AnAuthenticatedCallerIsTheActorAndTheRequestsActorIsOnBehalfOf) {
  const ledger::Caller caller{"spiffe://assent.test/signup"};
  v1::RecordDecisionsRequest request = Decision("u9", v1::GRANTED);
  request.set_actor("spiffe://assent.test/someone-else");  // whatever the request claims
  ASSERT_OK_AND_ASSIGN(
      auto recorded, Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request, caller));
  EXPECT_EQ(recorded.records(0).actor(), caller.principal);
  EXPECT_EQ(recorded.records(0).on_behalf_of(), "spiffe://assent.test/someone-else");

  v1::SetPreferencesRequest prefs;
  prefs.set_tenant("acme");
  prefs.set_subject_id("u9");
  prefs.set_actor("call-center/agent-7");
  prefs.set_source("call-center");
  prefs.mutable_preferences()->set_preferred_language("de");
  ASSERT_OK(Sync<v1::SetPreferencesResponse>(&Ledger::SetPreferences, prefs, caller).status());

  const std::vector<v1::HistoryRecord> history = History("u9");
  ASSERT_THAT(history, SizeIs(2));
  EXPECT_EQ(history[0].actor(), caller.principal);
  EXPECT_EQ(history[0].on_behalf_of(), "spiffe://assent.test/someone-else");
  EXPECT_EQ(history[1].actor(), caller.principal);
  EXPECT_EQ(history[1].on_behalf_of(), "call-center/agent-7");

  // Without authentication (a plaintext development server) the request's actor stands.
  ASSERT_OK(Record(Decision("u10", v1::GRANTED)).status());
  EXPECT_EQ(History("u10")[0].on_behalf_of(), "");
  EXPECT_EQ(History("u10")[0].actor(), Decision("u10", v1::GRANTED).actor());

  // The change event carries both.
  bool found = false;
  auto it = store_->NewIterator(store::Cf::kOutbox);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    storage::v1::OutboxRecord r;
    ASSERT_TRUE(r.ParseFromString(it->value().ToString()));
    v1::ConsentChanged event;
    if (r.key() != "acme/u9" || r.topic() != storage::v1::TOPIC_CHANGES) continue;
    ASSERT_TRUE(event.ParseFromString(r.value()));
    if (event.sequence() != 1) continue;
    EXPECT_EQ(event.actor(), caller.principal);
    EXPECT_EQ(event.on_behalf_of(), "spiffe://assent.test/someone-else");
    found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(LedgerTest, EveryChangeWritesDecodableOutboxRecords) {
  ASSERT_TRUE(Record(Decision("u8", v1::GRANTED)).ok());
  ASSERT_TRUE(Record(Decision("u8", v1::WITHDRAWN)).ok());
  std::vector<storage::v1::OutboxRecord> records;
  auto it = store_->NewIterator(store::Cf::kOutbox);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    storage::v1::OutboxRecord r;
    ASSERT_TRUE(r.ParseFromString(it->value().ToString()));
    if (r.key() == "acme/u8") records.push_back(r);
  }
  ASSERT_THAT(records, SizeIs(4));
  EXPECT_EQ(records[0].topic(), storage::v1::TOPIC_CHANGES);
  EXPECT_EQ(records[1].topic(), storage::v1::TOPIC_STATE);
  v1::ConsentChanged event;
  ASSERT_TRUE(event.ParseFromString(records[2].value()));
  EXPECT_EQ(event.sequence(), 2u);
  EXPECT_EQ(event.event_id(), "acme/u8/2");
  EXPECT_EQ(event.decisions(0).after().state(), v1::WITHDRAWN);
  // The statutory deadline travels with the decision (email's bulk-sender rule applies anywhere).
  EXPECT_TRUE(event.decisions(0).after().has_honour_by());
  EXPECT_EQ(event.state().subject().sequence(), 2u);
  v1::TargetStateSnapshot state;
  ASSERT_TRUE(state.ParseFromString(records[3].value()));
  EXPECT_EQ(state.subject().decisions(0).state(), v1::WITHDRAWN);
  EXPECT_TRUE(state.subject().decisions(0).has_honour_by());
  EXPECT_EQ(state.subject().chain_head(), event.history_hash());

  // The state is serialized once and its bytes reused: both events carry exactly the stored
  // state, and the stored history record parses to a record whose hash verifies.
  using google::protobuf::util::MessageDifferencer;
  auto stored_raw = store_->Get(store::Cf::kSubjects, store::SubjectKey("acme", "u8"));
  ASSERT_TRUE(stored_raw.ok() && stored_raw->has_value());
  v1::SubjectState stored;
  ASSERT_TRUE(stored.ParseFromString(**stored_raw));
  EXPECT_TRUE(MessageDifferencer::Equals(stored, state.subject()));
  EXPECT_TRUE(MessageDifferencer::Equals(stored, event.state().subject()));
  auto history_raw =
      store_->Get(store::Cf::kHistory, store::HistoryKey("acme", store::SubjectEntity("u8"), 2));
  ASSERT_TRUE(history_raw.ok() && history_raw->has_value());
  v1::HistoryRecord history;
  ASSERT_TRUE(history.ParseFromString(**history_raw));
  EXPECT_EQ(history.hash(), HistoryHash(history));
  EXPECT_EQ(history.hash(), event.history_hash());
  EXPECT_EQ(history.sequence(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(history.decisions(0), event.decisions(0)));
}

TEST_F(LedgerTest, LifespanExpiryAndRepermission) {
  ASSERT_TRUE(CreatePurpose("sms.offers", v1::MARKETING, {v1::SMS}, absl::Hours(24 * 30)).ok());
  ASSERT_TRUE(Record(Decision("u9", v1::GRANTED, "sms.offers")).ok());
  EXPECT_EQ(CheckSubject("u9", v1::SMS, "sms.offers").reason(), v1::EXPLICIT_GRANT);
  clock_.Advance(absl::Hours(24 * 31));
  EXPECT_EQ(CheckSubject("u9", v1::SMS, "sms.offers").reason(), v1::EXPIRED);

  ASSERT_TRUE(Record(Decision("u10", v1::GRANTED)).ok());
  v1::GetPurposeRequest get;
  get.set_name("tenants/acme/purposes/marketing.newsletter");
  v1::UpdatePurposeRequest update;
  *update.mutable_purpose() = *ledger_->GetPurpose(get);
  update.mutable_purpose()->set_notice_version(2);
  update.mutable_purpose()->set_min_notice_version(2);
  ASSERT_TRUE((Sync<v1::Purpose>(&Ledger::UpdatePurpose, update)).ok());
  EXPECT_EQ(CheckSubject("u10").reason(), v1::REPERMISSION_REQUIRED);
  ASSERT_TRUE(Record(Decision("u10", v1::GRANTED)).ok());  // given against notice 2 now
  EXPECT_EQ(CheckSubject("u10").reason(), v1::EXPLICIT_GRANT);
}

TEST_F(LedgerTest, ImportKeepsOriginalTimeAndDoesNotOverrideNewerDecision) {
  ASSERT_TRUE(Record(Decision("u11", v1::WITHDRAWN)).ok());
  auto import = Decision("u11", v1::GRANTED);
  *import.mutable_import()->mutable_original_effective_time() =
      ToProto(clock_.Now() - absl::Hours(24 * 365));
  import.mutable_import()->set_origin("legacy-crm");
  auto imported = Record(import);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_TRUE(imported->records(0).imported());
  EXPECT_EQ(FromProto(imported->records(0).effective_time()), clock_.Now() - absl::Hours(24 * 365));
  // The older imported grant is history, not the decision in force.
  EXPECT_EQ(CheckSubject("u11").reason(), v1::EXPLICIT_DENY);
  EXPECT_THAT(History("u11"), SizeIs(2));
}

TEST_F(LedgerTest, StateAndCatalogSurviveReopen) {
  ASSERT_TRUE(Record(Decision("u12", v1::GRANTED)).ok());
  Reopen();
  EXPECT_EQ(CheckSubject("u12").reason(), v1::EXPLICIT_GRANT);
  auto next = Record(Decision("u12", v1::WITHDRAWN));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sequence(), 2u);
  v1::ListTenantsRequest list;
  EXPECT_THAT(ledger_->ListTenants(list)->tenants(), SizeIs(1));
}

TEST_F(LedgerTest, ConcurrentWritersGetGaplessSequences) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = Record(Decision("hot", (t + i) % 2 ? v1::GRANTED : v1::WITHDRAWN));
        ASSERT_TRUE(r.ok()) << r.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  auto history = History("hot");
  ASSERT_THAT(history, SizeIs(kThreads * kPerThread));
  for (size_t i = 0; i < history.size(); ++i) EXPECT_EQ(history[i].sequence(), i + 1);
  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("hot");
  EXPECT_TRUE(ledger_->VerifyHistory(verify)->valid());
}

TEST_F(LedgerTest, PreferencesQuietHoursAndGlobalOptOut) {
  ASSERT_TRUE(Record(Decision("u13", v1::GRANTED)).ok());
  v1::SetPreferencesRequest prefs;
  prefs.set_tenant("acme");
  prefs.set_subject_id("u13");
  prefs.set_actor("app");
  prefs.set_source("preference-center");
  prefs.mutable_preferences()->add_global_opt_out_channels(v1::SMS);
  auto* quiet = prefs.mutable_preferences()->mutable_quiet_hours();
  quiet->set_time_zone("UTC");
  quiet->set_start_minute(0);
  quiet->set_end_minute(1439);
  ASSERT_TRUE((Sync<v1::SetPreferencesResponse>(&Ledger::SetPreferences, prefs)).ok());
  EXPECT_EQ(CheckSubject("u13", v1::SMS).reason(), v1::GLOBAL_OPT_OUT);
  EXPECT_EQ(CheckSubject("u13", v1::EMAIL).reason(), v1::QUIET_HOURS);

  quiet->set_time_zone("Mars/Olympus_Mons");
  auto bad = Sync<v1::SetPreferencesResponse>(&Ledger::SetPreferences, prefs);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("preferences.quiet_hours.time_zone"));
}

TEST_F(LedgerTest, BatchCheckAnswersInOrderAndRefusesOversizedBatches) {
  ASSERT_TRUE(Record(Decision("b1", v1::GRANTED)).ok());
  v1::BatchCheckRequest batch;
  batch.set_tenant("acme");
  batch.set_purpose_id("marketing.newsletter");
  batch.set_channel(v1::EMAIL);
  batch.add_targets()->set_subject_id("b1");
  batch.add_targets()->set_subject_id("b2");
  auto result = ledger_->BatchCheck(batch);
  ASSERT_TRUE(result.ok());
  ASSERT_THAT(result->results(), SizeIs(2));
  EXPECT_EQ(result->results(0).reason(), v1::EXPLICIT_GRANT);
  EXPECT_EQ(result->results(1).reason(), v1::NO_CONSENT);
  for (int i = 0; i < 10000; ++i) batch.add_targets()->set_subject_id("x");
  auto refused = ledger_->BatchCheck(batch);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("targets"));
}

TEST_F(LedgerTest, BatchCheckGivesExactlyTheSingleChecksOfMixedTargets) {
  ASSERT_TRUE(Record(Decision("m1", v1::GRANTED)).ok());
  ASSERT_TRUE(Record(Decision("m2", v1::WITHDRAWN)).ok());
  ASSERT_TRUE(Record(Decision("m3", v1::GRANTED)).ok());
  auto email = [](const std::string& value) {
    v1::ContactPoint contact;
    contact.set_type(v1::CONTACT_EMAIL);
    contact.set_value(value);
    return contact;
  };
  // linked@ is linked to m3 and suppressed itself; other@ is linked to m2; loose@ is suppressed
  // and linked to nobody; unknown@ was never seen.
  for (const auto& [address, subject] :
       {std::pair<std::string, std::string>{"linked@x.org", "m3"}, {"other@x.org", "m2"}}) {
    v1::LinkContactPointRequest link;
    link.set_tenant("acme");
    link.set_subject_id(subject);
    *link.mutable_contact_point() = email(address);
    link.set_actor("crm-sync");
    link.set_source("crm");
    ASSERT_TRUE((Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link)).ok());
  }
  for (const std::string address : {"linked@x.org", "loose@x.org"}) {
    ASSERT_TRUE(Unsubscribe(email(address)).ok());
  }

  for (const std::string purpose : {"marketing.newsletter", "orders"}) {
    v1::BatchCheckRequest batch;
    batch.set_tenant("acme");
    batch.set_purpose_id(purpose);
    batch.set_channel(v1::EMAIL);
    for (const std::string subject : {"m1", "nobody", "m2", "m3", "m1"}) {
      batch.add_targets()->set_subject_id(subject);
    }
    for (const std::string address :
         {"linked@x.org", "loose@x.org", "unknown@x.org", "other@x.org", " Linked@X.org "}) {
      *batch.add_targets()->mutable_contact_point() = email(address);
    }
    batch.add_targets()->set_subject_id("m3");
    auto result = ledger_->BatchCheck(batch);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_THAT(result->results(), SizeIs(batch.targets_size()));
    std::set<v1::Reason> reasons;
    for (int i = 0; i < batch.targets_size(); ++i) {
      v1::CheckRequest check;
      check.set_tenant("acme");
      check.set_purpose_id(purpose);
      check.set_channel(v1::EMAIL);
      *check.mutable_target() = batch.targets(i);
      auto single = ledger_->Check(check);
      ASSERT_TRUE(single.ok()) << single.status();
      EXPECT_EQ(result->results(i).SerializeAsString(), single->SerializeAsString())
          << purpose << " targets[" << i << "]: batch " << result->results(i).ShortDebugString()
          << " single " << single->ShortDebugString();
      reasons.insert(single->reason());
    }
    // The batch covers the paths it is meant to: grants, withdrawals, no record, suppression.
    if (purpose == "marketing.newsletter") {
      EXPECT_THAT(reasons, ::testing::IsSupersetOf(
                               {v1::EXPLICIT_GRANT, v1::NO_CONSENT, v1::ADDRESS_SUPPRESSED}));
    }
  }

  // A bad target fails the whole batch, naming it; an unknown purpose is NOT_FOUND.
  v1::BatchCheckRequest bad;
  bad.set_tenant("acme");
  bad.set_purpose_id("marketing.newsletter");
  bad.set_channel(v1::EMAIL);
  bad.add_targets()->set_subject_id("m1");
  *bad.add_targets()->mutable_contact_point() = email("not an address");
  auto refused = ledger_->BatchCheck(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), ::testing::StartsWith("targets[1]"));
  bad.set_purpose_id("no.such.purpose");
  EXPECT_EQ(ledger_->BatchCheck(bad).status().code(), absl::StatusCode::kNotFound);
}

// --- notices, preconditions, contact hashes, links (the preference center's needs) -------------

using ::testing::StartsWith;
using testing::StatusIs;

v1::UpdatePurposeRequest NoticeUpdate(uint32_t version,
                                      std::vector<std::pair<std::string, std::string>> texts) {
  v1::UpdatePurposeRequest update;
  v1::Purpose* p = update.mutable_purpose();
  p->set_name("tenants/acme/purposes/marketing.newsletter");
  p->set_display_name("Newsletter");
  p->set_kind(v1::MARKETING);
  p->set_legal_basis(v1::CONSENT);
  p->add_channels(v1::EMAIL);
  p->add_channels(v1::SMS);
  p->set_notice_version(version);
  auto* de = p->add_texts();
  de->set_language("de");
  de->set_display_name("Newsletter auf Deutsch");
  de->set_description("Jede Woche das Neueste.");
  for (auto& [language, text] : texts) {
    auto* n = p->add_notices();
    n->set_notice_version(version);
    n->set_language(language);
    n->set_text(text);
  }
  return update;
}

TEST_F(LedgerTest, NoticeTextsArePublishedOnceAndKeptAcrossUpdates) {
  ASSERT_OK_AND_ASSIGN(
      v1::Purpose v2,
      (Sync<v1::Purpose>(&Ledger::UpdatePurpose,
                         NoticeUpdate(1, {{"en", "We send news."}, {"de", "Wir senden."}}))));
  ASSERT_THAT(v2.notices(), SizeIs(2));
  EXPECT_EQ(v2.notices(0).language(), "de");
  EXPECT_EQ(v2.notices(0).sha256(), Sha256Hex("Wir senden."));
  EXPECT_EQ(v2.texts(0).display_name(), "Newsletter auf Deutsch");
  // Version 2 adds its own text; version 1's texts stay, though the update did not repeat them.
  ASSERT_OK_AND_ASSIGN(v1::Purpose v3,
                       (Sync<v1::Purpose>(&Ledger::UpdatePurpose,
                                          NoticeUpdate(2, {{"en", "We send news weekly."}}))));
  ASSERT_THAT(v3.notices(), SizeIs(3));
  EXPECT_EQ(v3.notices(2).notice_version(), 2u);
  // A published text cannot change.
  EXPECT_THAT(
      (Sync<v1::Purpose>(&Ledger::UpdatePurpose, NoticeUpdate(2, {{"en", "We send news daily."}}))),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("notice version 2 in en is already published")));
  // Texts for versions not yet announced, and duplicates, are refused naming the field.
  auto ahead = NoticeUpdate(2, {{"fr", "Nouvelles"}});
  ahead.mutable_purpose()->mutable_notices(0)->set_notice_version(3);
  EXPECT_THAT((Sync<v1::Purpose>(&Ledger::UpdatePurpose, ahead)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("purpose.notices[0].notice_version: must be 1..notice_version")));
  EXPECT_THAT(
      (Sync<v1::Purpose>(&Ledger::UpdatePurpose, NoticeUpdate(2, {{"fr", "A"}, {"fr", "B"}}))),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicates notices[0]")));
}

TEST_F(LedgerTest, NoticeDigestMustNameTheCatalogsText) {
  ASSERT_OK(
      (Sync<v1::Purpose>(&Ledger::UpdatePurpose, NoticeUpdate(1, {{"en", "We send news."}}))));
  const std::string before = DumpStore();
  auto request = Decision("u-notice", v1::GRANTED);
  request.mutable_evidence()->set_language("en");
  request.mutable_decisions(0)->set_notice_sha256(Sha256Hex("We send spam."));
  EXPECT_THAT(Record(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("decisions[0].notice_sha256: does not match the text of notice "
                                  "version 1 in \"en\"")));
  request.mutable_decisions(0)->set_notice_sha256("ABC");
  EXPECT_THAT(Record(request), StatusIs(absl::StatusCode::kInvalidArgument,
                                        StartsWith("decisions[0].notice_sha256: must be 64")));
  request.mutable_decisions(0)->clear_notice_sha256();
  request.mutable_evidence()->set_notice_sha256(Sha256Hex("We send news."));
  request.mutable_evidence()->set_language("fr");
  EXPECT_THAT(Record(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evidence.notice_sha256: purpose marketing.newsletter has no "
                                 "notice text for version 1 in \"fr\"")));
  EXPECT_EQ(DumpStore(), before);
  request.mutable_evidence()->set_language("en");
  ASSERT_OK_AND_ASSIGN(auto recorded, Record(request));
  EXPECT_EQ(recorded.records(0).evidence().notice_sha256(), Sha256Hex("We send news."));
  EXPECT_EQ(recorded.records(0).evidence().notice_version(), 1u);
}

TEST_F(LedgerTest, ExpectedSequenceRefusesAStaleWriteAndChangesNothing) {
  ASSERT_OK(Record(Decision("u-stale", v1::GRANTED)));
  auto stale = Decision("u-stale", v1::WITHDRAWN);
  stale.set_expected_sequence(0);
  const std::string before = DumpStore();
  EXPECT_THAT(Record(stale), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      StartsWith("expected_sequence: the target is at sequence 1, "
                                                 "not 0")));
  v1::SetPreferencesRequest prefs;
  prefs.set_tenant("acme");
  prefs.set_subject_id("u-stale");
  prefs.set_actor("prefcenter");
  prefs.set_source("preference-center");
  prefs.mutable_preferences()->set_preferred_language("de");
  prefs.set_expected_sequence(7);
  EXPECT_THAT((Sync<v1::SetPreferencesResponse>(&Ledger::SetPreferences, prefs)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("at sequence 1, not 7")));
  EXPECT_EQ(DumpStore(), before);
  prefs.set_expected_sequence(1);
  ASSERT_OK_AND_ASSIGN(auto saved,
                       (Sync<v1::SetPreferencesResponse>(&Ledger::SetPreferences, prefs)));
  EXPECT_EQ(saved.sequence(), 2u);
  stale.set_expected_sequence(2);
  ASSERT_OK_AND_ASSIGN(auto withdrawn, Record(stale));
  EXPECT_EQ(withdrawn.sequence(), 3u);
  // A new target starts at 0.
  auto first = Decision("u-new", v1::GRANTED);
  first.set_expected_sequence(0);
  EXPECT_OK(Record(first));
}

TEST_F(LedgerTest, AContactPointCanBeAddressedByItsKeyedHash) {
  v1::ContactPoint ann;
  ann.set_type(v1::CONTACT_EMAIL);
  ann.set_value("Ann@Example.COM");
  ASSERT_OK_AND_ASSIGN(auto suppressed, Unsubscribe(ann));
  const v1::ContactRef ref = suppressed.contact();
  // Read and write by the hash alone: the same contact point as the address.
  v1::GetContactPointStateRequest get;
  get.set_tenant("acme");
  *get.mutable_contact_ref() = ref;
  ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetContactPointState(get));
  EXPECT_THAT(state.suppressions(), SizeIs(1));
  auto withdraw = Decision("", v1::WITHDRAWN);
  *withdraw.mutable_target()->mutable_contact_ref() = ref;
  ASSERT_OK_AND_ASSIGN(auto recorded, Record(withdraw));
  EXPECT_EQ(recorded.target().contact().hash(), ref.hash());
  EXPECT_EQ(recorded.sequence(), 2u);
  v1::CheckRequest check;
  check.set_tenant("acme");
  *check.mutable_target()->mutable_contact_point() = ann;
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::SMS);
  ASSERT_OK_AND_ASSIGN(auto verdict, ledger_->Check(check));
  EXPECT_EQ(verdict.reason(), v1::EXPLICIT_DENY);
  EXPECT_EQ(verdict.record_id(), "2-0");
  // A malformed hash is refused naming the field.
  *withdraw.mutable_target()->mutable_contact_ref()->mutable_hash() = "ann@example.com";
  EXPECT_THAT(Record(withdraw), StatusIs(absl::StatusCode::kInvalidArgument,
                                         StartsWith("target.contact_ref.hash: must be 64")));
  get.mutable_contact_ref()->set_type(v1::CONTACT_TYPE_UNSPECIFIED);
  EXPECT_THAT(ledger_->GetContactPointState(get),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("contact_ref.type")));
}

TEST_F(LedgerTest, CreateLinkSignsVerifiableLinksOnlyWithAKeyring) {
  v1::CreateLinkRequest request;
  request.set_tenant("acme");
  request.mutable_target()->set_subject_id("cust-42");
  request.set_kind(v1::PREFERENCE_CENTER);
  EXPECT_THAT(ledger_->CreateLink(request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("links.keyring_file")));

  Close();
  store::StoreOptions options;
  options.path = dir_.Sub("db");
  ASSERT_OK_AND_ASSIGN(store_, store::Store::Open(options, clock_));
  committer_ = std::make_unique<store::Committer>(*store_, clock_);
  ledger::LedgerOptions ledger_options;
  ledger_options.contact_key_secret = testing::kTestSecret;
  ASSERT_OK_AND_ASSIGN(
      links::KeyRing ring,
      links::KeyRing::Parse(
          "keys:\n  - id: k1\n    secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"));
  ledger_options.link_keyring = std::make_shared<const links::KeyRing>(ring);
  ledger_options.link_base_url = "https://prefs.example.com/";
  ASSERT_OK_AND_ASSIGN(ledger_,
                       ledger::Ledger::Create(*store_, *committer_, clock_, ledger_options));

  ASSERT_OK_AND_ASSIGN(auto page, ledger_->CreateLink(request));
  EXPECT_EQ(page.key_id(), "k1");
  EXPECT_EQ(page.url(), "https://prefs.example.com/p/" + page.token());
  EXPECT_EQ(FromProto(page.expire_time()), clock_.Now() + absl::Hours(24 * 30));
  ASSERT_OK_AND_ASSIGN(auto claims, links::VerifyLink(ring, "", page.token(), clock_.Now()));
  EXPECT_EQ(claims.target.subject_id(), "cust-42");

  // A one-click link for an address carries only its keyed hash.
  request.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  request.mutable_target()->mutable_contact_point()->set_value("ann@example.com");
  request.set_kind(v1::ONE_CLICK_UNSUBSCRIBE);
  request.set_purpose_id("marketing.newsletter");
  request.set_channel(v1::EMAIL);
  ASSERT_OK_AND_ASSIGN(auto one_click, ledger_->CreateLink(request));
  EXPECT_THAT(one_click.url(), StartsWith("https://prefs.example.com/u/v2.k1."));
  EXPECT_EQ(one_click.token().find("ann"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(claims, links::VerifyLink(ring, "", one_click.token(), clock_.Now()));
  EXPECT_EQ(claims.target.contact().hash().size(), 64u);
  EXPECT_EQ(claims.channel, v1::EMAIL);

  request.set_channel(v1::PUSH);
  EXPECT_THAT(ledger_->CreateLink(request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("channel: PUSH is not")));
  request.set_channel(v1::EMAIL);
  request.set_purpose_id("nope");
  EXPECT_THAT(ledger_->CreateLink(request),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  request.set_kind(v1::PREFERENCE_CENTER);
  EXPECT_THAT(ledger_->CreateLink(request), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     StartsWith("purpose_id: must be empty")));
  request.set_purpose_id("");
  request.set_channel(v1::CHANNEL_UNSPECIFIED);
  request.mutable_ttl()->set_seconds(10);
  EXPECT_THAT(ledger_->CreateLink(request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("ttl: must be between")));
}
// Statutory deadlines (core/deadlines.h) with the default rules; days end in New York.
absl::Time NewYorkTime(int y, int mo, int d, int h, int mi = 0, int s = 0) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("America/New_York", &tz));
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), tz);
}
absl::Time EndOfNewYorkDay(int y, int mo, int d) { return NewYorkTime(y, mo, d, 23, 59, 59); }

TEST_F(LedgerTest, RefusalsAndWithdrawalsCarryTheirStatutoryDeadline) {
  clock_.Set(NewYorkTime(2026, 3, 2, 9));  // a Monday
  auto request = Decision("d1", v1::GRANTED);
  request.set_jurisdiction("US");
  request.mutable_decisions(0)->set_channel(v1::EMAIL);
  ASSERT_OK_AND_ASSIGN(auto granted, Record(request));
  EXPECT_FALSE(granted.records(0).has_honour_by());

  // A withdrawn email in the US: CAN-SPAM's 10 business days and the bulk senders' 2 days; the
  // earlier holds: the end of Wednesday.
  clock_.Advance(absl::Hours(1));
  request.mutable_decisions(0)->set_state(v1::WITHDRAWN);
  ASSERT_OK_AND_ASSIGN(auto withdrawn, Record(request));
  EXPECT_EQ(FromProto(withdrawn.records(0).honour_by()), EndOfNewYorkDay(2026, 3, 4));
  // SMS refused: the TCPA's 10 business days, the Monday two weeks later.
  request.mutable_decisions(0)->set_state(v1::DENIED);
  request.mutable_decisions(0)->set_channel(v1::SMS);
  ASSERT_OK_AND_ASSIGN(auto refused, Record(request));
  EXPECT_EQ(FromProto(refused.records(0).honour_by()), EndOfNewYorkDay(2026, 3, 16));

  // It is in the history (and so in the chain and the events) and in the state.
  auto history = History("d1");
  ASSERT_THAT(history, SizeIs(3));
  EXPECT_FALSE(history[0].decisions(0).after().has_honour_by());
  EXPECT_EQ(FromProto(history[1].decisions(0).after().honour_by()), EndOfNewYorkDay(2026, 3, 4));
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("d1");
  ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetSubjectState(get));
  ASSERT_THAT(state.decisions(), SizeIs(2));
  for (const auto& d : state.decisions()) EXPECT_TRUE(d.has_honour_by()) << d.channel();
  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("d1");
  ASSERT_OK_AND_ASSIGN(auto verified, ledger_->VerifyHistory(verify));
  EXPECT_TRUE(verified.valid()) << verified.problem();
}

TEST_F(LedgerTest, HonourByUsesTheSubjectsJurisdictionAndEveryChannelOfThePurpose) {
  clock_.Set(NewYorkTime(2026, 3, 2, 9));
  // No jurisdiction anywhere: SMS has no rule.
  auto sms = Decision("d2", v1::WITHDRAWN);
  sms.mutable_decisions(0)->set_channel(v1::SMS);
  ASSERT_OK_AND_ASSIGN(auto unknown, Record(sms));
  EXPECT_FALSE(unknown.records(0).has_honour_by());
  // Once a request said US, later requests without a jurisdiction use it.
  auto us = Decision("d2", v1::GRANTED);
  us.set_jurisdiction("US-NY");
  us.mutable_decisions(0)->set_channel(v1::EMAIL);
  ASSERT_OK(Record(us).status());
  ASSERT_OK_AND_ASSIGN(auto known, Record(sms));
  EXPECT_EQ(FromProto(known.records(0).honour_by()), EndOfNewYorkDay(2026, 3, 16));
  EXPECT_TRUE(known.records(0).jurisdiction().empty());  // the record keeps what was asked
  // A decision without a channel covers email and SMS: the earlier, email's.
  ASSERT_OK_AND_ASSIGN(auto all, Record(Decision("d2", v1::DENIED)));
  EXPECT_EQ(FromProto(all.records(0).honour_by()), EndOfNewYorkDay(2026, 3, 4));
}

TEST_F(LedgerTest, ASuppressionCarriesItsStatutoryDeadline) {
  clock_.Set(NewYorkTime(2026, 7, 2, 22));  // Thursday evening in New York, Friday in UTC
  v1::ContactPoint email;
  email.set_type(v1::CONTACT_EMAIL);
  email.set_value("deadline@example.com");
  ASSERT_OK(Unsubscribe(email).status());
  v1::GetContactPointStateRequest get;
  get.set_tenant("acme");
  *get.mutable_contact_point() = email;
  ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetContactPointState(get));
  ASSERT_THAT(state.suppressions(), SizeIs(1));
  // The bulk senders' 2 calendar days (any jurisdiction), counted from Thursday.
  EXPECT_EQ(FromProto(state.suppressions(0).honour_by()), EndOfNewYorkDay(2026, 7, 4));
}

TEST_F(LedgerTest, AnImportsDeadlineRunsFromItsOriginalTime) {
  auto import = Decision("d3", v1::WITHDRAWN);
  import.set_jurisdiction("US");
  import.mutable_decisions(0)->set_channel(v1::SMS);
  // Tuesday 1 July 2025; Independence Day (Friday) is skipped.
  *import.mutable_import()->mutable_original_effective_time() =
      ToProto(NewYorkTime(2025, 7, 1, 12));
  import.mutable_import()->set_origin("legacy-crm");
  ASSERT_OK_AND_ASSIGN(auto imported, Record(import));
  EXPECT_EQ(FromProto(imported.records(0).honour_by()), EndOfNewYorkDay(2025, 7, 16));
}

}  // namespace
}  // namespace assent::ledger
