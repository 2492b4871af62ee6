// "Download my data" in the ledger (RequestExportLink), over real RocksDB with the fake clock: an
// EXPORT link is minted and sealed in an ExportLinkRequested notice only for an address linked
// to the subject, the answer is the same otherwise, and the rate limit is durable per subject.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "links/sealed.h"
#include "links/token.h"
#include "store/keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kLinked[] = "Jane.Doe@Example.COM";
constexpr char kOther[] = "someone.else@example.com";

class ExportLinkTest : public testing::LedgerFixture {
 protected:
  void Configure(LedgerOptions& options) override {
    options.link_keyring = link_ring_;
    options.confirmation_keyring = seal_ring_;
    options.link_base_url = "https://prefs.example.com";
  }

  void SetUp() override {
    LedgerFixture::SetUp();
    clock_.Set(absl::FromUnixSeconds(1800000000));
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, tenant).status());
    v1::LinkContactPointRequest link;
    link.set_tenant("acme");
    link.set_subject_id("customer-1");
    link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    link.mutable_contact_point()->set_value(kLinked);
    link.set_actor("crm");
    link.set_source("crm-sync");
    ASSERT_OK(Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link).status());
  }

  absl::StatusOr<v1::RequestExportLinkResponse> Ask(std::string_view address,
                                                    std::string_view subject = "customer-1") {
    v1::RequestExportLinkRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(std::string(subject));
    request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    request.mutable_contact_point()->set_value(std::string(address));
    request.set_actor("prefcenter");
    request.set_language("de-AT");
    return Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request,
                                               Caller{"spiffe://prefcenter"});
  }

  // Every ExportLinkRequested in the outbox, in order.
  std::vector<v1::ExportLinkRequested> Notices() {
    std::vector<v1::ExportLinkRequested> out;
    auto it = store_->NewIterator(store::Cf::kOutbox);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      storage::v1::OutboxRecord record;
      EXPECT_TRUE(record.ParseFromString(it->value().ToString()));
      if (record.topic() != storage::v1::TOPIC_LIFECYCLE) continue;
      v1::ExportLinkRequested notice;
      EXPECT_TRUE(notice.ParseFromString(record.value()));
      out.push_back(notice);
    }
    return out;
  }

  std::shared_ptr<const links::KeyRing> link_ring_ = std::make_shared<const links::KeyRing>(
      std::vector<links::KeyRing::Key>{{"l1", std::string(32, 'L'), ""}});
  std::shared_ptr<const links::KeyRing> seal_ring_ = std::make_shared<const links::KeyRing>(
      std::vector<links::KeyRing::Key>{{"s1", std::string(32, 'S'), ""}});
};

TEST_F(ExportLinkTest, LinkedAddressGetsASealedThirtyMinuteExportLinkBoundToItsHash) {
  ASSERT_OK(Ask(kLinked).status());
  auto notices = Notices();
  ASSERT_THAT(notices, SizeIs(1));
  const v1::ExportLinkRequested& notice = notices[0];
  EXPECT_EQ(notice.event_id(), "acme/customer-1/export-link/1");
  EXPECT_EQ(notice.target().subject_id(), "customer-1");
  EXPECT_EQ(FromProto(notice.expire_time()), clock_.Now() + absl::Minutes(30));
  EXPECT_EQ(notice.language(), "de-AT");
  // The address and the link travel only sealed, bound to the event id.
  EXPECT_THAT(notice.SerializeAsString(), ::testing::Not(HasSubstr("example.com")));
  EXPECT_THAT(links::Open(*seal_ring_, notice.sealed(), "acme/customer-1/export-link/2").status(),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  absl::StatusOr<std::string> bytes = links::Open(*seal_ring_, notice.sealed(), notice.event_id());
  ASSERT_OK(bytes.status());
  v1::ConfirmationSecret secret;
  ASSERT_TRUE(secret.ParseFromString(*bytes));
  EXPECT_EQ(secret.contact_point().value(), "Jane.Doe@example.com");
  EXPECT_EQ(secret.url(), "https://prefs.example.com/x/" + secret.token());
  absl::StatusOr<links::LinkClaims> claims =
      links::VerifyLink(*link_ring_, "", secret.token(), clock_.Now());
  ASSERT_OK(claims.status());
  EXPECT_EQ(claims->kind, v1::EXPORT);
  EXPECT_EQ(claims->tenant, "acme");
  EXPECT_EQ(claims->target.subject_id(), "customer-1");
  EXPECT_EQ(claims->address.type(), v1::CONTACT_EMAIL);
  v1::GetContactPointStateRequest get;
  get.set_tenant("acme");
  get.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  get.mutable_contact_point()->set_value(kLinked);
  ASSERT_OK_AND_ASSIGN(v1::ContactPointState linked, ledger_->GetContactPointState(get));
  EXPECT_EQ(claims->address.hash(), linked.contact().hash());
  // Short-lived: refused once 30 minutes have passed.
  EXPECT_THAT(
      links::VerifyLink(*link_ring_, "", secret.token(), clock_.Now() + absl::Minutes(30)).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired")));
}

TEST_F(ExportLinkTest, UnlinkedAddressIsAnsweredTheSameButNothingIsPublished) {
  ASSERT_OK_AND_ASSIGN(v1::RequestExportLinkResponse response, Ask(kOther));
  EXPECT_EQ(response.ByteSizeLong(), 0u);
  EXPECT_THAT(Notices(), SizeIs(0));
  // A subject never recorded: the same answer, nothing published.
  clock_.Advance(absl::Minutes(5));
  ASSERT_OK(Ask(kLinked, "nobody").status());
  EXPECT_THAT(Notices(), SizeIs(0));
}

TEST_F(ExportLinkTest, ContactTargetLinkedToTheSubjectWorksAndAnUnlinkedOneIsRefused) {
  v1::RequestExportLinkRequest request;
  request.set_tenant("acme");
  request.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  request.mutable_target()->mutable_contact_point()->set_value(kLinked);
  *request.mutable_contact_point() = request.target().contact_point();
  request.set_actor("prefcenter");
  ASSERT_OK(Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request).status());
  auto notices = Notices();
  ASSERT_THAT(notices, SizeIs(1));
  EXPECT_EQ(notices[0].target().subject_id(), "customer-1");
  request.mutable_target()->mutable_contact_point()->set_value(kOther);
  EXPECT_THAT(Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("target:")));
}

TEST_F(ExportLinkTest, RateLimitIsPerSubjectWhateverTheAddressAndSurvivesAReopen) {
  ASSERT_OK(Ask(kOther).status());
  // Asked again within 5 minutes, even with the linked address: refused, nothing published.
  EXPECT_THAT(Ask(kLinked).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("5 minutes")));
  EXPECT_THAT(Notices(), SizeIs(0));
  Reopen();
  EXPECT_THAT(Ask(kLinked).status(), StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  clock_.Advance(absl::Minutes(5));
  ASSERT_OK(Ask(kLinked).status());
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Minutes(5));
    ASSERT_OK(Ask(kLinked).status());
  }
  // Five in 24 hours is the most.
  clock_.Advance(absl::Minutes(5));
  EXPECT_THAT(Ask(kLinked).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("24 hours")));
  auto notices = Notices();
  ASSERT_THAT(notices, SizeIs(4));
  EXPECT_EQ(notices.back().event_id(), "acme/customer-1/export-link/5");
  clock_.Advance(absl::Hours(24));
  ASSERT_OK(Ask(kLinked).status());
  EXPECT_THAT(Notices(), SizeIs(5));
}

TEST_F(ExportLinkTest, TheTypedAddressIsInNoStoreFile) {
  // Linked by hash only: the plain address the customer types must not reach the store either.
  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id("customer-2");
  link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  link.mutable_contact_point()->set_value("Kim.Typed@example.org");
  link.set_actor("crm");
  link.set_source("crm-sync");
  ASSERT_OK(Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link).status());
  ASSERT_OK(Ask("Kim.Typed@example.org", "customer-2").status());
  ASSERT_THAT(Notices(), SizeIs(1));
  Close();
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.Sub("db"))) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    EXPECT_EQ(bytes.str().find("Kim.Typed"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.str().find("kim.typed"), std::string::npos) << entry.path();
  }
  EXPECT_GT(files, 0u);
  Open();
}

TEST_F(ExportLinkTest, BadInputNamesTheField) {
  v1::RequestExportLinkRequest request;
  request.set_tenant("acme");
  request.mutable_target()->set_subject_id("customer-1");
  request.set_actor("prefcenter");
  EXPECT_THAT(Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("contact_point")));
  request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  request.mutable_contact_point()->set_value("not an address");
  EXPECT_THAT(Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("contact_point")));
  request.mutable_contact_point()->set_value(kLinked);
  request.set_language("not a tag");
  EXPECT_THAT(Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("language")));
  request.clear_language();
  request.clear_target();
  EXPECT_THAT(Sync<v1::RequestExportLinkResponse>(&Ledger::RequestExportLink, request).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target")));
}

}  // namespace
}  // namespace assent::ledger
