// Operability of the real consentd: /metrics passes promtool and moves with traffic, a real
// Prometheus server scrapes it, /healthz and /readyz answer, and health turns NOT_SERVING on
// SIGTERM before the server stops.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;

std::string Http(const std::string& url, int* code = nullptr) {
  int status = 0;
  std::string out = testing::RunCommand(
      absl::StrCat("curl -s -o - -w '\\n%{http_code}' --max-time 10 '", url, "'"), &status);
  const size_t nl = out.rfind('\n');
  if (code != nullptr) (void)absl::SimpleAtoi(out.substr(nl + 1), code);
  return out.substr(0, nl);
}

// The value of one sample line in Prometheus text format ("name{labels} value"); -1 if absent.
double Sample(const std::string& metrics, const std::string& series) {
  size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  at += series.size() + 2;
  double value = -1;
  (void)absl::SimpleAtod(metrics.substr(at, metrics.find('\n', at) - at), &value);
  return value;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start({"--shutdown-delay", "3s"});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_FALSE(server_->metrics_address().empty());
    ASSERT_TRUE(server_->SeedCatalog("news", {v1::EMAIL}));
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  void Checks(int n) {
    for (int i = 0; i < n; ++i) {
      v1::CheckRequest request;
      request.set_tenant("acme");
      request.mutable_target()->set_subject_id("u1");
      request.set_purpose_id("news");
      request.set_channel(v1::EMAIL);
      v1::CheckResponse response;
      ASSERT_TRUE(server_->consent().Check(Ctx().get(), request, &response).ok());
    }
  }

  std::string Metrics() {
    return Http(absl::StrCat("http://", server_->metrics_address(), "/metrics"));
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(MetricsTest, CountersMoveWithTrafficAndPassPromtool) {
  const std::string ok_checks =
      "assent_rpc_requests_total{code=\"OK\",method=\"Check\",service=\"ConsentService\"}";
  const std::string no_consent =
      "assent_check_verdicts_total{reason=\"NO_CONSENT\",verdict=\"DENY\"}";
  Checks(1);
  const std::string before = Metrics();
  Checks(7);
  v1::RecordDecisionsRequest record;
  record.set_tenant("acme");
  record.mutable_target()->set_subject_id("u2");
  record.set_source("web");
  record.set_actor("test");
  record.add_decisions()->set_purpose_id("news");
  record.mutable_decisions(0)->set_state(v1::GRANTED);
  v1::RecordDecisionsResponse recorded;
  ASSERT_TRUE(server_->consent().RecordDecisions(Ctx().get(), record, &recorded).ok());
  record.set_tenant("nope");
  EXPECT_FALSE(server_->consent().RecordDecisions(Ctx().get(), record, &recorded).ok());
  const std::string after = Metrics();

  EXPECT_EQ(Sample(after, ok_checks) - Sample(before, ok_checks), 7);
  EXPECT_EQ(Sample(after, no_consent) - Sample(before, no_consent), 7);
  EXPECT_EQ(
      Sample(after, "assent_decisions_written_total{purpose_kind=\"MARKETING\",state=\"GRANTED\"}"),
      1);
  EXPECT_EQ(Sample(after,
                   "assent_rpc_requests_total{code=\"NOT_FOUND\",method=\"RecordDecisions\","
                   "service=\"ConsentService\"}"),
            1);
  EXPECT_EQ(Sample(after, "assent_ready"), 1);
  EXPECT_EQ(Sample(after, "assent_outbox_pending_records"), 2);  // no Kafka: events wait
  EXPECT_GE(Sample(after, "assent_commit_group_mutations_count"), 3);
  EXPECT_THAT(after, HasSubstr("assent_build_info{version=\""));
  // No customer identifier ever appears in a label.
  EXPECT_EQ(after.find("u1"), std::string::npos);
  EXPECT_EQ(after.find("u2"), std::string::npos);

  const std::string file = dir_.Sub("metrics.txt");
  std::ofstream(file) << after;
  int status = 0;
  const std::string lint =
      testing::RunCommand("promtool check metrics < " + file + " 2>&1", &status);
  EXPECT_EQ(status, 0) << lint;
}

TEST_F(MetricsTest, ProbesAnswer) {
  int code = 0;
  EXPECT_EQ(Http(absl::StrCat("http://", server_->metrics_address(), "/healthz"), &code), "ok\n");
  EXPECT_EQ(code, 200);
  Http(absl::StrCat("http://", server_->metrics_address(), "/readyz"), &code);
  EXPECT_EQ(code, 200);
}

TEST_F(MetricsTest, RealPrometheusScrapesIt) {
  const int port = testing::FreePort();
  const std::string config = dir_.Sub("prometheus.yml");
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                           "scrape_configs:\n  - job_name: consentd\n    static_configs:\n"
                           "      - targets: ['"
                        << server_->metrics_address() << "']\n";
  testing::ChildProcess prometheus(
      "/usr/bin/prometheus",
      {"--config.file=" + config, "--storage.tsdb.path=" + dir_.Sub("tsdb"),
       absl::StrCat("--web.listen-address=127.0.0.1:", port), "--log.level=warn"},
      dir_.Sub("prometheus.log"));
  Checks(3);
  const std::string query =
      absl::StrCat("http://127.0.0.1:", port,
                   "/api/v1/query?query=sum(assent_rpc_requests_total%7Bmethod%3D%22Check%22%7D)"
                   "%20and%20on()%20up%7Bjob%3D%22consentd%22%7D%3D%3D1");
  std::string answer;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    answer = Http(query);
    if (answer.find("\"value\":[") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  // up == 1 for the target and the Check counter is there with the 3 calls.
  EXPECT_THAT(answer, HasSubstr("\"status\":\"success\""));
  EXPECT_THAT(answer, ::testing::ContainsRegex("\"value\":\\[[0-9.]+,\"3\"\\]"))
      << answer << "\n"
      << testing::ReadFile(dir_.Sub("prometheus.log"));
  prometheus.Signal(SIGTERM);
  prometheus.Wait(absl::Seconds(30));
}

TEST_F(MetricsTest, HealthTurnsNotServingOnSigtermBeforeStopping) {
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Ctx().get(), {}, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  server_->Signal(SIGTERM);
  // During the shutdown delay the server still answers, but says it is not serving.
  bool saw_not_serving = false;
  int ready_code = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (absl::Now() < deadline && !saw_not_serving) {
    grpc::health::v1::HealthCheckResponse r;
    if (health->Check(Ctx().get(), {}, &r).ok() &&
        r.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING) {
      saw_not_serving = true;
      Http(absl::StrCat("http://", server_->metrics_address(), "/readyz"), &ready_code);
    }
  }
  EXPECT_TRUE(saw_not_serving);
  EXPECT_EQ(ready_code, 503);
  health.reset();
  channel.reset();
  const int status = server_->Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(MetricsKafkaTest, NotReadyWhileKafkaIsUnreachable) {
  testing::TempDir dir;
  testing::ConsentdProcess server(CONSENTD_PATH, dir.Sub("data"), dir.path());
  server.Start({"--kafka-brokers", absl::StrCat("127.0.0.1:", testing::FreePort())});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  int code = 0;
  const std::string body =
      Http(absl::StrCat("http://", server.metrics_address(), "/readyz"), &code);
  EXPECT_EQ(code, 503);
  EXPECT_THAT(body, HasSubstr("kafka"));
  Http(absl::StrCat("http://", server.metrics_address(), "/healthz"), &code);
  EXPECT_EQ(code, 200);  // alive all the same: writes keep working, events wait in the outbox
}

}  // namespace
}  // namespace assent
