// consentd's configuration: precedence flags > environment > YAML, validation naming the option.
#include "consentd/config.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "consentd/deadline_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace assent::consentd {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, DefaultsWhenNothingButInsecureIsGiven) {
  auto config = LoadConfig({"--insecure"}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_TRUE(config->store_sync_writes);
  EXPECT_EQ(config->limits_max_batch_check, 10000);
  EXPECT_EQ(config->idempotency_ttl, absl::Hours(24));
}

TEST(ConfigTest, FlagsBeatEnvironmentBeatFile) {
  testing::TempDir dir;
  const std::string file = dir.Sub("consentd.yaml");
  std::ofstream(file)
      << "listen: \"0.0.0.0:1\"\ndata_dir: /from/file\nstore:\n  block_cache_mb: 64\n"
         "limits:\n  max_decisions: 7\n";
  auto config = LoadConfig(
      {"--config", file, "--listen=127.0.0.1:3", "--store-block-cache-mb", "32", "--insecure"},
      {"ASSENT_LISTEN=127.0.0.1:2", "ASSENT_DATA_DIR=/from/env", "ASSENT_UNRELATED=ignored",
       "PATH=/bin"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:3");     // flag
  EXPECT_EQ(config->data_dir, "/from/env");     // environment over file
  EXPECT_EQ(config->store_block_cache_mb, 32);  // flag over file
  EXPECT_EQ(config->limits_max_decisions, 7);   // file
}

TEST(ConfigTest, ConfigFileMayComeFromEnvironment) {
  testing::TempDir dir;
  const std::string file = dir.Sub("c.yaml");
  std::ofstream(file) << "idempotency_ttl: 2h\n";
  auto config = LoadConfig({}, {"ASSENT_CONFIG=" + file, "ASSENT_INSECURE=true"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->idempotency_ttl, absl::Hours(2));
}

TEST(ConfigTest, BadValuesNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string option;
  };
  const std::vector<Case> cases = {
      {{"--store-block-cache-mb", "lots"}, "store.block_cache_mb"},
      {{"--store-block-cache-mb", "1"}, "store.block_cache_mb"},
      {{"--store-sync-writes", "maybe"}, "store.sync_writes"},
      {{"--idempotency-ttl", "forever"}, "idempotency_ttl"},
      {{"--log-level", "chatty"}, "log_level"},
      {{"--listen", "nowhere"}, "listen"},
      {{"--no-such-flag", "1"}, "--no-such-flag"},
      {{"--listen"}, "--listen"},
      {{"positional"}, "positional"},
      {{"--insecure", "--enforcement-senders", "email,SMS"}, "enforcement.senders"},
      {{"--insecure", "--enforcement-senders", "email, sms,email"}, "enforcement.senders"},
      {{"--enforcement-alert-after", "10ms"}, "enforcement.alert_after"},
      {{"--enforcement-instance-timeout", "soon"}, "enforcement.instance_timeout"},
  };
  for (const Case& c : cases) {
    auto config = LoadConfig(c.args, {});
    ASSERT_FALSE(config.ok()) << c.option;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.option;
    EXPECT_THAT(std::string(config.status().message()), ::testing::StartsWith(c.option));
  }
}

TEST(ConfigTest, UnknownYamlKeyAndUnreadableFileAreErrors) {
  testing::TempDir dir;
  const std::string file = dir.Sub("bad.yaml");
  std::ofstream(file) << "store:\n  block_cache: 5\n";
  auto config = LoadConfig({"--config", file}, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("store.block_cache"));
  auto missing = LoadConfig({"--config", dir.Sub("absent.yaml")}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), ::testing::StartsWith("config"));
}

TEST(ConfigTest, KafkaProducerSettingsComeFromYamlAndSecretsAreRedacted) {
  testing::TempDir dir;
  const std::string file = dir.Sub("k.yaml");
  std::ofstream(file)
      << "insecure: true\nkafka:\n  brokers: 10.0.0.1:9092\n  partitions: 12\n  producer:\n"
         "    linger.ms: 5\n    sasl.password: hunter2\n";
  auto config = LoadConfig({"--config", file}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka_brokers, "10.0.0.1:9092");
  EXPECT_EQ(config->kafka_partitions, 12);
  EXPECT_EQ(config->kafka_producer.at("linger.ms"), "5");
  const std::string described = DescribeConfig(*config);
  EXPECT_THAT(described, HasSubstr("kafka.producer.linger.ms=5"));
  EXPECT_THAT(described, HasSubstr("kafka.producer.sasl.password=<redacted>"));
  EXPECT_EQ(described.find("hunter2"), std::string::npos);
}

TEST(ConfigTest, EnforcementSendersAreACommaSeparatedList) {
  auto config = LoadConfig({"--insecure", "--enforcement-senders", " email, sms ,ads-eu"}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  auto senders = ParseSenders(config->enforcement_senders);
  ASSERT_TRUE(senders.ok()) << senders.status();
  EXPECT_THAT(*senders, ::testing::ElementsAre("email", "sms", "ads-eu"));
  EXPECT_THAT(*ParseSenders(""), ::testing::IsEmpty());
}

TEST(ConfigTest, ExampleConfigLoadsAndStatesTheDefaults) {
  auto example = LoadConfig({"--config", ASSENT_SOURCE_DIR "/deploy/consentd.example.yaml"}, {});
  ASSERT_TRUE(example.ok()) << example.status();
  auto defaults = LoadConfig({"--insecure"}, {});
  ASSERT_TRUE(defaults.ok());
  // Every option the example states is at its default but where files go (certificates, the
  // policy), so the two describe the same config.
  Config expected = *defaults;
  expected.config_file = ASSENT_SOURCE_DIR "/deploy/consentd.example.yaml";
  expected.kafka_producer = example->kafka_producer;
  expected.insecure = false;
  expected.tls.cert_file = example->tls.cert_file;
  expected.tls.key_file = example->tls.key_file;
  expected.tls.ca_file = example->tls.ca_file;
  expected.auth_policy_file = example->auth_policy_file;
  EXPECT_FALSE(example->tls.cert_file.empty());
  EXPECT_FALSE(example->auth_policy_file.empty());
  EXPECT_EQ(DescribeConfig(*example), DescribeConfig(expected));
}

TEST(ConfigTest, HelpListsEveryOptionWithFlagAndVariable) {
  auto help = LoadConfig({"--help"}, {});
  ASSERT_EQ(help.status().code(), absl::StatusCode::kCancelled);
  const std::string usage(help.status().message());
  EXPECT_THAT(usage, HasSubstr("--store-block-cache-mb / ASSENT_STORE_BLOCK_CACHE_MB"));
  EXPECT_THAT(usage, HasSubstr("--data-dir / ASSENT_DATA_DIR"));
}

TEST(ConfigTest, DescribeShowsEffectiveValues) {
  auto config = LoadConfig({"--listen", "127.0.0.1:9", "--insecure"}, {});
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(DescribeConfig(*config), HasSubstr("listen=127.0.0.1:9"));
}

TEST(ConfigTest, WithoutTlsConsentdRefusesToStartUnlessInsecureIsGiven) {
  auto config = LoadConfig({}, {});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              ::testing::AllOf(::testing::StartsWith("tls.cert"), HasSubstr("--insecure")));
  ASSERT_TRUE(LoadConfig({"--insecure"}, {}).ok());
  ASSERT_TRUE(LoadConfig({}, {"ASSENT_INSECURE=true"}).ok());
  EXPECT_FALSE(LoadConfig({"--insecure=false"}, {}).ok());
}

TEST(ConfigTest, TlsComesFromFlagsOrTheSharedEnvironmentNames) {
  auto flags = LoadConfig({"--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-ca", "/ca.pem",
                           "--tls-client-auth", "optional", "--auth-policy-file", "/p.yaml"},
                          {});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->tls.cert_file, "/c.pem");
  EXPECT_EQ(flags->tls.key_file, "/k.pem");
  EXPECT_EQ(flags->tls.ca_file, "/ca.pem");
  EXPECT_EQ(flags->tls.client_auth, rpc::ClientAuth::kOptional);
  EXPECT_EQ(flags->auth_policy_file, "/p.yaml");
  auto env = LoadConfig(
      {}, {"ASSENT_TLS_CERT=/e.pem", "ASSENT_TLS_KEY=/ek.pem", "ASSENT_TLS_CA=/eca.pem"});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->tls.cert_file, "/e.pem");
  EXPECT_EQ(env->tls.client_auth, rpc::ClientAuth::kRequire);  // the default: mTLS
  auto bad = LoadConfig({"--tls-client-auth", "sometimes", "--insecure"}, {});
  EXPECT_THAT(std::string(bad.status().message()), ::testing::StartsWith("tls.client_auth"));
  auto rate = LoadConfig({"--rate-limits-tenant-rate", "-1", "--insecure"}, {});
  EXPECT_THAT(std::string(rate.status().message()),
              ::testing::StartsWith("rate_limits.tenant_rate"));
}

TEST(ConfigTest, DeadlineRulesDefaultWhenAbsentAndComeFromYaml) {
  auto defaults = LoadConfig({"--insecure"}, {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(DescribeDeadlineRules(defaults->deadline_rules),
            DescribeDeadlineRules(core::DefaultDeadlineRules()));
  EXPECT_THAT(DescribeConfig(*defaults),
              HasSubstr("can-spam: US EMAIL 10 business days (refusals, withdrawals, "
                        "suppressions)"));

  Config config;
  ASSERT_TRUE(ApplyYaml("deadlines:\n  rules:\n"
                        "    - name: eu-sms\n      jurisdiction: EU\n      channel: SMS\n"
                        "      days: 3\n      business_days: false\n"
                        "      applies_to: [withdrawals]\n"
                        "    - {name: ca-sale, jurisdiction: US-CA, purpose_kind: SALE_OR_SHARE, "
                        "days: 15}\n",
                        "test.yaml", config)
                  .ok());
  ASSERT_EQ(config.deadline_rules.size(), 2u);
  const core::DeadlineRule& eu = config.deadline_rules[0];
  EXPECT_EQ(eu.name, "eu-sms");
  EXPECT_EQ(eu.jurisdiction, "EU");
  EXPECT_EQ(eu.channel, v1::SMS);
  EXPECT_EQ(eu.days, 3);
  EXPECT_FALSE(eu.business_days);
  EXPECT_FALSE(eu.refusals);
  EXPECT_TRUE(eu.withdrawals);
  EXPECT_FALSE(eu.suppressions);
  const core::DeadlineRule& ca = config.deadline_rules[1];
  EXPECT_EQ(ca.channel, v1::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(ca.purpose_kind, v1::SALE_OR_SHARE);
  EXPECT_TRUE(ca.business_days);
  EXPECT_TRUE(ca.refusals && ca.withdrawals && ca.suppressions);

  // An empty list turns the deadlines off.
  Config none;
  ASSERT_TRUE(ApplyYaml("deadlines:\n  rules: []\n", "test.yaml", none).ok());
  EXPECT_TRUE(none.deadline_rules.empty());
  none.insecure = true;
  EXPECT_TRUE(ValidateConfig(none).ok());
}

TEST(ConfigTest, ABadDeadlineRuleIsRefusedNamingItsField) {
  struct Bad {
    std::string rules;  // the YAML under deadlines.rules
    std::string field;
  };
  const std::vector<Bad> bad = {
      {"[{name: a, jurisdiction: US, days: 0}]", "deadlines.rules[0].days"},
      {"[{name: a, jurisdiction: US, days: ten}]", "deadlines.rules[0].days"},
      {"[{name: a, jurisdiction: US}]", "deadlines.rules[0].days"},
      {"[{name: a, jurisdiction: US, days: 1}, {name: b, jurisdiction: US, channel: FAX, days: 1}]",
       "deadlines.rules[1].channel"},
      {"[{name: a, jurisdiction: US, purpose_kind: SPAM, days: 1}]",
       "deadlines.rules[0].purpose_kind"},
      {"[{name: a, jurisdiction: usa, days: 1}]", "deadlines.rules[0].jurisdiction"},
      {"[{jurisdiction: US, days: 1}]", "deadlines.rules[0].name"},
      {"[{name: a, jurisdiction: US, days: 1}, {name: a, jurisdiction: EU, days: 1}]",
       "deadlines.rules[1].name"},
      {"[{name: a, jurisdiction: US, days: 1, business_days: maybe}]",
       "deadlines.rules[0].business_days"},
      {"[{name: a, jurisdiction: US, days: 1, applies_to: [refunds]}]",
       "deadlines.rules[0].applies_to[0]"},
      {"[{name: a, jurisdiction: US, days: 1, hours: 2}]", "deadlines.rules[0].hours"},
      {"[{name: a, jurisdiction: {x: 1}, days: 1}]", "deadlines.rules[0].jurisdiction"},
      {"{name: a}", "deadlines.rules"},
      {"[5]", "deadlines.rules[0]"},
  };
  for (const Bad& b : bad) {
    Config config;
    const absl::Status status =
        ApplyYaml("deadlines:\n  rules: " + b.rules + "\n", "test.yaml", config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << b.rules;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(b.field + ":")) << b.rules;
  }
  // Other keys under deadlines are unknown options.
  Config config;
  EXPECT_THAT(std::string(ApplyYaml("deadlines:\n  rule: []\n", "t.yaml", config).message()),
              HasSubstr("deadlines.rule"));
}

TEST(ConfigTest, ExampleConfigShowsTheDefaultDeadlineRules) {
  // The example lists the default table commented out (so that deployments follow updates to
  // it); uncommented, it is exactly the defaults.
  std::ifstream in(ASSENT_SOURCE_DIR "/deploy/consentd.example.yaml");
  std::string line, yaml;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == "# deadlines:") inside = true;
    if (inside && line.starts_with("# Each rule")) break;
    if (inside) yaml += line.substr(2) + "\n";
  }
  ASSERT_FALSE(yaml.empty());
  Config config;
  config.deadline_rules.clear();
  const absl::Status status = ApplyYaml(yaml, "example", config);
  ASSERT_TRUE(status.ok()) << status << "\n" << yaml;
  EXPECT_EQ(DescribeDeadlineRules(config.deadline_rules),
            DescribeDeadlineRules(core::DefaultDeadlineRules()));
}

}  // namespace
}  // namespace assent::consentd
