// Consent reports through the real consentd and assentctl: GetConsentReport counts what was
// recorded, `assentctl report` prints it as a table, --json and --csv, renders a chart with
// gnuplot (an SVG naming the purposes), and the dashboard's metrics carry the counts with sources
// limited to reports.top_sources per tenant.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "assent/v1/report.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

std::string Today(int offset) {
  return absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) + offset);
}

class ReportIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    ASSERT_NO_FATAL_FAILURE(server_->Start({"--reports-top-sources", "2"}));
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL, v1::SMS}));
    v1::CreatePurposeRequest purpose;
    purpose.set_parent("tenants/acme");
    v1::Purpose* p = purpose.mutable_purpose();
    p->set_purpose_id("research.surveys");
    p->set_display_name("Surveys");
    p->set_kind(v1::MARKETING);
    p->set_legal_basis(v1::CONSENT);
    p->add_channels(v1::EMAIL);
    p->set_notice_version(1);
    v1::Purpose out;
    auto catalog = v1::CatalogService::NewStub(server_->channel());
    ASSERT_TRUE(catalog->CreatePurpose(Ctx().get(), purpose, &out).ok());
  }

  void Record(const std::string& subject, const std::string& purpose, v1::ConsentState state,
              const std::string& source) {
    v1::RecordDecisionsRequest r;
    r.set_tenant("acme");
    r.mutable_target()->set_subject_id(subject);
    r.set_actor("test");
    r.set_source(source);
    r.set_jurisdiction("DE");
    auto* d = r.add_decisions();
    d->set_purpose_id(purpose);
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), r, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  struct CtlRun {
    int exit_status = -1;
    std::string out;
  };
  CtlRun Assentctl(const std::string& args, const std::string& env = "") {
    int status = 0;
    CtlRun run;
    run.out =
        testing::RunCommand(absl::StrCat(env, ASSENTCTL_PATH, " --server ", server_->address(),
                                         " --tenant acme ", args, " 2>&1"),
                            &status);
    run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(ReportIntegrationTest, ReportRpcAssentctlChartAndMetrics) {
  Record("c1", "marketing.newsletter", v1::GRANTED, "web-signup");
  Record("c2", "marketing.newsletter", v1::GRANTED, "web-signup");
  Record("c3", "marketing.newsletter", v1::DENIED, "web-signup");
  Record("c1", "marketing.newsletter", v1::WITHDRAWN, "unsubscribe-link");
  Record("c2", "marketing.newsletter", v1::WITHDRAWN, "preference-center");
  Record("c3", "research.surveys", v1::WITHDRAWN, "sms-stop");
  Record("c4", "research.surveys", v1::GRANTED, "app");

  auto reports = v1::ReportService::NewStub(server_->channel());
  v1::GetConsentReportRequest request;
  request.set_tenant("acme");
  request.set_start_day(Today(-1));
  request.set_end_day(Today(2));
  request.add_group_by(v1::REPORT_DIMENSION_PURPOSE);
  v1::GetConsentReportResponse response;
  grpc::Status s = reports->GetConsentReport(Ctx().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.rows_size(), 2);
  EXPECT_EQ(response.rows(0).purpose_id(), "marketing.newsletter");
  EXPECT_EQ(response.rows(0).counts().grants(), 2);
  EXPECT_EQ(response.rows(0).counts().refusals(), 1);
  EXPECT_EQ(response.rows(0).counts().withdrawals(), 2);
  EXPECT_DOUBLE_EQ(response.rows(0).counts().opt_in_rate(), 0.4);
  EXPECT_EQ(response.total().withdrawals(), 3);
  EXPECT_EQ(response.top_withdrawal_sources_size(), 3);

  // Table.
  CtlRun table = Assentctl(absl::StrCat("report --from ", Today(-1), " --to ", Today(2)));
  ASSERT_EQ(table.exit_status, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("marketing.newsletter"));
  EXPECT_THAT(table.out, HasSubstr("0.4000"));
  EXPECT_THAT(table.out, HasSubstr("Top sources of withdrawals"));

  // JSON: the response, in the proto3 JSON mapping.
  CtlRun json = Assentctl(
      absl::StrCat("report --json --group-by purpose --from ", Today(-1), " --to ", Today(2)));
  ASSERT_EQ(json.exit_status, 0) << json.out;
  const nlohmann::json parsed = nlohmann::json::parse(json.out);
  ASSERT_EQ(parsed["rows"].size(), 2u);
  EXPECT_EQ(parsed["rows"][1]["purposeId"], "research.surveys");
  EXPECT_EQ(parsed["rows"][1]["counts"]["grants"], "1");
  EXPECT_EQ(parsed["total"]["withdrawals"], "3");

  // CSV.
  CtlRun csv = Assentctl(
      absl::StrCat("report --csv --group-by day,purpose --from ", Today(-1), " --to ", Today(2)));
  ASSERT_EQ(csv.exit_status, 0) << csv.out;
  std::vector<std::string> lines = absl::StrSplit(csv.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << csv.out;
  EXPECT_EQ(lines[0], "day,purpose,grants,refusals,withdrawals,pending,lapsed,opt_in_rate");
  EXPECT_EQ(lines[1], absl::StrCat(Today(0), ",marketing.newsletter,2,1,2,0,0,0.4000"));

  // Bad input names the flag / field.
  CtlRun bad = Assentctl("report --from 2026-02-30");
  EXPECT_NE(bad.exit_status, 0);
  EXPECT_THAT(bad.out, HasSubstr("start_day"));

  // Chart: an SVG gnuplot made, naming the purposes.
  const std::string chart = dir_.Sub("report.svg");
  CtlRun charted =
      Assentctl(absl::StrCat("report --chart ", chart, " --from ", Today(-7), " --to ", Today(2)));
  ASSERT_EQ(charted.exit_status, 0) << charted.out;
  std::ifstream in(chart);
  std::stringstream svg;
  svg << in.rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<svg"));
  EXPECT_THAT(svg.str(), HasSubstr("Gnuplot"));
  EXPECT_THAT(svg.str(), HasSubstr("marketing.newsletter"));
  EXPECT_THAT(svg.str(), HasSubstr("research.surveys"));
  EXPECT_THAT(svg.str(), HasSubstr("unsubscribe-link"));
  // Without gnuplot: a clear error.
  CtlRun missing = Assentctl(absl::StrCat("report --chart ", dir_.Sub("none.svg")),
                             "ASSENT_GNUPLOT=/nonexistent/gnuplot PATH=/nonexistent ");
  EXPECT_NE(missing.exit_status, 0);

  // Metrics: counts per tenant/purpose/channel/state; the first 2 withdrawal sources labelled,
  // the third as other.
  int status = 0;
  const std::string metrics = testing::RunCommand(
      absl::StrCat("curl -s --max-time 5 'http://", server_->metrics_address(), "/metrics'"),
      &status);
  EXPECT_THAT(metrics, HasSubstr("assent_consent_decisions_recorded_total{channel=\"email\","
                                 "purpose=\"marketing.newsletter\",state=\"granted\","
                                 "tenant=\"acme\"} 2"));
  EXPECT_THAT(metrics,
              HasSubstr("assent_consent_withdrawals_total{purpose=\"marketing.newsletter\","
                        "source=\"unsubscribe-link\",tenant=\"acme\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("assent_consent_withdrawals_total{purpose=\"research.surveys\","
                                 "source=\"other\",tenant=\"acme\"} 1"));
  EXPECT_THAT(metrics, Not(HasSubstr("source=\"sms-stop\"")));
}

}  // namespace
}  // namespace assent
