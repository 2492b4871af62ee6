// consentd's configuration: precedence flags > environment > YAML, validation naming the option.
#include "consentd/config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace assent::consentd {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, DefaultsWhenNothingIsGiven) {
  auto config = LoadConfig({}, {});
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
  auto config =
      LoadConfig({"--config", file, "--listen=127.0.0.1:3", "--store-block-cache-mb", "32"},
                 {"ASSENT_LISTEN=127.0.0.1:2", "ASSENT_DATA_DIR=/from/env",
                  "ASSENT_UNRELATED=ignored", "PATH=/bin"});
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
  auto config = LoadConfig({}, {"ASSENT_CONFIG=" + file});
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
  std::ofstream(file) << "kafka:\n  brokers: 10.0.0.1:9092\n  partitions: 12\n  producer:\n"
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

TEST(ConfigTest, ExampleConfigLoadsAndStatesTheDefaults) {
  auto example = LoadConfig({"--config", ASSENT_SOURCE_DIR "/deploy/consentd.example.yaml"}, {});
  ASSERT_TRUE(example.ok()) << example.status();
  auto defaults = LoadConfig({}, {});
  ASSERT_TRUE(defaults.ok());
  // Every option the example states is at its default, so the two describe the same config.
  Config expected = *defaults;
  expected.config_file = ASSENT_SOURCE_DIR "/deploy/consentd.example.yaml";
  expected.kafka_producer = example->kafka_producer;
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
  auto config = LoadConfig({"--listen", "127.0.0.1:9"}, {});
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(DescribeConfig(*config), HasSubstr("listen=127.0.0.1:9"));
}

}  // namespace
}  // namespace assent::consentd
