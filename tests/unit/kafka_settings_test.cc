// librdkafka client settings: secrets never reach an error, connection settings are picked out for
// the topic admin, properties files parse, and a client that cannot connect says why.
#include "events/kafka_settings.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "events/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/kafka_broker.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent::events {
namespace {

using ::assent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

constexpr char kPassword[] = "hunter2-not-for-logs";

TEST(IsSecretSettingTest, PasswordsSecretsAndInlineKeys) {
  EXPECT_TRUE(IsSecretSetting("ssl.key.password"));
  EXPECT_TRUE(IsSecretSetting("sasl.password"));
  EXPECT_TRUE(IsSecretSetting("ssl.keystore.password"));
  EXPECT_TRUE(IsSecretSetting("sasl.oauthbearer.client.secret"));
  EXPECT_TRUE(IsSecretSetting("ssl.key.pem"));
  EXPECT_TRUE(IsSecretSetting("sasl.oauthbearer.config"));
  EXPECT_FALSE(IsSecretSetting("ssl.key.location"));
  EXPECT_FALSE(IsSecretSetting("ssl.ca.location"));
  EXPECT_FALSE(IsSecretSetting("sasl.username"));
}

TEST(SetConfTest, NamesTheFieldAndNeverEchoesASecretValue) {
  ConfPtr conf(rd_kafka_conf_new());
  // librdkafka knows no "ssl.truststore.password" (a Java client setting) and refuses it.
  absl::Status s = SetConf(conf.get(), "ssl.truststore.password", kPassword,
                           "kafka.consumer.ssl.truststore.password");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("kafka.consumer.ssl.truststore.password"),
                                Not(HasSubstr(kPassword)))));
  // A value librdkafka quotes back is still shown for an ordinary key.
  s = SetConf(conf.get(), "security.protocol", "tls", "kafka.consumer.security.protocol");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("kafka.consumer.security.protocol"), HasSubstr("tls"))));
}

TEST(RedactSecretsTest, ReplacesSecretValuesOnly) {
  const KafkaSettings settings = {{"sasl.password", kPassword}, {"sasl.username", "alice"}};
  EXPECT_EQ(RedactSecrets(absl::StrCat("login alice:", kPassword, " refused"), settings),
            "login alice:<redacted> refused");
}

TEST(ConnectionSettingsTest, KeepsWhatSaysHowToReachTheBrokers) {
  const KafkaSettings consumer = {
      {"security.protocol", "ssl"},         {"ssl.ca.location", "/etc/ca.pem"},
      {"sasl.mechanisms", "PLAIN"},         {"enable.ssl.certificate.verification", "true"},
      {"socket.keepalive.enable", "true"},  {"fetch.wait.max.ms", "5"},
      {"isolation.level", "read_committed"}};
  EXPECT_THAT(
      ConnectionSettings(consumer),
      ElementsAre(Pair("enable.ssl.certificate.verification", "true"),
                  Pair("sasl.mechanisms", "PLAIN"), Pair("security.protocol", "ssl"),
                  Pair("socket.keepalive.enable", "true"), Pair("ssl.ca.location", "/etc/ca.pem")));
}

TEST(ParseKafkaPropertiesTest, KeyValueLinesCommentsAndBlanks) {
  auto parsed = ParseKafkaProperties(
      "# client TLS\n"
      "security.protocol=ssl\n"
      "\n"
      "  ssl.ca.location = /etc/assent/ca.pem  \n"
      "sasl.jaas.like=a=b\n"
      "empty=\n",
      "client.properties");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("empty", ""), Pair("sasl.jaas.like", "a=b"),
                                   Pair("security.protocol", "ssl"),
                                   Pair("ssl.ca.location", "/etc/assent/ca.pem")));
}

TEST(ParseKafkaPropertiesTest, ABadLineIsNamedNotQuoted) {
  EXPECT_THAT(ParseKafkaProperties("security.protocol=ssl\nhunter2\n", "client.properties"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("client.properties:2"), Not(HasSubstr("hunter2")))));
  EXPECT_THAT(ParseKafkaProperties("=value\n", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f:1")));
}

TEST(ReadKafkaPropertiesTest, ReadsAFileAndNamesAMissingOne) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("client.properties")) << "security.protocol=ssl\n";
  auto read = ReadKafkaProperties(dir.Sub("client.properties"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, ElementsAre(Pair("security.protocol", "ssl")));
  EXPECT_THAT(ReadKafkaProperties(dir.Sub("missing")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing")));
}

TEST(CreateTopicsTest, SettingsTheClientRefusesAreNamedWithoutTheirSecrets) {
  ClientOptions client;
  client.brokers = "127.0.0.1:1";
  client.settings = {{"security.protocol", "ssl"},
                     {"ssl.ca.location", "/nonexistent/ca.pem"},
                     {"ssl.key.password", kPassword}};
  client.settings_field = "kafka.consumer.";
  absl::Status s = CreateTopics(client, {{"t", 1, 1, {}}}, absl::Seconds(1));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("kafka.consumer"), HasSubstr("ssl.ca.location"),
                                Not(HasSubstr(kPassword)))));

  client.settings = {{"security.protocol", "tls"}};
  EXPECT_THAT(
      CreateTopics(client, {{"t", 1, 1, {}}}, absl::Seconds(1)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kafka.consumer.security.protocol")));
}

TEST(CreateTopicsTest, UnreachableBrokersSayWhy) {
  ClientOptions client;
  client.brokers = absl::StrCat("127.0.0.1:", testing::FreePort());  // nobody listens
  absl::Status s = CreateTopics(client, {{"t", 1, 1, {}}}, absl::Seconds(1));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("last broker error")));
}

}  // namespace
}  // namespace assent::events
