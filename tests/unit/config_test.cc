// consentd's configuration: precedence flags > environment > YAML, validation naming the option.
#include "consentd/config.h"

#include <fstream>

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

}  // namespace
}  // namespace assent::consentd
