// The ads audience sync's logic without Kafka: audience file parsing, and the suppression set
// kept from a fake consent source (full evaluation, the contact-key and subject-key paths, shared
// platform hashes, fail-closed checks, writing only on change).
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ads_sync/audience_file.h"
#include "ads_sync/audience_sync.h"
#include "audience/suppression_file.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace assent::ads {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// --- audience file -------------------------------------------------------------------------

TEST(ParseAudienceTest, SkipsCommentsAndBlankLinesAndNormalises) {
  auto entries = ParseAudience("aud.txt",
                               "# the spring campaign\n"
                               "\n"
                               "  email:Ann@Example.COM  \n"
                               "phone:+1 415 555 0123\n"
                               "   # indented comment\n"
                               "email:bob@example.com");  // no final newline
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].line, 3);
  EXPECT_EQ((*entries)[0].type, v1::CONTACT_EMAIL);
  EXPECT_EQ((*entries)[0].normalized, "Ann@example.com");  // domain lower-cased, local part kept
  EXPECT_EQ((*entries)[1].line, 4);
  EXPECT_EQ((*entries)[1].type, v1::CONTACT_PHONE);
  EXPECT_EQ((*entries)[1].normalized, "+14155550123");
  EXPECT_EQ((*entries)[2].line, 6);
}

TEST(ParseAudienceTest, BadLineNamesItsNumberWithoutTheAddress) {
  auto bad_email = ParseAudience("aud.txt", "email:ann@example.com\n#\nemail:secret-person@\n");
  ASSERT_FALSE(bad_email.ok());
  EXPECT_EQ(bad_email.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_email.status().message(), HasSubstr("aud.txt: line 3: "));
  EXPECT_THAT(bad_email.status().message(), Not(HasSubstr("secret-person")));

  auto bad_phone = ParseAudience("aud.txt", "phone:4155550123\n");  // national form: no region
  ASSERT_FALSE(bad_phone.ok());
  EXPECT_THAT(bad_phone.status().message(), HasSubstr("line 1: "));
  EXPECT_THAT(bad_phone.status().message(), Not(HasSubstr("4155550123")));

  auto bad_type = ParseAudience("aud.txt", "\n\npostal:1 Main St\n");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_THAT(bad_type.status().message(), HasSubstr("line 3: unknown contact type"));
  EXPECT_THAT(bad_type.status().message(), Not(HasSubstr("Main")));

  auto no_type = ParseAudience("aud.txt", "ann@example.com\n");
  ASSERT_FALSE(no_type.ok());
  EXPECT_THAT(no_type.status().message(), HasSubstr("line 1: "));
  EXPECT_THAT(no_type.status().message(), Not(HasSubstr("ann@")));
}

TEST(ParseAudienceTest, MissingFileIsUnavailable) {
  testing::TempDir dir;
  auto entries = ReadAudienceFile(dir.Sub("missing.txt"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kUnavailable);
}

// --- change queue ---------------------------------------------------------------------------

TEST(ChangeQueueTest, QueuesOnlyThisTenantsKeysOnceAfterEnable) {
  ChangeQueue queue("acme");
  queue.Push("acme/before-enable");
  queue.Enable();
  queue.Push("acme/s1");
  queue.Push("acme/s1");
  queue.Push("acme-eu/s1");  // another tenant sharing the prefix "acme"
  queue.Push("other/s1");
  queue.Push("acme/c:email:abc");
  std::vector<std::string> keys = queue.Wait(absl::ZeroDuration());
  std::sort(keys.begin(), keys.end());
  EXPECT_THAT(keys, ElementsAre("acme/c:email:abc", "acme/s1"));
  EXPECT_THAT(queue.Wait(absl::ZeroDuration()), IsEmpty());
  queue.Push("acme/s2");
  queue.Stop();
  EXPECT_TRUE(queue.stopped());
  EXPECT_THAT(queue.Wait(absl::Hours(1)), IsEmpty());  // returns at once when stopped
}

// --- audience sync ------------------------------------------------------------------------

// Consent as a table: a contact point is allowed when its own key is granted and the subject it
// is linked to (if any) is not denied. Keys are "acme/c:<type>:<normalised value>" (no HMAC).
class FakeConsent : public ConsentSource {
 public:
  bool CaughtUp() const override { return true; }
  absl::StatusOr<enforce::Recipient> Resolve(std::string_view tenant,
                                             const v1::Target& target) const override {
    enforce::Recipient r;
    r.tenant = std::string(tenant);
    r.target = target;
    r.key = Key(target.contact_point().type(), target.contact_point().value());
    return r;
  }
  absl::StatusOr<enforce::Verdict> Check(const enforce::CheckParams& params,
                                         const enforce::Recipient& recipient) const override {
    ++checks;
    EXPECT_EQ(params.channel, v1::TARGETED_ADS);
    EXPECT_EQ(params.purpose_id, "ads.retargeting");
    if (failing.contains(recipient.key)) return absl::UnavailableError("service down");
    bool allow = granted.contains(recipient.key);
    auto link = links.find(recipient.key);
    if (link != links.end() && denied_subjects.contains(link->second)) allow = false;
    enforce::Verdict v;
    v.response.set_verdict(allow ? v1::ALLOW : v1::DENY);
    v.response.set_reason(allow ? v1::EXPLICIT_GRANT : v1::NO_CONSENT);
    return v;
  }
  std::string LinkedSubject(std::string_view contact_key) const override {
    auto it = links.find(std::string(contact_key));
    return it == links.end() ? "" : it->second;
  }

  static std::string Key(v1::ContactType type, std::string_view value) {
    return absl::StrCat("acme/c:", type == v1::CONTACT_EMAIL ? "email" : "phone", ":", Sv(value));
  }

  std::set<std::string> granted;
  std::set<std::string> failing;
  std::set<std::string> denied_subjects;
  std::map<std::string, std::string> links;  // contact key -> subject id
  mutable int checks = 0;
};

std::string EmailHash(const std::string& email) {
  return *audience::AdPlatformHash(audience::AdPlatform::kGoogle, v1::CONTACT_EMAIL, email);
}
std::string PhoneHash(const std::string& phone) {
  return *audience::AdPlatformHash(audience::AdPlatform::kGoogle, v1::CONTACT_PHONE, phone);
}

class AudienceSyncTest : public ::testing::Test {
 protected:
  std::unique_ptr<AudienceSync> NewSync() {
    SyncOptions options;
    options.tenant = "acme";
    options.purpose_id = "ads.retargeting";
    options.suppression_file = path_;
    return std::make_unique<AudienceSync>(options, consent_, registry_);
  }
  std::vector<AudienceEntry> Audience() {
    auto entries = ParseAudience("aud",
                                 "email:ann@example.com\n"
                                 "email:Ann@example.com\n"
                                 "email:bob@example.com\n"
                                 "phone:+14155550123\n"
                                 "email:bob@example.com\n");  // a repeated line counts once
    EXPECT_TRUE(entries.ok()) << entries.status();
    return *entries;
  }
  std::vector<std::string> FileLines() {
    auto set = audience::ReadSuppressionFile(path_);
    EXPECT_TRUE(set.ok()) << set.status();
    return {set->hashes().begin(), set->hashes().end()};
  }
  static std::vector<std::string> Sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.Sub("suppressed.txt");
  FakeConsent consent_;
  prometheus::Registry registry_;
  const std::string ann_ = FakeConsent::Key(v1::CONTACT_EMAIL, "ann@example.com");
  const std::string ann_upper_ = FakeConsent::Key(v1::CONTACT_EMAIL, "Ann@example.com");
  const std::string bob_ = FakeConsent::Key(v1::CONTACT_EMAIL, "bob@example.com");
  const std::string phone_ = FakeConsent::Key(v1::CONTACT_PHONE, "+14155550123");
};

TEST_F(AudienceSyncTest, EveryoneWithoutConsentIsSuppressedAndUnchangedSetIsNotRewritten) {
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  EXPECT_EQ(sync->members(), 4u);
  ASSERT_TRUE(sync->EvaluateAll().ok());
  EXPECT_EQ(FileLines(), Sorted({EmailHash("ann@example.com"), EmailHash("bob@example.com"),
                                 PhoneHash("+14155550123")}));
  EXPECT_EQ(sync->writes(), 1u);
  ASSERT_TRUE(sync->EvaluateAll().ok());
  EXPECT_EQ(sync->writes(), 1u);

  // A restarted sync that computes the same set leaves the file alone.
  auto restarted = NewSync();
  ASSERT_TRUE(restarted->SetAudience(Audience()).ok());
  ASSERT_TRUE(restarted->EvaluateAll().ok());
  EXPECT_EQ(restarted->writes(), 0u);
  EXPECT_FALSE(restarted->write_pending());
}

TEST_F(AudienceSyncTest, EmptySetIsWrittenAsAnEmptyFile) {
  consent_.granted = {ann_, ann_upper_, bob_, phone_};
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  EXPECT_EQ(sync->writes(), 1u);
  EXPECT_THAT(FileLines(), IsEmpty());
}

TEST_F(AudienceSyncTest, ContactKeyReChecksOnlyThatMember) {
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  consent_.granted.insert(phone_);
  consent_.checks = 0;
  ASSERT_TRUE(sync->Apply({phone_, "acme/c:email:someone-not-in-the-audience"}).ok());
  EXPECT_EQ(consent_.checks, 1);
  EXPECT_EQ(FileLines(), Sorted({EmailHash("ann@example.com"), EmailHash("bob@example.com")}));
  EXPECT_EQ(sync->writes(), 2u);
  // A key that changes nothing for the set writes nothing.
  ASSERT_TRUE(sync->Apply({bob_}).ok());
  EXPECT_EQ(sync->writes(), 2u);
}

TEST_F(AudienceSyncTest, SharedPlatformHashStaysWhileAnyOfItsMembersIsDenied) {
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  consent_.granted.insert(ann_);
  ASSERT_TRUE(sync->Apply({ann_}).ok());
  EXPECT_TRUE(sync->suppressed().contains(EmailHash("ann@example.com")));
  consent_.granted.insert(ann_upper_);
  ASSERT_TRUE(sync->Apply({ann_upper_}).ok());
  EXPECT_FALSE(sync->suppressed().contains(EmailHash("ann@example.com")));
  consent_.granted.erase(ann_);
  ASSERT_TRUE(sync->Apply({ann_}).ok());
  EXPECT_TRUE(sync->suppressed().contains(EmailHash("ann@example.com")));
}

TEST_F(AudienceSyncTest, SubjectKeyReChecksTheMembersLinkedToIt) {
  consent_.granted = {ann_, ann_upper_, bob_, phone_};
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  EXPECT_THAT(FileLines(), IsEmpty());

  // The link shows up as a change of the contact point's own state.
  consent_.links[bob_] = "cust-42";
  consent_.links[phone_] = "cust-42";
  ASSERT_TRUE(sync->Apply({bob_, phone_}).ok());
  EXPECT_THAT(FileLines(), IsEmpty());

  consent_.denied_subjects.insert("cust-42");
  consent_.checks = 0;
  ASSERT_TRUE(sync->Apply({"acme/cust-42", "acme/cust-7"}).ok());
  EXPECT_EQ(consent_.checks, 2);
  EXPECT_EQ(FileLines(), Sorted({EmailHash("bob@example.com"), PhoneHash("+14155550123")}));

  // Unlinked: the subject no longer affects the phone.
  consent_.links.erase(phone_);
  ASSERT_TRUE(sync->Apply({phone_}).ok());
  EXPECT_EQ(FileLines(), Sorted({EmailHash("bob@example.com")}));
  consent_.checks = 0;
  ASSERT_TRUE(sync->Apply({"acme/cust-42"}).ok());
  EXPECT_EQ(consent_.checks, 1);  // bob only
}

TEST_F(AudienceSyncTest, FailedCheckSuppresses) {
  consent_.granted = {ann_, ann_upper_, bob_, phone_};
  consent_.failing = {bob_};
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  EXPECT_EQ(FileLines(), Sorted({EmailHash("bob@example.com")}));
  consent_.failing.clear();
  ASSERT_TRUE(sync->Apply({bob_}).ok());
  EXPECT_THAT(FileLines(), IsEmpty());
}

TEST_F(AudienceSyncTest, ReloadedAudienceDropsRemovedMembers) {
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  auto smaller = ParseAudience("aud", "phone:+14155550123\n");
  ASSERT_TRUE(smaller.ok());
  ASSERT_TRUE(sync->SetAudience(*smaller).ok());
  ASSERT_TRUE(sync->EvaluateAll().ok());
  EXPECT_EQ(FileLines(), Sorted({PhoneHash("+14155550123")}));
  // Ann is no longer a member: her changes are ignored.
  consent_.checks = 0;
  ASSERT_TRUE(sync->Apply({ann_}).ok());
  EXPECT_EQ(consent_.checks, 0);
}

TEST_F(AudienceSyncTest, FailedWriteIsRetried) {
  auto sync = NewSync();
  ASSERT_TRUE(sync->SetAudience(Audience()).ok());
  // The output path is a directory: rename over it fails.
  ASSERT_EQ(::mkdir(path_.c_str(), 0755), 0);
  EXPECT_EQ(sync->EvaluateAll().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(sync->write_pending());
  ASSERT_EQ(::rmdir(path_.c_str()), 0);
  ASSERT_TRUE(sync->Flush().ok());
  EXPECT_FALSE(sync->write_pending());
  EXPECT_EQ(FileLines().size(), 3u);
}

}  // namespace
}  // namespace assent::ads
