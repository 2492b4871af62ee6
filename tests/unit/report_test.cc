// Consent report aggregates: the key layout and merge operator, the source limit with its
// "other" bucket, group-by and rate arithmetic, and, after a seeded random mix of writes,
// withdrawals, imports, expiries, pending decisions that lapse and erasures through the ledger,
// GetConsentReport equal to counts computed independently from the history column family.
#include "ledger/report.h"

#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/change.h"
#include "store/keys.h"
#include "store/report_keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::HasSubstr;

TEST(ReportKeysTest, KeysRoundTripAndDaysSortInOrder) {
  for (auto family :
       {store::ReportFamily::kPurposeChannel, store::ReportFamily::kJurisdiction,
        store::ReportFamily::kSource, store::ReportFamily::kFull, store::ReportFamily::kSourceOnly,
        store::ReportFamily::kPurposeOnly, store::ReportFamily::kCurrent}) {
    store::ReportKey key;
    key.family = family;
    key.tenant = "acme";
    key.day = family == store::ReportFamily::kCurrent ? 0 : -3;
    if (family != store::ReportFamily::kSourceOnly) key.purpose = "news";
    if (family != store::ReportFamily::kSource && family != store::ReportFamily::kSourceOnly &&
        family != store::ReportFamily::kPurposeOnly) {
      key.channel = v1::SMS;
    }
    if (family == store::ReportFamily::kJurisdiction || family == store::ReportFamily::kFull ||
        family == store::ReportFamily::kCurrent) {
      key.jurisdiction = "US-CA";
    }
    if (family == store::ReportFamily::kSource || family == store::ReportFamily::kFull ||
        family == store::ReportFamily::kSourceOnly) {
      key.source = "web form";
    }
    auto decoded = store::DecodeReportKey(store::EncodeReportKey(key));
    ASSERT_TRUE(decoded.has_value()) << static_cast<char>(family);
    EXPECT_EQ(decoded->tenant, key.tenant);
    EXPECT_EQ(decoded->day, key.day);
    EXPECT_EQ(decoded->purpose, key.purpose);
    EXPECT_EQ(decoded->channel, key.channel);
    EXPECT_EQ(decoded->jurisdiction, key.jurisdiction);
    EXPECT_EQ(decoded->source, key.source);
  }
  EXPECT_LT(store::ReportDayStart(store::ReportFamily::kFull, "acme", -1),
            store::ReportDayStart(store::ReportFamily::kFull, "acme", 0));
  EXPECT_LT(store::ReportDayStart(store::ReportFamily::kFull, "acme", 255),
            store::ReportDayStart(store::ReportFamily::kFull, "acme", 256));
  EXPECT_FALSE(store::DecodeReportKey("x").has_value());
  EXPECT_FALSE(store::DecodeReportKey("pacme").has_value());
  EXPECT_EQ(store::UnixDay(0), 0);
  EXPECT_EQ(store::UnixDay(86399), 0);
  EXPECT_EQ(store::UnixDay(-1), -1);
  EXPECT_EQ(store::UnixDay(86400 * 20000 + 5), 20000);
}

TEST(ReportKeysTest, MergeOperatorAddsCountsElementwise) {
  EXPECT_EQ(store::CountsDelta(3, -1).size(), 2u);
  EXPECT_EQ(store::CountsDelta(3, 500).size(), 40u);
  testing::TempDir dir;
  testing::FakeClock clock;
  store::StoreOptions options;
  options.path = dir.Sub("db");
  options.sync_writes = false;
  auto opened = store::Store::Open(options, clock);
  ASSERT_OK(opened.status());
  store::Store& store = **opened;
  rocksdb::WriteBatch batch;
  batch.Merge(store.Handle(store::Cf::kReports), "k", store::CountsDelta(0, 3));
  batch.Merge(store.Handle(store::Cf::kReports), "k", store::CountsDelta(2, 1));
  batch.Merge(store.Handle(store::Cf::kReports), "k", store::CountsDelta(0, -1));
  batch.Merge(store.Handle(store::Cf::kReports), "k", store::CountsDelta(1, 1000));  // full form
  batch.Merge(store.Handle(store::Cf::kReports), "k", store::CountsDelta(1, -1000));
  ASSERT_OK(store.Write(&batch));
  rocksdb::WriteBatch more;
  more.Merge(store.Handle(store::Cf::kReports), "k", store::CountsDelta(4, 7));
  more.Merge(store.Handle(store::Cf::kReports), "k", "garbage");  // counts as zero
  ASSERT_OK(store.Write(&more));
  auto value = store.Get(store::Cf::kReports, "k");
  ASSERT_OK(value.status());
  ASSERT_TRUE(value->has_value());
  store::ReportCounts counts;
  ASSERT_TRUE(store::DecodeCounts(**value, &counts));
  EXPECT_EQ(counts.n, (std::array<int64_t, 5>{2, 0, 1, 0, 7}));
  // After compaction the same.
  ASSERT_OK(store.CompactAll().status());
  value = store.Get(store::Cf::kReports, "k");
  ASSERT_TRUE(store::DecodeCounts(**value, &counts));
  EXPECT_EQ(counts.n, (std::array<int64_t, 5>{2, 0, 1, 0, 7}));
}

constexpr int64_t kStart = 1800000000;  // 2027-01-15 08:00 UTC

class ReportTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    SetReportSettings(Settings());
    LedgerFixture::SetUp();
    clock_.Set(absl::FromUnixSeconds(kStart));
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, tenant).status());
    for (const std::string id : {"news", "offers", "research"}) {
      v1::CreatePurposeRequest request;
      request.set_parent("tenants/acme");
      v1::Purpose* p = request.mutable_purpose();
      p->set_purpose_id(id);
      p->set_display_name(id);
      p->set_kind(v1::MARKETING);
      p->set_legal_basis(v1::CONSENT);
      p->add_channels(v1::EMAIL);
      p->add_channels(v1::SMS);
      p->set_notice_version(1);
      // Grants from DE need double opt-in (PENDING, lapsing after a day unconfirmed).
      if (id == "news") {
        p->add_confirmation()->set_jurisdiction("DE");
        *p->mutable_pending_ttl() = ToProtoDuration(absl::Hours(24));
      }
      ASSERT_OK(Sync<v1::Purpose>(&Ledger::CreatePurpose, request).status());
    }
  }
  void TearDown() override {
    LedgerFixture::TearDown();
    SetReportSettings(ReportSettings());
  }
  virtual ReportSettings Settings() { return ReportSettings(); }

  absl::Status Record(const std::string& subject, const std::string& purpose, v1::Channel channel,
                      v1::ConsentState state, const std::string& jurisdiction,
                      const std::string& source, absl::Duration ttl = absl::ZeroDuration(),
                      std::optional<absl::Time> imported_at = std::nullopt) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source(source);
    request.set_actor("test");
    request.set_jurisdiction(jurisdiction);
    if (imported_at.has_value()) {
      *request.mutable_import()->mutable_original_effective_time() = ToProto(*imported_at);
      request.mutable_import()->set_origin("old-crm");
    }
    auto* d = request.add_decisions();
    d->set_purpose_id(purpose);
    d->set_channel(channel);
    d->set_state(state);
    if (ttl > absl::ZeroDuration()) *d->mutable_expire_time() = ToProto(clock_.Now() + ttl);
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request).status();
  }

  absl::StatusOr<v1::GetConsentReportResponse> Report(
      const std::vector<v1::ReportDimension>& group_by, const std::string& start = "2026-01-01",
      const std::string& end = "2028-01-01") {
    v1::GetConsentReportRequest request;
    request.set_tenant("acme");
    request.set_start_day(start);
    request.set_end_day(end);
    for (auto d : group_by) request.add_group_by(d);
    request.set_top_sources(100);
    return ledger_->GetConsentReport(request);
  }
};

TEST_F(ReportTest, CountsGroupsAndRates) {
  ASSERT_OK(Record("s1", "offers", v1::EMAIL, v1::GRANTED, "US", "web"));
  ASSERT_OK(Record("s2", "offers", v1::EMAIL, v1::GRANTED, "US", "web"));
  ASSERT_OK(Record("s3", "offers", v1::EMAIL, v1::DENIED, "FR", "app"));
  ASSERT_OK(Record("s1", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "unsubscribe-link"));
  ASSERT_OK(Record("s4", "research", v1::SMS, v1::DENIED, "US", "app"));
  // An import counts on its original day.
  ASSERT_OK(Record("s5", "offers", v1::EMAIL, v1::GRANTED, "US", "crm", absl::ZeroDuration(),
                   absl::FromUnixSeconds(kStart - 86400 * 10)));

  auto by_purpose = Report({v1::REPORT_DIMENSION_PURPOSE});
  ASSERT_OK(by_purpose.status());
  ASSERT_EQ(by_purpose->rows_size(), 2);
  const v1::ReportRow& offers = by_purpose->rows(0);
  EXPECT_EQ(offers.purpose_id(), "offers");
  EXPECT_EQ(offers.counts().grants(), 3);
  EXPECT_EQ(offers.counts().refusals(), 1);
  EXPECT_EQ(offers.counts().withdrawals(), 1);
  EXPECT_DOUBLE_EQ(offers.counts().opt_in_rate(), 3.0 / 5.0);
  const v1::ReportRow& research = by_purpose->rows(1);
  EXPECT_EQ(research.counts().refusals(), 1);
  EXPECT_DOUBLE_EQ(research.counts().opt_in_rate(), 0.0);
  EXPECT_EQ(by_purpose->total().grants(), 3);

  auto by_day = Report({v1::REPORT_DIMENSION_DAY, v1::REPORT_DIMENSION_PURPOSE});
  ASSERT_OK(by_day.status());
  ASSERT_EQ(by_day->rows_size(), 3);
  EXPECT_EQ(by_day->rows(0).day(), "2027-01-05");
  EXPECT_EQ(by_day->rows(0).counts().grants(), 1);
  EXPECT_EQ(by_day->rows(1).day(), "2027-01-15");

  // Only the range asked for.
  auto one_day = Report({}, "2027-01-05", "2027-01-06");
  ASSERT_OK(one_day.status());
  ASSERT_EQ(one_day->rows_size(), 1);
  EXPECT_EQ(one_day->rows(0).counts().grants(), 1);
  EXPECT_EQ(one_day->current_size(), 3);  // current counts ignore the range

  auto by_source = Report({v1::REPORT_DIMENSION_SOURCE, v1::REPORT_DIMENSION_JURISDICTION});
  ASSERT_OK(by_source.status());
  ASSERT_EQ(by_source->top_withdrawal_sources_size(), 1);
  EXPECT_EQ(by_source->top_withdrawal_sources(0).source(), "unsubscribe-link");
  EXPECT_EQ(by_source->top_withdrawal_sources(0).withdrawals(), 1);

  // Current: s1's grant was replaced by its withdrawal.
  int64_t current_grants = 0, current_withdrawals = 0;
  for (const auto& c : by_purpose->current()) {
    current_grants += c.counts().grants();
    current_withdrawals += c.counts().withdrawals();
  }
  EXPECT_EQ(current_grants, 2);
  EXPECT_EQ(current_withdrawals, 1);

  // Filters.
  v1::GetConsentReportRequest filtered;
  filtered.set_tenant("acme");
  filtered.set_start_day("2027-01-01");
  filtered.set_end_day("2027-02-01");
  filtered.add_jurisdictions("FR");
  auto fr = ledger_->GetConsentReport(filtered);
  ASSERT_OK(fr.status());
  EXPECT_EQ(fr->total().refusals(), 1);
  EXPECT_EQ(fr->total().grants(), 0);
  EXPECT_FALSE(fr->total().has_opt_in_rate() && fr->total().opt_in_rate() != 0.0);
}

TEST_F(ReportTest, RejectsBadRequests) {
  EXPECT_THAT(Report({}, "2027-13-01", "2028-01-01"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("start_day")));
  EXPECT_THAT(Report({}, "2027-01-02", "2027-01-01"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end_day")));
  EXPECT_THAT(Report({}, "2000-01-01", "2027-01-01"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end_day")));
  EXPECT_THAT(Report({v1::REPORT_DIMENSION_DAY, v1::REPORT_DIMENSION_DAY}),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("group_by")));
  v1::GetConsentReportRequest unknown;
  unknown.set_tenant("nobody");
  unknown.set_start_day("2027-01-01");
  unknown.set_end_day("2027-01-02");
  EXPECT_THAT(ledger_->GetConsentReport(unknown),
              testing::StatusIs(absl::StatusCode::kNotFound, HasSubstr("tenant")));
}

class ReportSourceLimitTest : public ReportTest {
 protected:
  ReportSettings Settings() override {
    ReportSettings s;
    s.max_sources_per_day = 2;
    return s;
  }
};

TEST_F(ReportSourceLimitTest, SourcesBeyondTheDailyLimitCountAsOther) {
  ASSERT_OK(Record("s1", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "a"));
  ASSERT_OK(Record("s2", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "b"));
  ASSERT_OK(Record("s3", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "c"));
  ASSERT_OK(Record("s4", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "d"));
  ASSERT_OK(Record("s5", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "a"));
  // The next day admits new sources again.
  clock_.Advance(absl::Hours(24));
  ASSERT_OK(Record("s6", "offers", v1::EMAIL, v1::WITHDRAWN, "US", "c"));
  auto report = Report({v1::REPORT_DIMENSION_DAY, v1::REPORT_DIMENSION_SOURCE});
  ASSERT_OK(report.status());
  std::vector<std::tuple<std::string, std::string, int64_t>> rows;
  for (const auto& r : report->rows()) {
    rows.emplace_back(r.day(), r.source(), r.counts().withdrawals());
  }
  EXPECT_THAT(rows, ::testing::ElementsAre(std::make_tuple("2027-01-15", "a", 2),
                                           std::make_tuple("2027-01-15", "b", 1),
                                           std::make_tuple("2027-01-15", "other", 2),
                                           std::make_tuple("2027-01-16", "c", 1)));
}

class ReportsOffTest : public ReportTest {
 protected:
  ReportSettings Settings() override {
    ReportSettings s;
    s.enabled = false;
    return s;
  }
};

TEST_F(ReportsOffTest, WritesNoAggregates) {
  ASSERT_OK(Record("s1", "offers", v1::EMAIL, v1::GRANTED, "US", "web"));
  auto it = store_->NewIterator(store::Cf::kReports);
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
}

// ---- the random mix ----

struct Expected {
  // (day, purpose, channel, jurisdiction, source) -> counts by state index.
  std::map<std::tuple<std::string, std::string, int, std::string, std::string>,
           std::array<int64_t, 5>>
      events;
  // (purpose, channel, jurisdiction) -> counts.
  std::map<std::tuple<std::string, int, std::string>, std::array<int64_t, 5>> current;
};

std::string DayOf(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
}

// Counts from the history column family alone (every DecisionChange.after on its effective day),
// and the current decisions from the stored states of subjects and contact points.
Expected FromHistoryAndStates(const store::Store& store) {
  Expected out;
  auto it = store.NewIterator(store::Cf::kHistory);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::HistoryRecord r;
    EXPECT_TRUE(r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    for (const v1::DecisionChange& c : r.decisions()) {
      if (!c.has_after()) continue;
      const auto& a = c.after();
      const std::string source = a.source().empty() ? r.source() : a.source();
      out.events[{DayOf(a.effective_time().seconds()), a.purpose_id(), a.channel(),
                  a.jurisdiction(), source}][a.state() - 1] += 1;
    }
  }
  for (bool contact : {false, true}) {
    auto states = store.NewIterator(contact ? store::Cf::kContacts : store::Cf::kSubjects);
    for (states->SeekToFirst(); states->Valid(); states->Next()) {
      auto decoded = DecodeStoredDecisions(
          contact, std::string_view(states->value().data(), states->value().size()));
      EXPECT_TRUE(decoded.ok());
      if (!decoded.ok()) continue;
      for (const auto& d : decoded->decisions) {
        out.current[{d.purpose_id(), d.channel(), d.jurisdiction()}][d.state() - 1] += 1;
      }
    }
  }
  return out;
}

std::array<int64_t, 5> Counts(const v1::ReportCounts& c) {
  return {c.grants(), c.refusals(), c.withdrawals(), c.pending(), c.lapsed()};
}

class ReportRandomTest : public ReportTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ReportRandomTest, EqualsCountsFromHistory) {
  std::mt19937 rng(GetParam());
  const std::vector<std::string> purposes = {"news", "offers", "research"};
  const std::vector<v1::Channel> channels = {v1::EMAIL, v1::SMS, v1::CHANNEL_UNSPECIFIED};
  const std::vector<std::string> jurisdictions = {"US", "DE", "FR"};
  const std::vector<std::string> sources = {"web", "app", "crm", "unsubscribe", "sms-stop"};
  auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
  std::vector<std::string> erased;
  for (int step = 0; step < 300; ++step) {
    const std::string subject = "s" + std::to_string(rng() % 40);
    const int op = static_cast<int>(rng() % 100);
    if (op < 45) {
      const v1::ConsentState state = pick(std::vector<v1::ConsentState>{v1::GRANTED, v1::DENIED});
      // Some grants expire within a few hours.
      const absl::Duration ttl = state == v1::GRANTED && rng() % 3 == 0
                                     ? absl::Hours(1 + rng() % 30)
                                     : absl::ZeroDuration();
      ASSERT_OK(Record(subject, pick(purposes), pick(channels), state, pick(jurisdictions),
                       pick(sources), ttl));
    } else if (op < 70) {
      ASSERT_OK(Record(subject, pick(purposes), pick(channels), v1::WITHDRAWN, pick(jurisdictions),
                       pick(sources)));
    } else if (op < 80) {
      // An import from up to 400 days ago.
      ASSERT_OK(Record(subject, pick(purposes), pick(channels),
                       pick(std::vector<v1::ConsentState>{v1::GRANTED, v1::DENIED, v1::WITHDRAWN}),
                       pick(jurisdictions), "crm", absl::ZeroDuration(),
                       clock_.Now() - absl::Hours(rng() % (24 * 400))));
    } else if (op < 92) {
      // Time passes; the sweeper lapses expired grants and unconfirmed PENDING decisions.
      clock_.Advance(absl::Hours(1 + rng() % 20));
      ASSERT_OK(ledger_->SweepDue(clock_.Now(), 100000).status());
    } else {
      v1::EraseSubjectRequest request;
      request.set_tenant("acme");
      request.set_subject_id(subject);
      request.set_actor("privacy-desk");
      request.set_reason("test");
      auto erased_ok = Sync<v1::EraseSubjectResponse>(&Ledger::EraseSubject, request);
      if (erased_ok.ok()) erased.push_back(subject);
    }
  }
  clock_.Advance(absl::Hours(48));
  ASSERT_OK(ledger_->SweepDue(clock_.Now(), 100000).status());

  const Expected expected = FromHistoryAndStates(*store_);
  int64_t lapsed = 0, pending = 0;
  for (const auto& [k, n] : expected.events) {
    lapsed += n[4];
    pending += n[3];
  }
  // The mix exercised what it should.
  EXPECT_GT(lapsed, 0);
  EXPECT_GT(pending, 0);
  EXPECT_FALSE(erased.empty());

  auto report =
      Report({v1::REPORT_DIMENSION_DAY, v1::REPORT_DIMENSION_PURPOSE, v1::REPORT_DIMENSION_CHANNEL,
              v1::REPORT_DIMENSION_JURISDICTION, v1::REPORT_DIMENSION_SOURCE},
             "2025-06-01", "2027-06-01");
  ASSERT_OK(report.status());
  std::map<std::tuple<std::string, std::string, int, std::string, std::string>,
           std::array<int64_t, 5>>
      got;
  for (const auto& r : report->rows()) {
    got[{r.day(), r.purpose_id(), r.channel(), r.jurisdiction(), r.source()}] = Counts(r.counts());
  }
  EXPECT_EQ(got, expected.events);

  std::map<std::tuple<std::string, int, std::string>, std::array<int64_t, 5>> current;
  for (const auto& c : report->current()) {
    current[{c.purpose_id(), c.channel(), c.jurisdiction()}] = Counts(c.counts());
  }
  EXPECT_EQ(current, expected.current);

  // Coarser group-bys (other families) agree with the fine rows summed.
  auto by_day_purpose =
      Report({v1::REPORT_DIMENSION_DAY, v1::REPORT_DIMENSION_PURPOSE}, "2025-06-01", "2027-06-01");
  ASSERT_OK(by_day_purpose.status());
  std::map<std::pair<std::string, std::string>, std::array<int64_t, 5>> coarse, summed;
  for (const auto& r : by_day_purpose->rows()) {
    coarse[{r.day(), r.purpose_id()}] = Counts(r.counts());
  }
  std::map<std::string, int64_t> withdrawals_by_source;
  for (const auto& [k, n] : expected.events) {
    for (int i = 0; i < 5; ++i) summed[{std::get<0>(k), std::get<1>(k)}][i] += n[i];
    if (n[2] != 0) withdrawals_by_source[std::get<4>(k)] += n[2];
  }
  EXPECT_EQ(coarse, summed);
  std::map<std::string, int64_t> top;
  for (const auto& s : by_day_purpose->top_withdrawal_sources()) top[s.source()] = s.withdrawals();
  EXPECT_EQ(top, withdrawals_by_source);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReportRandomTest, ::testing::Values(1u, 7u, 42u, 2026u));

}  // namespace
}  // namespace assent::ledger
