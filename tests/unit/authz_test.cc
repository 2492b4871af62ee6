// The authorization policy: parsing (every mistake refused, naming where), the decision, bearer
// token lookup, and reloading a policy file (a bad file keeps the previous policy).
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "authz/permission.h"
#include "authz/policy.h"
#include "common/digest.h"
#include "common/hex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent::authz {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(
roles:
  sender: [catalog.read, consent.check, consent.read]
principals:
  - id: spiffe://assent.test/email-sender
    tenants: ["*"]
    roles: [sender]
  - id: crm-sync
    tenants: [acme, globex]
    permissions: [consent.write, consent.import]
    tokens_sha256: [9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08]
  - id: ops
    tenants: ["*"]
    permissions: ["*"]
)";

TEST(PermissionTest, EveryPermissionHasAUniqueNameThatParsesBack) {
  std::set<std::string_view> names;
  for (int i = 0; i < kPermissionCount; ++i) {
    const auto p = static_cast<Permission>(i);
    const std::string_view name = PermissionName(p);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(ParsePermission(name), p) << name;
  }
  EXPECT_EQ(ParsePermission("consent.wirte"), std::nullopt);
}

TEST(PolicyTest, GrantsWhatItSaysAndNothingElse) {
  ASSERT_OK_AND_ASSIGN(Policy policy, Policy::Parse(kPolicy));
  const std::string sender = "spiffe://assent.test/email-sender";
  EXPECT_TRUE(policy.Allows(sender, "acme", Permission::kConsentCheck));
  EXPECT_TRUE(policy.Allows(sender, "any-tenant", Permission::kCatalogRead));
  EXPECT_TRUE(policy.Allows(sender, "", Permission::kCatalogRead));  // every tenant
  EXPECT_FALSE(policy.Allows(sender, "acme", Permission::kConsentWrite));

  EXPECT_TRUE(policy.Allows("crm-sync", "acme", Permission::kConsentWrite));
  EXPECT_TRUE(policy.Allows("crm-sync", "globex", Permission::kConsentImport));
  EXPECT_FALSE(policy.Allows("crm-sync", "initech", Permission::kConsentWrite));
  EXPECT_FALSE(policy.Allows("crm-sync", "", Permission::kConsentWrite));
  EXPECT_FALSE(policy.Allows("crm-sync", "acme", Permission::kConsentCheck));

  EXPECT_TRUE(policy.Allows("ops", "acme", Permission::kAdmin));
  EXPECT_TRUE(policy.Allows("ops", "", Permission::kSubjectErase));

  EXPECT_FALSE(policy.Allows("stranger", "acme", Permission::kConsentCheck));
  EXPECT_FALSE(policy.Allows("", "acme", Permission::kConsentCheck));
}

TEST(PolicyTest, DenialNamesPrincipalPermissionAndTenant) {
  ASSERT_OK_AND_ASSIGN(Policy policy, Policy::Parse(kPolicy));
  EXPECT_THAT(policy.Check("crm-sync", "initech", Permission::kConsentWrite),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("\"crm-sync\" lacks permission consent.write on tenant "
                                 "\"initech\"")));
  EXPECT_THAT(policy.Check("crm-sync", "", Permission::kConsentWrite),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("on every tenant")));
  EXPECT_OK(policy.Check("crm-sync", "acme", Permission::kConsentWrite));
}

TEST(PolicyTest, BearerTokensAreFoundByTheirHashOnly) {
  ASSERT_OK_AND_ASSIGN(Policy policy, Policy::Parse(kPolicy));
  const std::string* principal = policy.TokenPrincipal(Sha256("test"));  // sha256("test")
  ASSERT_NE(principal, nullptr);
  EXPECT_EQ(*principal, "crm-sync");
  EXPECT_EQ(policy.TokenPrincipal(Sha256("other")), nullptr);
  EXPECT_EQ(policy.token_count(), 1u);
}

TEST(PolicyTest, EveryMistakeIsRefusedNamingWhere) {
  struct Case {
    std::string yaml;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"principals: [", "not valid YAML at line"},
      {"- a\n- b\n", "policy: must be a mapping"},
      {"roles: {}\n", "principals: must be a list"},
      {"principals: []\nextra: 1\n", "policy.extra: unknown key"},
      {"principals:\n  - tenants: [acme]\n    permissions: [consent.read]\n",
       "principals[0].id: required"},
      {"principals:\n  - id: a\n    permissions: [consent.read]\n",
       "principals[0].tenants: required"},
      {"principals:\n  - id: a\n    tenants: [Acme!]\n    permissions: [consent.read]\n",
       "principals[0].tenants[0]"},
      {"principals:\n  - id: a\n    tenants: [acme]\n    permissions: [consent.read, "
       "cosnent.write]\n",
       "principals[0].permissions[1]: unknown permission \"cosnent.write\""},
      {"principals:\n  - id: a\n    tenants: [acme]\n    roles: [nope]\n",
       "principals[0].roles[0]: unknown role \"nope\""},
      {"principals:\n  - id: a\n    tenants: [acme]\n", "principals[0].permissions: no permission"},
      {"principals:\n  - id: a\n    tenants: [acme]\n    permissions: [admin]\n    "
       "tokens_sha256: [secret-token]\n",
       "principals[0].tokens_sha256[0]: must be the SHA-256"},
      {"principals:\n  - id: a\n    tenants: [acme]\n    permissions: [admin]\n"
       "  - id: a\n    tenants: [acme]\n    permissions: [admin]\n",
       "principals[1].id: principal \"a\" is listed twice"},
      {"principals:\n  - id: a\n    tenants: [acme]\n    permissions: [admin]\n    tennants: [x]\n",
       "principals[0].tennants: unknown key"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Policy::Parse(c.yaml).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.yaml;
  }
  // A token never appears in the error, even when pasted where its hash belongs.
  absl::Status pasted = Policy::Parse(cases[10].yaml).status();
  EXPECT_THAT(std::string(pasted.message()), ::testing::Not(HasSubstr("secret-token")));
}

TEST(PolicyTest, AnEmptyListDeniesEverybody) {
  ASSERT_OK_AND_ASSIGN(Policy policy, Policy::Parse("principals: []\n"));
  EXPECT_EQ(policy.principal_count(), 0u);
  EXPECT_FALSE(policy.Allows("ops", "acme", Permission::kConsentRead));
}

void WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

TEST(PolicyFileTest, ReloadSwapsInAGoodFileAndKeepsTheOldOneOnABadFile) {
  testing::TempDir dir;
  const std::string path = dir.Sub("policy.yaml");
  WriteFile(path, "principals:\n  - id: a\n    tenants: [acme]\n    permissions: [consent.read]\n");
  ASSERT_OK_AND_ASSIGN(auto file, PolicyFile::Open(path));
  const Policy& first = file->current();
  EXPECT_TRUE(first.Allows("a", "acme", Permission::kConsentRead));

  ASSERT_OK_AND_ASSIGN(bool changed, file->ReloadIfChanged());
  EXPECT_FALSE(changed);

  WriteFile(path,
            "principals:\n  - id: a\n    tenants: [acme]\n    permissions: [consent.write]\n");
  ASSERT_OK_AND_ASSIGN(changed, file->ReloadIfChanged());
  EXPECT_TRUE(changed);
  EXPECT_FALSE(file->current().Allows("a", "acme", Permission::kConsentRead));
  EXPECT_TRUE(file->current().Allows("a", "acme", Permission::kConsentWrite));
  // The replaced policy is still readable by whoever held it.
  EXPECT_TRUE(first.Allows("a", "acme", Permission::kConsentRead));

  WriteFile(path, "principals:\n  - id: a\n    tenants: [acme]\n    permissions: [oops]\n");
  EXPECT_THAT(file->ReloadIfChanged().status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown permission")));
  EXPECT_TRUE(file->current().Allows("a", "acme", Permission::kConsentWrite));
  // Not re-read (nor re-reported) until it changes again.
  ASSERT_OK_AND_ASSIGN(changed, file->ReloadIfChanged());
  EXPECT_FALSE(changed);
  EXPECT_THAT(file->Reload(), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_TRUE(file->current().Allows("a", "acme", Permission::kConsentWrite));
}

TEST(PolicyFileTest, ABadOrMissingFileIsRefusedAtOpen) {
  testing::TempDir dir;
  EXPECT_THAT(PolicyFile::Open(dir.Sub("absent.yaml")).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  WriteFile(dir.Sub("bad.yaml"), "principals: 3\n");
  EXPECT_THAT(PolicyFile::Open(dir.Sub("bad.yaml")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.yaml: principals")));
}

}  // namespace
}  // namespace assent::authz
