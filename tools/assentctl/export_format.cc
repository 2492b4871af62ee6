#include "assentctl/export_format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "assentctl/session.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace assent::ctl {
namespace {

using nlohmann::json;

// The profile of the rendering, so that a reader can tell which mapping produced it.
constexpr char kSchemaVersion[] = "ISO/IEC TS 27560:2023; assent-export/1";

std::string Time(const google::protobuf::Timestamp& ts) {
  return google::protobuf::util::TimeUtil::ToString(ts);
}

// The state a decision is in, as a 27560 event state.
std::string EventState(v1::ConsentState state) {
  switch (state) {
    case v1::GRANTED:
      return "given";
    case v1::DENIED:
      return "refused";
    case v1::WITHDRAWN:
      return "withdrawn";
    case v1::PENDING:
      return "requested";
    case v1::LAPSED:
      return "expired";
    default:
      return absl::StrCat(Sv(v1::ConsentState_Name(state)));
  }
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace

absl::StatusOr<ExportFormat> ParseExportFormat(std::string_view name) {
  if (name == "proto") return ExportFormat::kProto;
  if (name == "json") return ExportFormat::kJson;
  if (name == "iso27560") return ExportFormat::kIso27560;
  return absl::InvalidArgumentError(
      absl::StrCat("--format: must be proto, json or iso27560 (got \"", Sv(name), "\")"));
}

json Iso27560Record(const v1::ExportHeader& header, const v1::HistoryRecord& record,
                    const v1::ConsentRecord& decision, const v1::Purpose* definition) {
  json out;
  out["schema_version"] = kSchemaVersion;
  out["record_id"] =
      absl::StrCat(header.tenant(), "/", header.subject_id(), "/", decision.record_id());
  out["pii_principal_id"] = header.subject_id();
  out["pii_controllers"] = json::array({json{{"controller_id", header.tenant()}}});
  json purpose;
  purpose["purpose"] = decision.purpose_id();
  purpose["purpose_version"] = decision.purpose_version();
  if (decision.channel() != v1::CHANNEL_UNSPECIFIED) {
    purpose["channel"] = v1::Channel_Name(decision.channel());
  }
  if (!decision.topic().empty()) purpose["topic"] = decision.topic();
  if (definition != nullptr) {
    purpose["lawful_basis"] = absl::AsciiStrToLower(v1::LegalBasis_Name(definition->legal_basis()));
    purpose["purpose_description"] = definition->display_name();
    purpose["purpose_category"] = absl::AsciiStrToLower(v1::PurposeKind_Name(definition->kind()));
    if (!definition->dpv_iri().empty()) purpose["purpose_type"] = definition->dpv_iri();
  }
  if (!decision.jurisdiction().empty()) purpose["jurisdiction"] = decision.jurisdiction();
  purpose["collection_method"] = decision.source();
  if (decision.imported()) purpose["import_origin"] = decision.import_origin();
  out["purposes"] = json::array({purpose});
  const v1::Evidence& evidence = decision.evidence();
  json notice;
  notice["notice_version"] = evidence.notice_version();
  if (!evidence.notice_sha256().empty()) notice["notice_sha256"] = evidence.notice_sha256();
  if (!evidence.language().empty()) notice["language"] = evidence.language();
  out["presented_notice"] = notice;
  json event;
  event["event_time"] = Time(decision.effective_time());
  event["event_type"] =
      record.kind() == v1::DECISIONS_EXPIRED || record.kind() == v1::PENDING_EXPIRED ? "expiry"
                                                                                     : "decision";
  event["event_state"] = EventState(decision.state());
  event["event_by"] = decision.on_behalf_of().empty() ? decision.actor() : decision.on_behalf_of();
  if (decision.has_expire_time()) event["validity_end"] = Time(decision.expire_time());
  if (evidence.has_confirm_time()) event["confirmation_time"] = Time(evidence.confirm_time());
  out["event"] = json::array({event});
  json collection = json::object();
  if (!evidence.ip_address().empty()) collection["ip_address"] = evidence.ip_address();
  if (!evidence.user_agent().empty()) collection["user_agent"] = evidence.user_agent();
  if (!evidence.reference().empty()) collection["reference"] = evidence.reference();
  if (!evidence.tcf_string().empty()) collection["tcf_string"] = evidence.tcf_string();
  if (!evidence.gpp_string().empty()) collection["gpp_string"] = evidence.gpp_string();
  if (evidence.gpc()) collection["gpc"] = true;
  if (evidence.shredded()) collection["shredded"] = true;
  out["collection_evidence"] = collection;
  out["record_timestamp"] = Time(decision.recorded_time());
  out["record_integrity"] = json{{"history_sequence", record.sequence()},
                                 {"history_hash_sha256", Hex(record.hash())},
                                 {"previous_hash_sha256", Hex(record.previous_hash())}};
  return out;
}

std::string ExportWriter::Render(const v1::ExportChunk& chunk) {
  switch (format_) {
    case ExportFormat::kProto: {
      std::string out;
      {
        google::protobuf::io::StringOutputStream stream(&out);
        google::protobuf::io::CodedOutputStream coded(&stream);
        coded.WriteVarint32(static_cast<uint32_t>(chunk.ByteSizeLong()));
        chunk.SerializeWithCachedSizes(&coded);
      }
      return out;
    }
    case ExportFormat::kJson:
      return ToJson(chunk) + "\n";
    case ExportFormat::kIso27560: {
      if (chunk.has_header()) header_ = chunk.header();
      if (!chunk.has_history()) return "";
      std::string out;
      for (const v1::ExportedRecord& exported : chunk.history().records()) {
        for (const v1::DecisionChange& change : exported.record().decisions()) {
          if (!change.has_after()) continue;
          const v1::ConsentRecord& after = change.after();
          const v1::Purpose* purpose =
              purposes_ ? purposes_(after.purpose_id(), after.purpose_version()) : nullptr;
          absl::StrAppend(&out, Iso27560Record(header_, exported.record(), after, purpose).dump(),
                          "\n");
        }
      }
      return out;
    }
  }
  return "";
}

}  // namespace assent::ctl
