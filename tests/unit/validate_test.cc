#include "core/validate.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace assent::core {
namespace {

using ::testing::HasSubstr;
using Strings = std::vector<std::string>;

// The field an INVALID_ARGUMENT names ("<field>: <why>"), "OK" for success, or the code's name
// for any other status, so a failing expectation shows what actually came back.
std::string FieldOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return absl::StatusCodeToString(status.code());
  }
  std::string message(status.message());
  size_t colon = message.find(": ");
  return colon == std::string::npos ? "<no field in: " + message + ">" : message.substr(0, colon);
}

std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

// --- identifiers -------------------------------------------------------------------------------

TEST(ValidateTenantIdTest, AcceptsThePattern) {
  for (const std::string& id : Strings{"acme", "a", "0", "acme-eu-2", std::string(63, 'a')}) {
    EXPECT_TRUE(ValidateTenantId("tenant", id).ok()) << id;
  }
}

TEST(ValidateTenantIdTest, RejectsWithFieldAndReason) {
  EXPECT_EQ(MessageOf(ValidateTenantId("tenant", "")), "tenant: must not be empty");
  EXPECT_EQ(MessageOf(ValidateTenantId("tenant", std::string(64, 'a'))),
            "tenant: must be at most 63 characters (got 64)");
  EXPECT_EQ(MessageOf(ValidateTenantId("tenant", "Acme")),
            "tenant: must match [a-z0-9][a-z0-9-]{0,62} ('A' at offset 0)");
  for (const std::string& id :
       Strings{"-acme", "acme_eu", "acme.eu", "acme eu", "acm\xC3\xA9", "ac/me"}) {
    EXPECT_EQ(FieldOf(ValidateTenantId("parent.tenant_id", id)), "parent.tenant_id") << id;
  }
}

TEST(ValidateSubjectIdTest, AcceptsPrintableAscii) {
  for (const std::string& id :
       Strings{"cust-42", "x", "A~!#$%&()*+,-.:;<=>?@[]^_`{|}", std::string(128, 'z')}) {
    EXPECT_TRUE(ValidateSubjectId("subject_id", id).ok()) << id;
  }
}

TEST(ValidateSubjectIdTest, RejectsEmptyLongSlashAndUnprintable) {
  EXPECT_EQ(MessageOf(ValidateSubjectId("subject_id", "")), "subject_id: must not be empty");
  EXPECT_EQ(MessageOf(ValidateSubjectId("subject_id", std::string(129, 'z'))),
            "subject_id: must be at most 128 characters (got 129)");
  EXPECT_EQ(MessageOf(ValidateSubjectId("subject_id", "a/b")),
            "subject_id: must not contain '/' (at offset 1)");
  for (const std::string& id :
       Strings{std::string("a b"), std::string("tab\t"), std::string("nul\0x", 5),
               std::string("caf\xC3\xA9"), std::string("del\x7F")}) {
    absl::Status status = ValidateSubjectId("target.subject_id", id);
    EXPECT_EQ(FieldOf(status), "target.subject_id");
    EXPECT_THAT(MessageOf(status), HasSubstr("printable ASCII"));
  }
}

TEST(ValidatePurposeIdTest, AcceptsAndRejects) {
  for (const std::string& id :
       Strings{"marketing.newsletter", "a", "9_lives-v2.x", std::string(128, 'p')}) {
    EXPECT_TRUE(ValidatePurposeId("purpose_id", id).ok()) << id;
  }
  EXPECT_EQ(MessageOf(ValidatePurposeId("decisions[2].purpose_id", "")),
            "decisions[2].purpose_id: must not be empty");
  EXPECT_EQ(MessageOf(ValidatePurposeId("purpose_id", std::string(129, 'p'))),
            "purpose_id: must be at most 128 characters (got 129)");
  EXPECT_EQ(MessageOf(ValidatePurposeId("purpose_id", ".hidden")),
            "purpose_id: must match [a-z0-9][a-z0-9._-]{0,127} ('.' at offset 0)");
  EXPECT_EQ(FieldOf(ValidatePurposeId("purpose_id", "Marketing")), "purpose_id");
  EXPECT_EQ(FieldOf(ValidatePurposeId("purpose_id", "a/b")), "purpose_id");
}

TEST(ValidateTopicTest, OptionalButPatterned) {
  EXPECT_TRUE(ValidateTopic("topic", "").ok());
  EXPECT_TRUE(ValidateTopic("topic", "weekly-deals.v2_x").ok());
  EXPECT_TRUE(ValidateTopic("topic", std::string(64, 't')).ok());
  EXPECT_EQ(MessageOf(ValidateTopic("decisions[0].topic", std::string(65, 't'))),
            "decisions[0].topic: must be at most 64 characters (got 65)");
  EXPECT_EQ(MessageOf(ValidateTopic("topic", "Weekly")),
            "topic: must match [a-z0-9][a-z0-9._-]{0,63} ('W' at offset 0)");
}

TEST(ValidateSourceTest, RequiredAndPatterned) {
  EXPECT_TRUE(ValidateSource("source", "web-signup-v3").ok());
  EXPECT_TRUE(ValidateSource("source", "sms-stop").ok());
  EXPECT_EQ(MessageOf(ValidateSource("source", "")), "source: must not be empty");
  EXPECT_EQ(MessageOf(ValidateSource("source", "web signup")),
            "source: must match [a-z0-9][a-z0-9._-]{0,63} (byte 0x20 at offset 3)");
  EXPECT_EQ(FieldOf(ValidateSource("source", std::string(65, 's'))), "source");
}

TEST(ValidateActorTest, PrintableAsciiSlashAllowed) {
  EXPECT_TRUE(ValidateActor("actor", "svc/crm-sync@prod").ok());
  EXPECT_TRUE(ValidateActor("actor", std::string(128, 'a')).ok());
  EXPECT_EQ(MessageOf(ValidateActor("actor", "")), "actor: must not be empty");
  EXPECT_EQ(MessageOf(ValidateActor("actor", std::string(129, 'a'))),
            "actor: must be at most 128 characters (got 129)");
  EXPECT_EQ(FieldOf(ValidateActor("actor", "crm sync")), "actor");
}

TEST(ValidateIdempotencyKeyTest, OptionalPrintableAscii) {
  EXPECT_TRUE(ValidateIdempotencyKey("idempotency_key", "").ok());
  EXPECT_TRUE(
      ValidateIdempotencyKey("idempotency_key", "7d444840-9dc0-11d1-b245-5ffdce74fad2").ok());
  EXPECT_TRUE(ValidateIdempotencyKey("idempotency_key", std::string(128, 'k')).ok());
  EXPECT_EQ(MessageOf(ValidateIdempotencyKey("idempotency_key", std::string(129, 'k'))),
            "idempotency_key: must be at most 128 characters (got 129)");
  EXPECT_EQ(FieldOf(ValidateIdempotencyKey("idempotency_key", "a key")), "idempotency_key");
}

// --- jurisdiction, channel, time zone ----------------------------------------------------------

TEST(ValidateJurisdictionTest, AcceptsCountriesAndSubdivisions) {
  for (const std::string& j :
       Strings{"", "US", "DE", "US-CA", "GB-ENG", "FR-75", "CN-GD1", "ES-M"}) {
    EXPECT_TRUE(ValidateJurisdiction("jurisdiction", j).ok()) << j;
    EXPECT_TRUE(ValidateJurisdiction("jurisdiction", j, /*allow_policy_wildcards=*/true).ok()) << j;
  }
}

TEST(ValidateJurisdictionTest, RejectsMalformed) {
  EXPECT_EQ(MessageOf(ValidateJurisdiction("jurisdiction", "us-ca")),
            "jurisdiction: must be an ISO 3166-1 alpha-2 country like \"US\" or a subdivision "
            "like \"US-CA\" (got \"us-ca\")");
  for (const std::string& j :
       Strings{"U", "USA", "US-", "US-CALI", "US_CA", "US-ca", "U1", "US CA", "-US"}) {
    EXPECT_EQ(FieldOf(ValidateJurisdiction("decisions[1].jurisdiction", j)),
              "decisions[1].jurisdiction")
        << j;
    EXPECT_FALSE(ValidateJurisdiction("j", j, /*allow_policy_wildcards=*/true).ok()) << j;
  }
}

TEST(ValidateJurisdictionTest, WildcardsOnlyForPolicies) {
  EXPECT_EQ(MessageOf(ValidateJurisdiction("jurisdiction", "EU")),
            "jurisdiction: \"EU\" is a region, allowed only in default-policy rules");
  EXPECT_EQ(FieldOf(ValidateJurisdiction("jurisdiction", "*")), "jurisdiction");
  EXPECT_TRUE(ValidateJurisdiction("jurisdiction", "EU", /*allow_policy_wildcards=*/true).ok());
  EXPECT_TRUE(ValidateJurisdiction("jurisdiction", "*", /*allow_policy_wildcards=*/true).ok());
  EXPECT_EQ(MessageOf(ValidateJurisdiction("jurisdiction", "EU-FR", true)),
            "jurisdiction: \"EU\" has no subdivisions");
  EXPECT_FALSE(ValidateJurisdiction("jurisdiction", "**", true).ok());
  EXPECT_FALSE(ValidateJurisdiction("jurisdiction", "*-CA", true).ok());
}

TEST(ValidateChannelTest, KnownAndSpecified) {
  for (int c = v1::EMAIL; c <= v1::IN_APP; ++c) {
    EXPECT_TRUE(ValidateChannel("channel", c, /*allow_unspecified=*/false).ok()) << c;
  }
  EXPECT_TRUE(ValidateChannel("channel", v1::CHANNEL_UNSPECIFIED, /*allow_unspecified=*/true).ok());
  EXPECT_EQ(MessageOf(ValidateChannel("channel", 0, /*allow_unspecified=*/false)),
            "channel: must be specified (not CHANNEL_UNSPECIFIED)");
  EXPECT_EQ(MessageOf(ValidateChannel("checks[3].channel", 42, /*allow_unspecified=*/true)),
            "checks[3].channel: unknown channel value 42");
  EXPECT_EQ(FieldOf(ValidateChannel("channel", -1, true)), "channel");
  EXPECT_EQ(FieldOf(ValidateChannel("channel", 8, true)), "channel");
}

TEST(ValidateTimeZoneTest, AcceptsIanaNames) {
  for (const std::string& tz : Strings{"Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires",
                                       "Etc/GMT+5", "America/Port-au-Prince", "Asia/Kolkata"}) {
    EXPECT_TRUE(ValidateTimeZone("time_zone", tz).ok()) << tz;
  }
}

TEST(ValidateTimeZoneTest, RejectsUnknownAndPathLikeNames) {
  EXPECT_EQ(MessageOf(ValidateTimeZone("time_zone", "")), "time_zone: must not be empty");
  EXPECT_EQ(MessageOf(ValidateTimeZone("preferences.quiet_hours.time_zone", "Mars/Base")),
            "preferences.quiet_hours.time_zone: unknown time zone \"Mars/Base\"");
  EXPECT_EQ(MessageOf(ValidateTimeZone("time_zone", "Europe/Berlin\n")),
            "time_zone: unknown time zone \"Europe/Berlin\\n\"");
  for (const std::string& tz : Strings{
           "/etc/localtime", "/usr/share/zoneinfo/UTC", "../zoneinfo/UTC", "Europe//Berlin",
           "Europe/", "localtime", "europe/berlin ", "Fixed/UTC+01:00:00", std::string(65, 'A')}) {
    EXPECT_EQ(FieldOf(ValidateTimeZone("time_zone", tz)), "time_zone") << tz;
  }
}

// --- evidence ----------------------------------------------------------------------------------

v1::Evidence FullEvidence() {
  v1::Evidence e;
  e.set_notice_version(3);
  e.set_language("en-GB");
  e.set_ip_address("192.0.2.1");
  e.set_user_agent(std::string(1024, 'u'));
  e.set_tcf_string(std::string(8192, 't'));
  e.set_gpp_string(std::string(8192, 'g'));
  e.set_gpc(true);
  e.mutable_confirm_time()->set_seconds(1700000000);
  e.mutable_confirm_time()->set_nanos(999999999);
  e.set_reference(std::string(256, 'r'));
  return e;
}

TEST(ValidateEvidenceTest, AcceptsEmptyAndFull) {
  EXPECT_TRUE(ValidateEvidence("evidence", v1::Evidence()).ok());
  EXPECT_TRUE(ValidateEvidence("evidence", FullEvidence()).ok());
}

TEST(ValidateEvidenceTest, AcceptsLanguageTagsAndAddresses) {
  // The last one is 35 characters, the longest allowed.
  for (const std::string& lang :
       Strings{"en", "de-CH", "zh-Hant-TW", "es-419", "x-private", "sgn-BE-FR", "en-GB-oxendict",
               "en-abcdefgh-abcdefgh-abcdefgh-abcde"}) {
    v1::Evidence e;
    e.set_language(lang);
    EXPECT_TRUE(ValidateEvidence("evidence", e).ok()) << lang;
  }
  for (const std::string& ip : Strings{"203.0.113.9", "2001:db8::1", "::1", "::ffff:192.0.2.1"}) {
    v1::Evidence e;
    e.set_ip_address(ip);
    EXPECT_TRUE(ValidateEvidence("evidence", e).ok()) << ip;
  }
}

TEST(ValidateEvidenceTest, RejectsWhatOnlyAssentSets) {
  v1::Evidence e;
  e.mutable_sealed()->set_data_key_id("k");
  EXPECT_EQ(FieldOf(ValidateEvidence("evidence", e)), "evidence.sealed");
  e.clear_sealed();
  e.set_shredded(true);
  EXPECT_EQ(FieldOf(ValidateEvidence("evidence", e)), "evidence.shredded");
}

TEST(ValidateEvidenceTest, RejectsBadLanguage) {
  v1::Evidence e;
  e.set_language(std::string(36, 'a'));
  EXPECT_EQ(MessageOf(ValidateEvidence("evidence", e)),
            "evidence.language: must be at most 35 characters (got 36)");
  for (const std::string& lang :
       Strings{"en_GB", "-en", "en-", "en--GB", "123", "en GB", "abcdefghi"}) {
    e.set_language(lang);
    EXPECT_EQ(FieldOf(ValidateEvidence("decisions[0].evidence", e)),
              "decisions[0].evidence.language")
        << lang;
  }
}

TEST(ValidateEvidenceTest, RejectsBadIpAddress) {
  for (const std::string& ip :
       Strings{"999.1.1.1", "example.com", "192.0.2.1 ", "192.0.2", "fe80::1%eth0",
               "1:2:3:4:5:6:7:8:9", std::string("192.0.2.1\0junk", 14), std::string(100, '1')}) {
    v1::Evidence e;
    e.set_ip_address(ip);
    absl::Status status = ValidateEvidence("evidence", e);
    EXPECT_EQ(FieldOf(status), "evidence.ip_address") << ip;
    EXPECT_THAT(MessageOf(status), HasSubstr("IPv4 or IPv6"));
  }
}

TEST(ValidateEvidenceTest, RejectsOverlongStrings) {
  struct Case {
    void (*mutate)(v1::Evidence*);
    std::string field;
  };
  const Case cases[] = {
      {[](v1::Evidence* e) { e->set_user_agent(std::string(1025, 'u')); }, "evidence.user_agent"},
      {[](v1::Evidence* e) { e->set_tcf_string(std::string(8193, 't')); }, "evidence.tcf_string"},
      {[](v1::Evidence* e) { e->set_gpp_string(std::string(8193, 'g')); }, "evidence.gpp_string"},
      {[](v1::Evidence* e) { e->set_reference(std::string(257, 'r')); }, "evidence.reference"},
  };
  for (const Case& c : cases) {
    v1::Evidence e = FullEvidence();
    c.mutate(&e);
    absl::Status status = ValidateEvidence("evidence", e);
    EXPECT_EQ(FieldOf(status), c.field);
    EXPECT_THAT(MessageOf(status), HasSubstr("must be at most"));
  }
  // Lengths count characters, not bytes: 256 two-byte characters are a valid reference.
  v1::Evidence e;
  std::string reference;
  for (int i = 0; i < 256; ++i) reference += "\xC3\xA9";
  e.set_reference(reference);
  EXPECT_TRUE(ValidateEvidence("evidence", e).ok());
}

TEST(ValidateEvidenceTest, ConfirmTimeRange) {
  v1::Evidence e;
  e.mutable_confirm_time()->set_seconds(-62135596800);  // 0001-01-01T00:00:00Z
  EXPECT_TRUE(ValidateEvidence("evidence", e).ok());
  e.mutable_confirm_time()->set_seconds(253402300799);  // 9999-12-31T23:59:59Z
  EXPECT_TRUE(ValidateEvidence("evidence", e).ok());
  e.mutable_confirm_time()->set_seconds(253402300800);
  EXPECT_EQ(FieldOf(ValidateEvidence("evidence", e)), "evidence.confirm_time");
  e.mutable_confirm_time()->set_seconds(-62135596801);
  EXPECT_EQ(FieldOf(ValidateEvidence("evidence", e)), "evidence.confirm_time");
  e.mutable_confirm_time()->set_seconds(0);
  e.mutable_confirm_time()->set_nanos(-1);
  EXPECT_EQ(MessageOf(ValidateEvidence("evidence", e)),
            "evidence.confirm_time: nanos must be between 0 and 999999999 (got -1)");
  e.mutable_confirm_time()->set_nanos(1000000000);
  EXPECT_EQ(FieldOf(ValidateEvidence("evidence", e)), "evidence.confirm_time");
}

// --- purposes ----------------------------------------------------------------------------------

v1::Purpose GoodPurpose() {
  v1::Purpose p;
  p.set_purpose_id("marketing.newsletter");
  p.set_display_name("Newsletter");
  p.set_kind(v1::MARKETING);
  p.set_legal_basis(v1::CONSENT);
  p.add_channels(v1::EMAIL);
  p.add_channels(v1::SMS);
  p.mutable_lifespan()->set_seconds(730 * 86400);
  p.set_notice_version(3);
  p.set_min_notice_version(2);
  p.set_dpv_iri("https://w3id.org/dpv#Marketing");
  p.add_topics("weekly-deals");
  p.add_topics("product.news");
  return p;
}

TEST(ValidatePurposeFieldsTest, AcceptsGoodPurposes) {
  EXPECT_TRUE(ValidatePurposeFields("purpose", GoodPurpose()).ok());

  v1::Purpose minimal;
  minimal.set_display_name("Receipts");
  minimal.set_kind(v1::TRANSACTIONAL);
  minimal.set_legal_basis(v1::CONTRACT);
  minimal.add_channels(v1::EMAIL);
  minimal.set_notice_version(1);
  EXPECT_TRUE(ValidatePurposeFields("purpose", minimal).ok());

  v1::Purpose edges = GoodPurpose();
  edges.mutable_lifespan()->set_seconds(86400);
  edges.set_min_notice_version(3);
  edges.set_dpv_iri("http://example.org/dpv");
  EXPECT_TRUE(ValidatePurposeFields("purpose", edges).ok());
  edges.mutable_lifespan()->set_seconds(36525LL * 86400);
  edges.set_min_notice_version(0);
  EXPECT_TRUE(ValidatePurposeFields("purpose", edges).ok());
}

TEST(ValidatePurposeFieldsTest, ConfirmationRulesAndPendingTtl) {
  v1::Purpose p = GoodPurpose();
  auto add = [](v1::Purpose& purpose, v1::Channel channel, std::string jurisdiction) {
    v1::ConfirmationRule* rule = purpose.add_confirmation();
    rule->set_channel(channel);
    rule->set_jurisdiction(std::move(jurisdiction));
  };
  add(p, v1::EMAIL, "DE");
  add(p, v1::EMAIL, "EU");
  add(p, v1::CHANNEL_UNSPECIFIED, "AT");
  add(p, v1::SMS, "US-CA");
  add(p, v1::SMS, "*");
  p.mutable_pending_ttl()->set_seconds(3600);
  EXPECT_TRUE(ValidatePurposeFields("purpose", p).ok());
  p.mutable_pending_ttl()->set_seconds(90 * 86400);
  EXPECT_TRUE(ValidatePurposeFields("purpose", p).ok());

  auto error = [](const v1::Purpose& purpose) {
    return std::string(ValidatePurposeFields("purpose", purpose).message());
  };
  v1::Purpose short_ttl = p;
  short_ttl.mutable_pending_ttl()->set_seconds(3599);
  EXPECT_THAT(error(short_ttl), HasSubstr("purpose.pending_ttl"));
  v1::Purpose long_ttl = p;
  long_ttl.mutable_pending_ttl()->set_seconds(90 * 86400 + 1);
  EXPECT_THAT(error(long_ttl), HasSubstr("purpose.pending_ttl"));
  v1::Purpose other_channel = p;
  add(other_channel, v1::PUSH, "DE");
  EXPECT_THAT(error(other_channel), HasSubstr("purpose.confirmation[5].channel"));
  v1::Purpose no_jurisdiction = p;
  add(no_jurisdiction, v1::EMAIL, "");
  EXPECT_THAT(error(no_jurisdiction), HasSubstr("purpose.confirmation[5].jurisdiction"));
  v1::Purpose bad_jurisdiction = p;
  add(bad_jurisdiction, v1::EMAIL, "germany");
  EXPECT_THAT(error(bad_jurisdiction), HasSubstr("purpose.confirmation[5].jurisdiction"));
  v1::Purpose duplicate = p;
  add(duplicate, v1::EMAIL, "DE");
  EXPECT_THAT(error(duplicate), HasSubstr("purpose.confirmation[5]: duplicates"));
}

TEST(ValidatePurposeFieldsTest, RejectsEachBadField) {
  struct Case {
    std::string name;
    void (*mutate)(v1::Purpose*);
    std::string message;
  };
  const Case cases[] = {
      {"no display name", [](v1::Purpose* p) { p->clear_display_name(); },
       "purpose.display_name: must not be empty"},
      {"no kind", [](v1::Purpose* p) { p->set_kind(v1::PURPOSE_KIND_UNSPECIFIED); },
       "purpose.kind: must be specified (not PURPOSE_KIND_UNSPECIFIED)"},
      {"unknown kind", [](v1::Purpose* p) { p->set_kind(static_cast<v1::PurposeKind>(99)); },
       "purpose.kind: unknown purpose kind value 99"},
      {"no legal basis", [](v1::Purpose* p) { p->set_legal_basis(v1::LEGAL_BASIS_UNSPECIFIED); },
       "purpose.legal_basis: must be specified (not LEGAL_BASIS_UNSPECIFIED)"},
      {"unknown legal basis",
       [](v1::Purpose* p) { p->set_legal_basis(static_cast<v1::LegalBasis>(7)); },
       "purpose.legal_basis: unknown legal basis value 7"},
      {"no channels", [](v1::Purpose* p) { p->clear_channels(); },
       "purpose.channels: must name at least one channel"},
      {"unspecified channel", [](v1::Purpose* p) { p->add_channels(v1::CHANNEL_UNSPECIFIED); },
       "purpose.channels[2]: must be specified (not CHANNEL_UNSPECIFIED)"},
      {"unknown channel", [](v1::Purpose* p) { p->set_channels(1, static_cast<v1::Channel>(42)); },
       "purpose.channels[1]: unknown channel value 42"},
      {"duplicate channel", [](v1::Purpose* p) { p->add_channels(v1::EMAIL); },
       "purpose.channels[2]: duplicate channel EMAIL (already at index 0)"},
      {"short lifespan", [](v1::Purpose* p) { p->mutable_lifespan()->set_seconds(86399); },
       "purpose.lifespan: must be between 1 day and 100 years (got 23h59m59s)"},
      {"zero lifespan", [](v1::Purpose* p) { p->mutable_lifespan()->set_seconds(0); },
       "purpose.lifespan: must be between 1 day and 100 years (got 0)"},
      {"long lifespan",
       [](v1::Purpose* p) { p->mutable_lifespan()->set_seconds(36525LL * 86400 + 1); },
       "purpose.lifespan: must be between 1 day and 100 years (got 36525d1s)"},
      {"malformed lifespan",
       [](v1::Purpose* p) {
         p->mutable_lifespan()->set_seconds(86400 * 2);
         p->mutable_lifespan()->set_nanos(-5);
       },
       "purpose.lifespan: is not a valid duration (seconds 172800, nanos -5)"},
      {"no notice version", [](v1::Purpose* p) { p->set_notice_version(0); },
       "purpose.notice_version: must be at least 1"},
      {"min above notice", [](v1::Purpose* p) { p->set_min_notice_version(4); },
       "purpose.min_notice_version: must not exceed notice_version (4 > 3)"},
      {"iri scheme", [](v1::Purpose* p) { p->set_dpv_iri("ftp://w3id.org/dpv"); },
       "purpose.dpv_iri: must start with \"http://\" or \"https://\""},
      {"iri scheme case", [](v1::Purpose* p) { p->set_dpv_iri("w3id.org/dpv#Marketing"); },
       "purpose.dpv_iri: must start with \"http://\" or \"https://\""},
      {"iri no host", [](v1::Purpose* p) { p->set_dpv_iri("https://"); },
       "purpose.dpv_iri: must name a host after the scheme"},
      {"iri space", [](v1::Purpose* p) { p->set_dpv_iri("https://w3id.org/dpv Marketing"); },
       "purpose.dpv_iri: must not contain spaces or control characters"},
      {"iri too long",
       [](v1::Purpose* p) { p->set_dpv_iri("https://x.org/" + std::string(499, 'a')); },
       "purpose.dpv_iri: must be at most 512 characters (got 513)"},
      {"empty topic", [](v1::Purpose* p) { p->add_topics(""); },
       "purpose.topics[2]: must not be empty"},
      {"bad topic", [](v1::Purpose* p) { p->set_topics(0, "Weekly"); },
       "purpose.topics[0]: must match [a-z0-9][a-z0-9._-]{0,63} ('W' at offset 0)"},
      {"duplicate topic", [](v1::Purpose* p) { p->add_topics("weekly-deals"); },
       "purpose.topics[2]: duplicate topic \"weekly-deals\" (already at index 0)"},
  };
  for (const Case& c : cases) {
    v1::Purpose p = GoodPurpose();
    c.mutate(&p);
    EXPECT_EQ(MessageOf(ValidatePurposeFields("purpose", p)), c.message) << c.name;
  }
}

TEST(ValidatePurposeFieldsTest, LongestLegalIri) {
  v1::Purpose p = GoodPurpose();
  p.set_dpv_iri("https://x.org/" + std::string(498, 'a'));
  EXPECT_TRUE(ValidatePurposeFields("purpose", p).ok());
}

// --- default policy ----------------------------------------------------------------------------

v1::PolicyRule Rule(std::string jurisdiction, int channel, int kind, v1::PolicyMode mode) {
  v1::PolicyRule r;
  r.set_jurisdiction(jurisdiction);
  r.set_channel(static_cast<v1::Channel>(channel));
  r.set_purpose_kind(static_cast<v1::PurposeKind>(kind));
  r.set_mode(mode);
  return r;
}

v1::DefaultPolicy GoodPolicy() {
  v1::DefaultPolicy p;
  *p.add_rules() = Rule("*", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN);
  *p.add_rules() = Rule("US", v1::EMAIL, v1::MARKETING, v1::OPT_OUT);
  *p.add_rules() = Rule("US", v1::SMS, v1::MARKETING, v1::OPT_IN);
  *p.add_rules() = Rule("US-CA", v1::CHANNEL_UNSPECIFIED, v1::SALE_OR_SHARE, v1::OPT_OUT);
  *p.add_rules() = Rule("EU", v1::CHANNEL_UNSPECIFIED, v1::MARKETING, v1::OPT_IN);
  return p;
}

TEST(ValidatePolicyTest, AcceptsGoodPolicies) {
  EXPECT_TRUE(ValidatePolicy("policy", v1::DefaultPolicy()).ok());
  EXPECT_TRUE(ValidatePolicy("policy", GoodPolicy()).ok());
}

// 1000 distinct rules: jurisdictions "AA", "AB", ... crossed with the eight channel values.
v1::DefaultPolicy PolicyWithRules(int n) {
  v1::DefaultPolicy p;
  for (int i = 0; i < n; ++i) {
    int j = i / 8;
    std::string jurisdiction = {static_cast<char>('A' + j / 26), static_cast<char>('A' + j % 26)};
    if (jurisdiction == "EU") jurisdiction = "ZZ";
    *p.add_rules() = Rule(jurisdiction, i % 8, v1::MARKETING, v1::OPT_IN);
  }
  return p;
}

TEST(ValidatePolicyTest, AtMostAThousandRules) {
  EXPECT_TRUE(ValidatePolicy("policy", PolicyWithRules(1000)).ok());
  EXPECT_EQ(MessageOf(ValidatePolicy("policy", PolicyWithRules(1001))),
            "policy.rules: must have at most 1000 rules (got 1001)");
}

TEST(ValidatePolicyTest, RejectsEachBadField) {
  struct Case {
    std::string name;
    v1::PolicyRule rule;
    std::string field;
  };
  const Case cases[] = {
      {"no jurisdiction", Rule("", v1::EMAIL, v1::MARKETING, v1::OPT_IN),
       "policy.rules[5].jurisdiction"},
      {"lower-case jurisdiction", Rule("us", v1::EMAIL, v1::MARKETING, v1::OPT_IN),
       "policy.rules[5].jurisdiction"},
      {"EU subdivision", Rule("EU-DE", v1::EMAIL, v1::MARKETING, v1::OPT_IN),
       "policy.rules[5].jurisdiction"},
      {"unknown channel", Rule("DE", 42, v1::MARKETING, v1::OPT_IN), "policy.rules[5].channel"},
      {"unknown kind", Rule("DE", v1::EMAIL, 99, v1::OPT_IN), "policy.rules[5].purpose_kind"},
      {"no mode", Rule("DE", v1::EMAIL, v1::MARKETING, v1::POLICY_MODE_UNSPECIFIED),
       "policy.rules[5].mode"},
      {"unknown mode", Rule("DE", v1::EMAIL, v1::MARKETING, static_cast<v1::PolicyMode>(3)),
       "policy.rules[5].mode"},
      {"duplicate", Rule("US", v1::EMAIL, v1::MARKETING, v1::OPT_IN), "policy.rules[5]"},
  };
  for (const Case& c : cases) {
    v1::DefaultPolicy p = GoodPolicy();
    *p.add_rules() = c.rule;
    EXPECT_EQ(FieldOf(ValidatePolicy("policy", p)), c.field) << c.name;
  }
}

TEST(ValidatePolicyTest, DuplicateNamesTheFirstRule) {
  v1::DefaultPolicy p = GoodPolicy();
  *p.add_rules() = Rule("*", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_OUT);
  EXPECT_EQ(MessageOf(ValidatePolicy("policy", p)),
            "policy.rules[5]: duplicates rules[0] (*, any channel, any purpose kind)");
  // The same jurisdiction with another channel or kind is a different rule.
  p = GoodPolicy();
  *p.add_rules() = Rule("US", v1::EMAIL, v1::ANALYTICS, v1::OPT_IN);
  *p.add_rules() = Rule("US", v1::CHANNEL_UNSPECIFIED, v1::MARKETING, v1::OPT_IN);
  EXPECT_TRUE(ValidatePolicy("policy", p).ok());
}

// --- preferences -------------------------------------------------------------------------------

v1::Preferences GoodPreferences() {
  v1::Preferences p;
  v1::QuietHours* quiet = p.mutable_quiet_hours();
  quiet->set_start_minute(22 * 60);
  quiet->set_end_minute(7 * 60);
  quiet->set_time_zone("Europe/Berlin");
  quiet->add_channels(v1::SMS);
  quiet->add_channels(v1::VOICE);
  v1::FrequencyCap* cap = p.add_frequency_caps();
  cap->set_channel(v1::EMAIL);
  cap->set_max_messages(3);
  cap->mutable_period()->set_seconds(7 * 86400);
  p.set_preferred_language("de-DE");
  p.set_preferred_channel(v1::EMAIL);
  p.add_global_opt_out_channels(v1::TARGETED_ADS);
  p.set_jurisdiction("DE");
  return p;
}

TEST(ValidatePreferencesTest, AcceptsGoodPreferences) {
  EXPECT_TRUE(ValidatePreferences("preferences", v1::Preferences()).ok());
  EXPECT_TRUE(ValidatePreferences("preferences", GoodPreferences()).ok());

  v1::Preferences edges = GoodPreferences();
  edges.mutable_quiet_hours()->set_start_minute(0);
  edges.mutable_quiet_hours()->set_end_minute(1439);
  edges.mutable_quiet_hours()->clear_channels();
  edges.mutable_frequency_caps(0)->mutable_period()->set_seconds(60);
  v1::FrequencyCap* yearly = edges.add_frequency_caps();
  yearly->set_channel(v1::EMAIL);
  yearly->set_max_messages(1);
  yearly->mutable_period()->set_seconds(366 * 86400);
  edges.set_preferred_channel(v1::CHANNEL_UNSPECIFIED);
  edges.set_jurisdiction("US-CA");
  EXPECT_TRUE(ValidatePreferences("preferences", edges).ok());
}

TEST(ValidatePreferencesTest, RejectsEachBadField) {
  struct Case {
    std::string name;
    void (*mutate)(v1::Preferences*);
    std::string message;
  };
  const Case cases[] = {
      {"start past midnight",
       [](v1::Preferences* p) { p->mutable_quiet_hours()->set_start_minute(1440); },
       "preferences.quiet_hours.start_minute: must be between 0 and 1439 (got 1440)"},
      {"end past midnight",
       [](v1::Preferences* p) { p->mutable_quiet_hours()->set_end_minute(5000); },
       "preferences.quiet_hours.end_minute: must be between 0 and 1439 (got 5000)"},
      {"empty window", [](v1::Preferences* p) { p->mutable_quiet_hours()->set_end_minute(1320); },
       "preferences.quiet_hours.end_minute: must differ from start_minute (the window would be "
       "empty)"},
      {"no time zone", [](v1::Preferences* p) { p->mutable_quiet_hours()->clear_time_zone(); },
       "preferences.quiet_hours.time_zone: must not be empty"},
      {"unknown time zone",
       [](v1::Preferences* p) { p->mutable_quiet_hours()->set_time_zone("Mars/Base"); },
       "preferences.quiet_hours.time_zone: unknown time zone \"Mars/Base\""},
      {"quiet channel unspecified",
       [](v1::Preferences* p) { p->mutable_quiet_hours()->add_channels(v1::CHANNEL_UNSPECIFIED); },
       "preferences.quiet_hours.channels[2]: must be specified (not CHANNEL_UNSPECIFIED)"},
      {"quiet channel duplicate",
       [](v1::Preferences* p) { p->mutable_quiet_hours()->add_channels(v1::VOICE); },
       "preferences.quiet_hours.channels[2]: duplicate channel VOICE (already at index 1)"},
      {"cap channel unspecified",
       [](v1::Preferences* p) { p->mutable_frequency_caps(0)->clear_channel(); },
       "preferences.frequency_caps[0].channel: must be specified (not CHANNEL_UNSPECIFIED)"},
      {"cap channel unknown",
       [](v1::Preferences* p) {
         p->mutable_frequency_caps(0)->set_channel(static_cast<v1::Channel>(42));
       },
       "preferences.frequency_caps[0].channel: unknown channel value 42"},
      {"cap zero messages",
       [](v1::Preferences* p) { p->mutable_frequency_caps(0)->set_max_messages(0); },
       "preferences.frequency_caps[0].max_messages: must be at least 1"},
      {"cap period missing",
       [](v1::Preferences* p) { p->mutable_frequency_caps(0)->clear_period(); },
       "preferences.frequency_caps[0].period: must be between 1 minute and 366 days (got 0)"},
      {"cap period short",
       [](v1::Preferences* p) { p->mutable_frequency_caps(0)->mutable_period()->set_seconds(59); },
       "preferences.frequency_caps[0].period: must be between 1 minute and 366 days (got 59s)"},
      {"cap period long",
       [](v1::Preferences* p) {
         p->mutable_frequency_caps(0)->mutable_period()->set_seconds(367 * 86400);
       },
       "preferences.frequency_caps[0].period: must be between 1 minute and 366 days (got "
       "367d)"},
      {"bad language", [](v1::Preferences* p) { p->set_preferred_language("de_DE"); },
       "preferences.preferred_language: must be a BCP 47 language tag like \"en-GB\" "
       "(unexpected '_')"},
      {"unknown preferred channel",
       [](v1::Preferences* p) { p->set_preferred_channel(static_cast<v1::Channel>(9)); },
       "preferences.preferred_channel: unknown channel value 9"},
      {"opt-out unspecified",
       [](v1::Preferences* p) { p->add_global_opt_out_channels(v1::CHANNEL_UNSPECIFIED); },
       "preferences.global_opt_out_channels[1]: must be specified (not CHANNEL_UNSPECIFIED)"},
      {"opt-out duplicate",
       [](v1::Preferences* p) { p->add_global_opt_out_channels(v1::TARGETED_ADS); },
       "preferences.global_opt_out_channels[1]: duplicate channel TARGETED_ADS (already at "
       "index 0)"},
      {"wildcard jurisdiction", [](v1::Preferences* p) { p->set_jurisdiction("*"); },
       "preferences.jurisdiction: must be an ISO 3166-1 alpha-2 country like \"US\" or a "
       "subdivision like \"US-CA\" (got \"*\")"},
      {"EU jurisdiction", [](v1::Preferences* p) { p->set_jurisdiction("EU"); },
       "preferences.jurisdiction: \"EU\" is a region, allowed only in default-policy rules"},
  };
  for (const Case& c : cases) {
    v1::Preferences p = GoodPreferences();
    c.mutate(&p);
    EXPECT_EQ(MessageOf(ValidatePreferences("preferences", p)), c.message) << c.name;
  }
}

// --- display names -----------------------------------------------------------------------------

TEST(ValidateDisplayNameTest, AcceptsUnicodeUpTo200Characters) {
  std::string two_hundred;
  for (int i = 0; i < 200; ++i) two_hundred += "\xC3\xA9";  // é: 400 bytes, 200 characters
  for (const std::string& name :
       Strings{std::string("Acme"), std::string("Caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC"),
               std::string("Rocket \xF0\x9F\x9A\x80"), two_hundred, std::string(200, 'x')}) {
    EXPECT_TRUE(ValidateDisplayName("display_name", name).ok()) << name;
  }
}

TEST(ValidateDisplayNameTest, RejectsEmptyLongInvalidAndControl) {
  EXPECT_EQ(MessageOf(ValidateDisplayName("tenant.display_name", "")),
            "tenant.display_name: must not be empty");
  std::string too_long;
  for (int i = 0; i < 201; ++i) too_long += "\xC3\xA9";
  EXPECT_EQ(MessageOf(ValidateDisplayName("display_name", too_long)),
            "display_name: must be at most 200 characters (got 201)");
  EXPECT_EQ(MessageOf(ValidateDisplayName("display_name", "ab\xC3")),
            "display_name: must be valid UTF-8 (bad byte at offset 2)");
  EXPECT_EQ(MessageOf(ValidateDisplayName("display_name", "a\nb")),
            "display_name: must not contain control characters (U+000A at character 2)");
  for (const std::string& bad : Strings{"\xC0\x80",          // overlong NUL
                                        "\xE0\x80\xAF",      // overlong '/'
                                        "\xED\xA0\x80",      // surrogate
                                        "\xF4\x90\x80\x80",  // above U+10FFFF
                                        "\xFF", "\x80", "\xE2\x82"}) {
    EXPECT_THAT(MessageOf(ValidateDisplayName("display_name", bad)), HasSubstr("valid UTF-8"))
        << bad;
  }
  for (const std::string& bad : Strings{std::string("a\0b", 3), std::string("tab\there"),
                                        std::string("del\x7F"), std::string("nel\xC2\x85")}) {
    EXPECT_THAT(MessageOf(ValidateDisplayName("display_name", bad)), HasSubstr("control")) << bad;
  }
}

}  // namespace
}  // namespace assent::core
