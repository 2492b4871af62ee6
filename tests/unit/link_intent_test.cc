// Links over two owners' partitions (cluster mode), step by step on one real store: the three
// steps write what one LinkContactPoint writes, one intent per subject, the contact point's half
// is idempotent and refuses another subject's contact point, a refused half leaves nothing, and
// an intent finished by a recovery answers its stale driver with the replayed response.
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/history.h"
#include "rocksdb/write_batch.h"
#include "store/keys.h"
#include "store/retention.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::HasSubstr;

class LinkIntentTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    ASSERT_OK(CreateTenant("acme"));
  }

  static v1::LinkContactPointRequest Link(const std::string& subject, const std::string& email,
                                          const std::string& key = "") {
    v1::LinkContactPointRequest link;
    link.set_tenant("acme");
    link.set_subject_id(subject);
    link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    link.mutable_contact_point()->set_value(email);
    link.set_actor("crm-sync");
    link.set_source("crm");
    link.set_idempotency_key(key);
    return link;
  }

  static v1::UnlinkContactPointRequest Unlink(const std::string& subject, const std::string& email,
                                              const std::string& key = "") {
    v1::UnlinkContactPointRequest unlink;
    unlink.set_tenant("acme");
    unlink.set_subject_id(subject);
    unlink.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    unlink.mutable_contact_point()->set_value(email);
    unlink.set_actor("crm-sync");
    unlink.set_source("crm");
    unlink.set_idempotency_key(key);
    return unlink;
  }

  absl::StatusOr<std::string> Complete(const storage::v1::LinkIntent& intent,
                                       absl::StatusOr<uint64_t> contact_sequence) {
    absl::Notification done;
    absl::StatusOr<std::string> result = absl::UnknownError("not run");
    ledger_->CompleteLinkIntent(intent, std::move(contact_sequence), absl::InfiniteFuture(),
                                [&](absl::StatusOr<std::string> r) {
                                  result = std::move(r);
                                  done.Notify();
                                });
    done.WaitForNotification();
    return result;
  }

  // All three steps, as LinkCoordinator runs them with the contact point's owner reached.
  absl::StatusOr<v1::LinkContactPointResponse> LinkInSteps(const v1::LinkContactPointRequest& r,
                                                           const Caller& caller = Caller()) {
    ASSIGN_OR_RETURN(LinkIntentStart start,
                     Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, r, caller));
    v1::LinkContactPointResponse response;
    if (start.replayed.has_value()) {
      EXPECT_TRUE(response.ParseFromString(*start.replayed));
      return response;
    }
    absl::StatusOr<v1::ApplyContactLinkResponse> half =
        Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, start.intent.half());
    absl::StatusOr<uint64_t> sequence =
        half.ok() ? absl::StatusOr<uint64_t>(half->contact_sequence()) : half.status();
    ASSIGN_OR_RETURN(std::string bytes, Complete(start.intent, sequence));
    EXPECT_TRUE(response.ParseFromString(bytes));
    return response;
  }

  v1::SubjectState Subject(const std::string& id) {
    v1::GetSubjectStateRequest request;
    request.set_tenant("acme");
    request.set_subject_id(id);
    absl::StatusOr<v1::SubjectState> state = ledger_->GetSubjectState(request);
    EXPECT_OK(state.status());
    return state.value_or(v1::SubjectState());
  }

  v1::ContactPointState Contact(const std::string& email) {
    v1::GetContactPointStateRequest request;
    request.set_tenant("acme");
    request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    request.mutable_contact_point()->set_value(email);
    absl::StatusOr<v1::ContactPointState> state = ledger_->GetContactPointState(request);
    EXPECT_OK(state.status());
    return state.value_or(v1::ContactPointState());
  }

  std::vector<v1::HistoryRecord> History(const v1::Target& target) {
    v1::ListHistoryRequest request;
    request.set_tenant("acme");
    *request.mutable_target() = target;
    request.set_page_size(100);
    absl::StatusOr<v1::ListHistoryResponse> page = ledger_->ListHistory(request);
    EXPECT_OK(page.status());
    if (!page.ok()) return {};
    return {page->records().begin(), page->records().end()};
  }

  static v1::Target SubjectTarget(const std::string& id) {
    v1::Target t;
    t.set_subject_id(id);
    return t;
  }
  static v1::Target ContactTarget(const std::string& email) {
    v1::Target t;
    t.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    t.mutable_contact_point()->set_value(email);
    return t;
  }

  size_t PendingIntents() {
    absl::StatusOr<std::vector<storage::v1::LinkIntent>> pending = ledger_->PendingLinkIntents();
    EXPECT_OK(pending.status());
    return pending.ok() ? pending->size() : 0;
  }
};

TEST_F(LinkIntentTest, ThreeStepsWriteWhatOneLinkWrites) {
  const Caller caller{"crm"};
  ASSERT_OK_AND_ASSIGN(
      auto one, Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint,
                                                   Link("u1", "a@example.com", "k1"), caller));
  ASSERT_OK_AND_ASSIGN(auto steps, LinkInSteps(Link("u2", "b@example.com", "k2"), caller));
  EXPECT_EQ(steps.subject_sequence(), one.subject_sequence());
  EXPECT_EQ(steps.contact_sequence(), one.contact_sequence());
  EXPECT_EQ(steps.contact().hash().size(), 64u);
  EXPECT_FALSE(steps.replayed());
  EXPECT_EQ(PendingIntents(), 0u);

  EXPECT_EQ(Contact("b@example.com").linked_subject_id(), "u2");
  ASSERT_EQ(Subject("u2").contacts_size(), 1);
  EXPECT_EQ(Subject("u2").contacts(0).hash(), steps.contact().hash());
  // The same history records, but for their targets and hashes.
  for (const auto& [a, b] :
       {std::pair{SubjectTarget("u1"), SubjectTarget("u2")},
        std::pair{ContactTarget("a@example.com"), ContactTarget("b@example.com")}}) {
    std::vector<v1::HistoryRecord> h1 = History(a);
    std::vector<v1::HistoryRecord> h2 = History(b);
    ASSERT_EQ(h1.size(), 1u);
    ASSERT_EQ(h2.size(), 1u);
    EXPECT_EQ(h2[0].kind(), v1::CONTACT_LINKED);
    EXPECT_EQ(h2[0].actor(), h1[0].actor());
    EXPECT_EQ(h2[0].actor(), "crm");
    EXPECT_EQ(h2[0].on_behalf_of(), "crm-sync");
    EXPECT_EQ(h2[0].source(), h1[0].source());
    EXPECT_EQ(h2[0].idempotency_key(), "k2");
    EXPECT_EQ(h2[0].counterpart().has_contact(), h1[0].counterpart().has_contact());
  }
  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  *verify.mutable_target() = ContactTarget("b@example.com");
  ASSERT_OK_AND_ASSIGN(auto verified, ledger_->VerifyHistory(verify));
  EXPECT_TRUE(verified.valid()) << verified.problem();

  // Retried with its key: replayed, nothing written (by either path).
  ASSERT_OK_AND_ASSIGN(auto again, LinkInSteps(Link("u2", "b@example.com", "k2"), caller));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.subject_sequence(), steps.subject_sequence());
  ASSERT_OK_AND_ASSIGN(
      auto single, Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint,
                                                      Link("u2", "b@example.com", "k2"), caller));
  EXPECT_TRUE(single.replayed());
  EXPECT_EQ(History(SubjectTarget("u2")).size(), 1u);

  // Unlinked in steps: both sides, one record each.
  ASSERT_OK_AND_ASSIGN(LinkIntentStart start, Sync<LinkIntentStart>(&Ledger::BeginUnlinkIntent,
                                                                    Unlink("u2", "b@example.com")));
  ASSERT_OK_AND_ASSIGN(auto half, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                     start.intent.half()));
  ASSERT_OK_AND_ASSIGN(std::string bytes, Complete(start.intent, half.contact_sequence()));
  v1::UnlinkContactPointResponse unlinked;
  ASSERT_TRUE(unlinked.ParseFromString(bytes));
  EXPECT_EQ(unlinked.subject_sequence(), 2u);
  EXPECT_EQ(unlinked.contact_sequence(), 2u);
  EXPECT_EQ(Subject("u2").contacts_size(), 0);
  EXPECT_EQ(Contact("b@example.com").linked_subject_id(), "");
  EXPECT_EQ(History(ContactTarget("b@example.com")).back().kind(), v1::CONTACT_UNLINKED);
}

TEST_F(LinkIntentTest, OneIntentPerSubjectAndTheSameRequestResumesIt) {
  ASSERT_OK_AND_ASSIGN(LinkIntentStart first,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com", "k")));
  EXPECT_FALSE(first.replayed.has_value());
  EXPECT_FALSE(first.intent.half().intent_id().empty());
  EXPECT_EQ(PendingIntents(), 1u);
  // Another change of the subject waits for it.
  const std::string before = DumpStore();
  absl::StatusOr<LinkIntentStart> other =
      Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "b@x.com", "k2"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("in progress"));
  absl::StatusOr<LinkIntentStart> unlink =
      Sync<LinkIntentStart>(&Ledger::BeginUnlinkIntent, Unlink("u1", "b@x.com", "k3"));
  EXPECT_EQ(unlink.status().code(), absl::StatusCode::kUnavailable);
  // So does a link of the subject in one partition (LinkContactPoint in one mutation).
  absl::StatusOr<v1::LinkContactPointResponse> single =
      Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, Link("u1", "c@x.com"));
  EXPECT_EQ(single.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(DumpStore(), before);
  // The same request (a retry) resumes the pending intent.
  ASSERT_OK_AND_ASSIGN(LinkIntentStart resumed,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com", "k")));
  EXPECT_EQ(resumed.intent.half().intent_id(), first.intent.half().intent_id());
  // So does the same request without a key, from the same caller only.
  ASSERT_OK_AND_ASSIGN(LinkIntentStart keyless,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u3", "c@x.com")));
  ASSERT_OK_AND_ASSIGN(LinkIntentStart retried,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u3", "c@x.com")));
  EXPECT_EQ(retried.intent.half().intent_id(), keyless.intent.half().intent_id());
  EXPECT_EQ(Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u3", "c@x.com"), Caller{"other"})
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  // Another subject is not held up.
  ASSERT_OK(LinkInSteps(Link("u2", "b@x.com")).status());
}

TEST_F(LinkIntentTest, ContactHalfIsIdempotentAndRefusesAnotherSubjectsContactPoint) {
  ASSERT_OK_AND_ASSIGN(LinkIntentStart start,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com")));
  ASSERT_OK_AND_ASSIGN(auto half, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                     start.intent.half()));
  EXPECT_EQ(half.contact_sequence(), 1u);
  // Asked again (a retry or a recovery): the same answer, nothing more written.
  ASSERT_OK_AND_ASSIGN(auto again, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                      start.intent.half()));
  EXPECT_EQ(again.contact_sequence(), 1u);
  EXPECT_EQ(History(ContactTarget("a@x.com")).size(), 1u);

  // Another subject's link of the same contact point meanwhile: its half is refused, and the
  // refusal ends that intent leaving that subject as it was.
  ASSERT_OK_AND_ASSIGN(LinkIntentStart rival,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u2", "a@x.com")));
  absl::StatusOr<v1::ApplyContactLinkResponse> refused =
      Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, rival.intent.half());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("linked to another subject"));
  absl::StatusOr<std::string> ended = Complete(rival.intent, refused.status());
  EXPECT_EQ(ended.status().code(), absl::StatusCode::kFailedPrecondition);
  v1::GetSubjectStateRequest u2;
  u2.set_tenant("acme");
  u2.set_subject_id("u2");
  EXPECT_EQ(ledger_->GetSubjectState(u2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(PendingIntents(), 1u);  // u1's, still to complete

  ASSERT_OK(Complete(start.intent, half.contact_sequence()).status());
  EXPECT_EQ(PendingIntents(), 0u);
  EXPECT_EQ(Subject("u1").contacts_size(), 1);
  EXPECT_EQ(Contact("a@x.com").linked_subject_id(), "u1");
}

// Two drivers of one intent (a call and a recovery, or an old and a new owner): the late one's
// half, arriving after a later intent of the subject, changes nothing; a retried half is answered
// the sequence its first attempt wrote, whatever the contact point recorded since.
TEST_F(LinkIntentTest, ALateHalfOfAFinishedIntentChangesNothing) {
  ASSERT_OK_AND_ASSIGN(LinkIntentStart link,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com")));
  ASSERT_OK_AND_ASSIGN(
      auto half, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, link.intent.half()));
  ASSERT_OK(Complete(link.intent, half.contact_sequence()).status());
  ASSERT_OK_AND_ASSIGN(LinkIntentStart unlink,
                       Sync<LinkIntentStart>(&Ledger::BeginUnlinkIntent, Unlink("u1", "a@x.com")));
  EXPECT_GT(unlink.intent.half().intent_number(), link.intent.half().intent_number());
  ASSERT_OK_AND_ASSIGN(auto unlinked, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                         unlink.intent.half()));
  ASSERT_OK(Complete(unlink.intent, unlinked.contact_sequence()).status());
  // The contact point records something else meanwhile.
  ASSERT_OK(Sync<v1::SuppressContactPointResponse>(
                &Ledger::SuppressContactPoint,
                [] {
                  v1::SuppressContactPointRequest r;
                  r.set_tenant("acme");
                  r.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
                  r.mutable_contact_point()->set_value("a@x.com");
                  r.set_channel(v1::EMAIL);
                  r.set_kind(v1::Suppression::HARD_BOUNCE);
                  r.set_source("mta");
                  r.set_actor("mta");
                  return r;
                }())
                .status());
  const std::string before = DumpStore();
  // The unlink's half again: its first answer.
  ASSERT_OK_AND_ASSIGN(auto again, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                      unlink.intent.half()));
  EXPECT_EQ(again.contact_sequence(), unlinked.contact_sequence());
  // The link's half, late: refused, the contact point stays free.
  absl::StatusOr<v1::ApplyContactLinkResponse> late =
      Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, link.intent.half());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DumpStore(), before);
  EXPECT_EQ(Contact("a@x.com").linked_subject_id(), "");
}

TEST_F(LinkIntentTest, FencingRecordsGoWithTheErasureStubRetention) {
  const absl::Time begun = clock_.Now();
  ASSERT_OK_AND_ASSIGN(LinkIntentStart link,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com")));
  // The number is the intent's start in microseconds; a second intent in the same microsecond
  // still gets a higher one.
  EXPECT_EQ(link.intent.half().intent_number(), static_cast<uint64_t>(absl::ToUnixMicros(begun)));
  ASSERT_OK_AND_ASSIGN(
      auto half, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, link.intent.half()));
  ASSERT_OK(Complete(link.intent, half.contact_sequence()).status());
  ASSERT_OK_AND_ASSIGN(LinkIntentStart unlink,
                       Sync<LinkIntentStart>(&Ledger::BeginUnlinkIntent, Unlink("u1", "a@x.com")));
  EXPECT_EQ(unlink.intent.half().intent_number(), link.intent.half().intent_number() + 1);
  ASSERT_OK_AND_ASSIGN(auto unlinked, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                         unlink.intent.half()));
  ASSERT_OK(Complete(unlink.intent, unlinked.contact_sequence()).status());
  ASSERT_OK_AND_ASSIGN(LinkIntentStart relink,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com")));
  ASSERT_OK_AND_ASSIGN(auto relinked, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                         relink.intent.half()));
  ASSERT_OK(Complete(relink.intent, relinked.contact_sequence()).status());

  const std::string counter = store::LinkIntentCounterKey("acme", "u1");
  const std::string record =
      store::LinkHalfKey("acme", store::ContactEntity(relink.intent.half().contact()), "u1");
  auto present = [&](const std::string& key) {
    absl::StatusOr<std::optional<std::string>> got = store_->Get(store::Cf::kRights, key);
    EXPECT_OK(got.status());
    return got.ok() && got->has_value();
  };
  ASSERT_TRUE(present(counter));
  ASSERT_TRUE(present(record));
  // Records of builds that counted 1, 2, ... have no known age: they stay. So does a pending
  // intent, whatever its age.
  const std::string old_counter = store::LinkIntentCounterKey("acme", "u9");
  const std::string old_record =
      store::LinkHalfKey("acme", store::ContactEntity(relink.intent.half().contact()), "u9");
  {
    std::string three;
    store::PutBigEndian64(&three, 3);
    storage::v1::LinkHalfRecord two;
    two.set_intent_number(2);
    two.set_intent_id("old");
    rocksdb::WriteBatch batch;
    batch.Put(store_->Handle(store::Cf::kRights), old_counter, three);
    batch.Put(store_->Handle(store::Cf::kRights), old_record, two.SerializeAsString());
    ASSERT_OK(store_->Write(&batch));
  }
  ASSERT_OK_AND_ASSIGN(LinkIntentStart pending,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u2", "b@x.com")));
  // Kept for the erasure stubs' period (the default, six years) after the intent began...
  clock_.Advance(store::kDefaultRetention - absl::Hours(1));
  ASSERT_OK(store_->CompactAll().status());
  EXPECT_TRUE(present(counter));
  EXPECT_TRUE(present(record));
  // ...then dropped by compaction; the link itself stays.
  clock_.Advance(absl::Hours(2));
  ASSERT_OK(store_->CompactAll().status());
  EXPECT_FALSE(present(counter));
  EXPECT_FALSE(present(record));
  EXPECT_TRUE(present(old_counter));
  EXPECT_TRUE(present(old_record));
  EXPECT_TRUE(present(store::LinkIntentKey("acme", "u2")));
  EXPECT_EQ(PendingIntents(), 1u);
  EXPECT_EQ(Contact("a@x.com").linked_subject_id(), "u1");
  ASSERT_EQ(Subject("u1").contacts_size(), 1);
  // Numbers keep rising without them: the next intent is not taken for a late copy of an old one.
  ASSERT_OK_AND_ASSIGN(LinkIntentStart later,
                       Sync<LinkIntentStart>(&Ledger::BeginUnlinkIntent, Unlink("u1", "a@x.com")));
  EXPECT_GT(later.intent.half().intent_number(), relink.intent.half().intent_number());
  ASSERT_OK_AND_ASSIGN(auto done, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                     later.intent.half()));
  ASSERT_OK(Complete(later.intent, done.contact_sequence()).status());
  EXPECT_EQ(Contact("a@x.com").linked_subject_id(), "");
  EXPECT_EQ(History(ContactTarget("a@x.com")).back().kind(), v1::CONTACT_UNLINKED);
}

TEST_F(LinkIntentTest, AnIntentFinishedByRecoveryAnswersItsStaleDriverWithTheReplay) {
  ASSERT_OK_AND_ASSIGN(LinkIntentStart start,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com", "k")));
  ASSERT_OK_AND_ASSIGN(auto half, Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink,
                                                                     start.intent.half()));
  // The instance that began it is gone; the partition's next owner reads the intent back.
  ASSERT_OK_AND_ASSIGN(auto pending, ledger_->PendingLinkIntents());
  ASSERT_EQ(pending.size(), 1u);
  ASSERT_OK(Complete(pending[0], half.contact_sequence()).status());
  // A late completion of the same intent (the first driver) writes nothing more.
  const std::string before = DumpStore();
  ASSERT_OK_AND_ASSIGN(std::string bytes, Complete(start.intent, half.contact_sequence()));
  v1::LinkContactPointResponse response;
  ASSERT_TRUE(response.ParseFromString(bytes));
  EXPECT_TRUE(response.replayed());
  EXPECT_EQ(response.subject_sequence(), 1u);
  EXPECT_EQ(DumpStore(), before);
  EXPECT_EQ(History(SubjectTarget("u1")).size(), 1u);
}

TEST_F(LinkIntentTest, AnIntentUnderAKeyItDoesNotNameIsReportedNotDriven) {
  ASSERT_OK_AND_ASSIGN(LinkIntentStart start,
                       Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "a@x.com")));
  EXPECT_EQ(PendingIntents(), 1u);
  // The same intent copied under another subject's key: no subject half could delete it.
  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(store::Cf::kRights), store::LinkIntentKey("acme", "u0"),
            start.intent.SerializeAsString());
  ASSERT_OK(store_->Write(&batch));
  absl::StatusOr<std::vector<storage::v1::LinkIntent>> pending = ledger_->PendingLinkIntents();
  EXPECT_FALSE(pending.ok());
  EXPECT_THAT(std::string(pending.status().message()), HasSubstr("link intent"));
}

TEST_F(LinkIntentTest, SubjectSideRefusalsWriteNoIntent) {
  const std::string before = DumpStore();
  absl::StatusOr<LinkIntentStart> unlink =
      Sync<LinkIntentStart>(&Ledger::BeginUnlinkIntent, Unlink("u1", "a@x.com"));
  EXPECT_EQ(unlink.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unlink.status().message()), HasSubstr("contact_point: is not linked"));
  v1::LinkContactPointRequest bad = Link("u1", "not an address");
  EXPECT_EQ(Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A half without an intent or a contact reference.
  v1::ApplyContactLinkRequest half;
  half.set_tenant("acme");
  half.set_subject_id("u1");
  half.set_actor("a");
  half.set_source("s");
  half.set_intent_number(1);
  absl::StatusOr<v1::ApplyContactLinkResponse> no_contact =
      Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, half);
  EXPECT_THAT(std::string(no_contact.status().message()), HasSubstr("contact"));
  half.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  half.mutable_contact()->set_hash(std::string(64, 'a'));
  absl::StatusOr<v1::ApplyContactLinkResponse> no_intent =
      Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, half);
  EXPECT_THAT(std::string(no_intent.status().message()), HasSubstr("intent_id"));
  EXPECT_EQ(DumpStore(), before);
}

// An erasure whose subject has contact points in two other partitions: each one's half on its
// owner (here: the same store), then the rest; the outcome is that of one EraseSubject mutation.
TEST_F(LinkIntentTest, ErasureInStepsErasesWhatOneMutationErases) {
  v1::CreatePurposeRequest purpose;
  purpose.set_parent("tenants/acme");
  purpose.mutable_purpose()->set_purpose_id("news");
  purpose.mutable_purpose()->set_display_name("News");
  purpose.mutable_purpose()->set_kind(v1::MARKETING);
  purpose.mutable_purpose()->set_legal_basis(v1::CONSENT);
  purpose.mutable_purpose()->add_channels(v1::EMAIL);
  purpose.mutable_purpose()->set_notice_version(1);
  ASSERT_OK(Sync<v1::Purpose>(&Ledger::CreatePurpose, purpose).status());
  // Two subjects alike, each with two addresses, each address with sealed evidence of its own.
  for (const char* subject : {"u1", "u2"}) {
    for (const char* n : {"a", "b"}) {
      const std::string address = absl::StrCat(subject, n, "@x.com");
      ASSERT_OK(
          Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, Link(subject, address))
              .status());
      v1::RecordDecisionsRequest record;
      record.set_tenant("acme");
      *record.mutable_target() = ContactTarget(address);
      record.set_source("web");
      record.set_actor("form");
      record.mutable_evidence()->set_ip_address("198.51.100.7");
      v1::DecisionInput* d = record.add_decisions();
      d->set_purpose_id("news");
      d->set_channel(v1::EMAIL);
      d->set_state(v1::GRANTED);
      ASSERT_OK(Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, record).status());
    }
  }
  v1::EraseSubjectRequest erase;
  erase.set_tenant("acme");
  erase.set_reason("GDPR art. 17 request 42");
  erase.set_subject_id("u2");
  ASSERT_OK_AND_ASSIGN(auto one, Sync<v1::EraseSubjectResponse>(&Ledger::EraseSubject, erase));

  erase.set_subject_id("u1");
  ASSERT_OK_AND_ASSIGN(LinkIntentStart start,
                       Sync<LinkIntentStart>(&Ledger::BeginErasureIntent, erase));
  ASSERT_EQ(start.intent.erase_contacts_size(), 2);
  EXPECT_TRUE(start.intent.half().erase());
  // Another link change waits for it.
  EXPECT_EQ(
      Sync<LinkIntentStart>(&Ledger::BeginLinkIntent, Link("u1", "late@x.com")).status().code(),
      absl::StatusCode::kUnavailable);
  // A legal hold cannot stop it any more (its parts may be done): refused, not silently dropped.
  v1::SetLegalHoldRequest hold;
  hold.set_tenant("acme");
  hold.set_subject_id("u1");
  hold.set_hold(true);
  hold.set_reason("litigation");
  absl::StatusOr<v1::SetLegalHoldResponse> held =
      Sync<v1::SetLegalHoldResponse>(&Ledger::SetLegalHold, hold);
  EXPECT_EQ(held.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(held.status().message()), HasSubstr("erasure of this subject"));
  // The first address's half, on "its owner", twice (a retry).
  v1::ApplyContactLinkRequest half = start.intent.half();
  *half.mutable_contact() = start.intent.erase_contacts(0);
  ASSERT_OK(Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, half).status());
  ASSERT_OK_AND_ASSIGN(auto again,
                       Sync<v1::ApplyContactLinkResponse>(&Ledger::ApplyContactLink, half));
  EXPECT_EQ(again.contact_sequence(), 3u);  // linked, granted, erased: once
  absl::Notification finished;
  absl::StatusOr<std::string> bytes;
  ledger_->CompleteErasureIntent(start.intent, {start.intent.erase_contacts(0)},
                                 absl::InfiniteFuture(), [&](absl::StatusOr<std::string> r) {
                                   bytes = std::move(r);
                                   finished.Notify();
                                 });
  finished.WaitForNotification();
  ASSERT_OK(bytes.status());
  v1::EraseSubjectResponse steps;
  ASSERT_TRUE(steps.ParseFromString(*bytes));
  EXPECT_EQ(PendingIntents(), 0u);

  // The same outcome as the one-mutation erasure, for the subject and both addresses.
  EXPECT_EQ(steps.erasure().suppressed_contacts_size(), 2);
  EXPECT_EQ(steps.erasure().sequence(), one.erasure().sequence());
  EXPECT_EQ(steps.erasure().reason(), one.erasure().reason());
  for (const char* subject : {"u1", "u2"}) {
    v1::GetSubjectStateRequest state;
    state.set_tenant("acme");
    state.set_subject_id(subject);
    EXPECT_EQ(ledger_->GetSubjectState(state).status().code(), absl::StatusCode::kNotFound);
    for (const char* n : {"a", "b"}) {
      const std::string address = absl::StrCat(subject, n, "@x.com");
      v1::ContactPointState contact = Contact(address);
      EXPECT_EQ(contact.linked_subject_id(), "") << address;
      ASSERT_EQ(contact.suppressions_size(), 1) << address;
      EXPECT_EQ(contact.suppressions(0).kind(), v1::Suppression::ERASED);
      std::vector<v1::HistoryRecord> h = History(ContactTarget(address));
      ASSERT_EQ(h.size(), 3u) << address;
      EXPECT_EQ(h[2].kind(), v1::SUPPRESSION_ADDED);
      EXPECT_EQ(h[2].source(), "erasure");
      // The sealed evidence's data key is gone with the erasure.
      EXPECT_EQ(store_
                    ->Get(store::Cf::kKeys,
                          store::DataKeyKey("acme", store::ContactEntity(h[2].target().contact())))
                    ->has_value(),
                false)
          << address;
      v1::VerifyHistoryRequest verify;
      verify.set_tenant("acme");
      *verify.mutable_target() = ContactTarget(address);
      ASSERT_OK_AND_ASSIGN(auto verified, ledger_->VerifyHistory(verify));
      EXPECT_TRUE(verified.valid()) << address << ": " << verified.problem();
    }
  }
  // Asked again: already erased, nothing written.
  const std::string before = DumpStore();
  ASSERT_OK_AND_ASSIGN(LinkIntentStart repeat,
                       Sync<LinkIntentStart>(&Ledger::BeginErasureIntent, erase));
  ASSERT_TRUE(repeat.replayed.has_value());
  v1::EraseSubjectResponse replayed;
  ASSERT_TRUE(replayed.ParseFromString(*repeat.replayed));
  EXPECT_TRUE(replayed.already_erased());
  EXPECT_EQ(DumpStore(), before);
}

}  // namespace
}  // namespace assent::ledger
