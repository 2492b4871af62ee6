#include "assentctl/requests.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace assent::ctl {
namespace {

constexpr std::string_view kDefaultServer = "127.0.0.1:50051";
constexpr std::string_view kDefaultActor = "assentctl";
constexpr std::string_view kDefaultSource = "assentctl";
constexpr uint32_t kMaxHistoryPage = 1000;
// The flags that set purpose fields.
constexpr std::string_view kPurposeFlags[] = {
    "name",     "kind",        "basis",        "channels", "notice-version", "min-notice-version",
    "lifespan", "topics",      "dpv",          "title",    "description",    "notice-file",
    "confirm",  "pending-ttl", "remind-before"};
// --contact-hash's TYPE words, as assentctl prints stored contact points ("email-hash:...").
constexpr std::pair<std::string_view, v1::ContactType> kContactTypes[] = {
    {"email", v1::CONTACT_EMAIL},
    {"phone", v1::CONTACT_PHONE},
    {"device", v1::CONTACT_DEVICE},
    {"postal", v1::CONTACT_POSTAL}};

absl::Status Usage(std::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

std::string EnvOr(const Environment& env, std::string_view name, std::string_view fallback) {
  auto it = env.find(name);
  return it == env.end() || it->second.empty() ? std::string(fallback) : it->second;
}

// "--region" only makes sense with "--phone".
absl::Status CheckRegion(const Args& args) {
  if (args.Has("region") && !args.Has("phone")) return Usage("--region applies only to --phone");
  return absl::OkStatus();
}

v1::ContactPoint MakeContact(v1::ContactType type, std::string value, std::string region) {
  v1::ContactPoint contact;
  contact.set_type(type);
  contact.set_value(std::move(value));
  contact.set_default_region(std::move(region));
  return contact;
}

// The length of the valid UTF-8 prefix of `text` (Unicode table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF); text.size() when it is all valid.
size_t ValidUtf8Prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    const unsigned char lead = byte(0);
    size_t len = 0;
    unsigned char lo = 0x80;  // the range of the second byte
    unsigned char hi = 0xBF;
    if (lead < 0x80) {
      len = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3;
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > text.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char min = k == 1 ? lo : 0x80;
      const unsigned char max = k == 1 ? hi : 0xBF;
      if (byte(k) < min || byte(k) > max) return i;
    }
    i += len;
  }
  return i;
}

// The LANG=TEXT values of a repeated flag, in order; a language may appear once.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> LanguageValues(
    const Args& args, std::string_view flag, std::string_view shape) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& value : args.GetAll(flag)) {
    ASSIGN_OR_RETURN(auto pair, ParseKeyValue(flag, value, shape));
    for (const auto& [language, unused] : out) {
      if (language == pair.first) {
        return Usage(absl::StrCat("--", Sv(flag), ": language ", language, " given twice"));
      }
    }
    out.push_back(std::move(pair));
  }
  return out;
}

// --title and --description onto the purpose's localized texts. A --description goes with a
// --title in its language (a text needs its name); a --title sets the name of its language's text
// (adding the language, or, when empty, removing it), keeping its description unless one is given.
absl::Status OverlayTexts(const Args& args, v1::Purpose& purpose) {
  ASSIGN_OR_RETURN(auto titles, LanguageValues(args, "title", "LANG=NAME"));
  ASSIGN_OR_RETURN(auto descriptions, LanguageValues(args, "description", "LANG=TEXT"));
  std::map<std::string, std::string> described(descriptions.begin(), descriptions.end());
  for (const auto& [language, unused] : descriptions) {
    const bool titled = std::any_of(titles.begin(), titles.end(), [&](const auto& title) {
      return title.first == language && !title.second.empty();
    });
    if (!titled) {
      return Usage(absl::StrCat("--description: language ", language,
                                " has no --title (give --title ", language, "=NAME too)"));
    }
  }
  auto* texts = purpose.mutable_texts();
  for (const auto& [language, title] : titles) {
    auto it = std::find_if(texts->begin(), texts->end(),
                           [&](const v1::PurposeText& t) { return t.language() == language; });
    if (title.empty()) {
      if (it != texts->end()) texts->erase(it);
      continue;
    }
    v1::PurposeText& text = it != texts->end() ? *it : *texts->Add();
    text.set_language(language);
    text.set_display_name(title);
    if (auto d = described.find(language); d != described.end()) text.set_description(d->second);
  }
  return absl::OkStatus();
}

// Applies the purpose flags that are present to `purpose`, then adds `notices` as texts of the
// resulting notice version.
absl::Status OverlayPurpose(const Args& args, const std::vector<NoticeFile>& notices,
                            v1::Purpose& purpose) {
  if (auto name = args.Get("name")) purpose.set_display_name(*name);
  if (auto kind = args.Get("kind")) {
    ASSIGN_OR_RETURN(v1::PurposeKind value, ParseEnum<v1::PurposeKind>("kind", *kind));
    purpose.set_kind(value);
  }
  if (auto basis = args.Get("basis")) {
    ASSIGN_OR_RETURN(v1::LegalBasis value, ParseEnum<v1::LegalBasis>("basis", *basis));
    purpose.set_legal_basis(value);
  }
  if (auto channels = args.Get("channels")) {
    ASSIGN_OR_RETURN(auto list, ParseEnumList<v1::Channel>("channels", *channels));
    if (list.empty()) return Usage("--channels: name at least one channel");
    purpose.clear_channels();
    for (v1::Channel channel : list) purpose.add_channels(channel);
  }
  if (auto notice = args.Get("notice-version")) {
    ASSIGN_OR_RETURN(uint32_t value, ParseUint32("notice-version", *notice));
    purpose.set_notice_version(value);
  }
  if (auto min_notice = args.Get("min-notice-version")) {
    ASSIGN_OR_RETURN(uint32_t value, ParseUint32("min-notice-version", *min_notice));
    purpose.set_min_notice_version(value);
  }
  if (auto lifespan = args.Get("lifespan")) {
    if (*lifespan == "none" || *lifespan == "0") {
      purpose.clear_lifespan();
    } else {
      ASSIGN_OR_RETURN(absl::Duration value, ParseDurationValue("lifespan", *lifespan));
      *purpose.mutable_lifespan() = ToProtoDuration(value);
    }
  }
  if (auto remind = args.Get("remind-before")) {
    if (*remind == "none" || *remind == "0") {
      purpose.clear_remind_before();
    } else {
      ASSIGN_OR_RETURN(absl::Duration value, ParseDurationValue("remind-before", *remind));
      *purpose.mutable_remind_before() = ToProtoDuration(value);
    }
  }
  if (auto confirm = args.Get("confirm")) {
    // CHANNEL:JURISDICTION,...; "*" as the channel: every channel; "" or "none" clears.
    purpose.clear_confirmation();
    if (*confirm != "none") {
      for (const std::string& item : SplitList(*confirm)) {
        const size_t colon = item.find(':');
        if (colon == std::string::npos) {
          return Usage(absl::StrCat("--confirm: \"", item,
                                    "\" is not CHANNEL:JURISDICTION (e.g. EMAIL:DE, *:EU)"));
        }
        v1::ConfirmationRule* rule = purpose.add_confirmation();
        const std::string channel = item.substr(0, colon);
        if (channel != "*") {
          ASSIGN_OR_RETURN(v1::Channel value, ParseEnum<v1::Channel>("confirm channel", channel));
          rule->set_channel(value);
        }
        const std::string jurisdiction = item.substr(colon + 1);
        rule->set_jurisdiction(jurisdiction == "*" ? jurisdiction
                                                   : absl::AsciiStrToUpper(jurisdiction));
      }
    }
  }
  if (auto ttl = args.Get("pending-ttl")) {
    if (*ttl == "default") {
      purpose.clear_pending_ttl();
    } else {
      ASSIGN_OR_RETURN(absl::Duration value, ParseDurationValue("pending-ttl", *ttl));
      *purpose.mutable_pending_ttl() = ToProtoDuration(value);
    }
  }
  if (auto topics = args.Get("topics")) {
    purpose.clear_topics();
    for (std::string& topic : SplitList(*topics)) purpose.add_topics(std::move(topic));
  }
  if (auto dpv = args.Get("dpv")) purpose.set_dpv_iri(*dpv);
  RETURN_IF_ERROR(OverlayTexts(args, purpose));
  for (const NoticeFile& file : notices) {
    // A string field that is not UTF-8 would make the whole request unparsable on the server;
    // say which file, and where.
    if (const size_t valid = ValidUtf8Prefix(file.text); valid != file.text.size()) {
      return Usage(absl::StrCat("--notice-file ", file.language, "=", file.path,
                                ": not UTF-8 text (bad byte at offset ", valid, ")"));
    }
    v1::NoticeText& notice = *purpose.add_notices();
    notice.set_notice_version(purpose.notice_version());
    notice.set_language(file.language);
    notice.set_text(file.text);
  }
  return absl::OkStatus();
}

// --expected-sequence onto a request's optional field.
template <typename Request>
absl::Status SetExpectedSequence(const Args& args, Request& request) {
  if (auto expected = args.Get("expected-sequence")) {
    ASSIGN_OR_RETURN(uint64_t value, ParseUint64("expected-sequence", *expected));
    request.set_expected_sequence(value);
  }
  return absl::OkStatus();
}

// --actor, --source and --idempotency-key of every write.
struct WriteMeta {
  std::string actor;
  std::string source;
  std::string idempotency_key;
};

WriteMeta MetaFromArgs(const Args& args) {
  return {args.GetOr("actor", kDefaultActor), args.GetOr("source", kDefaultSource),
          args.GetOr("idempotency-key", "")};
}

absl::StatusOr<uint32_t> ParseClock(std::string_view flag, std::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(Sv(text), ':');
  int hours = -1;
  int minutes = -1;
  if (parts.size() != 2 || parts[0].empty() || parts[0].size() > 2 || parts[1].size() != 2 ||
      !absl::SimpleAtoi(parts[0], &hours) || !absl::SimpleAtoi(parts[1], &minutes) || hours < 0 ||
      hours > 23 || minutes < 0 || minutes > 59) {
    return Usage(absl::StrCat("--", Sv(flag), ": '", Sv(text), "' is not a time of day HH:MM"));
  }
  return static_cast<uint32_t>(hours * 60 + minutes);
}

absl::StatusOr<v1::Channel> OptionalChannel(const Args& args) {
  if (auto channel = args.Get("channel")) return ParseEnum<v1::Channel>("channel", *channel);
  return v1::CHANNEL_UNSPECIFIED;
}

}  // namespace

std::string TenantName(std::string_view tenant) { return absl::StrCat("tenants/", Sv(tenant)); }
std::string PurposeName(std::string_view tenant, std::string_view purpose_id) {
  return absl::StrCat("tenants/", Sv(tenant), "/purposes/", Sv(purpose_id));
}
std::string PolicyName(std::string_view tenant) {
  return absl::StrCat("tenants/", Sv(tenant), "/policy");
}

absl::StatusOr<std::string> SingleOperand(const Args& args, std::string_view what) {
  if (args.positional.empty()) return Usage(absl::StrCat("missing ", Sv(what)));
  if (args.positional.size() > 1) {
    return Usage(absl::StrCat("unexpected argument '", args.positional[1], "'"));
  }
  return args.positional[0];
}

absl::StatusOr<GlobalOptions> ResolveGlobals(const Args& args, const Environment& env) {
  GlobalOptions options;
  options.server = args.GetOr("server", EnvOr(env, "ASSENT_SERVER", kDefaultServer));
  options.tenant = args.GetOr("tenant", EnvOr(env, "ASSENT_TENANT", ""));
  options.json = args.Switch("json");
  options.kafka_config = EnvOr(env, "ASSENT_KAFKA_CONFIG", "");
  if (auto timeout = args.Get("timeout")) {
    ASSIGN_OR_RETURN(options.timeout, ParseDurationValue("timeout", *timeout));
  }
  if (options.server.empty()) return Usage("--server: must not be empty");
  options.tls.ca_file = args.GetOr("tls-ca", EnvOr(env, "ASSENT_TLS_CA", ""));
  options.tls.cert_file = args.GetOr("tls-cert", EnvOr(env, "ASSENT_TLS_CERT", ""));
  options.tls.key_file = args.GetOr("tls-key", EnvOr(env, "ASSENT_TLS_KEY", ""));
  options.tls.server_name = args.GetOr("tls-server-name", EnvOr(env, "ASSENT_TLS_SERVER_NAME", ""));
  options.tls.token_file = args.GetOr("token-file", EnvOr(env, "ASSENT_TOKEN_FILE", ""));
  return options;
}

absl::StatusOr<std::string> RequireTenant(const GlobalOptions& options) {
  if (options.tenant.empty()) return Usage("--tenant is required (or set ASSENT_TENANT)");
  return options.tenant;
}

absl::StatusOr<v1::Target> TargetFromArgs(const Args& args) {
  const int given =
      args.Has("subject") + args.Has("email") + args.Has("phone") + args.Has("contact-hash");
  if (given != 1) return Usage("give exactly one of --subject, --email, --phone, --contact-hash");
  RETURN_IF_ERROR(CheckRegion(args));
  v1::Target target;
  if (auto subject = args.Get("subject")) {
    target.set_subject_id(*subject);
  } else if (auto hash = args.Get("contact-hash")) {
    ASSIGN_OR_RETURN(*target.mutable_contact_ref(), ParseContactRef(*hash));
  } else {
    ASSIGN_OR_RETURN(*target.mutable_contact_point(), ContactFromArgs(args));
  }
  return target;
}

absl::StatusOr<v1::ContactPoint> ContactFromArgs(const Args& args) {
  if (args.Has("email") == args.Has("phone")) return Usage("give exactly one of --email, --phone");
  RETURN_IF_ERROR(CheckRegion(args));
  if (auto email = args.Get("email")) return MakeContact(v1::CONTACT_EMAIL, *email, "");
  return MakeContact(v1::CONTACT_PHONE, *args.Get("phone"), args.GetOr("region", ""));
}

absl::StatusOr<v1::ContactRef> ParseContactRef(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Usage(absl::StrCat("--contact-hash: '", Sv(text),
                              "' is not TYPE:HASH like email:<64 hex digits>"));
  }
  const std::string type = absl::AsciiStrToLower(Sv(text.substr(0, colon)));
  for (const auto& [name, value] : kContactTypes) {
    if (type != name) continue;
    v1::ContactRef ref;
    ref.set_type(value);
    ref.set_hash(std::string(text.substr(colon + 1)));
    return ref;
  }
  return Usage(absl::StrCat("--contact-hash: unknown contact type '", type,
                            "' (one of email, phone, device, postal)"));
}

absl::StatusOr<std::vector<NoticeFile>> ParseNoticeFiles(const Args& args) {
  ASSIGN_OR_RETURN(auto pairs, LanguageValues(args, "notice-file", "LANG=PATH"));
  std::vector<NoticeFile> files;
  for (auto& [language, path] : pairs) {
    if (path.empty()) return Usage(absl::StrCat("--notice-file: no file for language ", language));
    files.push_back({std::move(language), std::move(path), ""});
  }
  return files;
}

absl::StatusOr<v1::Target> ParseTargetLine(std::string_view line, std::string_view region) {
  v1::Target target;
  auto value_after = [&](std::string_view prefix) -> absl::StatusOr<std::string> {
    std::string value(absl::StripAsciiWhitespace(Sv(line.substr(prefix.size()))));
    if (value.empty()) return Usage(absl::StrCat("'", Sv(prefix), "' needs a value"));
    return value;
  };
  if (line.starts_with("subject:")) {
    ASSIGN_OR_RETURN(*target.mutable_subject_id(), value_after("subject:"));
  } else if (line.starts_with("email:")) {
    ASSIGN_OR_RETURN(std::string value, value_after("email:"));
    *target.mutable_contact_point() = MakeContact(v1::CONTACT_EMAIL, std::move(value), "");
  } else if (line.starts_with("phone:")) {
    ASSIGN_OR_RETURN(std::string value, value_after("phone:"));
    *target.mutable_contact_point() =
        MakeContact(v1::CONTACT_PHONE, std::move(value), std::string(region));
  } else {
    // A bare line is a subject id, even when it contains ':' ("crm:42").
    target.set_subject_id(std::string(line));
  }
  return target;
}

absl::StatusOr<std::vector<TargetEntry>> ParseTargetFile(std::string_view content,
                                                         std::string_view file_name,
                                                         std::string_view region) {
  std::vector<TargetEntry> entries;
  int line_number = 0;
  for (absl::string_view raw : absl::StrSplit(Sv(content), '\n')) {
    ++line_number;
    std::string_view line = StdSv(absl::StripAsciiWhitespace(raw));
    if (line.empty() || line.starts_with('#')) continue;
    absl::StatusOr<v1::Target> target = ParseTargetLine(line, region);
    if (!target.ok()) {
      return Usage(absl::StrCat(Sv(file_name), ":", line_number, ": ", target.status().message()));
    }
    entries.push_back({std::string(line), *std::move(target)});
  }
  return entries;
}

absl::StatusOr<v1::PolicyRule> ParsePolicyRule(std::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(Sv(text), ':');
  auto bad = [&](std::string_view why) {
    return Usage(absl::StrCat("--rule '", Sv(text), "': ", Sv(why)));
  };
  if (parts.size() != 4) return bad("want JURISDICTION:CHANNEL|*:KIND|*:OPT_IN|OPT_OUT");
  v1::PolicyRule rule;
  if (parts[0].empty()) return bad("the jurisdiction is empty (use * for any)");
  rule.set_jurisdiction(parts[0] == "*" ? parts[0] : absl::AsciiStrToUpper(parts[0]));
  if (parts[1] != "*") {
    ASSIGN_OR_RETURN(v1::Channel channel, ParseEnum<v1::Channel>("rule channel", parts[1]));
    rule.set_channel(channel);
  }
  if (parts[2] != "*") {
    ASSIGN_OR_RETURN(v1::PurposeKind kind, ParseEnum<v1::PurposeKind>("rule kind", parts[2]));
    rule.set_purpose_kind(kind);
  }
  ASSIGN_OR_RETURN(v1::PolicyMode mode, ParseEnum<v1::PolicyMode>("rule mode", parts[3]));
  rule.set_mode(mode);
  return rule;
}

absl::StatusOr<v1::QuietHours> ParseQuietHours(std::string_view window,
                                               std::string_view time_zone) {
  std::vector<std::string> ends = absl::StrSplit(Sv(window), '-');
  if (ends.size() != 2) {
    return Usage(
        absl::StrCat("--quiet-hours: '", Sv(window), "' is not a window like 22:00-07:00"));
  }
  if (time_zone.empty())
    return Usage("--quiet-hours needs --tz (an IANA zone, e.g. Europe/Berlin)");
  v1::QuietHours quiet;
  ASSIGN_OR_RETURN(uint32_t start, ParseClock("quiet-hours", ends[0]));
  ASSIGN_OR_RETURN(uint32_t end, ParseClock("quiet-hours", ends[1]));
  quiet.set_start_minute(start);
  quiet.set_end_minute(end);
  quiet.set_time_zone(std::string(time_zone));
  return quiet;
}

absl::StatusOr<v1::FrequencyCap> ParseFrequencyCap(std::string_view text) {
  const size_t colon = text.find(':');
  const size_t slash = text.find('/');
  uint32_t count = 0;
  if (colon == std::string_view::npos || slash == std::string_view::npos || slash < colon ||
      !absl::SimpleAtoi(Sv(text.substr(colon + 1, slash - colon - 1)), &count) || count == 0) {
    return Usage(
        absl::StrCat("--cap: '", Sv(text), "' is not CHANNEL:COUNT/PERIOD like EMAIL:3/7d"));
  }
  v1::FrequencyCap cap;
  ASSIGN_OR_RETURN(v1::Channel channel, ParseEnum<v1::Channel>("cap", text.substr(0, colon)));
  ASSIGN_OR_RETURN(absl::Duration period, ParseDurationValue("cap", text.substr(slash + 1)));
  cap.set_channel(channel);
  cap.set_max_messages(count);
  *cap.mutable_period() = ToProtoDuration(period);
  return cap;
}

absl::StatusOr<v1::CreateTenantRequest> BuildCreateTenant(const Args& args) {
  ASSIGN_OR_RETURN(std::string id, SingleOperand(args, "tenant id"));
  v1::CreateTenantRequest request;
  request.mutable_tenant()->set_tenant_id(id);
  request.mutable_tenant()->set_display_name(args.GetOr("name", id));
  return request;
}

absl::StatusOr<v1::GetPurposeRequest> BuildGetPurpose(const Args& args, std::string_view tenant) {
  ASSIGN_OR_RETURN(std::string id, SingleOperand(args, "purpose id"));
  v1::GetPurposeRequest request;
  request.set_name(PurposeName(tenant, id));
  if (auto version = args.Get("version")) {
    ASSIGN_OR_RETURN(uint32_t value, ParseUint32("version", *version));
    request.set_version(value);
  }
  return request;
}

absl::StatusOr<v1::CreatePurposeRequest> BuildCreatePurpose(
    const Args& args, std::string_view tenant, const std::vector<NoticeFile>& notices) {
  ASSIGN_OR_RETURN(std::string id, SingleOperand(args, "purpose id"));
  for (std::string_view flag : {"kind", "basis", "channels", "notice-version"}) {
    RETURN_IF_ERROR(Required(args, flag).status());
  }
  v1::CreatePurposeRequest request;
  request.set_parent(TenantName(tenant));
  v1::Purpose& purpose = *request.mutable_purpose();
  purpose.set_purpose_id(id);
  purpose.set_display_name(id);
  RETURN_IF_ERROR(OverlayPurpose(args, notices, purpose));
  return request;
}

absl::StatusOr<v1::UpdatePurposeRequest> BuildUpdatePurpose(
    const Args& args, const v1::Purpose& current, const std::vector<NoticeFile>& notices) {
  const bool changes_something = std::any_of(std::begin(kPurposeFlags), std::end(kPurposeFlags),
                                             [&](std::string_view flag) { return args.Has(flag); });
  if (!changes_something)
    return Usage("nothing to change: give a purpose flag (--notice-version ...)");
  v1::UpdatePurposeRequest request;
  v1::Purpose& purpose = *request.mutable_purpose();
  purpose = current;
  // Output-only fields; the service assigns them.
  purpose.clear_version();
  purpose.clear_update_time();
  // Published notice texts are kept by the service whatever the update says; send only new ones.
  purpose.clear_notices();
  RETURN_IF_ERROR(OverlayPurpose(args, notices, purpose));
  return request;
}

absl::StatusOr<v1::SetDefaultPolicyRequest> BuildSetPolicy(const Args& args,
                                                           std::string_view tenant) {
  const std::vector<std::string>& rules = args.GetAll("rule");
  if (rules.empty() && !args.Switch("clear")) {
    return Usage("give one or more --rule (or --clear to remove every rule)");
  }
  if (!rules.empty() && args.Switch("clear")) return Usage("--clear and --rule exclude each other");
  v1::SetDefaultPolicyRequest request;
  request.set_parent(TenantName(tenant));
  for (const std::string& text : rules) {
    ASSIGN_OR_RETURN(*request.mutable_policy()->add_rules(), ParsePolicyRule(text));
  }
  return request;
}

absl::StatusOr<v1::RecordDecisionsRequest> BuildRecord(const Args& args, std::string_view tenant) {
  v1::RecordDecisionsRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));

  v1::DecisionInput& decision = *request.add_decisions();
  ASSIGN_OR_RETURN(*decision.mutable_purpose_id(), Required(args, "purpose"));
  ASSIGN_OR_RETURN(std::string state, Required(args, "state"));
  ASSIGN_OR_RETURN(v1::ConsentState state_value, ParseEnum<v1::ConsentState>("state", state));
  decision.set_state(state_value);
  ASSIGN_OR_RETURN(v1::Channel channel, OptionalChannel(args));
  decision.set_channel(channel);
  decision.set_topic(args.GetOr("topic", ""));
  if (auto expire = args.Get("expire")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeValue("expire", *expire));
    *decision.mutable_expire_time() = ToProto(t);
  }

  WriteMeta meta = MetaFromArgs(args);
  request.set_actor(meta.actor);
  request.set_source(meta.source);
  request.set_idempotency_key(meta.idempotency_key);
  request.set_jurisdiction(args.GetOr("jurisdiction", ""));

  v1::Evidence& evidence = *request.mutable_evidence();
  if (auto notice = args.Get("notice-version")) {
    ASSIGN_OR_RETURN(uint32_t value, ParseUint32("notice-version", *notice));
    evidence.set_notice_version(value);
  }
  evidence.set_language(args.GetOr("language", ""));
  evidence.set_notice_sha256(args.GetOr("notice-sha256", ""));
  evidence.set_ip_address(args.GetOr("ip", ""));
  evidence.set_user_agent(args.GetOr("user-agent", ""));
  evidence.set_tcf_string(args.GetOr("tcf", ""));
  evidence.set_gpp_string(args.GetOr("gpp", ""));
  evidence.set_reference(args.GetOr("reference", ""));
  evidence.set_gpc(args.Switch("gpc"));
  if (auto confirmed = args.Get("confirm-time")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeValue("confirm-time", *confirmed));
    *evidence.mutable_confirm_time() = ToProto(t);
  }

  if (args.Has("import-time") != args.Has("import-origin")) {
    return Usage("--import-time and --import-origin go together");
  }
  if (auto import_time = args.Get("import-time")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeValue("import-time", *import_time));
    *request.mutable_import()->mutable_original_effective_time() = ToProto(t);
    request.mutable_import()->set_origin(*args.Get("import-origin"));
  }
  RETURN_IF_ERROR(SetExpectedSequence(args, request));
  return request;
}

absl::StatusOr<v1::LinkContactPointRequest> BuildLink(const Args& args, std::string_view tenant) {
  v1::LinkContactPointRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_subject_id(), Required(args, "subject"));
  ASSIGN_OR_RETURN(*request.mutable_contact_point(), ContactFromArgs(args));
  WriteMeta meta = MetaFromArgs(args);
  request.set_actor(meta.actor);
  request.set_source(meta.source);
  request.set_idempotency_key(meta.idempotency_key);
  return request;
}

absl::StatusOr<v1::UnlinkContactPointRequest> BuildUnlink(const Args& args,
                                                          std::string_view tenant) {
  // The same fields as a link; build one and move them over.
  ASSIGN_OR_RETURN(v1::LinkContactPointRequest link, BuildLink(args, tenant));
  v1::UnlinkContactPointRequest request;
  request.set_tenant(link.tenant());
  request.set_subject_id(link.subject_id());
  *request.mutable_contact_point() = link.contact_point();
  request.set_actor(link.actor());
  request.set_source(link.source());
  request.set_idempotency_key(link.idempotency_key());
  return request;
}

absl::StatusOr<v1::SetPreferencesRequest> BuildSetPreferences(const Args& args,
                                                              std::string_view tenant) {
  v1::SetPreferencesRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_subject_id(), Required(args, "subject"));
  v1::Preferences& prefs = *request.mutable_preferences();
  if (auto window = args.Get("quiet-hours")) {
    ASSIGN_OR_RETURN(*prefs.mutable_quiet_hours(), ParseQuietHours(*window, args.GetOr("tz", "")));
    ASSIGN_OR_RETURN(auto channels, ParseEnumList<v1::Channel>("quiet-channels",
                                                               args.GetOr("quiet-channels", "")));
    for (v1::Channel channel : channels) prefs.mutable_quiet_hours()->add_channels(channel);
  } else if (args.Has("tz") || args.Has("quiet-channels")) {
    return Usage("--tz and --quiet-channels go with --quiet-hours");
  }
  ASSIGN_OR_RETURN(auto opt_outs, ParseEnumList<v1::Channel>("opt-out-channels",
                                                             args.GetOr("opt-out-channels", "")));
  for (v1::Channel channel : opt_outs) prefs.add_global_opt_out_channels(channel);
  for (const std::string& cap : args.GetAll("cap")) {
    ASSIGN_OR_RETURN(*prefs.add_frequency_caps(), ParseFrequencyCap(cap));
  }
  if (auto preferred = args.Get("preferred-channel")) {
    ASSIGN_OR_RETURN(v1::Channel channel, ParseEnum<v1::Channel>("preferred-channel", *preferred));
    prefs.set_preferred_channel(channel);
  }
  prefs.set_preferred_language(args.GetOr("language", ""));
  prefs.set_jurisdiction(args.GetOr("jurisdiction", ""));
  WriteMeta meta = MetaFromArgs(args);
  request.set_actor(meta.actor);
  request.set_source(meta.source);
  request.set_idempotency_key(meta.idempotency_key);
  RETURN_IF_ERROR(SetExpectedSequence(args, request));
  return request;
}

absl::StatusOr<v1::SuppressContactPointRequest> BuildSuppress(const Args& args,
                                                              std::string_view tenant) {
  v1::SuppressContactPointRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_contact_point(), ContactFromArgs(args));
  ASSIGN_OR_RETURN(std::string kind, Required(args, "kind"));
  ASSIGN_OR_RETURN(v1::Suppression::Kind kind_value,
                   ParseEnum<v1::Suppression::Kind>("kind", kind));
  request.set_kind(kind_value);
  ASSIGN_OR_RETURN(v1::Channel channel, OptionalChannel(args));
  request.set_channel(channel);
  request.set_lift(args.Switch("lift"));
  WriteMeta meta = MetaFromArgs(args);
  request.set_actor(meta.actor);
  request.set_source(meta.source);
  request.set_idempotency_key(meta.idempotency_key);
  return request;
}

absl::StatusOr<v1::CheckRequest> BuildCheck(const Args& args, std::string_view tenant) {
  v1::CheckRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));
  ASSIGN_OR_RETURN(*request.mutable_purpose_id(), Required(args, "purpose"));
  ASSIGN_OR_RETURN(std::string channel, Required(args, "channel"));
  ASSIGN_OR_RETURN(v1::Channel channel_value, ParseEnum<v1::Channel>("channel", channel));
  request.set_channel(channel_value);
  request.set_topic(args.GetOr("topic", ""));
  if (auto at = args.Get("at")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeValue("at", *at));
    *request.mutable_time() = ToProto(t);
  }
  request.set_jurisdiction(args.GetOr("jurisdiction", ""));
  return request;
}

absl::StatusOr<v1::BatchCheckRequest> BuildBatchCheck(const Args& args, std::string_view tenant) {
  v1::BatchCheckRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_purpose_id(), Required(args, "purpose"));
  ASSIGN_OR_RETURN(std::string channel, Required(args, "channel"));
  ASSIGN_OR_RETURN(v1::Channel channel_value, ParseEnum<v1::Channel>("channel", channel));
  request.set_channel(channel_value);
  request.set_topic(args.GetOr("topic", ""));
  if (auto at = args.Get("at")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeValue("at", *at));
    *request.mutable_time() = ToProto(t);
  }
  RETURN_IF_ERROR(Required(args, "file").status());
  return request;
}

absl::StatusOr<v1::ResendConfirmationRequest> BuildResendConfirmation(const Args& args,
                                                                      std::string_view tenant) {
  v1::ResendConfirmationRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));
  ASSIGN_OR_RETURN(std::string sequence, Required(args, "sequence"));
  ASSIGN_OR_RETURN(uint64_t value, ParseUint64("sequence", sequence));
  request.set_sequence(value);
  request.set_actor(args.GetOr("actor", kDefaultActor));
  return request;
}

absl::StatusOr<v1::CreateLinkRequest> BuildCreateLink(const Args& args, std::string_view tenant) {
  v1::CreateLinkRequest request;
  request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));
  if (auto sequence = args.Get("confirm-sequence")) {
    // A double opt-in confirmation link for the PENDING decisions of that sequence.
    if (args.Switch("one-click") || args.Has("purpose") || args.Has("channel")) {
      return Usage("--confirm-sequence goes without --one-click, --purpose and --channel");
    }
    request.set_kind(v1::CONFIRMATION);
    ASSIGN_OR_RETURN(uint64_t value, ParseUint64("confirm-sequence", *sequence));
    request.set_confirm_sequence(value);
  } else if (args.Switch("one-click")) {
    request.set_kind(v1::ONE_CLICK_UNSUBSCRIBE);
    ASSIGN_OR_RETURN(*request.mutable_purpose_id(), Required(args, "purpose"));
    ASSIGN_OR_RETURN(v1::Channel channel, OptionalChannel(args));
    request.set_channel(channel);
  } else {
    // The preference center covers every purpose and channel.
    if (args.Has("purpose") || args.Has("channel")) {
      return Usage("--purpose and --channel go with --one-click");
    }
    request.set_kind(v1::PREFERENCE_CENTER);
  }
  if (auto ttl = args.Get("ttl")) {
    ASSIGN_OR_RETURN(absl::Duration value, ParseDurationValue("ttl", *ttl));
    *request.mutable_ttl() = ToProtoDuration(value);
  }
  return request;
}

absl::StatusOr<HistoryQuery> BuildHistory(const Args& args, std::string_view tenant) {
  HistoryQuery query;
  query.request.set_tenant(std::string(tenant));
  ASSIGN_OR_RETURN(*query.request.mutable_target(), TargetFromArgs(args));
  query.request.set_newest_first(args.Switch("newest-first"));
  if (auto limit = args.Get("limit")) {
    ASSIGN_OR_RETURN(query.limit, ParseUint32("limit", *limit));
  }
  const uint32_t page = query.limit == 0 ? kMaxHistoryPage : std::min(query.limit, kMaxHistoryPage);
  query.request.set_page_size(static_cast<int32_t>(page));
  return query;
}

}  // namespace assent::ctl
