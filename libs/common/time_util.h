// Conversions between google.protobuf.Timestamp/Duration and absl::Time/Duration.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace assent {

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& ts);
absl::Duration FromProto(const google::protobuf::Duration& d);
google::protobuf::Duration ToProtoDuration(absl::Duration d);
// A timestamp in 0001-01-01..9999-12-31 with nanos in 0..999999999 (the proto's documented range).
// INVALID_ARGUMENT "<field>: ..." otherwise.
absl::Status ValidateTimestamp(std::string_view field, const google::protobuf::Timestamp& ts);
// RFC 3339 in UTC, e.g. "2026-11-29T22:50:51.123Z".
std::string FormatTime(absl::Time t);

}  // namespace assent
