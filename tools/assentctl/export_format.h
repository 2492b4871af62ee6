// What `assentctl export` writes, chunk by chunk as they arrive (nothing is held but the header):
//   proto     the ExportChunk messages, each length-delimited (a varint size, then the bytes),
//             as protobuf's writeDelimitedTo/parseDelimitedFrom read them;
//   json      one ExportChunk per line in the proto3 JSON mapping (JSON Lines); every line
//             validates against docs/export.schema.json;
//   iso27560  one JSON object per line per consent record of the history (each decision a
//             record wrote), in the fields of ISO/IEC TS 27560 as docs/ISO27560.md maps them.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "assent/v1/export.pb.h"
#include "nlohmann/json_fwd.hpp"

namespace assent::ctl {

enum class ExportFormat { kProto, kJson, kIso27560 };

// "proto", "json" or "iso27560"; INVALID_ARGUMENT "--format: ..." otherwise.
absl::StatusOr<ExportFormat> ParseExportFormat(std::string_view name);

// The ISO/IEC TS 27560 consent record of one decision written by `record` (a decision's state
// after the change), for the subject of `header`.
nlohmann::json Iso27560Record(const v1::ExportHeader& header, const v1::HistoryRecord& record,
                              const v1::ConsentRecord& decision);

class ExportWriter {
 public:
  explicit ExportWriter(ExportFormat format) : format_(format) {}
  // The bytes to write for `chunk` (may be empty: the iso27560 rendering writes no line for the
  // header and trailer).
  std::string Render(const v1::ExportChunk& chunk);

 private:
  ExportFormat format_;
  v1::ExportHeader header_;
};

}  // namespace assent::ctl
