// Consent report aggregates (Cf::kReports): counts kept on the write path by merge operands.
//
// Every value is a ReportCounts, one signed 64-bit count per consent state (GRANTED, DENIED,
// WITHDRAWN, PENDING, LAPSED) in little-endian order, 40 bytes; merge operands have the same shape
// or a compact 2-byte form (CountsDelta), and the column family's merge operator adds them
// element-wise. Keys ('\0' separates strings,
// day = days since 1970-01-01 UTC as a big-endian uint32 biased by 2^31, channel one byte):
//
//   'u' tenant \0 day purpose                                     decisions per purpose
//   'p' tenant \0 day purpose \0 channel                             decisions per purpose/channel
//   'j' tenant \0 day purpose \0 channel jurisdiction                ... and jurisdiction
//   's' tenant \0 day purpose \0 source                              ... per purpose and source
//   'f' tenant \0 day purpose \0 channel jurisdiction \0 source      every dimension
//   'o' tenant \0 day source                                      per source (top sources)
//   'c' tenant \0 purpose \0 channel jurisdiction                    current decisions (+1 after,
//                                                                    -1 before, -1 on erasure)
//   'r' tenant \0 day source   -> ""          a source admitted to the day's source buckets
//   'n' tenant \0 day          -> be32        how many sources the day admitted
//
// The families are coarse-to-fine copies of the same events so that a query reads the smallest
// family that has its group-by and filter dimensions: a year by day and purpose reads 'p' rows
// (days x purposes x channels), never decisions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rocksdb/merge_operator.h"

namespace assent::store {

inline constexpr int kReportStates = 5;
struct ReportCounts {
  // Indexed by ReportStateIndex: granted, denied, withdrawn, pending, lapsed.
  std::array<int64_t, kReportStates> n{};
  bool operator==(const ReportCounts& other) const { return n == other.n; }
};
// 0..4 for GRANTED..LAPSED (ConsentState values 1..5); -1 for anything else.
inline int ReportStateIndex(int consent_state) {
  return consent_state >= 1 && consent_state <= kReportStates ? consent_state - 1 : -1;
}
std::string EncodeCounts(const ReportCounts& counts);
// False when `bytes` is not 40 bytes.
bool DecodeCounts(std::string_view bytes, ReportCounts* counts);
// A merge operand adding `delta` at one state index: 2 bytes (index, signed 8-bit delta) when
// the delta fits, else a full 40-byte counts value. Stored values are always full.
std::string CountsDelta(int state_index, int64_t delta);

enum class ReportFamily : char {
  kPurposeChannel = 'p',
  kJurisdiction = 'j',
  kSource = 's',
  kFull = 'f',
  kSourceOnly = 'o',
  kPurposeOnly = 'u',
  kCurrent = 'c',
};

struct ReportKey {
  ReportFamily family = ReportFamily::kFull;
  std::string tenant;
  int32_t day = 0;           // unused for kCurrent
  std::string purpose;       // unused for kSourceOnly
  int channel = 0;           // unused for kSource
  std::string jurisdiction;  // kJurisdiction, kFull, kCurrent
  std::string source;        // kSource, kFull, kSourceOnly
};
// The same without copies: views into the key's bytes.
struct ReportKeyView {
  ReportFamily family = ReportFamily::kFull;
  std::string_view tenant;
  int32_t day = 0;
  std::string_view purpose;
  int channel = 0;
  std::string_view jurisdiction;
  std::string_view source;
};
std::string EncodeReportKey(const ReportKey& key);
std::optional<ReportKeyView> DecodeReportKeyView(std::string_view bytes);
// nullopt when `bytes` is not a key of one of the families above.
std::optional<ReportKey> DecodeReportKey(std::string_view bytes);
// The first key of `family` for `tenant` at `day` (a scan of [ReportDayStart(d0),
// ReportDayStart(d1)) reads the days d0 <= day < d1), and the prefix of the tenant's current
// counts.
std::string ReportDayStart(ReportFamily family, std::string_view tenant, int32_t day);
std::string ReportCurrentPrefix(std::string_view tenant);
std::string ReportSourceAdmittedKey(std::string_view tenant, int32_t day, std::string_view source);
std::string ReportSourceCountKey(std::string_view tenant, int32_t day);

// The UTC day number of a Unix time in seconds (floor division).
int32_t UnixDay(int64_t unix_seconds);

// Adds ReportCounts element-wise; a malformed operand or value counts as zero.
std::shared_ptr<rocksdb::MergeOperator> NewReportCountsMergeOperator();

}  // namespace assent::store
