#include "assentctl/format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "assentctl/flags.h"
#include "common/hex.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "google/protobuf/descriptor.h"

namespace assent::ctl {
namespace {

constexpr size_t kShortHash = 12;

// The enum value's name, or its number when this build does not know it.
template <typename E>
std::string Name(E value) {
  const google::protobuf::EnumValueDescriptor* v =
      google::protobuf::GetEnumDescriptor<E>()->FindValueByNumber(static_cast<int>(value));
  return v != nullptr ? v->name() : absl::StrCat(static_cast<int>(value));
}

std::string OrDash(std::string_view s) { return s.empty() ? "-" : std::string(s); }

std::string ChannelOrAny(v1::Channel channel) {
  return channel == v1::CHANNEL_UNSPECIFIED ? "*" : Name(channel);
}

// UTF-8 code points, so names with accents do not break the columns.
size_t DisplayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string Minutes(uint32_t minute) {
  return absl::StrFormat("%02d:%02d", minute / 60, minute % 60);
}

std::string FormatCap(const v1::FrequencyCap& cap) {
  return absl::StrCat(cap.max_messages(), "/", FormatDurationValue(FromProto(cap.period())));
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? Sv(one) : Sv(many));
}

// "marketing.newsletter", "marketing.newsletter/EMAIL", "marketing.newsletter/*/weekly".
std::string DecisionKey(const v1::ConsentRecord& record) {
  std::string key = record.purpose_id();
  if (record.channel() != v1::CHANNEL_UNSPECIFIED || !record.topic().empty()) {
    absl::StrAppend(&key, "/", ChannelOrAny(record.channel()));
  }
  if (!record.topic().empty()) absl::StrAppend(&key, "/", record.topic());
  return key;
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Table table;
  for (const auto& [key, value] : pairs) table.AddRow({key, value});
  return table.Render();
}

std::string SuppressionWhat(const v1::Suppression& s) {
  return absl::StrCat(s.channel() == v1::CHANNEL_UNSPECIFIED ? "all channels" : Name(s.channel()),
                      " ", Name(s.kind()));
}

}  // namespace

Table::Table(std::vector<std::string> header) {
  if (!header.empty()) rows_.push_back(std::move(header));
}

void Table::AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string FormatContactRef(const v1::ContactRef& contact) {
  std::string type;
  switch (contact.type()) {
    case v1::CONTACT_EMAIL:
      type = "email";
      break;
    case v1::CONTACT_PHONE:
      type = "phone";
      break;
    case v1::CONTACT_DEVICE:
      type = "device";
      break;
    case v1::CONTACT_POSTAL:
      type = "postal";
      break;
    default:
      type = "contact";
      break;
  }
  return absl::StrCat(type, "-hash:", contact.hash().substr(0, kShortHash));
}

std::string FormatTargetRef(const v1::TargetRef& target) {
  switch (target.kind_case()) {
    case v1::TargetRef::kSubjectId:
      return "subject:" + target.subject_id();
    case v1::TargetRef::kContact:
      return FormatContactRef(target.contact());
    default:
      return "-";
  }
}

std::string FormatContactPoint(const v1::ContactPoint& contact) {
  return absl::StrCat(contact.type() == v1::CONTACT_PHONE ? "phone:" : "email:", contact.value());
}

std::string FormatTarget(const v1::Target& target) {
  if (target.has_contact_point()) return FormatContactPoint(target.contact_point());
  if (target.has_contact_ref()) return FormatContactRef(target.contact_ref());
  return "subject:" + target.subject_id();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts, bool set) {
  return set ? assent::FormatTime(FromProto(ts)) : "-";
}

// "EMAIL:DE, *:AT (pending 7d)".
std::string FormatConfirmation(const v1::Purpose& p) {
  std::vector<std::string> rules;
  for (const v1::ConfirmationRule& rule : p.confirmation()) {
    rules.push_back(absl::StrCat(
        rule.channel() == v1::CHANNEL_UNSPECIFIED ? std::string("*") : Name(rule.channel()), ":",
        rule.jurisdiction()));
  }
  return absl::StrCat(absl::StrJoin(rules, ", "), " (pending ",
                      p.has_pending_ttl() ? FormatDurationValue(FromProto(p.pending_ttl()))
                                          : std::string("7d, the default"),
                      ")");
}

std::string FormatChannels(const google::protobuf::RepeatedField<int>& channels) {
  std::vector<std::string> names;
  for (int c : channels) names.push_back(Name(static_cast<v1::Channel>(c)));
  return names.empty() ? "-" : absl::StrJoin(names, ",");
}

std::string FormatPreferences(const v1::Preferences& prefs) {
  std::vector<std::string> parts;
  if (prefs.has_quiet_hours()) {
    const v1::QuietHours& q = prefs.quiet_hours();
    std::string part = absl::StrCat("quiet ", Minutes(q.start_minute()), "-",
                                    Minutes(q.end_minute()), " ", q.time_zone());
    if (q.channels_size() > 0) absl::StrAppend(&part, " on ", FormatChannels(q.channels()));
    parts.push_back(std::move(part));
  }
  if (prefs.global_opt_out_channels_size() > 0) {
    parts.push_back("no marketing on " + FormatChannels(prefs.global_opt_out_channels()));
  }
  for (const v1::FrequencyCap& cap : prefs.frequency_caps()) {
    parts.push_back(absl::StrCat("cap ", Name(cap.channel()), " ", FormatCap(cap)));
  }
  if (prefs.preferred_channel() != v1::CHANNEL_UNSPECIFIED) {
    parts.push_back("preferred " + Name(prefs.preferred_channel()));
  }
  if (!prefs.preferred_language().empty())
    parts.push_back("language " + prefs.preferred_language());
  if (!prefs.jurisdiction().empty()) parts.push_back("jurisdiction " + prefs.jurisdiction());
  return parts.empty() ? "(none)" : absl::StrJoin(parts, "; ");
}

std::string FormatTenant(const v1::Tenant& tenant) {
  return KeyValues({{"tenant", tenant.tenant_id()},
                    {"name", tenant.display_name()},
                    {"created", FormatTimestamp(tenant.create_time(), tenant.has_create_time())}});
}

std::string FormatTenants(const std::vector<v1::Tenant>& tenants) {
  if (tenants.empty()) return "no tenants\n";
  Table table({"TENANT", "CREATED", "NAME"});
  for (const v1::Tenant& t : tenants) {
    table.AddRow(
        {t.tenant_id(), FormatTimestamp(t.create_time(), t.has_create_time()), t.display_name()});
  }
  return table.Render();
}

std::string FormatPurpose(const v1::Purpose& p) {
  const uint32_t min_notice = p.min_notice_version() == 0 ? 1 : p.min_notice_version();
  std::vector<std::string> languages;
  for (const v1::PurposeText& text : p.texts()) languages.push_back(text.language());
  // One line per notice text: there can be many, and each digest is what evidence must quote.
  std::vector<std::pair<std::string, std::string>> notices;
  for (const v1::NoticeText& n : p.notices()) {
    notices.emplace_back(notices.empty() ? "notices" : "",
                         absl::StrCat("version ", n.notice_version(), " ", n.language(), " sha256 ",
                                      n.sha256().substr(0, kShortHash)));
  }
  if (notices.empty()) notices.emplace_back("notices", "-");
  std::vector<std::pair<std::string, std::string>> rows = {
      {"purpose", p.purpose_id()},
      {"version", absl::StrCat(p.version())},
      {"name", p.display_name()},
      {"kind", Name(p.kind())},
      {"basis", Name(p.legal_basis())},
      {"channels", FormatChannels(p.channels())},
      {"notice",
       absl::StrCat("version ", p.notice_version(), " (grants need >= ", min_notice, ")")},
      {"lifespan", p.has_lifespan() ? FormatDurationValue(FromProto(p.lifespan())) : "none"},
      {"reminder",
       p.has_remind_before()
           ? absl::StrCat(FormatDurationValue(FromProto(p.remind_before())), " before expiry")
           : "none"},
      {"topics", p.topics().empty() ? "any" : absl::StrJoin(p.topics(), ",")},
      {"dpv", OrDash(p.dpv_iri())},
      {"texts", languages.empty() ? "-" : absl::StrJoin(languages, ", ")},
  };
  if (!p.confirmation().empty()) {
    // Double opt-in, shown only where a purpose has it.
    rows.insert(rows.begin() + 8, {"confirm", FormatConfirmation(p)});
  }
  rows.insert(rows.end(), notices.begin(), notices.end());
  rows.emplace_back("updated", FormatTimestamp(p.update_time(), p.has_update_time()));
  return KeyValues(rows);
}

std::string FormatPurposes(const std::vector<v1::Purpose>& purposes) {
  if (purposes.empty()) return "no purposes\n";
  Table table({"PURPOSE", "VERSION", "KIND", "BASIS", "CHANNELS", "NOTICE", "LIFESPAN", "NAME"});
  for (const v1::Purpose& p : purposes) {
    const uint32_t min_notice = p.min_notice_version() == 0 ? 1 : p.min_notice_version();
    table.AddRow(
        {p.purpose_id(), absl::StrCat(p.version()), Name(p.kind()), Name(p.legal_basis()),
         FormatChannels(p.channels()), absl::StrCat(p.notice_version(), " (min ", min_notice, ")"),
         p.has_lifespan() ? FormatDurationValue(FromProto(p.lifespan())) : "-", p.display_name()});
  }
  return table.Render();
}

std::string FormatPolicy(const v1::DefaultPolicy& policy) {
  std::string out;
  if (policy.rules().empty()) {
    out = "no rules: contact without a recorded decision is denied (OPT_IN)\n";
  } else {
    Table table({"JURISDICTION", "CHANNEL", "KIND", "MODE"});
    for (const v1::PolicyRule& rule : policy.rules()) {
      table.AddRow(
          {rule.jurisdiction(), ChannelOrAny(rule.channel()),
           rule.purpose_kind() == v1::PURPOSE_KIND_UNSPECIFIED ? "*" : Name(rule.purpose_kind()),
           Name(rule.mode())});
    }
    out = table.Render();
  }
  if (policy.has_update_time())
    absl::StrAppend(&out, "updated ", FormatTimestamp(policy.update_time()), "\n");
  return out;
}

std::string FormatDecisions(const google::protobuf::RepeatedPtrField<v1::ConsentRecord>& records) {
  Table table({"RECORD", "PURPOSE", "CHANNEL", "TOPIC", "STATE", "EFFECTIVE", "EXPIRES",
               "HONOUR BY", "NOTICE", "SOURCE"});
  for (const v1::ConsentRecord& r : records) {
    std::string source = r.source();
    if (r.imported()) absl::StrAppend(&source, " (imported from ", r.import_origin(), ")");
    table.AddRow({r.record_id(), r.purpose_id(), ChannelOrAny(r.channel()),
                  r.topic().empty() ? "*" : r.topic(), Name(r.state()),
                  FormatTimestamp(r.effective_time(), r.has_effective_time()),
                  FormatTimestamp(r.expire_time(), r.has_expire_time()),
                  FormatTimestamp(r.honour_by(), r.has_honour_by()),
                  absl::StrCat(r.evidence().notice_version()), OrDash(source)});
  }
  return table.Render();
}

std::string FormatRecorded(const v1::RecordDecisionsResponse& response) {
  std::string out =
      absl::StrCat(FormatTargetRef(response.target()), " sequence ", response.sequence());
  if (response.replayed()) out += " (replayed: an earlier request had this idempotency key)";
  out += "\n";
  return out + FormatDecisions(response.records());
}

std::string FormatLinked(const v1::LinkContactPointRequest& request,
                         const v1::LinkContactPointResponse& response) {
  return absl::StrCat(
      "linked ", FormatContactRef(response.contact()), " to subject:", request.subject_id(),
      " (subject sequence ", response.subject_sequence(), ", contact sequence ",
      response.contact_sequence(), ")", response.replayed() ? " (replayed)" : "", "\n");
}

std::string FormatUnlinked(const v1::UnlinkContactPointRequest& request,
                           const v1::UnlinkContactPointResponse& response) {
  return absl::StrCat("unlinked ", FormatContactPoint(request.contact_point()),
                      " from subject:", request.subject_id(), " (subject sequence ",
                      response.subject_sequence(), ", contact sequence ",
                      response.contact_sequence(), ")", response.replayed() ? " (replayed)" : "",
                      "\n");
}

std::string FormatPreferencesSet(const v1::SetPreferencesResponse& response) {
  return absl::StrCat("preferences set, sequence ", response.sequence(),
                      response.replayed() ? " (replayed)" : "", ": ",
                      FormatPreferences(response.preferences()), "\n");
}

std::string FormatSuppressed(const v1::SuppressContactPointRequest& request,
                             const v1::SuppressContactPointResponse& response) {
  v1::Suppression what;
  what.set_channel(request.channel());
  what.set_kind(request.kind());
  return absl::StrCat(request.lift() ? "lifted " : "suppressed ",
                      FormatContactRef(response.contact()), " ", SuppressionWhat(what),
                      ", sequence ", response.sequence(), response.replayed() ? " (replayed)" : "",
                      "\n");
}

std::string FormatSubjectState(const v1::SubjectState& s) {
  std::vector<std::string> contacts;
  for (const v1::ContactRef& c : s.contacts()) contacts.push_back(FormatContactRef(c));
  std::string out = KeyValues({
      {"subject", s.subject_id()},
      {"sequence", absl::StrCat(s.sequence())},
      {"chain head", OrDash(ToHex(s.chain_head()).substr(0, 2 * kShortHash))},
      {"updated", FormatTimestamp(s.update_time(), s.has_update_time())},
      {"jurisdiction", OrDash(s.last_jurisdiction())},
      {"gpc", s.gpc_opt_out() ? absl::StrCat("opted out (record ", s.gpc_record_id(), ")") : "-"},
      {"contacts", contacts.empty() ? "-" : absl::StrJoin(contacts, ", ")},
      {"preferences", FormatPreferences(s.preferences())},
  });
  if (s.decisions().empty()) return out + "\nno decisions\n";
  return out + "\n" + FormatDecisions(s.decisions());
}

std::string FormatContactState(const v1::ContactPointState& s) {
  std::string out = KeyValues({
      {"contact", FormatContactRef(s.contact())},
      {"linked to", s.linked_subject_id().empty() ? "-" : "subject:" + s.linked_subject_id()},
      {"sequence", absl::StrCat(s.sequence())},
      {"chain head", OrDash(ToHex(s.chain_head()).substr(0, 2 * kShortHash))},
      {"updated", FormatTimestamp(s.update_time(), s.has_update_time())},
  });
  out += s.decisions().empty() ? "\nno decisions\n" : "\n" + FormatDecisions(s.decisions());
  if (s.suppressions().empty()) return out + "\nno suppressions\n";
  Table table({"SUPPRESSION", "CHANNEL", "KIND", "EFFECTIVE", "HONOUR BY", "SOURCE"});
  for (const v1::Suppression& sup : s.suppressions()) {
    table.AddRow({OrDash(sup.record_id()), ChannelOrAny(sup.channel()), Name(sup.kind()),
                  FormatTimestamp(sup.effective_time(), sup.has_effective_time()),
                  FormatTimestamp(sup.honour_by(), sup.has_honour_by()), OrDash(sup.source())});
  }
  return out + "\n" + table.Render();
}

std::string FormatCheckLine(const v1::CheckResponse& r, const v1::Target& asked) {
  std::string line = absl::StrCat(Name(r.verdict()), " ", Name(r.reason()));
  if (!r.record_id().empty()) {
    absl::StrAppend(&line, " record=", r.record_id(), " seq=", r.record_sequence());
  }
  const bool asked_this_subject = asked.has_subject_id() && r.decided_by().has_subject_id() &&
                                  r.decided_by().subject_id() == asked.subject_id();
  if (r.has_decided_by() && r.decided_by().kind_case() != v1::TargetRef::KIND_NOT_SET &&
      !asked_this_subject) {
    absl::StrAppend(&line, " by=", FormatTargetRef(r.decided_by()));
  }
  if (r.has_retry_after())
    absl::StrAppend(&line, " retry_after=", FormatTimestamp(r.retry_after()));
  if (r.record_id().empty() && !r.jurisdiction().empty()) {
    absl::StrAppend(&line, " jurisdiction=", r.jurisdiction());
  }
  for (const v1::FrequencyCap& cap : r.frequency_caps()) {
    absl::StrAppend(&line, " cap=", FormatCap(cap));
  }
  return line + "\n";
}

std::string FormatBatch(const std::vector<TargetEntry>& targets,
                        const std::vector<v1::CheckResponse>& results) {
  Table table;
  for (size_t i = 0; i < targets.size() && i < results.size(); ++i) {
    std::string line = FormatCheckLine(results[i], targets[i].target);
    line.pop_back();  // the table adds the newline
    table.AddRow({targets[i].label, std::move(line)});
  }
  return table.Render();
}

std::string DescribeChange(const v1::HistoryRecord& record) {
  switch (record.kind()) {
    case v1::DECISIONS_RECORDED: {
      std::vector<std::string> changes;
      for (const v1::DecisionChange& change : record.decisions()) {
        const v1::ConsentRecord& after = change.after();
        std::string text = absl::StrCat(
            DecisionKey(after), " ", change.has_before() ? Name(change.before().state()) : "none",
            "->", Name(after.state()));
        if (after.imported())
          absl::StrAppend(&text, " (imported from ", after.import_origin(), ")");
        if (after.has_honour_by()) {
          absl::StrAppend(&text, " honour by ", FormatTimestamp(after.honour_by()));
        }
        changes.push_back(std::move(text));
      }
      return changes.empty() ? "-" : absl::StrJoin(changes, ", ");
    }
    case v1::PREFERENCES_SET:
      return "preferences: " + FormatPreferences(record.preferences_after());
    case v1::CONTACT_LINKED:
      return "linked " + FormatTargetRef(record.counterpart());
    case v1::CONTACT_UNLINKED:
      return "unlinked " + FormatTargetRef(record.counterpart());
    case v1::SUPPRESSION_ADDED: {
      std::string text = "suppressed " + SuppressionWhat(record.suppression());
      if (record.suppression().has_honour_by()) {
        absl::StrAppend(&text, " honour by ", FormatTimestamp(record.suppression().honour_by()));
      }
      return text;
    }
    case v1::SUPPRESSION_LIFTED:
      return "lifted " + SuppressionWhat(record.suppression());
    default:
      return "-";
  }
}

std::string FormatHistory(const std::vector<v1::HistoryRecord>& records) {
  if (records.empty()) return "no history\n";
  Table table({"SEQ", "TIME", "KIND", "ACTOR", "SOURCE", "HASH", "CHANGES"});
  for (const v1::HistoryRecord& r : records) {
    std::string changes = DescribeChange(r);
    // The effective time is worth showing when it is not just the moment of recording (imports).
    if (r.has_effective_time() && r.has_recorded_time() &&
        absl::AbsDuration(FromProto(r.effective_time()) - FromProto(r.recorded_time())) >=
            absl::Seconds(1)) {
      absl::StrAppend(&changes, " (effective ", FormatTimestamp(r.effective_time()), ")");
    }
    table.AddRow({absl::StrCat(r.sequence()),
                  FormatTimestamp(r.recorded_time(), r.has_recorded_time()), Name(r.kind()),
                  OrDash(r.actor()), OrDash(r.source()),
                  OrDash(ToHex(r.hash()).substr(0, kShortHash)), std::move(changes)});
  }
  return table.Render();
}

std::string FormatLink(const v1::CreateLinkResponse& response) {
  return KeyValues({
      response.url().empty() ? std::make_pair("token", response.token())
                             : std::make_pair("url", response.url()),
      {"expires", FormatTimestamp(response.expire_time(), response.has_expire_time())},
      {"key", OrDash(response.key_id())},
  });
}

namespace {

// "+3 ms", "+1.25 s", "+2 min".
std::string Offset(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d < absl::Seconds(1)) return absl::StrCat("+", absl::ToInt64Milliseconds(d), " ms");
  if (d < absl::Minutes(2)) {
    return absl::StrCat("+", absl::StrFormat("%.2f", absl::ToDoubleSeconds(d)), " s");
  }
  return absl::StrCat("+", absl::ToInt64Minutes(d), " min");
}

}  // namespace

std::string FormatProof(const v1::GetEnforcementProofResponse& response, absl::Time now) {
  if (response.withdrawals().empty()) return "no withdrawals recorded\n";
  std::string out;
  for (const v1::WithdrawalProof& w : response.withdrawals()) {
    const absl::Time recorded = FromProto(w.recorded_time());
    absl::StrAppend(&out, "#", w.sequence(), " ", absl::StrJoin(w.withdrawn(), ", "),
                    ": recorded at ", FormatTimestamp(w.recorded_time()));
    if (w.has_honour_by())
      absl::StrAppend(&out, " (honour by ", FormatTimestamp(w.honour_by()), ")");
    bool first_applied = true;
    for (const v1::SenderApplication& s : w.senders()) {
      if (s.has_applied_time()) {
        absl::StrAppend(&out, first_applied ? ", applied by " : ", by ", s.sender(), " at ",
                        Offset(FromProto(s.applied_time()) - recorded));
        first_applied = false;
      } else {
        absl::StrAppend(&out, ", ", s.sender(), ": not yet (", absl::ToInt64Seconds(now - recorded),
                        "s)");
      }
    }
    out.push_back('\n');
  }
  return out;
}

std::string FormatVerify(const v1::VerifyHistoryResponse& response) {
  if (response.valid()) {
    return absl::StrCat("chain valid: ", Plural(response.records_checked(), "record", "records"),
                        response.pruned_through_sequence() == 0
                            ? std::string()
                            : absl::StrCat(" (sequences 1..", response.pruned_through_sequence(),
                                           " removed by retention)"),
                        "\n");
  }
  return absl::StrCat("chain BROKEN at sequence ", response.first_broken_sequence(), ": ",
                      response.problem(), "\n");
}

std::string FormatCompaction(const v1::CompactStoreResponse& response) {
  std::string out;
  for (const v1::ColumnFamilyCompaction& cf : response.column_families()) {
    absl::StrAppend(&out, cf.name(), ": ", cf.sst_bytes_before(), " -> ", cf.sst_bytes_after(),
                    " bytes in SSTs, ", cf.memtable_bytes_before(), " bytes flushed from memory\n");
  }
  absl::StrAppend(&out, "WAL: ", response.wal_bytes_before(), " -> ", response.wal_bytes_after(),
                  " bytes\ncompacted in ", response.duration_ms(), " ms\n");
  return out;
}

std::string CsvQuote(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace assent::ctl
