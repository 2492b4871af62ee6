// The ads audience sync against a real Kafka broker, a real consentd and the real ads_sync
// binary: the suppression file holds the ad-platform hashes (computed here independently) of
// every member without TARGETED_ADS consent, follows grants on contact points and withdrawals
// on a linked subject, is the same whether built incrementally or from scratch, and is never seen
// half-written; with "ads" a registered sender, consentd counts a withdrawal as applied by the sync
// only once a suppression file holding it was written.
#include <openssl/sha.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/process.h"
#include "testing/sender_process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Member {
  v1::ContactType type;
  std::string value;  // as written in the audience file
};

// The audience: emails (one with upper-case letters) and phones in E.164.
const std::vector<Member>& Audience() {
  static const auto* members = new std::vector<Member>{
      {v1::CONTACT_EMAIL, "ann@example.com"},   {v1::CONTACT_EMAIL, "Bob.Smith@Example.com"},
      {v1::CONTACT_EMAIL, "carol@example.org"}, {v1::CONTACT_EMAIL, "dave@example.net"},
      {v1::CONTACT_PHONE, "+14155550123"},      {v1::CONTACT_PHONE, "+442071838750"},
  };
  return *members;
}

// What Meta matches, computed without Assent's code: SHA-256 in lower-case hex of the lower-cased
// email, or of the phone's digits without the '+'.
std::string MetaHash(const Member& m) {
  std::string input =
      m.type == v1::CONTACT_EMAIL ? absl::AsciiStrToLower(m.value) : m.value.substr(1);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::string hex;
  for (unsigned char b : digest) absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  return hex;
}

std::set<std::string> HashesOf(const std::vector<size_t>& indexes) {
  std::set<std::string> out;
  for (size_t i : indexes) out.insert(MetaHash(Audience()[i]));
  return out;
}

// The file as a set of lines; `ok` false when any line is not 64 lower-case hex digits or the
// file does not end in a newline (a torn or truncated write).
std::set<std::string> ParseFile(const std::string& contents, bool* ok) {
  *ok = contents.empty() || contents.back() == '\n';
  std::set<std::string> lines;
  for (absl::string_view line : absl::StrSplit(contents, '\n', absl::SkipEmpty())) {
    const bool hex = line.size() == 64 && std::all_of(line.begin(), line.end(), [](char c) {
                       return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
                     });
    if (!hex) *ok = false;
    lines.insert(std::string(line));
  }
  return lines;
}

class AdsSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    std::ofstream(secret_file_) << "an-integration-test-contact-key-secret-0123456789\n";
    chmod(secret_file_.c_str(), 0600);  // consentd refuses a secret others can read
    std::ofstream audience(audience_file_);
    audience << "# integration test audience\n\n";
    for (const Member& m : Audience()) {
      audience << (m.type == v1::CONTACT_EMAIL ? "email:" : "phone:") << m.value << "\n";
    }
    audience.close();
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3",
                    "--contact-key-secret-file", secret_file_, "--enforcement-senders", "ads"});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog("ads.retargeting", {v1::TARGETED_ADS}));
  }

  v1::GetEnforcementProofResponse Proof(const v1::Target& target) {
    v1::GetEnforcementProofRequest request;
    request.set_tenant("acme");
    *request.mutable_target() = target;
    v1::GetEnforcementProofResponse response;
    grpc::Status s = server_->consent().GetEnforcementProof(Ctx().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  // Polls until the target's newest withdrawal is (or is not) applied by "ads".
  ::testing::AssertionResult WaitProof(const v1::Target& target, bool applied) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    v1::GetEnforcementProofResponse last;
    while (absl::Now() < deadline) {
      last = Proof(target);
      if (last.withdrawals_size() > 0 &&
          last.withdrawals(0).senders(0).has_applied_time() == applied) {
        return ::testing::AssertionSuccess();
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure() << "proof: " << last.ShortDebugString();
  }
  std::string ConsentdMetrics() const {
    int status = 0;
    return testing::RunCommand(
        absl::StrCat("curl -s --max-time 5 'http://", server_->metrics_address(), "/metrics'"),
        &status);
  }
  // The sum of a counter's series in a /metrics text.
  static double Counter(const std::string& text, const std::string& name) {
    double total = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StartsWith(line, name + "{") && !absl::StartsWith(line, name + " ")) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
    }
    return total;
  }
  // Polls `fetch()` until counter `name` reaches `value` (30 s at most).
  template <typename Fetch>
  static ::testing::AssertionResult WaitCounter(const std::string& name, double value,
                                                Fetch fetch) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    double last = 0;
    while (absl::Now() < deadline) {
      last = Counter(fetch(), name);
      if (last >= value) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure() << name << " is " << last << ", not " << value;
  }

  std::vector<std::string> SyncArgs(const std::string& output) const {
    return {"--kafka-brokers",
            broker_->bootstrap(),
            "--service",
            server_->address(),
            "--contact-key-secret-file",
            secret_file_,
            "--ads-tenant",
            "acme",
            "--ads-purpose-id",
            "ads.retargeting",
            "--ads-audience-file",
            audience_file_,
            "--ads-suppression-file",
            output,
            "--ads-platform",
            "meta",
            "--log-level",
            "debug"};
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  v1::ContactPoint Point(size_t index) const {
    v1::ContactPoint point;
    point.set_type(Audience()[index].type);
    point.set_value(Audience()[index].value);
    return point;
  }

  void Decide(v1::Target target, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    *request.mutable_target() = std::move(target);
    request.set_source("ads-test");
    request.set_actor("test");
    v1::DecisionInput* d = request.add_decisions();
    d->set_purpose_id("ads.retargeting");
    d->set_channel(v1::TARGETED_ADS);
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Polls `path` until it holds exactly `expected` (or 30 s pass); returns what it held last.
  std::set<std::string> WaitForFile(const std::string& path,
                                    const std::set<std::string>& expected) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::set<std::string> got;
    while (absl::Now() < deadline) {
      bool ok = false;
      got = ParseFile(testing::ReadFile(path), &ok);
      if (ok && got == expected && std::ifstream(path).good()) return got;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return got;
  }

  testing::TempDir dir_;
  std::string secret_file_ = dir_.Sub("contact-key.secret");
  std::string audience_file_ = dir_.Sub("audience.txt");
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(AdsSyncTest, SuppressionFileFollowsConsentIncrementallyAndAtomically) {
  const std::string output = dir_.Sub("suppressed.txt");
  testing::SenderProcess sync(ADS_SYNC_PATH, dir_.path(), "ads_sync");
  sync.Start(SyncArgs(output));
  ASSERT_FALSE(HasFatalFailure());

  // (a) Nobody has consented (OPT_IN by default): every member is suppressed.
  const std::set<std::string> everyone = HashesOf({0, 1, 2, 3, 4, 5});
  ASSERT_EQ(WaitForFile(output, everyone), everyone) << sync.log();
  EXPECT_THAT(sync.Metrics(), HasSubstr("assent_sender_audience_members{sender=\"ads\"} 6"));

  // (e) From here on a reader checks every version of the file it sees.
  std::atomic<bool> stop_reader{false};
  std::mutex seen_mu;
  std::set<std::set<std::string>> seen;
  int bad_reads = 0;
  int reads = 0;
  std::thread reader([&] {
    while (!stop_reader.load()) {
      bool ok = false;
      std::ifstream in(output, std::ios::binary);
      const bool opened = in.good();
      std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::set<std::string> lines = ParseFile(contents, &ok);
      std::lock_guard<std::mutex> lock(seen_mu);
      ++reads;
      if (!opened || !ok) ++bad_reads;
      seen.insert(std::move(lines));
    }
  });

  // (b) Grants on three contact points take their hashes out.
  for (size_t i : {0, 1, 4}) {
    v1::Target target;
    *target.mutable_contact_point() = Point(i);
    Decide(target, v1::GRANTED);
  }
  const std::set<std::string> after_grants = HashesOf({2, 3, 5});
  EXPECT_EQ(WaitForFile(output, after_grants), after_grants) << sync.log();

  // (c) Ann's address is linked to a customer who then withdraws: the subject's change alone
  // brings her back (her contact point's own records still say GRANTED).
  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id("cust-1");
  *link.mutable_contact_point() = Point(0);
  link.set_actor("test");
  link.set_source("ads-test");
  v1::LinkContactPointResponse linked;
  grpc::Status s = server_->consent().LinkContactPoint(Ctx().get(), link, &linked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::Target subject;
  subject.set_subject_id("cust-1");
  Decide(subject, v1::WITHDRAWN);
  const std::set<std::string> after_withdrawal = HashesOf({0, 2, 3, 5});
  EXPECT_EQ(WaitForFile(output, after_withdrawal), after_withdrawal) << sync.log();

  // Proof of enforcement: the withdrawal is applied by "ads" (the only registered sender) once
  // the file holding it is written.
  v1::Target subject_target;
  subject_target.set_subject_id("cust-1");
  EXPECT_TRUE(WaitProof(subject_target, true)) << sync.log();

  // While the file cannot be written (a directory where the sync writes its temporary file), a
  // withdrawal its view holds is not applied: consentd keeps reading the sync's reports and
  // still sees it unapplied. Once the file can be written again, it is applied.
  const std::string blocker =
      absl::StrCat(dir_.path(), "/.", output.substr(output.rfind('/') + 1), ".tmp-", sync.pid());
  ASSERT_EQ(mkdir(blocker.c_str(), 0700), 0);
  v1::Target phone;
  *phone.mutable_contact_point() = Point(4);
  Decide(phone, v1::WITHDRAWN);
  ASSERT_TRUE(WaitCounter("assent_sender_suppression_file_write_errors_total", 1, [&] {
    return sync.Metrics();
  })) << sync.log();
  // Three more reports of the sync read by consentd after the failed write.
  const double reports = Counter(ConsentdMetrics(), "assent_enforcement_reports_total");
  ASSERT_TRUE(WaitCounter("assent_enforcement_reports_total", reports + 3,
                          [&] { return ConsentdMetrics(); }));
  v1::GetEnforcementProofResponse stuck = Proof(phone);
  ASSERT_EQ(stuck.withdrawals_size(), 1) << stuck.ShortDebugString();
  EXPECT_FALSE(stuck.withdrawals(0).senders(0).has_applied_time())
      << "applied although no file holding it was written";
  ASSERT_EQ(rmdir(blocker.c_str()), 0);
  const std::set<std::string> after_second = HashesOf({0, 2, 3, 4, 5});
  EXPECT_EQ(WaitForFile(output, after_second), after_second) << sync.log();
  EXPECT_TRUE(WaitProof(phone, true)) << sync.log();

  stop_reader = true;
  reader.join();
  {
    std::lock_guard<std::mutex> lock(seen_mu);
    EXPECT_GT(reads, 0);
    EXPECT_EQ(bad_reads, 0) << "a reader saw a missing, torn or truncated file";
    // Every version seen is a complete set: members 2, 3 and 5 never consented, so each version
    // holds them, and nothing outside the audience.
    for (const std::set<std::string>& version : seen) {
      EXPECT_TRUE(
          std::includes(version.begin(), version.end(), after_grants.begin(), after_grants.end()))
          << absl::StrJoin(version, ",");
      EXPECT_TRUE(std::includes(everyone.begin(), everyone.end(), version.begin(), version.end()))
          << absl::StrJoin(version, ",");
    }
  }
  const std::string metrics = sync.Metrics();
  EXPECT_THAT(metrics, HasSubstr("assent_sender_audience_suppressed{sender=\"ads\"} 5"));
  EXPECT_THAT(metrics, HasSubstr("assent_sender_suppression_file_writes_total{sender=\"ads\"}"));

  // (d) A sync started now, from the state topic alone, writes the same file byte for byte.
  const std::string fresh_output = dir_.Sub("suppressed-fresh.txt");
  testing::SenderProcess fresh(ADS_SYNC_PATH, dir_.path(), "ads_sync_fresh");
  fresh.Start(SyncArgs(fresh_output));
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(WaitForFile(fresh_output, after_second), after_second) << fresh.log();
  EXPECT_EQ(testing::ReadFile(fresh_output), testing::ReadFile(output));

  // SIGTERM: a clean exit with status 0.
  const int status = sync.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << sync.log();
  EXPECT_EQ(fresh.Stop(), 0);
  // No address appears in the logs at info level and above (the debug lines have none either).
  for (const std::string& log : {sync.log(), fresh.log()}) {
    for (const Member& m : Audience()) EXPECT_THAT(log, Not(HasSubstr(m.value)));
  }
}

TEST_F(AdsSyncTest, BadAudienceLineFailsStartUpNamingTheLineNotTheAddress) {
  std::ofstream(audience_file_) << "email:ann@example.com\n# comment\nemail:not-an-address\n";
  const std::string log_path = dir_.Sub("bad.log");
  testing::ChildProcess process(ADS_SYNC_PATH, SyncArgs(dir_.Sub("out.txt")), log_path);
  const int status = process.Wait(absl::Seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  const std::string log = testing::ReadFile(log_path);
  EXPECT_THAT(log, HasSubstr("line 3"));
  EXPECT_THAT(log, Not(HasSubstr("not-an-address")));
  EXPECT_FALSE(std::ifstream(dir_.Sub("out.txt")).good()) << "nothing is written";
}

}  // namespace
}  // namespace assent
