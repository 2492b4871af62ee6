// consentd's retention options: defaults, days or durations, per-tenant overrides from YAML,
// validation naming the option.
#include <string>

#include "consentd/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace assent::consentd {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kDay = absl::Hours(24);

TEST(RetentionConfigTest, DefaultsAreSixYears) {
  ASSERT_OK_AND_ASSIGN(Config config, LoadConfig({"--insecure"}, {}));
  EXPECT_EQ(config.retention.history, 2191 * kDay);
  EXPECT_EQ(config.retention.erasure_stubs, 2191 * kDay);
  EXPECT_TRUE(config.retention.tenants.empty());
  EXPECT_THAT(DescribeConfig(config), HasSubstr("retention.history=2191d"));
}

TEST(RetentionConfigTest, FlagsAndEnvironmentTakeDaysOrDurations) {
  ASSERT_OK_AND_ASSIGN(Config config, LoadConfig({"--insecure", "--retention-history", "400d"},
                                                 {"ASSENT_RETENTION_ERASURE_STUBS=720h"}));
  EXPECT_EQ(config.retention.history, 400 * kDay);
  EXPECT_EQ(config.retention.erasure_stubs, 30 * kDay);
}

TEST(RetentionConfigTest, TenantOverridesComeFromYamlAndFallBackToTheDefaults) {
  Config config;
  config.insecure = true;
  ASSERT_OK(
      ApplyYaml("retention:\n  history: 1000d\n  tenants:\n    acme:\n      history: 3653d\n"
                "    beta-2:\n      erasure_stubs: 90d\n",
                "test.yaml", config));
  ASSERT_OK(ValidateConfig(config));
  EXPECT_EQ(config.retention.HistoryFor("acme"), 3653 * kDay);
  EXPECT_EQ(config.retention.ErasureStubsFor("acme"), 2191 * kDay);
  EXPECT_EQ(config.retention.HistoryFor("beta-2"), 1000 * kDay);
  EXPECT_EQ(config.retention.ErasureStubsFor("beta-2"), 90 * kDay);
  EXPECT_EQ(config.retention.HistoryFor("other"), 1000 * kDay);
  EXPECT_THAT(DescribeConfig(config), HasSubstr("retention.tenants.acme.history=3653d"));
}

TEST(RetentionConfigTest, BadValuesAreRefusedNamingTheOption) {
  EXPECT_THAT(LoadConfig({"--insecure", "--retention-history", "six years"}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.history")));
  EXPECT_THAT(LoadConfig({"--insecure", "--retention-erasure-stubs", "1h"}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.erasure_stubs")));
  EXPECT_THAT(LoadConfig({"--insecure", "--retention-history", "-5d"}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.history")));

  Config short_tenant;
  short_tenant.insecure = true;
  ASSERT_OK(ApplyYaml("retention: {tenants: {acme: {history: 12h}}}", "t.yaml", short_tenant));
  EXPECT_THAT(ValidateConfig(short_tenant), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("retention.tenants.acme.history")));

  Config unknown;
  EXPECT_THAT(
      ApplyYaml("retention: {tenants: {acme: {forever: 1d}}}", "t.yaml", unknown),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.tenants.acme.forever")));
  Config bad_tenant;
  EXPECT_THAT(
      ApplyYaml("retention: {tenants: {Not_A_Tenant: {history: 10d}}}", "t.yaml", bad_tenant),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.tenants.Not_A_Tenant")));
  Config bad_period;
  EXPECT_THAT(
      ApplyYaml("retention: {tenants: {acme: {history: soon}}}", "t.yaml", bad_period),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.tenants.acme.history")));
}

}  // namespace
}  // namespace assent::consentd
