// Web consent signals on the write path (core/consent_signals.h via Ledger::PrepareDecisions):
// a GPP opt-out recorded becomes a TARGETED_ADS withdrawal that Check enforces; a TC string
// records the purposes mapped to TCF purpose ids; strings that do not decode are refused with
// nothing stored. Over real RocksDB (testing/ledger_fixture.h).
#include <string>
#include <vector>

#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

// @iabgpp/cmpapi UsNat.test.ts: SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut = 1.
constexpr char kGppOptOut[] = "DBABLA~CVVVkkkkkpFY.YA";
// Same section, the customer did not opt out (2).
constexpr char kGppNoOptOut[] = "DBABLA~CVQqAAAACg";
// @iabtechlabtcf/core TCString.test.ts: purposeConsents 1..11.
constexpr char kTcAllPurposes[] = "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA";
// @iabgpp/cmpapi GppModel.test.ts tcfeuv2 section: no purpose consents.
constexpr char kTcNoPurposes[] =
    "CPSG_8APSG_8ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA";

class SignalDecisionsTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_TRUE((Sync<v1::Tenant>(&Ledger::CreateTenant, tenant)).ok());
    ASSERT_OK(CreatePurpose("marketing.newsletter", v1::MARKETING, {v1::EMAIL}, {}));
    ASSERT_OK(CreatePurpose("ads.sale", v1::SALE_OR_SHARE, {v1::TARGETED_ADS, v1::EMAIL}, {}));
    ASSERT_OK(CreatePurpose("site.analytics", v1::ANALYTICS, {v1::IN_APP}, {1, 9}));
    ASSERT_OK(CreatePurpose("site.personalization", v1::PERSONALIZATION, {v1::IN_APP}, {1, 5}));
  }

  absl::StatusOr<v1::Purpose> CreatePurpose(const std::string& id, v1::PurposeKind kind,
                                            std::vector<v1::Channel> channels,
                                            std::vector<uint32_t> tcf_ids) {
    v1::CreatePurposeRequest request;
    request.set_parent("tenants/acme");
    v1::Purpose* p = request.mutable_purpose();
    p->set_purpose_id(id);
    p->set_display_name(id);
    p->set_kind(kind);
    p->set_legal_basis(v1::CONSENT);
    for (auto c : channels) p->add_channels(c);
    for (uint32_t t : tcf_ids) p->add_tcf_purpose_ids(t);
    p->set_notice_version(1);
    return Sync<v1::Purpose>(&Ledger::CreatePurpose, request);
  }

  v1::RecordDecisionsRequest Decision(const std::string& purpose, v1::Channel channel,
                                      v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id("s1");
    request.set_source("cmp-banner");
    request.set_actor("web");
    auto* d = request.add_decisions();
    d->set_purpose_id(purpose);
    d->set_channel(channel);
    d->set_state(state);
    return request;
  }

  absl::StatusOr<v1::RecordDecisionsResponse> Record(const v1::RecordDecisionsRequest& request) {
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request);
  }

  v1::CheckResponse Check(const std::string& purpose, v1::Channel channel) {
    v1::CheckRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id("s1");
    request.set_purpose_id(purpose);
    request.set_channel(channel);
    auto response = ledger_->Check(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::CheckResponse();
  }

  std::vector<v1::HistoryRecord> History() {
    v1::ListHistoryRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id("s1");
    auto page = ledger_->ListHistory(request);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return {};
    return {page->records().begin(), page->records().end()};
  }
};

TEST_F(SignalDecisionsTest, GppOptOutWithdrawsTargetedAdsAndCheckDenies) {
  ASSERT_OK(Record(Decision("ads.sale", v1::TARGETED_ADS, v1::GRANTED)));
  EXPECT_EQ(Check("ads.sale", v1::TARGETED_ADS).verdict(), v1::ALLOW);

  v1::RecordDecisionsRequest request = Decision("marketing.newsletter", v1::EMAIL, v1::GRANTED);
  request.mutable_evidence()->set_gpp_string(kGppOptOut);
  ASSERT_OK(Record(request));

  EXPECT_EQ(Check("ads.sale", v1::TARGETED_ADS).verdict(), v1::DENY);
  EXPECT_EQ(Check("marketing.newsletter", v1::EMAIL).verdict(), v1::ALLOW);
  // One history record holds both: the request's decision and the one the GPP string implies,
  // with the string as evidence and the request's source.
  std::vector<v1::HistoryRecord> history = History();
  ASSERT_THAT(history, SizeIs(2));
  ASSERT_THAT(history[1].decisions(), SizeIs(2));
  const v1::ConsentRecord& derived = history[1].decisions(1).after();
  EXPECT_EQ(derived.purpose_id(), "ads.sale");
  EXPECT_EQ(derived.channel(), v1::TARGETED_ADS);
  EXPECT_EQ(derived.state(), v1::WITHDRAWN);
  EXPECT_EQ(derived.source(), "cmp-banner");
  EXPECT_EQ(derived.evidence().gpp_string(), kGppOptOut);
}

TEST_F(SignalDecisionsTest, GppWithoutOptOutAndExplicitDecisionsAddNothing) {
  v1::RecordDecisionsRequest kept = Decision("marketing.newsletter", v1::EMAIL, v1::GRANTED);
  kept.mutable_evidence()->set_gpp_string(kGppNoOptOut);
  ASSERT_OK(Record(kept));
  ASSERT_THAT(History().back().decisions(), SizeIs(1));

  // The request's own TARGETED_ADS decision for the purpose wins over the signal.
  v1::RecordDecisionsRequest own = Decision("ads.sale", v1::TARGETED_ADS, v1::GRANTED);
  own.mutable_evidence()->set_gpp_string(kGppOptOut);
  ASSERT_OK(Record(own));
  ASSERT_THAT(History().back().decisions(), SizeIs(1));
  EXPECT_EQ(Check("ads.sale", v1::TARGETED_ADS).verdict(), v1::ALLOW);
}

TEST_F(SignalDecisionsTest, TcStringRecordsMappedPurposes) {
  v1::RecordDecisionsRequest all = Decision("marketing.newsletter", v1::EMAIL, v1::GRANTED);
  all.mutable_evidence()->set_tcf_string(kTcAllPurposes);
  ASSERT_OK(Record(all));
  EXPECT_EQ(Check("site.analytics", v1::IN_APP).verdict(), v1::ALLOW);
  EXPECT_EQ(Check("site.personalization", v1::IN_APP).verdict(), v1::ALLOW);
  // Not mapped to TCF purposes: untouched (no decision for ads.sale on IN_APP... nor anywhere).
  ASSERT_THAT(History().back().decisions(), SizeIs(3));

  // A string without those consents denies both, except where the request decides itself.
  v1::RecordDecisionsRequest none = Decision("site.personalization", v1::IN_APP, v1::GRANTED);
  none.mutable_evidence()->set_tcf_string(kTcNoPurposes);
  ASSERT_OK(Record(none));
  EXPECT_EQ(Check("site.analytics", v1::IN_APP).verdict(), v1::DENY);
  EXPECT_EQ(Check("site.personalization", v1::IN_APP).verdict(), v1::ALLOW);
  const v1::HistoryRecord last = History().back();
  ASSERT_THAT(last.decisions(), SizeIs(2));
  EXPECT_EQ(last.decisions(1).after().purpose_id(), "site.analytics");
  EXPECT_EQ(last.decisions(1).after().state(), v1::DENIED);
  EXPECT_EQ(last.decisions(1).after().evidence().tcf_string(), kTcNoPurposes);
}

TEST_F(SignalDecisionsTest, UndecodableStringsAreRefusedWithNothingStored) {
  ASSERT_OK(Record(Decision("marketing.newsletter", v1::EMAIL, v1::GRANTED)));
  const size_t before = History().size();

  v1::RecordDecisionsRequest bad_gpp = Decision("marketing.newsletter", v1::EMAIL, v1::DENIED);
  bad_gpp.mutable_evidence()->set_gpp_string("DBABLA~CVQq");
  absl::StatusOr<v1::RecordDecisionsResponse> gpp = Record(bad_gpp);
  ASSERT_FALSE(gpp.ok());
  EXPECT_EQ(gpp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(gpp.status().message()),
              StartsWith("evidence.gpp_string: gpp usnat core segment: bit 24: "));

  v1::RecordDecisionsRequest bad_tcf = Decision("marketing.newsletter", v1::EMAIL, v1::DENIED);
  bad_tcf.mutable_evidence()->set_tcf_string("not a TC string");
  absl::StatusOr<v1::RecordDecisionsResponse> tcf = Record(bad_tcf);
  ASSERT_FALSE(tcf.ok());
  EXPECT_EQ(tcf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tcf.status().message()), StartsWith("evidence.tcf_string: tcf core"));

  EXPECT_EQ(History().size(), before);
  EXPECT_EQ(Check("marketing.newsletter", v1::EMAIL).verdict(), v1::ALLOW);
}

TEST_F(SignalDecisionsTest, TcfPurposeIdsAreValidated) {
  absl::StatusOr<v1::Purpose> high = CreatePurpose("p.high", v1::ANALYTICS, {v1::IN_APP}, {12});
  ASSERT_FALSE(high.ok());
  EXPECT_THAT(std::string(high.status().message()), HasSubstr("tcf_purpose_ids[0]: must be"));
  absl::StatusOr<v1::Purpose> dup = CreatePurpose("p.dup", v1::ANALYTICS, {v1::IN_APP}, {3, 3});
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("tcf_purpose_ids[1]: is a duplicate"));
  ASSERT_OK(CreatePurpose("p.ok", v1::ANALYTICS, {v1::IN_APP}, {1, 11}));
}

}  // namespace
}  // namespace assent::ledger
