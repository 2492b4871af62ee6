#include "receipts/claims.h"

#include "common/hex.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace assent::receipts {
namespace {

using nlohmann::json;

std::string Time(const google::protobuf::Timestamp& ts) {
  return google::protobuf::util::TimeUtil::ToString(ts);
}

json Target(const v1::TargetRef& target) {
  if (target.has_contact()) {
    return json{{"contact",
                 {{"type", v1::ContactType_Name(target.contact().type())},
                  {"hash", target.contact().hash()}}}};
  }
  return json{{"subject_id", target.subject_id()}};
}

// A decision's consent facts: no evidence but its notice version, language and flags.
json Decision(const v1::ConsentRecord& r) {
  json d{{"record_id", r.record_id()},
         {"purpose_id", r.purpose_id()},
         {"purpose_version", r.purpose_version()},
         {"channel", v1::Channel_Name(r.channel())},
         {"state", v1::ConsentState_Name(r.state())},
         {"notice_version", r.evidence().notice_version()}};
  if (!r.topic().empty()) d["topic"] = r.topic();
  if (r.has_effective_time()) d["effective_time"] = Time(r.effective_time());
  if (r.has_expire_time()) d["expire_time"] = Time(r.expire_time());
  if (!r.jurisdiction().empty()) d["jurisdiction"] = r.jurisdiction();
  if (!r.source().empty()) d["source"] = r.source();
  if (r.imported()) d["imported"] = true;
  return d;
}

}  // namespace

std::string ReceiptClaims(const v1::HistoryRecord& record) {
  json claims{{"v", kClaimsVersion},
              {"tenant", record.tenant()},
              {"target", Target(record.target())},
              {"sequence", record.sequence()},
              {"kind", v1::ChangeKind_Name(record.kind())},
              {"actor", record.actor()},
              {"source", record.source()},
              {"previous_hash", ToHex(record.previous_hash())},
              {"hash", ToHex(record.hash())}};
  if (record.has_recorded_time()) claims["recorded_time"] = Time(record.recorded_time());
  if (record.has_effective_time()) claims["effective_time"] = Time(record.effective_time());
  if (!record.on_behalf_of().empty()) claims["on_behalf_of"] = record.on_behalf_of();
  if (record.decisions_size() > 0) {
    json decisions = json::array();
    for (const v1::DecisionChange& change : record.decisions()) {
      json d{{"after", Decision(change.after())}};
      if (change.has_before()) d["before"] = Decision(change.before());
      decisions.push_back(std::move(d));
    }
    claims["decisions"] = std::move(decisions);
  }
  if (record.has_counterpart()) claims["counterpart"] = Target(record.counterpart());
  if (record.has_suppression()) {
    const v1::Suppression& s = record.suppression();
    json suppression{{"channel", v1::Channel_Name(s.channel())},
                     {"kind", v1::Suppression::Kind_Name(s.kind())}};
    if (!s.record_id().empty()) suppression["record_id"] = s.record_id();
    if (s.has_effective_time()) suppression["effective_time"] = Time(s.effective_time());
    if (!s.source().empty()) suppression["source"] = s.source();
    claims["suppression"] = std::move(suppression);
  }
  // Replace, never throw, on bytes that are not UTF-8 (validated fields should hold none).
  return claims.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace assent::receipts
