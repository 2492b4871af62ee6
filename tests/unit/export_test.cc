// Subject export over real RocksDB: a 10,000-record history streams in bounded pages from one
// snapshot with its chain verified; errors name their field; a tampered record is reported; the
// JSON rendering validates against docs/export.schema.json, which matches the proto; the
// ISO/IEC TS 27560 rendering has one record per decision.
#include "ledger/export.h"

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/synchronization/notification.h"
#include "assentctl/export_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/history.h"
#include "nlohmann/json.hpp"
#include "store/keys.h"
#include "testing/json_schema.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::HasSubstr;

constexpr int kHistory = 10000;

class ExportTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, tenant).status());
    v1::CreatePurposeRequest purpose;
    purpose.set_parent("tenants/acme");
    v1::Purpose* p = purpose.mutable_purpose();
    p->set_purpose_id("marketing.newsletter");
    p->set_display_name("Newsletter");
    p->set_kind(v1::MARKETING);
    p->set_legal_basis(v1::CONSENT);
    p->add_channels(v1::EMAIL);
    p->set_notice_version(1);
    ASSERT_OK(Sync<v1::Purpose>(&Ledger::CreatePurpose, purpose).status());
  }

  static v1::RecordDecisionsRequest Decision(const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    request.mutable_evidence()->set_ip_address("198.51.100.7");
    request.mutable_evidence()->set_user_agent("Mozilla/5.0 (test)");
    request.mutable_evidence()->set_language("en");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    return request;
  }

  // Records `n` alternating grants and withdrawals for `subject`, many in flight at once (the
  // committer orders them and group-commits, so this costs few fsyncs).
  void RecordMany(const std::string& subject, int n) {
    constexpr int kWave = 500;
    for (int start = 0; start < n; start += kWave) {
      const int count = std::min(kWave, n - start);
      std::atomic<int> left{count};
      std::atomic<int> failed{0};
      absl::Notification done;
      for (int i = 0; i < count; ++i) {
        ledger_->RecordDecisions(
            Decision(subject, (start + i) % 2 == 0 ? v1::GRANTED : v1::WITHDRAWN),
            absl::InfiniteFuture(), [&](absl::StatusOr<v1::RecordDecisionsResponse> r) {
              if (!r.ok()) failed.fetch_add(1);
              if (left.fetch_sub(1) == 1) done.Notify();
            });
      }
      done.WaitForNotification();
      ASSERT_EQ(failed.load(), 0);
    }
  }

  absl::StatusOr<std::unique_ptr<SubjectExport>> Export(const std::string& subject,
                                                        uint32_t page_size = 0,
                                                        const std::string& tenant = "acme") {
    v1::ExportSubjectRequest request;
    request.set_tenant(tenant);
    request.set_subject_id(subject);
    request.set_page_size(page_size);
    return ledger_->ExportSubject(request);
  }

  // Every chunk of an export, as the service streams them.
  std::vector<v1::ExportChunk> Chunks(SubjectExport& exporter) {
    std::vector<v1::ExportChunk> chunks;
    *chunks.emplace_back().mutable_header() = exporter.header();
    while (true) {
      v1::ExportChunk chunk;
      auto more = exporter.NextPage(*chunk.mutable_history());
      EXPECT_OK(more.status());
      if (!more.ok() || !*more) break;
      chunks.push_back(std::move(chunk));
    }
    *chunks.emplace_back().mutable_trailer() = exporter.Trailer();
    return chunks;
  }

  static nlohmann::json ReadSchema() {
    std::ifstream in(ASSENT_SOURCE_DIR "/docs/export.schema.json");
    EXPECT_TRUE(in.good()) << "docs/export.schema.json is missing";
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  }
};

TEST_F(ExportTest, TenThousandRecordsStreamInBoundedPagesFromOneSnapshot) {
  ASSERT_NO_FATAL_FAILURE(RecordMany("s1", kHistory));
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s1");
  ASSERT_OK_AND_ASSIGN(v1::SubjectState state, ledger_->GetSubjectState(get));
  ASSERT_EQ(state.sequence(), static_cast<uint64_t>(kHistory));

  ASSERT_OK_AND_ASSIGN(auto exporter, Export("s1", 250));
  EXPECT_EQ(exporter->header().history_length(), static_cast<uint64_t>(kHistory));
  EXPECT_EQ(exporter->header().subject().chain_head(), state.chain_head());

  uint64_t expected = 1;
  int pages = 0;
  v1::ExportHistoryPage page;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool more, exporter->NextPage(page));
    if (!more) break;
    ++pages;
    ASSERT_LE(page.records_size(), 250);
    for (const v1::ExportedRecord& r : page.records()) {
      ASSERT_EQ(r.record().sequence(), expected) << "records out of order or missing";
      ++expected;
    }
    if (pages == 1) {
      // A write after the export began is not part of it: the export reads its snapshot.
      ASSERT_OK(
          Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, Decision("s1", v1::GRANTED))
              .status());
    }
  }
  EXPECT_EQ(expected - 1, static_cast<uint64_t>(kHistory));
  EXPECT_EQ(pages, kHistory / 250);
  // What the reader held at most: one page, never the history.
  EXPECT_EQ(exporter->max_records_held(), 250u);
  const v1::ExportTrailer trailer = exporter->Trailer();
  EXPECT_TRUE(trailer.chain_verified()) << trailer.problem();
  EXPECT_EQ(trailer.record_count(), static_cast<uint64_t>(kHistory));
  EXPECT_EQ(trailer.chain_head(), state.chain_head());
}

TEST_F(ExportTest, HeaderHoldsStateAndLinkedContactPoints) {
  ASSERT_NO_FATAL_FAILURE(RecordMany("s1", 3));
  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id("s1");
  link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  link.mutable_contact_point()->set_value("jane@example.com");
  link.set_actor("crm");
  link.set_source("crm-sync");
  ASSERT_OK(Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, link).status());

  ASSERT_OK_AND_ASSIGN(auto exporter, Export("s1"));
  const v1::ExportHeader& header = exporter->header();
  EXPECT_EQ(header.subject().subject_id(), "s1");
  EXPECT_EQ(header.subject().decisions_size(), 1);
  ASSERT_EQ(header.contacts_size(), 1);
  EXPECT_EQ(header.contacts(0).linked_subject_id(), "s1");
  // Contact points only as keyed hashes: the address itself appears nowhere in the export.
  EXPECT_EQ(header.contacts(0).contact().hash().size(), 64u);
  std::string everything;
  for (const auto& chunk : Chunks(*exporter)) everything += chunk.SerializeAsString();
  EXPECT_EQ(everything.find("jane@example.com"), std::string::npos);
  EXPECT_EQ(header.history_length(), 4u);  // 3 decisions + the link
}

TEST_F(ExportTest, ErrorsNameTheField) {
  ASSERT_NO_FATAL_FAILURE(RecordMany("s1", 1));
  EXPECT_THAT(Export("nobody").status(),
              testing::StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
  EXPECT_THAT(Export("s1", 0, "globex").status(),
              testing::StatusIs(absl::StatusCode::kNotFound, HasSubstr("tenant")));
  EXPECT_THAT(Export("").status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_id")));
  EXPECT_THAT(Export("s1", 1001).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

TEST_F(ExportTest, ATamperedRecordIsReportedAsVerifyChainReportsIt) {
  ASSERT_NO_FATAL_FAILURE(RecordMany("s1", 12));
  // Rewrite record 5 in place with another source and its old hash, as an attacker would.
  const std::string key = store::HistoryKey("acme", store::SubjectEntity("s1"), 5);
  ASSERT_OK_AND_ASSIGN(auto raw, store_->Get(store::Cf::kHistory, key));
  ASSERT_TRUE(raw.has_value());
  v1::HistoryRecord record;
  ASSERT_TRUE(record.ParseFromString(*raw));
  record.set_source("forged");
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put(store_->Handle(store::Cf::kHistory), key, record.SerializeAsString()).ok());
  ASSERT_OK(store_->Write(&batch));

  ASSERT_OK_AND_ASSIGN(auto exporter, Export("s1", 4));
  const std::vector<v1::ExportChunk> chunks = Chunks(*exporter);
  const v1::ExportTrailer& trailer = chunks.back().trailer();
  EXPECT_FALSE(trailer.chain_verified());
  EXPECT_EQ(trailer.first_broken_sequence(), 5u);
  EXPECT_EQ(trailer.record_count(), 12u);  // the export still holds every record

  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("s1");
  ASSERT_OK_AND_ASSIGN(v1::VerifyHistoryResponse whole, ledger_->VerifyHistory(verify));
  EXPECT_EQ(whole.valid(), trailer.chain_verified());
  EXPECT_EQ(whole.first_broken_sequence(), trailer.first_broken_sequence());
  EXPECT_EQ(whole.problem(), trailer.problem());
}

TEST_F(ExportTest, TheDocumentedSchemaIsTheProtosJsonFieldList) {
  const nlohmann::json documented = ReadSchema();
  const nlohmann::json derived = testing::ProtoJsonSchema(v1::ExportChunk::descriptor());
  EXPECT_EQ(documented, derived)
      << "docs/export.schema.json no longer matches export.proto; the derived schema is:\n"
      << derived.dump(2);
}

TEST_F(ExportTest, JsonLinesValidateAgainstTheDocumentedSchema) {
  ASSERT_NO_FATAL_FAILURE(RecordMany("s1", 30));
  v1::SetPreferencesRequest prefs;
  prefs.set_tenant("acme");
  prefs.set_subject_id("s1");
  prefs.set_actor("prefcenter");
  prefs.set_source("web");
  prefs.mutable_preferences()->set_preferred_language("de");
  ASSERT_OK(Sync<v1::SetPreferencesResponse>(&Ledger::SetPreferences, prefs).status());
  ASSERT_OK_AND_ASSIGN(auto exporter, Export("s1", 7));
  const nlohmann::json schema = ReadSchema();
  ctl::ExportWriter writer(ctl::ExportFormat::kJson);
  std::string text;
  for (const auto& chunk : Chunks(*exporter)) text += writer.Render(chunk);
  std::istringstream lines(text);
  std::string line;
  int count = 0;
  nlohmann::json first;
  while (std::getline(lines, line)) {
    const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(value.is_discarded()) << line;
    EXPECT_EQ(testing::CheckJsonSchema(schema, schema, value), "") << line;
    if (count++ == 0) first = value;
  }
  EXPECT_EQ(count, 1 + 5 + 1);  // header, 31 records in pages of 7, trailer
  ASSERT_TRUE(first.contains("header"));
  EXPECT_EQ(first["header"]["subject"]["preferences"]["preferredLanguage"], "de");
  // The checker does reject what the list does not document.
  first["header"]["subject"]["favouriteColour"] = "blue";
  EXPECT_THAT(testing::CheckJsonSchema(schema, schema, first),
              HasSubstr("$.header.subject.favouriteColour: is not in the documented field list"));
  nlohmann::json two = {{"header", first["header"]}, {"trailer", nlohmann::json::object()}};
  EXPECT_THAT(testing::CheckJsonSchema(schema, schema, two), HasSubstr("more properties"));
}

TEST_F(ExportTest, Iso27560HasOneRecordPerDecision) {
  ASSERT_NO_FATAL_FAILURE(RecordMany("s1", 2));  // a grant, then a withdrawal
  ASSERT_OK_AND_ASSIGN(auto exporter, Export("s1"));
  v1::GetPurposeRequest get;
  get.set_name("tenants/acme/purposes/marketing.newsletter");
  ASSERT_OK_AND_ASSIGN(const v1::Purpose purpose, ledger_->GetPurpose(get));
  std::vector<std::pair<std::string, uint32_t>> asked;
  ctl::ExportWriter writer(ctl::ExportFormat::kIso27560,
                           [&](const std::string& id, uint32_t version) -> const v1::Purpose* {
                             asked.emplace_back(id, version);
                             return &purpose;
                           });
  std::string text;
  for (const auto& chunk : Chunks(*exporter)) text += writer.Render(chunk);
  std::istringstream lines(text);
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["pii_principal_id"], "s1");
  EXPECT_EQ(records[0]["record_id"], "acme/s1/1-0");
  EXPECT_EQ(records[0]["purposes"][0]["purpose"], "marketing.newsletter");
  EXPECT_EQ(records[0]["purposes"][0]["channel"], "EMAIL");
  EXPECT_EQ(records[0]["event"][0]["event_state"], "given");
  EXPECT_EQ(records[1]["event"][0]["event_state"], "withdrawn");
  EXPECT_EQ(records[0]["collection_evidence"]["ip_address"], "198.51.100.7");
  EXPECT_EQ(records[1]["record_integrity"]["history_sequence"], 2);
  EXPECT_EQ(records[0]["pii_controllers"][0]["controller_id"], "acme");
  EXPECT_EQ(records[0]["purposes"][0]["lawful_basis"], "consent");
  EXPECT_EQ(records[0]["purposes"][0]["purpose_description"], "Newsletter");
  EXPECT_EQ(records[0]["purposes"][0]["purpose_category"], "marketing");
  EXPECT_THAT(asked, ::testing::Each(std::pair<std::string, uint32_t>("marketing.newsletter", 1)));
}

}  // namespace
}  // namespace assent::ledger
