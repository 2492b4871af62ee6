// assentctl's human-readable output: aligned tables and key/value blocks, one line per item.
// Times are RFC 3339 UTC with milliseconds; "-" marks an empty value; a stored contact point shows
// as its type and the first 12 hex digits of its keyed hash ("email-hash:1a2b3c4d5e6f"), since the
// service never returns the plain address. Every function returns whole lines ending in '\n'.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "assent/v1/admin.pb.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "assentctl/requests.h"

namespace assent::ctl {

// Rows of cells printed in columns two spaces apart, each as wide as its widest cell (counted in
// UTF-8 code points); the last column is not padded, so no line has trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> header = {});
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "subject:cust-1", "email-hash:1a2b3c4d5e6f".
std::string FormatTargetRef(const v1::TargetRef& target);
std::string FormatContactRef(const v1::ContactRef& contact);
// A target as given on the command line: "subject:cust-1", "email:ann@example.com",
// "phone:+4930123456".
std::string FormatTarget(const v1::Target& target);
std::string FormatContactPoint(const v1::ContactPoint& contact);
// "2026-05-01T12:00:00.000Z", or "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& ts, bool set = true);
// One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote or line
// break; as is otherwise.
std::string CsvQuote(std::string_view text);
// "EMAIL,SMS" ("-" when empty).
std::string FormatChannels(const google::protobuf::RepeatedField<int>& channels);
// One line: "quiet 22:00-07:00 Europe/Berlin; no marketing on EMAIL; language de; ...", or
// "(none)".
std::string FormatPreferences(const v1::Preferences& prefs);

std::string FormatTenant(const v1::Tenant& tenant);
std::string FormatTenants(const std::vector<v1::Tenant>& tenants);
// Key/value lines; "texts" lists the languages of its localized texts, "notices" has one line per
// notice text: "version 1 de sha256 58de52365cb0".
std::string FormatPurpose(const v1::Purpose& purpose);
std::string FormatPurposes(const std::vector<v1::Purpose>& purposes);
std::string FormatPolicy(const v1::DefaultPolicy& policy);

// A table of decisions: RECORD PURPOSE CHANNEL TOPIC STATE EFFECTIVE EXPIRES NOTICE SOURCE.
std::string FormatDecisions(const google::protobuf::RepeatedPtrField<v1::ConsentRecord>& records);
std::string FormatRecorded(const v1::RecordDecisionsResponse& response);
std::string FormatLinked(const v1::LinkContactPointRequest& request,
                         const v1::LinkContactPointResponse& response);
std::string FormatUnlinked(const v1::UnlinkContactPointRequest& request,
                           const v1::UnlinkContactPointResponse& response);
std::string FormatPreferencesSet(const v1::SetPreferencesResponse& response);
std::string FormatSuppressed(const v1::SuppressContactPointRequest& request,
                             const v1::SuppressContactPointResponse& response);
std::string FormatSubjectState(const v1::SubjectState& state);
std::string FormatContactState(const v1::ContactPointState& state);

// "ALLOW EXPLICIT_GRANT record=3-0 seq=3", "DENY QUIET_HOURS retry_after=2026-...". The deciding
// target is added as "by=..." unless it is the subject that was asked about; the jurisdiction when
// the default policy decided; frequency caps as "cap=3/7d".
std::string FormatCheckLine(const v1::CheckResponse& response, const v1::Target& asked);
// One line per target: its label, then its check line.
std::string FormatBatch(const std::vector<TargetEntry>& targets,
                        const std::vector<v1::CheckResponse>& results);

// One line per history record: SEQ TIME KIND ACTOR SOURCE HASH CHANGES, the changes as
// "purpose/CHANNEL/topic BEFORE->AFTER" ("none" when there was no decision before).
std::string FormatHistory(const std::vector<v1::HistoryRecord>& records);
// What one history record changed, e.g. "marketing.newsletter/EMAIL GRANTED->WITHDRAWN".
std::string DescribeChange(const v1::HistoryRecord& record);

// A minted link: its url (its token when the service has no base URL), expiry and signing key.
std::string FormatLink(const v1::CreateLinkResponse& response);

// "chain valid: 3 records" or "chain BROKEN at sequence 2: <problem>".
std::string FormatVerify(const v1::VerifyHistoryResponse& response);
// One line per column family (SST bytes before -> after, memtable bytes flushed), then the WAL.
std::string FormatCompaction(const v1::CompactStoreResponse& response);
// One line per withdrawal: "#SEQ WHAT: recorded at TIME, applied by email at +3 ms, by sms at
// +4 ms, ads: not yet (12s)"; the wait of what is not applied is measured to `now`.
std::string FormatProof(const v1::GetEnforcementProofResponse& response, absl::Time now);

}  // namespace assent::ctl
