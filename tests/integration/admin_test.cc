// The admin compaction through the real consentd and assentctl: `assentctl admin compact` calls
// AdminService/CompactStore, prints every column family before and after and the WAL, and
// consentd goes on serving with its data intact, also after a restart. (That a compaction leaves
// no byte of a deleted value in the data directory is tested on the store itself, in
// tests/unit/retention_test.cc, and end to end by the erasure test.)
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "assent/v1/consent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

struct CtlRun {
  std::string out;
  int exit_status = -1;
};

CtlRun Assentctl(const std::string& address, const std::string& args) {
  int status = 0;
  CtlRun run;
  run.out = testing::RunCommand(
      absl::StrCat(ASSENTCTL_PATH, " --server ", address, " --timeout 120s ", args, " 2>&1"),
      &status);
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(AdminTest, AssentctlAdminCompactCompactsEveryColumnFamilyAndConsentdServesOn) {
  testing::TempDir dir;
  testing::ConsentdProcess server(CONSENTD_PATH, dir.Sub("data"), dir.path());
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_TRUE(server.SeedCatalog("marketing.newsletter", {v1::EMAIL}));
  v1::RecordDecisionsRequest record;
  record.set_tenant("acme");
  record.mutable_target()->set_subject_id("s1");
  record.set_source("web-signup-v3");
  record.set_actor("signup-service");
  auto* d = record.add_decisions();
  d->set_purpose_id("marketing.newsletter");
  d->set_state(v1::GRANTED);
  v1::RecordDecisionsResponse recorded;
  grpc::Status s = server.consent().RecordDecisions(Ctx().get(), record, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();

  const CtlRun run = Assentctl(server.address(), "admin compact");
  ASSERT_EQ(run.exit_status, 0) << run.out;
  for (const char* family :
       {"subjects", "contacts", "history", "outbox", "idempotency", "catalog", "meta", "due",
        "lifecycle", "proof", "keys", "rights", "import", "reports"}) {
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat(family, ": "))) << run.out;
  }
  // The write above is in the WAL before; the compaction flushed it and deleted that WAL file.
  const size_t wal = run.out.find("WAL: ");
  ASSERT_NE(wal, std::string::npos) << run.out;
  std::vector<std::string> words = absl::StrSplit(run.out.substr(wal + 5), ' ');
  ASSERT_GE(words.size(), 3u) << run.out;
  uint64_t before = 0, after = 0;
  ASSERT_TRUE(absl::SimpleAtoi(words[0], &before)) << run.out;
  ASSERT_TRUE(absl::SimpleAtoi(words[2], &after)) << run.out;
  EXPECT_GT(before, 0u) << run.out;
  EXPECT_LT(after, before) << run.out;

  const CtlRun json = Assentctl(server.address(), "--json admin compact");
  ASSERT_EQ(json.exit_status, 0) << json.out;
  EXPECT_THAT(json.out, HasSubstr("\"columnFamilies\""));

  // The data is all there, now and after a restart.
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s1");
  v1::SubjectState state;
  s = server.consent().GetSubjectState(Ctx().get(), get, &state);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(state.sequence(), 1u);
  ASSERT_EQ(server.Stop(), 0);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  state.Clear();
  s = server.consent().GetSubjectState(Ctx().get(), get, &state);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(state.sequence(), 1u);
}

}  // namespace
}  // namespace assent
